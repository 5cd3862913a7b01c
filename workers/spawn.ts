/**
 * Starting the three workers and the main thread's end of their control channels: which file
 * each runs from and with which workerData, one WorkerHandle per thread (its promises for
 * `ready`, `stopped` and stats replies), and the routing of what a worker posts or how it ends.
 *
 * A room of its own because it is the main thread's only contact with the threads as threads
 * (Worker objects, ports, exit codes); what a report means for the node (a drain reached, a
 * fatal error) is handed on through WorkerReports and decided in teardown.ts.
 */
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { EngineConfig } from '../engine/config.js';
import { TotemError } from './errors.js';
import type { Logger } from './logger.js';
import { describeCode, isWorkerMessage } from './control.js';
import type { MainMessage, ThreadName, WorkerMessage } from './control.js';
import type { ResolvedNodeOptions } from './runtime-options.js';
import { Doorbell } from './ring/doorbell.js';
import { receiveBufferBytes, workerYoungGenerationMb } from './runtime-sizing.js';
import { deferred } from './deferred.js';
import type { Deferred } from './deferred.js';
import type { NodeRings } from './runtime-sizing.js';
import type { Lifecycle } from './teardown.js';
import type { DeliveryWorkerData, NetWorkerData, TokenWorkerData } from './worker-data.js';

/** The body of a worker's reply: its counters and facts. */
export type Body = Record<string, unknown>;

/**
 * Workers start from compiled JS: beside this file once compiled; from dist/ when this file runs
 * from source (tests import the .ts directly).
 */
function workerUrl(name: string): URL {
  if (import.meta.url.endsWith('.js')) return new URL(`./${name}.js`, import.meta.url);
  return new URL(`../dist/workers/${name}.js`, import.meta.url);
}

/** One worker thread as the main thread sees it. */
export class WorkerHandle {
  readonly ready = deferred<Body>();
  readonly stopped = deferred<Body>();
  readonly exited = deferred<number>();
  readonly requests = new Map<number, Deferred<Body>>();
  stopRequested = false;
  hasExited = false;

  constructor(
    readonly thread: ThreadName,
    readonly worker: Worker,
    readonly port: MessagePort,
    /** The worker's doorbell: rung after each post, so a worker parked in Atomics.wait sees it. */
    readonly bell: Doorbell,
  ) {}

  post(m: MainMessage): void {
    this.port.postMessage(m);
    // After the post: the worker's re-check (W2) polls the port, see control.ts.
    this.bell.wake();
  }
}

/** What the workers report that concerns the node as a whole (teardown.ts acts on it). */
export interface WorkerReports {
  /** A fatal error: posted by a worker, or an unknown code, an uncaught error, an unasked exit. */
  fail(err: TotemError): void;
  /** The delivery worker's 'drained' reply (close() waits for it). */
  drained(body: Body): void;
  /** The token worker's 'left' reply: the leave was announced to the ring. */
  left(body: Body): void;
  /** The delivery worker's 'stopped' reply: its final count of own messages delivered. */
  deliveryStopped(body: Body): void;
  /** The delivery worker's buffer passed deliveryBufferBytesMax: the node leaves the ring. */
  slowConsumer(body: Body): void;
}

/** The three workers of one node. */
export class Workers {
  readonly handles: WorkerHandle[] = [];
  private requestId = 0;

  constructor(
    private readonly options: ResolvedNodeOptions,
    private readonly logger: Logger,
    private readonly lifecycle: Lifecycle,
    private readonly reports: WorkerReports,
  ) {}

  /**
   * Starts the net, token and delivery workers on `rings`. A handle is kept as soon as its worker
   * exists, so a failure half-way leaves teardown every thread that did start.
   */
  spawnAll(rings: NodeRings, incarnation: number, engine: EngineConfig, key: Uint8Array | null): void {
    const options = this.options;
    const common = { nodeId: options.nodeId, incarnation, logLevel: options.logLevel, rings: rings.shared };
    this.spawn('net', 'net-worker', {
      ...common,
      family: options.family,
      bind: options.bind,
      members: [...options.members],
      transport: options.transport,
      multicastAddress: options.multicastAddress,
      key,
      cluster: options.cluster,
      receiveBufferBytes,
    } satisfies Omit<NetWorkerData, 'port'>, Doorbell.ofRing(rings.out));
    this.spawn('token', 'token-worker', {
      ...common,
      engine,
      stateDir: options.stateDir,
      traceDir: options.traceDir,
    } satisfies Omit<TokenWorkerData, 'port'>, Doorbell.ofRing(rings.in));
    this.spawn('delivery', 'delivery-worker', {
      ...common,
      messageBytesMax: engine.messageBytesMax,
      deliveryBufferBytesMax: options.deliveryBufferBytesMax,
      traceDir: options.traceDir,
    } satisfies Omit<DeliveryWorkerData, 'port'>, Doorbell.ofRing(rings.frames));
  }

