/**
 * The lock manager's outgoing operations. Those made in one burst (a callback and the microtasks
 * it queues) go to the ring as one batch (one agreed multicast, engine/locks/codec.ts), in the
 * order they were made: every member applies them in that order as if each had been delivered
 * alone, so a cancel still comes after its request. Per-message costs (the submit ring, the token
 * and delivery workers, the delivery event on every member) are paid once per batch instead of
 * once per operation.
 *
 * What must not wait for the end of the burst flushes first, so that nothing overtakes what was
 * asked before it: a barrier entry (safe order, sent alone), a table sync, and close().
 */
import { LockBatchWriter, type BatchableLockMessage } from '../../engine/locks/codec.js';

export class LockOutbox {
  private ops: BatchableLockMessage[] = [];
  private scheduled = false;
  private readonly flushLater = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /**
   * `bytesMax`: a batch grows to at most this (the node's messageBytesMax, or less); `send`
   * hands one encoded batch to the node, with the operations it carries (a refused send ends
   * each of them).
   */
  constructor(
    private readonly bytesMax: number,
    private readonly send: (payload: Uint8Array, ops: readonly BatchableLockMessage[]) => void,
  ) {}

  /** Operations waiting for the end of this burst. */
  get length(): number {
    return this.ops.length;
  }

  push(m: BatchableLockMessage): void {
    this.ops.push(m);
    if (this.scheduled) return;
    this.scheduled = true;
    // Once the microtasks queued now have run (the continuations of the grants just delivered,
    // when called from one of them): the batch takes what they ask for. Not setImmediate: that
    // runs in the check phase after the delivery pump's own setImmediate, so the operations of
    // one drain's continuations waited for the pump's next drain before leaving.
    process.nextTick(this.flushLater);
  }

  /** Take the operations waiting for the end of this burst back, in order (none is sent). */
  take(): BatchableLockMessage[] {
    const ops = this.ops;
    this.ops = [];
    return ops;
  }

  /** Hand what waits to the node now: one batch, or several when they do not fit in one. */
  flush(): void {
    const ops = this.ops;
    if (ops.length === 0) return;
    this.ops = [];
    let i = 0;
    while (i < ops.length) {
      const batch = new LockBatchWriter();
      const first = i;
      // A batch always takes its first operation, so every pass makes progress.
      while (i < ops.length && batch.add(ops[i] as BatchableLockMessage, this.bytesMax)) i++;
      this.send(batch.finish(), first === 0 && i === ops.length ? ops : ops.slice(first, i));
    }
  }
}
