/**
 * Messages larger than a chunk through one SPSC ring (workers/ring/chunks.ts), on one thread: the
 * writer and the reader are two views of the same SharedArrayBuffer, so every interleaving below
 * (a reader that sees a message's first parts only, a writer that finds the ring full mid-message)
 * is exact, not timed. The runtime's own parameters are used where it matters: a 1 MiB ring with
 * 64 KiB chunks; small rings and chunks make the ring wrap and fill many times per message.
 */
import { describe, expect, it } from 'vitest';
import { ChunkReader, ChunkWriter, partHeaderBytes } from '../../workers/ring/chunks.js';
import { SpscRing } from '../../workers/ring/spsc-ring.js';
import { partChunkBytes, RecordType } from '../../workers/records.js';
import { seededBytes } from './fixtures/runtime-cluster.js';

const partType = 9;
const mebibyte = 1024 * 1024;

interface Got {
  type: number;
  bytes: Uint8Array;
  owned: boolean;
}

function setUp(capacityBytes: number, chunkBytes: number, messageBytesMax = 64 * mebibyte) {
  const ring = SpscRing.create(capacityBytes);
  const readerRing = new SpscRing(ring.sab);
  const writer = new ChunkWriter(ring, partType, chunkBytes);
  const reader = new ChunkReader(readerRing, partType, messageBytesMax);
  const got: Got[] = [];
  let records = 0;
  const read = (countMax?: number): number => {
    const n = reader.read((type, buffer, offset, length, owned) => {
      // A view of the ring is only valid inside the handler: copy it; keep an owned one as is.
      const bytes = owned ? buffer.subarray(offset, offset + length) : buffer.slice(offset, offset + length);
      if (owned) expect(buffer.buffer).not.toBe(ring.sab);
      else expect(buffer.buffer).toBe(ring.sab);
      got.push({ type, bytes, owned });
    }, countMax);
    records += n;
    return n;
  };
  return { ring, writer, reader, got, read, records: () => records };
}

