import { describe, expect, it } from 'vitest';
import { IntegrityCheck, probeBytesMin, readProbe, writeProbe } from '../../api/commands/probe-payload.js';

function probe(sender: number, seq: number, size = 64): Uint8Array {
  const b = new Uint8Array(size);
  writeProbe(b, sender, seq, 123456789n);
  return b;
}

describe('probe payload', () => {
  it('round-trips sender, seq above 2^32 and the intended send time', () => {
    const p = readProbe(probe(7, 2 ** 40 + 5, 1024));
    expect(p).toEqual({ sender: 7, seq: 2 ** 40 + 5, intendedNs: 123456789n });
  });

  it('reads a flipped byte anywhere, a wrong length or a foreign payload as corrupt', () => {
    const b = probe(1, 3, 200);
    for (const at of [0, 5, 9, 17, 26, 40, 199]) {
      const c = b.slice();
      c[at] = (c[at] as number) ^ 0x10;
      expect(readProbe(c)).toBeNull();
    }
    expect(readProbe(b.subarray(0, 199))).toBeNull();
    expect(readProbe(new Uint8Array(probeBytesMin))).toBeNull();
  });
});

describe('integrity check', () => {
  it('counts gaps, duplicates and reordering per sender incarnation, and nothing in order', () => {
    const check = new IntegrityCheck();
    for (const seq of [1, 2, 3]) check.observe(1, 100, readProbe(probe(1, seq)));
    for (const seq of [1, 2]) check.observe(2, 100, readProbe(probe(2, seq)));
    expect([check.missing, check.duplicated, check.reordered, check.corrupt]).toEqual([0, 0, 0, 0]);
    check.observe(1, 100, readProbe(probe(1, 6))); // 4 and 5 skipped
    check.observe(1, 100, readProbe(probe(1, 6))); // the same again
    check.observe(1, 100, readProbe(probe(1, 2))); // far behind
    check.observe(1, 100, null);
    expect([check.missing, check.duplicated, check.reordered, check.corrupt]).toEqual([2, 1, 1, 1]);
    // A restarted sender (new incarnation) starts its own sequence.
    check.observe(1, 200, readProbe(probe(1, 1)));
    expect(check.missing).toBe(2);
  });

  it('forgives the gap of a sender outside a transitional configuration, not of one inside it', () => {
    const check = new IntegrityCheck();
    check.observe(1, 1, readProbe(probe(1, 1)));
    check.observe(2, 1, readProbe(probe(2, 1)));
    check.onTransitional([2]);
    check.observe(1, 1, readProbe(probe(1, 9)));
    expect(check.missing).toBe(0);
    check.observe(2, 1, readProbe(probe(2, 4)));
    expect(check.missing).toBe(2);
  });
});
