/**
 * The token visit (evs-spec.md §2.2, steps 1–18 in that order) and what decides whether the token
 * moves on: flow control's allowance (§2.4), the representative's hold on an idle ring and its
 * cancellation when something is submitted (§2.5). Retransmission requests and the token copy's
 * resend are in retransmission.ts, delivery in delivery.ts, Recovery's part of a visit (step 15,
 * the recovery queue) in recovery.ts.
 *
 * Deviations (engine/README.md): 5 (idle bookkeeping counts only accepted tokens of my ring: the
 * ring id and token_seq checks come first), 6 (the representative sends a ring's first token to
 * itself, so its first visit is an ordinary one), 16 (the rotation estimate that times the token
 * copy's resend is taken here), 17 (flow control's defaults).
 */
import { sortQueueItemsMax } from '../constants.js';
import { encodeMcast, encodePacket } from '../wire/codec.js';
import { seqAdd, seqLe, seqLt, seqMin } from '../seq.js';
import type { NodeId, TokenHoldCancelPacket, TokenPacket } from '../types.js';
import { ringIdEquals, ringIdToString } from '../types.js';
import { assert } from '../assert.js';
import { deliverReady } from './delivery.js';
import { fccAllowance, fccTokenUpdate } from './flow-control.js';
import { enterGather } from './gather.js';
import { broadcastRecovery, enterOperational, recoveryBacklog, recoveryVisit } from './recovery.js';
import { armTokenRetransmit, requestRetransmits, serveRetransmits } from './retransmission.js';
import type { RingState } from './ring-state.js';
import { drop, log, type SrpState } from './state.js';

/**
 * The application queued something. On a ring this node sees as idle, ask the representative to
 * release a held token at once rather than after `holdMs` (§2.5 hold-cancel).
 */
export function onSubmit(s: SrpState): void {
  if (s.membership !== 'operational') return;
  if (s.unchangedCount <= s.config.seqnoUnchangedConst) return;
  if (s.heldToken !== null) {
    releaseHeldToken(s);
    return;
  }
  s.unchangedCount = 0;
  const cancel: TokenHoldCancelPacket = { type: 'tokenHoldCancel', sender: s.self, ringId: s.ring.ringId };
  s.host.send(0, encodePacket(cancel), true);
}

