/**
 * A request of this node waiting for the lock table to end it (granted, denied, cancelled, cut):
 * how to settle its promise, and what to undo then (its wait timeout, its abort listener).
 */
import type { LockHandle, Lockspace } from './handles.js';
import type { LockOptions } from './lock-options.js';

export class Pending {
  abortedByCaller = false;
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
    if (options.timeoutMs !== undefined) this.timer = setTimeout(() => cancel('timeout'), options.timeoutMs);
    const signal = options.signal;
    if (signal !== undefined) {
      this.signal = signal;
      this.onAbort = () => {
        this.abortedByCaller = true;
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
