/**
 * stats().trace.orderWaitsTimedOut: with a trace directory, the delivery worker writes a `conf`
 * line (and the line after it) only once the main thread has taken every earlier record, waiting
 * at most 2 s. A main thread blocked past that bound while the ring reconfigures costs the order
 * of those lines, and the node says so in its stats instead of stalling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useRealNodes } from './real-nodes.js';

const traceDir = mkdtempSync(join(tmpdir(), 'totem-trace-order-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));
const real = useRealNodes();

function blockMainThreadMs(ms: number): void {
  const untilMs = Date.now() + ms;
  while (Date.now() < untilMs) {
    // The application's main thread, stuck: nothing on it runs until this returns.
  }
}

describe('trace order waits in node.stats()', () => {
  it('counts a conf line written after the 2 s bound while the main thread was blocked', async () => {
    const [a, b] = await real.startRing(2, { trace: traceDir });
    expect((await a!.stats()).trace).toEqual({ orderWaitsTimedOut: 0 });

    // b's leave goes to its workers at once; a reconfigures while this thread is blocked.
    const closing = b!.close({ drainTimeoutMs: 0 });
    await new Promise((r) => setTimeout(r, 0));
    blockMainThreadMs(3000);
    await closing;

    const stats = await a!.stats();
    expect(stats.trace?.orderWaitsTimedOut).toBeGreaterThanOrEqual(1);
    expect(a!.members).toEqual([1]);
  }, 30_000);
});
