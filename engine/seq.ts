/**
 * Wrap-around (serial number, RFC 1982) comparison of 32-bit message sequence numbers.
 *
 * a < b when (b - a) mod 2^32 lies in (0, 2^31). Every pair the protocol compares lies within the
 * sort queue bound (16384) of each other, far inside 2^31, so the order is total where it is used.
 * 2^32 - 1 ("-1", nothing received yet) compares below 0, as evs-spec §7 requires. Corosync's
 * sq_lt_compare shifts both values by 2^31 instead, which misorders pairs that straddle 2^31; the
 * difference rule has no such seam (engine/README.md, deviations).
 */
const half = 0x80000000;

/** The seq that means "none yet": 2^32 - 1, below 0 in wrap-around order. */
export const SEQ_NONE = 0xffffffff;

export function seqLt(a: number, b: number): boolean {
  const d = (b - a) >>> 0;
  return d !== 0 && d < half;
}

export function seqLe(a: number, b: number): boolean {
  return ((b - a) >>> 0) < half;
}

export function seqGt(a: number, b: number): boolean {
  return seqLt(b, a);
}

export function seqGe(a: number, b: number): boolean {
  return seqLe(b, a);
}

export function seqMax(a: number, b: number): number {
  return seqLt(a, b) ? b : a;
}

export function seqMin(a: number, b: number): number {
  return seqLt(a, b) ? a : b;
}

/** a + n modulo 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Distance from a to b (b - a) modulo 2^32, for b at or after a. */
export function seqDistance(a: number, b: number): number {
  return (b - a) >>> 0;
}
