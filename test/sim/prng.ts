/**
 * The simulator's only source of randomness: xoshiro128** (Blackman & Vigna, 2018) seeded through
 * splitmix32, so that a seed number alone reproduces a whole run. Math.random is never used under
 * test/sim: one call to it would make a failing seed impossible to replay.
 *
 * xoshiro128** is small (four uint32 words), fast with 32-bit integer ops in JS, and passes BigCrush;
 * statistical quality beyond that does not matter for fault injection.
 */

/** splitmix32: spreads a small seed (1, 2, 3, ...) over all 32 bits so that nearby seeds diverge at once. */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
    // Fold the high bits in too, so that seeds above 2^32 do not alias lower ones.
    const state = { x: (seed ^ Math.floor(seed / 0x1_0000_0000)) | 0 };
    this.s0 = splitmix32(state);
    this.s1 = splitmix32(state);
    this.s2 = splitmix32(state);
    this.s3 = splitmix32(state);
    // The all-zero state is the one fixed point of xoshiro; splitmix32 never yields four zeros, but say so.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniform uint32. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 32 bits of precision. */
  float(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  /** A uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) throw new RangeError(`bad range [${min}, ${max}]`);
    const span = max - min + 1;
    if (span > 0x1_0000_0000) throw new RangeError('range wider than 2^32');
    // Rejection sampling: a plain modulo would favour the low values when span does not divide 2^32.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % span);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return min + (x % span);
    }
  }

  /** True with probability p (p <= 0: never; p >= 1: always, without drawing). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.float() < p;
  }

  /** A uniform element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** A uniform float in [min, max). */
  range(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffled<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const a = out[i] as T;
      out[i] = out[j] as T;
      out[j] = a;
    }
    return out;
  }

  /** An independent generator derived from this one, so that adding draws in one part of the
   * simulator (say, the workload) does not shift every draw in another (say, the faults). */
  fork(): Prng {
    return new Prng(this.nextU32() * 0x1f + (this.nextU32() & 0x1f));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
