/**
 * The `totem-evs` command's own contract: --version, usage errors on stderr with exit 2 and a
 * suggestion, and `keygen`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serveMetrics } from '../../api/metrics.js';
import { readKeyFile } from '../../workers/net/key-file.js';
import { cliPath } from './node-cluster.js';

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI as a child that does not block this process's event loop (which may serve it). */
function runAsync(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
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

  it('status reads a node endpoint twice and prints its ring, members, state and rates', async () => {
    let delivered = 1000;
    const endpoint = await serveMetrics(
      {
        nodeId: 4,
        stats: async () => {
          delivered += 500;
          return {
            engine: {
              tokenRotations: delivered, tokensReceived: 0, framesBroadcast: 0, framesDelivered: 0, retransmitsSent: 0,
              retransmitsRequested: 0, tokenRetransmits: 0,
              packetsDropped: { truncated: 0, malformed: 0, oversized: 0, version: 0, 'unknown-type': 0, 'foreign-ring': 0, duplicate: 2, state: 0,
        'ring-seq-bound': 0, 'not-member': 0, 'bad-set': 0, 'bad-commit-token': 0, 'bad-token': 0, 'not-predecessor': 0, 'conflicting-frame': 0 },
              gatherEntries: 1, commitEntries: 1, recoveryEntries: 1, configurationsInstalled: 1,
              state: 'operational', ringId: { rep: 2, seq: 12n }, members: [2, 4, 9],
            },
            net: { datagramsIn: 0, datagramsOut: 0, bytesIn: 0, bytesOut: 0, authFailures: 0, replays: 0, sendErrors: 0, receiveBufferBytes: 0 },
            messagesSubmitted: 0, messagesDelivered: delivered, rings: [],
          };
        },
      },
      { host: '127.0.0.1', port: 0 },
    );
    try {
      const r = await runAsync('status', `127.0.0.1:${endpoint.port}`, '--interval-ms', '200');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('node 4: operational');
      expect(r.stdout).toContain('ring 2:12, members 2,4,9');
      expect(r.stdout).toMatch(/delivered [0-9.]+ msgs\/s/);
      expect(r.stdout).toContain('dropped duplicate 2');
    } finally {
      await endpoint.close();
    }
    const down = await runAsync('status', `127.0.0.1:${endpoint.port}`);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot read');
    expect((await runAsync('status')).code).toBe(2);
  });
});
