/**
 * startRuntime: one node on the main thread plus three workers (workers/README.md has the thread
 * diagram, every ring and the shutdown order). It reads the key, opens the state store, picks the
 * incarnation, allocates the rings, starts the workers and composes the rooms of the main
 * thread's side into the NodeRuntime the API holds:
 *
 *   runtime-sizing.ts  ring capacities and memory limits; allocateRings()
 *   spawn.ts           the Worker threads and their control ports
 *   submission.ts      submit / join / leave into the submit ring; writable
 *   delivery-pump.ts   the delivery ring into RuntimeEvents; the main thread's waiting
 *   runtime-stats.ts   RuntimeStats from the workers' replies
 *   teardown.ts        close(), fatal errors, the node's lifecycle flags
 *
 * This file holds only what ties them together, so each can be read without the others.
 */
import { mkdirSync } from 'node:fs';
import { resolveEngineConfig } from '../engine/config.js';
import type { Order, NodeId } from '../engine/types.js';
import { TotemError } from './errors.js';
import { createLogger } from './logger.js';
import type { Logger } from './logger.js';
import type { ThreadName } from './control.js';
import type { ResolvedNodeOptions } from './runtime-options.js';
import { openStateStore } from './state-store.js';
import { pickIncarnation } from './trace/trace-writer.js';
import { loadKey } from './net/key-file.js';
import { allocateRings } from './runtime-sizing.js';
import type { NodeRings } from './runtime-sizing.js';
import { collectStats } from './runtime-stats.js';
import { DeliveryPump } from './delivery-pump.js';
import { Workers } from './spawn.js';
import { Submission } from './submission.js';
import { Lifecycle, Shutdown } from './teardown.js';
import type { NodeRuntime, RuntimeEvents, RuntimeStats, SlowConsumerDetails } from './runtime-types.js';
import { Doorbell } from './ring/doorbell.js';
import { WakeFlag, WakeFlags } from './wake-flags.js';

export interface RuntimeDeps {
  logger?: Logger;
}

class Runtime implements NodeRuntime {
  readonly nodeId: NodeId;
  readonly workers: Workers;
  private readonly lifecycle = new Lifecycle();
  private readonly submission: Submission;
  private readonly pump: DeliveryPump;
  private readonly shutdown: Shutdown;

  constructor(
    options: ResolvedNodeOptions,
    events: RuntimeEvents,
    logger: Logger,
    private readonly rings: NodeRings,
    readonly incarnation: number,
  ) {
    this.nodeId = options.nodeId;
    const messageBytesMax = options.engine.messageBytesMax;
    const lifecycle = this.lifecycle;
    this.submission = new Submission(this.nodeId, rings, messageBytesMax, lifecycle, events, logger);
    this.pump = new DeliveryPump(rings, messageBytesMax, this.submission, events, logger, (err) => this.shutdown.fail(err));
    this.workers = new Workers(options, logger, lifecycle, {
      fail: (err) => this.shutdown.fail(err),
      drained: (body) => this.shutdown.drained(body),
      left: (body) => this.shutdown.left(body),
      deliveryStopped: (body) => this.shutdown.deliveryStopped(body),
      slowConsumer: (body) => this.shutdown.slowConsumer(body),
    });
    this.shutdown = new Shutdown(lifecycle, this.workers, this.pump, this.submission, events, logger);
  }

  /** The error a worker reported, if one did (it says more than how a wait ended). */
  failureReported(): TotemError | null {
    return this.lifecycle.failure;
  }

  /** Waits for every worker's `ready`, starts the engine, then the pump. */
  async waitStarted(): Promise<void> {
    await Promise.race([this.workers.allReady(), this.shutdown.startFailed.promise]);
    this.workers.handle('token').post({ code: 'start' });
    this.lifecycle.started = true;
    this.pump.start();
  }

  teardown(): Promise<void> {
    return this.shutdown.teardown();
  }

  submit(group: string, payload: Uint8Array, order: Order): boolean {
    return this.submission.submit(group, payload, order);
  }

  join(group: string): boolean {
    return this.submission.join(group);
  }

  leave(group: string): boolean {
    return this.submission.leave(group);
  }

  async stats(options: { tokenHops?: boolean } = {}): Promise<RuntimeStats> {
    const lifecycle = this.lifecycle;
    if (lifecycle.failure !== null) throw lifecycle.failure;
    if (lifecycle.finished) throw new TotemError('TOTEM_ERR_CLOSED', `node ${this.nodeId} is closed`);
    return collectStats(this.workers, this.rings, this.submission, options);
  }

