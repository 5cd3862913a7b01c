/**
 * A lock manager process for the multi-process lock tests (run from dist/):
 *   node lock-process.js <id> <tokenTimeoutMs> <port1,port2,port3> holder|waiter|idle
 * Opens the lock manager on a 3-node loopback cluster; the holder takes `r` in EX, the waiter
 * requests it once it sees the holder's grant. Prints one JSON line per step, with Date.now() in
 * `atMs` so that the parent compares times of processes on one machine.
 */
import { createNode, openLockManager } from '../../api/index.js';

async function main(): Promise<void> {
  const [idText, tokenText, portsText, role] = process.argv.slice(2);
  const id = Number(idText);
  const ports = (portsText ?? '').split(',').map(Number);
  const members = ports.map((port, i) => ({ nodeId: i + 1, address: `127.0.0.1:${port}` }));
  const node = await createNode({ nodeId: id, bind: `127.0.0.1:${ports[id - 1]}`, members, tokenTimeoutMs: Number(tokenText), logLevel: 'error' });
  node.on('error', (e) => {
    process.stdout.write(`${JSON.stringify({ step: 'error', code: e.code })}\n`);
  });
  node.on('configuration', (c) => {
    process.stdout.write(`${JSON.stringify({ step: 'configuration', kind: c.kind, members: c.members, atMs: Date.now() })}\n`);
  });
  const locks = await openLockManager(node, { votes: [1, 2, 3] });
  // After every regular configuration, the table as this node sees it (for a failing run's log).
  node.on('configuration', (c) => {
    if (c.kind !== 'regular') return;
    setTimeout(() => {
      const state = { step: 'state', primary: locks.primary, members: locks.members, counters: locks.counters, dump: locks.dump('kill') };
      process.stdout.write(`${JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    }, 300);
  });
  await locks.waitForMembers(3);
  while (locks.members.length < 3 || !locks.primary) await new Promise((r) => setTimeout(r, 20));
  const ls = locks.lockspace('kill');
  if (role === 'holder') {
    const h = await ls.lock('r', 'EX');
    process.stdout.write(`${JSON.stringify({ step: 'held', fence: h.fencingToken.toString(), atMs: Date.now() })}\n`);
  } else if (role === 'waiter') {
    const queued = setInterval(() => {
      const waiters = locks.dump('kill')?.resources.find((r) => r.name === 'r')?.waiters ?? [];
      if (waiters.some((w) => w.owner.startsWith(`${id}:`))) {
        process.stdout.write(`${JSON.stringify({ step: 'queued', atMs: Date.now() })}\n`);
        clearInterval(queued);
      }
    }, 5);
    // Wait for the holder's grant before asking (so that this request queues behind it).
    while ((locks.dump('kill')?.resources.find((r) => r.name === 'r')?.holders.length ?? 0) === 0) await new Promise((r) => setTimeout(r, 10));
    const h = await ls.lock('r', 'EX');
    process.stdout.write(`${JSON.stringify({ step: 'granted', fence: h.fencingToken.toString(), atMs: Date.now() })}\n`);
  }
  process.on('SIGTERM', () => {
    void node.close({ drainTimeoutMs: 0 }).finally(() => process.exit(0));
  });
  setInterval(() => undefined, 1 << 30);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
