import { describe, expect, it } from 'vitest';
import {
  decodeLockMessage,
  decodeLockMessages,
  encodeLockMessage,
  LockBatchWriter,
  lockBatchBytesMax,
  lockBatchMessagesMax,
  lockMessageVersion,
  type BatchableLockMessage,
  type LockMessage,
} from '../../../engine/locks/codec.js';
import { isUpConversion, lockModes, modesCompatible } from '../../../engine/locks/modes.js';
import { isPrimaryComponent, majorityOf } from '../../../engine/locks/primary.js';
import { fenceRingShift } from '../../../engine/locks/lock-table.js';
import { decodeSnapshot, encodeSnapshot } from '../../../engine/locks/snapshot.js';
import { conf, formed, lock, owner, Replicas } from './harness.js';

const all = [1, 2, 3];

function batchOf(ops: BatchableLockMessage[]): Uint8Array {
  const w = new LockBatchWriter();
  for (const m of ops) expect(w.add(m, lockBatchBytesMax)).toBe(true);
  return w.finish();
}

const unlock = (counter: number, lvb: Uint8Array | null = null): BatchableLockMessage => ({ type: 'unlock', counter, lvb });
const cancel = (counter: number, reason: 'cancel' | 'timeout' = 'cancel'): BatchableLockMessage => ({ type: 'cancel', counter, reason });

describe('modes', () => {
  it('follows the DLM compatibility matrix', () => {
    const expected = ['111111', '111110', '111000', '110100', '110000', '100000'];
    for (const [i, a] of lockModes.entries()) {
      const row = lockModes.map((b) => (modesCompatible(a, b) ? '1' : '0')).join('');
      expect(row).toBe(expected[i]);
    }
  });
  it('treats CW <-> PR as up in both directions', () => {
    expect(isUpConversion('CW', 'PR')).toBe(true);
    expect(isUpConversion('PR', 'CW')).toBe(true);
    expect(isUpConversion('EX', 'PR')).toBe(false);
    expect(isUpConversion('NL', 'CR')).toBe(true);
  });
});

describe('primary rule', () => {
  it('needs more than half of the configured votes', () => {
    const rule = majorityOf([1, 2, 3, 4]);
    expect(isPrimaryComponent(rule, [1, 2])).toBe(false);
    expect(isPrimaryComponent(rule, [1, 2, 3])).toBe(true);
    expect(isPrimaryComponent(rule, [1, 2, 9])).toBe(false);
  });
  it('weighs per-node votes and accepts a function', () => {
    const votes = { kind: 'majority' as const, votes: new Map([[1, 3], [2, 1], [3, 1]]) };
    expect(isPrimaryComponent(votes, [1])).toBe(true);
    expect(isPrimaryComponent(votes, [2, 3])).toBe(false);
    expect(isPrimaryComponent({ kind: 'function', isPrimary: (m) => m.includes(2) }, [2])).toBe(true);
  });
});

describe('codec', () => {
  it('round-trips every message type', () => {
    const messages = [
      lock(7, 'r', 'PW', { flags: { noQueue: true, notifyOnNoQueue: true } }),
      { type: 'convert' as const, counter: 7, mode: 'EX' as const, flags: { failIfNotPrimary: true }, lvb: new Uint8Array([1, 2]) },
      { type: 'unlock' as const, counter: 7, lvb: null },
      { type: 'cancel' as const, counter: 7, reason: 'timeout' as const },
      { type: 'barrier' as const, ls: 'ls', name: 'b', members: [1, 2] },
      { type: 'sync' as const, ringRep: 1, ringSeq: 12n, lastPrimarySeq: 8n, snapshot: new Uint8Array([9]) },
    ];
    for (const m of messages) {
      const decoded = decodeLockMessage(encodeLockMessage(m));
      expect(decoded.ok).toBe(true);
      if (decoded.ok) expect(decoded.message).toMatchObject({ ...m, ...('flags' in m ? { flags: expect.any(Object) } : {}) });
    }
  });
  it('refuses truncated, trailing, unknown and oversized input without throwing', () => {
    const good = encodeLockMessage(lock(1, 'r', 'EX'));
    for (let n = 0; n < good.length; n++) expect(decodeLockMessage(good.subarray(0, n)).ok).toBe(false);
    expect(decodeLockMessage(new Uint8Array([...good, 0])).ok).toBe(false);
    expect(decodeLockMessage(new Uint8Array([1, 99])).ok).toBe(false);
    expect(decodeLockMessage(new Uint8Array([2, 1])).ok).toBe(false);
    const badMode = good.slice();
    badMode[badMode.length - 6] = 17; // the mode byte (then flags, lvbBytes u16, reentrancyMax u16)
    expect(decodeLockMessage(badMode).ok).toBe(false);
  });
  it('counts a malformed delivery and leaves the table alone', () => {
    const r = formed(all);
    const before = r.table(1).hash();
    r.deliver(2, new Uint8Array([1, 1, 0, 0]), all);
    expect(r.table(1).counters.malformed).toBe(1);
    expect(r.table(1).hash()).toBe(before);
  });
});

