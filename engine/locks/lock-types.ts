/** The lock table's events, host interface, options, counters and dump shapes. */
import type { NodeId } from '../types.js';
import type { LockMessage } from './codec.js';
import type { LockMode } from './modes.js';
import type { PrimaryRule } from './primary.js';

export type LkOp = 'request' | 'grant' | 'convert' | 'release' | 'cancel' | 'deny' | 'purge' | 'revoke' | 'bast' | 'adopt' | 'orphan' | 'reenter';

/** What the table reports, in order; the host writes the trace lines and informs the application. */
export type LockTableEvent =
  | {
      ev: 'lk';
      ls: string;
      res: string;
      op: LkOp;
      owner: string;
      mode?: LockMode;
      fence?: bigint;
      reason?: string;
      /** request / adopt of a lock of an atomic request: the owner id of its first lock. */
      group?: string;
      /** grant by adoption: the orphan taken over. */
      orphan?: string;
      /** reenter: the lock the request was counted on. */
      of?: string;
      /** reenter, release: holds the lock counts after this line. */
      depth?: number;
    }
  /** At the owner's node: the application now holds `mode` (value block when valid). */
  | { ev: 'held'; ls: string; res: string; owner: string; mode: LockMode; fence: bigint; lvb: Uint8Array | null }
  /** At the owner's node: the lock is suspect or gone. */
  | { ev: 'lost'; ls: string; res: string; owner: string; reason: 'transitional' | 'revoked' | 'purged' | 'closed' }
  | { ev: 'barrier'; ls: string; name: string; op: 'enter' | 'complete' | 'fail'; ring: string; gen: number; since: string; node: NodeId; reason?: string }
  /** The table's hash at a point where replicas must agree. */
  | { ev: 'lkstate'; point: 'transitional' | 'regular' | 'sync'; ring: string; hash: string; primary: boolean }
  /** One of this node's own operations was dropped before it reached the table (a cut during a sync). */
  | { ev: 'dropped'; message: LockMessage; reason: string };

export interface LockTableHost {
  event(e: LockTableEvent): void;
  /** Multicast a lock manager message from this node (the sync), agreed order. */
  send(payload: Uint8Array): void;
}

export interface LockTableOptions {
  nodeId: NodeId;
  incarnation: number;
  primaryRule: PrimaryRule;
  /**
   * Report `lk` events of this node's own locks only (default false: every lock's). For a host
   * that acts on its own locks alone and writes no trace: the other members' requests, grants and
   * releases, two thirds of the events on 3 nodes, are then never built. The table, its hash and
   * every other event are the same either way.
   */
  ownLkEventsOnly?: boolean;
}

export interface LockTableCounters {
  opsApplied: number;
  malformed: number;
  /** Messages from a node not in the current configuration (e.g. delivered after its cut). */
  foreignSender: number;
  /** Operations on a lock the table does not hold (released, purged, never existed). */
  unknownLock: number;
  duplicateLock: number;
  lateCancel: number;
  badValueBlock: number;
  barrierOutsider: number;
  syncs: number;
  deadlocks: number;
  droppedInSync: number;
  /** Operations that name an orphan's owner (held by nobody: only adopt and purge apply). */
  orphanOp: number;
}

export interface LockDumpRow {
  owner: string;
  granted: LockMode | null;
  requested: LockMode | null;
  fence: bigint;
  suspect: boolean;
  /** Held by nobody: its node left and the lock was persistent. */
  orphan: boolean;
  /** Holds counted (reentrancy): 1 plus one per re-entry. */
  depth: number;
  /** Owner id of the first lock of the atomic request a waiter belongs to ('' when none). */
  group: string;
  /** Table operations since the lock's last grant (held) or its request (queued). */
  ageOps: number;
}

export interface LockspaceDump {
  name: string;
  lvbBytes: number;
  reentrancyMax: number;
  inSync: boolean;
  canGrant: boolean;
  resources: { name: string; lvbValid: boolean; holders: LockDumpRow[]; converters: LockDumpRow[]; waiters: LockDumpRow[] }[];
  barriers: { name: string; gen: number; expected: NodeId[]; entered: NodeId[] }[];
}
