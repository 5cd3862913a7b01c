/**
 * Main-thread side of the threaded runtime: allocates the rings, starts the net, token and delivery
 * workers, feeds the submit ring, reads the delivery ring and calls RuntimeEvents, and runs the
 * shutdown (workers/README.md has the thread diagram, every ring and the shutdown order).
 *
 * The main thread never blocks: it reads the delivery ring with Doorbell.waitAsync. A pending
 * waitAsync does not keep a thread alive; here the Worker handles (ref'd until the node stops) do.
 * Callbacks run in bounded batches, with a turn of the event loop between batches, so a flood of
 * deliveries does not starve the application's other work.
 */
import { mkdirSync } from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { resolveEngineConfig } from '../engine/config.js';
import { GroupNameDecoder, GroupNameEncoder } from '../engine/groups/group-names.js';
import type { EngineStats, Guarantee, NodeId } from '../engine/types.js';
import { TotemError } from './errors.js';
import { createLogger } from './logger.js';
import type { Logger } from './logger.js';
import type { ResolvedNodeOptions } from './runtime-options.js';
import { openStateStore } from './state-store.js';
import { pickIncarnation } from './trace/trace-writer.js';
import { loadKey } from './net/key-file.js';
import { Doorbell } from './ring/doorbell.js';
import { SpscRing } from './ring/spsc-ring.js';
import { ChunkReader, ChunkWriter, partHeaderBytes } from './ring/chunks.js';
import { WakeFlag, WakeFlags } from './wake-flags.js';
import { describeCode, isWorkerMessage } from './control.js';
import type { MainMessage, ThreadName, WorkerMessage } from './control.js';
import {
  chunkedRecordBytesMax,
  decodeConfiguration,
  decodeDelivery,
  decodeGroupEvent,
  encodeSubmitHead,
  encodeSubmitMessage,
  partChunkBytes,
  RecordType,
  ringView,
  submitRecordBytes,
} from './records.js';
import type { NodeRuntime, RingOccupancy, RuntimeEvents, RuntimeStats } from './runtime-types.js';
import type { DeliveryWorkerData, NetWorkerData, SharedRings, TokenWorkerData } from './worker-data.js';

const mebibyte = 1024 * 1024;

/**
 * Ring capacities, fixed whatever messageBytesMax is. A ring refuses a record above capacity / 8,
 * and the submit and delivery rings once grew to 8 × the largest message record (16 MiB each for
 * the default 1 MiB messageBytesMax); at saturation the ring wraps and every page of it is
 * touched, so that was resident memory. Records longer than partChunkBytes (64 KiB) now cross as
 * parts (ring/chunks.ts), and these sizes are about buffering only. Every page of every ring is
 * resident once the node has run at saturation for a few seconds: the sum is part of each node's
 * RSS.
 *
 * submit 1 MiB: only a hand-over between threads. submit() lets at most submitQueueBytesMax
 *   (256 KiB) wait here, so 1 MiB is four times what is ever queued of small messages; a large
 *   message streams through in parts while the token worker takes them.
 * in 8 MiB: absorbs what the sockets receive while the token worker is busy (a freeze of the
 *   thread, a burst of retransmissions); twice the 4 MiB kernel receive buffer asked for, so the
 *   ring is never the first place datagrams are lost.
 * out 2 MiB: one token visit sends at most windowSize frames plus the token; 2 MiB holds about
 *   1,800 full 1,500-byte frames, dozens of visits, far more than the net worker lags behind.
 * frames 2 MiB: the delivery worker is usually as fast as the token worker; this absorbs bursts
 *   (a recovery delivers a whole old ring's tail at once). When it is full the token worker
 *   waits, so with the delivery ring behind it this bounds how long a stalled main thread is
 *   absorbed before token handling slows: 4 MiB, ~200 ms at 20 MB/s of deliveries, longer than
 *   the GC pauses of a busy main thread. (It was 8 MiB; the saturated bench showed no
 *   difference in throughput, and 6 MiB less resident memory per node.)
 * delivery 2 MiB: the application's callbacks on the main thread are the slowest consumer and
 *   pause for GC; see frames for the two together.
 */
