/**
 * The simulator's regression sweep: 300 seeds over every fault mix, each run's traces checked by
 * the EVS checker in settled mode. Sized so that it takes a minute or two on two cores; the long
 * sweep is `npm run sim:long`.
 *
 * Seeds run on a piscina pool from the compiled worker in dist/ (Node 20 cannot start a worker
 * from .ts) when dist/ is at least as new as the sources; otherwise in this process.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import type { FaultMix } from './faults.js';
import type { SeedResult } from './run-seed.js';
import { runSeed } from './run-seed.js';
import type { SeedTask } from './seed-worker.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const workerPath = path.join(repoRoot, 'dist', 'test', 'sim', 'seed-worker.js');

/** Seeds per mix; SIM_SEEDS_PER_MIX overrides (e.g. 5 for a quick look). */
const seedsPerMix = Number(process.env['SIM_SEEDS_PER_MIX'] ?? 60);
/** Virtual length of the fault phase: shorter than the CLI's 10–20 s, so that the sweep stays fast. */
const safetyMs = 15_000;
const mixes: FaultMix[] = ['none', 'loss', 'partition', 'crash', 'mixed', 'hostile'];
/** Cluster sizes cycled through by seed: mostly small rings, some singletons, some larger. */
const nodeCounts = [3, 4, 5, 2, 6, 1, 7, 5, 3, 9];

/**
 * Seeds that once failed, pinned with the CLI's settings (fault phase drawn from the seed), each
 * with what it showed. Replay with the command in the comment. Seeds of the lock workload
 * (`app: 'locks'`) are checked by the lock checker too.
 */
const pinnedSeeds: SeedTask[] = [
  // Groups that could all hear each other kept failing one another in Gather, round after round
  // (engine/README.md deviations 13 and 14; the sweep's partition seed 39 showed it with 9 nodes).
  // npm run sim -- --seed 26 --nodes 16 --faults mixed --trace-dir sim-traces
  { seed: 26, nodes: 16, faults: 'mixed' },
  // Nodes stuck in Recovery for the whole convergence phase: two rings never merge and a member of
  // regular 1:177 never delivers its safe messages (safe-delivery, self-delivery, liveness-settled).
  // npm run sim -- --seed 48 --nodes 16 --faults mixed --trace-dir sim-traces
  { seed: 48, nodes: 16, faults: 'mixed' },
  // Nodes stuck in Commit from ring 1:29 on; same three properties.
  // npm run sim -- --seed 1132 --nodes 9 --faults partition --trace-dir sim-traces
  { seed: 1132, nodes: 9, faults: 'partition' },
  // Live nodes ended in three rings (1:243, 4:247, 7:239): groups forming rings by turns failed
  // each other's live members at their consensus timeouts (engine/README.md deviation 18).
  // npm run sim -- --seed 5066 --nodes 9 --faults mixed --trace-dir sim-traces
  { seed: 5066, nodes: 9, faults: 'mixed' },
  // The same class with four rings at the end (liveness-settled).
  // npm run sim -- --seed 8059 --nodes 9 --faults partition --trace-dir sim-traces
  { seed: 8059, nodes: 9, faults: 'partition' },
  // Long documented as the open liveness case (groups failing each other in Gather, out of step);
  // it settles on the current rules and is pinned so that it stays settled.
  // npm run sim -- --seed 116 --nodes 9 --faults mixed --trace-dir sim-traces
  { seed: 116, nodes: 9, faults: 'mixed' },
  // One ring, still delivering at the convergence budget: a window of 4 frames per rotation drains
  // 16 nodes' queues slowly. The run goes on while the ring holds every live node and delivers.
  // npm run sim -- --seed 456 --nodes 16 --faults partition --trace-dir sim-traces
  { seed: 456, nodes: 16, faults: 'partition' },
  // Ten members of one old ring each re-broadcast the same ~1,900 frames in Recovery; the copies
  // filled the new ring's sort-queue bound and it never left Recovery (engine/README.md
  // deviation 29: a frame already carried on the new ring is not sent again).
  // npm run sim -- --seed 293 --nodes 16 --faults partition --trace-dir sim-traces
  { seed: 293, nodes: 16, faults: 'partition' },
  // Lock workload, barrier agreement (L7): a member completed barrier instance gen 1 alone, adopted
  // another member's table at a sync in the same ring, and the next instance reused gen 1 (the
  // numbers did not survive the sync). The lock checker runs beside the EVS checker.
  // npm run sim -- --seed 1646 --nodes 5 --faults mixed --trace-dir sim-traces --workload locks
  { seed: 1646, nodes: 5, faults: 'mixed', app: 'locks' },
  // Lock workload, atomic request (L9): at a merge sync one lock of a waiting atomic request was
  // revoked and the other kept as an orphan; the winning table's lineage had granted the request
  // where its owner's side had not, then purged one of its orphans.
  // npm run sim -- --seed 6121 --nodes 5 --faults mixed --trace-dir sim-traces --workload locks
  { seed: 6121, nodes: 5, faults: 'mixed', app: 'locks' },
  // Unkeyed adversary (survival): a forged token whose aruAddr named no member was taken in
  // Recovery; its aru stayed down and its seq named frames nobody had, so the ring never installed
  // and no failure to receive fired (engine deviation 23).
  // npm run sim -- --seed 6743 --nodes 5 --faults mixed --trace-dir sim-traces --workload locks
  { seed: 6743, nodes: 5, faults: 'mixed', app: 'locks' },
];

