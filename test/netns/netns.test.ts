/**
 * totem-evs nodes on test hosts in network namespaces (perf/netns.ts: 198.18.0.0/24 on one
 * bridge, no route out): packet loss with nftables, a partition of one host and its heal, and IP
 * multicast, which is only ever sent inside these namespaces. Root only: elsewhere the suite is
 * skipped with the reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkTrace } from '../../api/check/evs-checker.js';
import { readTraceDir } from '../../api/check/trace-reader.js';
import {
  lastJson,
  regularWith,
  startNodeProcess,
  stopGracefully,
  waitForLine,
  type NodeProcess,
} from '../processes/node-cluster.js';
import { createNetns, netnsUnavailableReason, type NetnsCluster } from '../../perf/netns.js';

const unavailable = netnsUnavailableReason();
if (unavailable !== null) {
  // Say why, once, so a skipped suite is never mistaken for a passing one.
  process.stderr.write(`network-namespace suite skipped: ${unavailable}\n`);
}

const port = 5405;
const started: NodeProcess[] = [];
const dirs: string[] = [];
let net: NetnsCluster | null = null;
let clustersMade = 0;

/** Three hosts; the names carry this process's pid, so concurrent runs never meet. */
function setupNetns(): NetnsCluster {
  clustersMade += 1;
  return createNetns({ prefix: `tevs${process.pid}c${clustersMade}-`, nodes: 3 });
}

afterAll(() => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  net?.teardown();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function startCluster(cluster: NetnsCluster, extra: string[]): { procs: NodeProcess[]; traceDir: string } {
  const traceDir = mkdtempSync(join(tmpdir(), 'totem-evs-netns-'));
  dirs.push(traceDir);
  const members = [1, 2, 3].flatMap((i) => ['--member', `${i}@${cluster.address(i)}:${port}`]);
  const procs = [1, 2, 3].map((i) => {
    const p = startNodeProcess(i, ['--listen', `${cluster.address(i)}:${port}`, ...members, '--trace-dir', traceDir, '--token-ms', '500', ...(extra.includes('--key') ? [] : ['--insecure']), ...extra], cluster.exec(i));
    started.push(p);
    return p;
  });
  return { procs, traceDir };
}

async function stopAndCheck(procs: NodeProcess[], traceDir: string): Promise<void> {
  for (const p of procs) expect(await stopGracefully(p, 15_000)).toBe(0);
  for (const p of procs) {
    expect(lastJson(p)['integrity']).toEqual({ corrupt: 0, missing: 0, duplicated: 0, reordered: 0 });
  }
  const result = checkTrace(await readTraceDir(traceDir), {});
  expect(result.violations.map((v) => `${v.property}: ${v.message}`)).toEqual([]);
}

describe.skipIf(unavailable !== null)('network namespaces', () => {
  it('keeps order under 5% loss, reconfigures around a partitioned host and merges it back', { timeout: 180_000 }, async () => {
    net = setupNetns();
    try {
      await lossPartitionHeal(net);
    } finally {
      net.teardown();
      net = null;
    }
  });

  it('runs over IP multicast inside the namespaces', { timeout: 120_000 }, async () => {
    net = setupNetns();
    try {
      const { procs, traceDir } = startCluster(net, ['--transport', 'multicast', '--multicast', `239.192.77.1:${port + 1}`, '--rate', '200', '--size', '256']);
      for (const p of procs) await waitForLine(p, regularWith([1, 2, 3]), 30_000, 'a 3-member ring over multicast');
      await new Promise((r) => setTimeout(r, 2000));
      await stopAndCheck(procs, traceDir);
      for (const p of procs) expect(lastJson(p)['deliveredMsgs']).toBeGreaterThan(0);
    } finally {
      net.teardown();
      net = null;
    }
  });
});

async function lossPartitionHeal(net: NetnsCluster): Promise<void> {
  const { procs, traceDir } = startCluster(net, ['--rate', '300', '--size', '512', '--order', 'mixed']);
  for (const p of procs) await waitForLine(p, regularWith([1, 2, 3]), 30_000, 'a 3-member ring');
  for (const i of [1, 2, 3]) net.setLoss(i, 5);
  await new Promise((r) => setTimeout(r, 3000));
  for (const i of [1, 2, 3]) net.setLoss(i, 0);

  const before = procs.map((p) => p.lines.length);
  net.setLinkUp(3, false);
  for (const p of procs.slice(0, 2)) await waitForLine(p, regularWith([1, 2]), 30_000, 'the ring without host 3', before[p.id - 1]);
  await waitForLine(procs[2] as NodeProcess, regularWith([3]), 30_000, 'host 3 alone', before[2]);
  const split = procs.map((p) => p.lines.length);
  net.setLinkUp(3, true);
  for (const p of procs) await waitForLine(p, regularWith([1, 2, 3]), 30_000, 'the healed ring', split[p.id - 1]);
  await new Promise((r) => setTimeout(r, 1000));
  await stopAndCheck(procs, traceDir);
}