export const submitRingBytes = 1 * mebibyte;
/**
 * What submit() lets wait in the submit ring (a record larger than this is taken when the ring is
 * empty). A message that waits there waits in line: at saturation own-delivery latency is about
 * the bytes queued ahead over the throughput, and 16 MiB queued at ~15 MB/s was a second. 256 KiB
 * is a few ms at full speed and still thousands of small messages, plenty to keep the token
 * worker fed between two token visits (the main thread refills it when it is half empty).
 */
export const submitQueueBytesMax = 256 * 1024;
export const inRingBytes = 8 * mebibyte;
export const outRingBytes = 2 * mebibyte;
export const frameRingBytes = 2 * mebibyte;
export const deliveryRingBytes = 2 * mebibyte;
/**
 * Largest young generation of each worker's V8 heap (Worker resourceLimits), in MiB; the old
 * generation and the main thread's heap keep V8's defaults. V8 grows a busy isolate's young
 * generation up to 3 × 16 MiB on 64-bit, and a saturated node's three workers took ~25 MiB of
 * its RSS that way (token ~13, net ~5, delivery ~3, measured one at a time). What the workers
 * keep is small and short-lived (a packet until the token's aru passes it, a frame until it is
 * decoded), so small semi-spaces cost little: scavenges are more frequent but each copies only
 * what is live. The token worker keeps packets in its sort queue for a few token rotations, so it
 * gets 2 MiB semi-spaces (6 = 3 × 2, V8's young generation is three semi-spaces), the others
 * V8's starting 1 MiB. Measured on the saturated 3-node bench: no throughput change within the
 * run-to-run spread, peak RSS per node down ~15 MiB.
 */
export const workerYoungGenerationMb: Readonly<Record<ThreadName, number>> = { net: 3, token: 6, delivery: 3 };
/** Asked of the kernel for each socket (SO_RCVBUF); the grant is reported. */
export const receiveBufferBytes = 4 * mebibyte;
/** Delivery-ring records per callback batch before yielding to the event loop. */
const deliveryBatchMax = 256;
/** How long a worker gets to answer 'stop' before it is terminated. */
const stopTimeoutMs = 5000;

export interface RuntimeDeps {
  logger?: Logger;
}

/** Whether a submission of lengthBytes may join usedBytes already queued (submitQueueBytesMax). */
function submitFits(usedBytes: number, lengthBytes: number): boolean {
  return usedBytes === 0 || usedBytes + lengthBytes <= submitQueueBytesMax;
}

/**
 * Workers start from compiled JS: beside this file once compiled; from dist/ when this file runs
 * from source (tests import the .ts directly).
 */
function workerUrl(name: string): URL {
  if (import.meta.url.endsWith('.js')) return new URL(`./${name}.js`, import.meta.url);
  return new URL(`../dist/workers/${name}.js`, import.meta.url);
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejections are observed by whoever awaits; an unobserved one must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

type Body = Record<string, unknown>;

/** One worker thread as the main thread sees it. */
class WorkerHandle {
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

function stoppedWithin<T>(p: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(null);
      },
    );
  });
}

class Runtime implements NodeRuntime {
  readonly nodeId: NodeId;
  readonly incarnation: number;
  readonly handles: WorkerHandle[] = [];
  private readonly submitRing: SpscRing;
  /**
   * Writes a submission longer than partChunkBytes as parts. While it is open (the ring had no
   * room for all of it) the pump writes the rest as the token worker frees room, and submit(),
   * join() and leave() refuse: nothing may overtake it, and the token worker reassembles a
   * message only from consecutive records.
   */
  private readonly submitWriter: ChunkWriter;
  private readonly deliveryRing: SpscRing;
  private readonly deliveryReader: ChunkReader;
  private readonly rings: { name: string; ring: SpscRing }[];
  private readonly deliveryView: DataView;
  private readonly mainBell: Doorbell;
  private readonly tokenBell: Doorbell;
  private readonly deliveryBell: Doorbell;
  private readonly flags: WakeFlags;
  private readonly names = new GroupNameEncoder();
  private readonly groupNames = new GroupNameDecoder();
  private readonly messageBytesMax: number;
  private submitted = 0;
  private ownDelivered = 0;
  private writableWanted = false;
  private refusedBytes = 0;
  private requestId = 0;
  private started = false;
  private closing = false;
  private finished = false;
  private failure: TotemError | null = null;
  private closePromise: Promise<{ undelivered: number }> | null = null;
  private pumpStopped = false;
  private pumpDone: Promise<void> = Promise.resolve();
  private readonly startFailed = deferred<never>();
  private readonly drained = deferred<Body>();

