/**
 * `createNode()`: the entry of the library. It validates the options, starts the threaded
 * runtime (workers/runtime.ts) and resolves with the node once the runtime runs.
 *
 * The node itself lives in api/node/, one part per file:
 * - evs-node.ts: the EvsNode class (what the application calls), its runtime callbacks, close
 *   and the fatal path;
 * - lifecycle.ts: the node's states, close options, how runtime failures become TotemErrors;
 * - submit-queue.ts: the one FIFO every send, join and leave goes through, and backpressure;
 * - group-table.ts: the groups from join() until their leave is delivered;
 * - waiting.ts: deferred promises and abortable waits.
 */
import type { NodeRuntime, RuntimeEvents } from '../workers/runtime-types.js';
import { sealedOverheadBytes } from '../workers/net/packet-auth.js';
import { TotemError } from '../workers/errors.js';
import { createLogger } from '../workers/logger.js';
import type { Logger } from '../workers/logger.js';
import { loadKey } from '../workers/net/key-file.js';
import { abortedError } from './call-errors.js';
import { isIP } from 'node:net';
import { EvsNode, kAttach, kFailure, kRuntimeEvents, kServeMetrics } from './node/evs-node.js';
import { withSignal } from './node/waiting.js';
import { resolveNodeOptions } from './options.js';
import { resolvePrimaryRule } from './node/primary.js';
import type { PrimaryOption } from './node/primary.js';
import type { NodeOptions, ResolvedNodeOptions } from './options.js';

export { EvsNode } from './node/evs-node.js';
export type { NodeStats } from './node/evs-node.js';
export type { JoinOptions } from './node/group-table.js';
export { drainTimeoutMsDefault } from './node/lifecycle.js';
export type { CloseOptions, NodeState } from './node/lifecycle.js';
export { sendsWaitingMax } from './node/submit-queue.js';
export type { PrimaryOption } from './node/primary.js';

/** The runtime factory's shape (workers/runtime.ts `startRuntime`). */
export type StartRuntime = (
  options: ResolvedNodeOptions,
  events: RuntimeEvents,
  deps?: { logger?: Logger },
) => Promise<NodeRuntime>;

export interface CreateNodeOptions extends NodeOptions {
  /**
   * Aborts the start: createNode rejects with TOTEM_ERR_ABORTED once whatever it had started is
   * stopped (the socket released), so an immediate retry on the same port works.
   */
  signal?: AbortSignal;
  /**
   * Serve Prometheus metrics (`/metrics`) and a JSON status (`/status`) on this address, e.g.
   * `{ host: '127.0.0.1', port: 9464 }` (port 0: any free port; `node.metricsAddress` tells which).
   * Off by default. The endpoint is unauthenticated: bind it where only your scraper reaches.
   */
  metrics?: { host: string; port: number };
  /**
   * The primary-component rule behind `node.primary` and the lock manager: `{ votes: { [nodeId]:
   * n } }` (or `{ votes: [ids] }`, one each), or `(members) => boolean`. Default: one vote per
   * configured member; primary = more than half of all votes present (api/node/primary.ts).
   */
  primary?: PrimaryOption;
}

/**
 * Start a node. Every option is checked before any thread starts (TOTEM_ERR_INVALID_OPTION,
 * TOTEM_ERR_BAD_KEY, TOTEM_ERR_KEY_FILE); resolves once the runtime runs. Listen for 'error'.
 */
export function createNode(options: CreateNodeOptions): Promise<EvsNode> {
  return createNodeWith(startRealRuntime, options);
}

// Loaded on first use so that the API (and its tests) do not load the worker code up front.
async function startRealRuntime(
  options: ResolvedNodeOptions,
  events: RuntimeEvents,
  deps?: { logger?: Logger },
): Promise<NodeRuntime> {
  const specifier = new URL('../workers/runtime.js', import.meta.url).href;
  const runtime = (await import(specifier)) as { startRuntime: StartRuntime };
  return runtime.startRuntime(options, events, deps);
}

/** createNode() with another runtime factory (tests start nodes on an in-memory runtime). */
export async function createNodeWith(start: StartRuntime, options: CreateNodeOptions): Promise<EvsNode> {
  const { signal, metrics, primary, nodeOptions } = splitOptions(options);
  const resolved = resolveNodeOptions(nodeOptions, sealedOverheadBytes);
  const primaryRule = resolvePrimaryRule(primary, resolved.members.map((m) => m.nodeId));
  // Read the key file now: a missing key should fail here, not in a worker after start.
  if (resolved.key !== null) loadKey(resolved.key);
  if (signal?.aborted === true) throw abortedError('createNode', signal);

  const logger = createLogger({
    nodeId: resolved.nodeId,
    level: resolved.logLevel,
    ...(resolved.logger === null ? {} : { logger: resolved.logger }),
  });
  const node = new EvsNode(resolved, logger, primaryRule);
  const started = start(resolved, node[kRuntimeEvents], { logger });
  let runtime: NodeRuntime;
  try {
    runtime = await withSignal(started, signal, 'createNode');
  } catch (err) {
    // Aborted: the runtime may still come up; nobody holds the node, so stop it, and settle only
    // once its socket is released.
    await started.then((rt) => rt.close(0), () => undefined).catch(() => undefined);
    throw err;
  }
  node[kAttach](runtime);
  const failure = node[kFailure];
  if (failure !== null) throw failure;
  if (metrics !== undefined) {
    try {
      await node[kServeMetrics](metrics);
    } catch (err) {
      await node.close({ drainTimeoutMs: 0 }).catch(() => undefined);
      const e = err as NodeJS.ErrnoException;
      throw new TotemError('TOTEM_ERR_BIND', `cannot serve metrics on ${metrics.host}:${metrics.port}: ${e.message}`, {
        details: { option: 'metrics', host: metrics.host, port: metrics.port, code: e.code },
        cause: err,
      });
    }
  }
  return node;
}

function splitOptions(options: CreateNodeOptions): {
  signal: AbortSignal | undefined;
  metrics: { host: string; port: number } | undefined;
  primary: unknown;
  nodeOptions: NodeOptions;
} {
  if (typeof options !== 'object' || options === null || !('signal' in options || 'metrics' in options || 'primary' in options)) {
    return { signal: undefined, metrics: undefined, primary: undefined, nodeOptions: options };
  }
  const { signal, metrics, primary, ...nodeOptions } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TotemError('TOTEM_ERR_INVALID_OPTION', 'signal must be an AbortSignal', {
      details: { option: 'signal' },
    });
  }
  return { signal, metrics: checkMetricsOption(metrics), primary, nodeOptions };
}

function checkMetricsOption(v: unknown): { host: string; port: number } | undefined {
  if (v === undefined) return undefined;
  const bad = (why: string): TotemError =>
    new TotemError('TOTEM_ERR_INVALID_OPTION', `metrics ${why}`, { details: { option: 'metrics' } });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('must be { host, port }');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'host' && k !== 'port') throw bad(`has an unknown key '${k}' (it takes host and port)`);
  if (typeof o.host !== 'string' || !isIP(o.host)) throw bad(`.host must be an IP address literal, got ${String(o.host)}`);
  if (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw bad(`.port must be a whole number in 0..65535, got ${String(o.port)}`);
  }
  return { host: o.host, port: o.port };
}
