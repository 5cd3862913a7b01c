/**
 * Shared vocabulary of the engine: node and ring identifiers, delivery guarantees, the decoded
 * form of every Totem packet, and the events the engine reports to its host.
 *
 * Names follow the Totem SRP paper and evs-spec.md: `aru` is "all received up to", `rtr` the
 * retransmission request list, `fcc` the flow-control count.
 */

/** A processor id: uint32, never 0 (0 means "nobody" in `aruAddr` and "everyone" as a destination). */
export type NodeId = number;

/** Ring id: representative (smallest member id) and a 64-bit ring sequence that never repeats. */
export interface RingId {
  readonly rep: NodeId;
  readonly seq: bigint;
}

/** Delivery order of a message (its guarantee): agreed (total order) or safe (total order + stable at every member). */
export type Order = 'agreed' | 'safe';

/** Wire values of the delivery order. */
export const ORDER_AGREED = 0;
export const ORDER_SAFE = 1;

/**
 * Protocol version carried in every packet header. A packet of another version is dropped.
 * 2: every member announces at every regular configuration, ending with an empty announce entry
 * (version 1 refused an empty announce and announced only after a join).
 */
export const PROTOCOL_VERSION = 2;

/** Packet types, as on the wire. */
export const PacketType = {
  token: 1,
  mcast: 2,
  join: 3,
  commitToken: 4,
  mergeDetect: 5,
  tokenHoldCancel: 6,
} as const;
export type PacketTypeName = keyof typeof PacketType;

/** One retransmission request on the token: a message seq of a given ring. */
export interface RtrEntry {
  ringId: RingId;
  seq: number;
}

/** The regular token (evs-spec §2.1). All seq-like fields are uint32 compared with wrap-around. */
export interface TokenPacket {
  type: 'token';
  /** The processor that sent this packet. */
  sender: NodeId;
  ringId: RingId;
  tokenSeq: number;
  seq: number;
  aru: number;
  aruAddr: NodeId;
  fcc: number;
  backlog: number;
  retransFlg: boolean;
  rtr: RtrEntry[];
}

/**
 * A multicast frame. `originator` is the processor that first broadcast it; for an encapsulated
 * recovery re-broadcast, the outer frame's originator is the re-broadcaster and `inner` holds the
 * original old-ring frame (evs-spec §2.1).
 */
export interface McastPacket {
  type: 'mcast';
  sender: NodeId;
  ringId: RingId;
  seq: number;
  originator: NodeId;
  order: Order;
  /** Opaque frame payload (the group layer's packed entries). Empty when `inner` is set. */
  payload: Uint8Array;
  /** Present only on an encapsulated recovery re-broadcast. */
  inner?: McastPacket;
}

/** A join message of the Gather phase (evs-spec §3.2). Sets are sorted ascending, no duplicates. */
export interface JoinPacket {
  type: 'join';
  sender: NodeId;
  procSet: NodeId[];
  failSet: NodeId[];
  ringSeq: bigint;
}

/** One member's entry in the commit token (evs-spec §3.3). */
export interface CommitMemberEntry {
  nodeId: NodeId;
  oldRingId: RingId;
  aru: number;
  highDelivered: number;
  receivedFlg: boolean;
  /** False until that member has filled its entry on the first rotation. */
  filled: boolean;
}

/** The commit token (evs-spec §3.3). `members` sorted by id; `membIndex` counts visits. */
export interface CommitTokenPacket {
  type: 'commitToken';
  sender: NodeId;
  ringId: RingId;
  membIndex: number;
  members: CommitMemberEntry[];
}

export interface MergeDetectPacket {
  type: 'mergeDetect';
  sender: NodeId;
  ringId: RingId;
}

export interface TokenHoldCancelPacket {
  type: 'tokenHoldCancel';
  sender: NodeId;
  ringId: RingId;
}

export type Packet =
  | TokenPacket
  | McastPacket
  | JoinPacket
  | CommitTokenPacket
  | MergeDetectPacket
  | TokenHoldCancelPacket;

