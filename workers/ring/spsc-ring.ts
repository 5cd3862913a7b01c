/**
 * Single-producer single-consumer ring of variable-length records over a SharedArrayBuffer, after
 * Agrona's OneToOneRingBuffer (layout in layout.ts). One ring links one producer thread to one
 * consumer thread: two threads never race for the same position word, so no compare-and-swap is
 * needed and a producer that dies mid-write cannot block anyone but its own consumer.
 *
 * Producer (write / tryClaim + commit | abort):
 *   1. claim: check free space against headCache, re-read the shared head only if that says "full";
 *      at the end of the region write a padding record and start the record at index 0;
 *   2. store the header with length = -recordLength (claimed, not committed);
 *   3. Atomics.store(tail, tail + padding + alignedLength): the reader may now see the claim;
 *   4. copy type and payload (or let the caller encode into the claimed bytes);
 *   5. Atomics.store(length, +recordLength): commit.
 * Consumer (read): Atomics.load(tail) once per batch; walk the records below it and stop at the
 * first non-positive length; Atomics.store(head) once per batch, in a finally.
 *
 * Why this is safe with JS Atomics: they are sequentially consistent, stronger than the
 * release/acquire pairs Agrona uses. Plain writes made before an Atomics.store are visible to a
 * thread whose Atomics.load reads the stored value. Steps 2 and 4 are plain writes published by the
 * atomic stores of steps 3 and 5; the reader reads nothing beyond the tail it loaded, so it never
 * sees memory from the previous lap (and does not need to zero what it consumed, unlike Agrona).
 *
 * Backpressure is a return value (write -> false, tryClaim -> null); misuse throws (RangeError for
 * an oversize record or a bad type id, Error for commit without a claim); a corrupt header asserts.
 * Wake-ups are not the ring's business: see doorbell.ts.
 */
import { assert } from '../../engine/assert.js';
import {
  align,
  alignmentBytes,
  checkCapacity,
  headCacheOffset,
  headerBytes,
  headOffset,
  paddingTypeId,
  payloadBytesMaxOf,
  ringBytesOf,
  tailOffset,
  trailerBytes,
  typeIdMin,
} from './layout.js';

/**
 * Called once per record. buffer is the ring's data region itself (no copy): the payload is
 * buffer[offset, offset + length) and is valid only until the handler returns, since head moves
 * past it when the batch ends.
 */
export type RecordHandler = (
  type: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
) => void;

const noClaim = -1;

export class SpscRing {
  /** Allocates a new, empty ring whose data region is capacityBytes (a power of two). */
  static create(capacityBytes: number): SpscRing {
    checkCapacity(capacityBytes);
    return new SpscRing(new SharedArrayBuffer(ringBytesOf(capacityBytes)));
  }

  readonly sab: SharedArrayBuffer;
  readonly capacityBytes: number;
  /** Largest payload write() / tryClaim() accept: capacityBytes / 8. */
  readonly payloadBytesMax: number;
  /** The data region. Handlers and claimers index into it with the offsets they are given. */
  readonly buffer: Uint8Array;

  /** Record headers, as Int32 slots of the data region: slot = index >> 2. */
  private readonly headers: Int32Array;
  /** Trailer words, as Int32 slots of the whole buffer. */
  private readonly trailer: Int32Array;
  private readonly mask: number;
  private readonly tailSlot: number;
  private readonly headCacheSlot: number;
  private readonly headSlot: number;
  /** Index of this producer's claimed, uncommitted record, or noClaim. */
  private claimIndex = noClaim;

  /**
   * Attaches to a ring's SharedArrayBuffer, e.g. one received through workerData. Both ends use
   * this class on the same buffer; one thread calls only the producer methods, one only read().
   */
  constructor(sab: SharedArrayBuffer) {
    const capacityBytes = sab.byteLength - trailerBytes;
    checkCapacity(capacityBytes);
    this.sab = sab;
    this.capacityBytes = capacityBytes;
    this.payloadBytesMax = payloadBytesMaxOf(capacityBytes);
    this.buffer = new Uint8Array(sab, 0, capacityBytes);
    this.headers = new Int32Array(sab, 0, capacityBytes / 4);
    this.trailer = new Int32Array(sab);
    this.mask = capacityBytes - 1;
    this.tailSlot = (capacityBytes + tailOffset) / 4;
    this.headCacheSlot = (capacityBytes + headCacheOffset) / 4;
    this.headSlot = (capacityBytes + headOffset) / 4;
  }

  // ---- producer side -------------------------------------------------------------------------

  /**
   * Copies one record into the ring. Returns false, writing nothing, when the ring lacks room.
   * Throws RangeError when type < 1 or bytes.length > payloadBytesMax.
   */
  write(type: number, bytes: Uint8Array): boolean {
    const offset = this.tryClaim(type, bytes.length);
    if (offset === null) return false;
    this.buffer.set(bytes, offset);
    this.commit();
    return true;
  }

