/**
 * The simulator's virtual clock: a binary min-heap of events keyed by (timeMs, insertion seq).
 * The insertion seq breaks ties, so two events due at the same virtual millisecond always run in
 * the order they were scheduled, and a seed replays the same interleaving every time.
 */

interface Entry<T> {
  timeMs: number;
  seq: number;
  value: T;
}

export class EventQueue<T> {
  private readonly heap: Entry<T>[] = [];
  private seqNext = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Time of the earliest event; Infinity when empty. */
  peekTimeMs(): number {
    return this.heap[0]?.timeMs ?? Infinity;
  }

  push(timeMs: number, value: T): void {
    if (!Number.isFinite(timeMs)) throw new RangeError(`event time must be finite, got ${timeMs}`);
    const heap = this.heap;
    heap.push({ timeMs, seq: this.seqNext++, value });
    let i = heap.length - 1;
    const entry = heap[i] as Entry<T>;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex] as Entry<T>;
      if (!before(entry, parent)) break;
      heap[i] = parent;
      i = parentIndex;
    }
    heap[i] = entry;
  }

  /** Remove and return the earliest event, or undefined when empty. */
  pop(): { timeMs: number; value: T } | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop() as Entry<T>;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        let child = left;
        if (right < n && before(heap[right] as Entry<T>, heap[left] as Entry<T>)) child = right;
        const c = heap[child] as Entry<T>;
        if (!before(c, last)) break;
        heap[i] = c;
        i = child;
      }
      heap[i] = last;
    }
    return { timeMs: top.timeMs, value: top.value };
  }
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}
