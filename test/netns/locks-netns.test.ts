/**
 * The lock manager across a partition of real processes in network namespaces (perf/netns.ts:
 * 198.18.0.0/24 on one bridge, no route out): three nodes; node 3 holds a lock, node 1 waits for
 * it; node 3's link is cut. The minority (node 3) is told at once that its lock is suspect, is
 * not primary, refuses fail-fast requests and never grants a waiting one; the majority purges node
 * 3's lock at its cut and grants it to node 1 with a higher fencing token. At the heal the primary
 * side's table wins: node 3's suspect lock is revoked with notice (once) and its waiting request
 * ends revoked. The traces pass the EVS and lock checkers. Root only: skipped elsewhere, saying why.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkTrace } from '../../api/check/evs-checker.js';
import { checkLocks } from '../../api/check/locks-checker.js';
import { readTraceDir } from '../../api/check/trace-reader.js';
import { createNetns, netnsUnavailableReason, type NetnsCluster } from '../../perf/netns.js';
import { waitForLine, watchChild, type NodeProcess } from '../processes/node-cluster.js';
import { useProcessCleanup } from '../processes/process-cleanup.js';

const unavailable = netnsUnavailableReason({ nft: false });
if (unavailable !== null) process.stderr.write(`lock manager network-namespace test skipped: ${unavailable}\n`);

const script = fileURLToPath(new URL('../../dist/test/processes/lock-command-process.js', import.meta.url));
const port = 5405;
/** The node processes in start order (their output lines are read by index). */
const procs: NodeProcess[] = [];
let net: NetnsCluster | null = null;
// Registered before the cleanup, so it runs after it (vitest runs afterAll hooks in reverse):
// the processes are stopped before the namespaces they run in are deleted.
afterAll(() => net?.teardown());
const cleanup = useProcessCleanup();

function start(cluster: NetnsCluster, id: number, traceDir: string): NodeProcess {
  const addresses = [1, 2, 3].map((i) => `${cluster.address(i)}:${port}`).join(',');
  const argv = [...cluster.exec(id), process.execPath, script, String(id), addresses, traceDir, '300'];
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const proc = cleanup.track(watchChild(id, child));
  procs.push(proc);
  return proc;
}

function command(p: NodeProcess, c: Record<string, unknown>): void {
  p.child.stdin?.write(`${JSON.stringify(c)}\n`);
}

const json = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;
const has = (fields: Record<string, unknown>) => (line: string): boolean => {
  const o = json(line);
  return Object.entries(fields).every(([k, v]) => o[k] === v);
};

describe.skipIf(unavailable !== null)('lock manager in network namespaces', () => {
  it('a partitioned minority gets suspect and revoke notices and never grants; the majority regrants', { timeout: 180_000 }, async () => {
    net = createNetns({ prefix: `tevl${process.pid}-`, nodes: 3 });
    const traceDir = cleanup.tempDir('totem-locks-netns-');
    const [p1, p2, p3] = [1, 2, 3].map((id) => start(net as NetnsCluster, id, traceDir)) as [NodeProcess, NodeProcess, NodeProcess];
    for (const p of [p1, p2, p3]) await waitForLine(p, has({ ev: 'ready' }), 60_000, 'a primary lock manager');

    command(p3, { cmd: 'lock', tag: 'm3', res: 'm', mode: 'EX' });
    const held = json(await waitForLine(p3, has({ ev: 'granted', tag: 'm3' }), 20_000, 'node 3 holds m'));
    command(p1, { cmd: 'lock', tag: 'm1', res: 'm', mode: 'EX' });
    // Node 1's request is queued behind node 3's lock before the cut (its blocking notice reaches node 3's table).
    await new Promise((r) => setTimeout(r, 500));
    expect(p1.lines.some(has({ ev: 'granted', tag: 'm1' }))).toBe(false);

    const mark = procs.map((p) => p.lines.length);
    net.setLinkUp(3, false);
    const cutAtMs = Date.now();
    // Minority: suspect notice, not primary.
    await waitForLine(p3, has({ ev: 'lost', tag: 'm3', reason: 'transitional' }), 30_000, 'node 3 told its lock is suspect', mark[2]);
    await waitForLine(p3, has({ ev: 'primary', primary: false }), 30_000, 'node 3 not primary', mark[2]);
    // Majority: node 3's lock purged at the cut, m granted to node 1 with a higher token.
    const regrant = json(await waitForLine(p1, has({ ev: 'granted', tag: 'm1' }), 30_000, 'the majority regrants m', mark[0]));
    expect(BigInt(String(regrant['fence'])) > BigInt(String(held['fence']))).toBe(true);
    expect(regrant['primary']).toBe(true);
    process.stdout.write(`locks netns: majority regranted ${Number(regrant['atMs']) - cutAtMs} ms after the cut (token timeout 300 ms)\n`);

    // The minority refuses fail-fast requests and never grants a waiting one while cut off.
    command(p3, { cmd: 'lock', tag: 'fast3', res: 'free', mode: 'EX', failIfNotPrimary: true });
    await waitForLine(p3, has({ ev: 'rejected', tag: 'fast3', code: 'TOTEM_ERR_LOCK_NOT_PRIMARY' }), 10_000, 'a fail-fast refusal', mark[2]);
    command(p3, { cmd: 'lock', tag: 'wait3', res: 'other', mode: 'EX' });
    await new Promise((r) => setTimeout(r, 3000));
    expect(p3.lines.slice(mark[2]).filter(has({ ev: 'granted' }))).toEqual([]);

    // Heal: the primary side's table wins; node 3's suspect lock is revoked once, its request ends.
    const healMark = procs.map((p) => p.lines.length);
    net.setLinkUp(3, true);
    await waitForLine(p3, has({ ev: 'lost', tag: 'm3', reason: 'revoked' }), 60_000, 'node 3 told its lock is revoked', healMark[2]);
    await waitForLine(p3, has({ ev: 'rejected', tag: 'wait3', code: 'TOTEM_ERR_LOCK_REVOKED' }), 30_000, 'node 3\'s waiting request revoked', healMark[2]);
    await waitForLine(p3, has({ ev: 'primary', primary: true }), 30_000, 'node 3 primary again', healMark[2]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(p3.lines.filter(has({ ev: 'lost', tag: 'm3', reason: 'revoked' }))).toHaveLength(1);
    expect(p3.lines.slice(mark[2]).filter(has({ ev: 'granted' }))).toEqual([]);
    // Node 1 still holds m: no two holders after the merge.
    command(p3, { cmd: 'lock', tag: 'try3', res: 'm', mode: 'EX', failIfNotPrimary: true });
    await new Promise((r) => setTimeout(r, 500));
    expect(p3.lines.some(has({ ev: 'granted', tag: 'try3' }))).toBe(false);
    command(p1, { cmd: 'unlock', tag: 'm1' });
    await waitForLine(p3, has({ ev: 'granted', tag: 'try3' }), 20_000, 'node 3 gets m once node 1 releases it', healMark[2]);

    for (const p of [p1, p2, p3]) {
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    }
    const trace = await readTraceDir(traceDir);
    const evs = checkTrace(trace, {});
    expect(evs.violations.map((v) => `${v.property}: ${v.message}`)).toEqual([]);
    const lockCheck = checkLocks(trace.files);
    expect(lockCheck.violations).toEqual([]);
    expect(lockCheck.lockLines).toBeGreaterThan(0);
  });
});
