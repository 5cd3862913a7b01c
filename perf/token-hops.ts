/**
 * The token hop anatomy of a bench run: every node's sampled token stamps (workers/token-hops.ts)
 * matched by token seq into the four stages of one hop, as percentiles. A message waits for the
 * token (the latency anatomy's `taken` stage) for as long as the token takes to come round, and
 * a rotation is its hops end to end: this says which stage of a hop the time, and its tail, is in.
 */
import { createLatencyHistogram, recordLatencyUs, summarizeUs } from '../api/commands/latency.js';
import { tokenHopSampleEvery, type TokenHopSamples, type TokenHopStamps } from '../workers/token-hops.js';

export const hopStages = ['wakeToken', 'tokenWork', 'wakeNet', 'network'] as const;
export type HopStage = (typeof hopStages)[number];

export const hopStageMeaning: Record<HopStage, string> = {
  wakeToken: 'net worker received the token → token worker took it (a wake)',
  tokenWork: 'token worker took it → forwarded the next token (the engine, the broadcast, a hold of an idle token)',
  wakeNet: 'token worker forwarded it → net worker sent it (a wake)',
  network: "one node sent it → the next node's net worker received it",
};

export interface TokenHopFigures {
  /** Hops sampled: token seqs 0 and 1 modulo this. */
  sampleEvery: number;
  stages: { stage: HopStage; count: number; us: { p50: number; p90: number; p99: number; p999: number; max: number } }[];
}

/**
 * Longest time a matched pair may span. Token seqs start again on every ring, so a seq seen on a
 * later ring is another hop; no stage of one hop takes a second while the ring stands.
 */
const pairMsMax = 1000;

/** Seq → the first stamp of it. */
function firstBySeq(s: TokenHopSamples): Map<number, number> {
  const m = new Map<number, number>();
  s.seq.forEach((seq, i) => {
    if (!m.has(seq)) m.set(seq, s.ms[i] as number);
  });
  return m;
}

export function tokenHopFigures(nodes: readonly { tokenHops?: TokenHopStamps | undefined }[]): TokenHopFigures | null {
  const withHops = nodes.map((n) => n.tokenHops).filter((h): h is TokenHopStamps => h !== undefined);
  if (withHops.length === 0) return null;
  const histograms = Object.fromEntries(hopStages.map((s) => [s, createLatencyHistogram()])) as Record<HopStage, ReturnType<typeof createLatencyHistogram>>;
  const pair = (stage: HopStage, fromMs: number | undefined, toMs: number | undefined): void => {
    if (fromMs === undefined || toMs === undefined || toMs < fromMs || toMs - fromMs > pairMsMax) return;
    recordLatencyUs(histograms[stage], (toMs - fromMs) * 1000);
  };
  const perNode = withHops.map((h) => ({
    received: firstBySeq(h.received),
    taken: firstBySeq(h.taken),
    forwarded: firstBySeq(h.forwarded),
    sent: firstBySeq(h.sent),
  }));
  perNode.forEach((n, i) => {
    for (const [seq, ms] of n.taken) {
      pair('wakeToken', n.received.get(seq), ms);
      pair('tokenWork', ms, n.forwarded.get((seq + 1) >>> 0));
    }
    for (const [seq, ms] of n.forwarded) pair('wakeNet', ms, n.sent.get(seq));
    for (const [seq, ms] of n.received) {
      // Sent by another node, the latest such stamp not after this one (its predecessor's).
      let sentMs: number | undefined;
      perNode.forEach((m, j) => {
        const t = j === i ? undefined : m.sent.get(seq);
        if (t !== undefined && t <= ms && (sentMs === undefined || t > sentMs)) sentMs = t;
      });
      pair('network', sentMs, ms);
    }
  });
  return {
    sampleEvery: tokenHopSampleEvery,
    stages: hopStages
      .map((stage) => {
        const s = summarizeUs(histograms[stage]);
        return { stage, count: s.count, us: { p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max } };
      })
      .filter((s) => s.count > 0),
  };
}

/** The token hop anatomy as text lines of the bench report. */
export function formatTokenHops(t: TokenHopFigures, fmt: (n: number) => string): string[] {
  const head = ['p50', 'p90', 'p99', 'p99.9', 'max'].map((v) => v.padStart(8)).join('');
  return [
    `token hop anatomy µs        hops whose token seq is 0 or 1 modulo ${t.sampleEvery}, matched across threads and nodes`,
    `  ${'stage'.padEnd(10)} ${'n'.padStart(7)}${head}`,
    ...t.stages.map((s) => `  ${s.stage.padEnd(10)} ${fmt(s.count).padStart(7)}${[s.us.p50, s.us.p90, s.us.p99, s.us.p999, s.us.max].map((v) => fmt(v).padStart(8)).join('')}   ${hopStageMeaning[s.stage]}`),
  ];
}
