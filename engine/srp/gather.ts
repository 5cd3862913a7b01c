/**
 * Gather (evs-spec.md §3.2): entering it (on start, token loss, a foreign ring, a join, failure to
 * receive, a consensus timeout), the join message, processing received joins
 * (`memb_join_process`), consensus and the consensus timeout, and the singleton ring of a
 * processor that failed to receive (§2.2 step 13). The silence rules that fail members before the
 * consensus timeout are in gather-silence.ts; the commit token it leads to, in commit.ts.
 *
 * Deviations (engine/README.md): 11 (a join re-enters Gather only when it grew my proc or fail
 * set), 12 (a join older than my ring fails nobody), 13 (a failed Commit or Recovery drops the
 * fail set), 14 (on a consensus timeout only the silent are failed first; a verdict on a processor
 * silent to me too is taken over from any join), 18 (processors whose joins come from a ring
 * older than mine get one more consensus period before they are failed).
 */
import { encodePacket } from '../wire/codec.js';
import type { ConfigurationCause, JoinPacket, NodeId } from '../types.js';
import { ringIdToString } from '../types.js';
import { assert } from '../assert.js';
import { createCommitToken } from './commit.js';
import { armSilenceTimer, isSilent } from './gather-silence.js';
import { isSubset, sameIds, sortedIds } from './node-ids.js';
import { installedMembers, log, touchPeer, type SrpState } from './state.js';

/** The join timer fired: in Gather, a join goes out every join period. */
export function onJoinTimeout(s: SrpState): void {
  if (s.membership === 'gather') {
    sendJoin(s);
    s.timers.arm('join', s.nowMs, s.config.joinTimeoutMs);
  }
}

/**
 * Enter (or re-enter) Gather (§3.2): proc and fail sets are kept, consensus starts over from my
 * own agreement, a join goes out and the Gather timers replace the token's. The first entry of a
 * membership change names its cause for the configurations it ends with.
 */
export function enterGather(s: SrpState, cause: ConfigurationCause, causeNodes: readonly NodeId[]): void {
  if (!s.changeUnderWay) {
    // The first Gather of a membership change names the change.
    s.changeUnderWay = true;
    s.changeCause = cause;
    s.changeNodes = new Set(causeNodes);
  } else {
    for (const n of causeNodes) s.changeNodes.add(n);
  }
  if (s.membership === 'operational' && s.installed !== null) {
    // Gather starts from the installed membership; silent members reach fail_set by the silence
    // rule or the consensus timeout.
    for (const m of s.installed.members) s.procSet.add(m);
  }
  // Re-entries within Gather keep the stay's start: silence is counted from the first entry.
  if (s.membership !== 'gather' || s.gatherSinceMs === null) {
    s.gatherSinceMs = s.nowMs;
    s.behindGraceUsed = false;
  }
  s.membership = 'gather';
  s.counters.gatherEntries += 1;
  s.procSet.add(s.self);
  s.recovery = null;
  s.heldToken = null;
  sendJoin(s);
  s.timers.arm('join', s.nowMs, s.config.joinTimeoutMs);
  s.timers.arm('consensus', s.nowMs, s.config.consensusTimeoutMs);
  s.timers.cancel('tokenLoss');
  s.timers.cancel('tokenRetransmit');
  s.timers.cancel('merge');
  s.timers.cancel('hold');
  s.consensus = new Set([s.self]);
  armSilenceTimer(s);
}

function sendJoin(s: SrpState): void {
  const join: JoinPacket = {
    type: 'join',
    sender: s.self,
    procSet: sortedIds(s.procSet),
    failSet: sortedIds(s.failSet),
    ringSeq: s.ring.ringId.seq,
  };
  s.host.send(0, encodePacket(join), true);
}

/** proc_set − fail_set, sorted: the members of the ring Gather is trying to agree on. */
export function candidateMembers(s: SrpState): NodeId[] {
  const members: NodeId[] = [];
  for (const p of s.procSet) if (!s.failSet.has(p)) members.push(p);
  return members.sort((a, b) => a - b);
}