/**
 * Why a received packet was dropped: by the decoder (truncated … unknown-type), by admission at the
 * engine's entry (ring-seq-bound … conflicting-frame, engine/srp/admission.ts), or by the protocol
 * (foreign-ring, duplicate, state).
 */
export type DropReason =
  | 'truncated'
  | 'malformed'
  | 'oversized'
  | 'version'
  | 'unknown-type'
  | 'foreign-ring'
  | 'duplicate'
  | 'state'
  /** A ring seq above ringSeqAcceptMax, or more than ringSeqJumpMax above my own ring's (deviation 19). */
  | 'ring-seq-bound'
  /** A sender, representative, originator or set member outside `clusterNodeIds`. */
  | 'not-member'
  /** A join whose sets contradict each other or would grow my sets past nodeCountMax. */
  | 'bad-set'
  /** A commit token whose entries contradict each other, its index, its sender or my own entry. */
  | 'bad-commit-token'
  /** A regular token whose fields contradict what its ring already broadcast. */
  | 'bad-token'
  /** A regular token from a node that is not my predecessor on the ring. */
  | 'not-predecessor'
  /** A frame whose seq I already hold with other content. */
  | 'conflicting-frame';

/** Every drop reason, in the order statistics list them. */
export const dropReasons: readonly DropReason[] = [
  'truncated', 'malformed', 'oversized', 'version', 'unknown-type', 'foreign-ring', 'duplicate', 'state',
  'ring-seq-bound', 'not-member', 'bad-set', 'bad-commit-token', 'bad-token', 'not-predecessor', 'conflicting-frame',
];

/** Result of decoding: the packet, or why it was refused. Decoding never throws. */
export type DecodeResult =
  | { ok: true; packet: Packet }
  | { ok: false; reason: DropReason; version?: number; sender?: NodeId };

/** Membership states (evs-spec §3.1). */
export type MembershipState = 'operational' | 'gather' | 'commit' | 'recovery';

/** Why the membership changed (reported with every configuration). */
export type ConfigurationCause =
  | 'start'
  | 'token-loss'
  | 'join'
  | 'merge'
  | 'failure-to-receive'
  | 'consensus-timeout'
  /** A member announced that it leaves (its close()): no token-loss wait. */
  | 'leave';

export type ConfigurationKind = 'regular' | 'transitional';

/** A configuration the engine installs (EVS regular or transitional). Member lists sorted ascending. */
export interface ConfigurationChange {
  kind: ConfigurationKind;
  /** For a transitional configuration, the ring id of the regular configuration it leads to. */
  ringId: RingId;
  members: NodeId[];
  /** Regular: members of this configuration not in the transitional one before it. Transitional: []. */
  joined: NodeId[];
  /** Transitional: members of the previous regular configuration not in this one. Regular: []. */
  left: NodeId[];
  cause: ConfigurationCause;
  /** Nodes whose behaviour triggered the change (the silent ones, the joiners, the merging ring). */
  causeNodes: NodeId[];
}

/** A frame delivered by the ordering layer, in total order, to the group layer. */
export interface DeliveredFrame {
  ringId: RingId;
  seq: number;
  originator: NodeId;
  order: Order;
  payload: Uint8Array;
  /** True when delivered in a transitional configuration. */
  transitional: boolean;
}

/** Render a ring id as the trace contract writes it: "<rep>:<seq>". */
export function ringIdToString(ringId: RingId): string {
  return `${ringId.rep}:${ringId.seq}`;
}

export function ringIdEquals(a: RingId, b: RingId): boolean {
  return a.rep === b.rep && a.seq === b.seq;
}

/** Where the ordering layer takes new frames from while it holds the token in Operational. */
export interface FrameSource {
  /** Frames waiting to be broadcast; feeds the token's backlog (flow control). */
  backlogFrames(): number;
  /** The next frame to broadcast, or null when nothing waits. */
  nextFrame(): { order: Order; payload: Uint8Array } | null;
  /**
   * A new regular configuration was installed. A fragmented message only partly broadcast on the
   * old ring is restarted from its first fragment, so that it is delivered whole in one configuration.
   */
  onRegularConfiguration(ringId: RingId): void;
}

