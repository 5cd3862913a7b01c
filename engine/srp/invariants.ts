/**
 * What must hold of the whole SRP state between two inputs (after start(), and after every
 * onPacket, onTimer and onSubmit), TigerBeetle's `invariants()` pass: the relations between the
 * fields that the protocol steps of evs-spec.md §2–§3 maintain, checked over the state alone,
 * never over received data. Each assertion is one relation; implications read `if (a) assert(b)`.
 *
 * Every check is cheap (constant, or linear in the members and membership sets; never a walk of
 * the sort queue), so that the simulator can run it after every event. The runtime does not call
 * it: it is a test of the engine, not a guard on the hot path (the engine's own assertions stay
 * on everywhere).
 */
import { assert } from '../assert.js';
import { sortQueueItemsMax } from '../constants.js';
import { seqAdd, seqGt, seqLe } from '../seq.js';
import type { NodeId } from '../types.js';
import type { RingState } from './ring-state.js';
import type { SrpState } from './state.js';
import { timerNames } from './timers.js';

export function checkInvariants(s: SrpState): void {
  assert(s.started || s.leave !== null, 'invariants hold from start() on');
  if (s.leave !== null && s.leave.phase !== 'draining') {
    // A node that announced its leave runs nothing but the timer of its remaining copies.
    for (const name of timerNames) if (name !== 'leave') assert(!s.timers.isArmed(name), 'after the leave: no protocol timer');
    assert(s.timers.isArmed('leave') === (s.leave.phase === 'announcing'), 'the leave timer runs while copies are due');
    return;
  }
  checkRings(s);
  checkMembershipState(s);
  checkMembershipSets(s);
  checkTimers(s);
  checkOrdering(s);
  checkCounters(s);
}

/** One ring's sort queue and its bounds (§2.2, §2.3): lowWater ≤ highDelivered ≤ aru ≤ highSeqReceived. */
function checkRing(ring: RingState, what: string): void {
  assert(seqLe(ring.lowWater, ring.highDelivered), `${what}: lowWater <= highDelivered`);
  assert(seqLe(ring.highDelivered, ring.aru), `${what}: highDelivered <= aru`);
  assert(seqLe(ring.aru, ring.highSeqReceived), `${what}: aru <= highSeqReceived`);
  // Every stored seq passed accepts(): within the sort queue bound of the last released seq.
  assert(seqLe(ring.highSeqReceived, seqAdd(ring.lowWater, sortQueueItemsMax)), `${what}: sort queue span within its bound`);
  assert(ring.queue.size <= sortQueueItemsMax, `${what}: sort queue size within its bound`);
  // Released frames are gone, frames above the release are kept until released.
  assert(!ring.queue.has(ring.lowWater), `${what}: the last released seq is not held`);
  if (seqGt(ring.aru, ring.lowWater)) assert(ring.queue.has(ring.aru), `${what}: the frame at aru is held`);
  if (seqGt(ring.highSeqReceived, ring.lowWater)) {
    assert(ring.queue.has(ring.highSeqReceived), `${what}: the frame at highSeqReceived is held`);
  }
  // aru is as high as the queue allows: the next seq is missing.
  assert(!ring.queue.has(seqAdd(ring.aru, 1)), `${what}: aru is the highest seq with no hole below it`);
  assertSortedIds(ring.members, `${what}: members`);
}

function checkRings(s: SrpState): void {
  checkRing(s.ring, 'ring');
  assert(s.ring.ringId.seq <= s.tokenRingIdSeq, 'my ring seq <= the largest ring seq known');
  if (s.installed !== null) {
    if (s.installed !== s.ring) checkRing(s.installed, 'installed ring');
    assert(s.installed.members.includes(s.self), 'I am a member of my installed ring');
  }
  if (s.old !== null) {
    if (s.old.ring !== s.ring && s.old.ring !== s.installed) checkRing(s.old.ring, 'old ring');
    // The old ring is the ring as it stood at the first Commit: the installed one, if any.
    assert(s.old.installed === (s.old.ring === s.installed), 'the old ring was installed iff it is the installed ring');
    assert(s.old.ring !== s.ring, 'Commit moved my ring id past the old ring');
  } else if (s.installed !== null) {
    assert(s.ring === s.installed, 'outside a membership change my ring is the installed one');
  }
}

