/**
 * `totem-evs bench`: starts a local ring of N `totem-evs node` processes on loopback (or, with
 * --netns, each in a network namespace of its own on one bridge: perf/netns.ts), drives a load,
 * and reports throughput at the slowest node, latency percentiles (send → delivery at every node,
 * and send → own delivery), protocol figures and integrity. `npm start` runs it with its
 * defaults: the first thing a newcomer sees.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freeUdpPorts } from './free-ports.js';
import { parseConfigurationLine, type ConfigurationLine } from '../api/commands/node-command.js';
import { probeBytesMin } from '../api/commands/probe-payload.js';
import type { BenchArgs } from './bench-args.js';
import { buildReport, formatReport, type BenchReport, type NodeSummary, type RunResult } from './bench-report.js';
import { frameShape } from './frame-size.js';
import { renderHtmlReport } from './html-report.js';
import { createNetns, deleteNamespaces, existingNamespaces, netnsUnavailableReason, type NetnsCluster } from './netns.js';
import { runUdpBaseline, runUdpRoundTrip, type UdpBaselineResult, type UdpRoundTripResult } from './udp-baseline.js';

/** With --netns: every node listens on this port of its own address; multicast goes to this group. */
const netnsPort = 5405;
const netnsGroup = `239.192.18.1:${netnsPort + 1}`;
/** Datagrams per second of the bare round trip: the paced rate the latency targets are set at. */
const roundTripRatePerSec = 1000;
/** The UDP baseline's group in namespaces (a port of its own: it runs just before the ring). */
const netnsBaselineGroup = { host: '239.192.18.1', port: netnsPort + 2 };
/** Namespaces tevbr (the bridge) and tev1..tevN (the nodes). */
const netnsPrefix = 'tev';

export const BENCH_USAGE = `Usage: totem-evs bench [options]

Starts a ring of --nodes totem-evs node processes on 127.0.0.1 (or, with --netns, each in a
network namespace of its own), lets it form, has --senders of them multicast --size-byte
messages to the group for --warmup + --duration seconds, and reports: messages and
MB of payload delivered per second at the slowest node, latency percentiles in microseconds
(send → delivery at every node, send → own delivery; paced runs count from the intended send
time, and report how late the pacer called send()), a latency anatomy (for 1 message in 64, the
percentiles of each stage from send() to the 'message' event, at the sender and the receivers),
token rotations, retransmissions, configurations, the time the ring took to form, CPU and
peak RSS per node, and any corrupt, missing, duplicated or reordered message (there should be
none).

Options:
  --nodes N              processes in the ring (default 3)
  --size BYTES           message size (default 1024, at least ${probeBytesMin})
  --senders all|N        all nodes send, or nodes 1..N (default 1)
  --order agreed|safe    delivery order (default agreed)
  --rate R|max           messages per second per sender, or as fast as flow control allows
                         (default max; 1000 with --scenario failover or restart)
  --duration S           measured seconds (default 10)
  --warmup S             seconds of load before the measurement starts (default 2)
  --net-mtu N            largest datagram a node sends, IP and UDP headers included (default
                         1500); above the link MTU the kernel fragments each datagram (IP
                         fragmentation): fewer, fuller frames, but one lost fragment loses the
                         whole datagram
  --key FILE             run encrypted with this cluster key
  --token-ms N           token timeout (default 1000)
  --window N, --max-messages N
                         flow control: frames per rotation and per visit (defaults 200 and
                         half the window)
  --scenario steady|failover|restart
                         steady (default): load only. failover: node 1 sends paced traffic,
                         node N is SIGKILLed a third into --duration, then restarted; reports
                         the time until every survivor installs its new configuration and the
                         time until node N is back in the ring (needs --nodes 2 or more).
                         restart: the same with SIGTERM instead of SIGKILL: node N closes and
                         announces its leave (leave-to-reconfigure, then restart-to-rejoin)
  --baseline udp         first measure bare node:dgram on the same ring shape: one process
                         sending frames of the ring's frame size to N-1 receiver processes
                         (unicast to each in turn; with --transport multicast, once to a group)
                         for --baseline-s seconds (default 3); prints our figures as a fraction
  --baseline-s S         seconds of the UDP baseline (default 3)
  --netns                (Linux, root only) run node i in network namespace tev<i> instead of on
                         127.0.0.1: a veth eth0 (MTU --link-mtu, default 1500) whose peer is a
                         port of a Linux bridge (multicast snooping off) in namespace tevbr,
                         address 198.18.0.<i>/24, lo up, no default route (nothing leaves the
                         bridge); nodes listen on port ${netnsPort}. The namespaces are deleted when
                         the bench ends: normally, on an error, on SIGINT, SIGTERM or SIGHUP.
                         Leftovers named tevbr or tev<digits> are deleted first when they carry
                         the bench's marker and the run that made them has ended; otherwise
                         (unmarked, or in use by a running bench) the bench exits 2 and names the
                         'ip netns del' commands to run. --baseline udp then runs in the same
                         namespaces with the same --transport (multicast: group port ${netnsBaselineGroup.port})
  --link-mtu N           MTU of the namespaces' links (default 1500; only with --netns)
  --transport udpu|multicast
                         udpu (default): a broadcast is a unicast datagram to every other member.
                         multicast: one datagram to the IP multicast group ${netnsGroup}
                         (administratively scoped); only with --netns, never on loopback
  --loss PCT             only with --netns: each node namespace drops PCT% (0 to 99.99) of the
                         IP packets arriving at it, chosen at random, fragments one by one (an
                         nftables rule at prerouting, before defragmentation: numgen random);
                         needs nft (apt-get install nftables)
  --report FILE          also write a self-contained HTML page (latency percentile distribution,
                         throughput over time, configuration) to FILE
  --json                 print one JSON object with every figure and the configuration
  --workload locks       the lock manager's bench instead (its options: --workload locks --help)
  --help                 print this help
`;