  private readonly onDeliveryRecord = (
    type: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    owned: boolean,
  ): void => {
    try {
      if (type === RecordType.deliveryMessage) {
        // owned: a record reassembled from parts, in an array of its own (not the ring's).
        const view = owned ? ringView(buffer) : this.deliveryView;
        this.events.deliver(decodeDelivery(view, buffer, offset, length, this.groupOf, owned));
      } else if (type === RecordType.deliveryConfiguration) {
        this.events.configuration(decodeConfiguration(buffer, offset, length));
      } else if (type === RecordType.deliveryGroupEvent) {
        this.events.groupEvent(decodeGroupEvent(buffer, offset, length));
      } else {
        throw new TotemError('TOTEM_ERR_WORKER_DIED', `unknown delivery record type ${type}`);
      }
    } catch (err) {
      if (err instanceof TotemError) throw err;
      // The application's callback threw: that is its bug, not the node's; say so and go on, since
      // stopping the pump would stall the whole node behind a full delivery ring.
      this.logger.error('a runtime callback threw', { err });
    }
  };

  private readonly groupOf = (bytes: Uint8Array, start: number, length: number): string => {
    const name = this.groupNames.decode(bytes, start, length);
    if (name === null) throw new TotemError('TOTEM_ERR_WORKER_DIED', 'a delivered group name is not UTF-8');
    return name;
  };

  private readonly mainReady = (): boolean =>
    this.pumpStopped ||
    this.deliveryRing.hasReadable() ||
    this.submitWriter.canWriteNext() ||
    (this.writableWanted && this.submitHasRoom());

  /**
   * No submission still being written, room for the refused record (for one longer than a
   * chunk, for its first part: the rest follows as the ring drains), and the ring at most half
   * full: without the last condition a sender at full speed would be told writable for every few
   * records the token worker takes, and spend the main thread on a refusal and a callback per
   * batch.
   */
  private submitHasRoom(): boolean {
    if (this.submitWriter.open) return false;
    const ring = this.submitRing;
    const used = ring.usedBytes();
    const firstRecordBytes = Math.min(this.refusedBytes, partHeaderBytes + partChunkBytes);
    return ring.canClaim(firstRecordBytes) && used <= submitQueueBytesMax / 2 &&
      submitFits(used, this.refusedBytes);
  }

  constructor(
    private readonly options: ResolvedNodeOptions,
    private readonly events: RuntimeEvents,
    private readonly logger: Logger,
    readonly shared: SharedRings,
    incarnation: number,
  ) {
    this.nodeId = options.nodeId;
    this.incarnation = incarnation;
    this.messageBytesMax = options.engine.messageBytesMax;
    this.submitRing = new SpscRing(shared.submit);
    this.submitWriter = new ChunkWriter(this.submitRing, RecordType.submitPart, partChunkBytes);
    this.deliveryRing = new SpscRing(shared.delivery);
    this.deliveryReader = new ChunkReader(
      this.deliveryRing,
      RecordType.deliveryPart,
      chunkedRecordBytesMax(this.messageBytesMax),
    );
    this.deliveryView = ringView(this.deliveryRing.buffer);
    const b = shared.bells;
    this.mainBell = new Doorbell(b.main.sab, b.main.byteOffset);
    this.tokenBell = new Doorbell(b.token.sab, b.token.byteOffset);
    this.deliveryBell = new Doorbell(b.delivery.sab, b.delivery.byteOffset);
    this.flags = new WakeFlags(shared.flags);
    this.rings = [
      { name: 'submit', ring: this.submitRing },
      { name: 'in', ring: new SpscRing(shared.in) },
      { name: 'out', ring: new SpscRing(shared.out) },
      { name: 'frames', ring: new SpscRing(shared.frames) },
      { name: 'delivery', ring: this.deliveryRing },
    ];
  }

  failureReported(): TotemError | null {
    return this.failure;
  }

