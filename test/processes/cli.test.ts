/**
 * The `totem-evs` command's own contract: --version, usage errors on stderr with exit 2 and a
 * suggestion, and `keygen`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readKeyFile } from '../../workers/net/key-file.js';
import { cliPath } from './node-cluster.js';

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'totem-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('totem-evs', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(run('--version')).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('without a command prints the usage on stderr and exits 2; --help prints it on stdout', () => {
    const bare = run();
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toContain('Usage: totem-evs <command>');
    const help = run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('keygen FILE');
  });

  it('a mistyped command exits 2 with a suggestion on stderr', () => {
    const r = run('chek', 'traces');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("unknown command 'chek' (did you mean 'check'?)");
  });

  it('keygen writes a key only its owner can read, that every node accepts, and never overwrites one', () => {
    const file = join(dir, 'cluster.key');
    const made = run('keygen', file);
    expect(made.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readKeyFile(file);
    expect(key).toHaveLength(32);

    const again = run('keygen', file);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(file);
    expect(readKeyFile(file)).toEqual(key);

    expect(run('keygen').code).toBe(2);
    expect(run('keygen', '--force', file).code).toBe(2);
  });
});
