/**
 * The scaling study: what one ring of N members costs, in virtual time on the simulator's network
 * (perf/scaling/sim-ring.ts), for a given set of timers. Each phase starts from one formed ring:
 *
 *   - light load: the nodes in turn submit `lightSizeBytes` messages, the ring as a whole
 *     `lightRatePerSec`, all agreed for `lightDurationMs`, then all safe as long; measured: token
 *     rotation time (intervals between two tokens sent by node 1, agreed phase), and per delivery
 *     (every message at every node) the latency from submit() to delivery;
 *   - saturation: every node keeps its send queue full of `saturationSizeBytes` agreed messages;
 *     measured after a warmup: messages delivered per second at node 1 (every node delivers the
 *     same), and the rotation time under that load;
 *   - failover (`repeats` times): under light load, the highest-id node crashes at a varying point
 *     of the rotation; measured: crash → every survivor in one regular configuration of the
 *     survivors. The node is restarted and its rejoin is timed too;
 *   - merge (`repeats` times): the ring is cut into two halves; once each half has its own regular
 *     configuration the cut heals; measured: heal → every node in one regular configuration.
 */
import { deriveTimers, type EngineTimerName } from '../../engine/config.js';
import type { Order } from '../../engine/types.js';
import { SimRing } from './sim-ring.js';

export interface StudyCase {
  nodeCount: number;
  /** 'default' timers or the 'recommended' ones for this size. */
  timersName: string;
  timers: Record<EngineTimerName, number>;
}

export interface StudyOptions {
  hopMs: number;
  jitterMs: number;
  lightRatePerSec: number;
  lightSizeBytes: number;
  lightDurationMs: number;
  saturationSizeBytes: number;
  saturationWarmupMs: number;
  saturationDurationMs: number;
  repeats: number;
  seed: number;
}

export const studyDefaults: StudyOptions = {
  hopMs: 1,
  jitterMs: 0,
  lightRatePerSec: 200,
  lightSizeBytes: 100,
  lightDurationMs: 4000,
  saturationSizeBytes: 1024,
  saturationWarmupMs: 500,
  saturationDurationMs: 1000,
  repeats: 3,
  seed: 1,
};

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

export interface StudyResult {
  nodeCount: number;
  timersName: string;
  tokenTimeoutMs: number;
  consensusTimeoutMs: number;
  formMs: number | null;
  rotationMs: Percentiles;
  agreedMs: Percentiles;
  safeMs: Percentiles;
  /** Safe p50 over rotation p50: how many rotations a safe message waits. */
  safeRotations: number;
  saturationMsgsPerSec: number;
  saturationMBPerSec: number;
  /** Messages per second one member gets ordered at saturation (ring throughput / N). */
  saturationPerNodeMsgsPerSec: number;
  saturationRotationMs: Percentiles;
  failoverMs: number[];
  rejoinMs: number[];
  mergeMs: number[];
  /** Virtual ms simulated and wall ms spent on this case. */
  virtualMs: number;
  wallMs: number;
  /** A phase that did not reach its end within its limit, named; empty when all did. */
  stuck: string[];
}

export function percentiles(values: readonly number[]): Percentiles {
  if (values.length === 0) return { p50: NaN, p99: NaN, max: NaN, count: 0 };
  const sorted = values.slice().sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] as number, count: sorted.length };
}

/** The payload carries its submit time (virtual ms, float64) in its first 8 bytes. */
function stamped(sizeBytes: number, nowMs: number): Uint8Array {
  const payload = new Uint8Array(Math.max(8, sizeBytes));
  new DataView(payload.buffer).setFloat64(0, nowMs, true);
  return payload;
}

function stampOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getFloat64(0, true);
}

/** A bound on every wait for membership: a few consensus rounds and token timeouts, and at least 30 s. */
function membershipLimitMs(c: StudyCase): number {
  return Math.max(30_000, 20 * c.timers.tokenTimeoutMs + 10 * c.timers.consensusTimeoutMs);
}

