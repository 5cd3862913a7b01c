/**
 * `totem-evs bench --workload locks` as a user runs it (the compiled CLI): a short uncontended
 * run on 3 node processes gives the JSON figures the issue names, a contended shared/exclusive run
 * counts cycles too, bad options exit 2 with a message, and --peer redlock (when redis-server and
 * the npm clients are installed; skipped saying why otherwise) runs Redis servers for the same
 * run and reports the ratios. Speed is not asserted here (perf figures come from the bench itself).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cliPath } from './node-cluster.js';
import { loadPeerModule } from '../../perf/locks/peer-modules.js';

function bench(args: string[], timeoutMs = 120_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, 'bench', '--workload', 'locks', ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function redlockUnavailable(): string | null {
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server is not installed (apt-get install redis-server)';
  try {
    loadPeerModule('ioredis');
    loadPeerModule('@sesamecare-oss/redlock');
  } catch (err) {
    return (err as Error).message;
  }
  return null;
}

describe('totem-evs bench --workload locks', () => {
  it('reports cycles per second, hdr acquire percentiles and the agreed-delivery latency as JSON', { timeout: 150_000 }, () => {
    const r = bench(['--duration', '2', '--warmup', '1', '--concurrency', '8', '--json']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const report = JSON.parse(r.stdout) as { locks: { cyclesPerSec: number; acquireLatencyUs: Record<string, number>; agreedDeliveryUs: Record<string, number> }; targets: { name: string }[] };
    expect(report.locks.cyclesPerSec).toBeGreaterThan(0);
    for (const k of ['p50', 'p90', 'p99', 'p999', 'max']) expect(report.locks.acquireLatencyUs[k]).toBeGreaterThan(0);
    expect(report.locks.acquireLatencyUs['p50']).toBeLessThanOrEqual(report.locks.acquireLatencyUs['max'] as number);
    expect(report.locks.agreedDeliveryUs['count']).toBeGreaterThan(0);
    expect(report.targets.map((t) => t.name)).toContain('>= 30,000 uncontended cycles/s across 3 nodes');
  });

  it('runs a contended shared/exclusive mix and refuses bad options', { timeout: 150_000 }, () => {
    const r = bench(['--nodes', '2', '--duration', '2', '--warmup', '0', '--resources', '2', '--shared', '50', '--concurrency', '4', '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { locks: { cyclesPerSec: number; runs: { errors: string[] }[] }; config: { resources: number } };
    expect(report.config.resources).toBe(2);
    expect(report.locks.cyclesPerSec).toBeGreaterThan(0);
    expect(report.locks.runs[0]?.errors).toEqual([]);
    for (const bad of [['--peer', 'zookeeper'], ['--shared', '101'], ['--nodes', '0'], ['--bogus']]) {
      const b = bench(bad, 10_000);
      expect(b.status).toBe(2);
      expect(b.stderr).toMatch(/^totem-evs bench: /);
    }
    const help = bench(['--help'], 10_000);
    expect(help.stdout).toContain('--peer etcd|redlock|all');
  });

  const why = redlockUnavailable();
  if (why !== null) process.stderr.write(`locks bench --peer redlock test skipped: ${why}\n`);
  it.skipIf(why !== null)('--peer redlock starts 3 Redis servers for the run and prints the ratios', { timeout: 150_000 }, () => {
    const r = bench(['--duration', '2', '--warmup', '0', '--concurrency', '4', '--peer', 'redlock', '--json']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const report = JSON.parse(r.stdout) as { peers: { redlock?: { cyclesPerSec: number; config: string; ours: { throughputRatio: number; p50Ratio: number } } } };
    expect(report.peers.redlock?.cyclesPerSec).toBeGreaterThan(0);
    expect(report.peers.redlock?.config).toMatch(/no persistence/);
    expect(report.peers.redlock?.ours.throughputRatio).toBeGreaterThan(0);
    const left = spawnSync('pgrep', ['-f', 'totem-bench-redis'], { encoding: 'utf8' });
    expect(left.stdout.trim()).toBe('');
  });
});
