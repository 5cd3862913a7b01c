/**
 * `totem-evs bench --workload locks`: the lock manager under load on a local cluster of N node
 * processes (127.0.0.1), and with --peer the same workload on etcd and Redlock started on this
 * machine in the same run (perf/locks/peers.ts says how each is configured and why that is fair).
 *
 * Each system gets the same client shape: one process per node (per etcd member, per Redlock
 * client) running --concurrency loops of acquire → release (perf/locks/workload.ts). Reported per
 * system: acquire+release cycles per second across the cluster and acquire latency percentiles
 * (hdr, µs); for totem-evs also the ring's own agreed-delivery latency measured at the same time
 * (a probe message every 5 ms per node), which an uncontended acquire (one agreed multicast)
 * is compared with. With --runs K every figure is the median of K runs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freeUdpPorts } from '../free-ports.js';
import { createLatencyHistogram, decodeHistogram, summarizeUs, type LatencyHistogram, type LatencySummaryUs } from '../../api/commands/latency.js';
import type { LockWorkloadResult, LockWorkloadSpec } from './workload.js';
import { startEtcd, startRedis, type PeerCluster } from './peers.js';
import { PeerUnavailable } from './peer-modules.js';
import { renderLocksHtml } from './locks-html.js';

export const LOCKS_BENCH_USAGE = `Usage: totem-evs bench --workload locks [options]

Starts --nodes totem-evs node processes on 127.0.0.1, opens the lock manager on each, and runs
--concurrency acquire → release loops per node for --warmup + --duration seconds. Reports
acquire+release cycles per second across the cluster, acquire latency percentiles (µs, from
lock() to the grant) and the ring's own agreed-delivery latency at the same load.

Options:
  --nodes N              node processes (default 3)
  --concurrency C        acquire/release loops per node (default 32)
  --resources R          0 (default): uncontended, every loop has a resource of its own;
                         R: each cycle picks one of R shared resources at random
  --shared PCT           percent of cycles asking for a shared (PR) lock, the rest EX (default 0)
  --duration S           measured seconds (default 10)
  --warmup S             seconds before the measurement (default 2)
  --runs K               repeat K times; figures are medians (default 1)
  --token-ms N           token timeout (default 1000)
  --peer etcd|redlock|all
                         also run the workload on 3 etcd members (Debian's etcd-server, the
                         etcd3 client's Lock) and/or 3 Redis servers (Debian's redis-server,
                         Redlock via @sesamecare-oss/redlock), started on 127.0.0.1 for this
                         run, and print the ratios (etcd and Redlock have no shared mode: every
                         lock they take is exclusive)
  --report FILE          also write a self-contained HTML page
  --json                 print one JSON object with every figure
  --help                 print this help
`;

export interface LocksBenchArgs {
  nodes: number;
  concurrency: number;
  resources: number;
  sharedPct: number;
  durationS: number;
  warmupS: number;
  runs: number;
  tokenMs: number;
  peers: ('etcd' | 'redlock')[];
  reportFile: string | null;
  json: boolean;
}

class UsageError extends Error {}

export function parseLocksArgs(argv: string[]): LocksBenchArgs | 'help' {
  const a: LocksBenchArgs = { nodes: 3, concurrency: 32, resources: 0, sharedPct: 0, durationS: 10, warmupS: 2, runs: 1, tokenMs: 1000, peers: [], reportFile: null, json: false };
  const num = (flag: string, v: string | undefined, min: number, max: number, integer = true): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new UsageError(`${flag} takes a ${integer ? 'whole ' : ''}number in ${min}..${max}, got ${v ?? 'nothing'}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const v = argv[i + 1];
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--workload':
        if (v !== 'locks') throw new UsageError(`--workload takes locks here, got ${v ?? 'nothing'}`);
        i++;
        break;
      case '--nodes': a.nodes = num(flag, v, 1, 16); i++; break;
      case '--concurrency': a.concurrency = num(flag, v, 1, 4096); i++; break;
      case '--resources': a.resources = num(flag, v, 0, 1_000_000); i++; break;
      case '--shared': a.sharedPct = num(flag, v, 0, 100, false); i++; break;
      case '--duration': a.durationS = num(flag, v, 1, 3600, false); i++; break;
      case '--warmup': a.warmupS = num(flag, v, 0, 600, false); i++; break;
      case '--runs': a.runs = num(flag, v, 1, 20); i++; break;
      case '--token-ms': a.tokenMs = num(flag, v, 10, 60_000); i++; break;
      case '--report':
        if (v === undefined) throw new UsageError('--report takes a file name');
        a.reportFile = v;
        i++;
        break;
      case '--json': a.json = true; break;
      case '--peer': {
        if (v === undefined) throw new UsageError('--peer takes etcd, redlock or all');
        for (const p of v.split(',')) {
          if (p === 'all') a.peers.push('etcd', 'redlock');
          else if (p === 'etcd' || p === 'redlock') a.peers.push(p);
          else throw new UsageError(`--peer takes etcd, redlock or all, got ${p}`);
        }
        a.peers = [...new Set(a.peers)];
        i++;
        break;
      }
      default:
        throw new UsageError(`unknown option ${flag} for --workload locks (see --workload locks --help)`);
    }
  }
  return a;
}

export interface SystemRun {
  system: string;
  cyclesPerSec: number;
  acquireLatencyUs: LatencySummaryUs;
  /** totem-evs only: the ring's own agreed-delivery latency at the same load. */
  agreedDeliveryUs?: LatencySummaryUs;
  retries: number;
  errors: string[];
  cpuMsPerProcess: number[];
  /** Merged histograms (not in the JSON). */
  acquire: LatencyHistogram;
  probe?: LatencyHistogram;
}