/** Writes one message, reading whenever the ring is full; returns how many records it took. */
function pushThrough(
  s: ReturnType<typeof setUp>,
  type: number,
  segments: Uint8Array[],
): number {
  s.writer.begin(type, segments);
  let written = 0;
  let spins = 0;
  while (s.writer.open) {
    const n = s.writer.writeSome();
    written += n;
    if (s.writer.open) {
      expect(s.writer.canWriteNext()).toBe(false);
      expect(s.read()).toBeGreaterThan(0);
    }
    expect(++spins).toBeLessThan(1_000_000);
  }
  return written;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

describe('ChunkWriter / ChunkReader', () => {
  it('carries 1 B, exactly a chunk, a chunk + 1 and 1 MiB through a 1 MiB ring, bytes and order exact', () => {
    const s = setUp(mebibyte, partChunkBytes);
    const sizes = [1, partChunkBytes, partChunkBytes + 1, mebibyte, 0, partChunkBytes - 1, 2 * partChunkBytes];
    const records: number[] = [];
    sizes.forEach((size, i) => records.push(pushThrough(s, 1 + (i % 3), [seededBytes(size, i)])));
    s.read();
    // One record up to a chunk; above, parts of a chunk each and a final record with the rest.
    expect(records).toEqual([1, 1, 2, 16, 1, 1, 2]);
    expect(s.got.map((g) => g.bytes.length)).toEqual(sizes);
    s.got.forEach((g, i) => {
      expect(g.type).toBe(1 + (i % 3));
      expect(same(g.bytes, seededBytes(sizes[i] as number, i))).toBe(true);
      expect(g.owned).toBe((sizes[i] as number) > partChunkBytes);
    });
    expect(s.reader.hasPartial()).toBe(false);
    expect(s.ring.usedBytes()).toBe(0);
  });

  it('interleaves large messages with small ones in order, through a ring that wraps many times', () => {
    const s = setUp(4096, 256);
    const sizes: number[] = [];
    let x = 12345;
    for (let i = 0; i < 600; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      // Mostly small, some around the threshold, some many times the whole ring.
      const pick = x % 10;
      sizes.push(pick < 6 ? x % 64 : pick < 8 ? 255 + (x % 3) : x % 20_000);
    }
    // The reader reads in small batches, and only every third attempt, so that it often finds a
    // message half written and the writer often finds the ring full.
    let turn = 0;
    sizes.forEach((size, i) => {
      s.writer.begin(1 + (i % 2), [seededBytes(size, i)]);
      while (s.writer.open) {
        s.writer.writeSome();
        if (++turn % 3 === 0 || s.writer.open) s.read(1 + (turn % 5));
      }
    });
    while (s.read() > 0);
    expect(s.got.length).toBe(sizes.length);
    s.got.forEach((g, i) => {
      expect(g.type).toBe(1 + (i % 2));
      expect(g.bytes.length).toBe(sizes[i]);
      expect(same(g.bytes, seededBytes(sizes[i] as number, i))).toBe(true);
    });
  });

  it('a reader that sees only some parts keeps the partial message until the final record', () => {
    const s = setUp(mebibyte, partChunkBytes);
    const big = seededBytes(3 * mebibyte, 7);
    s.writer.begin(RecordType.deliveryMessage, [big]);
    // The ring takes ~1 MiB of the 3 MiB: the writer stops mid-message (it would wait for room).
    const first = s.writer.writeSome();
    expect(first).toBeGreaterThan(0);
    expect(s.writer.open).toBe(true);
    expect(s.writer.canWriteNext()).toBe(false);
    // Half of what is there: no message yet, a partial of exactly those parts.
    const half = Math.floor(first / 2);
    expect(s.read(half)).toBe(half);
    expect(s.got).toEqual([]);
    expect(s.reader.hasPartial()).toBe(true);
    expect(s.reader.partialBytes()).toBe(half * partChunkBytes);
    // The room freed lets the writer go on; the reader, across many reads, gets the whole message.
    expect(s.writer.canWriteNext()).toBe(true);
    while (s.writer.open) {
      s.writer.writeSome();
      s.read(3);
      if (s.writer.open) expect(s.reader.hasPartial()).toBe(true);
    }
    while (s.read() > 0);
    expect(s.got.length).toBe(1);
    expect(s.got[0]?.owned).toBe(true);
    expect(same(s.got[0]?.bytes as Uint8Array, big)).toBe(true);
    expect(s.reader.hasPartial()).toBe(false);
    expect(s.reader.partialBytes()).toBe(0);
  });

  it('joins segments (a header and a payload) without a copy by the caller, whatever the chunk boundaries', () => {
    const s = setUp(8192, 100);
    const cases: number[][] = [[0, 0], [3, 0], [0, 3], [40, 60], [40, 61], [100, 1], [1, 100], [7, 993], [250, 0, 250], [99, 2, 99]];
    cases.forEach((lengths, i) => {
      const segments = lengths.map((n, k) => seededBytes(n, i * 10 + k));
      pushThrough(s, 5, segments);
    });
    s.read();
    expect(s.got.length).toBe(cases.length);
    cases.forEach((lengths, i) => {
      const whole = Buffer.concat(lengths.map((n, k) => seededBytes(n, i * 10 + k)));
      expect(same(s.got[i]?.bytes as Uint8Array, whole)).toBe(true);
    });
  });

  it('detach() keeps the unwritten rest: the caller may reuse its buffers at once', () => {
    const s = setUp(4096, 256);
    const head = seededBytes(10, 1);
    const payload = seededBytes(20_000, 2);
    const expected = Buffer.concat([head, payload]);
    s.writer.begin(1, [head, payload]);
    s.writer.writeSome();
    expect(s.writer.open).toBe(true);
    s.writer.detach();
    // The application reuses its buffer (submit() said accepted).
    payload.fill(0xee);
    head.fill(0xee);
    while (s.writer.open) {
      s.writer.writeSome();
      s.read();
    }
    s.read();
    expect(s.got.length).toBe(1);
    expect(same(s.got[0]?.bytes as Uint8Array, expected)).toBe(true);
  });

  it('writes one message at a time, and a part must fit the ring', () => {
    const s = setUp(4096, 256);
    s.writer.begin(1, [seededBytes(10_000, 1)]);
    expect(() => s.writer.begin(1, [seededBytes(1, 1)])).toThrow();
    expect(() => new ChunkWriter(SpscRing.create(4096), partType, 4096 / 8 - partHeaderBytes + 1)).toThrow(RangeError);
    expect(() => new ChunkWriter(SpscRing.create(4096), partType, 0)).toThrow(RangeError);
    const w = new ChunkWriter(SpscRing.create(4096), partType, 64);
    expect(() => w.begin(partType, [seededBytes(1, 1)])).toThrow(RangeError);
  });

  it('a corrupt stream asserts: a part out of order, a length above messageBytesMax, a short final record', () => {
    const part = (total: number, at: number, chunk: number): Uint8Array => {
      const b = new Uint8Array(partHeaderBytes + chunk);
      new DataView(b.buffer).setUint32(0, total, true);
      new DataView(b.buffer).setUint32(4, at, true);
      return b;
    };
    const run = (records: [number, Uint8Array][], messageBytesMax = 1000): () => void => {
      const ring = SpscRing.create(4096);
      for (const [type, bytes] of records) expect(ring.write(type, bytes)).toBe(true);
      const reader = new ChunkReader(new SpscRing(ring.sab), partType, messageBytesMax);
      return () => reader.read(() => {});
    };
    expect(run([[partType, part(300, 0, 100)], [partType, part(300, 100, 100)], [1, new Uint8Array(100)]])).not.toThrow();
    expect(run([[partType, part(300, 100, 100)]])).toThrow(/first part/);
    expect(run([[partType, part(300, 0, 100)], [partType, part(300, 150, 100)]])).toThrow(/in order/);
    expect(run([[partType, part(300, 0, 100)], [partType, part(301, 100, 100)]])).toThrow(/same message length/);
    expect(run([[partType, part(2000, 0, 100)]])).toThrow(/within bounds/);
    expect(run([[partType, part(300, 0, 100)], [1, new Uint8Array(150)]])).toThrow(/completes the message/);
  });
});