class UsageError extends Error {}

function parseBenchArgs(argv: string[]): BenchArgs | 'help' {
  const a: BenchArgs = {
    nodes: 3, sizeBytes: 1024, senders: 1, order: 'agreed', rate: 'max', durationS: 10, warmupS: 2,
    netMtu: null, linkMtu: null, keyFile: null, tokenMs: null, window: null, maxMessages: null,
    scenario: 'steady', baseline: null, baselineS: 3, reportFile: null, json: false,
    netns: false, transport: 'udpu', lossPct: 0,
  };
  let lossGiven = false;
  let sendersAll = false;
  let rateGiven = false;
  let sendersGiven = false;
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`--${name} must be in ${min}..${max}`);
    return n;
  };
  const seconds = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} takes seconds`);
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
        sendersGiven = true;
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
        rateGiven = true;
        break;
      }
      case '--duration': a.durationS = seconds('duration', value()); break;
      case '--warmup': a.warmupS = seconds('warmup', value()); break;
      case '--net-mtu': a.netMtu = int('net-mtu', value(), 1280, 65535); break;
      case '--link-mtu': a.linkMtu = int('link-mtu', value(), 1280, 65535); break;
      case '--key': {
        const v = value();
        if (v === undefined) throw new UsageError('--key takes a file');
        a.keyFile = v;
        break;
      }
      case '--token-ms': a.tokenMs = int('token-ms', value(), 10, 600_000); break;
      case '--window': a.window = int('window', value(), 1, 4096); break;
      case '--max-messages': a.maxMessages = int('max-messages', value(), 1, 4096); break;
      case '--scenario': {
        const v = value();
        if (v !== 'steady' && v !== 'failover' && v !== 'restart') throw new UsageError('--scenario is steady, failover or restart');
        a.scenario = v;
        break;
      }
      case '--baseline': {
        const v = value();
        if (v !== 'udp') throw new UsageError('--baseline takes udp');
        a.baseline = v;
        break;
      }
      case '--baseline-s': a.baselineS = seconds('baseline-s', value()); break;
      case '--report': {
        const v = value();
        if (v === undefined || v === '' || v.startsWith('--')) throw new UsageError('--report takes a file name');
        a.reportFile = v;
        break;
      }
      case '--json': a.json = true; break;
      case '--netns': a.netns = true; break;
      case '--transport': {
        const v = value();
        if (v !== 'udpu' && v !== 'multicast') throw new UsageError('--transport is udpu or multicast');
        a.transport = v;
        break;
      }
      case '--loss': {
        const v = value();
        const n = Number(v);
        if (v === undefined || !/^\d+(\.\d{1,2})?$/.test(v) || n >= 100) throw new UsageError('--loss takes a percentage from 0 to 99.99');
        a.lossPct = n;
        lossGiven = true;
        break;
      }
      default: throw new UsageError(`unknown flag '${flag}' (see --help)`);
    }
  }
  if (a.durationS <= 0) throw new UsageError('--duration must be above 0');
  if (a.baselineS <= 0 || a.baselineS > 60) throw new UsageError('--baseline-s must be in (0, 60]');
  if (a.baseline !== null && a.nodes < 2) throw new UsageError('--baseline udp needs --nodes 2 or more');
  if (a.transport === 'multicast' && !a.netns) {
    throw new UsageError('--transport multicast needs --netns: the bench sends IP multicast only inside network namespaces it created, never on loopback');
  }
  if (lossGiven && !a.netns) throw new UsageError('--loss needs --netns (the loss is an nftables rule in each node namespace)');
  if (a.scenario === 'failover' || a.scenario === 'restart') {
    if (a.nodes < 2) throw new UsageError(`--scenario ${a.scenario} needs --nodes 2 or more`);
    if (sendersGiven && (sendersAll || a.senders !== 1)) throw new UsageError(`--scenario ${a.scenario} has one sender (node 1)`);
    if (!rateGiven) a.rate = '1000';
  }
  if (a.linkMtu !== null && !a.netns) throw new UsageError('--link-mtu sets the namespaces\' links: only with --netns');
  a.senders = sendersAll ? a.nodes : Math.min(a.senders, a.nodes);
  return a;
}

interface NodeRun {
  id: number;
  child: ChildProcess;
  /** Wall-clock ms when it was spawned. */
  spawnedMs: number;
  lines: string[];
  configurations: ConfigurationLine[];
  stderr: string;
  exited: Promise<number | null>;
}

const cli = fileURLToPath(new URL('../api/cli.js', import.meta.url));

/** How perf/profile.ts changes the way node processes start (profilers, clinic). */
export interface BenchHooks {
  /** Command and arguments to run `node <cli> node ARGS` with; default: this Node, plain. */
  nodeCommand?: (id: number, cliPath: string, nodeArgs: string[]) => { command: string; args: string[] };
  /** Called with each node process's PID as it starts. */
  onSpawn?: (id: number, pid: number) => void;
  /** Extra seconds the nodes may take to exit (a profiler writing its files). */
  exitGraceS?: number;
}

function spawnNode(id: number, args: string[], hooks: BenchHooks): NodeRun {
  const nodeArgs = ['node', '--id', String(id), ...args];
  const how = hooks.nodeCommand?.(id, cli, nodeArgs) ?? { command: process.execPath, args: [cli, ...nodeArgs] };
  const child = spawn(how.command, how.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: NodeRun = {
    id, child, spawnedMs: Date.now(), lines: [], configurations: [], stderr: '',
    exited: new Promise((r) => child.once('exit', (code) => r(code))),
  };
  if (child.pid !== undefined) hooks.onSpawn?.(id, child.pid);
  if (child.stdout !== null) {
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      run.lines.push(line);
      const c = parseConfigurationLine(line);
      if (c !== null) run.configurations.push(c);
    });
  }
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (run.stderr += d));
  return run;
}

/** Wall-clock ms of the first regular configuration of `run` at or after `fromMs` that `want` accepts. */
function firstRegular(run: NodeRun, fromMs: number, want: (members: number[]) => boolean): number | null {
  return firstRegularLine(run, fromMs, want)?.atMs ?? null;
}

function firstRegularLine(run: NodeRun, fromMs: number, want: (members: number[]) => boolean): ConfigurationLine | null {
  for (const c of run.configurations) {
    if (c.kind === 'regular' && c.atMs >= fromMs && want(c.members)) return c;
  }
  return null;
}

/** Polls until every run has such a configuration; resolves with the latest time, or null on timeout. */
async function waitAllRegular(runs: NodeRun[], fromMs: number, want: (members: number[]) => boolean, timeoutMs: number): Promise<number[] | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const times = runs.map((r) => firstRegular(r, fromMs, want));
    if (times.every((t) => t !== null)) return times as number[];
    if (Date.now() > deadline) return null;
    for (const r of runs) {
      if (r.child.exitCode !== null) throw new Error(`node ${r.id} exited with ${r.child.exitCode}: ${lastStderr(r)}`);
    }
    await sleep(20);
  }
}

function lastStderr(r: NodeRun): string {
  return r.stderr.trim().split('\n').slice(-2).join(' ');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function summaryOf(r: NodeRun): NodeSummary {
  const last = [...r.lines].reverse().find((l) => l.startsWith('{'));
  if (last === undefined) throw new Error(`node ${r.id} printed no summary`);
  const summary = JSON.parse(last) as NodeSummary;
  // A member's announced leave is a planned stop (the senders stop at the end of --duration, and
  // the others see it at once): not a failure inside the measured window.
  summary.regularAtMs = r.configurations.filter((c) => c.kind === 'regular' && c.cause !== 'leave').map((c) => c.atMs);
  return summary;
}

/**
 * --netns: checks that namespaces can be made, deals with leftovers of an earlier run (deleted
 * when they carry our marker and their run has ended; otherwise a usage error naming the command
 * that deletes them), then makes tevbr and tev1..tevN and sets the packet loss. Returns the
 * cluster, or an exit code after writing one line on stderr.
 */
function prepareNetns(args: BenchArgs, out: { stderr: { write(s: string): unknown } }): NetnsCluster | number {
  const say = (line: string): void => void out.stderr.write(`totem-evs bench: ${line}\n`);
  const reason = netnsUnavailableReason({ nft: args.lossPct > 0 });
  if (reason !== null) {
    say(`--netns cannot run here: ${reason}${reason.includes('root') ? ' (run the bench as root)' : ''}`);
    return 2;
  }
  const existing = existingNamespaces(netnsPrefix);
  const inUse = existing.filter((e) => e.ownerAlive);
  const foreign = existing.filter((e) => e.owner === null);
  if (inUse.length > 0) {
    const pids = [...new Set(inUse.map((e) => e.owner?.pid))].join(', ');
    say(`network namespaces ${inUse.map((e) => e.name).join(', ')} are in use by a running totem-evs process (pid ${pids}): wait for it to end`);
    return 2;
  }
  if (foreign.length > 0) {
    const names = foreign.map((e) => e.name);
    const them = names.length === 1 ? `network namespace ${names[0]} exists` : `network namespaces ${names.join(', ')} exist`;
    say(`${them} without the bench's marker (not made by a totem-evs run); if nothing uses it, delete it and run again: ${names.map((n) => `ip netns del ${n}`).join('; ')}`);
    return 2;
  }
  if (existing.length > 0) {
    const stale = existing.map((e) => e.name);
    const failed = deleteNamespaces(stale);
    if (failed.length > 0) {
      say(`could not delete leftover network namespaces ${failed.join(', ')}: ${failed.map((n) => `ip netns del ${n}`).join('; ')}`);
      return 2;
    }
    say(`deleted leftover network namespaces ${stale.join(', ')} of an earlier run that has ended (pid ${[...new Set(existing.map((e) => e.owner?.pid))].join(', ')})`);
  }
  let net: NetnsCluster;
  try {
    net = createNetns({ prefix: netnsPrefix, nodes: args.nodes, mtu: args.linkMtu ?? 1500 });
  } catch (err) {
    say(`could not create the network namespaces: ${(err as Error).message}`);
    return 1;
  }
  try {
    if (args.lossPct > 0) for (let i = 1; i <= args.nodes; i++) net.setLoss(i, args.lossPct);
  } catch (err) {
    net.teardown();
    say(`could not set the packet loss: ${(err as Error).message}`);
    return 1;
  }
  return net;
}