type ResultMessage = LockWorkloadResult & { type: 'result'; probeUs?: string; cpuMs: number };

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

async function runSystem(system: string, children: ChildProcess[], args: LocksBenchArgs): Promise<SystemRun> {
  const messages = children.map(() => [] as { type: string; message?: string }[]);
  const waiters: (() => void)[] = [];
  children.forEach((c, i) => {
    c.on('message', (m: { type: string; message?: string }) => {
      messages[i]?.push(m);
      for (const w of waiters.splice(0)) w();
    });
    c.on('exit', () => {
      for (const w of waiters.splice(0)) w();
    });
  });
  const waitAll = async (type: string, timeoutMs: number): Promise<unknown[]> => {
    const deadlineMs = Date.now() + timeoutMs;
    for (;;) {
      const errs = messages.flatMap((ms) => ms.filter((m) => m.type === 'error').map((m) => m.message));
      if (errs.length > 0) throw new Error(`${system}: ${errs.join('; ')}`);
      const got = messages.map((ms) => ms.find((m) => m.type === type));
      if (got.every((m) => m !== undefined)) return got;
      const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
      if (dead !== undefined) throw new Error(`${system}: a process exited (${dead.exitCode ?? dead.signalCode}) before '${type}'`);
      const left = deadlineMs - Date.now();
      if (left <= 0) throw new Error(`${system}: no '${type}' from every process within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 500));
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };
  try {
    await waitAll('ready', 60_000);
    const startMs = Date.now() + 200;
    const measureFromMs = startMs + args.warmupS * 1000;
    const measureToMs = measureFromMs + args.durationS * 1000;
    children.forEach((c, i) => {
      const spec: LockWorkloadSpec = { concurrency: args.concurrency, resources: args.resources, sharedPct: args.sharedPct, measureFromMs, measureToMs, seed: 0x9e3779b9 ^ (i + 1) };
      c.send({ type: 'run', spec });
    });
    const results = (await waitAll('result', (args.warmupS + args.durationS) * 1000 + 60_000)) as ResultMessage[];
    const acquire = createLatencyHistogram();
    const probe = createLatencyHistogram();
    let cycles = 0;
    let retries = 0;
    const errors: string[] = [];
    for (const r of results) {
      acquire.add(decodeHistogram(r.acquireUs));
      if (r.probeUs !== undefined) probe.add(decodeHistogram(r.probeUs));
      cycles += r.cycles;
      retries += r.retries;
      errors.push(...r.errors);
    }
    const run: SystemRun = {
      system,
      cyclesPerSec: Math.round(cycles / args.durationS),
      acquireLatencyUs: summarizeUs(acquire),
      retries,
      errors: errors.slice(0, 5),
      cpuMsPerProcess: results.map((r) => Math.round(r.cpuMs)),
      acquire,
    };
    if (probe.totalCount > 0) {
      run.agreedDeliveryUs = summarizeUs(probe);
      run.probe = probe;
    }
    return run;
  } finally {
    for (const c of children) if (c.connected) c.send({ type: 'stop' });
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
  }
}

function forkChild(script: string, argv: string[]): ChildProcess {
  return fork(here(script), argv, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
}

async function runOurs(args: LocksBenchArgs): Promise<SystemRun> {
  const ports = await freeUdpPorts(args.nodes);
  const children = ports.map((_, i) => forkChild('./lock-node.js', [String(i + 1), ports.join(','), String(args.tokenMs)]));
  return runSystem('totem-evs', children, args);
}

async function runPeer(kind: 'etcd' | 'redlock', args: LocksBenchArgs): Promise<{ run: SystemRun; config: string }> {
  const cluster: PeerCluster = kind === 'etcd' ? await startEtcd(3) : await startRedis(3);
  try {
    const children = Array.from({ length: args.nodes }, (_, i) =>
      forkChild('./peer-client.js', [kind, cluster.clientTargets[i % cluster.clientTargets.length] as string, String(i + 1)]),
    );
    return { run: await runSystem(kind, children, args), config: cluster.config };
  } finally {
    await cluster.stop();
  }
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function medianSummary(list: LatencySummaryUs[]): LatencySummaryUs {
  const pick = (k: keyof LatencySummaryUs): number => median(list.map((s) => s[k]));
  return { count: pick('count'), p50: pick('p50'), p90: pick('p90'), p99: pick('p99'), p999: pick('p999'), p9999: pick('p9999'), max: pick('max') };
}

export interface SystemFigures {
  cyclesPerSec: number;
  acquireLatencyUs: LatencySummaryUs;
  agreedDeliveryUs?: LatencySummaryUs;
  runs: { cyclesPerSec: number; acquireP50Us: number; acquireP99Us: number; agreedDeliveryP50Us?: number; retries: number; errors: string[]; cpuMsPerProcess: number[] }[];
}

function figuresOf(runs: SystemRun[]): SystemFigures {
  const f: SystemFigures = {
    cyclesPerSec: median(runs.map((r) => r.cyclesPerSec)),
    acquireLatencyUs: medianSummary(runs.map((r) => r.acquireLatencyUs)),
    runs: runs.map((r) => ({
      cyclesPerSec: r.cyclesPerSec,
      acquireP50Us: r.acquireLatencyUs.p50,
      acquireP99Us: r.acquireLatencyUs.p99,
      ...(r.agreedDeliveryUs === undefined ? {} : { agreedDeliveryP50Us: r.agreedDeliveryUs.p50 }),
      retries: r.retries,
      errors: r.errors,
      cpuMsPerProcess: r.cpuMsPerProcess,
    })),
  };
  const probes = runs.flatMap((r) => (r.agreedDeliveryUs === undefined ? [] : [r.agreedDeliveryUs]));
  if (probes.length > 0) f.agreedDeliveryUs = medianSummary(probes);
  return f;
}

export interface LocksBenchReport {
  workload: 'locks';
  config: Omit<LocksBenchArgs, 'json' | 'reportFile'> & { machine: { cpus: number } };
  locks: SystemFigures & { acquireP50OverAgreedDeliveryP50: number | null };
  peers: Record<string, SystemFigures & { config: string; ours: { throughputRatio: number; p50Ratio: number } }>;
  targets: { name: string; met: boolean; measured: string }[];
}

export async function runLocksBench(argv: string[], out: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } }): Promise<number> {
  let args: LocksBenchArgs;
  try {
    const parsed = parseLocksArgs(argv);
    if (parsed === 'help') {
      out.stdout.write(LOCKS_BENCH_USAGE);
      return 0;
    }
    args = parsed;
  } catch (err) {
    out.stderr.write(`totem-evs bench: ${(err as Error).message}\n`);
    return 2;
  }
  const ours: SystemRun[] = [];
  const peerRuns = new Map<string, { runs: SystemRun[]; config: string }>();
  const say = (s: string): void => {
    if (!args.json) out.stderr.write(s);
  };
  try {
    for (let k = 0; k < args.runs; k++) {
      say(`run ${k + 1}/${args.runs}: totem-evs, ${args.nodes} nodes ...\n`);
      ours.push(await runOurs(args));
      for (const peer of args.peers) {
        say(`run ${k + 1}/${args.runs}: ${peer} ...\n`);
        const { run, config } = await runPeer(peer, args);
        const entry = peerRuns.get(peer) ?? { runs: [], config };
        entry.runs.push(run);
        peerRuns.set(peer, entry);
      }
    }
  } catch (err) {
    out.stderr.write(`totem-evs bench: ${err instanceof PeerUnavailable ? err.message : (err as Error).stack ?? String(err)}\n`);
    return 1;
  }
  const oursFigures = figuresOf(ours);
  const ratio = oursFigures.agreedDeliveryUs === undefined || oursFigures.agreedDeliveryUs.p50 === 0 ? null : oursFigures.acquireLatencyUs.p50 / oursFigures.agreedDeliveryUs.p50;
  const report: LocksBenchReport = {
    workload: 'locks',
    config: { nodes: args.nodes, concurrency: args.concurrency, resources: args.resources, sharedPct: args.sharedPct, durationS: args.durationS, warmupS: args.warmupS, runs: args.runs, tokenMs: args.tokenMs, peers: args.peers, machine: { cpus: (await import('node:os')).cpus().length } },
    locks: { ...oursFigures, acquireP50OverAgreedDeliveryP50: ratio === null ? null : Math.round(ratio * 1000) / 1000 },
    peers: {},
    targets: [],
  };
  const uncontended3 = args.nodes === 3 && args.resources === 0;
  if (uncontended3) {
    report.targets.push({ name: '>= 30,000 uncontended cycles/s across 3 nodes', met: oursFigures.cyclesPerSec >= 30_000, measured: `${oursFigures.cyclesPerSec}` });
    if (ratio !== null) report.targets.push({ name: 'uncontended acquire p50 within 10% of the agreed-delivery p50', met: ratio <= 1.1, measured: `${oursFigures.acquireLatencyUs.p50} µs vs ${oursFigures.agreedDeliveryUs?.p50} µs (x${ratio.toFixed(3)})` });
  }
  for (const [peer, { runs, config }] of peerRuns) {
    const f = figuresOf(runs);
    const throughputRatio = f.cyclesPerSec === 0 ? Infinity : oursFigures.cyclesPerSec / f.cyclesPerSec;
    const p50Ratio = f.acquireLatencyUs.p50 === 0 ? Infinity : oursFigures.acquireLatencyUs.p50 / f.acquireLatencyUs.p50;
    report.peers[peer] = { ...f, config, ours: { throughputRatio: Math.round(throughputRatio * 100) / 100, p50Ratio: Math.round(p50Ratio * 1000) / 1000 } };
    if (peer === 'etcd' && uncontended3) {
      report.targets.push({ name: '>= 10x etcd throughput', met: throughputRatio >= 10, measured: `x${throughputRatio.toFixed(2)}` });
      report.targets.push({ name: '<= 1/5 of etcd p50 acquire latency', met: p50Ratio <= 0.2, measured: `x${p50Ratio.toFixed(3)}` });
    }
  }
  if (args.reportFile !== null) writeFileSync(args.reportFile, renderLocksHtml(report, ours, peerRuns));
  out.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatLocksReport(report));
  return 0;
}

function fmtLatency(s: LatencySummaryUs | undefined): string {
  if (s === undefined) return 'n/a';
  return `p50 ${s.p50}  p90 ${s.p90}  p99 ${s.p99}  p99.9 ${s.p999}  max ${s.max}  (${s.count} samples)`;
}

export function formatLocksReport(r: LocksBenchReport): string {
  const c = r.config;
  const lines = [
    `totem-evs bench --workload locks: ${c.nodes} nodes, ${c.concurrency} loops per node, ${c.resources === 0 ? 'uncontended (a resource per loop)' : `${c.resources} shared resources`}, ${c.sharedPct}% shared (PR); ${c.durationS} s measured after ${c.warmupS} s; ${c.runs === 1 ? '1 run' : `median of ${c.runs} runs`}`,
    '',
    `totem-evs   ${r.locks.cyclesPerSec.toLocaleString('en-US')} acquire+release cycles/s across the cluster`,
    `            acquire µs: ${fmtLatency(r.locks.acquireLatencyUs)}`,
    `            ring agreed delivery µs (same load): ${fmtLatency(r.locks.agreedDeliveryUs)}`,
    `            acquire p50 / agreed-delivery p50: ${r.locks.acquireP50OverAgreedDeliveryP50 ?? 'n/a'}`,
  ];
  for (const [peer, f] of Object.entries(r.peers)) {
    lines.push(
      '',
      `${peer.padEnd(11)} ${f.cyclesPerSec.toLocaleString('en-US')} cycles/s; acquire µs: ${fmtLatency(f.acquireLatencyUs)}`,
      `            ${f.config}`,
      `            totem-evs / ${peer}: throughput x${f.ours.throughputRatio}, acquire p50 x${f.ours.p50Ratio}${f.runs.some((x) => x.retries > 0) ? `; retries (lock taken) ${f.runs.map((x) => x.retries).join(', ')}` : ''}`,
    );
  }
  if (r.targets.length > 0) {
    lines.push('', 'targets:');
    for (const t of r.targets) lines.push(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.name}: ${t.measured}`);
  }
  return `${lines.join('\n')}\n`;
}
