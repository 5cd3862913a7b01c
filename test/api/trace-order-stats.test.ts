/**
 * stats().trace.orderWaitsTimedOut: with a trace directory, the delivery worker writes a `conf`
 * line (and the line after it) only once the main thread has taken every earlier record, waiting
 * at most 2 s. A main thread blocked past that bound while the ring reconfigures costs the order
 * of those lines, and the node says so in its stats instead of stalling.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useRealNodes } from './real-nodes.js';

const traceDir = mkdtempSync(join(tmpdir(), 'totem-trace-order-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));
const real = useRealNodes();

/** The trace lines of node 1 that record a configuration of node 1 alone. */
function aloneConfLines(): number {
  let n = 0;
  for (const name of readdirSync(traceDir)) {
    if (!name.startsWith('1.')) continue;
    for (const line of readFileSync(join(traceDir, name), 'utf8').split('\n')) {
      if (line.includes('"ev":"conf"') && line.includes('"members":["1"]')) n++;
    }
  }
  return n;
}

/**
 * The application's main thread, stuck: nothing on it runs until this returns. It returns
 * `afterMs` after node 1's workers traced a configuration alone beyond the `linesBefore` it had
 * traced before the ring formed (they write trace files synchronously, so this thread sees the
 * line without running any callback), or at `giveUpMs` if they never did.
 */
function blockMainThreadUntilAlone(linesBefore: number, afterMs: number, giveUpMs: number): boolean {
  const giveUpAtMs = Date.now() + giveUpMs;
  let seenAtMs: number | null = null;
  for (;;) {
    const nowMs = Date.now();
    if (seenAtMs === null && aloneConfLines() > linesBefore) seenAtMs = nowMs;
    if (seenAtMs !== null && nowMs >= seenAtMs + afterMs) return true;
    if (seenAtMs === null && nowMs >= giveUpAtMs) return false;
  }
}

describe('trace order waits in node.stats()', () => {
  it('counts a conf line written after the 2 s bound while the main thread was blocked', async () => {
    const [a, b] = await real.startRing(2, { trace: traceDir });
    expect((await a!.stats()).trace).toEqual({ orderWaitsTimedOut: 0 });
    // Node 1 started alone: those configurations are in its trace already.
    const linesBefore = aloneConfLines();

    // b's leave goes to its workers at once; a reconfigures while this thread is blocked. The
    // block lasts until a's workers traced the change and 2.5 s more, so the next conf line's
    // wait for this thread (at most 2 s) runs out however slowly the reconfiguration came.
    const closing = b!.close({ drainTimeoutMs: 0 });
    await new Promise((r) => setTimeout(r, 0));
    expect(blockMainThreadUntilAlone(linesBefore, 2500, 15_000)).toBe(true);
    await closing;

    const stats = await a!.stats();
    expect(stats.trace?.orderWaitsTimedOut).toBeGreaterThanOrEqual(1);
    expect(a!.members).toEqual([1]);
  }, 40_000);
});
