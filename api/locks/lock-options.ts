/**
 * What an application passes to the lock manager and hears from it: its options (openLockManager),
 * a lockspace's and a request's options, its events; and how options become the table's flags and
 * the primary rule.
 */
import type { NodeId } from '../events.js';
import { reentrancyLimitMax, resourceNameBytesMax, valueBlockBytesMax, type LockFlags } from '../../engine/locks/codec.js';
import { valueBlockBytesDefault, type LockTableEvent } from '../../engine/locks/lock-table.js';
import { isLockMode, type LockMode } from '../../engine/locks/modes.js';
import type { LockHandle } from './handles.js';
import type { PrimaryRule } from '../../engine/locks/primary.js';
import { LockError } from './errors.js';

export interface LockManagerOptions {
  /** The group the lock manager's messages go to (default `totem-locks`). */
  group?: string;
  /**
   * The primary rule: the configured nodes' ids (one vote each) or their votes, by node id;
   * a configuration is primary when its members hold more than half of all votes. Default: the
   * node's rule (createNode's `primary` option; by default a majority of the configured members),
   * applied to the lock manager's members.
   */
  votes?: readonly NodeId[] | Readonly<Record<number, number>>;
  /** Or a rule of the application's own (it then owns "at most one primary at a time"). */
  isPrimary?: (members: readonly NodeId[]) => boolean;
  /** Called for every table event (the trace writer, a metrics hook). */
  onTableEvent?: (event: LockTableEvent) => void;
}

export interface LockOptions {
  signal?: AbortSignal;
  /** Stop waiting after this long: a cancel is multicast; rejects TOTEM_ERR_LOCK_TIMEOUT unless granted first. */
  timeoutMs?: number;
  /** Try-lock: reject TOTEM_ERR_LOCK_WOULD_BLOCK instead of waiting. */
  noQueue?: boolean;
  /** With noQueue: send blocking notices to the holders in the way first. */
  notifyOnNoQueue?: boolean;
  /** Reject TOTEM_ERR_LOCK_NOT_PRIMARY at once when this configuration cannot grant (default: wait). */
  failIfNotPrimary?: boolean;
  /** Holder id (>= 1) for deadlock detection across resources: locks of one holder wait together. */
  holder?: number;
  /** Persistent: when this node leaves, the lock stays as an orphan held by nobody (adopt, purgeOrphans). */
  persistent?: boolean;
  /** DLM HEADQUE: queue at the head of the wait (or convert) queue instead of the tail. */
  headQueue?: boolean;
  /** DLM NOORDER: grant as soon as compatible with the granted modes, whatever waits before. */
  noOrder?: boolean;
}

/** The error a bad mode argument gets; null for a mode. */
export function modeError(mode: unknown): LockError | null {
  return isLockMode(mode) ? null : new LockError('TOTEM_ERR_LOCK_INVALID', `mode must be one of NL CR CW PR PW EX, got ${String(mode)}`);
}

const textEncoder = new TextEncoder();

/** Longer than resourceNameBytesMax in UTF-8; only names that might be are encoded (a UTF-16 unit is at most 3 bytes). */
export function resourceNameTooLong(name: string): boolean {
  return name.length * 3 > resourceNameBytesMax && textEncoder.encode(name).length > resourceNameBytesMax;
}

export function flagsOf(options: LockOptions): LockFlags {
  return {
    noQueue: options.noQueue === true,
    notifyOnNoQueue: options.notifyOnNoQueue === true,
    failIfNotPrimary: options.failIfNotPrimary === true,
    persistent: options.persistent === true,
    headQueue: options.headQueue === true,
    noOrder: options.noOrder === true,
  };
}

export function primaryRuleOf(options: LockManagerOptions, nodeRule: PrimaryRule): PrimaryRule {
  if (options.isPrimary !== undefined) {
    if (typeof options.isPrimary !== 'function') throw new LockError('TOTEM_ERR_LOCK_INVALID', 'isPrimary must be a function');
    return { kind: 'function', isPrimary: options.isPrimary };
  }
  const votes = new Map<NodeId, number>();
  if (Array.isArray(options.votes)) for (const id of options.votes as readonly NodeId[]) votes.set(id, 1);
  else if (options.votes !== undefined) for (const [id, v] of Object.entries(options.votes)) votes.set(Number(id), v);
  for (const [id, v] of votes) {
    if (!Number.isInteger(id) || id <= 0 || !Number.isFinite(v) || v < 0) throw new LockError('TOTEM_ERR_LOCK_INVALID', `bad vote ${v} for node ${id}`);
  }
  if (options.votes === undefined) return nodeRule;
  if (votes.size === 0) throw new LockError('TOTEM_ERR_LOCK_INVALID', 'no configured votes: pass votes (the node ids of the cluster, or votes by node id), isPrimary, or neither (the node\'s rule)');
  return { kind: 'majority', votes };
}


export interface LockspaceOptions {
  /** Value block size in bytes (default 32). */
  lvbBytes?: number;
  /** Holds one lock may count by re-entry; 0, the default, turns reentrancy off. */
  reentrancyMax?: number;
}

export function lockspaceOptionsOf(options: LockspaceOptions): { lvbBytes: number; reentrancyMax: number } {
  const lvbBytes = options.lvbBytes ?? valueBlockBytesDefault;
  if (!Number.isInteger(lvbBytes) || lvbBytes < 0 || lvbBytes > valueBlockBytesMax) {
    throw new LockError('TOTEM_ERR_LOCK_INVALID', `lvbBytes must be an integer in 0..${valueBlockBytesMax}`);
  }
  const reentrancyMax = options.reentrancyMax ?? 0;
  if (!Number.isInteger(reentrancyMax) || reentrancyMax < 0 || reentrancyMax > reentrancyLimitMax) {
    throw new LockError('TOTEM_ERR_LOCK_INVALID', `reentrancyMax must be an integer in 0..${reentrancyLimitMax}`);
  }
  return { lvbBytes, reentrancyMax };
}

export interface LockManagerEvents {
  /** This node's view of whether its configuration is primary (may grant) changed. */
  primary: [primary: boolean];
  /** A request for `mode` waits on this node's lock (once per blocked mode). */
  blocking: [handle: LockHandle, mode: LockMode];
  /** A lock of this node became suspect ('transitional') or was taken away ('revoked', 'purged'). */
  lost: [handle: LockHandle, reason: string];
}
