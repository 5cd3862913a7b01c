import { ringSeqStartMax } from '../../engine/index.js';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TotemError } from '../../workers/errors.js';
import type { LogFields, Logger } from '../../workers/logger.js';
import { clockRingSeqFloor, openStateStore, ringSeqFileName } from '../../workers/state-store.js';

interface Logged {
  level: string;
  message: string;
  fields: LogFields | undefined;
}

function recordingLogger(): Logger & { lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) => lines.push({ level, message, fields });
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

const nowMs = 1_732_312_331_000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'totem-state-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function expectStateDirError(fn: () => unknown, fragment: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(TotemError.isTotemError(caught)).toBe(true);
  expect((caught as TotemError).code).toBe('TOTEM_ERR_STATE_DIR');
  expect((caught as TotemError).message).toContain(fragment);
}

describe('state store with a directory', () => {
  it('persists the ring seq across reopen', () => {
    const log = recordingLogger();
    const a = openStateStore(dir, 7, nowMs, log);
    expect(a.path).toBe(join(dir, 'ring-seq-7'));
    const seq = clockRingSeqFloor(nowMs) + 41n;
    a.storeRingSeq(seq);
    const b = openStateStore(dir, 7, nowMs + 10, log);
    expect(b.loadRingSeq()).toBe(seq);
    expect(readFileSync(join(dir, ringSeqFileName(7)), 'utf8')).toBe(`${seq}\n`);
  });

  it('keeps the stored seq even when the clock has stepped back since', () => {
    const a = openStateStore(dir, 1, nowMs, recordingLogger());
    a.storeRingSeq(clockRingSeqFloor(nowMs) + 9n);
    const b = openStateStore(dir, 1, nowMs - 3_600_000, recordingLogger());
    expect(b.loadRingSeq()).toBe(clockRingSeqFloor(nowMs) + 9n);
  });

  it('starts above the clock floor on a first start and records that floor at once', () => {
    const log = recordingLogger();
    const s = openStateStore(dir, 2, nowMs, log);
    expect(s.loadRingSeq()).toBe(clockRingSeqFloor(nowMs));
    expect(readFileSync(join(dir, 'ring-seq-2'), 'utf8')).toBe(`${clockRingSeqFloor(nowMs)}\n`);
    expect(log.lines.filter((l) => l.message.includes('clock-derived'))).toHaveLength(1);
  });

  it('ignores a lower or equal seq: the stored value never decreases', () => {
    const s = openStateStore(dir, 3, nowMs, recordingLogger());
    const high = clockRingSeqFloor(nowMs) + 100n;
    s.storeRingSeq(high);
    s.storeRingSeq(high - 4n);
    s.storeRingSeq(high);
    expect(s.loadRingSeq()).toBe(high);
    expect(openStateStore(dir, 3, nowMs, recordingLogger()).loadRingSeq()).toBe(high);
  });

  it('keeps one file per node id in a shared directory', () => {
    const a = openStateStore(dir, 1, nowMs, recordingLogger());
    const b = openStateStore(dir, 2, nowMs, recordingLogger());
    a.storeRingSeq(clockRingSeqFloor(nowMs) + 4n);
    b.storeRingSeq(clockRingSeqFloor(nowMs) + 8n);
    expect(openStateStore(dir, 1, nowMs, recordingLogger()).loadRingSeq()).toBe(clockRingSeqFloor(nowMs) + 4n);
    expect(openStateStore(dir, 2, nowMs, recordingLogger()).loadRingSeq()).toBe(clockRingSeqFloor(nowMs) + 8n);
  });

  it('leaves no temporary file behind after a store', () => {
    const s = openStateStore(dir, 4, nowMs, recordingLogger());
    s.storeRingSeq(clockRingSeqFloor(nowMs) + 1n);
    expect(existsSync(join(dir, 'ring-seq-4.tmp'))).toBe(false);
  });

  it('creates a missing directory, nested', () => {
    const nested = join(dir, 'a', 'b');
    const s = openStateStore(nested, 5, nowMs, recordingLogger());
    expect(existsSync(join(nested, 'ring-seq-5'))).toBe(true);
    expect(s.loadRingSeq()).toBe(clockRingSeqFloor(nowMs));
  });

  it.each([
    ['garbage', 'not a number\n'],
    ['an empty file', ''],
    ['a negative seq', '-4\n'],
    ['leading zeros', '007\n'],
    ['a seq beyond 2^62-1', `${1n << 62n}\n`],
    ['trailing text', '12 extra\n'],
  ])('throws TOTEM_ERR_STATE_DIR on a corrupt file: %s', (_name, content) => {
    writeFileSync(join(dir, 'ring-seq-6'), content);
    expectStateDirError(() => openStateStore(dir, 6, nowMs, recordingLogger()), 'is corrupt');
  });

  it('refuses at start a stored seq in the engine\'s headroom (a forged join\'s 2^62-5), naming the fix', () => {
    writeFileSync(join(dir, 'ring-seq-6'), `${(1n << 62n) - 5n}\n`);
    expectStateDirError(() => openStateStore(dir, 6, nowMs, recordingLogger()).loadRingSeq(), 'delete the ring-seq file');
    writeFileSync(join(dir, 'ring-seq-6'), `${ringSeqStartMax + 1n}\n`);
    expectStateDirError(() => openStateStore(dir, 6, nowMs, recordingLogger()).loadRingSeq(), 'headroom');
    writeFileSync(join(dir, 'ring-seq-6'), `${ringSeqStartMax}\n`);
    expect(openStateStore(dir, 6, nowMs, recordingLogger()).loadRingSeq()).toBe(ringSeqStartMax);
  });

  it('throws TOTEM_ERR_STATE_DIR when the state dir is a regular file', () => {
    const file = join(dir, 'plain');
    writeFileSync(file, 'x');
    expectStateDirError(() => openStateStore(file, 1, nowMs, recordingLogger()), 'state directory');
  });

  it('throws TOTEM_ERR_STATE_DIR when the directory cannot be created', () => {
    const file = join(dir, 'plain');
    writeFileSync(file, 'x');
    expectStateDirError(() => openStateStore(join(file, 'sub'), 1, nowMs, recordingLogger()), 'cannot create');
  });

  // Node's recursive mkdir retries forever under /proc: run it where a hang fails the test.
  it.skipIf(!existsSync('/proc/self'))('a directory that cannot exist under /proc is an error, not a hang', () => {
    const storeModule = new URL('../../dist/workers/state-store.js', import.meta.url).href;
    const source = `const { openStateStore } = await import(${JSON.stringify(storeModule)});
      const quiet = { error() {}, warn() {}, info() {}, debug() {} };
      try { openStateStore('/proc/totem-evs-state/x', 1, Date.now(), quiet); console.log('opened'); }
      catch (e) { console.log(e.code); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.stdout.trim()).toBe('TOTEM_ERR_STATE_DIR');
  });

  it.skipIf(process.getuid?.() === 0 || process.platform === 'win32')(
    'throws TOTEM_ERR_STATE_DIR when the directory is not writable (as root every directory is writable: skipped)',
    () => {
      const ro = join(dir, 'ro');
      openStateStore(ro, 1, nowMs, recordingLogger());
      chmodSync(ro, 0o500);
      try {
        expectStateDirError(() => openStateStore(ro, 2, nowMs, recordingLogger()), 'cannot persist');
        const existing = openStateStore(ro, 1, nowMs, recordingLogger());
        expectStateDirError(() => existing.storeRingSeq(existing.loadRingSeq() + 4n), 'cannot persist');
      } finally {
        chmodSync(ro, 0o700);
      }
    },
  );
});

describe('state store without a directory', () => {
  it('starts at the clock-derived floor and says so once', () => {
    const log = recordingLogger();
    const s = openStateStore(undefined, 1, nowMs, log);
    expect(s.path).toBeNull();
    expect(s.loadRingSeq()).toBe(clockRingSeqFloor(nowMs));
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]?.message).toContain('clock-derived');
  });

  it('keeps the highest seq stored, in memory', () => {
    const s = openStateStore(undefined, 1, nowMs, recordingLogger());
    const high = s.loadRingSeq() + 12n;
    s.storeRingSeq(high);
    s.storeRingSeq(high - 8n);
    expect(s.loadRingSeq()).toBe(high);
  });

  it('a later start begins above every seq an earlier incarnation could reach at one ring per ms', () => {
    const first = openStateStore(undefined, 1, nowMs, recordingLogger());
    const livedMs = 250;
    // One ring per millisecond of life, each raising the seq by 4, from the engine's start seq + 1.
    const highestUsed = first.loadRingSeq() + 1n + 4n * BigInt(livedMs - 1);
    const second = openStateStore(undefined, 1, nowMs + livedMs, recordingLogger());
    expect(second.loadRingSeq() + 1n).toBeGreaterThan(highestUsed);
  });
});

describe('clockRingSeqFloor', () => {
  it('grows with time', () => {
    expect(clockRingSeqFloor(nowMs + 1)).toBeGreaterThan(clockRingSeqFloor(nowMs));
    expect(clockRingSeqFloor(nowMs + 1000) - clockRingSeqFloor(nowMs)).toBe(4000n);
  });

  it('rejects a clock reading that is not a finite non-negative number', () => {
    expect(() => clockRingSeqFloor(Number.NaN)).toThrow(RangeError);
    expect(() => clockRingSeqFloor(-1)).toThrow(RangeError);
  });
});
