/**
 * The bench's figures: built from the node processes' final JSON lines (and the harness's own
 * timings), printed as text or as one JSON object (every field is listed in README.md,
 * "Measuring"), and handed to perf/html-report.ts.
 */
import {
  createLatencyHistogram,
  decodeHistogram,
  summarizeUs,
  type LatencyHistogram,
  type LatencySummaryUs,
} from '../api/commands/latency.js';
import type { BenchArgs } from './bench-args.js';
import type { FrameShape } from './frame-size.js';
import type { UdpBaselineResult, UdpRoundTripResult } from './udp-baseline.js';
import { deriveMaxMessages, engineDefaults } from '../engine/config.js';
import { formatTokenHops, tokenHopFigures, type TokenHopFigures } from './token-hops.js';
import type { TokenHopStamps } from '../workers/token-hops.js';
import { ownStages, peerStages, type AnatomyJson } from '../api/commands/anatomy-recorder.js';

/** The last line a `totem-evs node` process prints (the fields the bench reads). */
export interface NodeSummary {
  node: string;
  sentMsgs: number;
  deliveredMsgs: number;
  deliveredBytes: number;
  integrity: { corrupt: number; missing: number; duplicated: number; reordered: number };
  retransmitsSent: number | null;
  tokenRotations: number | null;
  configurations: number;
  timeline: number[];
  /** Wall-clock ms at which timeline[0] starts. */
  timelineStartMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  peakRssBytes: number;
  /** Most bytes of deliveries the delivery worker held beyond the delivery ring (null: no stats). */
  deliveryBufferBytesPeak?: number | null;
  ownHistogram: string;
  latencyHistogram: string;
  /** Paced senders: send() called − intended, µs (api/commands/pacer.ts). */
  pacerHistogram?: string;
  /** Per-stage histograms of sampled messages (api/commands/anatomy-recorder.ts). */
  anatomy?: AnatomyJson;
  /** The node's sampled token stamps in the measured window (workers/token-hops.ts); null without stats. */
  tokenHops?: TokenHopStamps | null;
  firstDeliveryMs: number;
  lastDeliveryMs: number;
  /**
   * Wall-clock ms of each regular configuration line the node printed (added by the bench),
   * except those with cause `leave`: a member stopping on purpose (the senders at the end of
   * --duration) is not a failure in the measured window.
   */
  regularAtMs?: number[];
}

export interface FailoverFigures {
  killedNode: number;
  /** SIGKILL (--scenario failover: a crash) or SIGTERM (--scenario restart: a graceful leave). */
  stopSignal: 'SIGKILL' | 'SIGTERM';
  killAtS: number;
  detectMs: number;
  perSurvivorDetectMs: number[];
  /** The cause each survivor printed with that configuration (`token-loss` after a crash, `leave` after a clean stop). */
  survivorCauses: string[];
  restartAtS: number;
  rejoinMs: number;
  perNodeRejoinMs: number[];
}

/** What a scenario hands to the report: node summaries in process order, and harness timings. */
export interface RunResult {
  summaries: NodeSummary[];
  timelineNodes: number[];
  /** Wall-clock ms of the first spawn: the origin of the timelines' common axis. */
  spawnMs: number;
  coldFormMs: number | null;
  failover: FailoverFigures | null;
}

export interface BaselineFigures extends UdpBaselineResult {
  kind: 'udp';
  msgsPerFrame: number;
  ourFramesPerSec: number;
  fractionOfFrames: number;
  fractionOfBytes: number;
  /** A paced datagram of the frame size around the ring of bare node:dgram processes. */
  roundTrip: UdpRoundTripResult | null;
  /** ownLatencyUs.p50 / roundTrip.rttUs.p50: what a message's own delivery costs in bare circuits. */
  ownP50PerRoundTripP50: number | null;
}

/** One stage of the anatomy: µs from the intended send, and µs since the previous stage (p50/p90/p99). */
export interface StageFigures {
  stage: string;
  count: number;
  fromIntendedUs: { p50: number; p90: number; p99: number };
  stepUs: { p50: number; p90: number; p99: number };
}

