/**
 * The lock table's micro-benchmark, per operation: one replica (node 1 of 3, in a primary
 * configuration, reporting its own locks' events as the lock manager does without a trace)
 * applies the uncontended workload of the locks bench: batches of 32 locks, each on a resource of
 * its own, then the batch of their 32 unlocks, from each member in turn. Every replica does this
 * for every operation of the cluster, so it bounds what the main threads can apply.
 */
import { LockBatchWriter, type BatchableLockMessage } from '../../engine/locks/codec.js';
import { LockTable } from '../../engine/locks/lock-table.js';
import { majorityOf } from '../../engine/locks/primary.js';
import type { NodeId } from '../../engine/types.js';
import { measure, type MicroResult } from './measure.js';

const members: NodeId[] = [1, 2, 3];
const batchOps = 32;
const incarnation = 7;

function batch(ops: BatchableLockMessage[]): Uint8Array {
  const w = new LockBatchWriter();
  for (const m of ops) if (!w.add(m, 1 << 20)) throw new Error('micro: a batch did not fit');
  return w.finish();
}

/**
 * Member `id`'s table after a new cluster's first configurations (alone, then all members), and
 * the sync it then asks to send (its empty snapshot). Node 1's reports its own lines only.
 */
function newMemberTable(id: NodeId): { table: LockTable; sync: Uint8Array } {
  let sync: Uint8Array | null = null;
  const table = new LockTable({ nodeId: id, incarnation, primaryRule: majorityOf(members), ownLkEventsOnly: id === 1 }, {
    event: () => undefined,
    send: (p) => (sync = p),
  });
  const ringId = { rep: 1, seq: 4n };
  table.onConfiguration({ kind: 'transitional', ringId, members: [id], joined: [], left: [], cause: 'join', causeNodes: [] });
  table.onConfiguration({ kind: 'regular', ringId, members, joined: [], left: [], cause: 'join', causeNodes: [] });
  if (sync === null) throw new Error('micro: no sync');
  return { table, sync };
}

export function lockBenchmarks(runs: number, scale: number): MicroResult[] {
  // The measured replica takes every member's sync, as a new cluster's tables would.
  const { table } = newMemberTable(1);
  for (const id of members) table.onDelivery(id, incarnation, newMemberTable(id).sync, false);
  if (!table.canGrant) throw new Error('micro: the table does not grant');

  // Pre-encoded: per member, a batch of locks and a batch of their unlocks; counters grow per round.
  const rounds = 64;
  const payloads: { sender: NodeId; payload: Uint8Array }[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const sender of members) {
      const counters = Array.from({ length: batchOps }, (_, k) => round * batchOps + k + 1);
      payloads.push({ sender, payload: batch(counters.map((counter, k) => ({ type: 'lock', counter, holder: 0, ls: 'bench', res: `n${sender}-c${k}`, mode: 'EX', flags: {}, lvbBytes: 32 }))) });
      payloads.push({ sender, payload: batch(counters.map((counter) => ({ type: 'unlock', counter, lvb: null }))) });
    }
  }
  const opsPerPass = payloads.length * batchOps;
  const ops = Math.round(scale * 2_000_000);
  const results = [
    measure('locks: table apply, uncontended lock/unlock', ops, runs, (n) => {
      const applied = table.counters.opsApplied;
      for (let done = 0; done < n; done += opsPerPass) {
        // The same counters again: each pass is one incarnation's worth of new owners, since the
        // previous pass unlocked every lock it took.
        for (const { sender, payload } of payloads) table.onDelivery(sender, incarnation, payload, false);
      }
      return table.counters.opsApplied - applied;
    }),
  ];
  // What was measured is the workload described above: every lock found and released, none
  // refused, the table empty again.
  const { unknownLock, duplicateLock, malformed, foreignSender } = table.counters;
  if (unknownLock + duplicateLock + malformed + foreignSender > 0 || (table.dump('bench')?.resources.length ?? 0) > 0) {
    throw new Error(`micro: the lock workload did not apply as intended: ${JSON.stringify(table.counters)}`);
  }
  return results;
}
