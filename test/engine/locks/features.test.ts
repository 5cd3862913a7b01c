/**
 * Atomic multi-resource requests, persistent locks (orphans, adopt, purge), counted re-entry and
 * the HEADQUE / NOORDER queue flags, on replicas driven by hand; every scenario's traces pass the
 * lock checker and every replica ends with the same table.
 */
import { describe, expect, it } from 'vitest';
import { checkLocks } from '../../../api/check/locks-checker.js';
import { decodeLockMessage, encodeLockMessage, type LockMessage } from '../../../engine/locks/codec.js';
import { formed, lock, owner, Replicas } from './harness.js';

const all = [1, 2, 3];

function many(counter: number, items: [string, 'NL' | 'CR' | 'CW' | 'PR' | 'PW' | 'EX'][], extra: Partial<Extract<LockMessage, { type: 'lockMany' }>> = {}): LockMessage {
  return { type: 'lockMany', counter, holder: 0, ls: 'ls', items: items.map(([res, mode]) => ({ res, mode })), flags: {}, lvbBytes: 32, ...extra };
}

const unlock = (counter: number): LockMessage => ({ type: 'unlock', counter, lvb: null });

function agreeAndCheck(r: Replicas, ids = all): void {
  expect(new Set(ids.map((id) => r.table(id).hash())).size).toBe(1);
  const result = checkLocks(r.files());
  expect(result.violations).toEqual([]);
}

describe('codec of the new messages', () => {
  it('round-trips lockMany, adopt and purgeOrphans, and the new flags', () => {
    const messages: LockMessage[] = [
      many(4, [['a', 'EX'], ['b', 'PR']], { flags: { persistent: true, headQueue: true, noOrder: true }, reentrancyMax: 3 }),
      { type: 'adopt', counter: 9, holder: 2, ls: 'ls', res: 'a', mode: 'PW', orphan: '3:1003:1' },
      { type: 'purgeOrphans', ls: 'ls', res: '', orphan: '' },
    ];
    for (const m of messages) {
      const decoded = decodeLockMessage(encodeLockMessage(m));
      expect(decoded.ok).toBe(true);
      if (decoded.ok) expect(decoded.message).toMatchObject(m);
    }
  });

  it('refuses an atomic request that names a resource twice or none, and a bad orphan id', () => {
    expect(decodeLockMessage(encodeLockMessage(many(1, [['a', 'EX'], ['a', 'PR']]))).ok).toBe(false);
    expect(decodeLockMessage(encodeLockMessage(many(1, []))).ok).toBe(false);
    expect(decodeLockMessage(encodeLockMessage({ type: 'adopt', counter: 1, holder: 0, ls: 'ls', res: 'a', mode: 'EX', orphan: 'x' })).ok).toBe(false);
  });
});