describe('grants', () => {
  it('grants compatible locks at delivery and queues an incompatible one FIFO', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'PR'), all);
    r.deliver(2, lock(1, 'a', 'PR'), all);
    r.deliver(3, lock(1, 'a', 'EX'), all);
    r.deliver(1, lock(2, 'a', 'CR'), all); // compatible, but FIFO behind the EX waiter
    expect(r.lk(1, 'grant').map((e) => e.owner)).toEqual([owner(1, 1), owner(2, 1)]);
    r.deliver(1, { type: 'unlock', counter: 1, lvb: null }, all);
    r.deliver(2, { type: 'unlock', counter: 1, lvb: null }, all);
    expect(r.lk(2, 'grant').map((e) => [e.owner, e.mode])).toEqual([
      [owner(1, 1), 'PR'],
      [owner(2, 1), 'PR'],
      [owner(3, 1), 'EX'],
    ]);
    expect(r.table(1).hash()).toBe(r.table(3).hash());
  });

  it('grants the convert queue before the wait queue', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'PR'), all);
    r.deliver(2, lock(1, 'a', 'PR'), all);
    r.deliver(3, lock(1, 'a', 'PW'), all); // waits
    r.deliver(1, { type: 'convert', counter: 1, mode: 'EX', flags: {}, lvb: null }, all); // converts, waits on 2's PR
    r.deliver(2, { type: 'unlock', counter: 1, lvb: null }, all);
    const grants = r.lk(1, 'grant').map((e) => [e.owner, e.mode]);
    expect(grants[grants.length - 1]).toEqual([owner(1, 1), 'EX']);
    expect(r.lk(1, 'grant').some((e) => e.owner === owner(3, 1))).toBe(false);
  });

  it('no-queue denies with would-block, and notifies holders first when asked', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.deliver(2, lock(1, 'a', 'PR', { flags: { noQueue: true } }), all);
    expect(r.lk(3, 'deny')).toMatchObject([{ owner: owner(2, 1), reason: 'would-block' }]);
    expect(r.lk(3, 'bast')).toEqual([]);
    r.deliver(2, lock(2, 'a', 'PR', { flags: { noQueue: true, notifyOnNoQueue: true } }), all);
    expect(r.lk(3, 'bast')).toMatchObject([{ owner: owner(1, 1), mode: 'PR' }]);
  });

  it('sends one blocking notice per blocked mode', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'PW'), all);
    r.deliver(2, lock(1, 'a', 'PR'), all);
    r.deliver(3, lock(1, 'a', 'PR'), all);
    r.deliver(3, lock(2, 'a', 'EX'), all);
    expect(r.lk(1, 'bast').map((e) => e.mode)).toEqual(['PR', 'EX']);
  });

  it('converts down in place and writes the value block from PW/EX', () => {
    const r = formed(all);
    const value = new Uint8Array(32).fill(7);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.deliver(2, lock(1, 'a', 'PR'), all);
    r.deliver(1, { type: 'convert', counter: 1, mode: 'PR', flags: {}, lvb: value }, all);
    expect(r.lk(3, 'convert')).toMatchObject([{ owner: owner(1, 1), mode: 'PR' }]);
    expect(r.of(2, 'held')).toMatchObject([{ owner: owner(2, 1), mode: 'PR', lvb: value }]);
  });

  it('ignores a value block of the wrong size and counts it', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.deliver(1, { type: 'unlock', counter: 1, lvb: new Uint8Array(3) }, all);
    expect(r.table(2).counters.badValueBlock).toBe(1);
  });

  it('a timeout cancel denies a waiter, which is never granted later; a late cancel does nothing', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.deliver(2, lock(1, 'a', 'EX'), all);
    r.deliver(2, { type: 'cancel', counter: 1, reason: 'timeout' }, all);
    r.deliver(1, { type: 'unlock', counter: 1, lvb: null }, all);
    expect(r.lk(3, 'deny')).toMatchObject([{ owner: owner(2, 1), reason: 'timeout' }]);
    expect(r.lk(3, 'grant').map((e) => e.owner)).toEqual([owner(1, 1)]);
    r.deliver(3, lock(1, 'b', 'EX'), all);
    r.deliver(3, { type: 'cancel', counter: 1, reason: 'cancel' }, all);
    expect(r.table(1).counters.lateCancel).toBe(1);
  });

  it('fencing tokens grow with every grant and up-conversion, from the ring seq base', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'PR'), all);
    r.deliver(1, { type: 'convert', counter: 1, mode: 'EX', flags: {}, lvb: null }, all);
    r.deliver(1, { type: 'unlock', counter: 1, lvb: null }, all);
    r.deliver(2, lock(1, 'a', 'EX'), all);
    const fences = r.lk(3).filter((e) => e.fence !== undefined).map((e) => e.fence ?? 0n);
    expect(fences.length).toBe(3);
    expect(fences[0]).toBe(4n << fenceRingShift);
    for (let i = 1; i < fences.length; i++) expect((fences[i] ?? 0n) > (fences[i - 1] ?? 0n)).toBe(true);
  });
});

