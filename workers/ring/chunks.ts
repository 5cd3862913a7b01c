/**
 * Messages larger than a chunk, carried through one SpscRing as a run of continuation records.
 * The ring refuses a record above capacity / 8, so without this a ring that carries whole
 * application messages had to be 8 × messageBytesMax (16 MiB for the default 1 MiB, 512 MiB for
 * the 64 MiB limit), and at saturation every page of it gets touched as it wraps. With chunks, a
 * ring's size is a choice about buffering, not about the largest message.
 *
 * A message is a type id and a byte string (the record payload it would have had). One of at
 * most chunkBytes is one record of its own type, exactly as before. A longer one is written as
 *
 *   part, part, ..., final
 *
 * where every part carries chunkBytes of the message and the final record, of the message's own
 * type, carries the rest (1..chunkBytes bytes). Part layout (offsets from the record payload):
 *
 *   0 message length u32 | 4 offset of this chunk in the message u32 | 8 chunk bytes
 *
 * The length lets the reader allocate the whole message at the first part; the offset lets it
 * check that nothing was skipped. The final record needs no header: with a single writer that
 * writes the records of one message back to back (ChunkWriter takes no other message until the
 * open one is written), the first non-part record after a part is that message's final record.
 *
 * Why not one record per message with a bigger ring, or a claim that spans the wrap: a claim that
 * spans is a different ring (two regions per record for every reader), and a bigger ring is the
 * memory this exists to save. Why continuation records rather than a length prefix followed by raw
 * records: every record stays self-describing, so the ring's own checks (length, type, padding)
 * still apply to every byte that crosses it.
 *
 * The reader sees parts as they are committed and may see only some of a message when it reads
 * (the writer waits for room mid-message): ChunkReader keeps the partial message across read()
 * calls until the final record arrives, and frees the ring space of each part at once, which is
 * what lets a message larger than the whole ring through. A reassembled message is a fresh array
 * the handler may keep (owned = true); a single record is a view into the ring, valid only while
 * the handler runs (owned = false), as with SpscRing.read.
 */
import { assert } from '../../engine/assert.js';
import type { SpscRing } from './spsc-ring.js';

/** Bytes before the chunk in a part record: message length u32, chunk offset u32. */
export const partHeaderBytes = 8;

/**
 * Called once per message, in ring order. buffer[offset, offset + length) is the message. owned:
 * the buffer is this message's own copy (reassembled from parts) and may be kept; otherwise it is
 * the ring's data region, valid only until the handler returns.
 */
export type MessageHandler = (
  type: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  owned: boolean,
) => void;

/** Throws unless a part of chunkBytes fits the ring and the part type is a valid id. */
function checkChunking(ring: SpscRing, partType: number, chunkBytes: number): void {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || partHeaderBytes + chunkBytes > ring.payloadBytesMax) {
    throw new RangeError(
      `chunks: chunkBytes must lie in [1, ${ring.payloadBytesMax - partHeaderBytes}] for this ring, got ${chunkBytes}`,
    );
  }
  if (!Number.isInteger(partType) || partType < 1) throw new RangeError(`chunks: bad part type ${partType}`);
}

/**
 * Producer side: writes one message at a time as records of at most chunkBytes. Never blocks:
 * writeSome() writes what fits and says whether the message is done; a caller that may block
 * waits for room (canClaim(nextRecordBytes())) on its doorbell and calls it again, and one that
 * may not (the main thread) calls detach() to keep the rest without holding the caller's buffers.
 */
export class ChunkWriter {
  private segments: Uint8Array[] = [];
  /** Message offset of segments[0][0] (non-zero after detach()). */
  private segmentsBase = 0;
  private type = 0;
  private totalBytes = 0;
  /** Message bytes already committed to the ring. */
  private writtenBytes = 0;
  private isOpen = false;

  constructor(
    private readonly ring: SpscRing,
    private readonly partType: number,
    readonly chunkBytes: number,
  ) {
    checkChunking(ring, partType, chunkBytes);
  }

  /** Whether a message is started and not fully written. */
  get open(): boolean {
    return this.isOpen;
  }

  /** Bytes of the open message still to be written (0 when none is open). */
  get remainingBytes(): number {
    return this.isOpen ? this.totalBytes - this.writtenBytes : 0;
  }

  /**
   * Starts a message of `type` whose bytes are the concatenation of `segments` (e.g. an encoded
   * header and the payload: no copy is made to join them). Nothing is written until writeSome().
   * The segments must stay unchanged until the message is written or detach() was called.
   */
  begin(type: number, segments: readonly Uint8Array[]): void {
    if (this.isOpen) throw new Error('chunks: begin while a message is open');
    if (!Number.isInteger(type) || type < 1 || type === this.partType) {
      throw new RangeError(`chunks: bad message type ${type}`);
    }
    let total = 0;
    for (const s of segments) total += s.length;
    if (total > 0xffffffff) throw new RangeError(`chunks: message of ${total} bytes exceeds 2^32 - 1`);
    this.segments = [...segments];
    this.segmentsBase = 0;
    this.type = type;
    this.totalBytes = total;
    this.writtenBytes = 0;
    this.isOpen = true;
  }

  /** Whether the ring has room for the next record of the open message now. */
  canWriteNext(): boolean {
    return this.isOpen && this.ring.canClaim(this.nextRecordBytes());
  }

  /** Payload length of the next record of the open message (for ring.canClaim). */
  nextRecordBytes(): number {
    assert(this.isOpen, 'chunks: nextRecordBytes needs an open message');
    const remaining = this.totalBytes - this.writtenBytes;
    return remaining > this.chunkBytes ? partHeaderBytes + this.chunkBytes : remaining;
  }