export interface AnatomyFigures {
  /** One message in this many was sampled (by its sender's counter). */
  sampleEvery: number;
  /** The senders' own messages, every stage from send() to 'message'. */
  own: StageFigures[];
  /** Messages of other nodes, from the frame leaving the receiver's in ring to 'message'. */
  peer: StageFigures[];
}

export interface BenchReport {
  config: {
    nodes: number; sizeBytes: number; senders: number; order: string; rate: string; durationS: number;
    warmupS: number; netMtu: number; encrypted: boolean; tokenTimeoutMs: number; windowSize: number;
    maxMessages: number; scenario: string; frameBytes: number; msgsPerFrame: number; transport: string;
    host: string; nodeVersion: string;
  };
  throughput: { msgsPerSecSlowest: number; mbPerSecSlowest: number; perNodeMsgsPerSec: number[]; measuredS: number };
  latencyUs: LatencySummaryUs;
  ownLatencyUs: LatencySummaryUs;
  /** Paced runs: how late the load generator called send() after the intended time; count 0 at max rate. */
  pacerLatenessUs: LatencySummaryUs;
  anatomy: AnatomyFigures | null;
  /** Where a token hop's time goes, sampled (perf/token-hops.ts); null when no node reported stamps. */
  tokenHops: TokenHopFigures | null;
  protocol: { tokenRotationsPerSec: number; retransmitsSent: number; configurations: number[]; configurationsInWindow: number[] };
  membership: { coldFormMs: number | null };
  failover: FailoverFigures | null;
  baseline: BaselineFigures | null;
  nodes: { node: string; cpuUserMs: number; cpuSystemMs: number; peakRssBytes: number; deliveryBufferBytesPeak: number | null; sentMsgs: number; deliveredMsgs: number }[];
  timelines: { node: string; offsetS: number; deliveredPerSec: number[] }[];
  integrity: { corrupt: number; missing: number; duplicated: number; reordered: number };
}

export interface MergedHistograms {
  all: LatencyHistogram;
  own: LatencyHistogram;
}

