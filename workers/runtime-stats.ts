/**
 * RuntimeStats: one stats request to each worker, answered on its control port, put together
 * with what the main thread counts itself (messages submitted, ring occupancy).
 *
 * A room of its own because it is the one place that knows which worker keeps which counter and
 * under which name it replies (see each worker's stats()), away from the paths that move data.
 */
import type { EngineStats } from '../engine/types.js';
import type { NodeRings } from './runtime-sizing.js';
import type { RingOccupancy, RuntimeStats } from './runtime-types.js';
import type { Body, Workers } from './spawn.js';
import type { Submission } from './submission.js';
import type { TokenHopSamples, TokenHopStamps } from './token-hops.js';

const ringNames = ['submit', 'in', 'out', 'frames', 'delivery'] as const;

function countsOf(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const [k, n] of Object.entries(v)) if (typeof n === 'number') out[k] = n;
  return out;
}

/**
 * `tokenHops`: also the token hop stamps (token-hops.ts), up to 4 × 4,096 of them: for the
 * benchmark, not for every stats() call or metrics scrape.
 */
export async function collectStats(workers: Workers, rings: NodeRings, submission: Submission, options: { tokenHops?: boolean } = {}): Promise<RuntimeStats> {
  const [net, token, delivery] = await Promise.all([
    workers.requestStats('net', options),
    workers.requestStats('token', options),
    workers.requestStats('delivery'),
  ]);
  const num = (b: Body, k: string): number => (typeof b[k] === 'number' ? (b[k] as number) : 0);
  const occupancy: RingOccupancy[] = ringNames.map((name) => ({
    name,
    usedBytes: rings[name].usedBytes(),
    capacityBytes: rings[name].capacityBytes,
  }));
  return {
    engine: token.engine as EngineStats,
    net: {
      datagramsIn: num(net, 'datagramsIn'),
      datagramsOut: num(net, 'datagramsOut'),
      bytesIn: num(net, 'bytesIn'),
      bytesOut: num(net, 'bytesOut'),
      authFailures: num(net, 'authFailures'),
      replays: num(net, 'replays'),
      sendErrors: num(net, 'sendErrors'),
      receiveBufferBytes: num(net, 'receiveBufferBytes'),
      dropped: countsOf(net.dropped),
      warningsHeldBack: num(net, 'warningsHeldBack'),
    },
    messagesSubmitted: submission.submitted,
    messagesDelivered: num(delivery, 'messagesDelivered'),
    rings: occupancy,
    drops: {
      inRingFull: num(net, 'inRingFull'),
      outRingFull: num(token, 'outRingFull'),
      senderMismatch: num(net, 'senderMismatch'),
    },
    deliveryBuffer: {
      bytes: num(delivery, 'spillBytes'),
      bytesPeak: num(delivery, 'spillBytesPeak'),
      recordsSpilled: num(delivery, 'recordsSpilled'),
      bytesMax: num(delivery, 'bytesMax'),
    },
    trace: { orderWaitsTimedOut: num(delivery, 'traceOrderWaitsTimedOut') },
    ...(options.tokenHops === true
      ? {
          tokenHops: {
            received: hopSamples(net.tokenHops, 'received'),
            taken: hopSamples(token.tokenHops, 'taken'),
            forwarded: hopSamples(token.tokenHops, 'forwarded'),
            sent: hopSamples(net.tokenHops, 'sent'),
          },
        }
      : {}),
  };
}

/** One kind of token hop stamps from a worker's stats body; empty if it has none. */
function hopSamples(v: unknown, kind: keyof TokenHopStamps): TokenHopSamples {
  const s = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[kind] : undefined;
  if (typeof s !== 'object' || s === null) return { seq: [], ms: [] };
  const { seq, ms } = s as Partial<TokenHopSamples>;
  return Array.isArray(seq) && Array.isArray(ms) && seq.length === ms.length ? { seq, ms } : { seq: [], ms: [] };
}
