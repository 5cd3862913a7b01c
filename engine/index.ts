/**
 * What `import ... from 'totem-evs/engine'` gives: the protocol as a pure state machine, for hosts
 * that bring their own transport and clock (the simulator, a benchmark, an embedding).
 *
 * - TotemNode: a whole node in one thread (ordering, membership and the group layer);
 *   RingNode: its ring side alone (Srp + Packer + the group announce rule), what the runtime's
 *   token worker runs. engine/README.md gives the driving contract.
 * - The packet codec (encodePacket / decodePacket never throws on bad input).
 * - The configuration: defaults, resolution and validation, and the derived timers.
 * - The bounds and wire constants a host needs, and the shared types.
 */
export { TotemNode } from './node.js';
export { RingNode } from './ring-node.js';
export type { Srp } from './srp/srp.js';
export type { AssemblerStats } from './groups/assembler.js';

export { decodePacket, encodePacket, mcastPayloadBytesMax, peekHeader } from './wire/codec.js';

export {
  deriveGatherSilenceMs,
  deriveMaxMessages,
  engineDefaults,
  resolveEngineConfig,
  storedRingSeqProblem,
  validateEngineConfig,
} from './config.js';
export type { EngineConfig, EngineConfigInput } from './config.js';

export {
  groupNameBytesMax,
  ipv4UdpHeaderBytes,
  ipv6UdpHeaderBytes,
  messageBytesMaxLimit,
  netMtuMin,
  nodeCountMax,
  packetBytesMax,
  peerEntriesMax,
  ringSeqAcceptMax,
  ringSeqHeadroom,
  ringSeqStartMax,
  ringSeqJumpMax,
  ringSeqMax,
  rtrEntriesMax,
  sortQueueItemsMax,
  windowSizeMax,
} from './constants.js';
export { dropReasons, ORDER_AGREED, ORDER_SAFE, PacketType, PROTOCOL_VERSION, ringIdEquals, ringIdToString } from './types.js';
export { AssertionError } from './assert.js';

export type {
  AppDelivery,
  CommitMemberEntry,
  CommitTokenPacket,
  ConfigurationCause,
  ConfigurationChange,
  ConfigurationKind,
  DecodeResult,
  DeliveredFrame,
  DropReason,
  EngineStats,
  FrameSource,
  GroupEvent,
  GroupEventCause,
  Order,
  JoinPacket,
  LogLevel,
  McastPacket,
  MembershipState,
  MergeDetectPacket,
  NodeHost,
  NodeId,
  Packet,
  PacketTypeName,
  RingId,
  RtrEntry,
  SrpHost,
  TokenHoldCancelPacket,
  TokenPacket,
} from './types.js';

// The lock manager's pure part (engine/locks): the replicated lock table the simulator and api/locks drive.
export {
  decodeLockMessage,
  decodeLockMessages,
  encodeLockMessage,
  fenceRingShift,
  isLockMode,
  isPrimaryComponent,
  isUpConversion,
  LockTable,
  LockBatchWriter,
  lockModes,
  lockTraceLine,
  majorityOf,
  modesCompatible,
  valueBlockBytesDefault,
} from './locks/index.js';
export type { LockMessage, LockMode, LockTableEvent, LockTableHost, LockTableOptions, LockspaceDump, PrimaryRule } from './locks/index.js';
