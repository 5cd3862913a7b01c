/**
 * The delivery worker's spill: records waiting for room in the delivery ring, packed back to back
 * as bytes in chunks of `chunkBytes`, oldest first.
 *
 * A room of its own because of what it replaces: one object and one array per record. At
 * saturation (64 B messages, every node sending) the main thread falls behind by bursts and the
 * spill takes ~100k records in a few seconds; as objects they were each promoted out of the
 * worker's small young generation and made its old generation grow by ~10 MiB per node. Packed,
 * a record costs its bytes and an 8-byte header, and the caller encodes it in place (as into the
 * ring), so the spill allocates nothing per record; only a new chunk now and then, and one
 * emptied chunk is kept for reuse.
 *
 * Layout of a record: type u32 | length u32 | length bytes. A record longer than a chunk gets a
 * chunk of its own size. A view returned by `peek()` is valid until the next `shift()`.
 */
import { assert } from '../engine/assert.js';

/** Bytes before each record: type u32, length u32. */
const recordHeaderBytes = 8;

export class SpillQueue {
  private chunks: Uint8Array[] = [];
  private views: DataView[] = [];
  /** Where the records of chunks[i] end. */
  private ends: number[] = [];
  /** chunks[head] holds the oldest record, at readAt. */
  private head = 0;
  private readAt = 0;
  /** An emptied chunk of chunkBytes, kept for the next one needed. */
  private spare: Uint8Array | null = null;
  private recordCount = 0;
  private recordBytes = 0;

  constructor(readonly chunkBytes = 64 * 1024) {
    assert(Number.isInteger(chunkBytes) && chunkBytes > recordHeaderBytes, 'spill: a chunk holds a header and more');
  }

  /** Records waiting. */
  get length(): number {
    return this.recordCount;
  }

  /** Bytes of the records waiting (headers not counted). */
  get bytes(): number {
    return this.recordBytes;
  }

  /** The chunk append() last placed a record in, and a view of it, for encoding in place. */
  get tailBuffer(): Uint8Array {
    return this.chunks[this.chunks.length - 1] as Uint8Array;
  }

  get tailView(): DataView {
    return this.views[this.views.length - 1] as DataView;
  }

  /**
   * Makes room for a record of `type` and `length` bytes at the end; returns the offset in
   * tailBuffer where the caller writes exactly `length` bytes before the next call.
   */
  append(type: number, length: number): number {
    assert(Number.isInteger(type) && type > 0, 'spill: record types are positive');
    const need = recordHeaderBytes + length;
    const last = this.chunks.length - 1;
    let at = last >= this.head ? (this.ends[last] as number) : 0;
    if (last < this.head || at + need > (this.chunks[last] as Uint8Array).length) {
      this.addChunk(need);
      at = 0;
    }
    const i = this.chunks.length - 1;
    const view = this.views[i] as DataView;
    view.setUint32(at, type, true);
    view.setUint32(at + 4, length, true);
    this.ends[i] = at + need;
    this.recordCount++;
    this.recordBytes += length;
    return at + recordHeaderBytes;
  }

  /** Appends a record made of `segments` (copied). */
  appendCopy(type: number, segments: readonly Uint8Array[]): void {
    let length = 0;
    for (const s of segments) length += s.length;
    let at = this.append(type, length);
    const buffer = this.tailBuffer;
    for (const s of segments) {
      buffer.set(s, at);
      at += s.length;
    }
  }

  /** Type of the oldest record (the queue must not be empty). */
  peekType(): number {
    assert(this.recordCount > 0, 'spill: peek at an empty spill');
    return (this.views[this.head] as DataView).getUint32(this.readAt, true);
  }

  /** Length of the oldest record (the queue must not be empty). */
  peekLength(): number {
    assert(this.recordCount > 0, 'spill: peek at an empty spill');
    return (this.views[this.head] as DataView).getUint32(this.readAt + 4, true);
  }

  /** The oldest record's bytes, a view valid until the next shift(). */
  peek(): Uint8Array {
    const start = this.readAt + recordHeaderBytes;
    return (this.chunks[this.head] as Uint8Array).subarray(start, start + this.peekLength());
  }

  /** Drops the oldest record; a chunk left empty goes (the spare is kept). */
  shift(): void {
    const length = this.peekLength();
    this.readAt += recordHeaderBytes + length;
    this.recordCount--;
    this.recordBytes -= length;
    assert(this.readAt <= (this.ends[this.head] as number), 'spill: a read stays inside its chunk');
    if (this.readAt < (this.ends[this.head] as number)) return;
    const chunk = this.chunks[this.head] as Uint8Array;
    this.chunks[this.head] = emptyChunk;
    this.head++;
    this.readAt = 0;
    if (chunk.length === this.chunkBytes) this.spare = chunk;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.views = [];
      this.ends = [];
      this.head = 0;
      assert(this.recordCount === 0, 'spill: no record outlives its chunks');
    } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.views = this.views.slice(this.head);
      this.ends = this.ends.slice(this.head);
      this.head = 0;
    }
  }

  private addChunk(need: number): void {
    let chunk: Uint8Array;
    if (need > this.chunkBytes) chunk = new Uint8Array(need);
    else if (this.spare !== null) {
      chunk = this.spare;
      this.spare = null;
    } else chunk = new Uint8Array(this.chunkBytes);
    this.chunks.push(chunk);
    this.views.push(new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.ends.push(0);
  }
}

const emptyChunk = new Uint8Array(0);
