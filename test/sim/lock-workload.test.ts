/**
 * The simulator's lock workload: a few seeds per fault mix with the lock checker and the EVS
 * checker, the same seed giving the same traces twice, and a seed whose lock lines are corrupted
 * failing the lock checker (so that a pass means something).
 */
import { describe, expect, it } from 'vitest';
import { checkLocks } from '../../api/check/locks-checker.js';
import { faultMixes } from './faults.js';
import { runSeed } from './run-seed.js';

const seedsPerMix = Number(process.env['SIM_LOCK_SEEDS_PER_MIX'] ?? 3);

describe('simulator --workload locks', () => {
  for (const faults of faultMixes) {
    it(`${seedsPerMix} seeds of ${faults} pass the lock and EVS checkers`, { timeout: 120_000 }, () => {
      for (let seed = 1; seed <= seedsPerMix; seed++) {
        const result = runSeed({ seed, nodes: 3 + (seed % 3), faults, app: 'locks', safetyMs: 5000 });
        expect(result.violations, result.replayCommand).toEqual([]);
        expect(result.settled).toBe(true);
      }
    });
  }

  it('gives byte-identical traces for one seed, and its traces hold grants, conversions and syncs', { timeout: 120_000 }, () => {
    const files: Map<string, string[]>[] = [];
    const check = (input: { files: Map<string, string[]> }): { ok: boolean; violations: [] } => {
      files.push(new Map([...input.files].map(([k, v]) => [k, v.slice()])));
      return { ok: true, violations: [] };
    };
    for (let i = 0; i < 2; i++) runSeed({ seed: 12, nodes: 5, faults: 'mixed', app: 'locks', safetyMs: 5000, check });
    expect([...(files[1] ?? new Map())]).toEqual([...(files[0] ?? new Map())]);
    const all = [...(files[0]?.values() ?? [])].flat().join('\n');
    for (const op of ['"op":"grant"', '"op":"convert"', '"op":"release"', '"ev":"lkstate"', '"point":"sync"', '"op":"reenter"', '"op":"orphan"']) expect(all).toContain(op);
    expect(all).toMatch(/"op":"request"[^\n]*"group":"\d+:\d+:\d+"/); // an atomic request
    const lines = files[0] ?? new Map<string, string[]>();
    expect(checkLocks(lines).ok).toBe(true);
    expect(contractGaps(lines)).toEqual([]);
    const [gName, gLines] = [...lines][0] ?? ['', []];
    const gi = gLines.findIndex((l) => l.includes('"op":"grant"'));
    const noFence = new Map(lines).set(gName, gLines.map((l, i) => (i === gi ? l.replace(/"fence":"\d+",/, '') : l)));
    expect(contractGaps(noFence)).toHaveLength(1);
    // The same traces with one grant line repeated (a grant of nothing pending) must fail.
    const [name, first] = [...lines][0] ?? ['', []];
    const at = first.findIndex((l) => l.includes('"op":"grant"'));
    expect(at).toBeGreaterThanOrEqual(0);
    const corrupted = new Map(lines);
    corrupted.set(name, [...first.slice(0, at + 1), first[at] ?? '', ...first.slice(at + 1)]);
    expect(checkLocks(corrupted).violationCounts['request-ended-once']).toBeGreaterThan(0);
  });
});

/**
 * The trace contract's "Lock manager lines": required fields per `ev` (and per `op` of `lk`).
 * Returns the lines that miss one (fields beyond the contract are ours, stated in docs/locks.md).
 */
function contractGaps(files: Map<string, string[]>): string[] {
  const required: Record<string, string[]> = {
    lk: ['node', 'ls', 'res', 'op', 'owner', 't'],
    held: ['node', 'ls', 'res', 'owner', 'mode', 'fence', 't'],
    lost: ['node', 'ls', 'res', 'owner', 'reason', 't'],
    barrier: ['node', 'ls', 'name', 'op', 'ring', 't'],
  };
  const byOp: Record<string, string[]> = { request: ['mode'], grant: ['mode', 'fence'], convert: ['mode'], deny: ['reason'], purge: ['reason'], revoke: ['reason'] };
  const gaps: string[] = [];
  for (const [file, lines] of files) {
    lines.forEach((text, i) => {
      const f = JSON.parse(text) as Record<string, unknown>;
      const ev = String(f['ev']);
      if (ev === 'conf' && typeof f['primary'] !== 'boolean') gaps.push(`${file}:${i + 1} conf without primary`);
      const need = [...(required[ev] ?? []), ...(ev === 'lk' ? (byOp[String(f['op'])] ?? []) : [])];
      for (const k of need) if (f[k] === undefined) gaps.push(`${file}:${i + 1} ${ev} ${String(f['op'] ?? '')} without ${k}`);
      if (ev === 'barrier' && !['enter', 'complete', 'fail'].includes(String(f['op']))) gaps.push(`${file}:${i + 1} barrier op ${String(f['op'])}`);
      if ((ev === 'lk' || ev === 'held') && f['fence'] !== undefined && !/^\d+$/.test(String(f['fence']))) gaps.push(`${file}:${i + 1} fence not a decimal string`);
      if (ev === 'lost' && !['transitional', 'revoked', 'purged', 'closed'].includes(String(f['reason']))) gaps.push(`${file}:${i + 1} lost reason ${String(f['reason'])}`);
    });
  }
  return gaps.slice(0, 20);
}
