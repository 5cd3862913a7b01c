/**
 * Table syncs at merges, on replicas driven by hand: what a member did alone before it adopted
 * another member's table (barrier instances it numbered, atomic requests it still held waiting)
 * stays consistent with the adopted table, on every replica alike, and the traces pass the lock
 * checker.
 */
import { describe, expect, it } from 'vitest';
import { checkLocks } from '../../../api/check/locks-checker.js';
import type { LockMessage } from '../../../engine/locks/codec.js';
import { formed, Replicas } from './harness.js';

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