describe('atomic acquisition of several resources', () => {
  it('grants all resources together at one point, and the free one waits meanwhile (FIFO)', () => {
    const r = formed(all);
    r.deliver(2, lock(1, 'b', 'EX'), all);
    r.deliver(1, many(1, [['a', 'EX'], ['b', 'EX']]), all);
    r.deliver(3, lock(1, 'a', 'PR'), all); // a is free, but the atomic request is first in line
    expect(r.lk(1, 'grant').map((e) => e.owner)).toEqual([owner(2, 1)]);
    expect(r.lk(1, 'request').filter((e) => e.group === owner(1, 1)).map((e) => e.owner)).toEqual([owner(1, 1), owner(1, 2)]);
    r.deliver(2, unlock(1), all);
    const lines = r.lk(3).map((e) => `${e.op} ${e.owner}`);
    const at = lines.indexOf(`grant ${owner(1, 1)}`);
    expect(lines.slice(at, at + 2)).toEqual([`grant ${owner(1, 1)}`, `grant ${owner(1, 2)}`]);
    expect(r.lk(3, 'grant').some((e) => e.owner === owner(3, 1))).toBe(false); // PR waits on the EX
    agreeAndCheck(r);
  });

  it('no-queue denies every member; a cancel of one member cancels the whole request', () => {
    const r = formed(all);
    r.deliver(2, lock(1, 'b', 'EX'), all);
    r.deliver(1, many(1, [['a', 'EX'], ['b', 'EX']], { flags: { noQueue: true } }), all);
    expect(r.lk(1, 'deny').map((e) => [e.owner, e.reason])).toEqual([
      [owner(1, 1), 'would-block'],
      [owner(1, 2), 'would-block'],
    ]);
    r.deliver(1, many(3, [['a', 'EX'], ['b', 'EX']]), all);
    r.deliver(1, { type: 'cancel', counter: 4, reason: 'timeout' }, all);
    expect(r.lk(2, 'deny').slice(-2).map((e) => [e.owner, e.reason])).toEqual([
      [owner(1, 3), 'timeout'],
      [owner(1, 4), 'timeout'],
    ]);
    agreeAndCheck(r);
  });

  it('is purged whole when its node leaves, and the free resource goes to the next waiter', () => {
    const r = formed(all);
    r.deliver(2, lock(1, 'b', 'EX'), all);
    r.deliver(3, many(1, [['a', 'EX'], ['b', 'EX']]), all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.configure([1, 2], [1, 2], [1, 2]);
    r.flushSyncs([1, 2], [1, 2]);
    expect(r.lk(1, 'purge').map((e) => e.owner)).toEqual([owner(3, 1), owner(3, 2)]);
    expect(r.lk(1, 'grant').at(-1)?.owner).toBe(owner(1, 1));
    agreeAndCheck(r, [1, 2]);
  });

  it('is one holder for deadlock detection: the request that closes the cycle is denied whole', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'b', 'EX', { holder: 2 }), all);
    r.deliver(2, lock(1, 'a', 'EX', { holder: 1 }), all);
    r.deliver(2, lock(2, 'b', 'EX', { holder: 1 }), all); // waits for node 1's holder 2
    r.deliver(1, many(2, [['a', 'EX'], ['c', 'EX']], { holder: 2 }), all); // waits for node 2's holder 1: a cycle
    expect(r.lk(1, 'deny').map((e) => [e.owner, e.reason])).toEqual([
      [owner(1, 2), 'deadlock'],
      [owner(1, 3), 'deadlock'],
    ]);
    expect(r.table(1).counters.deadlocks).toBe(1);
    agreeAndCheck(r);
  });
});

describe('persistent locks', () => {
  it('stay as orphans when their node leaves; adopt takes one over with a new token; purge frees the resource', () => {
    const r = formed(all);
    const value = new Uint8Array(32).fill(5);
    r.deliver(3, lock(1, 'a', 'NL', { flags: { persistent: true } }), all);
    r.deliver(3, { type: 'convert', counter: 1, mode: 'PW', flags: {}, lvb: null }, all);
    r.deliver(3, { type: 'convert', counter: 1, mode: 'NL', flags: {}, lvb: value }, all);
    r.deliver(3, { type: 'convert', counter: 1, mode: 'PW', flags: {}, lvb: null }, all);
    const fence = r.lk(1, 'convert').at(-1)?.fence ?? 0n;
    r.deliver(1, lock(1, 'a', 'EX'), all); // waits on the PW
    r.configure([1, 2], [1, 2], [1, 2]);
    expect(r.lk(1, 'orphan')).toMatchObject([{ owner: owner(3, 1), mode: 'PW', reason: 'left' }]);
    expect(r.lk(1, 'purge')).toEqual([]);
    expect(r.lk(1, 'grant').some((e) => e.owner === owner(1, 1))).toBe(false);
    expect(r.table(1).dump('ls')?.resources[0]?.holders[0]).toMatchObject({ owner: owner(3, 1), orphan: true });
    r.deliver(2, { type: 'adopt', counter: 1, holder: 0, ls: 'ls', res: 'a', mode: 'EX', orphan: '' }, [1, 2]);
    expect(r.lk(1, 'deny').at(-1)).toMatchObject({ owner: owner(2, 1), reason: 'no-orphan' });
    r.deliver(2, { type: 'adopt', counter: 2, holder: 0, ls: 'ls', res: 'a', mode: 'PW', orphan: '' }, [1, 2]);
    const adopted = r.lk(1, 'grant').at(-1);
    expect(adopted).toMatchObject({ owner: owner(2, 2), mode: 'PW', orphan: owner(3, 1) });
    expect((adopted?.fence ?? 0n) > fence).toBe(true);
    expect(r.of(2, 'held').at(-1)).toMatchObject({ owner: owner(2, 2), lvb: value });
    // Adopted, it is no orphan any more: a purge of orphans leaves it alone.
    r.deliver(1, { type: 'purgeOrphans', ls: 'ls', res: 'a', orphan: '' }, [1, 2]);
    expect(r.lk(1, 'purge')).toEqual([]);
    agreeAndCheck(r, [1, 2]);
  });

  it('purgeOrphans releases, invalidates a PW/EX value block and grants the waiters', () => {
    const r = formed(all);
    r.deliver(3, lock(1, 'a', 'EX', { flags: { persistent: true } }), all);
    r.deliver(3, { type: 'convert', counter: 1, mode: 'NL', flags: {}, lvb: new Uint8Array(32).fill(2) }, all);
    r.deliver(3, { type: 'convert', counter: 1, mode: 'EX', flags: {}, lvb: null }, all);
    r.deliver(1, lock(1, 'a', 'PR'), all);
    r.configure([1, 2], [1, 2], [1, 2]);
    r.deliver(1, { type: 'convert', counter: 9, mode: 'EX', flags: {}, lvb: null }, [1, 2]);
    r.deliver(3, unlock(1), [1, 2]); // a message in the orphan's name (from a node that is not a member) is dropped
    r.deliver(2, { type: 'purgeOrphans', ls: 'ls', res: '', orphan: '' }, [1, 2]);
    expect(r.lk(1, 'purge')).toMatchObject([{ owner: owner(3, 1), reason: 'orphan' }]);
    expect(r.of(1, 'held').at(-1)).toMatchObject({ owner: owner(1, 1), mode: 'PR', lvb: null });
    agreeAndCheck(r, [1, 2]);
  });

  it('after a partition the primary side decides: the returning owner learns its lock is an orphan', () => {
    const r = formed(all);
    r.deliver(3, lock(1, 'a', 'EX', { flags: { persistent: true } }), all);
    r.deliver(1, lock(1, 'b', 'EX', { flags: { persistent: true } }), all);
    // 3 alone (not primary): 1's lock becomes an orphan and suspect there; 3's lock suspect.
    // {1,2} primary: 3's lock becomes an orphan.
    r.merge([[1, 2]], [1, 2]);
    r.flushSyncs([1, 2], [1, 2]);
    r.merge([[3]], [3]);
    r.flushSyncs([3], [3]);
    expect(r.lk(3, 'orphan').map((e) => e.owner)).toEqual([owner(1, 1)]);
    expect(r.lk(1, 'orphan').map((e) => e.owner)).toEqual([owner(3, 1)]);
    r.clearEvents();
    r.merge([[1, 2], [3]], all);
    r.flushSyncs(all, all);
    // The primary side's table wins: 3's lock is an orphan there, 3's node is told it lost it.
    expect(r.lk(3, 'orphan')).toMatchObject([{ owner: owner(3, 1), reason: 'merge' }]);
    expect(r.of(3, 'lost')).toMatchObject([{ owner: owner(3, 1), reason: 'purged' }]);
    expect(r.lk(3, 'adopt')).toMatchObject([{ owner: owner(1, 1), mode: 'EX' }]);
    agreeAndCheck(r);
  });
});