export function buildReport(
  args: BenchArgs,
  run: RunResult,
  shape: FrameShape,
  udp: UdpBaselineResult | null,
  roundTrip: UdpRoundTripResult | null = null,
): { report: BenchReport; histograms: MergedHistograms } {
  const nodes = run.summaries;
  // The measured window, on the wall clock: from the moment the ring formed (the senders start
  // then) plus the warmup, to the end of --duration or the senders' last delivery, whichever is
  // first. Each node's per-second bins are weighted by their overlap with it (a bin past the end
  // of a node's timeline counts as zero deliveries). In failover, the restarted node (a later
  // process) is left out of the throughput figures.
  const loadStartMs = run.spawnMs + (run.coldFormMs ?? 0);
  const senders = nodes.slice(0, Math.max(1, args.senders));
  const loadEndMs = Math.max(...senders.map((n) => n.timelineStartMs + n.lastDeliveryMs));
  let windowStartMs = loadStartMs + args.warmupS * 1000;
  let windowEndMs = Math.min(windowStartMs + args.durationS * 1000, loadEndMs);
  if (windowEndMs - windowStartMs < 500) {
    windowStartMs = loadStartMs;
    windowEndMs = Math.max(loadStartMs + 1, loadEndMs);
  }
  const measured = run.failover === null ? nodes : nodes.slice(0, args.nodes - 1);
  const rates = measured.map((n) => {
    let weighted = 0;
    let overlapMs = 0;
    const firstBin = Math.floor((windowStartMs - n.timelineStartMs) / 1000);
    const lastBin = Math.floor((windowEndMs - n.timelineStartMs) / 1000);
    for (let i = Math.max(0, firstBin); i <= lastBin; i++) {
      const binStartMs = n.timelineStartMs + i * 1000;
      const ov = Math.max(0, Math.min(binStartMs + 1000, windowEndMs) - Math.max(binStartMs, windowStartMs));
      weighted += (n.timeline[i] ?? 0) * ov;
      overlapMs += ov;
    }
    return overlapMs === 0 ? 0 : weighted / overlapMs;
  });
  const slowest = rates.length === 0 ? 0 : Math.min(...rates);
  const all = createLatencyHistogram();
  const own = createLatencyHistogram();
  for (const n of nodes) {
    all.add(decodeHistogram(n.latencyHistogram));
    own.add(decodeHistogram(n.ownHistogram));
  }
  const pacer = createLatencyHistogram();
  for (const n of nodes) if (n.pacerHistogram !== undefined) pacer.add(decodeHistogram(n.pacerHistogram));
  const rep = nodes[0] as NodeSummary;
  const spanS = Math.max(1e-3, (rep.lastDeliveryMs - rep.firstDeliveryMs) / 1000);
  const integrity = { corrupt: 0, missing: 0, duplicated: 0, reordered: 0 };
  for (const n of nodes) {
    integrity.corrupt += n.integrity.corrupt;
    integrity.missing += n.integrity.missing;
    integrity.duplicated += n.integrity.duplicated;
    integrity.reordered += n.integrity.reordered;
  }
  const mbPerSecSlowest = (slowest * args.sizeBytes) / 1e6;
  let baseline: BaselineFigures | null = null;
  if (udp !== null) {
    const ourFramesPerSec = slowest / shape.msgsPerFrame;
    baseline = {
      kind: 'udp',
      ...udp,
      msgsPerFrame: round3(shape.msgsPerFrame),
      ourFramesPerSec: Math.round(ourFramesPerSec),
      fractionOfFrames: udp.framesPerSecSlowest > 0 ? round3(ourFramesPerSec / udp.framesPerSecSlowest) : 0,
      fractionOfBytes: udp.bytesPerSecSlowest > 0 ? round3((slowest * args.sizeBytes) / udp.bytesPerSecSlowest) : 0,
      roundTrip,
      ownP50PerRoundTripP50: null,
    };
  }
  const report: BenchReport = {
    config: {
      nodes: args.nodes, sizeBytes: args.sizeBytes, senders: args.senders, order: args.order, rate: args.rate,
      durationS: args.durationS, warmupS: args.warmupS, netMtu: args.netMtu ?? 1500, encrypted: args.keyFile !== null,
      tokenTimeoutMs: args.tokenMs ?? 1000, windowSize: args.window ?? engineDefaults.windowSize, maxMessages: args.maxMessages ?? deriveMaxMessages(args.window ?? engineDefaults.windowSize),
      scenario: args.scenario, frameBytes: shape.frameBytes, msgsPerFrame: round3(shape.msgsPerFrame),
      transport: args.transport, host: args.netns ? '198.18.0.0/24' : '127.0.0.1', nodeVersion: process.version,
    },
    throughput: {
      msgsPerSecSlowest: Math.round(slowest),
      mbPerSecSlowest: round3(mbPerSecSlowest),
      perNodeMsgsPerSec: rates.map(Math.round),
      measuredS: round3((windowEndMs - windowStartMs) / 1000),
    },
    latencyUs: summarizeUs(all),
    ownLatencyUs: summarizeUs(own),
    pacerLatenessUs: summarizeUs(pacer),
    anatomy: mergeAnatomy(nodes),
    tokenHops: tokenHopFigures(nodes.map((n) => ({ tokenHops: n.tokenHops ?? undefined }))),
    protocol: {
      tokenRotationsPerSec: Math.round((rep.tokenRotations ?? 0) / spanS),
      retransmitsSent: nodes.reduce((a, n) => a + (n.retransmitsSent ?? 0), 0),
      configurations: nodes.map((n) => n.configurations),
      // In a steady run the ring formed before the window opened: any regular configuration
      // inside it is a membership change under load (a false failure detection, or a real fault).
      configurationsInWindow: nodes.map((n) => (n.regularAtMs ?? []).filter((t) => t >= windowStartMs && t <= windowEndMs).length),
    },
    membership: { coldFormMs: run.coldFormMs },
    failover: run.failover,
    baseline,
    nodes: nodes.map((n) => ({
      node: n.node, cpuUserMs: n.cpuUserMs, cpuSystemMs: n.cpuSystemMs, peakRssBytes: n.peakRssBytes,
      deliveryBufferBytesPeak: n.deliveryBufferBytesPeak ?? null,
      sentMsgs: n.sentMsgs, deliveredMsgs: n.deliveredMsgs,
    })),
    timelines: nodes.map((n) => ({ node: n.node, offsetS: round3((n.timelineStartMs - run.spawnMs) / 1000), deliveredPerSec: n.timeline })),
    integrity,
  };
  if (baseline?.roundTrip != null && baseline.roundTrip.rttUs.p50 > 0 && report.ownLatencyUs.count > 0) {
    baseline.ownP50PerRoundTripP50 = round3(report.ownLatencyUs.p50 / baseline.roundTrip.rttUs.p50);
  }
  return { report, histograms: { all, own } };
}

