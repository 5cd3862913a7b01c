/**
 * `npm run sim -- ...`: run simulator seeds in parallel on a piscina pool, or replay one seed
 * in-process. Exits 1 when any seed has a violation, 2 on bad flags.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import type { FaultMix } from './faults.js';
import { faultMixes, isFaultMix } from './faults.js';
import type { SeedResult } from './run-seed.js';
import { replayCommand, runSeed } from './run-seed.js';
import type { SeedTask } from './seed-worker.js';

const usage = `Usage: npm run sim -- [options]

Deterministic simulation of a totem-evs cluster (virtual time, seeded faults). Each seed runs a
safety phase under faults, then a convergence phase (network healed, some crashed nodes restarted,
the rest left down) until the live nodes settle in one ring; the traces are then checked against
the EVS properties (settled mode). The hostile mix (and about 30 % of mixed seeds) adds an
adversary that replays, misdirects, forges and mutates packets, keyed or unkeyed per seed;
unkeyed seeds are checked for survival only (no exception, no hang, settling).

Options:
  --seeds N          run N seeds in parallel on a worker pool (default 1)
  --seed-start S     first seed of the range (default 1)
  --seed S           replay one seed in this process (no pool); overrides --seeds
  --nodes K          nodes in the cluster, 1..64 (default 5)
  --faults MIX       ${faultMixes.join(' | ')} (default mixed)
  --trace-dir DIR    write each seed's traces to DIR/<seed>/ (default: not written;
                     failing seeds print a replay command that writes them to DIR or sim-traces)
  --threads T        worker threads of the pool (default: the CPU count, here ${Math.max(1, os.availableParallelism())})
  --safety-ms MS     length of the fault phase in virtual ms (default: 10000-20000 from the seed)
  --workload W       messages | locks (default messages): locks runs the lock manager on every
                     node (test/sim/lock-workload.ts) and the lock checker beside the EVS checker
  --help             this text

Exit status: 0 when every seed passes, 1 when any seed has a violation, 2 on bad options.`;

interface CliOptions {
  seedStart: number;
  seeds: number;
  single: boolean;
  nodes: number;
  faults: FaultMix;
  traceDir?: string;
  threads: number;
  safetyMs?: number;
  app: 'messages' | 'locks';
}

class UsageError extends Error {}

function parseInteger(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value)) throw new UsageError(`--${name} must be an integer, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be in ${min}..${max}, got ${value}`);
  return n;
}

function parseCli(argv: string[]): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        seeds: { type: 'string' },
        'seed-start': { type: 'string' },
        seed: { type: 'string' },
        nodes: { type: 'string' },
        faults: { type: 'string' },
        'trace-dir': { type: 'string' },
        threads: { type: 'string' },
        'safety-ms': { type: 'string' },
        workload: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) return 'help';
  const faults = v.faults ?? 'mixed';
  if (!isFaultMix(faults)) throw new UsageError(`--faults must be one of ${faultMixes.join(', ')}, got "${faults}"`);
  const seed = parseInteger('seed', v.seed, 0, Number.MAX_SAFE_INTEGER);
  const options: CliOptions = {
    seedStart: seed ?? parseInteger('seed-start', v['seed-start'], 0, Number.MAX_SAFE_INTEGER) ?? 1,
    seeds: seed === undefined ? (parseInteger('seeds', v.seeds, 1, 100_000_000) ?? 1) : 1,
    single: seed !== undefined,
    nodes: parseInteger('nodes', v.nodes, 1, 64) ?? 5,
    faults,
    threads: parseInteger('threads', v.threads, 1, 256) ?? Math.max(1, os.availableParallelism()),
    app: 'messages',
  };
  if (v['trace-dir'] !== undefined) {
    if (v['trace-dir'] === '') throw new UsageError('--trace-dir must not be empty');
    options.traceDir = v['trace-dir'];
  }
  const app = v.workload ?? 'messages';
  if (app !== 'messages' && app !== 'locks') throw new UsageError(`--workload must be messages or locks, got "${app}"`);
  options.app = app;
  const safetyMs = parseInteger('safety-ms', v['safety-ms'], 0, 3_600_000);
  if (safetyMs !== undefined) options.safetyMs = safetyMs;
  return options;
}

interface Totals {
  done: number;
  passed: number;
  failed: SeedResult[];
  messagesSent: number;
  deliveries: number;
  configurationsInstalled: number;
  violationsByProperty: Map<string, number>;
  warnings: Set<string>;
  /** Heal-to-one-ring time of each settled seed: virtual ms, and in that seed's consensus timeouts. */
  healToOneRingMs: number[];
  healToOneRingConsensusTimeouts: number[];
  /** Seeds by adversary (none, keyed, unkeyed): how many, how many passed, packets injected. */
  adversaries: Map<string, { seeds: number; passed: number; injected: number }>;
  /** EVS findings of survival seeds (unkeyed adversary): reported as a count, not failures. */
  survivalFindings: number;
}

