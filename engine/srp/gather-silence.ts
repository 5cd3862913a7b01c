/**
 * Silence in Gather (evs-spec.md §3.2, consensus timeout; engine/README.md deviations 14 and 15):
 * which processors count as silent, the early verdict on a member of my ring from which nothing
 * has arrived since this stay in Gather began (after `gatherSilenceMs`, or the last rotation plus
 * two join periods if longer), and the timer that watches for it.
 *
 * Why: corosync fails every disagreeing processor at the consensus timeout, so a crash costs
 * token + consensus timeout, and groups whose rounds are out of step fail each other's live
 * members and stay split. Here silence decides first: only processors nothing was heard from are
 * failed early, and the consensus timeout stays the backstop (gather.ts).
 */
import type { NodeId } from '../types.js';
import { candidateMembers, enterGather } from './gather.js';
import { log, type SrpState } from './state.js';

/**
 * Silence in Gather (deviation, README): a member of my ring that I have not heard from at all
 * since I entered Gather is failed once the grace has passed, without waiting for the consensus
 * timeout. A live member that hears a join enters Gather and broadcasts its own join every join
 * period, so after several periods of total silence it has crashed or is cut off, unless it has
 * moved on to Commit: a member that reached consensus sends no more joins and ignores mine until
 * the commit token reaches me or the attempt fails. The grace covers one retransmission of a
 * lost commit token, and while any other candidate has gone quiet too (the commit token passed
 * it), the verdict waits. Processors of other rings may be busy in a Commit of their own: only
 * the consensus timeout fails them, as it stays the backstop for everything else.
 */
export function onGatherSilence(s: SrpState): void {
  const silent = silenceWatched(s).filter((p) => isGatherSilent(s, p));
  if (silent.length === 0) {
    armSilenceTimer(s);
    return;
  }
  if (othersQuiet(s, silent)) {
    // Look again a join period later; the consensus timeout still runs.
    s.timers.arm('silence', s.nowMs, s.config.joinTimeoutMs);
    return;
  }
  const sinceMs = s.nowMs - (s.gatherSinceMs ?? s.nowMs);
  log(s, 'info', `failed [${silent.join(',')}]: nothing from them in ${sinceMs} ms of Gather`);
  for (const p of silent) s.failSet.add(p);
  enterGather(s, 'consensus-timeout', silent);
}

/**
 * Some other candidate sent no join for two join periods (or never): it may be in Commit on an
 * attempt under way (where it sends commit tokens, never joins), and the silent ones may be
 * ahead of it on that ring.
 */
function othersQuiet(s: SrpState, silent: readonly NodeId[]): boolean {
  const quietMs = 2 * s.config.joinTimeoutMs;
  for (const q of candidateMembers(s)) {
    if (q === s.self || silent.includes(q)) continue;
    const last = s.lastJoin.get(q);
    if (last === undefined || s.nowMs - last.atMs > quietMs) return true;
  }
  return false;
}

/**
 * How long a member may stay silent in Gather: the configured silence, and never less than the
 * last token rotation plus two join periods. A member slow enough to slow the token down (a
 * saturated host, a long link) gets the time its answer takes to come round.
 */
function gatherSilenceGraceMs(s: SrpState): number {
  return Math.max(s.config.gatherSilenceMs, s.lastRotationMs + 2 * s.config.joinTimeoutMs);
}

/**
 * When `node` counts as silent in this stay in Gather: the grace after the stay began, unless
 * something from it arrived since. Null when it was heard, or when the rule is off.
 */
function gatherSilenceDeadlineMs(s: SrpState, node: NodeId): number | null {
  const since = s.gatherSinceMs;
  if (since === null || node === s.self) return null;
  const graceMs = gatherSilenceGraceMs(s);
  if (graceMs >= s.config.consensusTimeoutMs) return null;
  const heardMs = s.lastHeardMs.get(node);
  if (heardMs !== undefined && heardMs >= since) return null;
  return since + graceMs;
}

function isGatherSilent(s: SrpState, node: NodeId): boolean {
  const deadlineMs = gatherSilenceDeadlineMs(s, node);
  return deadlineMs !== null && s.nowMs >= deadlineMs;
}

/**
 * The candidates whose silence alone fails them: members of my installed ring and of the ring
 * last attempted in this membership change. Not while failing to receive: that round forms a
 * singleton through the consensus timeout.
 */
function silenceWatched(s: SrpState): NodeId[] {
  if (s.membership !== 'gather' || s.failedToRecv) return [];
  const known = new Set<NodeId>(s.installed?.members ?? []);
  if (s.old !== null) for (const m of s.newMembers) known.add(m);
  return candidateMembers(s).filter((p) => known.has(p));
}

export function armSilenceTimer(s: SrpState): void {
  let nextMs = Infinity;
  for (const p of silenceWatched(s)) nextMs = Math.min(nextMs, gatherSilenceDeadlineMs(s, p) ?? Infinity);
  if (nextMs === Infinity) s.timers.cancel('silence');
  else s.timers.arm('silence', s.nowMs, Math.max(0, nextMs - s.nowMs));
}

/** Nothing from `node` reached me for a whole consensus period, or in Gather for the silence grace. */
export function isSilent(s: SrpState, node: NodeId): boolean {
  const heardMs = s.lastHeardMs.get(node);
  if (heardMs === undefined || s.nowMs - heardMs >= s.config.consensusTimeoutMs) return true;
  return isGatherSilent(s, node);
}
