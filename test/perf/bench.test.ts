/**
 * `totem-evs bench` as a user runs it (the compiled CLI in dist/): argument errors, a short real
 * run whose JSON has every field README.md documents, the HTML report, and the failover scenario.
 * Figures are not checked (this host is shared and slow at times): only shape and integrity.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const cliPath = fileURLToPath(new URL('../../dist/api/cli.js', import.meta.url));
const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'totem-evs-bench-test-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bench(args: string[], timeoutMs: number): Promise<Run> {
  return run(process.execPath, [cliPath, 'bench', ...args], timeoutMs);
}

function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench ${args.join(' ')} did not finish in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON fields listed in README.md's "Measuring" section: table rows starting with | `path` |. */
function documentedFields(): string[] {
  const readme = readFileSync(readmePath, 'utf8');
  const section = readme.slice(readme.indexOf('## Measuring'));
  const fields = [...section.matchAll(/^\| `([a-zA-Z0-9_.[\]]+)` \|/gm)].map((m) => m[1] as string);
  return fields;
}

/** Every leaf path of a JSON value; array elements as `[]`, objects inside arrays followed. */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) {
    const inner = value.length > 0 && typeof value[0] === 'object' && value[0] !== null ? leafPaths(value[0], `${prefix}[]`) : [];
    return [prefix, ...inner];
  }
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix === '' ? k : `${prefix}.${k}`));
  }
  return [prefix];
}

function has(report: unknown, path: string): boolean {
  let values: unknown[] = [report];
  for (const part of path.replace(/\[\]/g, '.[]').split('.').filter((p) => p !== '')) {
    const next: unknown[] = [];
    for (const v of values) {
      if (part === '[]') {
        if (!Array.isArray(v)) return false;
        next.push(...v);
      } else {
        if (v === null || typeof v !== 'object' || !(part in v)) return false;
        next.push((v as Record<string, unknown>)[part]);
      }
    }
    values = next;
  }
  return values.length > 0;
}

