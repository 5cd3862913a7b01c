/**
 * `totem-evs node` as real processes on loopback: three members form a ring and multicast; one
 * is killed with SIGKILL while the others send, and restarted; the traces of every node
 * incarnation must pass the EVS checker, and no probe message may arrive corrupt, duplicated or
 * out of order.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../api/check/evs-checker.js';
import { readTraceDir } from '../../api/check/trace-reader.js';
import { appendHarnessCrash } from '../../workers/trace/trace-writer.js';
import {
  freeUdpPorts,
  lastJson,
  regularWith,
  startNodeProcess,
  stopGracefully,
  waitForLine,
  type NodeProcess,
} from './node-cluster.js';
import { useProcessCleanup } from './process-cleanup.js';

const cleanup = useProcessCleanup();

describe('totem-evs node processes', () => {
  it('exits 2 with one error line for a bad flag', async () => {
    const p = startNodeProcess(1, ['--listen', '127.0.0.1:1', '--member', '1@127.0.0.1:1', '--rate', 'fast']);
    cleanup.track(p);
    expect(await p.exited).toBe(2);
    expect(p.stderr.join('').trim().split('\n')).toHaveLength(1);
    expect(p.stderr.join('')).toContain('--rate');
  });

  it('a killed and restarted member: survivors reconfigure, it rejoins, traces keep every EVS property', { timeout: 120_000 }, async () => {
    const traceDir = cleanup.tempDir('totem-evs-trace-');
    const stateDir = cleanup.tempDir('totem-evs-state-');
    const ports = await freeUdpPorts(3);
    const members = ports.flatMap((port, i) => ['--member', `${i + 1}@127.0.0.1:${port}`]);
    const argsOf = (id: number): string[] => [
      '--listen', `127.0.0.1:${ports[id - 1]}`, ...members,
      '--trace-dir', traceDir, '--state-dir', join(stateDir, String(id)),
      '--rate', '300', '--size', '200', '--order', 'mixed', '--token-ms', '500',
    ];
    const procs = new Map<number, NodeProcess>();
    for (const id of [1, 2, 3]) {
      const p = startNodeProcess(id, argsOf(id));
      cleanup.track(p);
      procs.set(id, p);
    }
    for (const p of procs.values()) await waitForLine(p, regularWith([1, 2, 3]), 30_000, 'a 3-member ring');
    await new Promise((r) => setTimeout(r, 1500));

    const victim = procs.get(3) as NodeProcess;
    victim.child.kill('SIGKILL');
    await victim.exited;
    appendHarnessCrash(traceDir, 3);
    for (const id of [1, 2]) await waitForLine(procs.get(id) as NodeProcess, regularWith([1, 2]), 30_000, 'the ring without node 3');
    await new Promise((r) => setTimeout(r, 1000));

    const linesBefore = new Map([...procs].map(([id, p]) => [id, p.lines.length]));
    const again = startNodeProcess(3, argsOf(3));
    cleanup.track(again);
    procs.set(3, again);
    for (const [id, p] of procs) {
      await waitForLine(p, regularWith([1, 2, 3]), 30_000, 'node 3 back in the ring', id === 3 ? 0 : linesBefore.get(id));
    }
    await new Promise((r) => setTimeout(r, 1500));

    for (const p of procs.values()) expect(await stopGracefully(p, 15_000)).toBe(0);
    for (const p of procs.values()) {
      const summary = lastJson(p);
      expect(summary['node']).toBe(String(p.id));
      expect(summary['sentMsgs']).toBeGreaterThan(0);
      expect(summary['deliveredMsgs']).toBeGreaterThan(0);
      expect(summary['integrity']).toEqual({ corrupt: 0, missing: 0, duplicated: 0, reordered: 0 });
    }
    const result = checkTrace(await readTraceDir(traceDir), {});
    expect(result.violations.map((v) => `${v.property}: ${v.message}`)).toEqual([]);
    expect(result.counts.configurationsInstalled).toBeGreaterThanOrEqual(6);
    expect(result.ok).toBe(true);
  });
});
