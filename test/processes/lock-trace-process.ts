/**
 * A lock manager process with a trace directory, for the real-trace lock test (run from dist/):
 *   node lock-trace-process.js <id> <port1,port2,port3> <traceDir> <cycles> [holder]
 * Opens the lock manager on a 3-node loopback cluster, meets the others at a barrier, runs
 * `cycles` contended lock cycles (shared and exclusive, a conversion, a try-lock), meets them at a
 * second barrier and prints {"step":"done"}. With `holder` it then takes `held` in EX and prints
 * {"step":"held"} (the parent SIGKILLs it); the others then request `held` and print
 * {"step":"granted"} once the survivors grant it. SIGTERM closes the node and exits 0.
 */
import { createNode, openLockManager } from '../../api/index.js';

function print(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

async function main(): Promise<void> {
  const [idText, portsText, traceDir, cyclesText, role] = process.argv.slice(2);
  const id = Number(idText);
  const cycles = Number(cyclesText);
  const ports = (portsText ?? '').split(',').map(Number);
  const members = ports.map((port, i) => ({ nodeId: i + 1, address: `127.0.0.1:${port}` }));
  const node = await createNode({ nodeId: id, bind: `127.0.0.1:${ports[id - 1]}`, members, trace: traceDir, tokenTimeoutMs: 300, logLevel: 'error' });
  node.on('error', (e) => print({ step: 'error', code: e.code }));
  process.on('SIGTERM', () => {
    void node.close({ drainTimeoutMs: 1000 }).catch(() => undefined).finally(() => process.exit(0));
  });
  const locks = await openLockManager(node);
  await locks.waitForMembers(3);
  while (locks.members.length < 3 || !locks.primary) await new Promise((r) => setTimeout(r, 20));
  const ls = locks.lockspace('trace');
  await ls.barrier('start');
  let wouldBlock = 0;
  for (let i = 0; i < cycles; i++) {
    const res = `r${i % 3}`;
    const h = await ls.lock(res, i % 4 === id ? 'EX' : 'PR');
    if (h.mode === 'PR' && i % 5 === 0) await h.convert('NL');
    try {
      const t = await ls.lock(res, 'EX', { noQueue: true });
      await t.unlock();
    } catch (e) {
      if ((e as { code?: string }).code !== 'TOTEM_ERR_LOCK_WOULD_BLOCK') throw e;
      wouldBlock++;
    }
    await h.unlock();
  }
  await ls.barrier('done');
  print({ step: 'done', wouldBlock, latencies: locks.latencies(), counters: locks.counters });
  if (role === 'holder') {
    const h = await ls.lock('held', 'EX');
    print({ step: 'held', fence: h.fencingToken });
  } else {
    while ((locks.dump('trace')?.resources.find((r) => r.name === 'held')?.holders.length ?? 0) === 0) await new Promise((r) => setTimeout(r, 10));
    const h = await ls.lock('held', 'PR');
    print({ step: 'granted', fence: h.fencingToken, members: locks.members });
  }
  setInterval(() => undefined, 1 << 30);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