  /**
   * Claims room for one record of lengthBytes payload and returns the offset in `buffer` where the
   * caller encodes it, or null when the ring lacks room. The reader sees nothing of the record
   * until commit(); abort() gives the room up. One claim at a time: claiming again before commit()
   * or abort() throws. Throws RangeError when type < 1 or lengthBytes > payloadBytesMax.
   */
  tryClaim(type: number, lengthBytes: number): number | null {
    this.checkRecord(type, lengthBytes);
    if (this.claimIndex !== noClaim) throw new Error('ring: tryClaim while a claim is open');
    const recordBytes = headerBytes + lengthBytes;
    const index = this.claim(recordBytes);
    if (index === noClaim) return null;
    // Plain write: the reader reads the type only after it sees the positive length, and the
    // commit store that makes it positive orders this write before it.
    this.headers[(index >> 2) + 1] = type;
    this.claimIndex = index;
    return index + headerBytes;
  }

  /** Makes the claimed record visible to the reader. Throws if no claim is open. */
  commit(): void {
    const index = this.claimIndex;
    if (index === noClaim) throw new Error('ring: commit without a claim');
    const slot = index >> 2;
    const lengthNegative = this.headers[slot] ?? 0;
    assert(lengthNegative < 0, 'ring: a claimed record has a negative length until commit');
    this.claimIndex = noClaim;
    // Commit point. Sequentially consistent: the payload and type written before it are visible
    // to a reader whose Atomics.load sees the positive length. A doorbell.wake() after this store
    // reads the consumer's sleeping word, which is what closes the lost wake-up race.
    Atomics.store(this.headers, slot, -lengthNegative);
  }

  /** Gives up the open claim: the room becomes padding the reader skips. Throws if none is open. */
  abort(): void {
    const index = this.claimIndex;
    if (index === noClaim) throw new Error('ring: abort without a claim');
    const slot = index >> 2;
    const lengthNegative = this.headers[slot] ?? 0;
    assert(lengthNegative < 0, 'ring: a claimed record has a negative length until abort');
    this.claimIndex = noClaim;
    this.headers[slot + 1] = paddingTypeId;
    // Same commit point as commit(): the padding type is visible once the length turns positive.
    Atomics.store(this.headers, slot, -lengthNegative);
  }

  /**
   * Returns the index of room for a record of recordBytes (header included), after writing a
   * padding record to the end of the region if the record does not fit before it, or noClaim.
   * Publishes the new tail.
   */
  private claim(recordBytes: number): number {
    const alignedBytes = align(recordBytes);
    const capacityBytes = this.capacityBytes;
    const trailer = this.trailer;
    // Plain read: only this thread writes tail.
    const tail = trailer[this.tailSlot] ?? 0;
    const tailIndex = tail & this.mask;
    const toEndBytes = capacityBytes - tailIndex;
    // Exact fit at the end (alignedBytes === toEndBytes) needs no padding.
    const paddingBytes = alignedBytes > toEndBytes ? toEndBytes : 0;
    const requiredBytes = alignedBytes + paddingBytes;

    let head = trailer[this.headCacheSlot] ?? 0;
    if (capacityBytes - ((tail - head) >>> 0) < requiredBytes) {
      // The cache says full: read the consumer's head. Atomics.load pairs with the consumer's
      // Atomics.store in read(), after which the bytes it consumed are free for reuse.
      head = Atomics.load(trailer, this.headSlot);
      const usedBytes = (tail - head) >>> 0;
      assert(usedBytes <= capacityBytes, 'ring: head is never ahead of tail');
      if (capacityBytes - usedBytes < requiredBytes) return noClaim;
      trailer[this.headCacheSlot] = head;
    }

    let index = tailIndex;
    if (paddingBytes !== 0) {
      const paddingSlot = tailIndex >> 2;
      this.headers[paddingSlot + 1] = paddingTypeId;
      this.headers[paddingSlot] = paddingBytes;
      index = 0;
    }
    // Claimed, not committed. A plain write suffices: the tail store below publishes it, and the
    // reader reads no header at or beyond the tail it loaded.
    this.headers[index >> 2] = -recordBytes;
    // Publish the claim (and padding). The reader may now walk up to this tail; it sees the record
    // as negative-length until commit, never as stale bytes from the previous lap.
    Atomics.store(trailer, this.tailSlot, (tail + requiredBytes) | 0);
    return index;
  }

  // ---- consumer side -------------------------------------------------------------------------

