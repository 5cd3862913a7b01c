/**
 * The one state object of the Totem SRP state machine: every per-processor variable evs-spec.md
 * names in §2 (ordering), §3 (membership) and §7 ("Old-ring state"), grouped by the part of the
 * protocol that owns it. Every step of the protocol is a free function over this object in the
 * file of its spec section (ordering.ts, retransmission.ts, delivery.ts, foreign-rings.ts,
 * gather.ts, gather-silence.ts, commit.ts, recovery.ts); srp.ts is the facade the host drives, and
 * invariants.ts states what must hold of the whole between two inputs.
 *
 * One object rather than one per phase because the phases share most of it: a token visit reads
 * the membership state, Gather starts from the installed ring, Commit saves the ring the visits
 * filled, and installation resets the delivery bounds.
 */
import type { EngineConfig } from '../config.js';
import type {
  ConfigurationCause,
  DropReason,
  FrameSource,
  LogLevel,
  MembershipState,
  NodeId,
  SrpHost,
} from '../types.js';
import type { FlowControlState } from './flow-control.js';
import type { LeaveProgress } from './leave.js';
import { RingState } from './ring-state.js';
import { Timers } from './timers.js';

/** The old ring as it stood at the first Commit entry of a membership change (§7 "Old-ring state"). */
export interface OldRing {
  ring: RingState;
  /** False before this node's first regular configuration: there is nothing to recover then. */
  installed: boolean;
}

/** Recovery progress on the new ring (§3.4 step 3). */
export interface RecoveryProgress {
  /** Encoded old-ring frames this node re-broadcasts, encapsulated. */
  queue: Uint8Array[];
  next: number;
  iSetRetransFlg: boolean;
  retransFlgCount: number;
  installSeq: number;
  rotationCounter: number;
  firstTokenSent: boolean;
}

/** An encoded token (or commit token) and where it goes: what a retransmission resends. */
export interface TokenCopy {
  bytes: Uint8Array;
  to: NodeId;
}

/** The counters `Srp.stats()` reports (engine/README.md "Statistics"). */
export interface SrpCounters {
  tokenRotations: number;
  tokensReceived: number;
  framesBroadcast: number;
  framesDelivered: number;
  retransmitsSent: number;
  retransmitsRequested: number;
  tokenRetransmits: number;
  gatherEntries: number;
  commitEntries: number;
  recoveryEntries: number;
  configurationsInstalled: number;
}

export interface SrpState {
  // ---- Surroundings: who I am, what I was configured with, where effects go ----------------
  readonly self: NodeId;
  readonly config: EngineConfig;
  readonly host: SrpHost;
  /** Where new frames come from while I hold the token in Operational. */
  readonly source: FrameSource;
  readonly timers: Timers;
  /** The time of the input being handled; never goes backwards. */
  nowMs: number;
  started: boolean;

  // ---- Rings (§3.1, §7) ----------------------------------------------------------------------
  membership: MembershipState;
  /** The ring my ring id names: the installed one in Operational, the attempted one after Commit. */
  ring: RingState;
  /** The last installed regular configuration, or null before the first. */
  installed: RingState | null;
  old: OldRing | null;
  /** The largest ring seq this node knows of (corosync token_ring_id_seq). */
  tokenRingIdSeq: bigint;

  // ---- Gather (§3.2) -------------------------------------------------------------------------
  procSet: Set<NodeId>;
  failSet: Set<NodeId>;
  consensus: Set<NodeId>;
  /** When each processor was last heard from (any packet it sent), for silence in Gather. */
  readonly lastHeardMs: Map<NodeId, number>;
  /** When each processor's last join arrived: a processor in Gather sends one every join period. */
  readonly lastJoinMs: Map<NodeId, number>;
  /** When this stay in Gather began (entered from another state), or null outside Gather. */
  gatherSinceMs: number | null;
  failedToRecv: boolean;
  /** What started the membership change under way (reported with its configurations). */
  changeCause: ConfigurationCause;
  changeNodes: Set<NodeId>;
  changeUnderWay: boolean;
  /** This node's own leave (leave.ts), or null while it stays. */
  leave: LeaveProgress | null;

