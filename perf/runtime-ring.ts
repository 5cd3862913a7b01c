/**
 * Throughput of the threaded runtime: 3 nodes in one process on loopback (each with its net, token
 * and delivery workers), one sender submitting 1 KiB agreed messages as fast as backpressure
 * allows for --duration-ms. Reports, per run, the delivered messages/s at the slowest node and the
 * token rotations/s (engine stats of the representative), then the median of the runs. Not a test.
 *
 *   npx tsc -p tsconfig.json && node dist/perf/runtime-ring.js [--runs 3] [--duration-ms 5000]
 *     [--size 1024] [--key]
 *
 * On a shared 2-core host the 9 workers and the main thread compete for two cores: figures are a
 * floor for one node per machine, and vary from run to run (hence several runs and the median).
 */
import { randomBytes } from 'node:crypto';
import { freeUdpPorts } from './free-ports.js';
import { resolveNodeOptions } from '../api/options.js';
import type { ConfigurationChange } from '../engine/types.js';
import { sealedOverheadBytes } from '../workers/net/packet-auth.js';
import { startRuntime } from '../workers/runtime.js';
import type { NodeRuntime, RuntimeEvents } from '../workers/runtime-types.js';
import { median } from './micro/measure.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const runs = arg('runs', 3);
const durationMs = arg('duration-ms', 5000);
const sizeBytes = arg('size', 1024);
const withKey = process.argv.includes('--key');

interface Node {
  runtime: NodeRuntime;
  delivered: number;
  lastRegular: ConfigurationChange | null;
  onWritable: (() => void) | null;
  onConfiguration: (() => void) | null;
}

async function startCluster(): Promise<Node[]> {
  const ports = await freeUdpPorts(3);
  const key = withKey ? randomBytes(32) : undefined;
  return Promise.all(
    [1, 2, 3].map(async (nodeId) => {
      const node: Node = { runtime: null as unknown as NodeRuntime, delivered: 0, lastRegular: null, onWritable: null, onConfiguration: null };
      const events: RuntimeEvents = {
        deliver: () => {
          node.delivered++;
        },
        configuration: (c) => {
          if (c.kind === 'regular') node.lastRegular = c;
          node.onConfiguration?.();
        },
        groupEvent: () => undefined,
        writable: () => node.onWritable?.(),
        fatal: (err) => {
          console.error(`node ${nodeId} fatal:`, err);
          process.exitCode = 1;
        },
      };
      const options = resolveNodeOptions(
        {
          nodeId,
          bind: `127.0.0.1:${ports[nodeId - 1]}`,
          members: ports.map((p, i) => ({ nodeId: i + 1, address: `127.0.0.1:${p}` })),
          tokenTimeoutMs: 3000,
          logLevel: 'error',
          ...(key === undefined ? {} : { key }),
        },
        sealedOverheadBytes,
      );
      node.runtime = await startRuntime(options, events);
      return node;
    }),
  );
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface RunResult {
  slowestMsgsPerS: number;
  rotationsPerS: number;
}

async function runOnce(): Promise<RunResult> {
  const nodes = await startCluster();
  await until(() => nodes.every((n) => n.lastRegular?.members.length === 3), 20_000);
  for (const n of nodes) n.runtime.join('bench');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const sender = nodes[0] as Node;
  const payload = new Uint8Array(sizeBytes).fill(0x5a);
  const rep = nodes[0] as Node;
  const before = (await rep.runtime.stats()).engine.tokenRotations;
  const delivered0 = nodes.map((n) => n.delivered);
  const start = performance.now();
  let running = true;
  const pump = (): void => {
    if (!running) return;
    // Submit until the ring refuses; writable calls back here.
    for (let i = 0; i < 4096; i++) {
      if (!sender.runtime.submit('bench', payload, 'agreed')) return;
    }
    setImmediate(pump);
  };
  sender.onWritable = pump;
  pump();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  running = false;
  const elapsedS = (performance.now() - start) / 1000;
  const after = (await rep.runtime.stats()).engine.tokenRotations;
  const slowest = Math.min(...nodes.map((n, i) => n.delivered - (delivered0[i] as number)));
  await Promise.all(nodes.map((n) => n.runtime.close(2000)));
  return { slowestMsgsPerS: slowest / elapsedS, rotationsPerS: (after - before) / elapsedS };
}


const results: RunResult[] = [];
for (let r = 0; r < runs; r++) {
  const res = await runOnce();
  results.push(res);
  console.log(
    `run ${r + 1}: ${Math.round(res.slowestMsgsPerS)} msgs/s at the slowest node, ` +
      `${Math.round(res.rotationsPerS)} token rotations/s`,
  );
}
console.log(
  `median of ${runs} (${sizeBytes} B agreed, ${durationMs} ms, key ${withKey ? 'on' : 'off'}): ` +
    `${Math.round(median(results.map((x) => x.slowestMsgsPerS)))} msgs/s, ` +
    `${Math.round(median(results.map((x) => x.rotationsPerS)))} rotations/s`,
);
