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
    for (let i = 0; i < 2; i++) runSeed({ seed: 7, nodes: 5, faults: 'mixed', app: 'locks', safetyMs: 5000, check });
    expect([...(files[1] ?? new Map())]).toEqual([...(files[0] ?? new Map())]);
    const all = [...(files[0]?.values() ?? [])].flat().join('\n');
    for (const op of ['"op":"grant"', '"op":"convert"', '"op":"release"', '"ev":"lkstate"', '"point":"sync"', '"op":"reenter"', '"op":"orphan"']) expect(all).toContain(op);
    expect(all).toMatch(/"op":"request"[^\n]*"group":"\d+:\d+:\d+"/); // an atomic request
    const lines = files[0] ?? new Map<string, string[]>();
    expect(checkLocks(lines).ok).toBe(true);
    // The same traces with one grant line repeated (a grant of nothing pending) must fail.
    const [name, first] = [...lines][0] ?? ['', []];
    const at = first.findIndex((l) => l.includes('"op":"grant"'));
    expect(at).toBeGreaterThanOrEqual(0);
    const corrupted = new Map(lines);
    corrupted.set(name, [...first.slice(0, at + 1), first[at] ?? '', ...first.slice(at + 1)]);
    expect(checkLocks(corrupted).violationCounts['request-ended-once']).toBeGreaterThan(0);
  });
});