describe('map renewal', () => {
  it('keeps every lock and the order of resources across many renewals of the maps', () => {
    const r = formed(all);
    for (let k = 0; k < 10; k++) r.deliver(1, lock(k + 1, `held-${k}`, 'EX'), all);
    const before = r.table(2).dump('ls');
    // 2,000 lock + unlock operations on other resources: the maps are copied afresh many times.
    for (let c = 100; c < 1100; c++) {
      r.deliver(3, lock(c, `churn-${c % 7}`, 'EX'), all);
      r.deliver(3, { type: 'unlock', counter: c, lvb: null }, all);
    }
    const after = r.table(2).dump('ls');
    expect(after?.resources.map((x) => x.name)).toEqual(before?.resources.map((x) => x.name));
    expect(after?.resources.map((x) => x.holders.map((h) => h.owner))).toEqual(before?.resources.map((x) => x.holders.map((h) => h.owner)));
    // Only the operation count moved; the table is the same on every replica.
    expect(r.table(1).hash()).toBe(r.table(2).hash());
    expect(r.table(3).hash()).toBe(r.table(2).hash());
    r.deliver(1, { type: 'unlock', counter: 3, lvb: null }, all);
    expect(r.table(2).dump('ls')?.resources.map((x) => x.name)).toEqual(before?.resources.map((x) => x.name).filter((n) => n !== 'held-2'));
  });
});

describe('deadlocks', () => {
  it('denies the conversion queued last in a conversion deadlock (DLM)', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'PR'), all);
    r.deliver(2, lock(1, 'a', 'PR'), all);
    r.deliver(1, { type: 'convert', counter: 1, mode: 'EX', flags: {}, lvb: null }, all);
    r.deliver(2, { type: 'convert', counter: 1, mode: 'EX', flags: {}, lvb: null }, all);
    for (const id of all) expect(r.lk(id, 'deny')).toMatchObject([{ owner: owner(2, 1), reason: 'deadlock' }]);
    r.deliver(2, { type: 'unlock', counter: 1, lvb: null }, all);
    expect(r.lk(3, 'grant').map((e) => [e.owner, e.mode]).at(-1)).toEqual([owner(1, 1), 'EX']);
  });

  it('finds a cycle across resources through holder ids', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX', { holder: 5 }), all);
    r.deliver(2, lock(1, 'b', 'EX', { holder: 6 }), all);
    r.deliver(1, lock(2, 'b', 'EX', { holder: 5 }), all);
    expect(r.lk(1, 'deny')).toEqual([]);
    r.deliver(2, lock(2, 'a', 'EX', { holder: 6 }), all);
    for (const id of all) expect(r.lk(id, 'deny')).toMatchObject([{ owner: owner(2, 2), reason: 'deadlock' }]);
  });
});