  // ---- start -------------------------------------------------------------------------------

  spawn(thread: ThreadName, file: string, data: object, bell: Doorbell): WorkerHandle {
    const channel = new MessageChannel();
    const worker = new Worker(workerUrl(file), {
      workerData: { ...data, port: channel.port2 },
      transferList: [channel.port2],
      name: `totem-evs ${thread} ${this.nodeId}`,
      resourceLimits: { maxYoungGenerationSizeMb: workerYoungGenerationMb[thread] },
    });
    const h = new WorkerHandle(thread, worker, channel.port1, bell);
    channel.port1.on('message', (m: unknown) => this.onWorkerMessage(h, m));
    worker.on('error', (err: Error) => {
      this.fail(new TotemError('TOTEM_ERR_WORKER_DIED', `the ${thread} worker threw: ${err.message}`, {
        details: { thread },
        cause: err,
      }));
    });
    worker.on('exit', (code: number) => this.onWorkerExit(h, code));
    this.handles.push(h);
    return h;
  }

  async waitStarted(): Promise<void> {
    await Promise.race([Promise.all(this.handles.map((h) => h.ready.promise)), this.startFailed.promise]);
    const token = this.handle('token');
    token.post({ code: 'start' });
    this.started = true;
    this.pumpDone = this.pump();
  }

  private handle(thread: ThreadName): WorkerHandle {
    const h = this.handles.find((x) => x.thread === thread);
    if (h === undefined) throw new Error(`no ${thread} worker`);
    return h;
  }

  // ---- worker messages -----------------------------------------------------------------------

  private onWorkerMessage(h: WorkerHandle, m: unknown): void {
    if (!isWorkerMessage(m)) {
      this.fail(new TotemError('TOTEM_ERR_WORKER_DIED', `the ${h.thread} worker sent an unknown control code ${describeCode(m)}`, {
        details: { thread: h.thread },
      }));
      return;
    }
    this.onWorkerCode(h, m);
  }