describe('totem-evs bench', () => {
  it.each([
    [['--nodes', 'x'], /--nodes takes a whole number/],
    [['--nodes', '0'], /--nodes must be in 1\.\.64/],
    [['--size', '8'], /--size must be in/],
    [['--order', 'fast'], /--order is agreed or safe/],
    [['--duration', '0'], /--duration must be above 0/],
    [['--scenario', 'chaos'], /--scenario is steady, failover or restart/],
    [['--scenario', 'restart', '--nodes', '1'], /restart needs --nodes 2/],
    [['--scenario', 'failover', '--nodes', '1'], /failover needs --nodes 2/],
    [['--scenario', 'failover', '--senders', 'all'], /one sender/],
    [['--baseline', 'tcp'], /--baseline takes udp/],
    [['--baseline', 'udp', '--nodes', '1'], /--baseline udp needs --nodes 2/],
    [['--report'], /--report takes a file name/],
    [['--frobnicate'], /unknown flag '--frobnicate'/],
    [['--transport', 'tcp'], /--transport is udpu or multicast/],
    [['--transport', 'multicast'], /--transport multicast needs --netns/],
    [['--loss', '5'], /--loss needs --netns/],
    [['--netns', '--loss', '100'], /--loss takes a percentage from 0 to 99\.99/],
    [['--netns', '--loss', '-1'], /--loss takes a percentage/],
  ])('%j exits 2 with one line on stderr', async (args, message) => {
    const r = await bench(args, 20_000);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^totem-evs bench: /);
    expect(lines[0]).toMatch(message);
  });

  it('--help documents the new flags', async () => {
    const r = await bench(['--help'], 20_000);
    expect(r.code).toBe(0);
    for (const flag of ['--report', '--baseline', '--scenario', '--json', '--netns', '--transport', '--loss']) expect(r.stdout).toContain(flag);
  });

  // As root, the same check as an unprivileged user (setpriv drops to nobody). Nobody must be able
  // to read the checkout for that: a clone under a 0700 temporary directory is not readable, and
  // then the test is skipped rather than failed for a reason that is not the bench's.
  const root = process.getuid?.() === 0;
  const setpriv = root && spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
  const nobodyReads =
    setpriv &&
    spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `require('node:fs').accessSync(${JSON.stringify(cliPath)})`], {
      stdio: 'ignore',
    }).status === 0;
  it.skipIf(process.platform !== 'linux' || (root && !nobodyReads))('--netns without root exits 2 with one line on stderr (as root: run as nobody; skipped where nobody cannot read the checkout)', async () => {
    const r = root
      ? await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cliPath, 'bench', '--netns'], 20_000)
      : await bench(['--netns'], 20_000);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('totem-evs bench: --netns cannot run here: network namespaces need root (run the bench as root)\n');
  });

  it('a short run prints a JSON with every documented field, no integrity error, and writes the HTML report', async () => {
    const reportFile = join(scratch, 'report.html');
    const r = await bench(['--nodes', '2', '--duration', '1', '--warmup', '0', '--json', '--report', reportFile], 120_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0] as string) as Record<string, any>;

    const documented = documentedFields();
    expect(documented.length).toBeGreaterThan(30);
    // failover and baseline are null without --scenario failover / --baseline udp.
    // The anatomy's rows exist once a sampled message (1 in 64) reached a stage: checked below.
    const noRows = (p: string): boolean => {
      const side = /^anatomy\.(own|peer)\[\]/.exec(p)?.[1];
      if (p.startsWith('tokenHops.stages[]')) return report['tokenHops'].stages.length === 0;
      return side !== undefined && report['anatomy'][side].length === 0;
    };
    const optional = (p: string): boolean => p.startsWith('failover.') || p.startsWith('baseline.') || noRows(p);
    for (const field of documented) {
      if (!optional(field)) expect({ field, present: has(report, field) }).toEqual({ field, present: true });
    }
    // Node 2 receives node 1's messages: the 64th, 128th ... delivered there are samples of the other side (256: margin for the first ones, intended before node 2 started counting).
    if (report['nodes'][1].deliveredMsgs >= 256) expect(report['anatomy'].peer.length).toBeGreaterThan(0);
    if (report['nodes'][0].deliveredMsgs >= 256) expect(report['anatomy'].own.length).toBeGreaterThan(0);
    for (const path of leafPaths(report)) {
      expect({ path, documented: documented.includes(path) }).toEqual({ path, documented: true });
    }
    expect(report['failover']).toBeNull();
    expect(report['baseline']).toBeNull();
    expect(report['integrity']).toEqual({ corrupt: 0, missing: 0, duplicated: 0, reordered: 0 });
    expect(report['config'].nodes).toBe(2);
    expect(report['latencyUs'].count).toBeGreaterThan(0);
    expect(report['timelines']).toHaveLength(2);
    expect(report['membership'].coldFormMs).toBeGreaterThan(0);

    expect(existsSync(reportFile)).toBe(true);
    const html = readFileSync(reportFile, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    // Nothing to fetch: no script or stylesheet source, no link, no CSS import or url().
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\b(src|href)\s*=|@import|url\(/);
    expect(html).toContain('Latency percentile distribution');
    expect(html).toContain('Throughput over time');
    expect(html).toContain('Latency anatomy');
    // A second of a 2-node ring is thousands of token hops: every stage of a sampled hop matched.
    expect(report['tokenHops'].stages.map((st: { stage: string }) => st.stage)).toEqual(['wakeToken', 'tokenWork', 'wakeNet', 'network']);
    expect(html).toContain('Token hop anatomy');
    expect(report['anatomy'].sampleEvery).toBe(64);
    expect(report['pacerLatenessUs'].count).toBe(0);
    expect((html.match(/<svg /g) ?? []).length).toBe(2);
    expect(html).toContain(report['throughput'].msgsPerSecSlowest.toLocaleString('en-US'));
    expect(html).toContain('Percentile'); // the .hgrm table of the merged histogram
    expect(html).toContain(`&quot;msgsPerSecSlowest&quot;: ${report['throughput'].msgsPerSecSlowest}`);
  });

  it('latencies leave out the messages sent during the warmup; no configuration inside the window', async () => {
    const r = await bench(['--nodes', '2', '--duration', '1', '--warmup', '1', '--rate', '400', '--json'], 120_000);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout.trim()) as Record<string, any>;
    const sent = report['nodes'][0].sentMsgs as number;
    const ownRecorded = report['ownLatencyUs'].count as number;
    // About 400 of about 800 sends were intended after the 1 s warmup: only those are recorded.
    expect(ownRecorded).toBeGreaterThan(0);
    expect(ownRecorded).toBeLessThan(0.75 * sent);
    expect(report['protocol'].configurationsInWindow).toEqual([0, 0]);
  });

  it('--scenario failover times the kill, the survivors\' new configuration and the rejoin; --baseline udp', async () => {
    const r = await bench(['--scenario', 'failover', '--nodes', '3', '--duration', '3', '--warmup', '0', '--token-ms', '500', '--rate', '200', '--baseline', 'udp', '--baseline-s', '0.5', '--json'], 150_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout.trim()) as Record<string, any>;
    for (const field of documentedFields().filter((p) => p.startsWith('failover.') || p.startsWith('baseline.'))) {
      expect({ field, present: has(report, field) }).toEqual({ field, present: true });
    }
    const f = report['failover'];
    expect(f.killedNode).toBe(3);
    expect(f.perSurvivorDetectMs).toHaveLength(2);
    expect(f.detectMs).toBeGreaterThan(0);
    expect(f.restartAtS).toBeGreaterThan(f.killAtS);
    expect(f.perNodeRejoinMs).toHaveLength(3);
    expect(report['baseline'].receivers).toBe(2);
    expect(report['baseline'].framesPerSecSlowest).toBeGreaterThan(0);
    expect(report['nodes'].map((n: { node: string }) => n.node)).toEqual(['1', '2', '3']);
    expect(report['integrity']).toEqual({ corrupt: 0, missing: 0, duplicated: 0, reordered: 0 });
    expect(f.stopSignal).toBe('SIGKILL');
    // A crash is noticed by a token loss (a survivor may first hear the other's join): never a leave.
    expect(f.survivorCauses).toHaveLength(2);
    expect(f.survivorCauses).not.toContain('leave');
  });

  it('--scenario restart stops node N with SIGTERM: the survivors reconfigure with cause leave, and it rejoins', async () => {
    const r = await bench(['--scenario', 'restart', '--nodes', '3', '--duration', '3', '--warmup', '0', '--rate', '200', '--json'], 150_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout.trim()) as Record<string, any>;
    expect(report['config'].scenario).toBe('restart');
    const f = report['failover'];
    expect(f.stopSignal).toBe('SIGTERM');
    expect(f.survivorCauses).toEqual(['leave', 'leave']);
    expect(f.perSurvivorDetectMs).toHaveLength(2);
    expect(f.restartAtS).toBeGreaterThan(f.killAtS);
    expect(f.perNodeRejoinMs).toHaveLength(3);
    expect(report['integrity']).toEqual({ corrupt: 0, missing: 0, duplicated: 0, reordered: 0 });
  });
});
