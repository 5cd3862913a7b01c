/**
 * The package as a new user meets it: `npm pack`, installed into a fresh project, then
 * everything from the README's first steps through the installed package only: both entry points
 * (typed with strict NodeNext TypeScript, and run), `totem-evs keygen`, three keyed nodes on
 * loopback, waitForMembers, a send delivered everywhere, the metrics endpoint, `totem-evs status`,
 * and a clean close.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeUdpPorts } from '../../perf/free-ports.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'totem-evs-scratch-'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(command: string, args: string[], timeoutMs = 120_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd: scratch, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  execFileSync(npm, ['pack', '--silent', '--pack-destination', scratch], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack wrote no tarball');
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: { 'totem-evs': `file:./${tarball}` } }));
  const install = run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], 300_000);
  if (install.code !== 0) throw new Error(`npm install of the packed tarball failed: ${install.stderr}`);
}, 400_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the packed package in a fresh project', () => {
  it('typechecks both entry points under strict NodeNext', () => {
    writeFileSync(
      join(scratch, 'typed.ts'),
      `import { createNode, TotemError, generateKeyFile, type EvsNode, type NodeOptions } from 'totem-evs';
import { TotemNode, decodePacket, type EngineConfig } from 'totem-evs/engine';
const options: NodeOptions = { nodeId: 1, bind: '127.0.0.1:5405', members: [{ nodeId: 1, address: '127.0.0.1:5405' }] };
export const used: [typeof createNode, typeof TotemError, typeof generateKeyFile, typeof TotemNode, typeof decodePacket, NodeOptions] = [createNode, TotemError, generateKeyFile, TotemNode, decodePacket, options];
export type Both = [EvsNode, EngineConfig];
`,
    );
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
          types: ['node'], typeRoots: [join(root, 'node_modules/@types')],
        },
        files: ['typed.ts'],
      }),
    );
    const tsc = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
  });

  it('makes a key, runs three keyed nodes, sends, serves metrics, reports status and closes', async () => {
    const bin = join(scratch, 'node_modules/.bin/totem-evs');
    const keygen = run(bin, ['keygen', 'cluster.key']);
    expect(keygen.stderr).toBe('');
    expect(keygen.code).toBe(0);

    const ports = await freeUdpPorts(3);
    writeFileSync(
      join(scratch, 'cluster.mjs'),
      `import { createNode } from 'totem-evs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
const ports = ${JSON.stringify(ports)};
const members = ports.map((port, i) => ({ nodeId: i + 1, address: '127.0.0.1:' + port }));
const nodes = await Promise.all(members.map((m, i) => createNode({
  nodeId: m.nodeId, bind: m.address, members, key: { file: 'cluster.key' }, stateDir: 'state', tokenTimeoutMs: 3000,
  ...(i === 0 ? { metrics: { host: '127.0.0.1', port: 0 } } : {}),
})));
await Promise.all(nodes.map((n) => n.waitForMembers(3, { signal: AbortSignal.timeout(30000) })));
const groups = await Promise.all(nodes.map((n) => n.join('demo')));
const received = groups.map((g) => new Promise((resolve) => g.once('message', (m) => resolve(new TextDecoder().decode(m.payload)))));
await groups[0].send(new TextEncoder().encode('hello'));
const texts = await Promise.all(received);
const at = nodes[0].metricsAddress;
const metrics = await (await fetch('http://127.0.0.1:' + at.port + '/metrics')).text();
const { stdout: status } = await promisify(execFile)('node_modules/.bin/totem-evs', ['status', '127.0.0.1:' + at.port, '--interval-ms', '200'], { encoding: 'utf8' });
await Promise.all(nodes.map((n) => n.close()));
console.log(JSON.stringify({
  texts,
  stateMetric: metrics.includes('totem_ring_state{state="operational",node_id="1"} 1'),
  status: status.split('\\n')[1],
  states: nodes.map((n) => n.state),
}));
`,
    );
    const r = run(process.execPath, ['cluster.mjs'], 90_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
    expect(result).toEqual({
      texts: ['hello', 'hello', 'hello'],
      stateMetric: true,
      status: expect.stringMatching(/^ring \d+:\d+, members 1,2,3;/) as unknown,
      states: ['closed', 'closed', 'closed'],
    });
  });
});