  private spawn(thread: ThreadName, file: string, data: object, bell: Doorbell): void {
    const channel = new MessageChannel();
    const worker = new Worker(workerUrl(file), {
      workerData: { ...data, port: channel.port2 },
      transferList: [channel.port2],
      name: `totem-evs ${thread} ${this.options.nodeId}`,
      resourceLimits: { maxYoungGenerationSizeMb: workerYoungGenerationMb[thread] },
    });
    const h = new WorkerHandle(thread, worker, channel.port1, bell);
    channel.port1.on('message', (m: unknown) => this.onMessage(h, m));
    worker.on('error', (err: Error) => {
      this.reports.fail(new TotemError('TOTEM_ERR_WORKER_DIED', `the ${thread} worker threw: ${err.message}`, {
        details: { thread },
        cause: err,
      }));
    });
    worker.on('exit', (code: number) => this.onExit(h, code));
    this.handles.push(h);
  }

  handle(thread: ThreadName): WorkerHandle {
    const h = this.handles.find((x) => x.thread === thread);
    if (h === undefined) throw new Error(`no ${thread} worker`);
    return h;
  }

  /** Resolves once every worker has said `ready`; rejects if one exits first. */
  allReady(): Promise<Body[]> {
    return Promise.all(this.handles.map((h) => h.ready.promise));
  }

  /** Asks one worker for its counters. */
  requestStats(thread: ThreadName, options: { tokenHops?: boolean } = {}): Promise<Body> {
    const h = this.handle(thread);
    const id = ++this.requestId;
    const d = deferred<Body>();
    h.requests.set(id, d);
    h.post(options.tokenHops === true ? { code: 'stats', id, tokenHops: true } : { code: 'stats', id });
    return d.promise;
  }

  /** Rejects every stats request still waiting for its reply. */
  rejectRequests(err: TotemError): void {
    for (const h of this.handles) {
      for (const r of h.requests.values()) r.reject(err);
      h.requests.clear();
    }
  }

  /** Terminates every worker still running and closes the ports; resolves once all have exited. */
  async terminateAll(): Promise<void> {
    await Promise.all(
      this.handles.map(async (h) => {
        if (!h.hasExited) await h.worker.terminate();
        h.port.close();
      }),
    );
  }

  private onMessage(h: WorkerHandle, m: unknown): void {
    if (!isWorkerMessage(m)) {
      this.reports.fail(new TotemError('TOTEM_ERR_WORKER_DIED', `the ${h.thread} worker sent an unknown control code ${describeCode(m)}`, {
        details: { thread: h.thread },
      }));
      return;
    }
    this.onCode(h, m);
  }

  private onCode(h: WorkerHandle, m: WorkerMessage): void {
    const body = m.body ?? {};
    switch (m.code) {
      case 'ready':
        if (h.thread === 'net') {
          this.logger.info('socket bound', {
            address: this.options.bind.host,
            port: this.options.bind.port,
            receiveBufferBytes: body.receiveBufferBytes,
            receiveBufferRequestedBytes: body.requestedBytes,
          });
        }
        h.ready.resolve(body);
        return;
      case 'stats': {
        const r = h.requests.get(m.id ?? -1);
        h.requests.delete(m.id ?? -1);
        r?.resolve(body);
        return;
      }
      case 'drained':
        this.reports.drained(body);
        return;
      case 'left':
        this.reports.left(body);
        return;
      case 'slowConsumer':
        this.reports.slowConsumer(body);
        return;
      case 'stopped':
        if (h.thread === 'delivery') this.reports.deliveryStopped(body);
        h.stopped.resolve(body);
        return;
      case 'log': {
        const level = m.level ?? 'info';
        this.logger[level](m.message ?? '', { thread: h.thread, ...m.fields });
        return;
      }
      case 'fatal':
        this.reports.fail(
          m.error !== undefined && TotemError.isTotemErrorJSON(m.error)
            ? TotemError.fromJSON(m.error)
            : new TotemError('TOTEM_ERR_WORKER_DIED', `the ${h.thread} worker failed`, { details: { thread: h.thread } }),
        );
        return;
    }
  }

  private onExit(h: WorkerHandle, code: number): void {
    h.hasExited = true;
    // A 'fatal' posted just before the thread ended may still sit in the port: it says more than
    // the exit code, so take it first.
    for (let m = receiveMessageOnPort(h.port); m !== undefined; m = receiveMessageOnPort(h.port)) {
      this.onMessage(h, m.message);
    }
    h.exited.resolve(code);
    h.ready.reject(new Error('exited'));
    h.stopped.reject(new Error('exited'));
    if (h.stopRequested || this.lifecycle.finished) return;
    this.reports.fail(new TotemError('TOTEM_ERR_WORKER_DIED', `the ${h.thread} worker exited unexpectedly (exit code ${code})`, {
      details: { thread: h.thread, exitCode: code },
    }));
  }
}
