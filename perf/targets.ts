/**
 * `npm run bench:targets -- [--runs N] [--netns] [bench flags...]`: the performance targets of
 * totem-evs measured in one go, each case run N times (default 3) through `totem-evs bench --json`,
 * reported as medians with min–max. Flags after the script's own are passed to every bench run
 * (e.g. --transport multicast --net-mtu 8192), so a table states exactly what it measured.
 *
 *   throughput-1k    1 KiB agreed, one sender, as fast as flow control allows, with the bare
 *                    node:dgram ceiling of the same shape (--baseline udp)
 *   throughput-64    64 B agreed, every node sending, as fast as possible
 *   paced-1k         1,000 msgs/s of 1 KiB from one sender: own-delivery p50/p99, against the bare
 *                    UDP round trip around the same ring
 *   at-80pct         1 KiB paced at 80% of throughput-1k's median: own-delivery p99
 *   loss-5pct        throughput-1k with 5% of packets dropped at every node's input (needs --netns)
 *   failover         node N SIGKILLed under paced traffic with a 1,000 ms token timeout: time until
 *                    every survivor is in its new configuration
 *
 * The saturated runs also give peak RSS per node and the configurations each node installed (a
 * steady run should show only the ring forming: any more is a false failure detection).
 * Exit 0 whatever the figures (targets are read, not enforced); 1 if a run failed or reported an
 * integrity error; 2 on bad flags.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './micro/measure.js';

const cli = fileURLToPath(new URL('../api/cli.js', import.meta.url));

const USAGE = `Usage: npm run bench:targets -- [--runs N] [--only CASE[,CASE]] [--json] [bench flags...]

Runs each target case N times (default 3) with totem-evs bench --json and prints medians
(min-max). Cases: throughput-1k, throughput-64, paced-1k, at-80pct, loss-5pct (only with
--netns), failover. Other flags (--netns, --transport, --net-mtu, --window, --max-messages,
--key, ...) are passed to every run. --json prints one JSON object with every run's figures.
`;

interface Report {
  throughput: { msgsPerSecSlowest: number };
  ownLatencyUs: { p50: number; p99: number; count: number };
  protocol: { configurations: number[]; configurationsInWindow?: number[]; retransmitsSent: number };
  failover: { detectMs: number; rejoinMs: number } | null;
  baseline: {
    framesPerSecSlowest: number;
    fractionOfFrames: number;
    roundTrip: { rttUs: { p50: number; p99: number } } | null;
  } | null;
  nodes: { peakRssBytes: number }[];
  integrity: { corrupt: number; missing: number; duplicated: number; reordered: number };
}

interface CaseResult {
  name: string;
  args: string[];
  runs: Report[];
}

const caseNames = ['throughput-1k', 'throughput-64', 'paced-1k', 'at-80pct', 'loss-5pct', 'failover'] as const;
type CaseName = (typeof caseNames)[number];


function spread(xs: number[], digits = 0): string {
  if (xs.length === 0) return 'n/a';
  const f = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: digits });
  return xs.length === 1 ? f(xs[0] as number) : `${f(median(xs))} (${f(Math.min(...xs))}-${f(Math.max(...xs))})`;
}

function runBench(args: string[]): Report {
  const r = spawnSync(process.execPath, [cli, 'bench', '--json', ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 && r.status !== 1) throw new Error(`bench ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  let report: Report;
  try {
    report = JSON.parse(line) as Report;
  } catch {
    throw new Error(`bench ${args.join(' ')} printed no report: ${r.stderr.trim()}`);
  }
  return report;
}

function main(argv: string[]): number {
  let runs = 3;
  let json = false;
  let only: Set<CaseName> = new Set(caseNames);
  const pass: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      return 0;
    } else if (a === '--runs') {
      runs = Number(argv[++i]);
      if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
        process.stderr.write('bench:targets: --runs takes an integer in 1..20\n');
        return 2;
      }
    } else if (a === '--only') {
      const names = (argv[++i] ?? '').split(',');
      const bad = names.filter((n) => !(caseNames as readonly string[]).includes(n));
      if (bad.length > 0) {
        process.stderr.write(`bench:targets: unknown case ${bad.join(', ')} (cases: ${caseNames.join(', ')})\n`);
        return 2;
      }
      only = new Set(names as CaseName[]);
    } else if (a === '--json') {
      json = true;
    } else {
      pass.push(a);
    }
  }
  const netns = pass.includes('--netns');
  if (!netns) only.delete('loss-5pct');
  const results: CaseResult[] = [];
  const say = (s: string): void => {
    process.stderr.write(`${s}\n`);
  };
  const run = (name: CaseName, args: string[]): Report[] => {
    const out: Report[] = [];
    for (let k = 0; k < runs; k++) {
      say(`bench:targets: ${name} run ${k + 1}/${runs}: bench ${[...args, ...pass].join(' ')}`);
      out.push(runBench([...args, ...pass]));
    }
    results.push({ name, args, runs: out });
    return out;
  };
  const steady = ['--duration', '8', '--warmup', '2'];
  let max1k: Report[] = [];
  if (only.has('throughput-1k') || only.has('at-80pct') || only.has('loss-5pct')) {
    max1k = run('throughput-1k', [...steady, '--size', '1024', '--senders', '1', '--rate', 'max', '--baseline', 'udp']);
  }
  if (only.has('throughput-64')) run('throughput-64', [...steady, '--size', '64', '--senders', 'all', '--rate', 'max']);
  // Paced cases warm up longer: in the first seconds (JIT, a ring just formed) the ring moves less
  // than 80% of its later maximum, and the backlog that builds then takes seconds to drain at 80%
  // load; latencies of messages sent in the warmup are not recorded (bench --json).
  const paced = ['--duration', '8', '--warmup', '8'];
  if (only.has('paced-1k')) run('paced-1k', [...paced, '--size', '1024', '--senders', '1', '--rate', '1000', '--baseline', 'udp']);
  if (only.has('at-80pct') && max1k.length > 0) {
    const rate = Math.max(1, Math.round(0.8 * median(max1k.map((r) => r.throughput.msgsPerSecSlowest))));
    run('at-80pct', [...paced, '--size', '1024', '--senders', '1', '--rate', String(rate)]);
  }
  if (only.has('loss-5pct')) run('loss-5pct', [...steady, '--size', '1024', '--senders', '1', '--rate', 'max', '--loss', '5']);
  if (only.has('failover')) run('failover', ['--scenario', 'failover', '--token-ms', '1000', '--duration', '9']);

  const bad = results.some((c) => c.runs.some((r) => r.integrity.corrupt + r.integrity.missing + r.integrity.duplicated + r.integrity.reordered > 0));
  if (json) {
    process.stdout.write(`${JSON.stringify({ runs, flags: pass, cases: results })}\n`);
    return bad ? 1 : 0;
  }
  const lines: string[] = [`totem-evs targets, ${runs} run(s) each, median (min-max); flags: ${pass.join(' ') || '(none)'}`, ''];
  const by = (n: CaseName): Report[] => results.find((c) => c.name === n)?.runs ?? [];
  const rssMiB = (rs: Report[]): number[] => rs.map((r) => Math.max(...r.nodes.map((n) => n.peakRssBytes)) / 1048576);
  const configs = (rs: Report[]): string => rs.map((r) => r.protocol.configurations.join('/')).join(', ');
  for (const c of results) {
    const rs = c.runs;
    const tp = rs.map((r) => r.throughput.msgsPerSecSlowest);
    switch (c.name as CaseName) {
      case 'throughput-1k': {
        const ceil = rs.map((r) => r.baseline?.framesPerSecSlowest ?? 0);
        const frac = rs.map((r) => (r.baseline?.fractionOfFrames ?? 0) * 100);
        lines.push(`1 KiB agreed, 1 sender, max   ${spread(tp)} msgs/s; udp ceiling ${spread(ceil)} frames/s; ours ${spread(frac, 1)}% of its frames/s`);
        lines.push(`                              own p99 ${spread(rs.map((r) => r.ownLatencyUs.p99 / 1000), 1)} ms; peak RSS ${spread(rssMiB(rs))} MiB; configurations per node ${configs(rs)}; in the window ${rs.map((r) => r.protocol.configurationsInWindow?.join('/') ?? '?').join(', ')}`);
        break;
      }
      case 'throughput-64':
        lines.push(`64 B agreed, all send, max    ${spread(tp)} msgs/s; peak RSS ${spread(rssMiB(rs))} MiB; configurations per node ${configs(rs)}; in the window ${rs.map((r) => r.protocol.configurationsInWindow?.join('/') ?? '?').join(', ')}`);
        break;
      case 'paced-1k': {
        const rtt = rs.map((r) => (r.baseline?.roundTrip?.rttUs.p50 ?? 0) / 1000);
        lines.push(`paced 1,000/s of 1 KiB        own p50 ${spread(rs.map((r) => r.ownLatencyUs.p50 / 1000), 2)} ms, p99 ${spread(rs.map((r) => r.ownLatencyUs.p99 / 1000), 2)} ms; bare udp round trip p50 ${spread(rtt, 2)} ms`);
        break;
      }
      case 'at-80pct':
        lines.push(`80% of max (${c.args[c.args.indexOf('--rate') + 1]}/s)       own p50 ${spread(rs.map((r) => r.ownLatencyUs.p50 / 1000), 2)} ms, p99 ${spread(rs.map((r) => r.ownLatencyUs.p99 / 1000), 2)} ms; delivered ${spread(tp)} msgs/s`);
        break;
      case 'loss-5pct': {
        const base = median(by('throughput-1k').map((r) => r.throughput.msgsPerSecSlowest));
        lines.push(`5% loss, 1 KiB, 1 sender      ${spread(tp)} msgs/s = ${spread(tp.map((t) => (100 * t) / base), 1)}% of lossless; retransmissions ${spread(rs.map((r) => r.protocol.retransmitsSent))}; configurations per node ${configs(rs)}; in the window ${rs.map((r) => r.protocol.configurationsInWindow?.join('/') ?? '?').join(', ')}`);
        break;
      }
      case 'failover':
        lines.push(`failover, token 1000 ms       survivors in new configuration after ${spread(rs.map((r) => r.failover?.detectMs ?? NaN))} ms; rejoin ${spread(rs.map((r) => r.failover?.rejoinMs ?? NaN))} ms`);
        break;
    }
  }
  if (bad) lines.push('', 'INTEGRITY ERRORS in at least one run: see --json');
  process.stdout.write(`${lines.join('\n')}\n`);
  return bad ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench:targets: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