describe('configurations', () => {
  it('purges the locks of members that left at the cut and invalidates a PW/EX value block', () => {
    const r = formed(all);
    const value = new Uint8Array(32).fill(1);
    r.deliver(3, lock(1, 'a', 'EX'), all);
    r.deliver(3, { type: 'convert', counter: 1, mode: 'NL', flags: {}, lvb: value }, all);
    r.deliver(3, { type: 'convert', counter: 1, mode: 'EX', flags: {}, lvb: null }, all);
    r.deliver(1, lock(1, 'a', 'PR'), all);
    r.deliver(2, lock(1, 'a', 'NL'), all);
    r.configure([1, 2], [1, 2], [1, 2]);
    expect(r.lk(1, 'purge')).toMatchObject([{ owner: owner(3, 1), reason: 'left' }]);
    expect(r.of(1, 'held').at(-1)).toMatchObject({ owner: owner(1, 1), mode: 'PR', lvb: null });
    expect(r.table(1).hash()).toBe(r.table(2).hash());
  });

  it('grants nothing in a non-primary configuration; the holder learns at the transitional cut', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.transitional([1], [1]);
    expect(r.of(1, 'lost')).toMatchObject([{ owner: owner(1, 1), reason: 'transitional' }]);
    r.regular([1], [1]);
    r.deliver(1, lock(2, 'b', 'EX'), [1]);
    r.deliver(1, lock(3, 'c', 'EX', { flags: { failIfNotPrimary: true } }), [1]);
    expect(r.lk(1, 'grant').map((e) => e.owner)).toEqual([owner(1, 1)]);
    expect(r.lk(1, 'deny')).toMatchObject([{ owner: owner(1, 3), reason: 'not-primary' }]);
  });

  it('keeps locks on the primary side without notice', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.configure([1, 2], [1, 2], [1, 2]);
    expect(r.of(1, 'lost')).toEqual([]);
  });

  it('merge: the primary side wins, each non-primary holder gets exactly one revoke, waiters are granted', () => {
    const r = formed(all);
    r.deliver(3, lock(1, 'a', 'EX'), all);
    // split: {1,2} primary, {3} not
    r.configure([1, 2], [1, 2], [1, 2]);
    r.configure([3], [3], [3]);
    r.deliver(1, lock(1, 'a', 'EX'), [1, 2]); // granted on the primary side: 3's lock was purged there
    r.deliver(3, lock(2, 'b', 'PR'), [3]); // waits on the non-primary side
    expect(r.lk(2, 'grant').map((e) => e.owner)).toEqual([owner(3, 1), owner(1, 1)]);
    r.flushSyncs(all, all);
    r.clearEvents();
    // merge
    r.merge([[1, 2], [3]], all);
    r.deliver(3, lock(3, 'c', 'EX'), all); // delivered during the sync: applied after it
    r.flushSyncs(all, all);
    expect(r.of(3, 'lost')).toMatchObject([{ owner: owner(3, 1), reason: 'revoked' }]);
    expect(r.lk(3, 'revoke').map((e) => e.owner).sort()).toEqual([owner(3, 1), owner(3, 2)]);
    expect(r.lk(3, 'adopt').map((e) => e.owner)).toEqual([owner(1, 1)]);
    expect(r.lk(1, 'revoke')).toEqual([]);
    for (const id of all) expect(r.lk(id, 'grant').map((e) => e.owner)).toEqual([owner(3, 3)]);
    const hashes = all.map((id) => r.table(id).hash());
    expect(new Set(hashes).size).toBe(1);
  });

  it('merge after a restart: the restarted member adopts the table and fences keep growing', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    const fence1 = r.lk(1, 'grant')[0]?.fence ?? 0n;
    r.configure([1, 2], [1, 2], [1, 2]);
    const fresh = new Replicas([3]);
    r.tables.set(3, fresh.table(3));
    r.events.set(3, fresh.events.get(3) ?? []);
    r.outbox.set(3, fresh.outbox.get(3) ?? []);
    r.configure(all, null, all);
    r.flushSyncs(all, all);
    r.deliver(1, { type: 'unlock', counter: 1, lvb: null }, all);
    r.deliver(3, lock(1, 'a', 'EX'), all);
    const fence2 = r.lk(3, 'grant').at(-1)?.fence ?? 0n;
    expect(fence2 > fence1).toBe(true);
    expect(new Set(all.map((id) => r.table(id).hash())).size).toBe(1);
  });

  it('revokes suspect locks when their table enters a primary configuration', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.configure([1], [1], [1]); // non-primary: suspect
    // 2 and 3 crash and return with empty tables; 1's table wins (highest last primary)
    const fresh = new Replicas([2, 3]);
    for (const id of [2, 3]) {
      r.tables.set(id, fresh.table(id));
      r.events.set(id, fresh.events.get(id) ?? []);
      r.outbox.set(id, fresh.outbox.get(id) ?? []);
    }
    r.configure(all, null, all);
    r.flushSyncs(all, all);
    expect(r.of(1, 'lost').map((e) => e.reason)).toEqual(['transitional', 'revoked']);
    expect(r.lk(2).map((e) => [e.op, e.reason])).toEqual([['adopt', undefined], ['revoke', 'suspect']]);
  });

  it('drops operations queued in a sync that a configuration change cut short', () => {
    const r = formed(all);
    r.configure([1, 2], [1, 2], [1, 2]);
    r.configure([3], [3], [3]);
    r.merge([[1, 2], [3]], all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.transitional(all, all);
    expect(r.of(1, 'dropped')).toHaveLength(1);
    r.regular(all, all);
    r.outbox.forEach((box) => box.splice(0, box.length - 1));
    r.flushSyncs(all, all);
    expect(r.table(1).inSync).toBe(true);
    expect(new Set(all.map((id) => r.table(id).hash())).size).toBe(1);
  });
});

