/** The lock manager's pure part: modes, primary rule, message codec, the replicated lock table. */
export { isLockMode, isUpConversion, lockModes, modesCompatible, writesValueBlock } from './modes.js';
export type { LockMode } from './modes.js';
export { isPrimaryComponent, majorityOf } from './primary.js';
export type { PrimaryRule } from './primary.js';
export { decodeLockMessage, decodeLockMessages, encodeLockMessage, isBatchable, LockBatchWriter, lockBatchBytesMax, lockBatchMessagesMax, valueBlockBytesMax } from './codec.js';
export type { BatchableLockMessage, LockBatchDecodeResult, LockFlags, LockMessage, LockDecodeResult } from './codec.js';
export { LockTable, fenceRingShift, valueBlockBytesDefault } from './lock-table.js';
export type { LkOp, LockDumpRow, LockspaceDump, LockTableCounters, LockTableEvent, LockTableHost, LockTableOptions } from './lock-table.js';
export { LockLines, lockTraceLine } from './trace-lines.js';
export { cutConfiguration, groupCuts } from './group-cuts.js';
export type { GroupCut } from './group-cuts.js';
