/**
 * `npm run profile -- [--out DIR] [--top N] [--clinic flame|bubbleprof] <bench flags>`: runs the
 * bench (perf/bench.ts) with every node process under `node --cpu-prof --cpu-prof-dir DIR/node-ID`
 * (Node writes one .cpuprofile per thread: the main thread and each worker), then prints where the
 * profiles are and, per thread, the functions with the most self time.
 *
 * Which tool sees what (Node 20, measured on this code base):
 *   - `--cpu-prof` sees every thread, one profile each: the net worker, the token worker, the
 *     delivery worker and the main thread. Open a .cpuprofile in Chrome DevTools (Performance →
 *     load profile) or in VS Code for a flame chart.
 *   - clinic sees the main thread only: `flame` and `bubbleprof` profile the main thread of the
 *     process and nothing of its workers, and `clinic doctor` crashes on processes with worker
 *     threads, so it is not offered. `--clinic flame|bubbleprof` runs node 1 under clinic (the other
 *     nodes still get --cpu-prof); clinic is not a dependency of totem-evs (it is large): install
 *     it globally (`npm i -g clinic`) or have it fetched with `npx clinic`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBench } from './bench.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTimeRow {
  name: string;
  location: string;
  selfMs: number;
  share: number;
}

export interface ThreadProfile {
  file: string;
  pid: number;
  threadId: number;
  role: string;
  sampledMs: number;
  idleMs: number;
  top: SelfTimeRow[];
}

const workerRoles: [RegExp, string][] = [
  [/net-worker\.js$/, 'net worker'],
  [/token-worker\.js$/, 'token worker'],
  [/delivery-worker\.js$/, 'delivery worker'],
];

/** Self time per function (name + location) of one .cpuprofile, top `count` first. */
export function analyzeCpuProfile(file: string, count: number): ThreadProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  // Sample i lasts until sample i + 1 (its delta); the last one until the profile's end.
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    const next = i + 1 < samples.length ? (deltas[i + 1] ?? 0) : Math.max(0, profile.endTime - at);
    const id = samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + next);
  }
  const rows = new Map<string, SelfTimeRow>();
  let sampledUs = 0;
  let idleUs = 0;
  let role = 'main thread';
  for (const n of profile.nodes) {
    for (const [pattern, name] of workerRoles) if (pattern.test(n.callFrame.url)) role = name;
  }
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (n === undefined) continue;
    sampledUs += us;
    const f = n.callFrame;
    // A worker parked in Atomics.wait (Doorbell.waitSync) is sampled as running that function:
    // it is waiting, not using the CPU, and is counted with the idle time.
    if (f.functionName === '(idle)' || (f.functionName === 'waitSync' && f.url.endsWith('doorbell.js'))) {
      idleUs += us;
      continue;
    }
    const location = f.url === '' ? '' : `${shortUrl(f.url)}:${f.lineNumber + 1}`;
    const name = f.functionName === '' ? '(anonymous)' : f.functionName;
    const key = `${name} ${location}`;
    const row = rows.get(key) ?? { name, location, selfMs: 0, share: 0 };
    row.selfMs += us / 1000;
    rows.set(key, row);
  }
  const top = [...rows.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, count);
  // Shares are of the busy time (sampled minus idle and parked).
  const busyMs = (sampledUs - idleUs) / 1000;
  for (const r of top) r.share = busyMs > 0 ? r.selfMs / busyMs : 0;
  // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile
  const parts = basename(file).split('.');
  const threadId = Number(parts[4]);
  if (threadId === 0) role = 'main thread';
  return { file, pid: Number(parts[3]), threadId, role, sampledMs: sampledUs / 1000, idleMs: idleUs / 1000, top };
}

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? url.slice('file://'.length) : url;
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

function findProfiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findProfiles(path));
    else if (entry.endsWith('.cpuprofile')) found.push(path);
  }
  return found.sort();
}

