/**
 * Engine alone: how many application messages per second a 3-node ring delivers when the three
 * TotemNodes run in one thread over an in-memory network (no sockets, no threads, no copies
 * beyond the engine's own). Every node keeps its send queue topped up with fixed-size messages.
 * A message counts once when node 1 delivers it (every node delivers the same sequence).
 *
 *   npm run bench:engine -- [--nodes 3] [--size 64] [--seconds 5] [--runs 5] [--order agreed|safe]
 *                           [--window 50] [--max-messages 17] [--json]
 */
import { parseArgs } from 'node:util';
import { TotemNode } from '../engine/node.js';
import type { Order, NodeId } from '../engine/types.js';
import { median } from './micro/measure.js';

interface RunResult {
  msgsPerSec: number;
  framesPerSec: number;
  rotationsPerSec: number;
}

function runOnce(nodes: number, sizeBytes: number, seconds: number, order: Order, windowSize: number, maxMessages: number): RunResult {
  const ids: NodeId[] = Array.from({ length: nodes }, (_, i) => i + 1);
  // FIFO of packets: parallel arrays used as a ring would be; a plain array with a read index is enough here.
  const queueTo: NodeId[] = [];
  const queueBytes: Uint8Array[] = [];
  let read = 0;
  let nowMs = 0;
  let delivered = 0;
  const engines = new Map<NodeId, TotemNode>();
  for (const id of ids) {
    const node = new TotemNode(
      { nodeId: id, windowSize, maxMessages, sendQueueBytesMax: 4 * 1024 * 1024 },
      {
        send: (to, bytes, selfCopy) => {
          if (to === 0) {
            for (const t of ids) {
              if (t === id && !selfCopy) continue;
              queueTo.push(t);
              queueBytes.push(bytes);
            }
          } else {
            queueTo.push(to);
            queueBytes.push(bytes);
          }
        },
        storeRingSeq: () => {},
        deliver: () => {
          if (id === 1) delivered += 1;
        },
        configuration: () => {},
      },
    );
    engines.set(id, node);
  }
  const pump = (untilIdle: boolean): void => {
    while (read < queueTo.length) {
      const to = queueTo[read]!;
      const bytes = queueBytes[read]!;
      read += 1;
      engines.get(to)!.onPacket(nowMs, bytes);
      if (read > 65536) {
        queueTo.splice(0, read);
        queueBytes.splice(0, read);
        read = 0;
      }
      if (!untilIdle) return;
    }
  };
  const runTimers = (): void => {
    for (const node of engines.values()) if (node.nextTimerMs() <= nowMs) node.onTimer(nowMs);
  };
  for (const node of engines.values()) node.start(nowMs);
  // Form the ring on virtual time.
  for (let i = 0; i < 20_000 && engines.get(1)!.members.length < nodes; i++) {
    pump(true);
    nowMs += 1;
    runTimers();
  }
  if (engines.get(1)!.members.length !== nodes) throw new Error('ring did not form');
  for (const node of engines.values()) node.joinGroup('bench');
  const payload = new Uint8Array(sizeBytes).fill(7);
  const refill = (): void => {
    for (const node of engines.values()) {
      while (node.submit('bench', payload, order) !== false) {
        // Top up to the send-queue bound.
      }
    }
  };
  // Wall-clock measurement: virtual time only advances when the ring idles (it never does here).
  const startRotations = engines.get(1)!.stats().tokenRotations;
  const startFrames = engines.get(1)!.stats().framesDelivered;
  delivered = 0;
  const t0 = process.hrtime.bigint();
  const budgetNs = BigInt(Math.round(seconds * 1e9));
  let elapsedNs = 0n;
  let steps = 0;
  while (elapsedNs < budgetNs) {
    refill();
    for (let i = 0; i < 2000 && read < queueTo.length; i++) pump(false);
    if (read >= queueTo.length) {
      nowMs += 1;
      runTimers();
    }
    if (++steps % 16 === 0) elapsedNs = process.hrtime.bigint() - t0;
  }
  const secondsTaken = Number(process.hrtime.bigint() - t0) / 1e9;
  const s = engines.get(1)!.stats();
  return {
    msgsPerSec: delivered / secondsTaken,
    framesPerSec: (s.framesDelivered - startFrames) / secondsTaken,
    rotationsPerSec: (s.tokenRotations - startRotations) / secondsTaken,
  };
}


function main(): void {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '3' },
      size: { type: 'string', default: '64' },
      seconds: { type: 'string', default: '3' },
      runs: { type: 'string', default: '5' },
      order: { type: 'string', default: 'agreed' },
      window: { type: 'string', default: '50' },
      'max-messages': { type: 'string', default: '17' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench:engine -- [--nodes 3] [--size 64] [--seconds 3] [--runs 5] [--order agreed|safe] [--window 50] [--max-messages 17] [--json]\n');
    return;
  }
  const nodes = Number(values.nodes);
  const size = Number(values.size);
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  const order = values.order as Order;
  if (order !== 'agreed' && order !== 'safe') throw new Error('--order is agreed or safe');
  const results: RunResult[] = [];
  for (let r = 0; r < runs; r++) results.push(runOnce(nodes, size, seconds, order, Number(values.window), Number(values['max-messages'])));
  const msgs = results.map((r) => r.msgsPerSec);
  const summary = {
    nodes,
    sizeBytes: size,
    order,
    runs,
    secondsPerRun: seconds,
    node: process.version,
    msgsPerSecMedian: Math.round(median(msgs)),
    msgsPerSecMin: Math.round(Math.min(...msgs)),
    msgsPerSecMax: Math.round(Math.max(...msgs)),
    msgsPerSecRuns: msgs.map(Math.round),
    framesPerSecMedian: Math.round(median(results.map((r) => r.framesPerSec))),
    rotationsPerSecMedian: Math.round(median(results.map((r) => r.rotationsPerSec))),
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    process.stdout.write(
      `engine alone, ${nodes}-node in-memory ring, ${size} B ${order}: ` +
        `${summary.msgsPerSecMedian.toLocaleString('en-US')} msgs/s median of ${runs} ` +
        `(min ${summary.msgsPerSecMin.toLocaleString('en-US')}, max ${summary.msgsPerSecMax.toLocaleString('en-US')}); ` +
        `${summary.framesPerSecMedian.toLocaleString('en-US')} frames/s, ${summary.rotationsPerSecMedian.toLocaleString('en-US')} rotations/s\n`,
    );
  }
}

main();
