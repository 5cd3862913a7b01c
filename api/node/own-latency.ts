/**
 * Own-delivery latency for the metrics endpoint: from the moment the runtime accepts one of this
 * node's messages to its delivery back here, in total order. Kept only while an endpoint is open,
 * so the send path costs nothing otherwise.
 *
 * No id crosses the threads for this: the token worker numbers this incarnation's messages 1, 2,
 * 3 ... in the order the runtime accepted them (one FIFO ring, one Packer), and they are delivered
 * here in that order. The k-th accepted message is counter k; an own delivery with counter c
 * settles every older entry (older ones went to groups this node does not deliver locally, or
 * were never delivered) and observes c.
 */

/** Accepted messages remembered at most; past it new ones are not timed (never unbounded). */
export const ownLatencyPendingMax = 65_536;
/** Observations kept between two scrapes at most. */
export const ownLatencySamplesMax = 65_536;

export class OwnLatency {
  private counterNext = 1;
  private readonly counters: number[] = [];
  private readonly acceptedMs: number[] = [];
  private head = 0;
  private samplesS: number[] = [];

  /** One of this node's messages was accepted by the runtime at `nowMs`. */
  accepted(nowMs: number): void {
    const counter = this.counterNext++;
    if (this.counters.length - this.head >= ownLatencyPendingMax) return;
    this.counters.push(counter);
    this.acceptedMs.push(nowMs);
  }

  /** This node's message `counter` (of this incarnation) was delivered here at `nowMs`. */
  delivered(counter: number, nowMs: number): void {
    while (this.head < this.counters.length && (this.counters[this.head] as number) < counter) this.head++;
    if (this.head < this.counters.length && this.counters[this.head] === counter) {
      if (this.samplesS.length < ownLatencySamplesMax) this.samplesS.push((nowMs - (this.acceptedMs[this.head] as number)) / 1000);
      this.head++;
    }
    // Compact now and then, so the arrays do not grow with the node's life.
    if (this.head > 4096 && this.head * 2 > this.counters.length) {
      this.counters.splice(0, this.head);
      this.acceptedMs.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The latencies observed since the last call, in seconds. */
  take(): number[] {
    const taken = this.samplesS;
    this.samplesS = [];
    return taken;
  }
}
