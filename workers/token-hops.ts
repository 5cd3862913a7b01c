/**
 * The token's path through a node, sampled: the latency anatomy (anatomy.ts) shows how long a
 * message waits for the token (its `taken` stage), and this shows where a rotation's time goes.
 * Four stamps on the shared clock (anatomy.ts clockMs) per sampled hop:
 *
 *   received   the net worker took the token off the socket (after authentication)
 *   taken      the token worker took it out of the in ring
 *   forwarded  the token worker handed the next token to the out ring (its token seq is one more)
 *   sent       the net worker handed that token to the socket
 *
 * The benchmark (perf/bench-report.ts) matches them by token seq: received → taken is the net
 * worker waking the token worker, taken → forwarded the token worker's work, forwarded → sent the
 * token worker waking the net worker, and one node's sent → the next node's received the network.
 *
 * Sampled by token seq, so that every node and both threads pick the same hops without talking:
 * a token whose seq is 0 or 1 modulo tokenHopSampleEvery, which takes both the token a node
 * receives (seq s) and the one it forwards (s + 1). Each kind keeps its last tokenHopSamplesMax
 * stamps. Cost: a comparison per token, and a clock read and two stores per sampled one.
 */
import { PacketType } from '../engine/types.js';
import { readU32 } from '../engine/wire/bytes.js';
import { tokenTokenSeqOffset } from '../engine/wire/layout.js';
import { clockMs } from './anatomy.js';

export const tokenHopSampleEvery = 8;
export const tokenHopSamplesMax = 4096;

/** The last stamps of one kind: token seqs and times (ms on the shared clock), oldest first. */
export interface TokenHopSamples {
  seq: number[];
  ms: number[];
}

/** A node's stamps of every kind (RuntimeStats.tokenHops). */
export interface TokenHopStamps {
  received: TokenHopSamples;
  taken: TokenHopSamples;
  forwarded: TokenHopSamples;
  sent: TokenHopSamples;
}

/**
 * The token seq of the packet of `length` bytes at `offset` if it is a token this node samples,
 * else null. Received bytes are not validated here (the engine does that): a malformed packet
 * costs at most a wrong stamp.
 */
export function sampledTokenSeq(bytes: Uint8Array, offset: number, length: number): number | null {
  if (length < tokenTokenSeqOffset + 4 || bytes[offset + 1] !== PacketType.token) return null;
  const seq = readU32(bytes, offset + tokenTokenSeqOffset);
  return seq % tokenHopSampleEvery <= 1 ? seq : null;
}

/** One kind's stamps, in a ring of tokenHopSamplesMax. */
export class TokenHopRing {
  private readonly seqs = new Uint32Array(tokenHopSamplesMax);
  private readonly times = new Float64Array(tokenHopSamplesMax);
  private count = 0;

  stamp(seq: number): void {
    const i = this.count % tokenHopSamplesMax;
    this.seqs[i] = seq;
    this.times[i] = clockMs();
    this.count++;
  }

  samples(): TokenHopSamples {
    const n = Math.min(this.count, tokenHopSamplesMax);
    const first = this.count - n;
    const seq: number[] = [];
    const ms: number[] = [];
    for (let k = first; k < this.count; k++) {
      const i = k % tokenHopSamplesMax;
      seq.push(this.seqs[i] as number);
      ms.push(this.times[i] as number);
    }
    return { seq, ms };
  }
}

/** The stamps in the window [fromMs, toMs] of the shared clock (anatomy.ts clockMs). */
export function hopStampsWithin(h: TokenHopStamps, fromMs: number, toMs: number): TokenHopStamps {
  const cut = (s: TokenHopSamples): TokenHopSamples => {
    const out: TokenHopSamples = { seq: [], ms: [] };
    s.ms.forEach((ms, i) => {
      if (ms < fromMs || ms > toMs) return;
      out.seq.push(s.seq[i] as number);
      out.ms.push(ms);
    });
    return out;
  };
  return { received: cut(h.received), taken: cut(h.taken), forwarded: cut(h.forwarded), sent: cut(h.sent) };
}
