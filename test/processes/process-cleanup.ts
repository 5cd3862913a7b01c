/**
 * For a test file that starts processes or makes temporary directories: after its tests, every
 * tracked process still running is SIGKILLed (by its own PID) and awaited, and the directories are
 * removed. Kept apart from node-cluster.ts, which scripts outside the test runner import.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { NodeProcess } from './node-cluster.js';

export interface ProcessCleanup {
  /** Registers a process to be SIGKILLed after the file's tests if it is still running. */
  track(proc: NodeProcess): NodeProcess;
  /** A fresh temporary directory, removed after the file's tests. */
  tempDir(prefix: string): string;
}

/**
 * Registers, for the calling test file, the stop of every tracked process and the removal of its
 * temporary directories (kept with `keepDirs`, to read a failing run's traces).
 */
export function useProcessCleanup(options: { keepDirs?: boolean } = {}): ProcessCleanup {
  const procs: NodeProcess[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    if (options.keepDirs !== true) for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    track(proc) {
      procs.push(proc);
      return proc;
    },
    tempDir(prefix) {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
  };
}
