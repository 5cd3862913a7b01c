/**
 * Retransmission (evs-spec.md §2.2 step 8, §2.5): serving the token's `rtr` requests from my sort
 * queue, adding my own requests for gaps seen on `missCountConst` visits, and resending my stored
 * token copy (the commit token in Commit) when the token does not come back in time.
 *
 * Deviation 16 (engine/README.md): the first resend comes after twice the recent rotation time,
 * at least `tokenRetransmitMinMs` and at most `tokenRetransmitMs`, doubling after each resend;
 * corosync always waits `token_retransmit`, which under random loss leaves a ring waiting most of
 * the time. On an idle ring the wait is `tokenRetransmitMs`, and a held token is not resent.
 */
import { rtrEntriesMax, sortQueueItemsMax } from '../constants.js';
import { seqLe } from '../seq.js';
import type { TokenPacket } from '../types.js';
import { ringIdEquals } from '../types.js';
import type { RingState } from './ring-state.js';
import type { SrpState } from './state.js';

/** The token did not come back in time: resend my copy (the commit token in Commit), then back off. */
export function onTokenRetransmitTimeout(s: SrpState): void {
  if (s.membership === 'gather' || s.heldToken !== null) return;
  const copy = s.membership === 'commit' ? s.commitCopy : s.tokenCopy;
  if (copy === null) return;
  s.counters.tokenRetransmits += 1;
  s.host.send(copy.to, copy.bytes, true);
  // Backing off: a token held by an idle representative, or a successor that is only slow,
  // costs a few duplicates (dropped by token seq), not one every tokenRetransmitMinMs.
  s.tokenRetransmitWaitMs = Math.min(s.config.tokenRetransmitMs, 2 * s.tokenRetransmitWaitMs);
  s.timers.arm('tokenRetransmit', s.nowMs, s.tokenRetransmitWaitMs);
}

/**
 * Arms the resend of the token copy just sent. The first wait is twice the recent rotation time
 * (at least tokenRetransmitMinMs, at most tokenRetransmitMs): on a busy ring a lost token then
 * costs a few ms instead of tokenRetransmitMs, which under random loss is the difference
 * between a ring that crawls and one that keeps most of its throughput (every rotation risks
 * one token per member). A resend the successor did not need is a duplicate it drops.
 */
export function armTokenRetransmit(s: SrpState): void {
  const c = s.config;
  // An idle ring (nothing broadcast for seqnoUnchangedConst rotations, as every member counts)
  // is one whose representative is about to hold the token for holdMs: resending sooner than
  // tokenRetransmitMs (> holdMs) would only send duplicates to the holder.
  const idle = s.unchangedCount >= c.seqnoUnchangedConst;
  s.tokenRetransmitWaitMs = idle
    ? c.tokenRetransmitMs
    : Math.min(c.tokenRetransmitMs, Math.max(c.tokenRetransmitMinMs, 2 * s.rotationEstimateMs));
  s.timers.arm('tokenRetransmit', s.nowMs, s.tokenRetransmitWaitMs);
}

/** §2.2 step 8: resend requested frames of this ring I hold, within the allowance; returns how many. */
export function serveRetransmits(s: SrpState, token: TokenPacket, ring: RingState, allowed: number): number {
  let sent = 0;
  const kept = [];
  for (const entry of token.rtr) {
    if (sent < allowed && ringIdEquals(entry.ringId, ring.ringId)) {
      const frame = ring.queue.get(entry.seq);
      if (frame !== undefined) {
        s.host.send(0, frame.bytes, false);
        s.counters.retransmitsSent += 1;
        sent += 1;
        continue;
      }
    }
    kept.push(entry);
  }
  token.rtr = kept;
  return sent;
}

/** §2.2 step 8: ask for the gaps below token.seq seen missing on missCountConst visits. */
export function requestRetransmits(s: SrpState, token: TokenPacket, ring: RingState): void {
  if (seqLe(token.seq, ring.aru)) {
    if (s.missCount.size > 0) s.missCount.clear();
    return;
  }
  for (const seq of s.missCount.keys()) if (seqLe(seq, ring.aru)) s.missCount.delete(seq);
  const missing = ring.missingThrough(token.seq, sortQueueItemsMax);
  for (const seq of missing) {
    const seen = (s.missCount.get(seq) ?? 0) + 1;
    s.missCount.set(seq, seen);
    if (seen < s.config.missCountConst) continue;
    if (token.rtr.length >= rtrEntriesMax) break;
    if (token.rtr.some((e) => e.seq === seq && ringIdEquals(e.ringId, ring.ringId))) continue;
    token.rtr.push({ ringId: ring.ringId, seq });
    s.counters.retransmitsRequested += 1;
  }
}
