/**
 * A holder SIGKILLed: its lock is granted to the waiter on the survivors as soon as their
 * configuration without it is installed. Three processes on loopback; prints the times measured.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freeUdpPorts, type NodeProcess, waitForLine, watchChild } from './node-cluster.js';
import { useProcessCleanup } from './process-cleanup.js';

const script = fileURLToPath(new URL('../../dist/test/processes/lock-process.js', import.meta.url));
const cleanup = useProcessCleanup();

function start(id: number, tokenTimeoutMs: number, ports: number[], role: string): NodeProcess {
  const child = spawn(process.execPath, [script, String(id), String(tokenTimeoutMs), ports.join(','), role], { stdio: ['ignore', 'pipe', 'pipe'] });
  return cleanup.track(watchChild(id, child));
}

const json = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;

describe('lock manager, real processes', () => {
  it('grants a SIGKILLed holder\'s lock to the waiter once the survivors install their configuration', { timeout: 90_000 }, async () => {
    const tokenTimeoutMs = 300;
    const ports = await freeUdpPorts(3);
    const holder = start(1, tokenTimeoutMs, ports, 'holder');
    const waiter = start(2, tokenTimeoutMs, ports, 'waiter');
    const third = start(3, tokenTimeoutMs, ports, 'idle');
    const held = json(await waitForLine(holder, (l) => l.includes('"step":"held"'), 30_000, 'the holder\'s grant'));
    await waitForLine(waiter, (l) => l.includes('"step":"queued"'), 30_000, 'the waiter queued');
    const killedAtMs = Date.now();
    holder.child.kill('SIGKILL');
    const granted = json(
      await waitForLine(waiter, (l) => l.includes('"step":"granted"'), 10_000, 'the waiter\'s grant').catch((e: unknown) => {
        throw new Error(`${String(e)}\nwaiter:\n${waiter.lines.join('\n')}\nthird:\n${third.lines.join('\n')}`);
      }),
    );
    // The survivors' configuration: the last regular one without node 1 before the grant line.
    const grantIndex = waiter.lines.findIndex((l) => l.includes('"step":"granted"'));
    const installedLine = waiter.lines.slice(0, grantIndex).reverse().find((l) => l.includes('"kind":"regular"') && l.includes('"members":[2,3]'));
    expect(installedLine).toBeDefined();
    const installed = json(installedLine ?? '{}');
    expect(Number(installed['atMs'])).toBeGreaterThanOrEqual(killedAtMs);
    expect(BigInt(String(granted['fence'])) > BigInt(String(held['fence']))).toBe(true);
    const grantMs = Number(granted['atMs']) - killedAtMs;
    const afterInstallMs = Number(granted['atMs']) - Number(installed['atMs']);
    process.stdout.write(`lock kill: token timeout ${tokenTimeoutMs} ms; grant ${grantMs} ms after SIGKILL, ${afterInstallMs} ms after the survivors' regular configuration\n`);
    expect(afterInstallMs).toBeGreaterThanOrEqual(0);
    third.child.kill('SIGTERM');
    waiter.child.kill('SIGTERM');
  });
});
