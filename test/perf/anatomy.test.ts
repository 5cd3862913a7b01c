/**
 * The bench's latency anatomy and pacer, without a ring: the pacer never wakes early and keeps the
 * process alive while it sleeps; the recorder files each stage of a sample in path order (from
 * the intended send, and since the previous stage reached); the report merges nodes' histograms.
 * No figure of speed is checked here (perf/ benchmarks measure those).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AnatomyRecorder } from '../../api/commands/anatomy-recorder.js';
import { decodeHistogram } from '../../api/commands/latency.js';
import { Pacer } from '../../api/commands/pacer.js';
import { clockMs } from '../../workers/anatomy.js';
import { formatAnatomy, mergeAnatomy, type NodeSummary } from '../../perf/bench-report.js';

const pacerJs = fileURLToPath(new URL('../../dist/api/commands/pacer.js', import.meta.url));

describe('Pacer', () => {
  it('never resolves before its target, and at once for a target that has passed', async () => {
    const pacer = new Pacer();
    try {
      for (let i = 0; i < 20; i++) {
        const target = process.hrtime.bigint() + BigInt(200_000 + i * 37_000);
        await pacer.sleepUntil(target);
        expect(process.hrtime.bigint() >= target).toBe(true);
      }
      const before = process.hrtime.bigint();
      await pacer.sleepUntil(before - 1_000_000n);
    } finally {
      await pacer.close();
    }
  });

  it('keeps the process alive while a sleep is pending (nothing else holds the event loop)', () => {
    const script = `import { Pacer } from ${JSON.stringify(pacerJs)};
const p = new Pacer();
await p.sleepUntil(process.hrtime.bigint() + 30_000_000n);
console.log('woke');
await p.close();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('woke\n');
    expect(r.status).toBe(0);
  });
});

function sample(counter: number, base: number, own: boolean) {
  return {
    sender: 1, incarnation: 7, counter, acceptedMs: own ? base + 0.1 : NaN,
    stamps: { takenMs: own ? base + 0.3 : NaN, frameMs: base + 1, engineMs: base + 1.5, workerMs: base + 2, pumpMs: base + 2.5 },
  };
}

describe('AnatomyRecorder', () => {
  it('records every stage of an own sample from the intended send and since the previous stage', () => {
    const r = new AnatomyRecorder(64);
    const intendedNs = process.hrtime.bigint();
    const intendedMs = r.toClockMs(intendedNs);
    // send() is stamped by the recorder itself now: the other stamps are placed after it.
    r.sendCalled(64);
    const base = clockMs();
    r.onSample(sample(64, base, true));
    r.emitted(1, 7, 64, true, intendedNs, true);
    const own = r.toJSON().own;
    expect(Object.keys(own)).toEqual(['sendCalled', 'accepted', 'taken', 'frame', 'engine', 'worker', 'pump', 'emitted']);
    const fromUs = (stage: string) => decodeHistogram((own[stage] as { fromIntended: string }).fromIntended);
    const stepUs = (stage: string) => decodeHistogram((own[stage] as { step: string }).step);
    for (const stage of Object.keys(own)) expect(fromUs(stage).totalCount).toBe(1);
    const expectNear = (value: number, us: number) => expect(Math.abs(value - us)).toBeLessThanOrEqual(Math.max(2, us * 0.002));
    expectNear(fromUs('frame').maxValue, (base + 1 - intendedMs) * 1000);
    expectNear(stepUs('taken').maxValue, 200);
    expectNear(stepUs('frame').maxValue, 700);
    expectNear(stepUs('engine').maxValue, 500);
    expectNear(stepUs('pump').maxValue, 500);
  });

  it('skips stages a sample did not reach; the next step counts from the last one reached', () => {
    const r = new AnatomyRecorder(64);
    const intendedNs = process.hrtime.bigint();
    const base = clockMs();
    const s = sample(128, base, false);
    s.stamps.frameMs = NaN;
    r.onSample(s);
    r.emitted(1, 7, 128, false, intendedNs, true);
    const peer = r.toJSON().peer;
    expect(decodeHistogram((peer['frame'] as { fromIntended: string }).fromIntended).totalCount).toBe(0);
    const engineStep = decodeHistogram((peer['engine'] as { step: string }).step).maxValue;
    const engineFrom = decodeHistogram((peer['engine'] as { fromIntended: string }).fromIntended).maxValue;
    // With no frame stamp, engine's step counts from the intended send.
    expect(Math.abs(engineStep - engineFrom)).toBeLessThanOrEqual(Math.max(2, engineFrom * 0.002));
  });

  it('ignores a sample that is not the message emitted, and records nothing in the warmup', () => {
    const r = new AnatomyRecorder(64);
    const now = process.hrtime.bigint();
    r.onSample(sample(64, clockMs(), false));
    r.emitted(1, 7, 65, false, now, true);
    r.emitted(2, 7, 64, false, now, true);
    r.onSample(sample(192, clockMs(), false));
    r.emitted(1, 7, 192, false, now, false);
    for (const h of Object.values(r.toJSON().peer)) expect(decodeHistogram(h.fromIntended).totalCount).toBe(0);
  });
});

describe('the bench report', () => {
  it('merges the stage histograms of every node and prints one row per stage reached', () => {
    const node = (): NodeSummary => {
      const r = new AnatomyRecorder(64);
      const intendedNs = process.hrtime.bigint();
      r.onSample(sample(64, clockMs(), false));
      r.emitted(1, 7, 64, false, intendedNs, true);
      return { anatomy: r.toJSON() } as NodeSummary;
    };
    const merged = mergeAnatomy([node(), node(), { } as NodeSummary]);
    expect(merged?.sampleEvery).toBe(64);
    expect(merged?.own).toEqual([]);
    expect(merged?.peer.map((f) => [f.stage, f.count])).toEqual([['frame', 2], ['engine', 2], ['worker', 2], ['pump', 2], ['emitted', 2]]);
    const text = formatAnatomy(merged as NonNullable<typeof merged>).join('\n');
    expect(text).toContain("other nodes' messages (n=2)");
    expect(text).not.toContain('own messages');
    expect(mergeAnatomy([{} as NodeSummary])).toBeNull();
  });
});
