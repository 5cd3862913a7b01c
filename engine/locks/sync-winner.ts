/**
 * The table a sync adopts: of the members' snapshots that decode, the one of the most recent
 * primary configuration (ties: the lowest node id, as the received map is read in id order), with
 * the largest lastFence of all of them so that fencing tokens keep growing across the merge, and
 * per barrier name the highest instance number of all of them so that instance numbers never
 * repeat across it.
 */
import type { NodeId } from '../types.js';
import { assert } from '../assert.js';
import { decodeSnapshot, type TableState } from './snapshot.js';

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
  return adopted;
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
