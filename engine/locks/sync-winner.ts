/**
 * The table a sync adopts: of the members' snapshots that decode, the one of the most recent
 * primary configuration (ties: the lowest node id, as the received map is read in id order), with
 * the largest lastFence of all of them so that fencing tokens keep growing across the merge.
 */
import type { NodeId } from '../types.js';
import { assert } from '../assert.js';
import { decodeSnapshot, type TableState } from './snapshot.js';

export function pickSyncWinner(received: ReadonlyMap<NodeId, { lastPrimarySeq: bigint; snapshot: Uint8Array }>, lastFenceOwn: bigint): TableState {
  let winner: TableState | null = null;
  let lastFence = lastFenceOwn;
  for (const id of [...received.keys()].sort((a, b) => a - b)) {
    const entry = received.get(id);
    assert(entry !== undefined, 'sync entry listed but missing');
    const decoded = decodeSnapshot(entry.snapshot);
    // A snapshot that does not decode, or disagrees with its own header, loses (received bytes).
    if (decoded === null || decoded.lastPrimarySeq !== entry.lastPrimarySeq) continue;
    if (decoded.lastFence > lastFence) lastFence = decoded.lastFence;
    if (winner === null || decoded.lastPrimarySeq > winner.lastPrimarySeq) winner = decoded;
  }
  const adopted: TableState = winner ?? { lockspaces: new Map(), opCount: 0, lastFence: 0n, lastPrimarySeq: 0n };
  adopted.lastFence = lastFence;
  return adopted;
}
