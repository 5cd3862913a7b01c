/**
 * What the application holds of the lock manager: a lockspace (requests and barriers by name) and
 * a lock handle (mode, fencing token, value block, the signal that tells a lost lock, convert and
 * unlock). Both hand their work to the LockManager (lock-manager.ts).
 */
import { EventEmitter } from 'node:events';
import type { NodeId } from '../events.js';
import type { LockMode } from '../../engine/locks/modes.js';
import { LockError } from './errors.js';
import { kAdopt, kBarrier, kConvert, kDepth, kHeld, kLockMany, kLost, kPurgeOrphans, kRequest, kUnlock } from './internal.js';
import type { LockManager, LockOptions } from './lock-manager.js';

export class Lockspace {
  /** @internal */
  constructor(
    private readonly manager: LockManager,
    readonly name: string,
    readonly lvbBytes: number,
    readonly reentrancyMax = 0,
  ) {}

  /**
   * Acquire `resource` in `mode`: resolves when granted, on every member at the same point. With
   * reentrancy on (`reentrancyMax`) and a `holder`, a request for a resource that holder holds in
   * a mode covering `mode` resolves at once with the same handle, one more hold counted.
   */
  lock(resource: string, mode: LockMode, options: LockOptions = {}): Promise<LockHandle> {
    return this.manager[kRequest](this, resource, mode, options);
  }

  /**
   * Acquire several resources atomically: all are granted together at one point of the stream, or
   * the request ends for all alike (denied, timed out, cancelled). Handles in the order given.
   */
  lockMany(items: readonly { resource: string; mode: LockMode }[], options: LockOptions = {}): Promise<LockHandle[]> {
    return this.manager[kLockMany](this, items, options);
  }

  /** Take over an orphan of `mode` on `resource` (the first, or the one `orphan` names) with a new fencing token. */
  adopt(resource: string, mode: LockMode, options: { orphan?: string; holder?: number } = {}): Promise<LockHandle> {
    return this.manager[kAdopt](this, resource, mode, options);
  }

  /** Remove orphans: of `resource` (default: every resource of the lockspace), or only the one `orphan` names. */
  purgeOrphans(options: { resource?: string; orphan?: string } = {}): void {
    this.manager[kPurgeOrphans](this, options);
  }

  /** Completes on every member at the same point once all have entered (default: the current members). */
  barrier(name: string, options: { members?: readonly NodeId[]; signal?: AbortSignal } = {}): Promise<void> {
    return this.manager[kBarrier](this, name, options.members ?? null, options.signal);
  }
}

export class LockHandle extends EventEmitter<{ blocking: [mode: LockMode] }> {
  private modeNow: LockMode = 'NL';
  private fence = 0n;
  private lvb: Uint8Array | null = null;
  /**
   * Made when `signal` is first read: most handles are released without anyone listening, and an
   * abort (its reason an Error with a stack, its event) costs more than the rest of a release.
   */
  private controller: AbortController | null = null;
  /** The reason of the first loss, for a signal read after it. */
  private lostReason: string | null = null;
  private gone: string | null = null;
  private holds = 1;

  /** @internal */
  constructor(
    private readonly manager: LockManager,
    readonly lockspace: Lockspace,
    readonly resource: string,
    readonly counter: number,
    /** "<node>:<incarnation>:<counter>": the lock's id, as the trace writes it. */
    readonly id: string,
  ) {
    super();
  }

  get mode(): LockMode {
    return this.modeNow;
  }

  /** Holds counted on this lock (1, plus one per re-entry); each unlock() releases one. */
  get depth(): number {
    return this.holds;
  }

  /** @internal */
  [kDepth](depth: number): void {
    this.holds = depth;
  }

  /** The fencing token of the last grant or up-conversion: pass it to the resource (docs/locks.md). */
  get fencingToken(): bigint {
    return this.fence;
  }

  /** The value block as read at the last grant; null when not valid (a PW/EX holder was lost). */
  get valueBlock(): Uint8Array | null {
    return this.lvb;
  }

  /** Aborts when the lock becomes suspect (reason TOTEM_ERR_LOCK_SUSPECT), is revoked, purged or released. */
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.lostReason !== null) this.abort(this.lostReason);
    }
    return this.controller.signal;
  }

  /** Convert in place: down at once, up when compatible (with a new fencing token). */
  convert(mode: LockMode, options: LockOptions & { valueBlock?: Uint8Array } = {}): Promise<LockHandle> {
    if (this.gone !== null) return Promise.reject(new LockError('TOTEM_ERR_LOCK_RELEASED', `the lock is ${this.gone}`));
    return this.manager[kConvert](this, mode, options);
  }

  /** Release; a PW/EX holder may write the value block (exactly lvbBytes). */
  unlock(options: { valueBlock?: Uint8Array } = {}): Promise<void> {
    if (this.gone !== null && this.gone !== 'suspect') return Promise.resolve();
    if (options.valueBlock !== undefined && options.valueBlock.length !== this.lockspace.lvbBytes) {
      return Promise.reject(new LockError('TOTEM_ERR_LOCK_INVALID', `the value block is ${this.lockspace.lvbBytes} bytes`));
    }
    try {
      return this.manager[kUnlock](this, options.valueBlock ?? null);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** @internal */
  [kHeld](mode: LockMode, fence: bigint, lvb: Uint8Array | null): void {
    this.modeNow = mode;
    this.fence = fence;
    this.lvb = lvb;
  }

  /** @internal */
  [kLost](reason: string): void {
    if (reason !== 'transitional') this.gone = reason;
    else if (this.gone === null) this.gone = 'suspect';
    this.lostReason ??= reason;
    if (this.controller !== null) this.abort(reason);
  }

  private abort(reason: string): void {
    if (this.controller === null || this.controller.signal.aborted) return;
    const code = reason === 'transitional' ? 'TOTEM_ERR_LOCK_SUSPECT' : reason === 'released' || reason === 'closed' ? 'TOTEM_ERR_LOCK_RELEASED' : 'TOTEM_ERR_LOCK_REVOKED';
    this.controller.abort(new LockError(code, `lock ${this.id} ${reason}`, { reason }));
  }
}
