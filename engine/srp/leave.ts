/**
 * Leaving the ring on purpose (after corosync's memb_leave_message_send): a node that closes
 * announces it, so that the others reconfigure at once instead of waiting for the token to be
 * lost (deviation 28, engine/README.md).
 *
 * The leaving side: `requestLeave` first lets the node's own frames drain (every frame it
 * originated on the ring is broadcast and known to be held by every member: at or below the safe
 * bound of its token visits), so that they are delivered everywhere before the change; then it
 * broadcasts a join naming itself in its fail set, `leaveCopies` times `leaveCopyIntervalMs`
 * apart (one lost copy must not cost a token timeout), and stops: it handles no packet and no
 * timer after that, installs no configuration, and `hasLeft` turns true after the last copy.
 * A drain that cannot finish within the host's wait (the ring is re-forming, the token is gone)
 * does not hold the leave back: the announce goes out anyway.
 *
 * The receiving side: a join whose sender is in its own fail set is that sender's leave. A
 * processor that counts the sender in the membership it is working on fails it at once and
 * re-enters Gather with cause `leave`; a leave from a processor it does not count, or one sent
 * before its installed ring (a late copy after the sender restarted), is ignored.
 */
import { seqLe } from '../seq.js';
import type { JoinPacket, NodeId } from '../types.js';
import { ringIdToString } from '../types.js';
import { encodePacket } from '../wire/codec.js';
import { enterGather } from './gather.js';
import { sortedIds } from './node-ids.js';
import { installedMembers, log, type SrpState } from './state.js';

/** Copies of the leave announce: a loss of one (or two) in a row still reaches everyone. */
export const leaveCopies = 3;
/** Spacing of the copies, so that one burst of loss does not take them all. */
export const leaveCopyIntervalMs = 2;

export interface LeaveProgress {
  /** draining: own frames still on their way; announcing: copies going out; left: done. */
  phase: 'draining' | 'announcing' | 'left';
  copiesSent: number;
  /** When the leave was requested (for the log line). */
  requestedAtMs: number;
  /** The ring left and how long the drain took, for the log line once the last copy is out. */
  summary: string;
}

/**
 * The host closes the node: drain own frames for at most `drainWaitMsMax`, then announce the
 * leave. Calling it again changes nothing.
 */
export function requestLeave(s: SrpState, drainWaitMsMax: number): void {
  if (s.leave !== null) return;
  s.leave = { phase: 'draining', copiesSent: 0, requestedAtMs: s.nowMs, summary: '' };
  if (!s.started) {
    // Never started: no ring knows of this node.
    s.leave.phase = 'left';
    return;
  }
  if (s.membership !== 'operational' || ownFramesDrained(s)) {
    announceLeave(s);
    return;
  }
  s.timers.arm('leave', s.nowMs, Math.max(0, drainWaitMsMax));
}

/** After a token visit while draining: announce once every own frame is held everywhere. */
export function leaveIfDrained(s: SrpState): void {
  if (s.leave?.phase === 'draining' && s.membership === 'operational' && ownFramesDrained(s)) announceLeave(s);
}

/** The leave timer: the drain wait ran out, or the next copy is due. */
export function onLeaveTimeout(s: SrpState): void {
  const leave = s.leave;
  if (leave === null) return;
  if (leave.phase === 'draining') {
    log(s, 'warn', `leaving ring with own frames not yet known to be held by every member (drained for ${s.nowMs - leave.requestedAtMs} ms, state ${s.membership})`);
    announceLeave(s);
    return;
  }
  if (leave.phase !== 'announcing') return;
  sendLeaveJoin(s);
  if (leave.copiesSent < leaveCopies) {
    s.timers.arm('leave', s.nowMs, leaveCopyIntervalMs);
  } else {
    leave.phase = 'left';
    log(s, 'info', `left the ring ${leave.summary}`);
  }
}

/** True once the node announced its leave: it takes no input any more. */
export function leaveAnnounced(s: SrpState): boolean {
  return s.leave !== null && s.leave.phase !== 'draining';
}

/**
 * A join naming its own sender failed: the sender leaves. Returns true when the join was such a
 * leave (handled or ignored here), false for an ordinary join.
 */
export function onLeaveJoin(s: SrpState, join: JoinPacket): boolean {
  if (!join.failSet.includes(join.sender)) return false;
  if (join.sender === s.self) return true;
  const installedSeq = s.installed?.ringId.seq ?? 0n;
  if (join.ringSeq < installedSeq) return true;
  if (s.failSet.has(join.sender)) {
    // Another member's join told me first (it carried the leaver in its fail set): the change
    // under way is this leave all the same, and says so.
    if (s.changeUnderWay && s.changeCause === 'join') {
      s.changeCause = 'leave';
      s.changeNodes.add(join.sender);
    }
    return true;
  }
  const counted =
    s.membership === 'operational' ? installedMembers(s).includes(join.sender)
    : s.membership === 'gather' ? s.procSet.has(join.sender)
    : s.newMembers.includes(join.sender);
  if (!counted) return true;
  log(s, 'info', `node ${join.sender} leaves the ring`);
  // Back from a Commit or Recovery that counted the sender, the attempt's fail set goes as on any
  // failed attempt (deviation 13); the leaver is the one verdict carried over.
  if (s.membership === 'commit' || s.membership === 'recovery') s.failSet = new Set();
  s.failSet.add(join.sender);
  enterGather(s, 'leave', [join.sender]);
  return true;
}

function announceLeave(s: SrpState): void {
  const leave = s.leave;
  if (leave === null) return;
  leave.phase = 'announcing';
  // Nothing of the protocol runs any more: no token resend, no Gather, no held token released.
  s.timers.cancelAll();
  s.heldToken = null;
  leave.summary = `${ringIdToString(s.ring.ringId)} (${s.membership}), drained in ${s.nowMs - leave.requestedAtMs} ms`;
  sendLeaveJoin(s);
  s.timers.arm('leave', s.nowMs, leaveCopyIntervalMs);
}

function sendLeaveJoin(s: SrpState): void {
  const leave = s.leave;
  if (leave === null) return;
  const procSet = new Set<NodeId>(s.procSet);
  for (const m of installedMembers(s)) procSet.add(m);
  procSet.add(s.self);
  const failSet = new Set<NodeId>(s.failSet);
  failSet.add(s.self);
  const join: JoinPacket = {
    type: 'join',
    sender: s.self,
    procSet: sortedIds(procSet),
    failSet: sortedIds(failSet),
    ringSeq: s.ring.ringId.seq,
  };
  s.host.send(0, encodePacket(join), false);
  leave.copiesSent += 1;
}

/**
 * Every own frame was broadcast (nothing waits in the source) and every own frame still in the
 * sort queue is at or below the safe bound: every member holds it. Frames already released
 * were held everywhere when they were.
 */
function ownFramesDrained(s: SrpState): boolean {
  if (s.source.backlogFrames() > 0) return false;
  const bound = s.safeBound;
  for (const frame of s.ring.queue.values()) {
    if (frame.originator !== s.self) continue;
    if (bound === null || !seqLe(frame.seq, bound)) return false;
  }
  return true;
}
