/**
 * close() right after a refused submit: the caller waits for 'writable', the node starts
 * closing, and the token worker then frees room. The delivery pump must not keep resuming for a
 * 'writable' that close() will never emit: that starved the main thread's event loop and close()
 * never settled. Run in child processes, so that a starved event loop fails the test instead of
 * hanging the test runner.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('../../dist/test/workers/fixtures/close-while-refused.js', import.meta.url));

function runFixture(timeoutMs: number): Promise<{ code: number | null; stdout: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, timedOut });
    });
  });
}

describe('close() while a refused submit waits for room', () => {
  it('settles every time (4 processes)', async () => {
    const runs = await Promise.all([0, 1, 2, 3].map(() => runFixture(40_000)));
    for (const r of runs) {
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^closed after [1-9][0-9]* accepted/);
    }
  });
});
