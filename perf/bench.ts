/**
 * `totem-evs bench`: starts a local ring of N `totem-evs node` processes on loopback, drives a
 * load, and reports throughput at the slowest node, latency percentiles (send → delivery at every
 * node, and send → own delivery), protocol figures and integrity. `npm start` runs it with its
 * defaults: the first thing a newcomer sees.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createLatencyHistogram,
  decodeHistogram,
  summarizeUs,
  type LatencySummaryUs,
} from '../api/commands/latency.js';
import { probeBytesMin } from '../api/commands/probe-payload.js';

export const BENCH_USAGE = `Usage: totem-evs bench [options]

Starts a ring of --nodes totem-evs node processes on 127.0.0.1, lets it form, has --senders of
them multicast --size-byte messages for --warmup + --duration seconds, and reports: messages and
MB of payload delivered per second at the slowest node, latency percentiles in microseconds
(send → delivery at every node, send → own delivery; paced runs count from the intended send
time), token rotations, retransmissions, configurations, CPU and peak RSS per node, and any
corrupt, missing, duplicated or reordered message (there should be none).

Options:
  --nodes N              processes in the ring (default 3)
  --size BYTES           message size (default 1024, at least ${probeBytesMin})
  --senders all|N        all nodes send, or nodes 1..N (default 1)
  --order agreed|safe    delivery guarantee (default agreed)
  --rate R|max           messages per second per sender, or as fast as flow control allows
                         (default max)
  --duration S           measured seconds (default 10)
  --warmup S             seconds of load before the measurement starts (default 2)
  --net-mtu N            link MTU (default 1500)
  --key FILE             run encrypted with this cluster key
  --token-ms N           token timeout (default 1000)
  --window N, --max-messages N
                         flow control (defaults 50 and 17)
  --json                 print one JSON object with every figure and the configuration
  --help                 print this help
`;

interface BenchArgs {
  nodes: number;
  sizeBytes: number;
  senders: number;
  order: 'agreed' | 'safe';
  rate: string;
  durationS: number;
  warmupS: number;
  netMtu: number | null;
  keyFile: string | null;
  tokenMs: number | null;
  window: number | null;
  maxMessages: number | null;
  json: boolean;
}

class UsageError extends Error {}

function parseBenchArgs(argv: string[]): BenchArgs | 'help' {
  const a: BenchArgs = {
    nodes: 3, sizeBytes: 1024, senders: 1, order: 'agreed', rate: 'max', durationS: 10, warmupS: 2,
    netMtu: null, keyFile: null, tokenMs: null, window: null, maxMessages: null, json: false,
  };
  let sendersAll = false;
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`--${name} must be in ${min}..${max}`);
    return n;
  };
  const seconds = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} takes seconds`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = (): string | undefined => argv[++i];
    switch (flag) {
      case '--help': case '-h': return 'help';
      case '--nodes': a.nodes = int('nodes', value(), 1, 64); break;
      case '--size': a.sizeBytes = int('size', value(), probeBytesMin, 1024 * 1024); break;
      case '--senders': {
        const v = value();
        if (v === 'all') sendersAll = true;
        else a.senders = int('senders', v, 1, 64);
        break;
      }
      case '--order': {
        const v = value();
        if (v !== 'agreed' && v !== 'safe') throw new UsageError('--order is agreed or safe');
        a.order = v;
        break;
      }
      case '--rate': {
        const v = value();
        if (v !== 'max') int('rate', v, 1, 10_000_000);
        a.rate = v as string;
        break;
      }
      case '--duration': a.durationS = seconds('duration', value()); break;
      case '--warmup': a.warmupS = seconds('warmup', value()); break;
      case '--net-mtu': a.netMtu = int('net-mtu', value(), 1280, 65535); break;
      case '--key': {
        const v = value();
        if (v === undefined) throw new UsageError('--key takes a file');
        a.keyFile = v;
        break;
      }
      case '--token-ms': a.tokenMs = int('token-ms', value(), 10, 600_000); break;
      case '--window': a.window = int('window', value(), 1, 4096); break;
      case '--max-messages': a.maxMessages = int('max-messages', value(), 1, 4096); break;
      case '--json': a.json = true; break;
      default: throw new UsageError(`unknown flag '${flag}' (see --help)`);
    }
  }
  if (a.durationS <= 0) throw new UsageError('--duration must be above 0');
  a.senders = sendersAll ? a.nodes : Math.min(a.senders, a.nodes);
  return a;
}

async function freePorts(count: number): Promise<number[]> {
  const sockets = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createSocket>>((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

interface NodeRun {
  id: number;
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

interface NodeSummary {
  node: string;
  sentMsgs: number;
  deliveredMsgs: number;
  deliveredBytes: number;
  integrity: { corrupt: number; missing: number; duplicated: number; reordered: number };
  retransmitsSent: number | null;
  tokenRotations: number | null;
  configurations: number;
  timeline: number[];
  cpuUserMs: number;
  cpuSystemMs: number;
  peakRssBytes: number;
  ownHistogram: string;
  latencyHistogram: string;
  firstDeliveryMs: number;
  lastDeliveryMs: number;
}

const cli = fileURLToPath(new URL('../api/cli.js', import.meta.url));

function spawnNode(id: number, args: string[]): NodeRun {
  const child = spawn(process.execPath, [cli, 'node', '--id', String(id), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: NodeRun = { id, child, stdout: '', stderr: '', exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (run.stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (run.stderr += d));
  return run;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Runs the bench; resolves with the exit code. */