  private onWorkerCode(h: WorkerHandle, m: WorkerMessage): void {
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
        this.noteOwnDelivered(body);
        this.drained.resolve(body);
        return;
      case 'stopped':
        if (h.thread === 'delivery') this.noteOwnDelivered(body);
        h.stopped.resolve(body);
        return;
      case 'log': {
        const level = m.level ?? 'info';
        this.logger[level](m.message ?? '', { thread: h.thread, ...m.fields });
        return;
      }
      case 'fatal':
        this.fail(
          m.error !== undefined && TotemError.isTotemErrorJSON(m.error)
            ? TotemError.fromJSON(m.error)
            : new TotemError('TOTEM_ERR_WORKER_DIED', `the ${h.thread} worker failed`, { details: { thread: h.thread } }),
        );
        return;
    }
  }

  private noteOwnDelivered(body: Body): void {
    const n = body.ownDelivered;
    if (typeof n === 'number' && n > this.ownDelivered) this.ownDelivered = n;
  }

  private onWorkerExit(h: WorkerHandle, code: number): void {
    h.hasExited = true;
    // A 'fatal' posted just before the thread ended may still sit in the port: it says more than
    // the exit code, so take it first.
    for (let m = receiveMessageOnPort(h.port); m !== undefined; m = receiveMessageOnPort(h.port)) {
      this.onWorkerMessage(h, m.message);
    }
    h.exited.resolve(code);
    h.ready.reject(new Error('exited'));
    h.stopped.reject(new Error('exited'));
    if (h.stopRequested || this.finished) return;
    this.fail(new TotemError('TOTEM_ERR_WORKER_DIED', `the ${h.thread} worker exited unexpectedly (exit code ${code})`, {
      details: { thread: h.thread, exitCode: code },
    }));
  }

  // ---- failure -------------------------------------------------------------------------------

  /** A fatal error: every worker is stopped, then (if the node had started) events.fatal. */
  private fail(err: TotemError): void {
    if (this.failure !== null || this.finished) return;
    this.failure = err;
    this.closing = true;
    this.startFailed.reject(err);
    this.drained.reject(err);
    for (const h of this.handles) {
      for (const r of h.requests.values()) r.reject(err);
      h.requests.clear();
    }
    void this.teardown().then(() => {
      if (this.started) {
        try {
          this.events.fatal(err);
        } catch (e) {
          this.logger.error('the fatal callback threw', { err: e });
        }
      }
    });
  }

  /** Terminates every worker still running and stops the pump; resolves once all have exited. */
  async teardown(): Promise<void> {
    this.finished = true;
    this.stopPump();
    await Promise.all(
      this.handles.map(async (h) => {
        if (!h.hasExited) await h.worker.terminate();
        h.port.close();
      }),
    );
    await this.pumpDone;
  }

  // ---- the delivery pump ---------------------------------------------------------------------

  private async pump(): Promise<void> {
    while (!this.pumpStopped) {
      const count = this.drainDeliveries(deliveryBatchMax);
      const written = this.continueSubmission();
      this.checkWritable();
      if (count > 0 || written > 0) {
        // A turn of the event loop between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await this.mainBell.waitAsync(Infinity, this.mainReady);
    }
  }

  private drainDeliveries(countMax: number): number {
    let count = 0;
    try {
      count = this.deliveryReader.read(this.onDeliveryRecord, countMax);
    } catch (err) {
      this.fail(err instanceof TotemError ? err : new TotemError('TOTEM_ERR_WORKER_DIED', String(err)));
      return 0;
    }
    // After read()'s head store, and only if the delivery worker waits for room (wake-flags.ts).
    if (count > 0 && this.flags.isSet(WakeFlag.deliveryWantsRoom)) this.deliveryBell.wake();
    return count;
  }

  private stopPump(): void {
    this.pumpStopped = true;
    // Wakes the pump if it is parked in waitAsync (it then sees pumpStopped).
    this.mainBell.wake();
  }

  /**
   * Writes more of the submission the submit ring had no room for, as far as the token worker
   * has freed room; goes on while closing (the message was accepted). Returns records written.
   */
  private continueSubmission(): number {
    const writer = this.submitWriter;
    if (!writer.open) return 0;
    const count = writer.writeSome();
    if (count > 0) this.wakeToken();
    // Done: the token worker need not ring for room any more, unless a refusal waits for it.
    if (!writer.open && !this.writableWanted) this.flags.clear(WakeFlag.mainWantsRoom);
    return count;
  }

  private checkWritable(): void {
    if (!this.writableWanted || this.closing) return;
    if (!this.submitHasRoom()) return;
    this.writableWanted = false;
    // submitHasRoom() holds, so no submission is being written either.
    this.flags.clear(WakeFlag.mainWantsRoom);
    try {
      this.events.writable();
    } catch (err) {
      this.logger.error('the writable callback threw', { err });
    }
  }

  // ---- submissions ---------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closing) {
      throw new TotemError('TOTEM_ERR_CLOSED', `node ${this.nodeId} is ${this.failure === null ? 'closing' : 'stopped'}`);
    }
  }

  private refused(lengthBytes: number): false {
    this.writableWanted = true;
    this.refusedBytes = lengthBytes;
    // F1, then F2 (wake-flags.ts): a read of the token worker between the refusal and the flag
    // did not ring; if it made room, the pump must still see it.
    this.flags.set(WakeFlag.mainWantsRoom);
    if (this.submitHasRoom()) this.mainBell.wake();
    return false;
  }

  /** After a commit to the submit ring: ring the token worker only if it takes submissions. */
  private wakeToken(): void {
    if (this.flags.isSet(WakeFlag.tokenTakesSubmissions)) this.tokenBell.wake();
  }

  submit(group: string, payload: Uint8Array, guarantee: Guarantee): boolean {
    this.checkOpen();
    if (payload.length > this.messageBytesMax) {
      throw new TotemError(
        'TOTEM_ERR_PAYLOAD_TOO_LARGE',
        `payload of ${payload.length} bytes exceeds messageBytesMax ${this.messageBytesMax}`,
        { details: { bytes: payload.length, bytesMax: this.messageBytesMax } },
      );
    }
    const name = this.names.encode(group);
    const length = submitRecordBytes(name, payload);
    const ring = this.submitRing;
    if (this.submitWriter.open || !submitFits(ring.usedBytes(), length)) return this.refused(length);
    if (length > partChunkBytes) return this.submitChunked(name, payload, guarantee);
    // Encoded straight into the ring: the one copy of the payload on this thread.
    const offset = ring.tryClaim(RecordType.submitMessage, length);
    if (offset === null) return this.refused(length);
    encodeSubmitMessage(ring.buffer, offset, guarantee, name, payload);
    ring.commit();
    this.wakeToken();
    this.submitted++;
    return true;
  }

  /**
   * A submission longer than partChunkBytes: as many parts as the ring has room for now, the rest
   * from the pump as the token worker frees room (never a wait on this thread). It is accepted at
   * once, like any submission that found room: submitFits held, so it is not queued behind more
   * than submitQueueBytesMax (a record above that only into an empty ring). The caller may reuse
   * its payload once this returns, so the part not yet written is copied (detach): one copy of at
   * most the message, for a message the ring could not take whole.
   */
  private submitChunked(name: Uint8Array, payload: Uint8Array, guarantee: Guarantee): true {
    const writer = this.submitWriter;
    writer.begin(RecordType.submitMessage, [encodeSubmitHead(guarantee, name), payload]);
    if (writer.writeSome() > 0) this.wakeToken();
    if (writer.open) {
      writer.detach();
      // F1, then F2 (wake-flags.ts): the token worker rings after its reads only once the flag
      // is set; room it made before that is seen here.
      this.flags.set(WakeFlag.mainWantsRoom);
      if (writer.canWriteNext()) this.mainBell.wake();
    }
    this.submitted++;
    return true;
  }

  join(group: string): boolean {
    return this.control(RecordType.submitJoin, group);
  }

  leave(group: string): boolean {
    return this.control(RecordType.submitLeave, group);
  }

  private control(type: number, group: string): boolean {
    this.checkOpen();
    const name = this.names.encode(group);
    if (this.submitWriter.open || !this.submitRing.write(type, name)) return this.refused(name.length);
    this.wakeToken();
    return true;
  }

  // ---- stats ---------------------------------------------------------------------------------

  private request(h: WorkerHandle): Promise<Body> {
    const id = ++this.requestId;
    const d = deferred<Body>();
    h.requests.set(id, d);
    h.post({ code: 'stats', id });
    return d.promise;
  }

  async stats(): Promise<RuntimeStats> {
    if (this.failure !== null) throw this.failure;
    if (this.finished) throw new TotemError('TOTEM_ERR_CLOSED', `node ${this.nodeId} is closed`);
    const [net, token, delivery] = await Promise.all([
      this.request(this.handle('net')),
      this.request(this.handle('token')),
      this.request(this.handle('delivery')),
    ]);
    const num = (b: Body, k: string): number => (typeof b[k] === 'number' ? (b[k] as number) : 0);
    const rings: RingOccupancy[] = this.rings.map(({ name, ring }) => ({
      name,
      usedBytes: ring.usedBytes(),
      capacityBytes: ring.capacityBytes,
    }));
    return {
      engine: token.engine as EngineStats,
      net: {
        datagramsIn: num(net, 'datagramsIn'),
        datagramsOut: num(net, 'datagramsOut'),
        bytesIn: num(net, 'bytesIn'),
        bytesOut: num(net, 'bytesOut'),
        authFailures: num(net, 'authFailures'),
        replays: num(net, 'replays'),
        sendErrors: num(net, 'sendErrors'),
        receiveBufferBytes: num(net, 'receiveBufferBytes'),
      },
      messagesSubmitted: this.submitted,
      messagesDelivered: num(delivery, 'messagesDelivered'),
      rings,
      drops: {
        inRingFull: num(net, 'inRingFull'),
        outRingFull: num(token, 'outRingFull'),
        senderMismatch: num(net, 'senderMismatch'),
      },
    };
  }

  // ---- close ---------------------------------------------------------------------------------

  close(drainTimeoutMs: number): Promise<{ undelivered: number }> {
    this.closePromise ??= this.runClose(drainTimeoutMs);
    return this.closePromise;
  }

  private undelivered(): { undelivered: number } {
    return { undelivered: Math.max(0, this.submitted - this.ownDelivered) };
  }

  private async runClose(drainTimeoutMs: number): Promise<{ undelivered: number }> {
    this.closing = true;
    if (this.failure !== null || this.finished) {
      await this.teardown();
      return this.undelivered();
    }
    try {
      // 1. Wait until this node has delivered every message it took (or the time is up).
      if (this.submitted > this.ownDelivered) {
        this.handle('delivery').post({ code: 'drain', count: this.submitted });
        await stoppedWithin(this.drained.promise, drainTimeoutMs);
      }
      // 2. Token worker: no more packets, deliveries or ring seqs after this.
      // 3. Delivery worker: forwards what the frame ring still holds, then stops.
      // 4. Net worker: closes the socket(s).
      for (const thread of ['token', 'delivery', 'net'] as const) {
        if (this.failure !== null) break;
        const h = this.handle(thread);
        h.stopRequested = true;
        h.post({ code: 'stop' });
        const body = await stoppedWithin(h.stopped.promise, stopTimeoutMs);
        if (body === null && !h.hasExited) {
          this.logger.warn(`the ${thread} worker did not stop within ${stopTimeoutMs} ms; terminating it`);
        }
      }
      // 5. What the delivery worker forwarded before stopping goes to the application.
      if (this.failure === null) while (this.drainDeliveries(deliveryBatchMax) > 0);
    } finally {
      await this.teardown();
    }
    return this.undelivered();
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
  if (key === null) logger.warn('running without a key: packets are neither authenticated nor encrypted');
  const store = openStateStore(options.stateDir ?? undefined, nodeId, Date.now(), logger);
  const ringSeqInitial = store.loadRingSeq();
  if (options.traceDir !== null) mkdirSync(options.traceDir, { recursive: true });
  const incarnation =
    options.traceDir === null ? Date.now() : pickIncarnation(options.traceDir, nodeId, Date.now());
  const engine = resolveEngineConfig({ ...options.engine, incarnation, ringSeqInitial });
  const messageBytesMax = engine.messageBytesMax;

  const submit = SpscRing.create(submitRingBytes);
  const inRing = SpscRing.create(inRingBytes);
  const out = SpscRing.create(outRingBytes);
  const frames = SpscRing.create(frameRingBytes);
  const delivery = SpscRing.create(deliveryRingBytes);
  // One doorbell word per thread, in the trailer of a ring it consumes (ring/doorbell.ts).
  const bellOf = (ring: SpscRing): { sab: SharedArrayBuffer; byteOffset: number } => {
    const b = Doorbell.ofRing(ring);
    return { sab: b.sab, byteOffset: b.byteOffset };
  };
  const shared: SharedRings = {
    submit: submit.sab,
    in: inRing.sab,
    out: out.sab,
    frames: frames.sab,
    delivery: delivery.sab,
    bells: { main: bellOf(delivery), net: bellOf(out), token: bellOf(inRing), delivery: bellOf(frames) },
    flags: WakeFlags.create().sab,
  };
  const runtime = new Runtime(options, events, logger, shared, incarnation);
  const common = { nodeId, incarnation, logLevel: options.logLevel, rings: shared };
  const bell = (r: SpscRing): Doorbell => Doorbell.ofRing(r);
  try {
    runtime.spawn('net', 'net-worker', {
      ...common,
      family: options.family,
      bind: options.bind,
      members: [...options.members],
      transport: options.transport,
      multicastAddress: options.multicastAddress,
      key,
      receiveBufferBytes,
    } satisfies Omit<NetWorkerData, 'port'>, bell(out));
    runtime.spawn('token', 'token-worker', {
      ...common,
      engine,
      stateDir: options.stateDir,
      traceDir: options.traceDir,
    } satisfies Omit<TokenWorkerData, 'port'>, bell(inRing));
    runtime.spawn('delivery', 'delivery-worker', {
      ...common,
      messageBytesMax,
      traceDir: options.traceDir,
    } satisfies Omit<DeliveryWorkerData, 'port'>, bell(frames));
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
  const h = r.handles.find((x) => x.thread === thread);
  h?.post({ code: 'crash' });
}

/** Test hook: whether every worker thread of `runtime` has exited. */
export function workersExitedForTest(runtime: NodeRuntime): boolean {
  const r = runtimes.get(runtime);
  if (r === undefined) throw new Error('not a runtime started by startRuntime');
  return r.handles.every((h) => h.hasExited);
}