/** A join arrives: the ignore rules of each state (§3.2, §7's table), then memb_join_process. */
export function onJoin(s: SrpState, join: JoinPacket): void {
  if (join.ringSeq > s.tokenRingIdSeq) s.tokenRingIdSeq = join.ringSeq;
  const nowMs = s.nowMs;
  // A join's ring seq says whether its sender has caught up with my ring (deviation 18).
  touchPeer(
    s.lastJoin,
    join.sender,
    { atMs: nowMs, ringSeq: join.ringSeq },
    (last) => nowMs - last.atMs >= s.config.consensusTimeoutMs,
  );
  switch (s.membership) {
    case 'operational': {
      if (join.failSet.includes(s.self)) return;
      if (installedMembers(s).includes(join.sender) && join.ringSeq < s.ring.ringId.seq) return;
      const gathered = processJoin(s, join);
      if (!gathered && s.membership === 'operational') enterGather(s, 'join', [join.sender]);
      return;
    }
    case 'gather':
      processJoin(s, join);
      return;
    case 'commit':
    case 'recovery': {
      if (!s.newMembers.includes(join.sender) || join.ringSeq < s.ring.ringId.seq) return;
      abandonAttempt(s);
      const gathered = processJoin(s, join);
      if (!gathered && (s.membership === 'commit' || s.membership === 'recovery')) {
        enterGather(s, 'join', [join.sender]);
      }
      return;
    }
  }
}

/** memb_join_process (§3.2). Returns true when it (re-)entered Gather or moved on to Commit. */
function processJoin(s: SrpState, join: JoinPacket): boolean {
  const myProc = sortedIds(s.procSet);
  const myFail = sortedIds(s.failSet);
  if (sameIds(join.procSet, myProc) && sameIds(join.failSet, myFail)) {
    if (s.membership !== 'gather') return false;
    s.consensus.add(join.sender);
    if (!consensusAgreed(s)) return false;
    if (s.failedToRecv) {
      formSingletonAfterFailureToReceive(s);
      return true;
    }
    if (candidateMembers(s)[0] === s.self) {
      createCommitToken(s);
      return true;
    }
    return false;
  }
  if (isSubset(join.procSet, s.procSet) && isSubset(join.failSet, s.failSet)) return false;
  if (s.failSet.has(join.sender)) return false;
  const procBefore = s.procSet.size;
  const failBefore = s.failSet.size;
  for (const p of join.procSet) s.procSet.add(p);
  const newcomers = s.procSet.size > procBefore;
  // A join whose ring seq is below mine was sent before I formed or attempted my current ring:
  // its view of who failed is older than my ring, so it fails nobody here (deviation, README).
  // Without this, joins of the last round that named me failed arrive after I moved on, I fail
  // their senders in return, and a cluster of singletons re-forms singletons forever.
  const stale = join.ringSeq < s.ring.ringId.seq;
  if (stale) {
    // Only the proc set grows.
  } else if (join.failSet.includes(s.self)) {
    s.failSet.add(join.sender);
  } else if (installedMembers(s).includes(join.sender)) {
    for (const f of join.failSet) if (f !== s.self) s.failSet.add(f);
  }
  if (s.membership === 'gather') {
    // A verdict on a processor that is silent to me too is taken over at once, from anyone and
    // however old (deviation, README): my own silence confirms it. Groups that lose the same
    // dead members then agree in one round instead of each waiting for its own consensus
    // timeout, out of step with the others.
    for (const f of join.failSet) if (f !== s.self && isSilent(s, f)) s.failSet.add(f);
  }
  // Re-enter Gather only when my sets grew (deviation: corosync always does). Two processors
  // that hold different fail sets they cannot adopt from each other would otherwise answer each
  // other's joins forever, and every re-entry restarts the consensus timeout that would settle
  // it. Sets only grow within a change, so re-entries are finite and the timeout fires.
  if (s.procSet.size === procBefore && s.failSet.size === failBefore) return false;
  const cause: ConfigurationCause = newcomers && s.membership === 'operational' ? 'merge' : 'join';
  enterGather(s, cause, [join.sender]);
  return true;
}