/** Which of installed, old, recovery, commitCopy, tokenCopy, heldToken are set, per state (§3.1). */
function checkMembershipState(s: SrpState): void {
  const m = s.membership;
  assert(m === 'operational' || m === 'gather' || m === 'commit' || m === 'recovery', 'a known membership state');
  // Only Gather has a stay start; a change is under way from the first Gather to installation.
  assert((s.gatherSinceMs !== null) === (m === 'gather'), 'gatherSinceMs is set exactly in Gather');
  assert(s.changeUnderWay === (m !== 'operational'), 'a membership change is under way exactly outside Operational');
  assert((s.recovery !== null) === (m === 'recovery'), 'recovery progress exists exactly in Recovery');
  if (s.failedToRecv) assert(m === 'gather', 'failure to receive is settled in Gather');
  if (s.failedToRecv) assert(s.failSet.has(s.self), 'failing to receive, I am in my own fail set');
  if (s.heldToken !== null) {
    assert(m === 'operational', 'a token is held only in Operational');
    assert(s.ring.ringId.rep === s.self, 'only the representative holds the token');
    assert(s.tokenCopy === s.heldToken, 'the held token is the copy a resend would send');
  }
  switch (m) {
    case 'operational':
      assert(s.installed === s.ring, 'Operational: my ring is installed');
      assert(s.old === null, 'Operational: no old ring saved');
      assert(s.ring.members.includes(s.self), 'Operational: I am a member of my ring');
      assert(s.tokenCopy !== null, 'Operational: a token passed here in Recovery');
      assert(s.changeNodes.size === 0, 'Operational: no change nodes');
      break;
    case 'gather':
      assert(s.heldToken === null, 'Gather: no held token');
      break;
    case 'commit':
    case 'recovery':
      assert(s.old !== null, `${m}: the old ring was saved at Commit`);
      assert(s.ring !== s.installed, `${m}: my ring is the attempted one`);
      assert(s.ring.members === s.newMembers, `${m}: my ring's members are the new members`);
      assert(s.newMembers.includes(s.self), `${m}: I am a member of the new ring`);
      if (m === 'commit') assert(s.commitCopy !== null, 'Commit: the commit token copy is kept');
      if (m === 'recovery') checkRecovery(s);
      break;
  }
}

function checkRecovery(s: SrpState): void {
  const rec = s.recovery;
  assert(rec !== null, 'Recovery: progress exists');
  assert(rec.next >= 0 && rec.next <= rec.queue.length, 'Recovery: the queue position is within the queue');
  assert(rec.retransFlgCount >= 0 && rec.rotationCounter >= 0, 'Recovery: counts are not negative');
  if (rec.firstTokenSent) assert(s.ring.ringId.rep === s.self, 'Recovery: only the representative sends the first token');
  assert(s.tokenCopy !== null, 'Recovery: the commit token copy is kept');
  assert(s.old !== null, 'Recovery: the old ring was saved');
  if (s.old.installed) assert(s.transMembers.includes(s.self), 'Recovery: I am in my own transitional configuration');
  else assert(s.transMembers.length === 0, 'Recovery: no transitional configuration before the first ring');
}

