/**
 * The one road from a node to its runtime: every send, join and leave of the node, whatever its
 * group, goes through one FIFO, because the ring orders one sender's messages as they were handed
 * to it: a send made after another must not overtake it while the runtime is full.
 *
 * A submission is handed to the runtime at once when nothing waits before it; otherwise, or when
 * the runtime answers "full", it waits in the FIFO until the runtime calls `writable` (then
 * pump()). At most `sendsWaitingMax` sends wait; more are refused rather than buffered (the FIFO
 * holds payloads, so an unbounded one would hold unbounded memory). Joins and leaves are not
 * counted: there is at most one of each per group.
 */
import type { NodeRuntime } from '../../workers/runtime-types.js';
import { abortedError } from '../call-errors.js';
import { Fifo } from '../events.js';
import type { Order } from '../events.js';

/**
 * What send() returns when the runtime took the message at once: one settled promise for all of
 * them rather than one per message (awaiting or chaining it keeps nothing on it).
 */
const acceptedNow: Promise<void> = Promise.resolve();

/** Sends that may wait for room at once, per node; a send beyond them is refused. */
export const sendsWaitingMax = 1024;

/** One send, join or leave on its way to the runtime. */
export interface Submission {
  readonly kind: 'send' | 'join' | 'leave';
  readonly group: string;
  readonly payload: Uint8Array | null;
  readonly order: Order;
  /** The runtime took it. */
  accepted(): void;
  /** It leaves the FIFO without being taken (close, fatal, the runtime threw). */
  refused(error: unknown): void;
}

export class SubmitQueue {
  private runtime: NodeRuntime | null = null;
  private readonly queue = new Fifo<Submission>();
  private sendsWaiting = 0;
  private pumping = false;
  private pumpAgain = false;

  /**
   * `isClosed`: the node is closed, so nothing more is handed over. `onSendAccepted`: the runtime
   * took a message (not a join or leave), for the own-delivery latency.
   */
  constructor(
    private readonly isClosed: () => boolean,
    private readonly onSendAccepted: () => void = () => undefined,
  ) {}

  /** Submissions waiting for room in the runtime. */
  get length(): number {
    return this.queue.length;
  }

  /** Until the runtime runs, everything waits. */
  attach(runtime: NodeRuntime): void {
    this.runtime = runtime;
  }

  /**
   * Resolves once the runtime has taken the message. The common case (nothing waits, the runtime
   * has room) allocates no submission.
   */
  send(group: string, payload: Uint8Array, order: Order, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(abortedError('send', signal));
    if (this.queue.length === 0) {
      try {
        if (this.submitMessage(this.attached(), group, payload, order)) return acceptedNow;
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.sendsWaiting >= sendsWaitingMax) return Promise.reject(sendQueueFull());
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.queue.remove(submission)) return;
        this.sendsWaiting -= 1;
        reject(abortedError('send', signal as AbortSignal));
      };
      const submission: Submission = {
        kind: 'send',
        group,
        payload,
        order,
        accepted: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        refused: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.enqueue(submission);
    });
  }

  /** True when the runtime took it now; false when it is full or earlier submissions wait. */
  trySend(group: string, payload: Uint8Array, order: Order): boolean {
    if (this.queue.length > 0) return false;
    return this.submitMessage(this.attached(), group, payload, order);
  }

  /** Hand `s` over now if nothing waits and the runtime takes it, else queue it. */
  submit(s: Submission): void {
    if (this.queue.length === 0 && this.runtime !== null) {
      let taken = false;
      try {
        taken = this.submitTo(this.runtime, s);
      } catch (err) {
        s.refused(err);
        return;
      }
      if (taken) {
        s.accepted();
        return;
      }
    }
    this.enqueue(s);
  }

  /** Take `s` back while it still waits (an aborted join or leave); true when it did. */
  remove(s: Submission): boolean {
    return this.queue.remove(s);
  }

  /** Hand waiting submissions to the runtime, in order, until it is full. */
  pump(): void {
    if (this.pumping) {
      // The runtime called writable from inside a submit: finish this pass, then go again.
      this.pumpAgain = true;
      return;
    }
    const runtime = this.runtime;
    if (runtime === null || this.isClosed()) return;
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (let s = this.queue.peek(); s !== undefined; s = this.queue.peek()) {
          let taken: boolean;
          try {
            taken = this.submitTo(runtime, s);
          } catch (err) {
            this.queue.shift();
            this.dequeued(s);
            s.refused(err);
            continue;
          }
          if (!taken) break;
          this.queue.shift();
          this.dequeued(s);
          s.accepted();
        }
      } while (this.pumpAgain && this.queue.length > 0);
    } finally {
      this.pumping = false;
    }
  }

  /** Refuse every waiting submission with `error`, but those `keep` says still go, in their order. */
  refuseWaiting(error: unknown, keep: (s: Submission) => boolean = () => false): void {
    for (const s of this.queue.drain()) {
      if (keep(s)) {
        this.queue.push(s);
        continue;
      }
      this.dequeued(s);
      s.refused(error);
    }
  }

  private enqueue(s: Submission): void {
    if (s.kind === 'send') this.sendsWaiting += 1;
    this.queue.push(s);
  }

  private dequeued(s: Submission): void {
    if (s.kind === 'send') this.sendsWaiting -= 1;
  }

  private submitMessage(runtime: NodeRuntime, group: string, payload: Uint8Array, order: Order): boolean {
    const taken = runtime.submit(group, payload, order);
    if (taken) this.onSendAccepted();
    return taken;
  }

  private submitTo(runtime: NodeRuntime, s: Submission): boolean {
    switch (s.kind) {
      case 'send':
        return this.submitMessage(runtime, s.group, s.payload as Uint8Array, s.order);
      case 'join':
        return runtime.join(s.group);
      case 'leave':
        return runtime.leave(s.group);
    }
  }

  private attached(): NodeRuntime {
    const runtime = this.runtime;
    if (runtime === null) throw new Error('the runtime is not attached yet');
    return runtime;
  }
}

/**
 * The error of a send refused because `sendsWaitingMax` sends already wait. errors.ts has no
 * code for it yet, so it is a RangeError carrying the code it will have as a TotemError.
 */
function sendQueueFull(): RangeError {
  const message = `${sendsWaitingMax} sends are already waiting for room; await send() before sending more`;
  return Object.assign(new RangeError(message), { code: 'TOTEM_ERR_SEND_QUEUE_FULL' });
}