/** Runs the bench; resolves with the exit code. */
export async function runBench(
  argv: string[],
  out: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } } = process,
  hooks: BenchHooks = {},
): Promise<number> {
  // --workload locks: the lock manager's bench (perf/locks/), with options of its own.
  const workload = argv.indexOf('--workload');
  if (workload !== -1 && argv[workload + 1] === 'locks') return (await import('./locks/bench-locks.js')).runLocksBench(argv, out);
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
  const runs: NodeRun[] = [];
  let net: NetnsCluster | null = null;
  const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = (signal: NodeJS.Signals): void => {
    // Nodes first (by PID): a namespace lives on while a process is in it.
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    net?.teardown();
    out.stderr.write(`\ntotem-evs bench: ${signal}: stopped the nodes and deleted the network namespaces\n`);
    process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGHUP' ? 129 : 143);
  };
  if (args.netns) {
    const prepared = prepareNetns(args, out);
    if (typeof prepared === 'number') return prepared;
    net = prepared;
    for (const s of stopSignals) process.on(s, onSignal);
  }
  try {
    return await benchWith(args, out, net === null ? hooks : inNamespaces(net, hooks), runs, net);
  } finally {
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    if (net !== null) {
      for (const s of stopSignals) process.removeListener(s, onSignal);
      net.teardown();
    }
  }
}