export function runCase(c: StudyCase, o: StudyOptions, now: () => number): StudyResult {
  const wallStart = now();
  const stuck: string[] = [];
  const ring = new SimRing({ nodeCount: c.nodeCount, engine: { ...c.timers }, hopMs: o.hopMs, jitterMs: o.jitterMs, seed: o.seed });
  const all = ring.ids;
  const limitMs = membershipLimitMs(c);

  // Formation: nodes start 2 ms apart.
  for (const id of all) ring.clock.at(id * 2, () => ring.start(id));
  ring.runFor(2 * all.length + 1);
  const formedAt = ring.runUntil(() => ring.oneRing(all), limitMs);
  if (formedAt === null) stuck.push('formation');

  // Measurement hooks, switched on per phase.
  let latency: { agreed: number[]; safe: number[] } | null = null;
  let tokenTimes: number[] | null = null;
  let deliveredAtNode1 = 0;
  ring.onDeliver = (_nodeId, d, nowMs) => {
    if (latency !== null) (d.order === 'safe' ? latency.safe : latency.agreed).push(nowMs - stampOf(d.payload));
    if (_nodeId === 1) deliveredAtNode1++;
  };
  ring.onTokenSent = (from, nowMs) => {
    if (from === 1 && tokenTimes !== null) tokenTimes.push(nowMs);
  };

  // Light load: evenly spaced messages from every node in turn. Agreed and safe are measured in
  // separate phases: in one total order a safe frame holds back every agreed frame behind it, so
  // a mixed load would show agreed messages waiting for safe ones.
  let lightOrder: Order | null = null;
  let lightIndex = 0;
  const lightIntervalMs = 1000 / o.lightRatePerSec;
  const lightTick = (): void => {
    if (lightOrder === null) return;
    const live = ring.liveIds();
    if (live.length > 0) {
      const id = live[lightIndex % live.length] as number;
      ring.submit(id, stamped(o.lightSizeBytes, ring.nowMs), lightOrder);
      lightIndex++;
    }
    ring.clock.after(lightIntervalMs, lightTick);
  };
  const lightPhase = (order: Order): number[] => {
    const wasOff = lightOrder === null;
    lightOrder = order;
    if (wasOff) ring.clock.after(lightIntervalMs, lightTick);
    ring.runFor(500);
    const samples: number[] = [];
    latency = order === 'agreed' ? { agreed: samples, safe: [] } : { agreed: [], safe: samples };
    ring.runFor(o.lightDurationMs);
    latency = null;
    return samples;
  };

  tokenTimes = [];
  const agreedSamples = lightPhase('agreed');
  const rotationMs = percentiles(intervals(tokenTimes));
  tokenTimes = null;
  const safeSamples = lightPhase('safe');
  const lightLatency = { agreed: agreedSamples, safe: safeSamples };
  lightOrder = 'agreed';

  // Failover and rejoin, `repeats` times, the crash at a different point of the rotation each time.
  const victim = all[all.length - 1] as number;
  const survivors = all.filter((id) => id !== victim);
  const failoverMs: number[] = [];
  const rejoinMs: number[] = [];
  for (let k = 0; k < o.repeats && all.length > 1; k++) {
    ring.runFor(300 + Math.floor((k * Math.max(1, rotationMs.p50 || 1)) / o.repeats));
    const crashAt = ring.nowMs;
    ring.crash(victim);
    const healed = ring.runUntil(() => ring.oneRing(survivors), limitMs);
    if (healed === null) {
      stuck.push(`failover ${k + 1}`);
      break;
    }
    failoverMs.push(healed - crashAt);
    ring.runFor(500);
    const restartAt = ring.nowMs;
    ring.start(victim);
    const back = ring.runUntil(() => ring.oneRing(all), limitMs);
    if (back === null) {
      stuck.push(`rejoin ${k + 1}`);
      break;
    }
    rejoinMs.push(back - restartAt);
  }

  // Merge after a partition into two halves, `repeats` times.
  const mergeMs: number[] = [];
  if (all.length > 1 && ring.oneRing(all)) {
    const half = Math.ceil(all.length / 2);
    const sides = [all.slice(0, half), all.slice(half)];
    for (let k = 0; k < o.repeats; k++) {
      ring.runFor(300 + k * 7);
      ring.network.partition(sides);
      const split = ring.runUntil(() => sides.every((s) => ring.oneRing(s)), limitMs);
      if (split === null) {
        stuck.push(`partition ${k + 1}`);
        ring.network.heal();
        break;
      }
      ring.runFor(200 + k * 13);
      const healAt = ring.nowMs;
      ring.network.heal();
      const merged = ring.runUntil(() => ring.oneRing(all), limitMs);
      if (merged === null) {
        stuck.push(`merge ${k + 1}`);
        break;
      }
      mergeMs.push(merged - healAt);
    }
  }
  lightOrder = null;

  // Saturation: every node refills its send queue every ms.
  let saturated = true;
  const fill = (): void => {
    if (!saturated) return;
    for (const id of ring.liveIds()) {
      for (let i = 0; i < 4096; i++) if (!ring.submit(id, stamped(o.saturationSizeBytes, ring.nowMs), 'agreed')) break;
    }
    ring.clock.after(1, fill);
  };
  ring.runFor(1000);
  fill();
  ring.runFor(o.saturationWarmupMs);
  deliveredAtNode1 = 0;
  tokenTimes = [];
  ring.runFor(o.saturationDurationMs);
  const saturationMsgsPerSec = (deliveredAtNode1 * 1000) / o.saturationDurationMs;
  const saturationRotationMs = percentiles(intervals(tokenTimes));
  saturated = false;
  tokenTimes = null;

  const agreedMs = percentiles(lightLatency.agreed);
  const safeMs = percentiles(lightLatency.safe);
  return {
    nodeCount: c.nodeCount,
    timersName: c.timersName,
    tokenTimeoutMs: c.timers.tokenTimeoutMs,
    consensusTimeoutMs: c.timers.consensusTimeoutMs,
    formMs: formedAt,
    rotationMs,
    agreedMs,
    safeMs,
    safeRotations: safeMs.p50 / rotationMs.p50,
    saturationMsgsPerSec,
    saturationMBPerSec: (saturationMsgsPerSec * o.saturationSizeBytes) / 1e6,
    saturationPerNodeMsgsPerSec: saturationMsgsPerSec / c.nodeCount,
    saturationRotationMs,
    failoverMs,
    rejoinMs,
    mergeMs,
    virtualMs: ring.nowMs,
    wallMs: now() - wallStart,
    stuck,
  };
}

function intervals(times: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < times.length; i++) out.push((times[i] as number) - (times[i - 1] as number));
  return out;
}

/**
 * The recommended timers for a ring of N: the token timeout grows with N as corosync's does
 * (token + (N − 2) × token_coefficient), from this engine's 1000 ms default by
 * `coefficientMs` per node above 2 — every other timer then follows from it by deriveTimers
 * (retransmit = token / 4.2, hold = 0.8 × retransmit, consensus = 1.2 × token, gather silence
 * = max(4 × join, retransmit + 3 × join)).
 */
export const recommendedCoefficientMs = 20;

export function recommendedTimers(nodeCount: number): Record<EngineTimerName, number> {
  const tokenTimeoutMs = deriveTimers({}).tokenTimeoutMs + Math.max(0, nodeCount - 2) * recommendedCoefficientMs;
  return deriveTimers({ tokenTimeoutMs });
}

export function defaultTimers(): Record<EngineTimerName, number> {
  return deriveTimers({});
}
