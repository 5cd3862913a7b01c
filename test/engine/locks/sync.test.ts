/**
 * Table syncs at merges, on replicas driven by hand: what a member did alone before it adopted
 * another member's table (barrier instances it numbered, atomic requests it still held waiting)
 * stays consistent with the adopted table, on every replica alike, and the traces pass the lock
 * checker.
 */
import { describe, expect, it } from 'vitest';
import { checkLocks } from '../../../api/check/locks-checker.js';
import type { LockMessage } from '../../../engine/locks/codec.js';
import { formed, lock, owner, Replicas } from './harness.js';

const all = [1, 2, 3];

const enter = (name: string): LockMessage => ({ type: 'barrier', ls: 'ls', name, members: null });

function instances(r: Replicas, id: number): string[] {
  return r.of(id, 'barrier').map((e) => `${e.op} ${e.gen}@${e.since}`);
}

describe('barrier numbers across a sync', () => {
  it('an instance completed alone keeps its number: the next one after adopting another table takes a new one', () => {
    const r = formed(all);
    // {1, 2} primary, {3} alone.
    r.configure([1, 2], [1, 2], [1, 2]);
    r.configure([3], [3], [3]);
    r.clearEvents();
    // The ring that merges them: 3 enters "b" in its transitional configuration, where it is the
    // only member, so the instance completes at once (gen 1, begun in the new ring).
    r.merge([[1, 2], [3]], all, () => r.deliver(3, enter('b'), [3], true));
    r.flushSyncs(all, all); // 3 adopts {1, 2}'s table, which never had "b"
    // In the same ring 3 and 1 enter "b" again; 2 leaves before entering: the instance fails.
    r.deliver(3, enter('b'), all);
    r.deliver(1, enter('b'), all);
    r.configure([1, 3], [1, 3], [1, 3]);
    const ring = `1:${r.of(3, 'barrier')[0]?.since.split(':')[1] ?? ''}`;
    expect(instances(r, 3)).toEqual([`enter 1@${ring}`, `complete 1@${ring}`, `enter 2@${ring}`, `enter 2@${ring}`, `fail 2@${ring}`]);
    for (const id of [1, 2]) expect(instances(r, id).slice(0, 2)).toEqual([`enter 2@${ring}`, `enter 2@${ring}`]);
    expect(checkLocks(r.files()).violations).toEqual([]);
    expect(new Set([1, 3].map((id) => r.table(id).hash())).size).toBe(1);
  });

  it('a pending instance of the adopted table keeps its number; the next one is above every member\'s', () => {
    const r = formed(all);
    r.configure([1, 2], [1, 2], [1, 2]);
    r.configure([3], [3], [3]);
    // 3 alone completes three instances; {1, 2} begin one of their own, which waits for 2.
    for (let i = 0; i < 3; i++) r.deliver(3, enter('b'), [3]);
    r.deliver(1, { type: 'barrier', ls: 'ls', name: 'b', members: [1, 2] }, [1, 2]);
    r.clearEvents();
    r.merge([[1, 2], [3]], all);
    r.flushSyncs(all, all);
    r.deliver(2, { type: 'barrier', ls: 'ls', name: 'b', members: [1, 2] }, all);
    for (const id of all) expect(r.of(id, 'barrier').map((e) => `${e.op} ${e.gen}`)).toEqual(['enter 1', 'complete 1']);
    for (const id of all) r.deliver(id, enter('b'), all);
    for (const id of all) expect(r.of(id, 'barrier').at(-1)).toMatchObject({ op: 'complete', gen: 4 });
    expect(checkLocks(r.files()).violations).toEqual([]);
    expect(new Set(all.map((id) => r.table(id).hash())).size).toBe(1);
  });
});

function many(counter: number, items: [string, 'PR' | 'EX' | 'CR'][], persistent = false): LockMessage {
  return { type: 'lockMany', counter, holder: 0, ls: 'ls', items: items.map(([res, mode]) => ({ res, mode })), flags: { persistent }, lvbBytes: 32 };
}

/**
 * 3's atomic persistent request on a and b: {1, 2} deliver it in the regular configuration and
 * grant it; 3 delivers it in its transitional configuration, alone and not primary, and queues it.
 * 3 has left {1, 2}: both locks are orphans there. `meanwhile` runs on {1, 2} before the merge.
 */