/** The hooks, with every node command run under `ip netns exec tev<id>` (which execs it: same PID). */
function inNamespaces(net: NetnsCluster, hooks: BenchHooks): BenchHooks {
  return {
    ...hooks,
    nodeCommand: (id, cliPath, nodeArgs) => {
      const inner = hooks.nodeCommand?.(id, cliPath, nodeArgs) ?? { command: process.execPath, args: [cliPath, ...nodeArgs] };
      const [command, ...prefix] = net.exec(id);
      return { command: command as string, args: [...prefix, inner.command, ...inner.args] };
    },
  };
}

async function benchWith(
  args: BenchArgs,
  out: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } },
  hooks: BenchHooks,
  runs: NodeRun[],
  net: NetnsCluster | null,
): Promise<number> {
  const tty = process.stdout.isTTY === true && out.stdout === process.stdout && !args.json;
  const tokenMs = args.tokenMs ?? 1000;
  const shape = frameShape(args.sizeBytes, args.netMtu ?? 1500, args.keyFile !== null);
  const expectedS = (args.baseline === null ? 0 : args.baselineS + 2) + args.warmupS + args.durationS + 4
    + (args.scenario !== 'steady' ? (6 * tokenMs) / 1000 + 4 : 0);
  const startedMs = Date.now();
  let progress: NodeJS.Timeout | null = null;
  if (tty) {
    progress = setInterval(() => {
      const s = (Date.now() - startedMs) / 1000;
      const width = 30;
      const done = Math.min(width, Math.round((s / expectedS) * width));
      process.stdout.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${s.toFixed(0)} s`);
    }, 250);
  }
  const stateRoot = mkdtempSync(join(tmpdir(), 'totem-evs-bench-'));
  let result: RunResult;
  let baseline: UdpBaselineResult | null = null;
  let roundTrip: UdpRoundTripResult | null = null;
  try {
    // The baseline runs first, alone: both would compete for the same cores.
    if (args.baseline === 'udp') {
      // In namespaces: process i where node i + 1 runs (the sender where node 1 runs), same transport.
      const placed = net === null ? {} : {
        hosts: Array.from({ length: args.nodes }, (_, i) => net.address(i + 1)),
        wrap: (index: number, command: string, commandArgs: string[]) => {
          const [ip, ...prefix] = net.exec(index + 1);
          return { command: ip as string, args: [...prefix, command, ...commandArgs] };
        },
      };
      baseline = await runUdpBaseline({
        receivers: args.nodes - 1, frameBytes: shape.frameBytes, durationS: args.baselineS,
        ...(net === null ? {} : { transport: args.transport, multicastGroup: netnsBaselineGroup }),
        ...placed,
      });
      roundTrip = await runUdpRoundTrip({
        nodes: args.nodes, frameBytes: shape.frameBytes, ratePerSec: roundTripRatePerSec, durationS: args.baselineS,
        ...placed,
      });
    }
    const addresses = await nodeAddresses(args, net);
    result = args.scenario !== 'steady'
      ? await runFailover(args, addresses, stateRoot, runs, hooks)
      : await runSteady(args, addresses, stateRoot, runs, hooks);
  } catch (err) {
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
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

  const { report, histograms } = buildReport(args, result, shape, baseline, roundTrip);
  report.config = networkConfig(report.config, args, net);
  if (args.reportFile !== null) writeFileSync(args.reportFile, renderHtmlReport(report, histograms));
  if (args.json) out.stdout.write(`${JSON.stringify(report)}\n`);
  else out.stdout.write(withNetworkLine(formatReport(report), args, net));
  const bad = report.integrity;
  return bad.corrupt + bad.duplicated + bad.reordered + bad.missing > 0 ? 1 : 0;
}

/** The report's config with what only the bench knows of the namespaces: group, loss, link MTU. */
function networkConfig(config: BenchReport['config'], args: BenchArgs, net: NetnsCluster | null): BenchReport['config'] {
  const { nodeVersion, ...rest } = config;
  const withNetwork = {
    ...rest,
    netns: net !== null,
    multicastGroup: args.transport === 'multicast' ? netnsGroup : null,
    lossPct: args.lossPct,
    linkMtu: net === null ? null : net.mtu,
    nodeVersion,
  };
  return withNetwork;
}

/** The text report with one line about the namespaces after its heading (--netns only). */
function withNetworkLine(text: string, args: BenchArgs, net: NetnsCluster | null): string {
  if (net === null) return text;
  const lines = text.split('\n');
  const transport = args.transport === 'multicast' ? `IP multicast to ${netnsGroup}` : 'udpu (unicast to every member)';
  const loss = args.lossPct > 0 ? `, ${args.lossPct}% of IP packets dropped on arrival at each node` : '';
  lines.splice(1, 0, `network                     namespaces ${net.names.join(', ')} on a bridge in ${net.bridge} (veth MTU ${net.mtu}), node i at 198.18.0.i; ${transport}${loss}`);
  return lines.join('\n');
}

/** HOST:PORT of each node, in node order: 127.0.0.1 and free ports, or 198.18.0.<id>:5405 in namespaces. */
async function nodeAddresses(args: BenchArgs, net: NetnsCluster | null): Promise<string[]> {
  if (net !== null) return Array.from({ length: args.nodes }, (_, i) => `${net.address(i + 1)}:${netnsPort}`);
  return (await freeUdpPorts(args.nodes)).map((p) => `127.0.0.1:${p}`);
}

function nodeArgsFor(args: BenchArgs, id: number, addresses: string[], stateRoot: string, durationS: number): string[] {
  const members = addresses.flatMap((a, i) => ['--member', `${i + 1}@${a}`]);
  const nodeArgs = [
    '--listen', addresses[id - 1] as string, ...members,
    '--state-dir', join(stateRoot, String(id)),
    '--size', String(args.sizeBytes), '--order', args.order,
    '--rate', id <= args.senders ? args.rate : '0',
    '--wait-members', String(args.nodes),
    '--duration', String(durationS),
    // Latencies of messages sent in the warmup (JIT, the ring settling) are not reported.
    '--latency-from', String(args.scenario !== 'steady' ? 0 : args.warmupS),
  ];
  if (args.netMtu !== null) nodeArgs.push('--net-mtu', String(args.netMtu));
  if (args.keyFile !== null) nodeArgs.push('--key', args.keyFile);
  // A keyless ring in network namespaces is off loopback: the nodes refuse it unless told.
  else if (!addresses.every((a) => a.startsWith('127.'))) nodeArgs.push('--insecure');
  if (args.tokenMs !== null) nodeArgs.push('--token-ms', String(args.tokenMs));
  if (args.window !== null) nodeArgs.push('--window', String(args.window));
  if (args.maxMessages !== null) nodeArgs.push('--max-messages', String(args.maxMessages));
  if (args.transport === 'multicast') nodeArgs.push('--transport', 'multicast', '--multicast', netnsGroup);
  return nodeArgs;
}

async function waitExits(runs: NodeRun[], timeoutMs: number): Promise<void> {
  const codes = await Promise.race([
    Promise.all(runs.map((r) => r.exited)),
    new Promise<null>((r) => setTimeout(() => r(null), timeoutMs).unref()),
  ]);
  if (codes === null) throw new Error('the nodes did not finish in time');
  codes.forEach((code, i) => {
    const r = runs[i] as NodeRun;
    if (code !== 0) throw new Error(`node ${r.id} exited with ${code}: ${lastStderr(r)}`);
  });
}

/** Cold formation: from the first spawn to the last node's first regular configuration of all N. */
function coldFormMs(runs: NodeRun[], nodes: number, spawnMs: number): number | null {
  const times = runs.slice(0, nodes).map((r) => firstRegular(r, 0, (m) => m.length === nodes));
  if (times.some((t) => t === null)) return null;
  return Math.max(...(times as number[])) - spawnMs;
}

async function runSteady(args: BenchArgs, addresses: string[], stateRoot: string, runs: NodeRun[], hooks: BenchHooks): Promise<RunResult> {
  const totalS = args.warmupS + args.durationS;
  const spawnMs = Date.now();
  for (let id = 1; id <= args.nodes; id++) {
    // Receivers stay up a little longer than senders so that the last messages arrive.
    runs.push(spawnNode(id, nodeArgsFor(args, id, addresses, stateRoot, totalS + (id <= args.senders ? 0 : 1.5)), hooks));
  }
  await waitExits(runs, (totalS + 60 + (hooks.exitGraceS ?? 0)) * 1000);
  return {
    summaries: runs.map(summaryOf),
    timelineNodes: runs.map((r) => r.id),
    spawnMs,
    coldFormMs: coldFormMs(runs, args.nodes, spawnMs),
    failover: null,
  };
}

async function runFailover(args: BenchArgs, addresses: string[], stateRoot: string, runs: NodeRun[], hooks: BenchHooks): Promise<RunResult> {
  const tokenMs = args.tokenMs ?? 1000;
  const totalS = args.warmupS + args.durationS;
  // Nodes run until the harness stops them; --duration is only a backstop.
  const backstopS = totalS + 120 + (30 * tokenMs) / 1000;
  const spawnMs = Date.now();
  for (let id = 1; id <= args.nodes; id++) runs.push(spawnNode(id, nodeArgsFor(args, id, addresses, stateRoot, backstopS), hooks));
  const membershipTimeoutMs = 20_000 + 30 * tokenMs;
  const all = (m: number[]): boolean => m.length === args.nodes;
  const formed = await waitAllRegular(runs, 0, all, membershipTimeoutMs);
  if (formed === null) throw new Error(`the ring of ${args.nodes} did not form within ${membershipTimeoutMs} ms`);
  const formedMs = Math.max(...formed);
  const victimId = args.nodes;
  const victim = runs[victimId - 1] as NodeRun;
  const survivors = runs.filter((r) => r !== victim);

  await sleep(Math.max(0, formedMs + (args.warmupS + args.durationS / 3) * 1000 - Date.now()));
  // failover: a crash (SIGKILL); restart: a clean stop (SIGTERM: close() announces the leave).
  const stopSignal = args.scenario === 'restart' ? 'SIGTERM' : 'SIGKILL';
  const killAtMs = Date.now();
  victim.child.kill(stopSignal);
  const without = (m: number[]): boolean => !m.includes(victimId) && m.length === args.nodes - 1;
  const detected = await waitAllRegular(survivors, killAtMs, without, membershipTimeoutMs);
  if (detected === null) throw new Error(`the survivors did not install a configuration without node ${victimId} within ${membershipTimeoutMs} ms`);
  const survivorCauses = survivors.map((r) => firstRegularLine(r, killAtMs, without)?.cause ?? '');
  const victimCode = await victim.exited;
  if (stopSignal === 'SIGTERM' && victimCode !== 0) throw new Error(`node ${victimId} exited with ${victimCode} after SIGTERM: ${lastStderr(victim)}`);

  await sleep(1000);
  const restartAtMs = Date.now();
  const restarted = spawnNode(victimId, nodeArgsFor(args, victimId, addresses, stateRoot, backstopS), hooks);
  runs.push(restarted);
  const live = [...survivors, restarted];
  const back = await waitAllRegular(live, restartAtMs, all, membershipTimeoutMs);
  if (back === null) throw new Error(`node ${victimId} did not rejoin within ${membershipTimeoutMs} ms`);

  // Load goes on until the end of warmup + duration (and at least one more second), then a graceful stop.
  await sleep(Math.max(1000, formedMs + totalS * 1000 - Date.now()));
  for (const r of live) r.child.kill('SIGTERM');
  await waitExits(live, (60 + (hooks.exitGraceS ?? 0)) * 1000);
  return {
    summaries: live.map(summaryOf),
    timelineNodes: live.map((r) => r.id),
    spawnMs,
    coldFormMs: formedMs - spawnMs,
    failover: {
      killedNode: victimId,
      stopSignal,
      killAtS: (killAtMs - spawnMs) / 1000,
      detectMs: Math.max(...detected) - killAtMs,
      perSurvivorDetectMs: detected.map((t) => t - killAtMs),
      survivorCauses,
      restartAtS: (restartAtMs - spawnMs) / 1000,
      rejoinMs: Math.max(...back) - restartAtMs,
      perNodeRejoinMs: back.map((t) => t - restartAtMs),
    },
  };
}
