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
import { EvsNode, kAttach, kFailure, kRuntimeEvents } from './node/evs-node.js';
import { withSignal } from './node/waiting.js';
import { resolveNodeOptions } from './options.js';
import type { NodeOptions, ResolvedNodeOptions } from './options.js';

export { EvsNode } from './node/evs-node.js';
export type { NodeStats } from './node/evs-node.js';
export type { JoinOptions } from './node/group-table.js';
export { drainTimeoutMsDefault } from './node/lifecycle.js';
export type { CloseOptions, NodeState } from './node/lifecycle.js';
export { sendsWaitingMax } from './node/submit-queue.js';

/** The runtime factory's shape (workers/runtime.ts `startRuntime`). */
export type StartRuntime = (
  options: ResolvedNodeOptions,
  events: RuntimeEvents,
  deps?: { logger?: Logger },
) => Promise<NodeRuntime>;

export interface CreateNodeOptions extends NodeOptions {
  /** Aborts the start: createNode rejects with TOTEM_ERR_ABORTED and the runtime is stopped. */
  signal?: AbortSignal;
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
  const { signal, nodeOptions } = splitOptions(options);
  const resolved = resolveNodeOptions(nodeOptions, sealedOverheadBytes);
  // Read the key file now: a missing key should fail here, not in a worker after start.
  if (resolved.key !== null) loadKey(resolved.key);
  if (signal?.aborted === true) throw abortedError('createNode', signal);

  const logger = createLogger({
    nodeId: resolved.nodeId,
    level: resolved.logLevel,
    ...(resolved.logger === null ? {} : { logger: resolved.logger }),
  });
  const node = new EvsNode(resolved, logger);
  const started = start(resolved, node[kRuntimeEvents], { logger });
  let runtime: NodeRuntime;
  try {
    runtime = await withSignal(started, signal, 'createNode');
  } catch (err) {
    // Aborted: the runtime may still come up; stop it then, since nobody holds the node.
    started.then((rt) => rt.close(0), () => undefined).catch(() => undefined);
    throw err;
  }
  node[kAttach](runtime);
  const failure = node[kFailure];
  if (failure !== null) throw failure;
  return node;
}

function splitOptions(options: CreateNodeOptions): {
  signal: AbortSignal | undefined;
  nodeOptions: NodeOptions;
} {
  if (typeof options !== 'object' || options === null || !('signal' in options)) {
    return { signal: undefined, nodeOptions: options };
  }
  const { signal, ...nodeOptions } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TotemError('TOTEM_ERR_INVALID_OPTION', 'signal must be an AbortSignal', {
      details: { option: 'signal' },
    });
  }
  return { signal, nodeOptions };
}
