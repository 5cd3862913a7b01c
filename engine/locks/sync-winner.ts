/**
 * The table a sync adopts: of the members' snapshots that decode, the one of the most recent
 * primary configuration (ties: the lowest node id, as the received map is read in id order), with
 * the largest lastFence of all of them so that fencing tokens keep growing across the merge, and
 * per barrier name the highest instance number of all of them so that instance numbers never
 * repeat across it. Atomic requests a member still holds waiting are settled as one against it.
 */
import type { NodeId } from '../types.js';
import { assert } from '../assert.js';
import { decodeSnapshot, type LockRecord, type Lockspace, type Resource, type TableState } from './snapshot.js';

export function pickSyncWinner(received: ReadonlyMap<NodeId, { lastPrimarySeq: bigint; snapshot: Uint8Array }>, lastFenceOwn: bigint): TableState {
  let winner: TableState | null = null;
  let lastFence = lastFenceOwn;
  const decodedAll: TableState[] = [];
  for (const id of [...received.keys()].sort((a, b) => a - b)) {
    const entry = received.get(id);
    assert(entry !== undefined, 'sync entry listed but missing');
    const decoded = decodeSnapshot(entry.snapshot);
    // A snapshot that does not decode, or disagrees with its own header, loses (received bytes).
    if (decoded === null || decoded.lastPrimarySeq !== entry.lastPrimarySeq) continue;
    decodedAll.push(decoded);
    if (decoded.lastFence > lastFence) lastFence = decoded.lastFence;
    if (winner === null || decoded.lastPrimarySeq > winner.lastPrimarySeq) winner = decoded;
  }
  const adopted: TableState = winner ?? { lockspaces: new Map(), opCount: 0, lastFence: 0n, lastPrimarySeq: 0n };
  adopted.lastFence = lastFence;
  for (const other of decodedAll) if (other !== adopted) carryBarrierNumbers(adopted, other);
  settleAtomicRequests(adopted, decodedAll);
  return adopted;
}

/**
 * An atomic request that a member's table holds waiting, of which the adopted table holds some
 * locks but not all: the adopted table's lineage granted it where its owner's side did not (that
 * side took the message that let it through in a transitional configuration, where nothing is
 * granted, or lost it with a sync cut short), the owner left that lineage, and the request's
 * locks went separate ways there (an orphan purged, or adopted by another owner). Its outcome
 * must be one for all its locks on every replica, so the locks the adopted table still holds of
 * it are removed too and every member revokes the request whole (docs/locks.md, "Merges and
 * restarts"). They can only be orphans their owner never held (its replica never applied the
 * grant, so its application never learned of it); they are removed whatever their state.
 */
function settleAtomicRequests(adopted: TableState, decodedAll: readonly TableState[]): void {
  const waiting = new Map<string, { ls: string; owners: Set<string> }>();
  for (const table of decodedAll) {
    for (const ls of table.lockspaces.values()) {
      for (const res of ls.resources.values()) {
        for (const l of res.waiting) {
          if (l.group === '') continue;
          const k = `${ls.name}\u0000${l.group}`;
          const entry = waiting.get(k) ?? { ls: ls.name, owners: new Set<string>() };
          entry.owners.add(l.owner);
          waiting.set(k, entry);
        }
      }
    }
  }
  if (waiting.size === 0) return;
  // Owner ids are unique in a table (decodeSnapshot refuses one twice).
  const placed = new Map<string, { ls: Lockspace; res: Resource; l: LockRecord }>();
  for (const ls of adopted.lockspaces.values()) {
    for (const res of ls.resources.values()) for (const l of [...res.granted, ...res.waiting]) placed.set(l.owner, { ls, res, l });
  }
  for (const { ls: lsName, owners } of waiting.values()) {
    const held = [...owners].map((o) => placed.get(o)).filter((p): p is { ls: Lockspace; res: Resource; l: LockRecord } => p !== undefined && p.ls.name === lsName);
    if (held.length === 0 || held.length === owners.size) continue;
    for (const { ls, res, l } of held) {
      for (const queue of [res.granted, res.converting, res.waiting]) {
        const i = queue.indexOf(l);
        if (i >= 0) queue.splice(i, 1);
      }
      // As after any removal: the value block lives while the resource has a lock.
      if (res.granted.length === 0 && res.waiting.length === 0) ls.resources.delete(res.name);
    }
  }
}

/**
 * A member may have numbered instances the adopted table never saw (one it completed alone, in a
 * configuration of its own): the adopted table takes the highest number of every name, keeping
 * its own pending instances as they are. Read in node id order, so every member builds the same
 * table; a lockspace only `other` knows comes with `other`'s value block size and reentrancy limit.
 */
function carryBarrierNumbers(adopted: TableState, other: TableState): void {
  for (const ls of other.lockspaces.values()) {
    for (const b of ls.barriers.values()) {
      let into = adopted.lockspaces.get(ls.name);
      if (into === undefined) {
        into = { name: ls.name, lvbBytes: ls.lvbBytes, reentrancyMax: ls.reentrancyMax, resources: new Map(), barriers: new Map() };
        adopted.lockspaces.set(ls.name, into);
      }
      const mine = into.barriers.get(b.name);
      if (mine === undefined) into.barriers.set(b.name, { name: b.name, gen: b.genHighest, genHighest: b.genHighest, expected: null, entered: [], since: '' });
      else if (b.genHighest > mine.genHighest) mine.genHighest = b.genHighest;
    }
  }
}
