/**
 * Barriers: an instance begins at the first entry of its name (expected members: the ones the
 * entry names, else the configuration's members), completes at the entry that makes it whole, and
 * fails when an expected member is absent (at entry, or at the regular configuration after the
 * cut that removed it). Entries are safe messages, so every member sees the same point.
 */
import type { NodeId } from '../types.js';
import type { LockTableCounters, LockTableEvent } from './lock-types.js';
import type { Barrier, Lockspace } from './snapshot.js';

export interface BarrierContext {
  members: readonly NodeId[];
  ring: string;
  nodeId: NodeId;
  emit: (e: LockTableEvent) => void;
  counters: LockTableCounters;
}

export function enterBarrier(ls: Lockspace, sender: NodeId, name: string, members: NodeId[] | null, c: BarrierContext): void {
  let b = ls.barriers.get(name);
  if (b === undefined) {
    b = { name: name, gen: 0, genHighest: 0, expected: null, entered: [], since: '' };
    ls.barriers.set(name, b);
  }
  if (b.expected === null) {
    b.genHighest++;
    b.gen = b.genHighest;
    b.expected = [...new Set(members ?? c.members)].sort((x, y) => x - y);
    b.entered = [];
    b.since = c.ring;
  }
  if (!b.expected.includes(sender)) {
    c.counters.barrierOutsider++;
    return;
  }
  if (b.entered.includes(sender)) return;
  b.entered.push(sender);
  c.emit({ ev: 'barrier', ls: ls.name, name: b.name, op: 'enter', ring: c.ring, gen: b.gen, since: b.since, node: sender });
  const inConf = new Set(c.members);
  if (!b.expected.every((id) => inConf.has(id))) {
    failBarrier(ls, b, 'absent', c);
    return;
  }
  if (b.entered.length === b.expected.length) {
    c.emit({ ev: 'barrier', ls: ls.name, name: b.name, op: 'complete', ring: c.ring, gen: b.gen, since: b.since, node: c.nodeId });
    b.expected = null;
    b.entered = [];
  }
}

export function failBarrier(ls: Lockspace, b: Barrier, reason: string, c: BarrierContext): void {
  c.emit({ ev: 'barrier', ls: ls.name, name: b.name, op: 'fail', ring: c.ring, gen: b.gen, since: b.since, node: c.nodeId, reason });
  b.expected = null;
  b.entered = [];
}