  close(drainTimeoutMs: number): Promise<{ undelivered: number }> {
    return this.shutdown.close(drainTimeoutMs);
  }

  reportSlowConsumer(details: SlowConsumerDetails): void {
    if (this.lifecycle.closing || this.lifecycle.finished) return;
    // The same signal the delivery worker gives (wake-flags.ts): the token worker announces the
    // leave and replies 'left'.
    new WakeFlags(this.rings.shared.flags).set(WakeFlag.slowConsumer);
    const bell = this.rings.shared.bells.token;
    new Doorbell(bell.sab, bell.byteOffset).wake();
    this.shutdown.slowConsumer({ ...details });
  }
}

/**
 * Starts one node: allocates every ring once, reads the key, opens the state store, picks the
 * incarnation, starts the three workers and resolves once all are ready and the socket is bound.
 * Rejects with the TotemError (TOTEM_ERR_BIND, TOTEM_ERR_KEY_FILE, TOTEM_ERR_STATE_DIR, ...) after
 * stopping whatever had started.
 */
export async function startRuntime(
  options: ResolvedNodeOptions,
  events: RuntimeEvents,
  deps: RuntimeDeps = {},
): Promise<NodeRuntime> {
  const nodeId = options.nodeId;
  const logger =
    deps.logger ??
    createLogger({ nodeId, level: options.logLevel, ...(options.logger === null ? {} : { logger: options.logger }) });
  const key = options.key === null ? null : loadKey(options.key);
  if (key === null) {
    // On loopback only (options.ts refuses a keyless node elsewhere without `insecure`), this
    // exposes the ring to local processes; with `insecure`, to every host that can reach it.
    const reach = options.insecure ? 'any host that can send to this node' : 'any local process';
    logger.warn(
      `running without a key (${options.insecure ? 'insecure: true' : 'loopback only'}): packets are neither ` +
        `authenticated nor encrypted, so ${reach} can read every message and forge any packet, ` +
        'including joins that change the membership; only the member list and, on udpu, the members\' ' +
        'source addresses are checked. Create a key with `totem-evs keygen FILE` to close this',
      { insecure: options.insecure },
    );
  }
  const store = openStateStore(options.stateDir ?? undefined, nodeId, Date.now(), logger);
  const ringSeqInitial = store.loadRingSeq();
  if (options.traceDir !== null) mkdirSync(options.traceDir, { recursive: true });
  const incarnation =
    options.traceDir === null ? Date.now() : pickIncarnation(options.traceDir, nodeId, Date.now());
  // The engine drops packets naming node ids outside the member list (engine deviation 20); the
  // net worker's ingress gate already drops datagrams from them before any crypto.
  const engine = resolveEngineConfig({
    ...options.engine,
    incarnation,
    ringSeqInitial,
    clusterNodeIds: options.members.map((m) => m.nodeId),
  });

  const rings = allocateRings();
  const runtime = new Runtime(options, events, logger, rings, incarnation);
  try {
    runtime.workers.spawnAll(rings, incarnation, engine, key);
    await runtime.waitStarted();
  } catch (err) {
    await runtime.teardown();
    // The worker's own report (a bind error, say) says more than how the start-up wait ended.
    const reported = runtime.failureReported();
    if (reported !== null) throw reported;
    throw err instanceof TotemError
      ? err
      : new TotemError('TOTEM_ERR_WORKER_DIED', `the node failed to start: ${String(err)}`, { cause: err });
  }
  runtimes.set(runtime, runtime);
  return runtime;
}

const runtimes = new WeakMap<NodeRuntime, Runtime>();

/**
 * Test hook: makes one worker of `runtime` end abruptly (control code 'crash': exit code 1), as a
 * worker dying of an uncaught error or a native fault would. Not part of the public API.
 */
export function crashWorkerForTest(runtime: NodeRuntime, thread: ThreadName): void {
  const r = runtimes.get(runtime);
  if (r === undefined) throw new Error('not a runtime started by startRuntime');
  const h = r.workers.handles.find((x) => x.thread === thread);
  h?.post({ code: 'crash' });
}

/** Test hook: whether every worker thread of `runtime` has exited. */
export function workersExitedForTest(runtime: NodeRuntime): boolean {
  const r = runtimes.get(runtime);
  if (r === undefined) throw new Error('not a runtime started by startRuntime');
  return r.workers.handles.every((h) => h.hasExited);
}
