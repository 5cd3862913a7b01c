/**
 * ownLkEventsOnly: a table that reports the lk events of its own node's locks alone holds the same
 * table as one that reports every lock's, and reports exactly the same events once the other
 * members' lk events are taken out of the full list.
 */
import { describe, expect, it } from 'vitest';
import type { LockMessage } from '../../../engine/locks/codec.js';
import type { LockMode } from '../../../engine/locks/modes.js';
import type { NodeId } from '../../../engine/types.js';
import { formed, incarnationOf, lock, type Replicas } from './harness.js';

const all: NodeId[] = [1, 2, 3];
const modes: LockMode[] = ['NL', 'CR', 'CW', 'PR', 'PW', 'EX'];

/** A contended mix from every member: locks with holder ids (cycles across resources), conversions, unlocks, cancels. */
function operations(seed: number, count: number): { sender: NodeId; m: LockMessage }[] {
  let state = seed;
  const next = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    // The high bits: an LCG's low bits repeat with a short period.
    return Math.floor((state / 2 ** 31) * n);
  };
  const counters = new Map<NodeId, number>(all.map((id) => [id, 0]));
  const out: { sender: NodeId; m: LockMessage }[] = [];
  for (let i = 0; i < count; i++) {
    const sender = all[next(all.length)] as NodeId;
    const made = counters.get(sender) ?? 0;
    const roll = made === 0 ? 0 : next(20);
    // One of the sender's last few locks: most operations find their lock, some find it gone.
    const counter = Math.max(1, made - next(3));
    if (roll < 8) {
      counters.set(sender, made + 1);
      out.push({ sender, m: lock(made + 1, `r${next(12)}`, modes[next(modes.length)] as LockMode, { holder: 1 + next(2) }) });
    } else if (roll < 15) out.push({ sender, m: { type: 'unlock', counter, lvb: null } });
    else if (roll < 18) out.push({ sender, m: { type: 'convert', counter, mode: modes[next(modes.length)] as LockMode, flags: {}, lvb: null } });
    else out.push({ sender, m: { type: 'cancel', counter, reason: 'timeout' } });
  }
  return out;
}

function run(r: Replicas, ops: { sender: NodeId; m: LockMessage }[]): void {
  for (const { sender, m } of ops) r.deliver(sender, m, [1]);
}

describe('a table that reports only its own locks', () => {
  it('holds the same table and reports the same events of its own locks', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const full = formed(all);
      const own = formed(all, undefined, (id) => ({ ownLkEventsOnly: id === 1 }));
      const ops = operations(seed, 400);
      run(full, ops);
      run(own, ops);
      const ownPrefix = `1:${incarnationOf(1)}:`;
      const expected = (full.events.get(1) ?? []).filter((e) => e.ev !== 'lk' || e.owner.startsWith(ownPrefix));
      expect(own.events.get(1)).toEqual(expected);
      expect(own.table(1).hash()).toBe(full.table(1).hash());
      expect(own.table(1).counters).toEqual(full.table(1).counters);
      // The mix is one that matters: other members' events were left out, and queues formed.
      expect((full.events.get(1) ?? []).length).toBeGreaterThan(expected.length);
      expect(full.lk(1, 'grant').length).toBeGreaterThan(20);
      expect(full.lk(1, 'bast').length).toBeGreaterThan(0);
    }
  });

  it('finds the same deadlocks', () => {
    let deadlocks = 0;
    for (const seed of [11, 12, 13, 14, 15, 16, 17, 18]) {
      const full = formed(all);
      const own = formed(all, undefined, (id) => ({ ownLkEventsOnly: id === 1 }));
      const ops = operations(seed, 300);
      run(full, ops);
      run(own, ops);
      expect(own.table(1).counters.deadlocks).toBe(full.table(1).counters.deadlocks);
      deadlocks += full.table(1).counters.deadlocks;
    }
    expect(deadlocks).toBeGreaterThan(0);
  });
});