/** What the ordering layer asks of its host. Every call is synchronous; nothing is retained. */
export interface SrpHost {
  /**
   * Send a packet. `to` is a node id (the token to the next member, a commit token), or 0 for every
   * processor of the cluster, the sender itself included (own multicasts must loop back, evs-spec §7),
   * unless `selfCopy` is false: the engine already holds that packet (its own data frames, stored
   * when broadcast, and their retransmissions), so a copy looped back would only be dropped as a
   * duplicate; the host may skip it, and a host that loops it back anyway stays correct.
   * The bytes are not reused by the engine after the call returns.
   */
  send(to: NodeId, bytes: Uint8Array, selfCopy: boolean): void;
  /** A frame, in total order. */
  deliverFrame(frame: DeliveredFrame): void;
  /** A configuration, at its exact place among the deliveries. */
  configuration(change: ConfigurationChange): void;
  /** Persist the highest ring seq; called before any packet announcing that ring leaves the node. */
  storeRingSeq(seq: bigint): void;
  /** Diagnostics, one line per protocol event (never per message). */
  log?(level: LogLevel, message: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One application message delivered by the ring at this node (whether or not a local member of its group exists). */
export interface AppDelivery {
  sender: NodeId;
  /** The sender's incarnation (its start time in ms, strictly growing across restarts). */
  incarnation: number;
  /** Per-incarnation counter, from 1. With sender and incarnation it forms the message id. */
  counter: number;
  group: string;
  order: Order;
  payload: Uint8Array;
  /** Ring id of the configuration it is delivered in (a transitional one carries the next regular ring's id). */
  ringId: RingId;
  transitional: boolean;
  /** True when this node is a member of `group` at the moment of delivery (the application sees it). */
  local: boolean;
}

/**
 * 'join' / 'leave': a member's ordered join or leave. 'configuration': the ring's membership
 * changed. 'merge': the same, and the regular configuration brought members from another ring
 * (or follows one whose views had not settled), whose view of the group was not this side's.
 */
export type GroupEventCause = 'join' | 'leave' | 'configuration' | 'merge';

/** A change of one group's membership, derived from ring configurations plus ordered joins and leaves. */
export interface GroupEvent {
  group: string;
  kind: ConfigurationKind;
  ringId: RingId;
  members: NodeId[];
  joined: NodeId[];
  left: NodeId[];
  cause: GroupEventCause;
}

/** What a whole node (ordering + group layer in one thread) asks of its host. */
export interface NodeHost {
  /** As SrpHost.send: `to` a node id, or 0 for every processor including this one unless !selfCopy. */
  send(to: NodeId, bytes: Uint8Array, selfCopy: boolean): void;
  /** Persist the highest ring seq before any packet announcing that ring leaves the node. */
  storeRingSeq(seq: bigint): void;
  /** Every application message the ring delivers here, in total order (see AppDelivery.local). */
  deliver(delivery: AppDelivery): void;
  /** Every configuration installed, at its exact place among the deliveries. */
  configuration(change: ConfigurationChange): void;
  /** Per-group membership changes. */
  groupEvent?(event: GroupEvent): void;
  log?(level: LogLevel, message: string): void;
}

/** Counters the engine keeps (evs-spec: statistics). All monotonically increasing except the state fields. */
export interface EngineStats {
  tokenRotations: number;
  tokensReceived: number;
  framesBroadcast: number;
  framesDelivered: number;
  retransmitsSent: number;
  retransmitsRequested: number;
  tokenRetransmits: number;
  packetsDropped: Record<DropReason, number>;
  gatherEntries: number;
  commitEntries: number;
  recoveryEntries: number;
  configurationsInstalled: number;
  state: MembershipState;
  ringId: RingId;
  members: NodeId[];
}
