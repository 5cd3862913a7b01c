/**
 * The token hop anatomy: which packets are sampled, the stamp rings, and the matching of stamps
 * across threads and nodes into the four stages of a hop.
 */
import { describe, expect, it } from 'vitest';
import { encodePacket } from '../../engine/wire/encode.js';
import type { TokenPacket } from '../../engine/types.js';
import { hopStampsWithin, sampledTokenSeq, TokenHopRing, tokenHopSamplesMax, type TokenHopStamps } from '../../workers/token-hops.js';
import { tokenHopFigures } from '../../perf/token-hops.js';

function token(tokenSeq: number): Uint8Array {
  const p: TokenPacket = { type: 'token', sender: 2, ringId: { rep: 1, seq: 4n }, tokenSeq, seq: 0, aru: 0, aruAddr: 0, fcc: 0, backlog: 0, retransFlg: false, rtr: [] };
  return encodePacket(p);
}

describe('token hop stamps', () => {
  it('sample tokens whose seq is 0 or 1 modulo 8, and nothing else', () => {
    expect([8, 9, 10, 15, 16, 17].map((s) => sampledTokenSeq(token(s), 0, token(s).length))).toEqual([8, 9, null, null, 16, 17]);
    // At an offset inside a larger buffer, as in a ring.
    const inRing = new Uint8Array(100);
    inRing.set(token(24), 30);
    expect(sampledTokenSeq(inRing, 30, token(24).length)).toBe(24);
    // Too short to hold a token seq, or another packet type.
    expect(sampledTokenSeq(token(8).subarray(0, 20), 0, 20)).toBeNull();
    const notToken = token(8);
    notToken[1] = 2;
    expect(sampledTokenSeq(notToken, 0, notToken.length)).toBeNull();
  });

  it('keep the last tokenHopSamplesMax stamps of a kind, oldest first, and cut to a window', () => {
    const ring = new TokenHopRing();
    const total = tokenHopSamplesMax + 904;
    for (let s = 0; s < total; s++) ring.stamp(s);
    const { seq, ms } = ring.samples();
    expect(seq).toHaveLength(tokenHopSamplesMax);
    expect(seq[0]).toBe(904);
    expect(seq.at(-1)).toBe(total - 1);
    for (let i = 1; i < ms.length; i++) expect(ms[i]).toBeGreaterThanOrEqual(ms[i - 1] as number);

    const h: TokenHopStamps = { received: { seq: [1, 2, 3], ms: [10, 20, 30] }, taken: { seq: [], ms: [] }, forwarded: { seq: [4], ms: [25] }, sent: { seq: [5], ms: [40] } };
    expect(hopStampsWithin(h, 15, 30)).toEqual({ received: { seq: [2, 3], ms: [20, 30] }, taken: { seq: [], ms: [] }, forwarded: { seq: [4], ms: [25] }, sent: { seq: [], ms: [] } });
  });
});

describe('the token hop anatomy', () => {
  /** A ring of 3 where every hop takes: 40 µs to wake the token worker, 10 to forward, 30 to wake the net worker, 50 on the wire. */
  function ringOf3(hops: number): TokenHopStamps[] {
    const nodes: TokenHopStamps[] = [0, 1, 2].map(() => ({ received: { seq: [], ms: [] }, taken: { seq: [], ms: [] }, forwarded: { seq: [], ms: [] }, sent: { seq: [], ms: [] } }));
    let t = 1_000_000;
    for (let seq = 1; seq <= hops; seq++) {
      const n = nodes[seq % 3] as TokenHopStamps;
      const at = (k: keyof TokenHopStamps, s: number, ms: number): void => {
        if (s % 8 > 1) return;
        n[k].seq.push(s);
        n[k].ms.push(ms);
      };
      at('received', seq, t);
      at('taken', seq, (t += 0.04));
      at('forwarded', seq + 1, (t += 0.01));
      at('sent', seq + 1, (t += 0.03));
      t += 0.05;
    }
    return nodes;
  }

  it('matches the stamps of each stage across threads and nodes', () => {
    const f = tokenHopFigures(ringOf3(800).map((tokenHops) => ({ tokenHops })));
    expect(f?.stages.map((s) => [s.stage, s.us.p50])).toEqual([
      ['wakeToken', 40],
      ['tokenWork', 10],
      ['wakeNet', 30],
      ['network', 50],
    ]);
    // Seqs 0 and 1 modulo 8 of 800 hops: 200 taken stamps; a forward is matched only from seq 0
    // modulo 8; the first token received (seq 1) was sent by nobody in the run.
    expect(f?.stages.map((s) => s.count)).toEqual([200, 100, 200, 199]);
  });

  it('leaves out what does not pair: a seq of another ring, a send of the receiver itself, no stamps at all', () => {
    const nodes = ringOf3(80);
    // The same seq again a minute later (a new ring starts its seqs over): not the same hop.
    (nodes[1] as TokenHopStamps).taken.seq.push(9);
    (nodes[1] as TokenHopStamps).taken.ms.push(1_060_000);
    const f = tokenHopFigures(nodes.map((tokenHops) => ({ tokenHops })));
    expect(f?.stages.find((s) => s.stage === 'wakeToken')?.us.max).toBeLessThan(100);
    // One node alone: what it received was not sent by another node.
    const alone = tokenHopFigures([{ tokenHops: nodes[0] }]);
    expect(alone?.stages.map((s) => s.stage)).toEqual(['wakeToken', 'tokenWork', 'wakeNet']);
    expect(tokenHopFigures([{ tokenHops: undefined }])).toBeNull();
  });
});
