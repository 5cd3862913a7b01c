/**
 * `npm run soak`: a long run of real `totem-evs node` processes on loopback with restarts, to
 * show what a short bench cannot: memory that creeps, membership changes nobody caused,
 * retransmissions that pile up, and any EVS violation over many restarts.
 *
 *   1. The maximum: `totem-evs bench` with every node sending as fast as flow control allows,
 *      for a few seconds (--max-s); its slowest node's delivered msgs/s is the maximum.
 *   2. The soak: --nodes processes, each sending --size-byte messages so that the ring carries
 *      --load (default 0.5) of that maximum; every --restart-every-s seconds one node, in turn
 *      among --restart-nodes (default: all but node 1, so that one process lives through the
 *      whole soak and its RSS slope spans it), is stopped (SIGKILL and SIGTERM alternately) and
 *      started again at once. Every node writes
 *      its EVS trace into one directory; every stop appends its crash line (docs/trace-contract.md).
 *      Every --sample-s seconds: each node's RSS (/proc/PID/status VmRSS) and counters (/status).
 *   3. The report: RSS per node incarnation over time and its slope after --warmup-s (MiB/min,
 *      least squares), regular configurations installed outside the restart windows (a window
 *      runs from the stop until every node is back in one ring of all, plus --settle-s),
 *      retransmissions per minute, and `totem-evs check` over the whole trace directory.
 *
 * Prints a summary and writes soak.json (and keeps the traces) in --out. Not part of `npm test`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseConfigurationLine, type ConfigurationLine } from '../../api/commands/node-command.js';
import { appendHarnessCrash } from '../../workers/trace/trace-writer.js';
import { runBench } from '../bench.js';
import { freeUdpPorts } from '../free-ports.js';

const cli = fileURLToPath(new URL('../../api/cli.js', import.meta.url));
/** How long `totem-evs check` may take over the soak's traces. */
const checkTimeoutMs = 30 * 60_000;

export interface SoakArgs {
  nodes: number;
  durationS: number;
  restartEveryS: number;
  warmupS: number;
  sampleS: number;
  settleS: number;
  maxS: number;
  /** A maximum given instead of measured (msgs/s delivered at the slowest node). */
  maxMsgsPerSec: number | null;
  load: number;
  sizeBytes: number;
  /** Nodes restarted in turn; the others run the whole soak (their RSS slope spans it). */
  restartNodes: number[];
  outDir: string;
  json: boolean;
}

export const soakUsage = `usage: npm run soak -- [--duration-s 600] [--restart-every-s 60] [--nodes 3] [--load 0.5]
  [--size BYTES] [--max-s 8 | --max-msgs-per-s N] [--restart-nodes 2,3] [--warmup-s 60] [--sample-s 5]
  [--settle-s 3] [--out DIR] [--json]`;

export class SoakUsageError extends Error {}