/** proc_set, fail_set and consensus (§3.2). */
function checkMembershipSets(s: SrpState): void {
  assert(s.procSet.has(s.self), 'I am in my proc set');
  assert(s.consensus.has(s.self), 'I agree with myself');
  for (const f of s.failSet) assert(s.procSet.has(f), 'fail set ⊆ proc set');
  if (s.membership === 'gather') {
    for (const c of s.consensus) assert(s.procSet.has(c), 'Gather: consensus ⊆ proc set');
  }
  if (s.membership === 'operational') {
    assert(s.failSet.size === 0, 'Operational: empty fail set');
    assert(s.consensus.size === 1, 'Operational: consensus is myself alone');
    assert(s.procSet.size === s.ring.members.length, 'Operational: proc set is my ring');
    for (const p of s.ring.members) assert(s.procSet.has(p), 'Operational: proc set is my ring');
  }
}

/** Which timers are armed in which state (§2.5, §3.2–§3.5). */
function checkTimers(s: SrpState): void {
  const t = s.timers;
  // The hold timer runs exactly while the representative holds the token, with no resend armed.
  assert(t.isArmed('hold') === (s.heldToken !== null), 'the hold timer runs exactly while a token is held');
  if (s.heldToken !== null) assert(!t.isArmed('tokenRetransmit'), 'a held token is not resent');
  switch (s.membership) {
    case 'gather':
      assert(t.isArmed('join'), 'Gather: joins are resent');
      assert(t.isArmed('consensus') || t.isArmed('tokenLoss'), 'Gather: the consensus or token-loss timer runs');
      assert(!t.isArmed('tokenRetransmit'), 'Gather: no token to resend');
      assert(!t.isArmed('merge'), 'Gather: no merge detection');
      break;
    case 'commit':
    case 'recovery':
      assert(t.isArmed('tokenLoss'), `${s.membership}: the token-loss timer runs`);
      assert(!t.isArmed('join') && !t.isArmed('consensus') && !t.isArmed('silence'), `${s.membership}: no Gather timers`);
      break;
    case 'operational':
      assert(t.isArmed('tokenLoss'), 'Operational: the token-loss timer runs');
      assert(!t.isArmed('join') && !t.isArmed('consensus') && !t.isArmed('silence'), 'Operational: no Gather timers');
      break;
  }
}

/** The token-visit bookkeeping of §2.2–§2.4 and the resend wait of deviation 16. */
function checkOrdering(s: SrpState): void {
  const c = s.config;
  if (s.safeBound !== null) {
    assert(s.myLastAru !== null, 'a safe bound needs two visits');
    assert(seqLe(s.safeBound, s.myLastAru), 'the safe bound is at most the last aru seen');
  }
  assert(s.unchangedCount >= 0 && s.myAruCount >= 0, 'visit counts are not negative');
  assert(s.fcc.sentPrev >= 0 && s.fcc.sentPrev <= c.maxMessages, 'a visit sends at most maxMessages');
  assert(s.fcc.backlogPrev >= 0, 'the backlog sampled is not negative');
  // Zero until the first arm; after it within the bounds, whatever the backoff did.
  const waitMs = s.tokenRetransmitWaitMs;
  assert(waitMs === 0 || (waitMs >= c.tokenRetransmitMinMs && waitMs <= c.tokenRetransmitMs), 'the resend wait is within its bounds');
  assert(s.rotationEstimateMs >= 0 && s.lastRotationMs >= 0, 'rotation times are not negative');
  if (s.lastTokenAtMs !== null) assert(s.lastTokenAtMs <= s.nowMs, 'the last token came in the past');
  for (const heardMs of s.lastHeardMs.values()) assert(heardMs <= s.nowMs, 'processors were heard in the past');
}

/** Each phase is entered only through the one before it (§3.1). */
function checkCounters(s: SrpState): void {
  const n = s.counters;
  assert(n.gatherEntries >= 1, 'start() entered Gather');
  assert(n.configurationsInstalled <= n.recoveryEntries, 'installation follows Recovery');
  assert(n.recoveryEntries <= n.commitEntries, 'Recovery follows Commit');
}

function assertSortedIds(ids: readonly NodeId[], what: string): void {
  for (let i = 1; i < ids.length; i++) assert((ids[i - 1] as NodeId) < (ids[i] as NodeId), `${what} sorted ascending, no repeats`);
}
