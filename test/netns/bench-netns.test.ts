/**
 * `totem-evs bench --netns` as a user runs it (the compiled CLI in dist/): short runs over udpu,
 * over IP multicast (with the UDP baseline in the same namespaces) and under packet loss, each in
 * namespaces tevbr and tev1..tevN that the bench makes and deletes; SIGINT in the middle of a run;
 * and the refusal to touch a namespace with one of its names that it did not make. Root only (and `ip`, `nft`): elsewhere the suite is skipped with the reason.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { existingNamespaces, netnsUnavailableReason } from '../../perf/netns.js';

const cliPath = fileURLToPath(new URL('../../dist/api/cli.js', import.meta.url));

const unavailable = netnsUnavailableReason({ nft: true });
if (unavailable !== null) process.stderr.write(`bench --netns suite skipped: ${unavailable}\n`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bench(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      // SIGTERM: the bench stops its nodes and deletes its namespaces.
      child.kill('SIGTERM');
      reject(new Error(`bench ${args.join(' ')} did not finish in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The bench's namespaces (tevbr, tev<digits>) on this host. */
function benchNamespaces(): string[] {
  return existingNamespaces('tev').map((e) => e.name);
}

describe.skipIf(unavailable !== null)('totem-evs bench --netns', () => {
  it.each([
    { name: 'udpu', transport: 'udpu', lossPct: 0, extra: [] },
    { name: 'multicast, with the UDP baseline', transport: 'multicast', lossPct: 0, extra: ['--transport', 'multicast', '--baseline', 'udp', '--baseline-s', '0.5'] },
    { name: 'udpu under 2% loss', transport: 'udpu', lossPct: 2, extra: ['--rate', '500', '--loss', '2'] },
  ])('$name: every node delivers, integrity is clean, the namespaces are gone afterwards', { timeout: 90_000 }, async ({ transport, lossPct, extra }) => {
    expect(benchNamespaces()).toEqual([]);
    const r = await bench(['--netns', '--nodes', '3', '--duration', '2', '--warmup', '1', '--json', ...extra], 80_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout.trim()) as Record<string, any>;
    expect(report['config']).toMatchObject({
      netns: true,
      host: '198.18.0.0/24',
      transport,
      multicastGroup: transport === 'multicast' ? '239.192.18.1:5406' : null,
      lossPct,
      netMtu: 1500,
    });
    expect(report['integrity']).toEqual({ corrupt: 0, missing: 0, duplicated: 0, reordered: 0 });
    expect(report['nodes'].map((n: { node: string }) => n.node)).toEqual(['1', '2', '3']);
    for (const n of report['nodes'] as { deliveredMsgs: number }[]) expect(n.deliveredMsgs).toBeGreaterThan(0);
    expect(report['throughput'].msgsPerSecSlowest).toBeGreaterThan(0);
    if (extra.includes('--baseline')) {
      expect(report['baseline']).toMatchObject({ transport, receivers: 2 });
      expect(report['baseline'].framesPerSecSlowest).toBeGreaterThan(0);
    }
    expect(benchNamespaces()).toEqual([]);
  });

  it('on SIGINT stops its nodes and deletes its namespaces', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [cliPath, 'bench', '--netns', '--duration', '30', '--warmup', '0', '--rate', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let nodePids: number[] = [];
    try {
      // The nodes are the bench's children (ip netns exec execs them).
      const deadline = Date.now() + 30_000;
      while (nodePids.length < 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        const ps = spawnSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' });
        nodePids = ps.stdout.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
      }
      expect(nodePids).toHaveLength(3);
      expect(benchNamespaces()).toEqual(['tev1', 'tev2', 'tev3', 'tevbr']);
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(130);
    expect(stderr).toBe('\ntotem-evs bench: SIGINT: stopped the nodes and deleted the network namespaces\n');
    expect(benchNamespaces()).toEqual([]);
    // Gone, or a zombie not yet reaped by whoever inherited it.
    const alive = (pid: number): boolean => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    };
    const until = Date.now() + 5000;
    while (nodePids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(nodePids.filter(alive)).toEqual([]);
  });

  it('refuses to run beside a namespace with one of its names that it did not make, and leaves it alone', async () => {
    const foreign = 'tev64';
    expect(spawnSync('ip', ['netns', 'add', foreign]).status).toBe(0);
    try {
      const r = await bench(['--netns', '--duration', '1'], 20_000);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^totem-evs bench: network namespace tev64 exists without the bench's marker/);
      expect(lines[0]).toContain('ip netns del tev64');
      expect(benchNamespaces()).toEqual([foreign]);
    } finally {
      spawnSync('ip', ['netns', 'del', foreign]);
    }
  });
});