export function parseSoakArgs(argv: readonly string[]): SoakArgs {
  const a: SoakArgs = {
    nodes: 3, durationS: 600, restartEveryS: 60, warmupS: 60, sampleS: 5, settleS: 3, maxS: 8,
    maxMsgsPerSec: null, load: 0.5, sizeBytes: 1024, restartNodes: [], outDir: 'soak-report', json: false,
  };
  let restartNodesGiven: number[] | null = null;
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new SoakUsageError(`${flag} needs a number in ${min}..${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const v = argv[i + 1];
    switch (flag) {
      case '--nodes': a.nodes = Math.round(num(flag, v, 2, 16)); i++; break;
      case '--duration-s': a.durationS = num(flag, v, 5, 86_400); i++; break;
      case '--restart-every-s': a.restartEveryS = num(flag, v, 2, 86_400); i++; break;
      case '--warmup-s': a.warmupS = num(flag, v, 0, 86_400); i++; break;
      case '--sample-s': a.sampleS = num(flag, v, 0.5, 600); i++; break;
      case '--settle-s': a.settleS = num(flag, v, 0, 60); i++; break;
      case '--max-s': a.maxS = num(flag, v, 1, 120); i++; break;
      case '--max-msgs-per-s': a.maxMsgsPerSec = num(flag, v, 1, 10_000_000); i++; break;
      case '--load': a.load = num(flag, v, 0.01, 1); i++; break;
      case '--size': a.sizeBytes = Math.round(num(flag, v, 32, 65_536)); i++; break;
      case '--restart-nodes':
        if (v === undefined) throw new SoakUsageError('--restart-nodes needs a list of node ids');
        restartNodesGiven = v.split(',').map((x) => Math.round(num(flag, x, 1, 16)));
        i++;
        break;
      case '--out':
        if (v === undefined) throw new SoakUsageError('--out needs a directory');
        a.outDir = v;
        i++;
        break;
      case '--json': a.json = true; break;
      default: throw new SoakUsageError(`unknown flag ${flag}`);
    }
  }
  // Default: every node but node 1 in turn, so that one process lives the whole soak.
  a.restartNodes = restartNodesGiven ?? Array.from({ length: a.nodes - 1 }, (_, i) => i + 2);
  if (a.restartNodes.some((n) => n > a.nodes) || new Set(a.restartNodes).size !== a.restartNodes.length || a.restartNodes.length === 0) {
    throw new SoakUsageError(`--restart-nodes lists distinct node ids in 1..${a.nodes}`);
  }
  return a;
}

interface Incarnation {
  node: number;
  index: number;
  child: ChildProcess;
  startedMs: number;
  lines: string[];
  confs: ConfigurationLine[];
  stderr: string;
  exited: Promise<number | null>;
  metricsPort: number;
  /** [ms since soak start, RSS MiB]. */
  rss: [number, number][];
  /** Last counters read from /status. */
  counters: { retransmitsSent: number; retransmitsRequested: number; tokenRetransmits: number } | null;
  stopSignal: 'SIGKILL' | 'SIGTERM' | 'end' | null;
}


async function freeTcpPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function rssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}

/** Least-squares slope of y over x (x in minutes): MiB per minute; null below 3 points. */
export function slopePerMin(points: readonly [number, number][]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const xs = points.map((p) => p[0] / 60_000);
  const ys = points.map((p) => p[1]);
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    sxx += ((xs[i] as number) - mx) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx;
}

async function readCounters(port: number): Promise<Incarnation['counters']> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return null;
    const s = (await res.json()) as { engine: { retransmitsSent: number; retransmitsRequested: number; tokenRetransmits: number } };
    return { retransmitsSent: s.engine.retransmitsSent, retransmitsRequested: s.engine.retransmitsRequested, tokenRetransmits: s.engine.tokenRetransmits };
  } catch {
    return null;
  }
}

/** Measures the maximum with `totem-evs bench`: every node sending at max for maxS seconds. */
async function measureMax(args: SoakArgs, log: (line: string) => void): Promise<number> {
  let out = '';
  let err = '';
  const code = await runBench(
    ['--nodes', String(args.nodes), '--senders', 'all', '--rate', 'max', '--size', String(args.sizeBytes),
      '--duration', String(args.maxS), '--warmup', '1', '--json'],
    { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } },
  );
  if (code !== 0) throw new Error(`bench for the maximum exited ${code}: ${err.trim()}`);
  const report = JSON.parse(out.trim().split('\n').pop() as string) as { throughput: { msgsPerSecSlowest: number } };
  log(`maximum: ${report.throughput.msgsPerSecSlowest} msgs/s of ${args.sizeBytes} B at the slowest node (bench, ${args.nodes} senders, ${args.maxS} s)`);
  return report.throughput.msgsPerSecSlowest;
}

export interface SoakReport {
  args: SoakArgs;
  maxMsgsPerSec: number;
  ratePerNode: number;
  startedAt: string;
  wallS: number;
  restarts: { atS: number; node: number; signal: string; rejoinMs: number | null; windowEndS: number | null }[];
  rss: { node: number; incarnation: number; startS: number; samples: [number, number][]; slopeMiBPerMin: number | null; samplesAfterWarmup: number }[];
  rssSlopeMaxMiBPerMin: number | null;
  configurationsOutsideRestarts: { node: number; atS: number; members: number[]; cause: string }[];
  retransmitsPerMin: { minute: number; retransmitsSent: number; tokenRetransmits: number }[];
  retransmitsSentTotal: number;
  deliveredMsgsPerSec: number[];
  integrity: Record<string, number>[];
  /** Every incarnation's configuration lines (seconds since the soak started) and its stderr tail. */
  incarnations: { node: number; incarnation: number; startS: number; stopSignal: string | null; exitCode: number | null; configurations: { kind: string; atS: number; members: number[]; cause: string }[]; stderrTail: string }[];
  check: { exitCode: number | null; output: string };
  traceDir: string;
}

export async function runSoak(args: SoakArgs, log: (line: string) => void): Promise<SoakReport> {
  const wallStartMs = Date.now();
  const maxMsgsPerSec = args.maxMsgsPerSec ?? (await measureMax(args, log));
  // Every node sends, so the ring carries `load` of the maximum; each node a share of it.
  const ratePerNode = Math.max(1, Math.round((maxMsgsPerSec * args.load) / args.nodes));
  const outDir = resolve(args.outDir);
  const traceDir = join(outDir, 'traces');
  rmSync(traceDir, { recursive: true, force: true });
  mkdirSync(traceDir, { recursive: true });
  const stateRoot = mkdtempSync(join(tmpdir(), 'totem-evs-soak-state-'));
  const ports = await freeUdpPorts(args.nodes);
  const members = ports.flatMap((p, i) => ['--member', `${i + 1}@127.0.0.1:${p}`]);
  const incarnations: Incarnation[] = [];
  const current = new Map<number, Incarnation>();
  const soakStartMs = Date.now();
  log(`soak: ${args.nodes} nodes on loopback, ${ratePerNode} msgs/s each of ${args.sizeBytes} B (${Math.round(args.load * 100)}% of ${maxMsgsPerSec}), ` +
    `${args.durationS} s, a restart every ${args.restartEveryS} s; traces in ${traceDir}`);

  const spawnNode = async (node: number): Promise<Incarnation> => {
    const metricsPort = await freeTcpPort();
    const nodeArgs = [
      cli, 'node', '--id', String(node), '--listen', `127.0.0.1:${ports[node - 1]}`, ...members,
      '--state-dir', join(stateRoot, String(node)), '--trace-dir', traceDir,
      '--rate', String(ratePerNode), '--size', String(args.sizeBytes), '--order', 'mixed',
      '--wait-members', String(args.nodes), '--metrics', `127.0.0.1:${metricsPort}`,
    ];
    const child = spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    const inc: Incarnation = {
      node, index: incarnations.filter((i) => i.node === node).length + 1, child, startedMs: Date.now(), lines: [], confs: [],
      stderr: '', exited: new Promise((r) => child.once('exit', (code) => r(code))), metricsPort, rss: [], counters: null, stopSignal: null,
    };
    if (child.stdout !== null) {
      createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
        inc.lines.push(line);
        const c = parseConfigurationLine(line);
        if (c !== null) inc.confs.push(c);
      });
    }
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      // Keep the tail only: a long run must not grow the harness's own memory.
      inc.stderr = (inc.stderr + d).slice(-4000);
    });
    incarnations.push(inc);
    current.set(node, inc);
    return inc;
  };

  const all = Array.from({ length: args.nodes }, (_, i) => i + 1);
  const fullRing = (c: ConfigurationLine): boolean => c.kind === 'regular' && c.members.length === args.nodes;
  /** Resolves with the wall ms by which every current incarnation installed a full ring at or after fromMs. */
  const waitFullRing = async (fromMs: number, timeoutMs: number): Promise<number | null> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const times = all.map((n) => current.get(n)?.confs.find((c) => fullRing(c) && c.atMs >= fromMs)?.atMs ?? null);
      if (times.every((t) => t !== null)) return Math.max(...(times as number[]));
      if (Date.now() > deadline) return null;
      await sleep(50);
    }
  };

  const restarts: SoakReport['restarts'] = [];
  /** Wall-ms windows in which configurations are expected: formation and each restart. */
  const windows: [number, number][] = [];
  let sampler: NodeJS.Timeout | null = null;
  let sampling = Promise.resolve();
  const retransmitSamples: { atMs: number; node: number; index: number; counters: NonNullable<Incarnation['counters']> }[] = [];
  try {
    for (const n of all) await spawnNode(n);
    const formed = await waitFullRing(0, 60_000);
    if (formed === null) throw new Error('the ring did not form within 60 s');
    windows.push([0, formed + args.settleS * 1000]);
    log(`formed in ${formed - soakStartMs} ms`);

    const sampleOnce = async (): Promise<void> => {
      const atMs = Date.now() - soakStartMs;
      for (const inc of current.values()) {
        if (inc.child.exitCode !== null || inc.child.signalCode !== null) continue;
        const rss = rssMiB(inc.child.pid);
        if (rss !== null) inc.rss.push([atMs, rss]);
        const counters = await readCounters(inc.metricsPort);
        if (counters !== null) {
          inc.counters = counters;
          retransmitSamples.push({ atMs, node: inc.node, index: inc.index, counters });
        }
      }
    };
    sampler = setInterval(() => {
      sampling = sampling.then(sampleOnce);
    }, args.sampleS * 1000);
    await sampleOnce();

    const endMs = soakStartMs + args.durationS * 1000;
    for (let k = 0; ; k++) {
      const nextMs = soakStartMs + (k + 1) * args.restartEveryS * 1000;
      if (nextMs >= endMs - 5000) break;
      await sleep(Math.max(0, nextMs - Date.now()));
      const node = args.restartNodes[k % args.restartNodes.length] as number;
      // Alternate overall and, with an even number of restarted nodes, per node too.
      const signal = (k + Math.floor(k / args.restartNodes.length)) % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      const victim = current.get(node) as Incarnation;
      const stopMs = Date.now();
      victim.stopSignal = signal;
      victim.child.kill(signal);
      const code = await Promise.race([victim.exited, sleep(15_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        victim.child.kill('SIGKILL');
        await victim.exited;
      }
      appendHarnessCrash(traceDir, node);
      const restartMs = Date.now();
      await spawnNode(node);
      const back = await waitFullRing(restartMs, 60_000);
      const windowEnd = back === null ? Date.now() : back + args.settleS * 1000;
      windows.push([stopMs, windowEnd]);
      restarts.push({
        atS: (stopMs - soakStartMs) / 1000, node, signal,
        rejoinMs: back === null ? null : back - restartMs, windowEndS: (windowEnd - soakStartMs) / 1000,
      });
      log(`${((stopMs - soakStartMs) / 1000).toFixed(0)} s: node ${node} ${signal}${code === 'timeout' ? ' (did not exit in 15 s: killed)' : ''}, ` +
        `restarted, back in the ring after ${back === null ? 'NOT within 60 s' : `${back - restartMs} ms`}`);
    }
    await sleep(Math.max(0, endMs - Date.now()));
    // The final stop (every node leaves) is not a change nobody caused either.
    windows.push([Date.now(), Infinity]);
  } finally {
    if (sampler !== null) clearInterval(sampler);
    await sampling;
    for (const inc of current.values()) {
      if (inc.child.exitCode === null && inc.child.signalCode === null) {
        inc.stopSignal ??= 'end';
        inc.child.kill('SIGTERM');
      }
    }
    for (const inc of current.values()) {
      const code = await Promise.race([inc.exited, sleep(15_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        inc.child.kill('SIGKILL');
        await inc.exited;
      }
      appendHarnessCrash(traceDir, inc.node);
    }
    rmSync(stateRoot, { recursive: true, force: true });
  }

  // The check streams its traces: a 10-minute soak's 4.4 GB took about 95 s. A bound keeps a
  // wedged check from hanging the soak; killed, it reports exit null (FAIL) and why.
  const check = spawnSync(process.execPath, [cli, 'check', traceDir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: checkTimeoutMs });
  const checkError = check.error === undefined ? '' : `\ncheck did not finish: ${check.error.message} (bound ${checkTimeoutMs / 60_000} min)`;
  const inWindow = (ms: number): boolean => windows.some(([a, b]) => ms >= a && ms <= b);
  const configurationsOutsideRestarts = incarnations.flatMap((inc) =>
    inc.confs
      .filter((c) => c.kind === 'regular' && !inWindow(c.atMs))
      .map((c) => ({ node: inc.node, atS: (c.atMs - soakStartMs) / 1000, members: c.members, cause: c.cause })),
  );
  const rss = incarnations.map((inc) => {
    const startS = (inc.startedMs - soakStartMs) / 1000;
    const after = inc.rss.filter(([t]) => t / 1000 - startS >= args.warmupS);
    return { node: inc.node, incarnation: inc.index, startS, samples: inc.rss, slopeMiBPerMin: slopePerMin(after), samplesAfterWarmup: after.length };
  });
  const slopes = rss.map((r) => r.slopeMiBPerMin).filter((s): s is number => s !== null);
  const retransmitsPerMin = perMinute(retransmitSamples, args.durationS);
  const summaries = incarnations.map((inc) => {
    const last = [...inc.lines].reverse().find((l) => l.startsWith('{'));
    return last === undefined ? null : (JSON.parse(last) as { deliveredMsgsPerSec: number; integrity: Record<string, number> });
  });
  return {
    args,
    maxMsgsPerSec,
    ratePerNode,
    startedAt: new Date(soakStartMs).toISOString(),
    wallS: (Date.now() - wallStartMs) / 1000,
    restarts,
    rss,
    rssSlopeMaxMiBPerMin: slopes.length === 0 ? null : Math.max(...slopes),
    configurationsOutsideRestarts,
    retransmitsPerMin,
    retransmitsSentTotal: retransmitsPerMin.reduce((s, m) => s + m.retransmitsSent, 0),
    deliveredMsgsPerSec: summaries.filter((s) => s !== null).map((s) => s.deliveredMsgsPerSec),
    integrity: summaries.filter((s) => s !== null).map((s) => s.integrity),
    incarnations: incarnations.map((inc) => ({
      node: inc.node,
      incarnation: inc.index,
      startS: (inc.startedMs - soakStartMs) / 1000,
      stopSignal: inc.stopSignal,
      exitCode: inc.child.exitCode,
      configurations: inc.confs.map((c) => ({ kind: c.kind, atS: (c.atMs - soakStartMs) / 1000, members: c.members, cause: c.cause })),
      stderrTail: inc.stderr.slice(-1000),
    })),
    check: { exitCode: check.status, output: `${check.stdout}${check.stderr}${checkError}`.trim().split('\n').slice(-30).join('\n') },
    traceDir,
  };
}

/**
 * Counter increases per minute of the soak, summed over the nodes; a restarted node's counters
 * start again at 0, so each incarnation's series is differenced on its own (what a killed
 * incarnation did after its last sample is not counted).
 */
function perMinute(
  samples: { atMs: number; node: number; index: number; counters: { retransmitsSent: number; tokenRetransmits: number } }[],
  durationS: number,
): SoakReport['retransmitsPerMin'] {
  const minutes = Array.from({ length: Math.ceil(durationS / 60) }, (_, minute) => ({ minute, retransmitsSent: 0, tokenRetransmits: 0 }));
  const last = new Map<string, { retransmitsSent: number; tokenRetransmits: number }>();
  for (const s of samples) {
    const key = `${s.node}.${s.index}`;
    const prev = last.get(key) ?? { retransmitsSent: 0, tokenRetransmits: 0 };
    const bucket = minutes[Math.min(minutes.length - 1, Math.floor(s.atMs / 60_000))];
    if (bucket !== undefined) {
      bucket.retransmitsSent += Math.max(0, s.counters.retransmitsSent - prev.retransmitsSent);
      bucket.tokenRetransmits += Math.max(0, s.counters.tokenRetransmits - prev.tokenRetransmits);
    }
    last.set(key, s.counters);
  }
  return minutes;
}

export function formatSoak(r: SoakReport): string {
  const f = (n: number | null, d = 2): string => (n === null ? '—' : n.toFixed(d));
  const lines = [
    `soak: ${r.args.nodes} nodes, ${r.args.durationS} s, ${r.ratePerNode} msgs/s per node of ${r.args.sizeBytes} B ` +
      `(${Math.round(r.args.load * 100)}% of the measured maximum ${r.maxMsgsPerSec} msgs/s), started ${r.startedAt}, ${r.wallS.toFixed(0)} s wall`,
    `restarts: ${r.restarts.map((x) => `${x.atS.toFixed(0)}s node ${x.node} ${x.signal} rejoin ${x.rejoinMs ?? 'never'} ms`).join('; ') || 'none'}`,
    `RSS slope after ${r.args.warmupS} s of each incarnation, MiB/min (target < 1): ` +
      (r.rss.map((x) => `node ${x.node}#${x.incarnation} ${f(x.slopeMiBPerMin)} (${x.samplesAfterWarmup} samples, last ${f(x.samples.at(-1)?.[1] ?? null, 1)} MiB)`).join('; ')),
    `RSS slope max: ${f(r.rssSlopeMaxMiBPerMin)} MiB/min`,
    `regular configurations outside the restarts (target 0): ${r.configurationsOutsideRestarts.length}` +
      (r.configurationsOutsideRestarts.length > 0 ? ` — ${r.configurationsOutsideRestarts.slice(0, 10).map((c) => `node ${c.node} at ${c.atS.toFixed(1)} s [${c.members.join(',')}] ${c.cause}`).join('; ')}` : ''),
    `retransmissions per minute (frames resent / token copies resent): ${r.retransmitsPerMin.map((m) => `${m.retransmitsSent}/${m.tokenRetransmits}`).join(' ')}`,
    `delivered msgs/s per incarnation that printed its figures: ${r.deliveredMsgsPerSec.map((x) => x.toFixed(0)).join(' / ')}`,
    `integrity: ${r.integrity.map((i) => `${i['corrupt'] ?? 0}/${i['missing'] ?? 0}/${i['duplicated'] ?? 0}/${i['reordered'] ?? 0}`).join(' ')} (corrupt/missing/duplicated/reordered)`,
    `totem-evs check ${r.traceDir}: exit ${r.check.exitCode} (${r.check.exitCode === 0 ? 'pass' : 'FAIL'})`,
    r.check.output,
  ];
  return lines.join('\n');
}

export async function main(argv: readonly string[], log: (line: string) => void = (l) => console.log(l)): Promise<number> {
  if (argv.includes('--help')) {
    log(soakUsage);
    return 0;
  }
  let args: SoakArgs;
  try {
    args = parseSoakArgs(argv);
  } catch (e) {
    if (e instanceof SoakUsageError) {
      console.error(`soak: ${e.message}\n${soakUsage}`);
      return 2;
    }
    throw e;
  }
  const report = await runSoak(args, args.json ? () => {} : log);
  mkdirSync(resolve(args.outDir), { recursive: true });
  writeFileSync(join(resolve(args.outDir), 'soak.json'), `${JSON.stringify(report, null, 1)}\n`);
  if (args.json) log(JSON.stringify(report));
  else {
    log(formatSoak(report));
    log(`wrote ${join(resolve(args.outDir), 'soak.json')}`);
  }
  const pass = report.check.exitCode === 0 && report.configurationsOutsideRestarts.length === 0 && report.restarts.every((x) => x.rejoinMs !== null);
  return pass ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
