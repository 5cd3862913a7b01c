/**
 * `npm run bench:micro -- [--runs 5] [--scale 1] [--only codec,groups,ring,engine,locks] [--json]`:
 * the micro-benchmarks, each reported as the median ops/s of --runs timed runs with the spread:
 *
 *   codec   encode/decode of data frames (64 B, 1406 B) and tokens   (perf/micro/codec.ts)
 *   groups  packer and assembler, per message                         (perf/micro/groups.ts)
 *   ring    SPSC ring write/read between two threads, 64 B and 1 KiB  (perf/ring-throughput.ts)
 *   engine  the engine alone: 3 TotemNodes in one thread, 64 B        (perf/engine-throughput.ts)
 *   locks   the lock table on one replica, per operation             (perf/micro/locks.ts)
 *
 * ring and engine run as child processes (their own scripts, their own JIT state); --scale
 * shrinks or grows every operation count (0.1 for a quick look).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { codecBenchmarks } from './codec.js';
import { groupBenchmarks } from './groups.js';
import { lockBenchmarks } from './locks.js';
import { formatResult, resultOf, type MicroResult } from './measure.js';

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

function script(name: string): string {
  return fileURLToPath(new URL(`../${name}`, import.meta.url));
}

function ringBenchmarks(runs: number, scale: number): MicroResult[] {
  const r = spawnSync(process.execPath, [
    script('ring-throughput.js'), '--runs', String(runs), '--json',
    '--records-small', String(Math.max(1000, Math.round(4_000_000 * scale))),
    '--records-large', String(Math.max(1000, Math.round(1_000_000 * scale))),
  ], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`ring-throughput failed: ${r.stderr}`);
  const cases = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { payloadBytes: number; rates: number[] }[];
  return cases.map((c) => resultOf(`ring: write + read ${c.payloadBytes} B record`, c.rates));
}

function engineBenchmarks(runs: number, scale: number): MicroResult[] {
  const r = spawnSync(process.execPath, [
    script('engine-throughput.js'), '--runs', String(runs), '--json', '--size', '64',
    '--seconds', String(Math.max(0.5, 2 * scale)),
  ], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`engine-throughput failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { msgsPerSecRuns: number[] };
  return [resultOf('engine: 3-node ring in one thread, 64 B msgs', out.msgsPerSecRuns)];
}

async function main(argv: string[]): Promise<number> {
  const runs = Number(flag(argv, 'runs') ?? 5);
  const scale = Number(flag(argv, 'scale') ?? 1);
  const only = new Set((flag(argv, 'only') ?? 'codec,groups,ring,engine,locks').split(','));
  const json = argv.includes('--json');
  if (!Number.isInteger(runs) || runs < 1 || !(scale > 0)) {
    process.stderr.write('bench:micro: --runs takes a whole number ≥ 1, --scale a number > 0\n');
    return 2;
  }
  const results: MicroResult[] = [];
  const emit = (rs: MicroResult[]): void => {
    results.push(...rs);
    if (!json) for (const r of rs) process.stdout.write(`${formatResult(r)}\n`);
  };
  if (!json) process.stdout.write(`micro-benchmarks: node ${process.version}, ${runs} runs each, scale ${scale}\n`);
  if (only.has('codec')) emit(codecBenchmarks(runs, scale));
  if (only.has('groups')) emit(groupBenchmarks(runs, scale));
  if (only.has('ring')) emit(ringBenchmarks(runs, scale));
  if (only.has('engine')) emit(engineBenchmarks(runs, scale));
  if (only.has('locks')) emit(lockBenchmarks(runs, scale));
  if (json) process.stdout.write(`${JSON.stringify({ nodeVersion: process.version, runs, scale, results })}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