describe('barriers', () => {
  it('completes at the same point on every member once all entered', () => {
    const r = formed(all);
    for (const id of all) r.deliver(id, { type: 'barrier', ls: 'ls', name: 'b', members: null }, all);
    for (const id of all) expect(r.of(id, 'barrier').map((e) => e.op)).toEqual(['enter', 'enter', 'enter', 'complete']);
  });
  it('fails everywhere alike at the configuration after the cut that removed an expected member', () => {
    const r = formed(all);
    r.deliver(1, { type: 'barrier', ls: 'ls', name: 'b', members: null }, all);
    r.configure([1, 2], [1, 2], [1, 2]);
    for (const id of [1, 2]) expect(r.of(id, 'barrier').map((e) => [e.op, e.reason])).toEqual([['enter', undefined], ['fail', 'configuration']]);
  });
});

describe('sync rounds cut short in one ring (the API feeds group joins and leaves that way)', () => {
  it('purges a departed member from a snapshot taken before its cut', () => {
    const r = new Replicas([1, 2, 3, 4], majorityOf([1, 2, 3, 4]));
    r.configure([1, 2, 3], null, [1, 2, 3]);
    r.flushSyncs([1, 2, 3], [1, 2, 3]);
    r.deliver(3, lock(1, 'a', 'EX'), [1, 2, 3]);
    const ring = { rep: 1, seq: 100n };
    const at = (ids: number[], kind: 'transitional' | 'regular', members: number[]): void => {
      for (const id of ids) r.table(id).onConfiguration(conf(kind, ring, members));
    };
    // Node 4 joins: a sync starts; before its messages arrive, node 3 leaves in the same ring.
    at([1, 2, 3], 'transitional', [1, 2, 3]);
    at([4], 'transitional', [4]);
    at([1, 2, 3, 4], 'regular', [1, 2, 3, 4]);
    at([1, 2, 4], 'transitional', [1, 2, 4]);
    at([1, 2, 4], 'regular', [1, 2, 4]);
    // The first round's snapshots (still holding node 3's lock) arrive first and complete the round.
    for (const id of [1, 2, 4]) {
      const first = r.outbox.get(id)?.[0];
      if (first !== undefined) r.deliver(id, first, [1, 2, 4]);
    }
    for (const id of [1, 2, 4]) expect(r.table(id).inSync).toBe(true);
    for (const id of [1, 2, 4]) expect(r.table(id).dump('ls')?.resources ?? []).toEqual([]);
    expect(new Set([1, 2, 4].map((id) => r.table(id).hash())).size).toBe(1);
  });
});

