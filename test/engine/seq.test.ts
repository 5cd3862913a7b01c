import { describe, expect, it } from 'vitest';
import { SEQ_NONE, seqAdd, seqDistance, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from '../../engine/seq.js';
import { RingState } from '../../engine/srp/ring-state.js';

describe('wrap-around sequence comparison', () => {
  it('orders small values as integers', () => {
    expect(seqLt(1, 2)).toBe(true);
    expect(seqLt(2, 1)).toBe(false);
    expect(seqLe(2, 2)).toBe(true);
    expect(seqLt(2, 2)).toBe(false);
  });

  it('puts "none" (2^32 - 1) just below 0', () => {
    expect(seqLt(SEQ_NONE, 0)).toBe(true);
    expect(seqGt(0, SEQ_NONE)).toBe(true);
    expect(seqAdd(SEQ_NONE, 1)).toBe(0);
  });

  it('orders across the 2^32 wrap and across 2^31', () => {
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xfffffff0)).toBe(true);
    expect(seqLt(0x7ffffff0, 0x80000010)).toBe(true);
    expect(seqGe(0x80000010, 0x7ffffff0)).toBe(true);
    expect(seqMax(0xfffffffe, 3)).toBe(3);
    expect(seqMin(0xfffffffe, 3)).toBe(0xfffffffe);
    expect(seqDistance(0xfffffffe, 3)).toBe(5);
  });

  it('a ring keeps aru, delivery and release correct across a seq wrap', () => {
    const ring = new RingState({ rep: 1, seq: 4n }, [1]);
    const start = 0xfffffffa;
    ring.aru = start;
    ring.highSeqReceived = start;
    ring.highDelivered = start;
    ring.lowWater = start;
    const frame = (seq: number) => ({ seq, originator: 1, order: 'agreed' as const, payload: new Uint8Array(1), bytes: new Uint8Array(1), inner: null });
    for (let i = 1; i <= 12; i++) {
      if (i === 8) continue; // a hole after the wrap
      ring.store(frame(seqAdd(start, i)));
    }
    expect(ring.aru).toBe(seqAdd(start, 7));
    expect(ring.highSeqReceived).toBe(seqAdd(start, 12));
    expect(ring.missingThrough(seqAdd(start, 12), 10)).toEqual([seqAdd(start, 8)]);
    ring.highDelivered = ring.aru;
    ring.releaseThrough(ring.aru);
    expect(ring.has(seqAdd(start, 3))).toBe(true);
    expect(ring.accepts(seqAdd(start, 3))).toBe(false);
    expect(ring.accepts(seqAdd(start, 8))).toBe(true);
    ring.store(frame(seqAdd(start, 8)));
    expect(ring.aru).toBe(seqAdd(start, 12));
  });
});