function findOnPath(command: string): string | null {
  const local = join(process.cwd(), 'node_modules', '.bin', command);
  if (existsSync(local)) return local;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  }
  return null;
}

const usage = `Usage: npm run profile -- [--out DIR] [--top N] [--clinic flame|bubbleprof] [bench flags]

Runs 'totem-evs bench' with every node process under node --cpu-prof (one .cpuprofile per thread
in DIR/node-ID/), then prints the functions with the most self time per thread. --clinic runs
node 1 under clinic instead (main thread only; clinic must be installed: npm i -g clinic, or
npx clinic). Bench flags: see 'totem-evs bench --help'.
`;

async function main(argv: string[]): Promise<number> {
  let outDir: string | null = null;
  let topCount = 12;
  let clinic: 'flame' | 'bubbleprof' | null = null;
  const benchArgv: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--out') outDir = argv[++i] ?? null;
    else if (a === '--top') topCount = Number(argv[++i]);
    else if (a === '--clinic') {
      const v = argv[++i];
      if (v !== 'flame' && v !== 'bubbleprof') {
        process.stderr.write(`profile: --clinic is flame or bubbleprof (clinic doctor crashes on processes with worker threads)\n`);
        return 2;
      }
      clinic = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(usage);
      return 0;
    } else benchArgv.push(a);
  }
  if (!Number.isInteger(topCount) || topCount < 1) {
    process.stderr.write('profile: --top takes a whole number above 0\n');
    return 2;
  }
  let clinicPath: string | null = null;
  if (clinic !== null) {
    clinicPath = findOnPath('clinic');
    if (clinicPath === null) {
      process.stderr.write(
        'profile: clinic is not installed (it is not a dependency of totem-evs: it is large).\n' +
          '  Install it with `npm i -g clinic`, or run one node by hand under `npx clinic flame -- node dist/api/cli.js node ...`.\n' +
          '  Without --clinic, this command profiles every thread with node --cpu-prof.\n',
      );
      return 2;
    }
  }
  const dir = outDir ?? mkdtempSync(join(tmpdir(), 'totem-evs-profile-'));
  mkdirSync(dir, { recursive: true });
  const pids = new Map<number, number>();
  const code = await runBench(benchArgv, process, {
    exitGraceS: clinic === null ? 10 : 120,
    onSpawn: (id, pid) => pids.set(pid, id),
    nodeCommand: (id, cliPath, nodeArgs) => {
      if (clinicPath !== null && id === 1) {
        return { command: clinicPath, args: [clinic as string, '--dest', join(dir, 'clinic'), '--', process.execPath, cliPath, ...nodeArgs] };
      }
      return { command: process.execPath, args: ['--cpu-prof', '--cpu-prof-dir', join(dir, `node-${id}`), cliPath, ...nodeArgs] };
    },
  });
  if (code === 2) return code;
  const files = findProfiles(dir);
  process.stdout.write(`\nprofiles: ${dir} (${files.length} .cpuprofile files: one per thread of each node process)\n`);
  for (const file of files) {
    const t = analyzeCpuProfile(file, topCount);
    const nodeId = pids.get(t.pid) ?? basename(join(file, '..')).replace('node-', '');
    process.stdout.write(
      `\nnode ${nodeId} pid ${t.pid} thread ${t.threadId} (${t.role}): ${t.sampledMs.toFixed(0)} ms sampled, ${t.idleMs.toFixed(0)} ms idle or parked; % of busy time  ${file}\n`,
    );
    for (const r of t.top) {
      process.stdout.write(`  ${r.selfMs.toFixed(1).padStart(9)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}  ${r.location}\n`);
    }
  }
  if (clinic !== null) {
    process.stdout.write(`\nclinic ${clinic} (node 1, main thread only): ${join(dir, 'clinic')}\n`);
    spawnSync('ls', [join(dir, 'clinic')], { stdio: 'inherit' });
  }
  return code;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
