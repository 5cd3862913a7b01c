/**
 * One totem-evs node of the locks bench (forked with an IPC channel by perf/locks/bench-locks.ts):
 *   node lock-node.js <nodeId> <port1,port2,...> <tokenTimeoutMs>
 * Starts the node on 127.0.0.1, opens the lock manager, says {type:'ready'} once the lock manager
 * has every node and grants; on {type:'run', spec} runs the lock workload and, alongside it, the
 * ring's own agreed-delivery probe: a small agreed message every probeEveryMs to a group of its
 * own, timed from send() to its delivery here (the latency the ring gives any agreed multicast
 * at this load, which an uncontended acquire, one agreed multicast, is compared with). Replies
 * {type:'result'}; on {type:'stop'} closes the node and exits.
 */
import { createNode, openLockManager } from '../../api/index.js';
import type { Group } from '../../api/group.js';
import { createLatencyHistogram, encodeHistogram, recordLatencyUs } from '../../api/commands/latency.js';
import { runLockWorkload, type LockWorkloadSpec } from './workload.js';

const probeEveryMs = 5;

function send(m: Record<string, unknown>): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const [idText, portsText, tokenText] = process.argv.slice(2);
  const id = Number(idText);
  const ports = (portsText ?? '').split(',').map(Number);
  const members = ports.map((port, i) => ({ nodeId: i + 1, address: `127.0.0.1:${port}` }));
  const node = await createNode({ nodeId: id, bind: `127.0.0.1:${ports[id - 1]}`, members, tokenTimeoutMs: Number(tokenText), logLevel: 'error' });
  node.on('error', (e) => send({ type: 'error', message: `${e.code}: ${e.message}` }));
  const locks = await openLockManager(node);
  const probe = (await node.join('bench-probe')) as Group<Uint8Array>;
  await locks.waitForMembers(ports.length);
  while (locks.members.length < ports.length || !locks.primary) await new Promise((r) => setTimeout(r, 10));
  const ls = locks.lockspace('bench');
  send({ type: 'ready' });

  process.on('message', (m: { type: string; spec?: LockWorkloadSpec }) => {
    if (m.type === 'stop') {
      void locks
        .close()
        .then(() => node.close({ drainTimeoutMs: 1000 }))
        .catch(() => undefined)
        .finally(() => process.exit(0));
      return;
    }
    if (m.type !== 'run' || m.spec === undefined) return;
    const spec = m.spec;
    const probeUs = createLatencyHistogram();
    const sentAt = new Map<number, number>();
    let probeNext = 0;
    probe.on('message', (d) => {
      if (d.sender !== id || d.payload.length < 4) return;
      const k = new DataView(d.payload.buffer, d.payload.byteOffset, 4).getUint32(0);
      const t0 = sentAt.get(k);
      sentAt.delete(k);
      if (t0 !== undefined) recordLatencyUs(probeUs, (performance.now() - t0) * 1000);
    });
    const timer = setInterval(() => {
      const now = Date.now();
      if (now < spec.measureFromMs || now > spec.measureToMs) return;
      const k = probeNext++;
      const payload = new Uint8Array(40);
      new DataView(payload.buffer).setUint32(0, k);
      sentAt.set(k, performance.now());
      probe.send(payload, { order: 'agreed' }).catch(() => sentAt.delete(k));
    }, probeEveryMs);
    const cpuBefore = process.cpuUsage();
    void runLockWorkload(spec, `n${id}`, async (resource, shared) => {
      const h = await ls.lock(resource, shared ? 'PR' : 'EX');
      return () => h.unlock();
    }).then((result) => {
      clearInterval(timer);
      const cpu = process.cpuUsage(cpuBefore);
      send({ type: 'result', ...result, probeUs: encodeHistogram(probeUs), cpuMs: (cpu.user + cpu.system) / 1000, counters: { ...locks.counters } });
    });
  });
}

main().catch((e: unknown) => {
  send({ type: 'error', message: String(e) });
  process.exit(1);
});
