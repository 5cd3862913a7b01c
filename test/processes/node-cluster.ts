/**
 * Runs `totem-evs node` processes (the compiled CLI in dist/) for multi-process tests: spawn,
 * watch their configuration lines, kill, restart, stop gracefully, read their final JSON line.
 * Every wait is bounded; every process started here is stopped here, by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export { freeUdpPorts } from '../../perf/free-ports.js';

export const cliPath = fileURLToPath(new URL('../../dist/api/cli.js', import.meta.url));

export interface NodeProcess {
  id: number;
  child: ChildProcess;
  lines: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

export function startNodeProcess(id: number, args: string[], prefix: string[] = []): NodeProcess {
  const argv = [...prefix, process.execPath, cliPath, 'node', '--id', String(id), ...args];
  return watchChild(id, spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Collects a child's stdout as lines and its stderr as chunks, and its exit code. */
export function watchChild(id: number, child: ChildProcess): NodeProcess {
  const proc: NodeProcess = {
    id,
    child,
    lines: [],
    stderr: [],
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    proc.lines.push(...parts);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => proc.stderr.push(chunk));
  return proc;
}

/**
 * Resolves once `predicate` holds for a line of the process's stdout at index `fromLine` or later;
 * rejects after timeoutMs.
 */
export async function waitForLine(
  proc: NodeProcess,
  predicate: (line: string) => boolean,
  timeoutMs: number,
  what: string,
  fromLine = 0,
): Promise<string> {
  const startedMs = Date.now();
  for (let seen = fromLine; ; ) {
    while (seen < proc.lines.length) {
      const line = proc.lines[seen++] as string;
      if (predicate(line)) return line;
    }
    if (proc.child.exitCode !== null) throw new Error(`node ${proc.id} exited (${proc.child.exitCode}) before ${what}: ${proc.stderr.join('')}`);
    if (Date.now() - startedMs > timeoutMs) throw new Error(`node ${proc.id}: no ${what} within ${timeoutMs} ms; last lines: ${proc.lines.slice(-3).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A regular configuration line listing exactly `members`. */
export function regularWith(members: number[]): (line: string) => boolean {
  const wanted = `members ${[...members].sort((a, b) => a - b).join(',')} `;
  return (line) => line.startsWith('configuration regular') && line.includes(wanted);
}

export async function stopGracefully(proc: NodeProcess, timeoutMs: number): Promise<number | null> {
  if (proc.child.exitCode !== null) return proc.child.exitCode;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return code;
}

export function lastJson(proc: NodeProcess): Record<string, unknown> {
  const last = [...proc.lines].reverse().find((l) => l.startsWith('{'));
  if (last === undefined) throw new Error(`node ${proc.id} printed no JSON line; stderr: ${proc.stderr.join('')}`);
  return JSON.parse(last) as Record<string, unknown>;
}