export async function runBench(argv: string[], out: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } } = process): Promise<number> {
  let args: BenchArgs;
  try {
    const parsed = parseBenchArgs(argv);
    if (parsed === 'help') {
      out.stdout.write(BENCH_USAGE);
      return 0;
    }
    args = parsed;
  } catch (err) {
    out.stderr.write(`totem-evs bench: ${(err as Error).message}\n`);
    return 2;
  }
  const tty = process.stdout.isTTY === true && !args.json;
  const ports = await freePorts(args.nodes);
  const members = ports.flatMap((p, i) => ['--member', `${i + 1}@127.0.0.1:${p}`]);
  const stateRoot = mkdtempSync(join(tmpdir(), 'totem-evs-bench-'));
  const totalS = args.warmupS + args.durationS;
  const runs: NodeRun[] = [];
  const startedMs = Date.now();
  let progress: NodeJS.Timeout | null = null;
  try {
    for (let id = 1; id <= args.nodes; id++) {
      const nodeArgs = [
        '--listen', `127.0.0.1:${ports[id - 1]}`, ...members,
        '--state-dir', join(stateRoot, String(id)),
        '--size', String(args.sizeBytes), '--order', args.order,
        '--rate', id <= args.senders ? args.rate : '0',
        '--wait-members', String(args.nodes),
        // Receivers stay up a little longer than senders so that the last messages arrive.
        '--duration', String(totalS + (id <= args.senders ? 0 : 1.5)),
      ];
      if (args.netMtu !== null) nodeArgs.push('--net-mtu', String(args.netMtu));
      if (args.keyFile !== null) nodeArgs.push('--key', args.keyFile);
      if (args.tokenMs !== null) nodeArgs.push('--token-ms', String(args.tokenMs));
      if (args.window !== null) nodeArgs.push('--window', String(args.window));
      if (args.maxMessages !== null) nodeArgs.push('--max-messages', String(args.maxMessages));
      runs.push(spawnNode(id, nodeArgs));
    }
    if (tty) {
      progress = setInterval(() => {
        const s = (Date.now() - startedMs) / 1000;
        const width = 30;
        const done = Math.min(width, Math.round((s / (totalS + 7)) * width));
        process.stdout.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${s.toFixed(0)} s`);
      }, 250);
    }
    const codes = await Promise.race([
      Promise.all(runs.map((r) => r.exited)),
      new Promise<null>((r) => setTimeout(() => r(null), (totalS + 60) * 1000).unref()),
    ]);
    if (codes === null) throw new Error('the nodes did not finish in time');
    codes.forEach((code, i) => {
      if (code !== 0) throw new Error(`node ${i + 1} exited with ${code}: ${runs[i]?.stderr.trim().split('\n').slice(-2).join(' ')}`);
    });
  } catch (err) {
    for (const r of runs) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    if (progress !== null) clearInterval(progress);
    out.stderr.write(`${tty ? '\n' : ''}totem-evs bench: ${(err as Error).message}\n`);
    rmSync(stateRoot, { recursive: true, force: true });
    return 1;
  }
  if (progress !== null) {
    clearInterval(progress);
    process.stdout.write('\r\x1b[K');
  }
  rmSync(stateRoot, { recursive: true, force: true });

  const summaries = runs.map((r) => {
    const last = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
    if (last === undefined) throw new Error(`node ${r.id} printed no summary`);
    return JSON.parse(last) as NodeSummary;
  });
  const report = buildReport(args, summaries);
  if (args.json) out.stdout.write(`${JSON.stringify(report)}\n`);
  else out.stdout.write(formatReport(report));
  const bad = report.integrity;
  return bad.corrupt + bad.duplicated + bad.reordered + bad.missing > 0 ? 1 : 0;
}

interface BenchReport {
  config: Record<string, unknown>;
  throughput: { msgsPerSecSlowest: number; mbPerSecSlowest: number; perNodeMsgsPerSec: number[] };
  latencyUs: LatencySummaryUs;
  ownLatencyUs: LatencySummaryUs;
  protocol: { tokenRotationsPerSec: number; retransmitsSent: number; configurations: number[] };
  nodes: { node: string; cpuUserMs: number; cpuSystemMs: number; peakRssBytes: number; sentMsgs: number; deliveredMsgs: number }[];
  integrity: { corrupt: number; missing: number; duplicated: number; reordered: number };
}

function buildReport(args: BenchArgs, nodes: NodeSummary[]): BenchReport {
  // The measured window is whole seconds of each node's timeline after the warmup.
  const from = Math.ceil(args.warmupS) + 1;
  const to = from + Math.floor(args.durationS);
  const rates = nodes.map((n) => {
    const window = n.timeline.slice(from, to);
    return window.length === 0 ? 0 : window.reduce((a, b) => a + b, 0) / window.length;
  });
  const slowest = Math.min(...rates);
  const all = createLatencyHistogram();
  const own = createLatencyHistogram();
  for (const n of nodes) {
    all.add(decodeHistogram(n.latencyHistogram));
    own.add(decodeHistogram(n.ownHistogram));
  }
  const rep = nodes[0] as NodeSummary;
  const spanS = Math.max(1e-3, (rep.lastDeliveryMs - rep.firstDeliveryMs) / 1000);
  const integrity = { corrupt: 0, missing: 0, duplicated: 0, reordered: 0 };
  for (const n of nodes) {
    integrity.corrupt += n.integrity.corrupt;
    integrity.missing += n.integrity.missing;
    integrity.duplicated += n.integrity.duplicated;
    integrity.reordered += n.integrity.reordered;
  }
  return {
    config: {
      nodes: args.nodes, sizeBytes: args.sizeBytes, senders: args.senders, order: args.order, rate: args.rate,
      durationS: args.durationS, warmupS: args.warmupS, netMtu: args.netMtu ?? 1500, encrypted: args.keyFile !== null,
      tokenTimeoutMs: args.tokenMs ?? 1000, windowSize: args.window ?? 50, maxMessages: args.maxMessages ?? 17,
      transport: 'udpu', host: '127.0.0.1', nodeVersion: process.version,
    },
    throughput: {
      msgsPerSecSlowest: Math.round(slowest),
      mbPerSecSlowest: (slowest * args.sizeBytes) / 1e6,
      perNodeMsgsPerSec: rates.map(Math.round),
    },
    latencyUs: summarizeUs(all),
    ownLatencyUs: summarizeUs(own),
    protocol: {
      tokenRotationsPerSec: Math.round((rep.tokenRotations ?? 0) / spanS),
      retransmitsSent: nodes.reduce((a, n) => a + (n.retransmitsSent ?? 0), 0),
      configurations: nodes.map((n) => n.configurations),
    },
    nodes: nodes.map((n) => ({
      node: n.node, cpuUserMs: n.cpuUserMs, cpuSystemMs: n.cpuSystemMs, peakRssBytes: n.peakRssBytes,
      sentMsgs: n.sentMsgs, deliveredMsgs: n.deliveredMsgs,
    })),
    integrity,
  };
}

function formatReport(r: BenchReport): string {
  const c = r.config;
  const lat = (l: LatencySummaryUs): string =>
    `p50 ${fmt(l.p50)}  p90 ${fmt(l.p90)}  p99 ${fmt(l.p99)}  p99.9 ${fmt(l.p999)}  p99.99 ${fmt(l.p9999)}  max ${fmt(l.max)}`;
  const lines = [
    `totem-evs bench: ${c['nodes']} nodes on ${c['host']}, ${c['senders']} sender(s), ${c['sizeBytes']} B ${c['order']}, rate ${c['rate']}, ${c['durationS']} s after ${c['warmupS']} s warmup, node ${c['nodeVersion']}`,
    '',
    `throughput (slowest node)   ${fmt(r.throughput.msgsPerSecSlowest)} msgs/s   ${r.throughput.mbPerSecSlowest.toFixed(1)} MB/s   per node: ${r.throughput.perNodeMsgsPerSec.map(fmt).join(' / ')}`,
    `latency µs, every delivery  ${lat(r.latencyUs)}`,
    `latency µs, own delivery    ${lat(r.ownLatencyUs)}`,
    `token rotations             ${fmt(r.protocol.tokenRotationsPerSec)} /s    retransmissions ${fmt(r.protocol.retransmitsSent)}    configurations ${r.protocol.configurations.join(' / ')}`,
    ...r.nodes.map((n) => `node ${n.node.padEnd(3)}                    cpu ${fmt(n.cpuUserMs + n.cpuSystemMs)} ms   peak RSS ${(n.peakRssBytes / 1048576).toFixed(0)} MiB   sent ${fmt(n.sentMsgs)}   delivered ${fmt(n.deliveredMsgs)}`),
    `integrity                   corrupt ${r.integrity.corrupt}  missing ${r.integrity.missing}  duplicated ${r.integrity.duplicated}  reordered ${r.integrity.reordered}`,
    '',
  ];
  return lines.join('\n');
}
