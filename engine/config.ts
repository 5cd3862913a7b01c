/**
 * Engine configuration: every timer in milliseconds, every size in bytes or frames, with the
 * relations the protocol needs checked once (evs-spec §3.5). Defaults follow corosync's totem
 * defaults except the token timeout, which is 1000 ms here (corosync: 3000 ms + 650 ms per node
 * above two) so that a crashed member is detected within about a second, and flow control
 * (window 200, half of it per visit; corosync: 50 and 17: engine/README.md deviation 17).
 */
import { assert } from './assert.js';
import {
  groupNameBytesMax,
  messageBytesMaxLimit,
  nodeCountMax,
  packetBytesMax,
  ringSeqHeadroom,
  ringSeqStartMax,
  ringSeqMax,
  windowSizeMax,
} from './constants.js';
import type { NodeId } from './types.js';

export interface EngineConfig {
  nodeId: NodeId;
  /** This incarnation's number: its start time in ms, strictly growing across restarts. */
  incarnation: number;
  /** The highest ring seq this node has ever used (state store), or a clock-derived floor. */
  ringSeqInitial: bigint;
  /** No token for this long: the ring is lost, enter Gather. */
  tokenTimeoutMs: number;
  /**
   * The longest wait before the stored token copy is resent: the first resend comes after a few
   * recent rotations (at least tokenRetransmitMinMs), each further one after twice the last wait,
   * never more than this.
   */
  tokenRetransmitMs: number;
  /** The shortest wait before the stored token copy is resent. */
  tokenRetransmitMinMs: number;
  /** The representative holds an idle token this long. */
  holdMs: number;
  /** Join resend period in Gather. */
  joinTimeoutMs: number;
  /** Gather without consensus this long: mark the silent processors failed. */
  consensusTimeoutMs: number;
  /**
   * In Gather, a member of my ring from which nothing at all has arrived since I entered Gather
   * is marked failed after this long, before the consensus timeout (engine/README.md, rule 15).
   * Never less than the last token rotation plus two join periods; at or above
   * `consensusTimeoutMs` the rule is off and only the consensus timeout fails processors.
   */
  gatherSilenceMs: number;
  /** Merge-detect broadcast period on an idle ring. */
  mergeTimeoutMs: number;
  /** Rotations with my aru holding the ring back before I declare failure to receive. */
  failToRecvConst: number;
  /** Unchanged-seq token receipts before the representative holds the token. */
  seqnoUnchangedConst: number;
  /** Sightings of a gap before requesting its retransmission. */
  missCountConst: number;
  /** Frames (new + retransmitted) one rotation may carry. */
  windowSize: number;
  /** Frames one processor may broadcast per token visit. */
  maxMessages: number;
  /** Largest packet the engine sends for a data frame, headers included, authentication excluded. */
  frameBytesMax: number;
  /** Largest application message (fragmented over frames). */
  messageBytesMax: number;
  /** Bytes of application messages that may wait for the token before submit() says full. */
  sendQueueBytesMax: number;
  /**
   * The cluster's configured member list, when the host has one (the runtime passes its node
   * list). A packet whose sender, ring representative, originator, set member or commit member is
   * not in it is dropped (`not-member`, engine/README.md deviation 20). Unset: any node id may
   * take part, as before. Must include `nodeId`; at most nodeCountMax ids.
   */
  clusterNodeIds?: readonly NodeId[];
}

export type EngineConfigInput = Partial<EngineConfig> & Pick<EngineConfig, 'nodeId'>;

export const engineDefaults = {
  incarnation: 1,
  ringSeqInitial: 0n,
  tokenTimeoutMs: 1000,
  joinTimeoutMs: 50,
  mergeTimeoutMs: 200,
  failToRecvConst: 2500,
  seqnoUnchangedConst: 30,
  missCountConst: 5,
  tokenRetransmitMinMs: 5,
  // corosync: 50 and 17. Measured in namespaces at 1500-byte frames (README "Measured here"),
  // 200 and 100 moved 47% more 1 KiB messages (77% more at 5% loss) with the same memory and no
  // membership change, and took its bursts (up to 150 KB per visit) with a receive buffer capped
  // at a stock kernel's rmem_max. A token visit sends at most half the window by default.
  windowSize: 200,
  frameBytesMax: 1500 - 28,
  messageBytesMax: 1024 * 1024,
  sendQueueBytesMax: 4 * 1024 * 1024,
} as const;

