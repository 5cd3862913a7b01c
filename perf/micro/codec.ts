/**
 * Codec micro-benchmarks: encode and decode of a data frame (64 B and 1406 B payloads: the
 * smallest probe-sized message and the largest frame payload at MTU 1500) and of a token.
 */
import { decodePacket, encodeMcast, encodePacket } from '../../engine/wire/codec.js';
import type { TokenPacket } from '../../engine/types.js';
import { measure, type MicroResult } from './measure.js';

export function codecBenchmarks(runs: number, scale: number): MicroResult[] {
  const ringId = { rep: 1, seq: 4n };
  const results: MicroResult[] = [];
  for (const payloadBytes of [64, 1406]) {
    const payload = new Uint8Array(payloadBytes).fill(7);
    const ops = Math.round(scale * (payloadBytes > 100 ? 500_000 : 1_000_000));
    results.push(measure(`codec: encode mcast ${payloadBytes} B`, ops, runs, (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += encodeMcast(2, ringId, i, 2, 'agreed', payload).length;
      return s;
    }));
    const bytes = encodeMcast(2, ringId, 17, 2, 'agreed', payload);
    results.push(measure(`codec: decode mcast ${payloadBytes} B`, ops, runs, (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) if (decodePacket(bytes).ok) s += 1;
      return s;
    }));
  }
  const token: TokenPacket = {
    type: 'token', sender: 1, ringId, tokenSeq: 9, seq: 1000, aru: 990, aruAddr: 2, fcc: 17, backlog: 3,
    retransFlg: false, rtr: [{ ringId, seq: 991 }, { ringId, seq: 995 }],
  };
  const ops = Math.round(scale * 1_000_000);
  results.push(measure('codec: encode token (2 rtr entries)', ops, runs, (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      token.tokenSeq = i;
      s += encodePacket(token).length;
    }
    return s;
  }));
  const tokenBytes = encodePacket(token);
  results.push(measure('codec: decode token (2 rtr entries)', ops, runs, (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) if (decodePacket(tokenBytes).ok) s += 1;
    return s;
  }));
  return results;
}
