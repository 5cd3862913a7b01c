/**
 * A growing byte writer and a bounds-checked reader for the lock manager's messages. The reader
 * throws LockDecodeError on any short or malformed field; the decoders catch it and report the
 * message as malformed (received bytes are validated, never asserted on).
 */
import { assert } from '../assert.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });
/** Strings up to this long are tried as ASCII first (ByteWriter.str, ByteReader.str). */
const asciiFastBytesMax = 32;

export class LockDecodeError extends Error {
  override readonly name = 'LockDecodeError';
}

export class ByteWriter {
  private buffer = new Uint8Array(64);
  private view = new DataView(this.buffer.buffer);
  private length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): this {
    this.reserve(1);
    this.view.setUint8(this.length, value);
    this.length += 1;
    return this;
  }

  u16(value: number): this {
    this.reserve(2);
    this.view.setUint16(this.length, value);
    this.length += 2;
    return this;
  }

  u32(value: number): this {
    this.reserve(4);
    this.view.setUint32(this.length, value);
    this.length += 4;
    return this;
  }

  /** An integer in 0..2^53-1 (incarnations, counters), as a float64. */
  int53(value: number): this {
    this.reserve(8);
    this.view.setFloat64(this.length, value);
    this.length += 8;
    return this;
  }

  u64(value: bigint): this {
    this.reserve(8);
    this.view.setBigUint64(this.length, value);
    this.length += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.u32(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  /** u32 length + UTF-8, encoded in place (a UTF-16 unit takes at most 3 bytes). */
  str(value: string): this {
    this.reserve(4 + value.length * 3);
    const start = this.length + 4;
    // Short ASCII names byte by byte: encodeInto needs a subarray view per call.
    if (value.length <= asciiFastBytesMax) {
      const buffer = this.buffer;
      let i = 0;
      for (; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buffer[start + i] = c;
      }
      if (i === value.length) {
        this.view.setUint32(this.length, i);
        this.length = start + i;
        return this;
      }
    }
    const { written } = textEncoder.encodeInto(value, this.buffer.subarray(start));
    this.view.setUint32(this.length, written);
    this.length = start + written;
    return this;
  }

  /** Bytes written so far. */
  get byteLength(): number {
    return this.length;
  }

  /** Overwrite a byte already written (a header field known only at the end). */
  setU8(offset: number, value: number): this {
    assert(offset + 1 <= this.length, 'setU8 beyond the bytes written');
    this.view.setUint8(offset, value);
    return this;
  }

  setU16(offset: number, value: number): this {
    assert(offset + 2 <= this.length, 'setU16 beyond the bytes written');
    this.view.setUint16(offset, value);
    return this;
  }

  /** Forget what was written after `length` bytes (an item that did not fit). */
  truncate(length: number): this {
    assert(length >= 0, 'truncate to a negative length');
    assert(length <= this.length, 'truncate beyond the bytes written');
    this.length = length;
    return this;
  }

  /** A copy of the bytes written, from `from` on. */
  finish(from = 0): Uint8Array {
    return this.buffer.slice(from, this.length);
  }
}

export class ByteReader {
  private readonly view: DataView;
  private offset = 0;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.data.length) throw new LockDecodeError(`truncated at byte ${this.offset}`);
  }

  u8(): number {
    this.need(1);
    const v = this.view.getUint8(this.offset);
    this.offset += 1;
    return v;
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  int53(): number {
    this.need(8);
    const v = this.view.getFloat64(this.offset);
    this.offset += 8;
    if (!Number.isSafeInteger(v) || v < 0) throw new LockDecodeError(`not a non-negative integer at byte ${this.offset - 8}`);
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return v;
  }

  bytes(bytesMax: number): Uint8Array {
    const length = this.u32();
    if (length > bytesMax) throw new LockDecodeError(`field of ${length} bytes above its bound ${bytesMax}`);
    this.need(length);
    const v = this.data.slice(this.offset, this.offset + length);
    this.offset += length;
    return v;
  }

  /** Decoded from the received bytes in place (bytes() copies: its fields are kept). */
  str(bytesMax: number): string {
    const length = this.u32();
    if (length > bytesMax) throw new LockDecodeError(`field of ${length} bytes above its bound ${bytesMax}`);
    this.need(length);
    const start = this.offset;
    this.offset += length;
    // Lockspace and resource names are mostly short ASCII: built from the char codes, they skip
    // TextDecoder's call and its subarray view, two of the main thread's costs per operation.
    if (length <= asciiFastBytesMax) {
      const data = this.data;
      let ascii = '';
      let i = start;
      for (; i < start + length; i++) {
        const c = data[i] as number;
        if (c >= 0x80) break;
        ascii += String.fromCharCode(c);
      }
      if (i === start + length) return ascii;
    }
    const view = this.data.subarray(start, start + length);
    try {
      return textDecoder.decode(view);
    } catch {
      throw new LockDecodeError('string is not valid UTF-8');
    }
  }

  /** Count of items that follow, each at least `itemBytesMin` long: bounded by what is left. */
  count(itemBytesMin: number): number {
    const n = this.u32();
    if (n * itemBytesMin > this.data.length - this.offset) throw new LockDecodeError(`count ${n} exceeds the bytes left`);
    return n;
  }

  end(): void {
    if (this.offset !== this.data.length) throw new LockDecodeError(`${this.data.length - this.offset} trailing bytes`);
  }
}