/** A regular token arrives: one visit, §2.2 steps 1–18 in order (step 3 has nothing to do here). */
export function onToken(s: SrpState, token: TokenPacket): void {
  if (s.membership === 'gather' || s.membership === 'commit') {
    drop(s, 'state');
    return;
  }
  if (!ringIdEquals(token.ringId, s.ring.ringId)) {
    drop(s, 'foreign-ring');
    return;
  }
  if (s.myTokenSeq !== null && seqLe(token.tokenSeq, s.myTokenSeq)) {
    drop(s, 'duplicate');
    return;
  }
  s.counters.tokensReceived += 1;
  if (s.lastTokenAtMs !== null) {
    s.lastRotationMs = s.nowMs - s.lastTokenAtMs;
    const est = s.rotationEstimateMs;
    const sample = est === 0 ? s.lastRotationMs : Math.min(s.lastRotationMs, 4 * est);
    s.rotationEstimateMs = est + (sample - est) / 8;
  }
  s.lastTokenAtMs = s.nowMs;
  const ring = s.ring;
  const operational = s.membership === 'operational';

  // Idle bookkeeping (step 2): an unchanged seq means nothing was broadcast for a rotation.
  if (s.lastTokenSeqField !== null && token.seq === s.lastTokenSeqField) {
    s.unchangedCount += 1;
    if (!s.timers.isArmed('merge')) s.timers.arm('merge', s.nowMs, s.config.mergeTimeoutMs);
  } else {
    s.unchangedCount = 0;
    s.timers.cancel('merge');
    s.timers.cancel('hold');
  }
  s.lastTokenSeqField = token.seq;
  if (ring.ringId.rep === s.self) s.counters.tokenRotations += 1;

  // Step 4: garbage-collect what every member is known to hold and I delivered.
  if (operational && s.myLastAru !== null) {
    const stable = seqMin(seqMin(token.aru, s.myLastAru), ring.highDelivered);
    ring.releaseThrough(stable);
  }

  // Step 6.
  const aPrev = s.myLastAru;
  s.myLastAru = token.aru;
  s.safeBound = aPrev === null ? null : seqMin(aPrev, token.aru);

  // Step 7: flow control (§2.4). A rotation that broadcast nothing new, after which nobody misses
  // anything, leaves nothing to count but the retransmissions it served: fcc starts again from
  // 0 (deviation 27), so that a count no member owns (a forged token's) cannot stall the ring.
  if (s.unchangedCount > 0 && token.aru === token.seq && token.rtr.length === 0) token.fcc = 0;
  const backlogNow = operational ? s.source.backlogFrames() : recoveryBacklog(s);
  const { windowSize, maxMessages } = s.config;
  const allowed = fccAllowance(windowSize, maxMessages, token.fcc, token.backlog, backlogNow, s.fcc);

  // Step 8: serve retransmission requests, then add my own.
  let sent = serveRetransmits(s, token, ring, allowed);
  requestRetransmits(s, token, ring);

  // Step 9: never let the sort queue span more than its bound.
  const room = sortQueueItemsMax - s.config.windowSize - ring.span(token.seq);
  const newAllowed = Math.max(0, Math.min(allowed - sent, room));

  // Step 10: broadcast.
  sent += operational ? broadcastNew(s, token, ring, newAllowed) : broadcastRecovery(s, token, ring, newAllowed);

  // Step 11.
  fccTokenUpdate(token, sent, backlogNow, s.fcc);

  // Step 12: aru.
  if (seqLt(ring.aru, token.aru) || token.aruAddr === s.self || token.aruAddr === 0) {
    token.aru = ring.aru;
    token.aruAddr = ring.aru === token.seq ? 0 : s.self;
  }

  // Step 13: failure to receive.
  if (aPrev !== null && token.aru === aPrev && token.aruAddr !== 0) s.myAruCount += 1;
  else s.myAruCount = 0;
  if (operational && s.myAruCount > s.config.failToRecvConst && token.aruAddr === s.self) {
    log(s, 'warn', `failed to receive on ring ${ringIdToString(ring.ringId)}: aru ${ring.aru}, seq ${token.seq}`);
    s.failedToRecv = true;
    s.myAruCount = 0;
    s.failSet.add(s.self);
    enterGather(s, 'failure-to-receive', [s.self]);
    return;
  }

  // Step 14.
  s.myTokenSeq = token.tokenSeq;
  token.tokenSeq = seqAdd(token.tokenSeq, 1);

  // Step 15: Recovery may end here, before the token moves on.
  let installNow = false;
  if (!operational) installNow = recoveryVisit(s, token);
  if (installNow) enterOperational(s);

  // Step 16: forward, or hold it on an idle ring.
  const next = successor(s);
  const hold =
    s.membership === 'operational' &&
    ring.ringId.rep === s.self &&
    s.unchangedCount > s.config.seqnoUnchangedConst &&
    sent === 0;
  if (hold) {
    s.heldToken = { bytes: encodePacket({ ...token, sender: s.self }), to: next };
    s.tokenCopy = s.heldToken;
  } else {
    forwardToken(s, token, next);
  }

  // Step 17.
  if (s.membership === 'operational') deliverReady(s);

  // Step 18.
  s.timers.arm('tokenLoss', s.nowMs, s.config.tokenTimeoutMs);
  if (hold) {
    // Nothing to resend while the token is here: releaseHeldToken arms the resend.
    s.timers.cancel('tokenRetransmit');
    s.timers.arm('hold', s.nowMs, s.config.holdMs);
  } else {
    armTokenRetransmit(s);
  }
}

/** Send the token on, keeping the copy a retransmission resends (§2.2 step 16). */
export function forwardToken(s: SrpState, token: TokenPacket, to: NodeId): void {
  const bytes = encodePacket({ ...token, sender: s.self });
  s.tokenCopy = { bytes, to };
  s.host.send(to, bytes, true);
}

/** The hold ends (timer, hold-cancel or a submit): the held token leaves and its resend is armed. */
export function releaseHeldToken(s: SrpState): void {
  const held = s.heldToken;
  if (held === null) return;
  s.heldToken = null;
  s.timers.cancel('hold');
  s.unchangedCount = 0;
  s.host.send(held.to, held.bytes, true);
  armTokenRetransmit(s);
}

function successor(s: SrpState): NodeId {
  const members = s.ring.members;
  const index = members.indexOf(s.self);
  assert(index >= 0, 'I am a member of my ring');
  const next = members[(index + 1) % members.length];
  assert(next !== undefined, 'successor exists');
  return next;
}

function broadcastNew(s: SrpState, token: TokenPacket, ring: RingState, allowed: number): number {
  let sent = 0;
  while (sent < allowed) {
    const frame = s.source.nextFrame();
    if (frame === null) break;
    const seq = seqAdd(token.seq, 1);
    token.seq = seq;
    const bytes = encodeMcast(s.self, ring.ringId, seq, s.self, frame.order, frame.payload);
    ring.store({ seq, originator: s.self, order: frame.order, payload: frame.payload, bytes, inner: null });
    // Stored above: no copy of it needs to come back here.
    s.host.send(0, bytes, false);
    s.counters.framesBroadcast += 1;
    sent += 1;
  }
  return sent;
}