  // ---- Token timing: rotation, token copy resend (§2.5, deviation 16) -------------------------
  /** The last token rotation seen here: ms between my last two accepted tokens of one ring. */
  lastRotationMs: number;
  /**
   * Recent rotation time, a moving average (an eighth per token) in which one rotation counts
   * for at most four times the average: a rotation slowed by a lost token must not lengthen the
   * wait before the next resend much (that would feed on itself under steady loss), while a ring
   * that really slows down (load, a hold) raises it within a few rotations.
   */
  rotationEstimateMs: number;
  /** The wait before the next resend of my token copy; doubles after each resend. */
  tokenRetransmitWaitMs: number;
  lastTokenAtMs: number | null;

  // ---- Commit and Recovery (§3.3, §3.4) ------------------------------------------------------
  commitCopy: TokenCopy | null;
  newMembers: NodeId[];
  transMembers: NodeId[];
  highRingDelivered: number;
  recovery: RecoveryProgress | null;

  // ---- Ordering (§2.2, §2.3, §2.4) -----------------------------------------------------------
  /** token_seq of my last accepted token on this ring; null after entering Recovery (§2.1). */
  myTokenSeq: number | null;
  lastTokenSeqField: number | null;
  unchangedCount: number;
  /** token.aru as received on my previous accepted visit on this ring (a_prev), or null. */
  myLastAru: number | null;
  /** Safe messages at or below this seq may be delivered (min of the last two visits' aru), or null. */
  safeBound: number | null;
  myAruCount: number;
  readonly fcc: FlowControlState;
  tokenCopy: TokenCopy | null;
  heldToken: TokenCopy | null;
  /** Visits on which each missing seq was seen missing (§2.2 step 8, miss_count_const). */
  readonly missCount: Map<number, number>;

  // ---- Diagnostics ---------------------------------------------------------------------------
  readonly versionSkewReported: Set<NodeId>;
  readonly counters: SrpCounters;
  readonly dropped: Record<DropReason, number>;
}

export function createSrpState(config: EngineConfig, host: SrpHost, source: FrameSource): SrpState {
  const self = config.nodeId;
  // corosync loads the stored seq and adds 1 so that a restarted lowest-id node's singleton ring
  // id cannot repeat one it used before (§1).
  const ringSeq = config.ringSeqInitial + 1n;
  return {
    self,
    config,
    host,
    source,
    timers: new Timers(),
    nowMs: 0,
    started: false,

    membership: 'gather',
    ring: new RingState({ rep: self, seq: ringSeq }, []),
    installed: null,
    old: null,
    tokenRingIdSeq: ringSeq,

    procSet: new Set(),
    failSet: new Set(),
    consensus: new Set(),
    lastHeardMs: new Map(),
    lastJoinMs: new Map(),
    gatherSinceMs: null,
    failedToRecv: false,
    changeCause: 'start',
    changeNodes: new Set(),
    changeUnderWay: false,
    leave: null,

    lastRotationMs: 0,
    rotationEstimateMs: 0,
    tokenRetransmitWaitMs: 0,
    lastTokenAtMs: null,

    commitCopy: null,
    newMembers: [],
    transMembers: [],
    highRingDelivered: 0,
    recovery: null,

    myTokenSeq: null,
    lastTokenSeqField: null,
    unchangedCount: 0,
    myLastAru: null,
    safeBound: null,
    myAruCount: 0,
    fcc: { sentPrev: 0, backlogPrev: 0 },
    tokenCopy: null,
    heldToken: null,
    missCount: new Map(),

    versionSkewReported: new Set(),
    counters: {
      tokenRotations: 0,
      tokensReceived: 0,
      framesBroadcast: 0,
      framesDelivered: 0,
      retransmitsSent: 0,
      retransmitsRequested: 0,
      tokenRetransmits: 0,
      gatherEntries: 0,
      commitEntries: 0,
      recoveryEntries: 0,
      configurationsInstalled: 0,
    },
    dropped: emptyDropCounts(),
  };
}

/** Members of the installed regular configuration (none before the first). */
export function installedMembers(s: SrpState): readonly NodeId[] {
  return s.installed?.members ?? [];
}

export function drop(s: SrpState, reason: DropReason): void {
  s.dropped[reason] += 1;
}

export function log(s: SrpState, level: LogLevel, message: string): void {
  s.host.log?.(level, `node ${s.self}: ${message}`);
}

function emptyDropCounts(): Record<DropReason, number> {
  return {
    truncated: 0,
    malformed: 0,
    oversized: 0,
    version: 0,
    'unknown-type': 0,
    'foreign-ring': 0,
    duplicate: 0,
    state: 0,
  };
}
