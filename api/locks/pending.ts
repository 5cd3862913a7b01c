/**
 * A request of this node waiting for the lock table to end it (granted, denied, cancelled, cut):
 * how to settle its promise, and what to undo then (its wait timeout, its abort listener).
 */
import { mapRenewOps } from '../../engine/locks/table-core.js';
import type { LockHandle, Lockspace } from './handles.js';
import type { LockOptions } from './lock-options.js';

export class Pending {
  abortedByCaller = false;
  /** The cancel this request's timeout or abort multicast, if any (and why). */
  cancelSent: 'cancel' | 'timeout' | null = null;
  /** performance.now() when the request was handed to the node (the acquire latency's start). */
  readonly startMs = performance.now();
  private timer: NodeJS.Timeout | null = null;
  private signal: AbortSignal | null = null;
  private onAbort: (() => void) | null = null;

  constructor(
    readonly kind: 'lock' | 'convert' | 'unlock',
    readonly resolve: (value: LockHandle) => void,
    readonly reject: (error: unknown) => void,
    readonly handle: LockHandle | null,
    readonly ls: Lockspace,
    readonly res: string,
  ) {}

  /** Arm `options.timeoutMs` and `options.signal`: each asks `cancel` to multicast the request's cancel. */
  watch(options: LockOptions, cancel: (reason: 'cancel' | 'timeout') => void): this {
    if (options.timeoutMs !== undefined) {
      this.timer = setTimeout(() => {
        this.cancelSent ??= 'timeout';
        cancel('timeout');
      }, options.timeoutMs);
    }
    const signal = options.signal;
    if (signal !== undefined) {
      this.signal = signal;
      this.onAbort = () => {
        this.abortedByCaller = true;
        this.cancelSent ??= 'cancel';
        cancel('cancel');
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    return this;
  }

  /** The request ended: no timeout or abort may cancel it any more. */
  cleanup(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.onAbort !== null) this.signal?.removeEventListener('abort', this.onAbort);
    this.timer = null;
    this.onAbort = null;
  }
}

/**
 * This node's requests waiting for the table, by counter. The map gains and loses an entry with
 * every request, so it is copied afresh every mapRenewOps ends, as the table's maps are:
 * engine/locks/table-core.ts mapRenewOps says why (a Map resized in place keeps the records it
 * held alive through the young collections).
 */
export class PendingRequests {
  private byCounter = new Map<number, Pending>();
  private endedSinceRenew = 0;

  get(counter: number): Pending | undefined {
    return this.byCounter.get(counter);
  }

  has(counter: number): boolean {
    return this.byCounter.has(counter);
  }

  add(counter: number, p: Pending): void {
    this.byCounter.set(counter, p);
  }

  /** The request `counter` ended: no longer pending, its timeout and abort listener undone. */
  settle(counter: number): Pending | undefined {
    const p = this.byCounter.get(counter);
    if (p === undefined) return undefined;
    this.byCounter.delete(counter);
    this.endedSinceRenew++;
    p.cleanup();
    return p;
  }

  /** Every request still pending, settled (close). */
  settleAll(): Pending[] {
    return [...this.byCounter.keys()].map((counter) => this.settle(counter) as Pending);
  }

  /**
   * True (once) when mapRenewOps requests have ended since the last renewal, which renews this
   * map now: the caller renews the maps it keeps alongside. Call between deliveries.
   */
  renewIfDue(): boolean {
    if (this.endedSinceRenew < mapRenewOps) return false;
    this.endedSinceRenew = 0;
    this.byCounter = new Map(this.byCounter);
    return true;
  }
}
