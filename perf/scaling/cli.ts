/**
 * `npm run scaling`: the scaling study (perf/scaling/study.ts) for rings of 3..64 nodes at the
 * default timers and at the recommended ones per size. Prints the table, writes `scaling.json`
 * and `scaling.html` (plots by perf/html-report.ts) into the output directory.
 *
 *   npm run scaling                                   # 3 5 9 16 32 64, both timer sets
 *   npm run scaling -- --sizes 3,5 --repeats 1 --light-ms 1000 --out /tmp/s
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { renderScalingHtml } from '../html-report.js';
import {
  defaultTimers,
  recommendedCoefficientMs,
  recommendedTimers,
  runCase,
  studyDefaults,
  type StudyCase,
  type StudyOptions,
  type StudyResult,
} from './study.js';

export interface ScalingArgs {
  sizes: number[];
  timers: ('default' | 'recommended')[];
  outDir: string;
  study: StudyOptions;
  json: boolean;
}

const usage = `usage: npm run scaling -- [--sizes 3,5,9,16,32,64] [--timers default,recommended] [--out DIR]
  [--repeats N] [--light-ms MS] [--light-rate MSGS_PER_S] [--sat-ms MS] [--sat-size BYTES] [--hop-ms MS]
  [--jitter-ms MS] [--seed S] [--json]`;

export class UsageError extends Error {}

export function parseScalingArgs(argv: readonly string[]): ScalingArgs {
  const args: ScalingArgs = {
    sizes: [3, 5, 9, 16, 32, 64],
    timers: ['default', 'recommended'],
    outDir: 'scaling-report',
    study: { ...studyDefaults },
    json: false,
  };
  const intArg = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} needs an integer in ${min}..${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[i + 1];
    switch (flag) {
      case '--sizes':
        if (v === undefined) throw new UsageError('--sizes needs a list');
        args.sizes = v.split(',').map((s) => intArg('--sizes', s, 2, 64));
        i++;
        break;
      case '--timers':
        if (v === undefined || !v.split(',').every((t) => t === 'default' || t === 'recommended')) {
          throw new UsageError('--timers takes default, recommended or both');
        }
        args.timers = v.split(',') as ScalingArgs['timers'];
        i++;
        break;
      case '--out':
        if (v === undefined) throw new UsageError('--out needs a directory');
        args.outDir = v;
        i++;
        break;
      case '--repeats': args.study.repeats = intArg(flag, v, 0, 100); i++; break;
      case '--light-ms': args.study.lightDurationMs = intArg(flag, v, 100, 600_000); i++; break;
      case '--light-rate': args.study.lightRatePerSec = intArg(flag, v, 1, 100_000); i++; break;
      case '--sat-ms': args.study.saturationDurationMs = intArg(flag, v, 100, 600_000); i++; break;
      case '--sat-size': args.study.saturationSizeBytes = intArg(flag, v, 8, 1_048_576); i++; break;
      case '--hop-ms': args.study.hopMs = intArg(flag, v, 1, 1000); i++; break;
      case '--jitter-ms': args.study.jitterMs = intArg(flag, v, 0, 1000); i++; break;
      case '--seed': args.study.seed = intArg(flag, v, 1, 2 ** 31); i++; break;
      case '--json': args.json = true; break;
      default:
        throw new UsageError(`unknown flag ${String(flag)}`);
    }
  }
  return args;
}

function f(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

function list(values: readonly number[]): string {
  return values.length === 0 ? '—' : values.map((v) => f(v)).join('/');
}

/** The table, one row per (size, timers), as markdown (the README carries it as printed). */
export function formatTable(results: readonly StudyResult[]): string {
  const head = [
    'nodes', 'timers', 'token ms', 'rotation ms p50', 'agreed ms p50/p99', 'safe ms p50/p99', 'safe/rotation',
    'sat. msgs/s', 'sat. MB/s', 'per node msgs/s', 'sat. rotation ms p50', 'failover ms', 'rejoin ms', 'merge ms',
  ];
  const rows = results.map((r) => [
    String(r.nodeCount), r.timersName, String(r.tokenTimeoutMs), f(r.rotationMs.p50),
    `${f(r.agreedMs.p50)}/${f(r.agreedMs.p99)}`, `${f(r.safeMs.p50)}/${f(r.safeMs.p99)}`, f(r.safeRotations, 1),
    f(r.saturationMsgsPerSec), f(r.saturationMBPerSec, 1), f(r.saturationPerNodeMsgsPerSec), f(r.saturationRotationMs.p50),
    list(r.failoverMs), list(r.rejoinMs), list(r.mergeMs) + (r.stuck.length > 0 ? ` (stuck: ${r.stuck.join(', ')})` : ''),
  ]);
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function runStudy(args: ScalingArgs, log: (line: string) => void): StudyResult[] {
  const cases: StudyCase[] = [];
  for (const nodeCount of args.sizes) {
    for (const timersName of args.timers) {
      cases.push({ nodeCount, timersName, timers: timersName === 'default' ? defaultTimers() : recommendedTimers(nodeCount) });
    }
  }
  const results: StudyResult[] = [];
  for (const c of cases) {
    // At 64 nodes a case simulates tens of millions of packet copies: keep the long phases shorter there.
    const study = c.nodeCount >= 32 ? { ...args.study, lightDurationMs: Math.min(args.study.lightDurationMs, 2000) } : args.study;
    const r = runCase(c, study, () => performance.now());
    results.push(r);
    log(
      `${c.nodeCount} nodes, ${c.timersName} timers (token ${c.timers.tokenTimeoutMs} ms): rotation ${f(r.rotationMs.p50)} ms, ` +
        `safe p50 ${f(r.safeMs.p50)} ms, ${f(r.saturationMsgsPerSec)} msgs/s, failover ${list(r.failoverMs)} ms, ` +
        `merge ${list(r.mergeMs)} ms${r.stuck.length > 0 ? `, STUCK ${r.stuck.join(', ')}` : ''} ` +
        `(${f(r.virtualMs / 1000, 1)} s virtual, ${f(r.wallMs / 1000, 1)} s wall)`,
    );
  }
  return results;
}

export function main(argv: readonly string[], log: (line: string) => void = (l) => console.log(l)): number {
  if (argv.includes('--help')) {
    log(usage);
    return 0;
  }
  let args: ScalingArgs;
  try {
    args = parseScalingArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`scaling: ${e.message}\n${usage}`);
      return 2;
    }
    throw e;
  }
  const wallStart = performance.now();
  const results = runStudy(args, args.json ? () => {} : log);
  const wallS = (performance.now() - wallStart) / 1000;
  const outDir = resolve(args.outDir);
  mkdirSync(outDir, { recursive: true });
  const report = {
    model: {
      hopMs: args.study.hopMs,
      jitterMs: args.study.jitterMs,
      loss: 0,
      bandwidth: 'unlimited',
      processing: 'none (virtual time)',
    },
    study: args.study,
    recommendedRule: `tokenTimeoutMs = 1000 + (N - 2) x ${recommendedCoefficientMs}; other timers by deriveTimers`,
    wallS,
    results,
  };
  writeFileSync(join(outDir, 'scaling.json'), `${JSON.stringify(report, null, 1)}\n`);
  writeFileSync(join(outDir, 'scaling.html'), renderScalingHtml(report, formatTable(results)));
  if (args.json) log(JSON.stringify(report));
  else {
    log('');
    log(formatTable(results));
    log('');
    log(
      `model: ${args.study.hopMs} ms per hop, jitter ${args.study.jitterMs} ms, no loss, no bandwidth limit, no processing cost; ` +
        `light load ${args.study.lightRatePerSec} msgs/s of ${args.study.lightSizeBytes} B, saturation ${args.study.saturationSizeBytes} B agreed`,
    );
    log(`wrote ${join(outDir, 'scaling.json')} and ${join(outDir, 'scaling.html')}; ${wallS.toFixed(1)} s wall`);
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