/** The timers a user may set; the ones left unset are derived from the others (deriveTimers). */
export const engineTimerNames = [
  'tokenTimeoutMs', 'tokenRetransmitMs', 'holdMs', 'joinTimeoutMs', 'consensusTimeoutMs', 'gatherSilenceMs',
  'mergeTimeoutMs',
] as const;
export type EngineTimerName = (typeof engineTimerNames)[number];

/**
 * The timers with defaults and derivations filled in for those not given: the one derivation,
 * used here and by the API's option validation (which names derived values in its errors).
 */
export function deriveTimers(given: Partial<Record<EngineTimerName, number>>): Record<EngineTimerName, number> {
  const tokenTimeoutMs = given.tokenTimeoutMs ?? engineDefaults.tokenTimeoutMs;
  // corosync: token_retransmit = token / (token_retransmits_before_loss_const + 0.2), hold = 0.8 x that.
  const tokenRetransmitMs = given.tokenRetransmitMs ?? Math.floor(tokenTimeoutMs / 4.2);
  const joinTimeoutMs = given.joinTimeoutMs ?? engineDefaults.joinTimeoutMs;
  return {
    tokenTimeoutMs,
    tokenRetransmitMs,
    holdMs: given.holdMs ?? Math.max(1, Math.floor(tokenRetransmitMs * 0.8)),
    joinTimeoutMs,
    consensusTimeoutMs: given.consensusTimeoutMs ?? Math.floor(tokenTimeoutMs * 1.2),
    gatherSilenceMs: given.gatherSilenceMs ?? deriveGatherSilenceMs(tokenRetransmitMs, joinTimeoutMs),
    mergeTimeoutMs: given.mergeTimeoutMs ?? engineDefaults.mergeTimeoutMs,
  };
}

/** Fill in defaults and derived timers; throws an Error naming the field on a bad value. */
export function resolveEngineConfig(input: EngineConfigInput): EngineConfig {
  const timers = deriveTimers(input);
  const tokenRetransmitMinMs = input.tokenRetransmitMinMs ?? Math.min(engineDefaults.tokenRetransmitMinMs, timers.tokenRetransmitMs);
  const windowSize = input.windowSize ?? engineDefaults.windowSize;
  const maxMessages = input.maxMessages ?? deriveMaxMessages(windowSize);
  const config: EngineConfig = {
    ...engineDefaults,
    ...stripUndefined(input),
    nodeId: input.nodeId,
    ...timers,
    windowSize,
    maxMessages,
    tokenRetransmitMinMs,
  };
  validateEngineConfig(config);
  return config;
}

/**
 * The default silence in Gather after which a member of my ring that never answered is failed:
 * one commit-token retransmission period plus three join periods, and at least four join periods.
 * A live member sends a join every join period while it gathers (four in a row lost at 5 % loss
 * is about 6e-6); one that already moved on to Commit stays silent until a lost commit token is
 * retransmitted to me. 388 ms with the default timers: a crashed member is out about 1.4 s after
 * its crash (token timeout, this silence, a few rotations of the new ring).
 */
export function deriveGatherSilenceMs(tokenRetransmitMs: number, joinTimeoutMs: number): number {
  return Math.max(4 * joinTimeoutMs, tokenRetransmitMs + 3 * joinTimeoutMs);
}

/** Frames one visit may send when not given: half the window (at least one). */
export function deriveMaxMessages(windowSize: number): number {
  return Math.max(1, Math.floor(windowSize / 2));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`invalid engine configuration: ${message}`);
}

/**
 * Why a stored ring seq cannot be started from, or null when it can. A seq above
 * `ringSeqStartMax` (2^62 − 1 − 2^40) leaves too little room below `ringSeqMax` (constants.ts):
 * the node would drop every peer's packets near it, or run out of ring ids. Hosts with a state
 * store call this on the loaded seq before start, to fail with their own error code and the
 * store's path; resolveEngineConfig also checks it (RangeError).
 */