/** Merges every node's stage histograms (anatomy-recorder.ts) into percentiles per stage. */
export function mergeAnatomy(nodes: NodeSummary[]): AnatomyFigures | null {
  const withAnatomy = nodes.filter((n) => n.anatomy !== undefined);
  if (withAnatomy.length === 0) return null;
  const side = (key: 'own' | 'peer', stages: readonly string[]): StageFigures[] => stages.map((stage) => {
    const from = createLatencyHistogram();
    const step = createLatencyHistogram();
    for (const n of withAnatomy) {
      const h = n.anatomy?.[key][stage];
      if (h === undefined) continue;
      from.add(decodeHistogram(h.fromIntended));
      step.add(decodeHistogram(h.step));
    }
    const pick = (h: LatencyHistogram): { p50: number; p90: number; p99: number } => {
      const s = summarizeUs(h);
      return { p50: s.p50, p90: s.p90, p99: s.p99 };
    };
    return { stage, count: from.totalCount, fromIntendedUs: pick(from), stepUs: pick(step) };
  }).filter((f) => f.count > 0);
  return { sampleEvery: (withAnatomy[0] as NodeSummary).anatomy?.sampleEvery ?? 0, own: side('own', ownStages), peer: side('peer', peerStages) };
}

/** What each stage means, for the text and HTML reports. */
export const stageMeaning: Record<string, string> = {
  sendCalled: 'send() called (the pacer woke)',
  accepted: 'the runtime took the send (submit ring)',
  taken: 'the token worker took it (counter assigned)',
  frame: 'own: its frame broadcast; others: the frame left the in ring',
  engine: 'the engine delivered the frame (total order)',
  worker: 'the delivery worker assembled the message',
  pump: 'the main thread read it from the delivery ring',
  emitted: "'message' emitted",
};

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatReport(r: BenchReport): string {
  const c = r.config;
  const lat = (l: LatencySummaryUs): string =>
    `p50 ${fmt(l.p50)}  p90 ${fmt(l.p90)}  p99 ${fmt(l.p99)}  p99.9 ${fmt(l.p999)}  p99.99 ${fmt(l.p9999)}  max ${fmt(l.max)}`;
  const lines = [
    `totem-evs bench: ${c.nodes} nodes on ${c.host}, ${c.senders} sender(s), ${c.sizeBytes} B ${c.order}, rate ${c.rate}, ${c.durationS} s after ${c.warmupS} s warmup, scenario ${c.scenario}, node ${c.nodeVersion}`,
    '',
    `throughput (slowest node)   ${fmt(r.throughput.msgsPerSecSlowest)} msgs/s   ${r.throughput.mbPerSecSlowest.toFixed(1)} MB/s   per node: ${r.throughput.perNodeMsgsPerSec.map(fmt).join(' / ')}`,
    `latency µs, every delivery  ${lat(r.latencyUs)}`,
    `latency µs, own delivery    ${lat(r.ownLatencyUs)}`,
    `token rotations             ${fmt(r.protocol.tokenRotationsPerSec)} /s    retransmissions ${fmt(r.protocol.retransmitsSent)}    configurations ${r.protocol.configurations.join(' / ')} (${r.protocol.configurationsInWindow.join(' / ')} in the measured window)`,
    `ring formation (cold)       ${r.membership.coldFormMs === null ? 'not seen' : `${fmt(r.membership.coldFormMs)} ms from spawn to every node's first ${c.nodes}-member configuration`}`,
  ];
  if (r.pacerLatenessUs.count > 0) {
    lines.push(`pacer lateness µs           ${lat(r.pacerLatenessUs)}  (send() called − intended)`);
  }
  if (r.anatomy !== null) lines.push(...formatAnatomy(r.anatomy));
  if (r.tokenHops !== null) lines.push(...formatTokenHops(r.tokenHops, fmt));
  if (r.failover !== null) {
    const f = r.failover;
    lines.push(
      `${(f.stopSignal === 'SIGTERM' ? 'leave' : 'failover').padEnd(28)}node ${f.killedNode} sent ${f.stopSignal} at ${f.killAtS.toFixed(1)} s: every survivor in its new configuration after ${fmt(f.detectMs)} ms (${f.perSurvivorDetectMs.map(fmt).join(' / ')}), cause ${[...new Set(f.survivorCauses)].join(' / ')}`,
      `rejoin                      restarted at ${f.restartAtS.toFixed(1)} s: back in the ring of ${c.nodes} after ${fmt(f.rejoinMs)} ms (token timeout ${c.tokenTimeoutMs} ms)`,
    );
  }
  if (r.baseline !== null) {
    const b = r.baseline;
    lines.push(
      `udp baseline                ${fmt(b.framesPerSecSlowest)} frames/s   ${(b.bytesPerSecSlowest / 1e6).toFixed(1)} MB/s at the slowest of ${b.receivers} receivers (${b.frameBytes} B frames, 1 sender, ${b.durationS} s)`,
      `totem-evs vs baseline       ${fmt(b.ourFramesPerSec)} frames/s (${b.msgsPerFrame} msgs/frame) = ${(b.fractionOfFrames * 100).toFixed(1)}% of its frames/s; payload ${(b.fractionOfBytes * 100).toFixed(1)}% of its bytes/s`,
    );
    if (b.roundTrip !== null) {
      const t = b.roundTrip;
      lines.push(
        `udp round trip (µs)         p50 ${fmt(t.rttUs.p50)}  p90 ${fmt(t.rttUs.p90)}  p99 ${fmt(t.rttUs.p99)}  p99.9 ${fmt(t.rttUs.p999)}  max ${fmt(t.rttUs.max)}  (${t.frameBytes} B around ${t.nodes} processes, ${fmt(t.ratePerSec)}/s, ${t.lostFrames} lost)`,
      );
      if (b.ownP50PerRoundTripP50 !== null) {
        lines.push(`own p50 vs round trip p50   ${b.ownP50PerRoundTripP50.toFixed(2)}x`);
      }
    }
  }
  lines.push(
    ...r.nodes.map((n) => `node ${n.node.padEnd(3)}                    cpu ${fmt(n.cpuUserMs + n.cpuSystemMs)} ms   peak RSS ${(n.peakRssBytes / 1048576).toFixed(0)} MiB   sent ${fmt(n.sentMsgs)}   delivered ${fmt(n.deliveredMsgs)}`),
    `integrity                   corrupt ${r.integrity.corrupt}  missing ${r.integrity.missing}  duplicated ${r.integrity.duplicated}  reordered ${r.integrity.reordered}`,
    '',
  );
  return lines.join('\n');
}