function record(totals: Totals, result: SeedResult): void {
  totals.done++;
  totals.messagesSent += result.messagesSent;
  totals.deliveries += result.deliveries;
  totals.configurationsInstalled += result.configurationsInstalled;
  if (result.healToOneRingMs !== undefined) totals.healToOneRingMs.push(result.healToOneRingMs);
  if (result.healToOneRingConsensusTimeouts !== undefined) totals.healToOneRingConsensusTimeouts.push(result.healToOneRingConsensusTimeouts);
  if (result.check === 'survival') totals.survivalFindings += result.warnings.length;
  else for (const w of result.warnings) totals.warnings.add(w);
  const a = totals.adversaries.get(result.adversary) ?? { seeds: 0, passed: 0, injected: 0 };
  a.seeds++;
  if (result.ok) a.passed++;
  a.injected += result.packetsInjected;
  totals.adversaries.set(result.adversary, a);
  if (result.ok) totals.passed++;
  else {
    totals.failed.push(result);
    // Named at once, not only in the summary: a long batch can be replayed while it runs on.
    const first = result.violations[0];
    process.stdout.write(`${process.stdout.isTTY === true ? '\n' : ''}seed ${result.seed} failed (${first?.property ?? '?'})\n`);
  }
  for (const v of result.violations) totals.violationsByProperty.set(v.property, (totals.violationsByProperty.get(v.property) ?? 0) + 1);
}

