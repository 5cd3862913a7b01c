/**
 * `totem-evs check` as an operator sees it: exit codes 0 / 1 / 2, what is printed where.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCheckCommand } from '../../api/check/check-command.js';
import { TraceBuilder } from './trace-builder.js';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[]): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runCheckCommand(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

function writeTrace(dir: string, trace: TraceBuilder): void {
  const input = trace.input();
  for (const [name, lines] of input.files) {
    fs.writeFileSync(path.join(dir, name), lines.map((line) => `${line}\n`).join(''));
  }
  if (input.harness.length > 0) {
    fs.writeFileSync(path.join(dir, 'harness.jsonl'), input.harness.map((l) => `${l}\n`).join(''));
  }
}

/** Lines in every file of `dir`, counted from the files themselves. */
function linesWritten(dir: string): number {
  return fs.readdirSync(dir).reduce((n, name) => n + fs.readFileSync(path.join(dir, name), 'utf8').split('\n').length - 1, 0);
}

describe('runCheckCommand', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'totem-evs-check-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 and says OK when every property holds', async () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1).deliver('1:100:1');
    p2?.deliver('1:100:1');
    writeTrace(dir, b);
    const result = await run([dir, '--settled']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('OK: all 19 properties hold');
    expect(result.stdout).toContain('2 processes, 1 messages sent, 2 deliveries');
    expect(result.stdout).toContain(`read 2 trace files, ${linesWritten(dir)} lines;`);
  });

  it('exits 2 with one line on a directory without trace files, empty or not', async () => {
    const empty = await run([dir]);
    expect(empty).toMatchObject({ code: 2, stdout: '' });
    expect(empty.stderr).toBe(`totem-evs check: no trace files (<node>.<incarnation>.jsonl) in ${dir}: it is empty\n`);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
    const other = await run([dir, '--settled']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('it holds 1 other entry (notes.txt)');
  });

  it('exits 1 and prints each violated property with witnesses', async () => {
    const b = new TraceBuilder();
    const [p1] = b.start([1, 2], '1:4');
    p1?.send(1).deliver('1:100:1');
    writeTrace(dir, b);
    expect((await run([dir])).code).toBe(0);
    const result = await run([dir, '--settled']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('P18 liveness-settled: 1 violation');
    expect(result.stdout).toContain('at 1.100.jsonl:4 2.100.jsonl');
    expect(result.stdout).toContain('FAILED: 1 of 19 properties violated (P18 liveness-settled)');
  });

  it('prints the whole result as JSON with --json', async () => {
    const b = new TraceBuilder();
    b.start([1], '1:4')[0]?.send(1);
    writeTrace(dir, b);
    const result = await run(['--json', dir]);
    expect(result.code).toBe(1);
    const parsed = JSON.parse(result.stdout) as {
      ok: boolean;
      violationCounts: Record<string, number>;
    };
    expect(parsed.ok).toBe(false);
    expect(parsed.violationCounts['self-delivery']).toBe(1);
    expect((await run(['--json', '--allow-inflight', dir])).code).toBe(0);
  });

  it('exits 2 with one error line on usage errors', async () => {
    for (const argv of [[], ['--bogus', dir], [dir, dir], [path.join(dir, 'missing')]]) {
      const result = await run(argv);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/^totem-evs check: /);
    }
  });

  it('prints help naming every flag and exits 0', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    for (const flag of ['--settled', '--allow-inflight', '--json', 'Exit status']) {
      expect(result.stdout).toContain(flag);
    }
  });
});