function tasks(): SeedTask[] {
  const out: SeedTask[] = [...pinnedSeeds];
  for (const faults of mixes) {
    for (let seed = 1; seed <= seedsPerMix; seed++) {
      out.push({ seed, nodes: nodeCounts[seed % nodeCounts.length] ?? 5, faults, safetyMs });
    }
  }
  return out;
}

/** Newest mtime of the .ts sources the worker is compiled from. */
function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function compiledWorkerIsFresh(): boolean {
  if (!fs.existsSync(workerPath)) return false;
  const sourcesMs = Math.max(...['engine', 'api', path.join('test', 'sim')].map((d) => newestSourceMs(path.join(repoRoot, d))));
  return fs.statSync(workerPath).mtimeMs >= sourcesMs;
}

async function runAll(all: SeedTask[]): Promise<SeedResult[]> {
  if (!compiledWorkerIsFresh()) {
    console.log('seeds: dist/ is missing or older than the sources (run `npm run build`); running in-process');
    return all.map((task) => runSeed(task));
  }
  const pool = new Piscina({ filename: workerPath, maxThreads: Math.max(1, Math.min(2, os.availableParallelism())) });
  try {
    return await Promise.all(all.map((task) => pool.run(task) as Promise<SeedResult>));
  } finally {
    await pool.destroy();
  }
}

describe('simulator seeds', () => {
  it(`${tasks().length} seeds across ${mixes.join(", ")} (${pinnedSeeds.length} of them pinned regressions) keep every EVS property and settle`, { timeout: 900_000 }, async () => {
    const startedMs = performance.now();
    const results = await runAll(tasks());
    const wallS = (performance.now() - startedMs) / 1000;
    const failed = results.filter((r) => !r.ok);
    const deliveries = results.reduce((n, r) => n + r.deliveries, 0);
    const configurations = results.reduce((n, r) => n + r.configurationsInstalled, 0);
    console.log(
      `seeds: ${results.length - failed.length}/${results.length} passed in ${wallS.toFixed(1)} s ` +
        `(${(results.length / wallS).toFixed(1)} seeds/s); ${deliveries} deliveries, ${configurations} regular configurations`,
    );
    const report = failed.map((r) => {
      const first = r.violations[0];
      const what = first === undefined ? 'failed' : `${first.property}: ${first.message.replace(/\s+/g, ' ').slice(0, 200)}`;
      return `seed ${r.seed} (${r.faults}, ${r.nodes} nodes) ${what}\n  replay: ${r.replayCommand}`;
    });
    if (report.length > 0) console.log(report.join('\n'));
    expect(report).toEqual([]);
    // The sweep must exercise something: messages flow and membership changes happen.
    expect(deliveries).toBeGreaterThan(0);
    expect(results.some((r) => r.crashes > 0)).toBe(true);
  });
});