describe('persistent locks outside a primary', () => {
  it('an orphan made outside a primary is suspect and revoked when its table enters one', () => {
    const r = formed(all);
    r.deliver(3, lock(1, 'a', 'EX', { flags: { persistent: true } }), all);
    r.merge([[1]], [1]); // 1 alone: not primary; 3's lock becomes an orphan, suspect
    expect(r.lk(1, 'orphan').map((e) => e.owner)).toEqual([owner(3, 1)]);
    // 2 and 3 restart with empty tables; 1's table wins (the most recent primary) and enters a primary.
    const fresh = new Replicas([2, 3]);
    for (const id of [2, 3]) {
      r.tables.set(id, fresh.table(id));
      r.events.set(id, fresh.events.get(id) ?? []);
      r.outbox.set(id, fresh.outbox.get(id) ?? []);
    }
    r.configure(all, null, all);
    r.flushSyncs(all, all);
    expect(r.lk(1, 'revoke')).toMatchObject([{ owner: owner(3, 1), reason: 'suspect' }]);
    expect(r.of(3, 'lost')).toEqual([]); // the new incarnation of 3 never held it
    expect(new Set(all.map((id) => r.table(id).hash())).size).toBe(1);
  });
});

describe('syncs that change a lock this replica also holds', () => {
  it('reports an orphan whose mode changed on the other side, so that the checker follows the adopted table', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'PW', { flags: { persistent: true } }), all);
    r.merge([[1, 2]], [1, 2]); // 3 is cut off: node 1's lock is an orphan (PW) on 3
    r.merge([[3]], [3]);
    r.deliver(1, { type: 'convert', counter: 1, mode: 'PR', flags: {}, lvb: null }, [1, 2]);
    r.deliver(2, lock(1, 'a', 'PR'), [1, 2]);
    r.merge([[2]], [2]); // node 1 crashes: its lock is an orphan (PR) on 2
    r.merge([[2], [3]], [2, 3]);
    r.flushSyncs([2, 3], [2, 3]);
    expect(r.lk(3, 'adopt').filter((e) => e.owner === owner(1, 1))).toMatchObject([{ mode: 'PR', reason: 'orphan' }]);
    agreeAndCheck(r, [2, 3]);
  });
});

