/**
 * The messages of one ring: the sort queue indexed by seq, and the per-ring counters of
 * evs-spec §2.2 (`my_aru`, `my_high_seq_received`, `my_high_delivered`).
 *
 * Message seqs on a ring start at 1 (the first token carries seq 0), so 0 means "nothing yet" for
 * aru, highSeqReceived and highDelivered. `lowWater` is the highest seq already garbage-collected:
 * every seq at or below it was delivered here and is known to be held by every member.
 */
import { assert } from '../assert.js';
import { sortQueueItemsMax } from '../constants.js';
import { seqAdd, seqDistance, seqGt, seqLe, seqLt } from '../seq.js';
import type { Order, NodeId, RingId } from '../types.js';

export interface StoredFrame {
  seq: number;
  originator: NodeId;
  order: Order;
  /** The frame payload (a view into `bytes`). Empty for an encapsulated recovery copy. */
  payload: Uint8Array;
  /** The encoded packet, kept for retransmission. Owned by the queue (never a view into a reused buffer). */
  bytes: Uint8Array;
  /** For a recovery re-broadcast: the encoded old-ring frame it carries. */
  inner: Uint8Array | null;
}

export class RingState {
  readonly queue = new Map<number, StoredFrame>();
  aru = 0;
  highSeqReceived = 0;
  highDelivered = 0;
  lowWater = 0;

  constructor(
    readonly ringId: RingId,
    /** Members of the ring, sorted ascending. */
    readonly members: readonly NodeId[],
  ) {}

  has(seq: number): boolean {
    return seqLe(seq, this.lowWater) || this.queue.has(seq);
  }

  /** True when `seq` can be stored: not held yet and within the sort queue bound. */
  accepts(seq: number): boolean {
    if (this.has(seq)) return false;
    return seqDistance(this.lowWater, seq) <= sortQueueItemsMax;
  }

  store(frame: StoredFrame): void {
    assert(this.accepts(frame.seq), 'stored frame is new and within the sort queue bound');
    this.queue.set(frame.seq, frame);
    if (seqGt(frame.seq, this.highSeqReceived)) this.highSeqReceived = frame.seq;
    this.advanceAru();
  }

  advanceAru(): void {
    let next = seqAdd(this.aru, 1);
    while (this.queue.has(next)) {
      this.aru = next;
      next = seqAdd(next, 1);
    }
    assert(seqLe(this.aru, this.highSeqReceived), 'aru <= highSeqReceived');
  }

  /** Free every frame at or below `upTo` (already delivered here and held by every member). */
  releaseThrough(upTo: number): void {
    if (!seqGt(upTo, this.lowWater)) return;
    assert(seqLe(upTo, this.highDelivered), 'only delivered frames are released');
    for (let s = seqAdd(this.lowWater, 1); seqLe(s, upTo); s = seqAdd(s, 1)) this.queue.delete(s);
    this.lowWater = upTo;
  }

  /** Seqs in (aru, upTo] that are missing, oldest first. */
  missingThrough(upTo: number, limit: number): number[] {
    const missing: number[] = [];
    for (let s = seqAdd(this.aru, 1); seqLe(s, upTo) && missing.length < limit; s = seqAdd(s, 1)) {
      if (!this.queue.has(s)) missing.push(s);
    }
    return missing;
  }

  /** Frames between the last released seq and `seq`: the bound of evs-spec §2.2 step 9. */
  span(seq: number): number {
    return seqLt(seq, this.lowWater) ? 0 : seqDistance(this.lowWater, seq);
  }
}