function grantedWhere3DidNotSee(meanwhile: (r: Replicas) => void): Replicas {
  const r = formed(all);
  r.deliver(3, many(1, [['a', 'CR'], ['b', 'PR']], true), [1, 2]);
  r.configure([1, 2], [1, 2], [1, 2]);
  r.transitional([3], [3]);
  r.deliver(3, many(1, [['a', 'CR'], ['b', 'PR']], true), [3], true);
  r.regular([3], [3]);
  meanwhile(r);
  r.clearEvents();
  r.merge([[1, 2], [3]], all);
  r.flushSyncs(all, all);
  return r;
}

const lines = (r: Replicas, id: number): string[] => r.lk(id).map((e) => `${e.op} ${e.owner} ${e.reason ?? ''}`.trim());

describe('an atomic request a replica still held waiting at a sync', () => {
  it('is revoked whole when the adopted table holds only some of its locks (one orphan purged since its grant)', () => {
    const r = grantedWhere3DidNotSee((r) => r.deliver(1, { type: 'purgeOrphans', ls: 'ls', res: 'a', orphan: '' }, [1, 2]));
    // 3 revokes both locks one after the other; {1, 2} revoke the orphan left of it.
    expect(lines(r, 3)).toEqual([`revoke ${owner(3, 1)} merge`, `revoke ${owner(3, 2)} merge`]);
    for (const id of [1, 2]) expect(lines(r, id)).toEqual([`revoke ${owner(3, 2)} merge`]);
    for (const id of all) expect(r.of(id, 'lost')).toEqual([]);
    expect(r.table(1).dump('ls')?.resources).toEqual([]);
    expect(checkLocks(r.files()).violations).toEqual([]);
    expect(new Set(all.map((id) => r.table(id).hash())).size).toBe(1);
  });

  it('is revoked whole when one of its orphans was adopted since; the adopter keeps its lock', () => {
    const r = grantedWhere3DidNotSee((r) => r.deliver(1, { type: 'adopt', counter: 1, holder: 0, ls: 'ls', res: 'a', mode: 'CR', orphan: owner(3, 1) }, [1, 2]));
    expect(lines(r, 3)).toEqual([`revoke ${owner(3, 1)} merge`, `revoke ${owner(3, 2)} merge`, `adopt ${owner(1, 1)}`]);
    for (const id of [1, 2]) expect(lines(r, id)).toEqual([`revoke ${owner(3, 2)} merge`]);
    expect(r.table(1).dump('ls')?.resources.map((res) => [res.name, res.holders.map((h) => h.owner)])).toEqual([['a', [owner(1, 1)]]]);
    expect(checkLocks(r.files()).violations).toEqual([]);
    expect(new Set(all.map((id) => r.table(id).hash())).size).toBe(1);
  });

  it('keeps its locks, all of them, as the orphans the adopted table holds when it holds every one', () => {
    const r = grantedWhere3DidNotSee(() => undefined);
    expect(lines(r, 3)).toEqual([`orphan ${owner(3, 1)} merge`, `orphan ${owner(3, 2)} merge`]);
    for (const id of [1, 2]) expect(lines(r, id)).toEqual([]);
    expect(checkLocks(r.files()).violations).toEqual([]);
    expect(new Set(all.map((id) => r.table(id).hash())).size).toBe(1);
  });

  it('applies nothing delivered in a new ring before the regular configuration: the sides would differ', () => {
    const r = formed(all);
    r.configure([1, 2], [1, 2], [1, 2]);
    r.configure([3], [3], [3]);
    r.clearEvents();
    // The cut of the merging ring, then, before its regular configuration, node 3 enters a barrier
    // (alone on its side, it would complete there) and node 1 asks for a lock.
    r.transitional([1, 2], [1, 2]);
    r.transitional([3], [3]);
    r.deliver(3, enter('b'), all);
    r.deliver(1, lock(1, 'r', 'EX'), all);
    for (const id of all) expect(r.of(id, 'barrier')).toEqual([]);
    for (const id of all) expect(r.lk(id, 'request')).toEqual([]);
    // Each sender's own replica says it dropped its operation (its lock manager ends or resends it).
    expect(r.of(3, 'dropped').map((e) => e.reason)).toEqual(['reconfigured']);
    expect(r.of(1, 'dropped').map((e) => e.reason)).toEqual(['reconfigured']);
    expect(r.of(2, 'dropped')).toEqual([]);
    // What the old ring delivers in the transitional configuration still counts there.
    r.deliver(1, enter('c'), [1, 2], true);
    for (const id of [1, 2]) expect(r.of(id, 'barrier').map((e) => e.op)).toEqual(['enter']);
  });
});

