/**
 * The same 3-process ring on loopback as `totem-evs bench`, but each process runs its whole node
 * (engine + UDP socket) on its main thread, with no workers and no rings: the baseline that says
 * what the threaded runtime costs or gains. Node 1 sends --size-byte agreed messages as fast as
 * the engine's send queue takes them; every node counts application deliveries.
 *
 *   node dist/perf/single-thread-ring.js [--runs 3] [--seconds 5] [--size 1024] [--json]
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { freeUdpPorts } from './free-ports.js';
import { TotemNode } from '../engine/node.js';
import type { NodeId } from '../engine/types.js';
import { median } from './micro/measure.js';

const self = fileURLToPath(import.meta.url);

interface ChildResult {
  id: number;
  delivered: number;
  seconds: number;
  rotations: number;
}

async function child(id: NodeId, ports: number[], seconds: number, sizeBytes: number): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(ports[id - 1], '127.0.0.1', resolve));
  const ids = ports.map((_, i) => i + 1);
  const loopback: Uint8Array[] = [];
  let delivered = 0;
  let timer: NodeJS.Timeout | null = null;
  const node: TotemNode = new TotemNode(
    { nodeId: id, incarnation: Date.now(), ringSeqInitial: BigInt(Date.now()) * 4n },
    {
      send: (to, bytes, selfCopy) => {
        for (const t of to === 0 ? ids : [to]) {
          // Own copies loop back through a queue, never recursively (engine driving contract).
          if (t !== id) socket.send(bytes, ports[t - 1], '127.0.0.1');
          else if (to !== 0 || selfCopy) loopback.push(bytes);
        }
      },
      storeRingSeq: () => {},
      deliver: (d) => {
        if (d.local) delivered += 1;
      },
      configuration: () => {},
    },
  );
  const drain = (): void => {
    while (loopback.length > 0) node.onPacket(performance.now(), loopback.shift() as Uint8Array);
    rearm();
  };
  const rearm = (): void => {
    if (timer !== null) clearTimeout(timer);
    const dueMs = node.nextTimerMs() - performance.now();
    timer = setTimeout(() => {
      timer = null;
      node.onTimer(performance.now());
      drain();
    }, Math.max(0, Math.min(dueMs, 1000)));
  };
  socket.on('message', (msg) => {
    node.onPacket(performance.now(), msg);
    drain();
  });
  node.start(performance.now());
  drain();
  while (node.members.length < ids.length) await new Promise((r) => setTimeout(r, 10));
  node.joinGroup('bench');
  drain();
  await new Promise((r) => setTimeout(r, 500));
  const payload = new Uint8Array(sizeBytes).fill(id);
  let sending = id === 1;
  const pump = (): void => {
    if (!sending) return;
    while (node.submit('bench', payload, 'agreed') !== false) {
      // Keep the send queue full.
    }
    drain();
    setImmediate(pump);
  };
  pump();
  const startDelivered = delivered;
  const startRotations = node.stats().tokenRotations;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const result: ChildResult = {
    id,
    delivered: delivered - startDelivered,
    seconds: (performance.now() - t0) / 1000,
    rotations: node.stats().tokenRotations - startRotations,
  };
  sending = false;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // Let the others finish their window before the ring loses this member.
  await new Promise((r) => setTimeout(r, 1500));
  if (timer !== null) clearTimeout(timer);
  socket.close();
}

async function runOnce(seconds: number, sizeBytes: number): Promise<ChildResult[]> {
  const ports = await freeUdpPorts(3);
  const children = [1, 2, 3].map((id) => {
    const c = spawn(process.execPath, [self, '--child', '--id', String(id), '--ports', ports.join(','), '--seconds', String(seconds), '--size', String(sizeBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    return new Promise<ChildResult>((resolve, reject) => {
      const guard = setTimeout(() => c.kill('SIGKILL'), (seconds + 30) * 1000);
      c.once('exit', (code) => {
        clearTimeout(guard);
        const line = out.trim().split('\n').pop();
        if (code !== 0 || line === undefined || line === '') reject(new Error(`node ${id} exited ${code}`));
        else resolve(JSON.parse(line) as ChildResult);
      });
    });
  });
  return Promise.all(children);
}


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'boolean', default: false },
      id: { type: 'string' },
      ports: { type: 'string' },
      seconds: { type: 'string', default: '5' },
      size: { type: 'string', default: '1024' },
      runs: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const sizeBytes = Number(values.size);
  if (values.child) {
    await child(Number(values.id), String(values.ports).split(',').map(Number), seconds, sizeBytes);
    return;
  }
  const msgs: number[] = [];
  const rotations: number[] = [];
  for (let r = 0; r < Number(values.runs); r++) {
    const results = await runOnce(seconds, sizeBytes);
    msgs.push(Math.min(...results.map((x) => x.delivered / x.seconds)));
    const rep = results.find((x) => x.id === 1) as ChildResult;
    rotations.push(rep.rotations / rep.seconds);
  }
  const summary = {
    nodes: 3,
    sizeBytes,
    runs: msgs.length,
    msgsPerSecMedian: Math.round(median(msgs)),
    msgsPerSecRuns: msgs.map(Math.round),
    rotationsPerSecMedian: Math.round(median(rotations)),
    rotationsPerSecRuns: rotations.map(Math.round),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `single-thread nodes, 3 processes on 127.0.0.1, one sender of ${sizeBytes} B agreed: ` +
        `${summary.msgsPerSecMedian.toLocaleString('en-US')} msgs/s at the slowest node, median of ${summary.runs} ` +
        `(${summary.msgsPerSecRuns.join(', ')}); ${summary.rotationsPerSecMedian.toLocaleString('en-US')} token rotations/s ` +
        `(${summary.rotationsPerSecRuns.join(', ')})\n`,
    );
  }
}

await main();
