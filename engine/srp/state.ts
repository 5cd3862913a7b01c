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
import { peerEntriesMax } from '../constants.js';
import { dropReasons } from '../types.js';
import type { FlowControlState } from './flow-control.js';
import type { LeaveProgress } from './leave.js';
import { RingState, type StoredFrame } from './ring-state.js';
import { Timers } from './timers.js';

/** The old ring as it stood at the first Commit entry of a membership change (§7 "Old-ring state"). */
export interface OldRing {
  ring: RingState;
  /** False before this node's first regular configuration: there is nothing to recover then. */
  installed: boolean;
}

/** Recovery progress on the new ring (§3.4 step 3). */
export interface RecoveryProgress {
  /** Old-ring frames this node re-broadcasts, encapsulated, in old-ring seq order. */
  queue: StoredFrame[];
  next: number;
  /**
   * Old-ring seqs some member already placed on the new ring (an encapsulated copy of my old
   * ring received or sent here): every member of the new ring will hold that copy before it
   * installs, so a second copy carries nothing (deviation 29).
   */
  carried: Set<number>;
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
  /** The configured member list (EngineConfig.clusterNodeIds), or null: anyone may take part. */
  readonly clusterMembers: ReadonlySet<NodeId> | null;
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
  /**
   * Ring seqs beyond ringSeqJumpMax (admission.ts): the streak of them under way (first and last
   * arrival, null when none), and the last one taken after the streak lasted, from which the
   * jump is measured too.
   */
  readonly ringSeqJump: { sinceMs: number | null; lastMs: number; base: bigint };

  // ---- Gather (§3.2) -------------------------------------------------------------------------
  procSet: Set<NodeId>;
  failSet: Set<NodeId>;
  consensus: Set<NodeId>;
  /** When each processor was last heard from (any packet it sent), for silence in Gather. */
  readonly lastHeardMs: Map<NodeId, number>;
  /**
   * Each processor's last join: when it arrived (a processor in Gather sends one every join
   * period) and its ring seq (below mine, the sender has not caught up with my ring).
   */
  readonly lastJoin: Map<NodeId, { readonly atMs: number; readonly ringSeq: bigint }>;
  /** This stay in Gather already gave processors behind my ring their one extra consensus period. */
  behindGraceUsed: boolean;
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
  /** Peers whose version skew was reported, with when (bounded like lastHeardMs). */
  readonly versionSkewReported: Map<NodeId, number>;
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
    clusterMembers: config.clusterNodeIds === undefined ? null : new Set(config.clusterNodeIds),
    timers: new Timers(),
    nowMs: 0,
    started: false,

    membership: 'gather',
    ring: new RingState({ rep: self, seq: ringSeq }, []),
    installed: null,
    old: null,
    tokenRingIdSeq: ringSeq,
    ringSeqJump: { sinceMs: null, lastMs: 0, base: 0n },

    procSet: new Set(),
    failSet: new Set(),
    consensus: new Set(),
    lastHeardMs: new Map(),
    lastJoin: new Map(),
    behindGraceUsed: false,
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

    versionSkewReported: new Map(),
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
  const counts = {} as Record<DropReason, number>;
  for (const reason of dropReasons) counts[reason] = 0;
  return counts;
}

/**
 * Record `value` for `peer` in a map keyed by a node id taken from received packets, keeping it
 * within peerEntriesMax: a new peer beyond the cap first prunes entries last touched more than
 * `staleMs` ago, then the least recently touched one. Re-inserting keeps the map in touch order.
 */
export function touchPeer<V>(map: Map<NodeId, V>, peer: NodeId, value: V, isStale: (v: V) => boolean): void {
  if (map.has(peer)) {
    map.delete(peer);
  } else if (map.size >= peerEntriesMax) {
    for (const [id, v] of map) if (isStale(v)) map.delete(id);
    while (map.size >= peerEntriesMax) {
      const oldest = map.keys().next().value as NodeId;
      map.delete(oldest);
    }
  }
  map.set(peer, value);
}