async function main(): Promise<number> {
  let options: CliOptions | 'help';
  try {
    options = parseCli(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sim: ${error.message} (see --help)\n`);
      return 2;
    }
    throw error;
  }
  if (options === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const totals: Totals = {
    done: 0,
    passed: 0,
    failed: [],
    messagesSent: 0,
    deliveries: 0,
    configurationsInstalled: 0,
    violationsByProperty: new Map(),
    healToOneRingMs: [],
    healToOneRingConsensusTimeouts: [],
    warnings: new Set(),
    adversaries: new Map(),
    survivalFindings: 0,
  };
  const startedMs = performance.now();
  const tty = process.stdout.isTTY === true;
  let lastProgressMs = 0;
  const progress = (final: boolean): void => {
    const elapsedS = (performance.now() - startedMs) / 1000;
    const line =
      `seeds ${totals.done}/${options.seeds}  failed ${totals.failed.length}  ` +
      `delivered ${totals.deliveries}  configs ${totals.configurationsInstalled}  ` +
      `${(totals.done / Math.max(elapsedS, 1e-3)).toFixed(1)} seeds/s`;
    if (tty) process.stdout.write(`\r${line}\x1b[K${final ? '\n' : ''}`);
    else if (final || performance.now() - lastProgressMs > 5000) {
      lastProgressMs = performance.now();
      process.stdout.write(`${line}\n`);
    }
  };

  const task = (seed: number): SeedTask => ({
    seed,
    nodes: options.nodes,
    faults: options.faults,
    ...(options.traceDir === undefined ? {} : { traceDir: options.traceDir }),
    ...(options.safetyMs === undefined ? {} : { safetyMs: options.safetyMs }),
    ...(options.app === 'locks' ? { app: 'locks' as const } : {}),
  });

  if (options.single) {
    const result = runSeed(task(options.seedStart));
    record(totals, result);
    printSeed(result);
  } else {
    const pool = new Piscina({
      filename: new URL('./seed-worker.js', import.meta.url).href,
      maxThreads: Math.min(options.threads, options.seeds),
      minThreads: 1,
    });
    // Queue at most a few tasks per thread: 10 000 seeds need not all be submitted up front.
    const inflightMax = options.threads * 4;
    let next = options.seedStart;
    const end = options.seedStart + options.seeds;
    const running = new Set<Promise<void>>();
    while (next < end || running.size > 0) {
      while (next < end && running.size < inflightMax) {
        const p: Promise<void> = (pool.run(task(next)) as Promise<SeedResult>).then((result) => {
          record(totals, result);
          running.delete(p);
          progress(false);
        });
        running.add(p);
        next++;
      }
      await Promise.race(running);
    }
    await pool.destroy();
  }
  progress(true);
  printSummary(totals, options, (performance.now() - startedMs) / 1000);
  return totals.failed.length === 0 ? 0 : 1;
}

function printSeed(result: SeedResult): void {
  process.stdout.write(
    `seed ${result.seed}: ${result.ok ? 'pass' : 'FAIL'}  nodes ${result.nodes}  faults ${result.faults}  ` +
      `adversary ${result.adversary}${result.memberList ? '' : ' (no member list)'}  check ${result.check}  ` +
      `sent ${result.messagesSent}  delivered ${result.deliveries}  configs ${result.configurationsInstalled}  ` +
      `crashes ${result.crashes}  settled ${result.settled}  virtual ${(result.virtualMs / 1000).toFixed(1)} s  events ${result.eventsRun}\n`,
  );
  if (result.traceDir !== undefined) process.stdout.write(`traces in ${result.traceDir}\n`);
  if (!result.ok) for (const line of result.diagnostics) process.stdout.write(`  at the end: ${line}\n`);
  // A few of each property: a flood of one kind must not hide the only line of another.
  const shownPerProperty = 3;
  const byProperty = new Map<string, string[]>();
  for (const v of result.violations) byProperty.set(v.property, [...(byProperty.get(v.property) ?? []), v.message]);
  for (const [property, messages] of byProperty) {
    for (const message of messages.slice(0, shownPerProperty)) process.stdout.write(`  ${property}: ${message}\n`);
    if (messages.length > shownPerProperty) process.stdout.write(`  ${property}: ... and ${messages.length - shownPerProperty} more\n`);
  }
}

function printSummary(totals: Totals, options: CliOptions, wallS: number): void {
  const out = process.stdout;
  out.write(
    `\n${totals.passed} passed, ${totals.failed.length} failed of ${totals.done} seeds ` +
      `(faults ${options.faults}, ${options.nodes} nodes) in ${wallS.toFixed(1)} s wall\n` +
      `messages sent ${totals.messagesSent}, delivered ${totals.deliveries} (all nodes), ` +
      `regular configurations installed ${totals.configurationsInstalled}\n`,
  );
  if (totals.healToOneRingMs.length > 0) {
    const ms = quantiles(totals.healToOneRingMs);
    const ct = quantiles(totals.healToOneRingConsensusTimeouts);
    out.write(
      `heal to one ring (${totals.healToOneRingMs.length} settled seeds): virtual ms p50 ${Math.round(ms.p50)}, p99 ${Math.round(ms.p99)}, max ${Math.round(ms.max)}; ` +
        `consensus timeouts p50 ${ct.p50.toFixed(1)}, p99 ${ct.p99.toFixed(1)}, max ${ct.max.toFixed(1)}\n`,
    );
  }
  if (totals.adversaries.size > 1 || !totals.adversaries.has('none')) {
    const parts = [...totals.adversaries].sort().map(([mode, a]) => `${mode} ${a.passed}/${a.seeds} passed (${a.injected} packets injected)`);
    out.write(`adversary: ${parts.join(', ')}\n`);
  }
  if (totals.survivalFindings > 0) {
    out.write(`unkeyed seeds (checked for survival only): ${totals.survivalFindings} EVS findings from forged or mutated packets\n`);
  }
  for (const w of totals.warnings) out.write(`warning: ${w}\n`);
  if (totals.violationsByProperty.size > 0) {
    out.write('violations by property:\n');
    for (const [property, count] of [...totals.violationsByProperty].sort((a, b) => b[1] - a[1])) out.write(`  ${property}: ${count}\n`);
  }
  if (!options.single) {
    for (const result of totals.failed.sort((a, b) => a.seed - b.seed)) {
      const first = result.violations[0];
      out.write(`seed ${result.seed} failed (${first === undefined ? '?' : `${first.property}: ${truncate(first.message, 160)}`})\n`);
      out.write(`  replay: ${replayCommand(result.seed, result.nodes, result.faults, options.traceDir ?? 'sim-traces', result.safetyMs)}${options.app === 'locks' ? ' --workload locks' : ''}\n`);
    }
  } else if (totals.failed.length > 0) {
    const r = totals.failed[0] as SeedResult;
    out.write(`replay: ${replayCommand(r.seed, r.nodes, r.faults, options.traceDir ?? 'sim-traces', r.safetyMs)}${options.app === 'locks' ? ' --workload locks' : ''}\n`);
  }
}

function quantiles(values: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}

function truncate(s: string, n: number): string {
  const oneLine = s.replace(/\s+/g, ' ');
  return oneLine.length <= n ? oneLine : `${oneLine.slice(0, n)}...`;
}

// Output piped into `head` is not an error of the run.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`sim: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
