/**
 * Memory layout of one single-producer single-consumer ring over a SharedArrayBuffer. Offsets and
 * sizes only; the algorithm is in spsc-ring.ts and the wake-up protocol in doorbell.ts.
 *
 * The buffer is a power-of-two data region followed by a trailer:
 *
 *   0                                            capacityBytes            + trailerBytes
 *   +--------------------------------------------+-------------------------+
 *   |  data: records, 8-byte aligned, wrapping   |  trailer (5 x 128 B)    |
 *   +--------------------------------------------+-------------------------+
 *
 * Trailer, byte offsets from capacityBytes. Each hot word sits alone on a 128-byte span (two cache
 * lines), so the producer's words and the consumer's words never share a line, and the
 * adjacent-line prefetcher does not pull one side's line in with the other's. The first
 * span keeps the tail off the line holding the last data bytes.
 *
 *   +0    padding
 *   +128  tail       Int32, written by the producer only (Atomics.store), read by the consumer
 *   +256  headCache  Int32, producer only: last head it saw, so it reads the shared head rarely
 *   +384  head       Int32, written by the consumer only (Atomics.store), read by the producer
 *   +512  sleeping   Int32, doorbell word of the consumer (0 awake, 1 sleeping); see doorbell.ts
 *
 * Record, at an 8-byte aligned index in the data region:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-------------------------------------------------------------+
 *   |R|                 length (Int32, header + payload)            |
 *   +-+-------------------------------------------------------------+
 *   |                   type (Int32, >= 1; -1 = padding)            |
 *   +---------------------------------------------------------------+
 *   |                   payload ...                                 ...
 *   +---------------------------------------------------------------+
 *
 * R is the sign bit: a negative length marks a record that is claimed but not committed yet; the
 * reader stops there. The next record starts at index + align8(length). Type 0 is never written,
 * type -1 marks padding (the unused end of the region at a wrap, or an aborted claim).
 *
 * Positions (head, tail, headCache) are byte counters that wrap modulo 2^32, stored as Int32;
 * index = position & (capacityBytes - 1) and used bytes = (tail - head) >>> 0. That is exact while
 * capacityBytes <= 2^30, and needs no BigInt Atomics on the hot path.
 */

export const headerBytes = 8;
export const alignmentBytes = headerBytes;

/** Offsets of the Int32 fields of a record header, in bytes from the record's index. */
export const lengthFieldOffset = 0;
export const typeFieldOffset = 4;

/** Type ids: callers use >= 1. Padding uses -1; 0 is reserved (never written). */
export const paddingTypeId = -1;
export const typeIdMin = 1;

export const spanBytes = 128;
export const tailOffset = spanBytes * 1;
export const headCacheOffset = spanBytes * 2;
export const headOffset = spanBytes * 3;
export const sleepingOffset = spanBytes * 4;
export const trailerBytes = spanBytes * 5;

/** 2 * the header, so that even the smallest ring holds a padding record plus a record. */
export const capacityBytesMin = 64;
/** Largest capacity for which (tail - head) >>> 0 of Int32 positions is exact. */
export const capacityBytesMax = 2 ** 30;

// Relations the algorithm relies on, checked when the module loads.
checkLayout(alignmentBytes === headerBytes, 'records are aligned to the header size');
checkLayout(spanBytes % 8 === 0, 'trailer words stay Int32-aligned');
checkLayout(sleepingOffset + 4 <= trailerBytes, 'the last trailer word fits in the trailer');
checkLayout(capacityBytesMin / 8 >= headerBytes, 'the smallest ring takes an 8-byte payload');
checkLayout(capacityBytesMax <= 2 ** 30, 'used = (tail - head) >>> 0 needs capacity <= 2^30');

export function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0;
}

/** Rounds up to the record alignment (8 bytes). */
export function align(lengthBytes: number): number {
  return (lengthBytes + alignmentBytes - 1) & ~(alignmentBytes - 1);
}

/** Largest payload one record carries: an eighth of the data region, as in Agrona. */
export function payloadBytesMaxOf(capacityBytes: number): number {
  return capacityBytes / 8;
}

/** Total SharedArrayBuffer size for a ring whose data region is capacityBytes. */
export function ringBytesOf(capacityBytes: number): number {
  return capacityBytes + trailerBytes;
}

/** Throws unless capacityBytes is a power of two in [capacityBytesMin, capacityBytesMax]. */
export function checkCapacity(capacityBytes: number): void {
  if (!isPowerOfTwo(capacityBytes)) {
    throw new RangeError(`ring capacity must be a power of two, got ${capacityBytes}`);
  }
  if (capacityBytes < capacityBytesMin || capacityBytes > capacityBytesMax) {
    throw new RangeError(
      `ring capacity must lie in [${capacityBytesMin}, ${capacityBytesMax}], got ${capacityBytes}`,
    );
  }
}

function checkLayout(condition: boolean, message: string): void {
  if (!condition) throw new Error(`ring layout: ${message}`);
}