export function storedRingSeqProblem(seq: bigint): string | null {
  if (typeof seq !== 'bigint' || seq < 0n) return `stored ring seq ${String(seq)} is not a non-negative integer`;
  if (seq <= ringSeqStartMax) return null;
  const range = seq > ringSeqMax ? 'above the largest ring seq' : 'within the headroom below the largest ring seq';
  return (
    `stored ring seq ${seq} is ${range} (${ringSeqMax}; seqs above ${ringSeqStartMax} are refused, ` +
    `keeping ${ringSeqHeadroom} of headroom). It was raised by a forged or corrupted packet, or the state file ` +
    'was edited. Fix: stop every node of the cluster, delete the ring-seq file in each node\'s state ' +
    'directory (they restart above a clock-derived seq), then start them again; all of them, since ' +
    'a node that keeps a seq far above the others is dropped by them'
  );
}

export function validateEngineConfig(c: EngineConfig): void {
  check(Number.isInteger(c.nodeId) && c.nodeId >= 1 && c.nodeId <= 0xffffffff, `nodeId ${c.nodeId} must be an integer in 1..2^32-1`);
  check(Number.isSafeInteger(c.incarnation) && c.incarnation >= 1, 'incarnation must be a positive safe integer');
  const seqProblem = storedRingSeqProblem(c.ringSeqInitial);
  check(seqProblem === null, `ringSeqInitial: ${seqProblem ?? ''}`);
  if (c.clusterNodeIds !== undefined) validateClusterNodeIds(c.nodeId, c.clusterNodeIds);
  check(Number.isFinite(c.tokenRetransmitMinMs) && c.tokenRetransmitMinMs >= 1 && c.tokenRetransmitMinMs <= c.tokenRetransmitMs, 'tokenRetransmitMinMs must be in 1..tokenRetransmitMs');
  for (const k of ['tokenTimeoutMs', 'tokenRetransmitMs', 'holdMs', 'joinTimeoutMs', 'consensusTimeoutMs', 'gatherSilenceMs', 'mergeTimeoutMs'] as const) {
    check(Number.isFinite(c[k]) && c[k] >= 1, `${k} must be at least 1 ms`);
  }
  check(c.tokenTimeoutMs > c.tokenRetransmitMs, 'tokenTimeoutMs must exceed tokenRetransmitMs');
  check(c.consensusTimeoutMs >= c.joinTimeoutMs, 'consensusTimeoutMs must be at least joinTimeoutMs');
  check(Number.isInteger(c.windowSize) && c.windowSize >= 1 && c.windowSize <= windowSizeMax, `windowSize must be in 1..${windowSizeMax}`);
  check(Number.isInteger(c.maxMessages) && c.maxMessages >= 1 && c.maxMessages <= c.windowSize, 'maxMessages must be in 1..windowSize');
  check(Number.isInteger(c.failToRecvConst) && c.failToRecvConst >= 1, 'failToRecvConst must be a positive integer');
  check(Number.isInteger(c.seqnoUnchangedConst) && c.seqnoUnchangedConst >= 1, 'seqnoUnchangedConst must be a positive integer');
  check(Number.isInteger(c.missCountConst) && c.missCountConst >= 0, 'missCountConst must be a non-negative integer');
  check(Number.isInteger(c.frameBytesMax) && c.frameBytesMax >= 256 && c.frameBytesMax <= packetBytesMax, `frameBytesMax must be in 256..${packetBytesMax}`);
  check(Number.isInteger(c.messageBytesMax) && c.messageBytesMax >= 1 && c.messageBytesMax <= messageBytesMaxLimit, `messageBytesMax must be in 1..${messageBytesMaxLimit}`);
  check(Number.isInteger(c.sendQueueBytesMax) && c.sendQueueBytesMax >= c.messageBytesMax, 'sendQueueBytesMax must be at least messageBytesMax');
  assert(nodeCountMax > 0 && groupNameBytesMax > 0, 'bounds are positive');
}

function validateClusterNodeIds(nodeId: NodeId, ids: readonly NodeId[]): void {
  check(Array.isArray(ids) && ids.length >= 1 && ids.length <= nodeCountMax, `clusterNodeIds must list 1..${nodeCountMax} node ids`);
  for (const id of ids) check(Number.isInteger(id) && id >= 1 && id <= 0xffffffff, `clusterNodeIds: ${id} is not a node id in 1..2^32-1`);
  check(new Set(ids).size === ids.length, 'clusterNodeIds must not repeat an id');
  check(ids.includes(nodeId), `clusterNodeIds must include this node's id ${nodeId}`);
}
