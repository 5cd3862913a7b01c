/**
 * `npm run scaling` (the compiled perf/scaling/cli.js) at a tiny configuration: bad flags, the
 * table, scaling.json and scaling.html, and figures the simulator's model fixes exactly (virtual
 * time: the same on any machine). The soak's pure parts (flags, the RSS slope) are checked here
 * too; the soak itself runs for minutes and is not part of `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSoakArgs, slopePerMin } from '../../perf/soak/cli.js';
import { recommendedTimers } from '../../perf/scaling/study.js';

const scalingCli = fileURLToPath(new URL('../../dist/perf/scaling/cli.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'totem-evs-scaling-test-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface CaseJson {
  nodeCount: number;
  timersName: string;
  tokenTimeoutMs: number;
  rotationMs: { p50: number };
  agreedMs: { p50: number; count: number };
  safeMs: { p50: number; count: number };
  saturationMsgsPerSec: number;
  failoverMs: number[];
  rejoinMs: number[];
  mergeMs: number[];
  stuck: string[];
}

describe('npm run scaling', () => {
  it('refuses a bad flag with exit 2 and the usage', () => {
    const r = spawnSync(process.execPath, [scalingCli, '--sizes', '3,99'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--sizes');
    expect(r.stderr).toContain('usage: npm run scaling');
  });

  it('a tiny study: the table, the JSON and the HTML plot, with the figures the model fixes', { timeout: 120_000 }, () => {
    const out = join(scratch, 'report');
    const r = spawnSync(
      process.execPath,
      [scalingCli, '--sizes', '3,5', '--timers', 'default,recommended', '--repeats', '1', '--light-ms', '300', '--sat-ms', '200', '--out', out],
      { encoding: 'utf8', timeout: 110_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\| nodes \| timers \| token ms \| rotation ms p50 \|/);
    expect(r.stdout).toMatch(/\s\d+(\.\d)? s wall/);
    expect(existsSync(join(out, 'scaling.html'))).toBe(true);
    const html = readFileSync(join(out, 'scaling.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Token rotation time');
    const report = JSON.parse(readFileSync(join(out, 'scaling.json'), 'utf8')) as { results: CaseJson[] };
    expect(report.results.map((c) => `${c.nodeCount} ${c.timersName}`)).toEqual(['3 default', '3 recommended', '5 default', '5 recommended']);
    for (const c of report.results) {
      expect(c.stuck).toEqual([]);
      // 1 ms per hop, no processing cost: one rotation is N hops.
      expect(c.rotationMs.p50).toBe(c.nodeCount);
      expect(c.agreedMs.count).toBeGreaterThan(0);
      expect(c.safeMs.count).toBeGreaterThan(0);
      // Safe waits for the token's second visit: about two rotations, never less than agreed.
      expect(c.safeMs.p50).toBeGreaterThanOrEqual(c.agreedMs.p50);
      expect(c.safeMs.p50).toBeGreaterThanOrEqual(c.nodeCount);
      expect(c.saturationMsgsPerSec).toBeGreaterThan(0);
      // A crash is only noticed once the token timeout has passed.
      expect(c.failoverMs).toHaveLength(1);
      expect(c.failoverMs[0]).toBeGreaterThan(c.tokenTimeoutMs);
      expect(c.rejoinMs).toHaveLength(1);
      expect(c.mergeMs).toHaveLength(1);
    }
    expect(report.results[1]?.tokenTimeoutMs).toBe(recommendedTimers(3).tokenTimeoutMs);
  });
});

describe('soak helpers', () => {
  it('slopePerMin: least squares in MiB per minute, null below three points', () => {
    expect(slopePerMin([[0, 100], [60_000, 101], [120_000, 102]])).toBeCloseTo(1, 9);
    expect(slopePerMin([[0, 100], [30_000, 100], [60_000, 100]])).toBe(0);
    expect(slopePerMin([[0, 100], [60_000, 101]])).toBeNull();
  });

  it('parseSoakArgs: defaults are the issue\'s 10 minutes at 50%, a restart a minute; bad flags throw', () => {
    const a = parseSoakArgs([]);
    expect([a.durationS, a.load, a.restartEveryS, a.nodes]).toEqual([600, 0.5, 60, 3]);
    // Node 1 lives through the whole soak; the others restart in turn.
    expect(a.restartNodes).toEqual([2, 3]);
    expect(parseSoakArgs(['--nodes', '4', '--restart-nodes', '1,4']).restartNodes).toEqual([1, 4]);
    expect(() => parseSoakArgs(['--restart-nodes', '4'])).toThrow('--restart-nodes');
    expect(parseSoakArgs(['--duration-s', '90', '--load', '0.25']).durationS).toBe(90);
    expect(() => parseSoakArgs(['--load', '2'])).toThrow('--load');
    expect(() => parseSoakArgs(['--bogus'])).toThrow('unknown flag');
  });
});