/** The anatomy as text: per stage, µs from the intended send and since the previous stage. */
export function formatAnatomy(a: AnatomyFigures): string[] {
  const row = (f: StageFigures): string =>
    `  ${f.stage.padEnd(11)} ${[f.fromIntendedUs.p50, f.fromIntendedUs.p90, f.fromIntendedUs.p99].map((v) => fmt(v).padStart(9)).join('')}   `
    + `${[f.stepUs.p50, f.stepUs.p90, f.stepUs.p99].map((v) => fmt(v).padStart(9)).join('')}   ${stageMeaning[f.stage] ?? ''}`;
  const header = `  ${'stage'.padEnd(11)} ${['p50', 'p90', 'p99'].map((v) => v.padStart(9)).join('')}   ${['+p50', '+p90', '+p99'].map((v) => v.padStart(9)).join('')}`;
  const lines = [`latency anatomy µs          1 message in ${a.sampleEvery}; from the intended send, then (+) since the previous stage`];
  if (a.own.length > 0) lines.push(` own messages (n=${a.own[0]?.count ?? 0})`, header, ...a.own.map(row));
  if (a.peer.length > 0) lines.push(` other nodes' messages (n=${a.peer[0]?.count ?? 0})`, header, ...a.peer.map(row));
  return lines;
}