  /**
   * Writes and commits as many records of the open message as the ring has room for, in order.
   * Returns how many it wrote; the caller rings the reader's doorbell when that is > 0 (after the
   * commits, as ring/doorbell.ts asks). `open` is false once the final record is committed.
   */
  writeSome(): number {
    const ring = this.ring;
    let count = 0;
    while (this.isOpen) {
      const remaining = this.totalBytes - this.writtenBytes;
      const last = remaining <= this.chunkBytes;
      const chunk = last ? remaining : this.chunkBytes;
      const recordBytes = last ? chunk : partHeaderBytes + chunk;
      const offset = ring.tryClaim(last ? this.type : this.partType, recordBytes);
      if (offset === null) break;
      let at = offset;
      if (!last) {
        const b = ring.buffer;
        writeU32(b, at, this.totalBytes);
        writeU32(b, at + 4, this.writtenBytes);
        at += partHeaderBytes;
      }
      this.copyOut(ring.buffer, at, chunk);
      ring.commit();
      this.writtenBytes += chunk;
      count++;
      if (last) this.finish();
    }
    return count;
  }

  /**
   * Copies the unwritten rest of the open message into an array of its own, so that the caller's
   * segments may change from now on (the application's payload, once submit() said accepted).
   * Costs one copy of the rest; nothing when no message is open.
   */
  detach(): void {
    if (!this.isOpen) return;
    const rest = new Uint8Array(this.totalBytes - this.writtenBytes);
    this.copyOut(rest, 0, rest.length);
    this.segments = [rest];
    this.segmentsBase = this.writtenBytes;
  }

  /** Drops the open message, if any (the ring keeps whatever parts were committed). */
  reset(): void {
    this.finish();
  }

  private finish(): void {
    this.isOpen = false;
    this.segments = [];
    this.segmentsBase = 0;
  }

  /** Copies message bytes [writtenBytes, writtenBytes + n) to dest[at...]. */
  private copyOut(dest: Uint8Array, at: number, n: number): void {
    let from = this.writtenBytes - this.segmentsBase;
    let to = at;
    let left = n;
    for (const s of this.segments) {
      if (left === 0) break;
      if (from >= s.length) {
        from -= s.length;
        continue;
      }
      const take = Math.min(s.length - from, left);
      dest.set(from === 0 && take === s.length ? s : s.subarray(from, from + take), to);
      to += take;
      left -= take;
      from = 0;
    }
    assert(left === 0, 'chunks: the segments hold the whole message');
  }
}

/**
 * Consumer side: reads records from the ring and hands whole messages to a handler, reassembling
 * the ones written as parts. Keeps a partial message between read() calls.
 */
export class ChunkReader {
  private partial: Uint8Array | null = null;
  private filledBytes = 0;
  private handler: MessageHandler = noHandler;

  private readonly onRecord = (type: number, buffer: Uint8Array, offset: number, length: number): void => {
    if (type === this.partType) {
      this.onPart(buffer, offset, length);
      return;
    }
    const partial = this.partial;
    if (partial === null) {
      this.handler(type, buffer, offset, length, false);
      return;
    }
    // The final record of the message the parts began.
    assert(this.filledBytes + length === partial.length, 'chunks: final record completes the message');
    partial.set(buffer.subarray(offset, offset + length), this.filledBytes);
    this.partial = null;
    this.filledBytes = 0;
    this.handler(type, partial, 0, partial.length, true);
  };

  /**
   * messageBytesMax bounds the allocation a first part may ask for: a corrupt length asserts
   * rather than allocating gigabytes.
   */
  constructor(
    private readonly ring: SpscRing,
    private readonly partType: number,
    private readonly messageBytesMax: number,
  ) {
    if (!Number.isInteger(partType) || partType < 1) throw new RangeError(`chunks: bad part type ${partType}`);
  }

  /** Whether some parts of a message were read and its final record was not. */
  hasPartial(): boolean {
    return this.partial !== null;
  }

  /** Bytes of the partial message received so far (0 when none). */
  partialBytes(): number {
    return this.filledBytes;
  }

  /**
   * Reads up to countMax records (parts count, so a batch is bounded in bytes as before) and
   * hands each completed message to handler. Returns how many records it consumed; as with
   * SpscRing.read, head moves once per batch and the caller rings a producer waiting for room.
   */
  read(handler: MessageHandler, countMax: number = Number.MAX_SAFE_INTEGER): number {
    this.handler = handler;
    try {
      return this.ring.read(this.onRecord, countMax);
    } finally {
      this.handler = noHandler;
    }
  }

  private onPart(buffer: Uint8Array, offset: number, length: number): void {
    assert(length > partHeaderBytes, 'chunks: a part carries bytes');
    const total = readU32(buffer, offset);
    const at = readU32(buffer, offset + 4);
    const chunk = length - partHeaderBytes;
    let partial = this.partial;
    if (partial === null) {
      assert(at === 0, 'chunks: a message starts with its first part');
      assert(total > chunk && total <= this.messageBytesMax, 'chunks: message length within bounds');
      partial = new Uint8Array(total);
      this.partial = partial;
      this.filledBytes = 0;
    }
    assert(total === partial.length, 'chunks: every part names the same message length');
    assert(at === this.filledBytes, 'chunks: parts arrive in order, none skipped');
    assert(at + chunk < total, 'chunks: a part leaves bytes for the final record');
    partial.set(buffer.subarray(offset + partHeaderBytes, offset + length), at);
    this.filledBytes = at + chunk;
  }
}

function noHandler(): void {
  throw new Error('chunks: record handled outside read()');
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) +
    (b[at + 3] as number) * 0x1000000;
}
