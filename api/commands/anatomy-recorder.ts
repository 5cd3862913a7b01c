/**
 * The latency anatomy as `totem-evs node` records it for the bench: for each sampled message
 * (workers/anatomy.ts), the time from its intended send to every stage it reached, and the time of
 * each stage since the stage before it, as hdr histograms in µs per stage, separately for this
 * node's own messages and for the other nodes' messages. Encoded into the node's final JSON line,
 * merged by perf/bench-report.ts.
 *
 * Every stamp is on the shared clock (performance.timeOrigin + performance.now(), anatomy.ts); the
 * intended time, a process.hrtime.bigint() value written in the probe by its sender, is converted
 * with the offset between the two clocks read once at start (both are CLOCK_MONOTONIC-based, so
 * the offset does not drift within a run).
 */
import { clockMs } from '../../workers/anatomy.js';
import type { LatencySample } from '../node/evs-node.js';
import { createLatencyHistogram, encodeHistogram, recordLatencyUs, type LatencyHistogram } from './latency.js';

/** An own message's stages, in path order. */
export const ownStages = ['sendCalled', 'accepted', 'taken', 'frame', 'engine', 'worker', 'pump', 'emitted'] as const;
/** Another node's message: the stages this node sees, in path order. */
export const peerStages = ['frame', 'engine', 'worker', 'pump', 'emitted'] as const;

export type StageName = (typeof ownStages)[number];

/** Per stage: µs from the intended send, and µs since the previous stage the message reached. */
export interface StageHistograms {
  fromIntended: LatencyHistogram;
  step: LatencyHistogram;
}

/** What the node's final line carries: per side and stage, the two histograms encoded. */
export interface AnatomyJson {
  sampleEvery: number;
  own: Record<string, { fromIntended: string; step: string }>;
  peer: Record<string, { fromIntended: string; step: string }>;
}

function histogramsFor(stages: readonly string[]): Map<string, StageHistograms> {
  return new Map(stages.map((s) => [s, { fromIntended: createLatencyHistogram(), step: createLatencyHistogram() }]));
}

export class AnatomyRecorder {
  private readonly own = histogramsFor(ownStages);
  private readonly peer = histogramsFor(peerStages);
  /** clockMs − hrtime ms, read once. */
  private readonly offsetMs = clockMs() - Number(process.hrtime.bigint()) / 1e6;
  /** The sample handed over for the delivery about to be emitted (evs-node calls just before). */
  private pending: LatencySample | null = null;
  /** send() called, by own counter, for sampled sends not yet delivered. */
  private readonly sendCalledMs = new Map<number, number>();

  constructor(readonly sampleEvery: number) {}

  /** The listener to hand to the node ([kLatencyAnatomy]). */
  readonly onSample = (sample: LatencySample): void => {
    this.pending = sample;
  };

  /** The hrtime of an intended send, on the shared clock. */
  toClockMs(hrtimeNs: bigint): number {
    return Number(hrtimeNs) / 1e6 + this.offsetMs;
  }

  /** An own send of `counter` is being made now (only sampled counters are kept; bounded). */
  sendCalled(counter: number): void {
    if (counter % this.sampleEvery !== 0 || this.sendCalledMs.size >= 4096) return;
    this.sendCalledMs.set(counter, clockMs());
  }

  /**
   * A message was emitted now: if it is the sampled one just handed over, record its stages.
   * `record` false (warmup): consume the sample without recording.
   */
  emitted(sender: number, incarnation: number, counter: number, own: boolean, intendedNs: bigint, record: boolean): void {
    const s = this.pending;
    if (s === null || s.sender !== sender || s.incarnation !== incarnation || s.counter !== counter) return;
    this.pending = null;
    const emittedMs = clockMs();
    const calledMs = own ? this.sendCalledMs.get(counter) ?? NaN : NaN;
    if (own) this.sendCalledMs.delete(counter);
    if (!record) return;
    const intendedMs = this.toClockMs(intendedNs);
    const t = s.stamps;
    const at: Record<StageName, number> = {
      sendCalled: calledMs, accepted: s.acceptedMs, taken: t.takenMs, frame: t.frameMs, engine: t.engineMs,
      worker: t.workerMs, pump: t.pumpMs, emitted: emittedMs,
    };
    const table = own ? this.own : this.peer;
    let previousMs = intendedMs;
    for (const [stage, h] of table) {
      const ms = at[stage as StageName];
      if (Number.isNaN(ms)) continue;
      recordLatencyUs(h.fromIntended, (ms - intendedMs) * 1000);
      recordLatencyUs(h.step, (ms - previousMs) * 1000);
      previousMs = ms;
    }
  }

  toJSON(): AnatomyJson {
    const encode = (m: Map<string, StageHistograms>): AnatomyJson['own'] =>
      Object.fromEntries([...m].map(([k, h]) => [k, { fromIntended: encodeHistogram(h.fromIntended), step: encodeHistogram(h.step) }]));
    return { sampleEvery: this.sampleEvery, own: encode(this.own), peer: encode(this.peer) };
  }
}
