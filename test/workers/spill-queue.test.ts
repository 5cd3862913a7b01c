/**
 * The delivery worker's spill as packed bytes (workers/spill-queue.ts): records come out whole and
 * in the order they went in, across chunk boundaries, with records longer than a chunk, and while
 * reads and appends interleave (the worker appends while the main thread frees room).
 */
import { describe, expect, it } from 'vitest';
import { SpillQueue } from '../../workers/spill-queue.js';
import { seededBytes } from './fixtures/runtime-cluster.js';

interface Out {
  type: number;
  bytes: number[];
}

function takeAll(q: SpillQueue): Out[] {
  const out: Out[] = [];
  while (q.length > 0) {
    out.push({ type: q.peekType(), bytes: [...q.peek()] });
    q.shift();
  }
  return out;
}

describe('SpillQueue', () => {
  it('gives records back whole and in order across chunks, a record longer than a chunk included', () => {
    const q = new SpillQueue(64);
    const sent: Out[] = [];
    const lengths = [1, 30, 56, 0, 57, 200, 3, 56, 56, 1000, 7];
    lengths.forEach((length, i) => {
      const bytes = seededBytes(length, i + 1);
      const at = q.append(i + 1, length);
      q.tailBuffer.set(bytes, at);
      sent.push({ type: i + 1, bytes: [...bytes] });
    });
    expect(q.length).toBe(lengths.length);
    expect(q.bytes).toBe(lengths.reduce((a, b) => a + b, 0));
    expect(takeAll(q)).toEqual(sent);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('keeps order while reads and appends interleave, and appendCopy joins its segments', () => {
    const q = new SpillQueue(100);
    const sent: Out[] = [];
    const got: Out[] = [];
    let n = 0;
    for (let round = 0; round < 50; round++) {
      for (let k = 0; k < (round % 7) + 1; k++) {
        n++;
        const a = seededBytes((n * 13) % 90, n);
        const b = seededBytes((n * 7) % 40, n + 1000);
        q.appendCopy(n, [a, b]);
        sent.push({ type: n, bytes: [...a, ...b] });
      }
      for (let k = 0; k < (round % 5) + 1 && q.length > 0; k++) {
        got.push({ type: q.peekType(), bytes: [...q.peek()] });
        q.shift();
      }
    }
    got.push(...takeAll(q));
    expect(got).toEqual(sent);
  });

  it('refuses to peek at an empty spill', () => {
    const q = new SpillQueue(64);
    expect(() => q.peekType()).toThrow();
    q.appendCopy(2, [new Uint8Array([9])]);
    q.shift();
    expect(() => q.peek()).toThrow();
  });
});