  /**
   * Hands up to countMax committed records to handler, in order, and returns how many it handled.
   * Padding is skipped and not counted. Head advances once, after the batch, in a finally: if the
   * handler throws, the records handled so far (including the one that threw) are consumed and the
   * error propagates.
   */
  read(handler: RecordHandler, countMax: number = Number.MAX_SAFE_INTEGER): number {
    const trailer = this.trailer;
    const headers = this.headers;
    const buffer = this.buffer;
    const mask = this.mask;
    // Plain read: only this thread writes head.
    const head = trailer[this.headSlot] ?? 0;
    // One Atomics.load per batch: everything below this tail was claimed before we loaded it, so
    // each header there is either the claim's negative length or the committed positive one.
    const tail = Atomics.load(trailer, this.tailSlot);
    const availableBytes = (tail - head) >>> 0;
    assert(availableBytes <= this.capacityBytes, 'ring: tail is never a lap ahead of head');
    if (availableBytes === 0) return 0;

    let bytesRead = 0;
    let count = 0;
    try {
      while (bytesRead < availableBytes && count < countMax) {
        const index = (head + bytesRead) & mask;
        const slot = index >> 2;
        // Pairs with the producer's commit store: a positive length makes the payload visible.
        const recordBytes = Atomics.load(headers, slot);
        if (recordBytes <= 0) {
          // Claimed, not committed: only the producer's single open claim can be, the last one.
          assert(bytesRead + align(-recordBytes) === availableBytes, 'ring: open claim is last');
          break;
        }
        const alignedBytes = align(recordBytes);
        assert(recordBytes >= headerBytes, 'ring: record length covers its header');
        assert(alignedBytes <= availableBytes - bytesRead, 'ring: record ends below the tail');
        const type = headers[slot + 1] ?? 0;
        bytesRead += alignedBytes;
        if (type === paddingTypeId) continue;
        assert(type >= typeIdMin, 'ring: record type id is >= 1');
        count++;
        handler(type, buffer, index + headerBytes, recordBytes - headerBytes);
      }
    } finally {
      if (bytesRead > 0) {
        // Frees the batch for the producer (its claim() loads head). A doorbell.wake() of a
        // producer waiting for room must follow this store, for the same reason as after commit.
        Atomics.store(trailer, this.headSlot, (head + bytesRead) | 0);
      }
    }
    return count;
  }

  /**
   * Consumer side: whether read() would hand out or skip at least one record now. An open claim at
   * the head does not count, so a doorbell that re-checks this does not busy-loop on a record the
   * producer is still writing (the producer's wake() after commit covers that case).
   */
  hasReadable(): boolean {
    const head = Atomics.load(this.trailer, this.headSlot);
    const tail = Atomics.load(this.trailer, this.tailSlot);
    if (head === tail) return false;
    return Atomics.load(this.headers, (head & this.mask) >> 2) > 0;
  }

  /**
   * Producer side: whether a record of lengthBytes payload would fit now (a wrap may need more room
   * than the record itself). Reads the shared head.
   */
  canClaim(lengthBytes: number): boolean {
    const alignedBytes = align(headerBytes + lengthBytes);
    const tail = Atomics.load(this.trailer, this.tailSlot);
    const head = Atomics.load(this.trailer, this.headSlot);
    const toEndBytes = this.capacityBytes - (tail & this.mask);
    const requiredBytes = alignedBytes > toEndBytes ? alignedBytes + toEndBytes : alignedBytes;
    return this.capacityBytes - ((tail - head) >>> 0) >= requiredBytes;
  }

  /**
   * The consumer's position (bytes read since the ring was made, mod 2^32): a producer that sees
   * it move knows its consumer is reading. Either side may ask.
   */
  readPosition(): number {
    return Atomics.load(this.trailer, this.headSlot) >>> 0;
  }

  /** Bytes between head and tail (records, padding and any open claim). Either side may ask. */
  usedBytes(): number {
    const head = Atomics.load(this.trailer, this.headSlot);
    const tail = Atomics.load(this.trailer, this.tailSlot);
    return (tail - head) >>> 0;
  }

  private checkRecord(type: number, lengthBytes: number): void {
    if (!Number.isInteger(type) || type < typeIdMin || type > 0x7fffffff) {
      throw new RangeError(`ring: type id must be an Int32 >= ${typeIdMin}, got ${type}`);
    }
    if (!Number.isInteger(lengthBytes) || lengthBytes < 0 || lengthBytes > this.payloadBytesMax) {
      throw new RangeError(
        `ring: record length must lie in [0, ${this.payloadBytesMax}] bytes, got ${lengthBytes}`,
      );
    }
  }
}

// The slot arithmetic (index >> 2) relies on headers sitting on Int32 slots.
assert(alignmentBytes % 4 === 0, 'ring: record headers sit on Int32 slots');