describe('received bytes', () => {
  it('never throw: random and mutated messages and snapshots are refused or applied, never asserted on', () => {
    let x = 12345;
    const next = (): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x >>> 8;
    };
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    const samples = [
      encodeLockMessage(lock(2, 'a', 'PR')),
      encodeLockMessage({ type: 'convert', counter: 1, mode: 'NL', flags: {}, lvb: new Uint8Array(32) }),
      encodeLockMessage({ type: 'barrier', ls: 'ls', name: 'b', members: [1, 2, 3] }),
      encodeLockMessage({ type: 'sync', ringRep: 1, ringSeq: 4n, lastPrimarySeq: 4n, snapshot: new Uint8Array(40) }),
      encodeLockMessage({ type: 'lockMany', counter: 5, holder: 1, ls: 'ls', items: [{ res: 'a', mode: 'EX' }, { res: 'b', mode: 'PR' }], flags: { headQueue: true }, lvbBytes: 32, reentrancyMax: 2 }),
      encodeLockMessage({ type: 'adopt', counter: 9, holder: 0, ls: 'ls', res: 'a', mode: 'EX', orphan: '' }),
      encodeLockMessage({ type: 'purgeOrphans', ls: 'ls', res: 'a', orphan: '3:1003:1' }),
      batchOf([lock(3, 'a', 'EX'), cancel(3), { type: 'convert', counter: 1, mode: 'PR', flags: { noOrder: true }, lvb: null }, unlock(1, new Uint8Array(32))]),
      batchOf([{ type: 'lockMany', counter: 7, holder: 2, ls: 'ls', items: [{ res: 'b', mode: 'PW' }, { res: 'c', mode: 'CR' }], flags: {}, lvbBytes: 32 }, unlock(7), unlock(8)]),
    ];
    for (let i = 0; i < 3000; i++) {
      const base = samples[i % samples.length] ?? new Uint8Array();
      const bytes = i % 5 === 0 ? new Uint8Array(next() % 64).map(() => next() & 0xff) : base.slice();
      if (i % 5 !== 0) for (let k = 0; k < 1 + (next() % 3); k++) bytes[next() % bytes.length] = next() & 0xff;
      expect(() => decodeLockMessage(bytes)).not.toThrow();
      expect(() => decodeLockMessages(bytes)).not.toThrow();
      expect(() => r.deliver(1 + (i % 3), bytes, all)).not.toThrow();
    }
    expect(new Set(all.map((id) => r.table(id).hash())).size).toBe(1);
  });

  it('a mutated snapshot decodes or is refused, never throws, and a sync with it still completes alike', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX', { flags: { persistent: true } }), all);
    r.deliver(2, lock(1, 'a', 'PR'), all);
    r.deliver(3, { type: 'lockMany', counter: 1, holder: 0, ls: 'ls', items: [{ res: 'a', mode: 'EX' }, { res: 'b', mode: 'PR' }], flags: {}, lvbBytes: 32 }, all);
    r.deliver(2, { type: 'barrier', ls: 'ls', name: 'b', members: null }, all);
    r.configure(all, all, [1, 2, 3]);
    r.merge([all], all); // no sync: same members
    const good = encodeSnapshotOf(r, 1);
    let x = 99;
    for (let i = 0; i < 2000; i++) {
      const bytes = good.slice();
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      bytes[(x >>> 8) % bytes.length] = x & 0xff;
      expect(() => decodeSnapshot(bytes)).not.toThrow();
    }
  });
});

function encodeSnapshotOf(r: Replicas, id: number): Uint8Array {
  const state = (r.table(id) as unknown as { state: Parameters<typeof encodeSnapshot>[0] }).state;
  return encodeSnapshot(state);
}