function consensusAgreed(s: SrpState): boolean {
  const members = candidateMembers(s);
  if (members.length === 0) return false;
  for (const m of members) if (!s.consensus.has(m)) return false;
  return true;
}

/** The consensus timer fired in Gather, or the token-loss timer after consensus (§3.2). */
export function onConsensusTimeout(s: SrpState): void {
  assert(s.membership === 'gather', 'consensus timeout acts in Gather only');
  if (s.failedToRecv) {
    formSingletonAfterFailureToReceive(s);
    return;
  }
  if (consensusAgreed(s)) {
    // Everyone agreed but the commit token did not come: start over from my own agreement and
    // give the representative one token timeout more (§3.2).
    s.consensus = new Set([s.self]);
    s.timers.arm('tokenLoss', s.nowMs, s.config.tokenTimeoutMs);
    return;
  }
  // First fail only the processors that sent no join at all this round, and give everyone a
  // round to agree on that; only when nobody new fell silent are the processors that answer but
  // disagree failed too, as corosync does at once (deviation, README). Failing live but
  // disagreeing processors at once splits rings that can all hear each other whenever their
  // rounds are out of step, and they can stay out of step forever.
  const unmatched: NodeId[] = [];
  for (const p of s.procSet) {
    if (!s.consensus.has(p) && !s.failSet.has(p)) unmatched.push(p);
  }
  const silent = unmatched.filter((p) => isSilent(s, p));
  if (silent.length === 0 && unmatched.length > 0 && !s.behindGraceUsed && unmatched.every((p) => isBehind(s, p))) {
    // Everyone unmatched answers, but from a ring older than mine: they are still finishing the
    // change that formed my ring, or a ring beside it, and will reach my sets once it ends. Give
    // them one more consensus period per stay before failing them (deviation, README). Failing
    // them at once lets groups that form rings by turns fail each other forever: each group's
    // timeout fires while the others are busy installing.
    s.behindGraceUsed = true;
    s.consensus = new Set([s.self]);
    s.timers.arm('consensus', s.nowMs, s.config.consensusTimeoutMs);
    return;
  }
  const failed = silent.length > 0 ? silent : unmatched;
  for (const p of failed) s.failSet.add(p);
  enterGather(s, 'consensus-timeout', failed);
}

/** A processor whose last join came from a ring older than mine (or that sent none yet). */
function isBehind(s: SrpState, p: NodeId): boolean {
  const last = s.lastJoin.get(p);
  return last === undefined || last.ringSeq < s.ring.ringId.seq;
}

/** §2.2 step 13: the processor that could not receive forms a singleton ring at once. */
function formSingletonAfterFailureToReceive(s: SrpState): void {
  s.failedToRecv = false;
  s.procSet = new Set([s.self]);
  s.failSet = new Set();
  createCommitToken(s);
}

/**
 * Back to Gather from a failed Commit or Recovery: the fail set that led to the attempted ring
 * is dropped (deviation, README). Corosync keeps it; but a processor that never installs the
 * ring it attempted then carries a verdict from an older round into every later one, makes
 * live processors fail it in return, and keeps whole groups from ever merging. Silent
 * processors reach the fail set again through the consensus timeout.
 */
function abandonAttempt(s: SrpState): void {
  s.failSet = new Set();
}

/** No token for tokenTimeoutMs: the ring (or the attempt to form one) is lost (§3.2 "Entered on"). */
export function onTokenLossTimeout(s: SrpState): void {
  switch (s.membership) {
    case 'operational':
      log(s, 'info', `token lost on ring ${ringIdToString(s.ring.ringId)}`);
      enterGather(s, 'token-loss', installedMembers(s).filter((m) => m !== s.self));
      break;
    case 'gather':
      // Consensus was reached earlier but no commit token came: check again (§3.2).
      onConsensusTimeout(s);
      break;
    case 'commit':
    case 'recovery':
      log(s, 'info', `token lost while forming ring ${ringIdToString(s.ring.ringId)} (${s.membership})`);
      abandonAttempt(s);
      enterGather(s, 'token-loss', s.newMembers.filter((m) => m !== s.self));
      break;
  }
}
