/**
 * Real traces of a 3-process lock run pass `totem-evs check`: three processes with a trace
 * directory run contended lock cycles (shared, exclusive, conversions, try-locks) and two
 * barriers; then the holder of a lock is SIGKILLed and the survivors grant it. The lock manager's
 * lines (trace contract, "Lock manager lines") are in each node's file, and the EVS and lock
 * checkers pass over the whole directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliPath, freeUdpPorts, type NodeProcess, waitForLine, watchChild } from './node-cluster.js';
import { useProcessCleanup } from './process-cleanup.js';

const script = fileURLToPath(new URL('../../dist/test/processes/lock-trace-process.js', import.meta.url));
// KEEP_TRACE=1 keeps the trace directory of the run for reading.
const cleanup = useProcessCleanup({ keepDirs: process.env['KEEP_TRACE'] !== undefined });

function start(args: string[]): NodeProcess {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return cleanup.track(watchChild(Number(args[0]), child));
}

describe('lock manager trace lines in real processes', () => {
  it('a 3-process lock run with a SIGKILLed holder passes totem-evs check (EVS and lock checkers)', { timeout: 120_000 }, async () => {
    const dir = cleanup.tempDir('totem-locks-trace-');
    const ports = await freeUdpPorts(3);
    const cycles = 40;
    const [p1, p2, p3] = [1, 2, 3].map((id) => start([String(id), ports.join(','), dir, String(cycles), id === 1 ? 'holder' : 'waiter'])) as [NodeProcess, NodeProcess, NodeProcess];
    for (const p of [p1, p2, p3]) await waitForLine(p, (l) => l.includes('"step":"done"'), 60_000, 'the lock cycles');
    await waitForLine(p1, (l) => l.includes('"step":"held"'), 20_000, 'the holder\'s grant');
    p1.child.kill('SIGKILL');
    await p1.exited;
    appendFileSync(join(dir, 'harness.jsonl'), '{"ev":"crash","node":"1"}\n');
    for (const p of [p2, p3]) await waitForLine(p, (l) => l.includes('"step":"granted"'), 20_000, 'the survivors\' grant');
    for (const p of [p2, p3]) {
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      appendFileSync(join(dir, 'harness.jsonl'), `{"ev":"crash","node":"${p.id}"}\n`);
    }

    const files = readdirSync(dir).filter((f) => /^\d+\.\d+\.jsonl$/.test(f));
    expect(files).toHaveLength(3);
    const lines = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
    // Every replica applied every grant: 3 nodes × cycles lock grants (+ try-locks) on each file.
    const grants = lines.filter((l) => l['ev'] === 'lk' && l['op'] === 'grant' && String(l['res']).startsWith('r'));
    expect(grants.length).toBeGreaterThanOrEqual(3 * 3 * cycles);
    expect(lines.some((l) => l['ev'] === 'held')).toBe(true);
    expect(lines.some((l) => l['ev'] === 'lk' && l['op'] === 'purge' && l['res'] === 'held')).toBe(true);
    expect(lines.some((l) => l['ev'] === 'barrier' && l['op'] === 'complete')).toBe(true);
    expect(lines.some((l) => l['ev'] === 'lkstate' && l['primary'] === true)).toBe(true);

    const check = spawnSync(process.execPath, [cliPath, 'check', dir, '--json'], { encoding: 'utf8', timeout: 60_000 });
    const report = JSON.parse(check.stdout) as { ok: boolean; locks?: { ok: boolean; lockLines: number; violations: unknown[] } };
    expect(report.locks?.violations ?? []).toEqual([]);
    expect(report.locks?.lockLines ?? 0).toBeGreaterThan(3 * 3 * cycles);
    expect({ status: check.status, ok: report.ok, stderr: check.stderr }).toEqual({ status: 0, ok: true, stderr: '' });
  });
});