describe('batches', () => {
  const ops: BatchableLockMessage[] = [
    lock(1, 'a', 'EX', { holder: 4, reentrancyMax: 2 }),
    lock(2, 'a', 'PR', { flags: { noQueue: true, notifyOnNoQueue: true } }),
    cancel(2, 'timeout'),
    { type: 'convert', counter: 1, mode: 'NL', flags: { headQueue: true }, lvb: new Uint8Array(32).fill(9) },
    { type: 'lockMany', counter: 3, holder: 0, ls: 'ls', items: [{ res: 'b', mode: 'EX' }, { res: 'c', mode: 'PR' }], flags: { persistent: true }, lvbBytes: 32, reentrancyMax: 0 },
    { type: 'adopt', counter: 5, holder: 0, ls: 'ls', res: 'd', mode: 'EX', orphan: '' },
    { type: 'purgeOrphans', ls: 'ls', res: '', orphan: '2:1002:7' },
    unlock(1),
  ];

  it('decode to their operations in order; a batch of one is the message alone', () => {
    const decoded = decodeLockMessages(batchOf(ops));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) {
      expect(decoded.messages.map((m) => m.type)).toEqual(ops.map((m) => m.type));
      for (const [i, m] of ops.entries()) expect(decoded.messages[i]).toMatchObject({ ...m, ...('flags' in m ? { flags: expect.any(Object) } : {}) });
    }
    // A single message decodes as a list of one; a batch is not one message.
    expect(batchOf([lock(1, 'a', 'EX')])).toEqual(encodeLockMessage(lock(1, 'a', 'EX')));
    expect(decodeLockMessages(encodeLockMessage(unlock(4)))).toEqual({ ok: true, messages: [unlock(4)] });
    expect(decodeLockMessage(batchOf(ops)).ok).toBe(false);
  });

  it('decode names in any script, short or long, and refuse bytes that are not UTF-8', () => {
    const names = ['a', 'bench', 'x'.repeat(32), 'y'.repeat(33), 'ré', 'σ-ресурс-資源', `${'z'.repeat(31)}é`, '🔒'];
    for (const res of names) {
      const decoded = decodeLockMessages(encodeLockMessage(lock(1, res, 'EX', { ls: `ls-${res}` })));
      expect(decoded.ok && decoded.messages[0]).toMatchObject({ ls: `ls-${res}`, res });
    }
    // 'ab' then a lone continuation byte, in place of the resource name's bytes.
    const bytes = encodeLockMessage(lock(1, 'abc', 'EX'));
    const at = bytes.findIndex((_, i) => bytes[i] === 0x61 && bytes[i + 1] === 0x62 && bytes[i + 2] === 0x63);
    bytes[at + 2] = 0x80;
    expect(decodeLockMessages(bytes).ok).toBe(false);
  });

  it('share one frozen flags object per flags byte', () => {
    const decoded = decodeLockMessages(batchOf([lock(1, 'a', 'EX', { flags: { noQueue: true } }), lock(2, 'b', 'EX', { flags: { noQueue: true } })]));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const [a, b] = decoded.messages as Extract<LockMessage, { type: 'lock' }>[];
    expect(a?.flags).toBe(b?.flags);
    expect(a?.flags).toMatchObject({ noQueue: true, headQueue: false });
    expect(Object.isFrozen(a?.flags)).toBe(true);
  });

  it('are full at lockBatchMessagesMax operations or bytesMax bytes; the first operation is always taken', () => {
    const counted = new LockBatchWriter();
    for (let i = 0; i < lockBatchMessagesMax; i++) expect(counted.add(unlock(i), Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(counted.add(unlock(0), Number.MAX_SAFE_INTEGER)).toBe(false);
    const decoded = decodeLockMessages(counted.finish());
    expect(decoded.ok && decoded.messages.length).toBe(lockBatchMessagesMax);

    const sized = new LockBatchWriter();
    let n = 0;
    while (sized.add(unlock(n), 64)) n++;
    expect(n).toBeGreaterThan(1);
    expect(sized.finish().length).toBeLessThanOrEqual(64);

    const big = new LockBatchWriter();
    expect(big.add(lock(1, 'x'.repeat(200), 'EX'), 16)).toBe(true);
    expect(big.add(unlock(1), 16)).toBe(false);
    expect(decodeLockMessages(big.finish())).toMatchObject({ ok: true, messages: [{ type: 'lock', res: 'x'.repeat(200) }] });
  });

  it('refuse malformed batches whole, without throwing', () => {
    const v = lockMessageVersion;
    const good = batchOf([lock(1, 'a', 'EX'), unlock(1)]);
    const body = (m: Parameters<typeof encodeLockMessage>[0]): number[] => [...encodeLockMessage(m).subarray(1)];
    const header = (count: number): number[] => [v, 10, count >> 8, count & 0xff];
    const bad: [string, number[]][] = [
      ['empty', header(0)],
      ['too many', [...header(lockBatchMessagesMax + 1), ...Array.from({ length: lockBatchMessagesMax + 1 }, () => body(unlock(1))).flat()]],
      ['count above its operations', [...header(3), ...body(unlock(1)), ...body(unlock(2))]],
      ['trailing byte', [...good, 0]],
      ['nested batch', [...header(2), ...body(unlock(1)), ...[...good].slice(1)]],
      ['barrier inside', [...header(2), ...body(unlock(1)), ...body({ type: 'barrier', ls: 'ls', name: 'b', members: null })]],
      ['sync inside', [...header(2), ...body({ type: 'sync', ringRep: 1, ringSeq: 4n, lastPrimarySeq: 0n, snapshot: new Uint8Array(0) }), ...body(unlock(1))]],
      ['unknown type inside', [...header(2), ...body(unlock(1)), 99, 0, 0, 0, 1]],
      ['bad mode inside', [...header(2), ...body(unlock(1)), ...body(lock(2, 'a', 'EX')).map((b, i, a) => (i === a.length - 6 ? 17 : b))]],
      ['old version', [2, ...good.subarray(1)]],
    ];
    for (const [what, bytes] of bad) {
      const decoded = decodeLockMessages(new Uint8Array(bytes));
      expect({ what, ok: decoded.ok }).toEqual({ what, ok: false });
    }
    for (let n = 0; n < good.length; n++) expect(decodeLockMessages(good.subarray(0, n)).ok).toBe(false);
    // One malformed operation refuses the batch: nothing of it is applied.
    const r = formed(all);
    const before = r.table(1).hash();
    r.deliver(2, new Uint8Array(bad[8]?.[1] ?? []), all);
    expect(r.table(1).counters.malformed).toBe(1);
    expect(r.table(1).counters.opsApplied).toBe(0);
    expect(r.table(1).hash()).toBe(before);
  });

  it('apply as the same operations delivered one by one: same events, trace lines and hashes', () => {
    // Contention, a try-lock, a timeout cancel, a down-conversion with a value block, an atomic
    // request, and a deadlock closed inside a batch (holder ids 5 and 6 on node 3).
    const script: [number, BatchableLockMessage[]][] = [
      [1, [lock(1, 'a', 'EX'), lock(2, 'b', 'PR'), lock(3, 'a', 'PR')]],
      [2, [lock(1, 'a', 'EX', { flags: { noQueue: true } }), lock(2, 'b', 'EX'), cancel(2, 'timeout'), lock(3, 'a', 'CR')]],
      [3, [{ type: 'lockMany', counter: 1, holder: 0, ls: 'ls', items: [{ res: 'c', mode: 'EX' }, { res: 'b', mode: 'PR' }], flags: {}, lvbBytes: 32 }, lock(3, 'd', 'EX', { holder: 5 }), lock(4, 'e', 'EX', { holder: 6 })]],
      [1, [{ type: 'convert', counter: 1, mode: 'NL', flags: {}, lvb: new Uint8Array(32).fill(5) }, unlock(2)]],
      [3, [lock(5, 'e', 'EX', { holder: 5 }), lock(6, 'd', 'EX', { holder: 6 }), unlock(1), unlock(2)]],
      [2, [unlock(3), unlock(1)]],
      [1, [unlock(3), unlock(1)]],
    ];
    const alone = formed(all);
    const batched = formed(all);
    for (const [sender, list] of script) {
      for (const m of list) alone.deliver(sender, m, all);
      batched.deliver(sender, batchOf(list), all);
    }
    expect(batched.lk(1, 'deny').map((e) => e.reason)).toEqual(['would-block', 'timeout', 'deadlock']);
    for (const id of all) {
      expect(batched.events.get(id)).toEqual(alone.events.get(id));
      expect(batched.lines.get(id)).toEqual(alone.lines.get(id));
      expect(batched.table(id).hash()).toBe(alone.table(id).hash());
      expect(batched.table(id).counters).toEqual(alone.table(id).counters);
    }
  });

  it('keep their order: a cancel in the same batch as its request ends it before any grant', () => {
    const r = formed(all);
    r.deliver(1, lock(1, 'a', 'EX'), all);
    r.deliver(2, batchOf([lock(1, 'a', 'EX'), cancel(1), lock(2, 'b', 'EX'), unlock(2), lock(3, 'b', 'PR')]), all);
    r.deliver(1, unlock(1), all);
    for (const id of all) {
      expect(r.lk(id).filter((e) => e.owner === owner(2, 1)).map((e) => e.op)).toEqual(['request', 'cancel']);
      expect(r.lk(id).filter((e) => e.owner.startsWith('2:')).map((e) => [e.owner, e.op])).toEqual([
        [owner(2, 1), 'request'],
        [owner(2, 1), 'cancel'],
        [owner(2, 2), 'request'],
        [owner(2, 2), 'grant'],
        [owner(2, 2), 'release'],
        [owner(2, 3), 'request'],
        [owner(2, 3), 'grant'],
      ]);
    }
    // The request was queued (its holder notified) before the cancel ended it.
    expect(r.lk(1, 'bast')).toMatchObject([{ owner: owner(1, 1), mode: 'EX' }]);
  });

  it('wait in a sync operation by operation, and a cut drops each one, in order', () => {
    const r = formed(all);
    r.configure([1, 2], [1, 2], [1, 2]);
    r.configure([3], [3], [3]);
    r.merge([[1, 2], [3]], all);
    r.deliver(1, batchOf([lock(1, 'a', 'EX'), lock(2, 'b', 'EX'), cancel(2)]), all);
    r.transitional(all, all);
    expect(r.of(1, 'dropped').map((e) => e.message.type)).toEqual(['lock', 'lock', 'cancel']);
    expect(r.table(2).counters.droppedInSync).toBe(3);
  });
});
