/**
 * What `import ... from 'totem-evs'` gives: createNode, the node and group classes' types, the
 * error class and its codes, cluster key files, the options, the logger interface and the event types.
 * docs/api.md describes every call, event and error code.
 */
export { createNode, drainTimeoutMsDefault, sendsWaitingMax } from './node.js';
export type { CloseOptions, CreateNodeOptions, EvsNode, JoinOptions, NodeState, NodeStats, PrimaryOption } from './node.js';
export type { Group, GroupState, IterateOptions, LeaveOptions, SendOptions, TrySendOptions } from './group.js';
export { iteratorBufferWarnItems, relayHoldWarnItems } from './events.js';
export type {
  ConfigurationCause,
  ConfigurationKind,
  Encoding,
  GroupEventCause,
  GroupEvents,
  GroupMembershipEvent,
  GroupMessage,
  MembersChange,
  NodeConfiguration,
  NodeEvents,
  NodeId,
  Order,
  RingId,
  RingState,
} from './events.js';
export { TotemError, totemErrorCodes } from '../workers/errors.js';
export type { TotemErrorCode, TotemErrorDetails, TotemErrorJSON } from '../workers/errors.js';
export { generateKeyFile, readKeyFile } from '../workers/net/key-file.js';
export type { KeyOption, MemberOption, NodeOptions, TransportKind } from './options.js';
export type { LogFields, Logger, LogLevel } from '../workers/logger.js';
export type { RuntimeStats, RingOccupancy } from '../workers/runtime-types.js';
export { LockHandle, LockManager, Lockspace, lockGroupDefault, openLockManager } from './locks/lock-manager.js';
export type { LockManagerEvents, LockManagerOptions, LockOptions, LockspaceOptions } from './locks/lock-manager.js';
export type { LockLatencies, LockLatencyName } from './locks/lock-latency.js';
export { LockError, lockErrorCodes } from './locks/errors.js';
export type { LockErrorCode } from './locks/errors.js';
export type { LockMode } from '../engine/locks/modes.js';