describe('reentrancy', () => {
  it('counts re-entries of one holder up to the lockspace limit; the lock stays until the last release', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX', { holder: 4, reentrancyMax: 2 }), all);
    r.deliver(2, lock(1, 'a', 'PR'), all); // waits
    r.deliver(1, lock(2, 'a', 'PR', { holder: 4 }), all); // covered by EX: counted
    expect(r.lk(1, 'reenter')).toMatchObject([{ owner: owner(1, 2), of: owner(1, 1), depth: 2 }]);
    r.deliver(1, lock(3, 'a', 'EX', { holder: 4 }), all);
    expect(r.lk(1, 'deny').at(-1)).toMatchObject({ owner: owner(1, 3), reason: 'reentrancy-limit' });
    r.deliver(1, unlock(1), all);
    expect(r.lk(1, 'release').at(-1)).toMatchObject({ owner: owner(1, 1), depth: 1 });
    expect(r.lk(1, 'grant').some((e) => e.owner === owner(2, 1))).toBe(false);
    r.deliver(1, unlock(1), all);
    expect(r.lk(1, 'grant').at(-1)?.owner).toBe(owner(2, 1));
    agreeAndCheck(r);
  });

  it('is off without the lockspace option or a holder id: a holder waiting on itself is a deadlock', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX', { holder: 4 }), all);
    r.deliver(1, lock(2, 'a', 'PR', { holder: 4 }), all);
    expect(r.lk(1, 'reenter')).toEqual([]);
    expect(r.lk(1, 'deny').at(-1)).toMatchObject({ owner: owner(1, 2), reason: 'deadlock' });
    r.deliver(1, lock(3, 'b', 'EX', { ls: 'other', reentrancyMax: 5 }), all);
    r.deliver(1, lock(4, 'b', 'EX', { ls: 'other' }), all); // no holder id: an ordinary request that waits
    expect(r.table(1).dump('other')?.resources[0]?.waiters.map((w) => w.owner)).toEqual([owner(1, 4)]);
    expect(r.lk(1, 'reenter')).toEqual([]);
    agreeAndCheck(r);
  });
});

describe('queue flags', () => {
  it('HEADQUE queues at the head: a compatible request is granted past a blocked waiter', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'PR'), all);
    r.deliver(2, lock(1, 'a', 'EX'), all); // waits
    r.deliver(3, lock(1, 'a', 'PR'), all); // FIFO: waits behind the EX
    r.deliver(3, lock(2, 'a', 'PR', { flags: { headQueue: true } }), all);
    expect(r.lk(1, 'grant').map((e) => e.owner)).toEqual([owner(1, 1), owner(3, 2)]);
    r.deliver(1, lock(2, 'a', 'EX', { flags: { headQueue: true } }), all); // ahead of node 2's EX
    r.deliver(1, unlock(1), all);
    r.deliver(3, unlock(2), all);
    expect(r.lk(1, 'grant').at(-1)?.owner).toBe(owner(1, 2));
    agreeAndCheck(r);
  });

  it('NOORDER grants as soon as compatible with the granted modes, for new locks and conversions', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'PR'), all);
    r.deliver(2, lock(1, 'a', 'EX'), all); // waits
    r.deliver(3, lock(1, 'a', 'CR', { flags: { noOrder: true } }), all);
    expect(r.lk(1, 'grant').map((e) => e.owner)).toEqual([owner(1, 1), owner(3, 1)]);
    r.deliver(3, lock(2, 'a', 'PR'), all); // waits behind the EX
    r.deliver(2, { type: 'cancel', counter: 1, reason: 'cancel' }, all); // now 3's PR is granted
    r.deliver(1, { type: 'convert', counter: 1, mode: 'PW', flags: {}, lvb: null }, all); // waits on 3's PR
    r.deliver(3, { type: 'convert', counter: 1, mode: 'NL', flags: {}, lvb: null }, all);
    r.deliver(3, { type: 'convert', counter: 1, mode: 'CR', flags: { noOrder: true }, lvb: null }, all); // passes the queued PW conversion
    expect(r.lk(1, 'convert').at(-1)).toMatchObject({ owner: owner(3, 1), mode: 'CR' });
    agreeAndCheck(r);
  });
});
