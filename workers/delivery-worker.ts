/**
 * Delivery worker: runs the receiver side of the group layer (Assembler) on the frames and
 * configurations the token worker forwards, in the node's total order. For each event it writes the
 * trace line first (one synchronous append, before the application can see the event), then
 * forwards to the main thread's delivery ring: `local` deliveries only, every configuration and
 * every group event. Frames are decoded in place from the frame ring (the Assembler copies what it
 * keeps), and deliveries are encoded straight into the delivery ring.
 *
 * One thread, no event loop (the skeleton is worker-loop.ts; the steps are at the end of this
 * file): it parks in Atomics.wait on its doorbell word, which the token worker rings after each
 * frame and the main thread rings after a read of the delivery ring while this thread has records
 * waiting for room, and after each control message.
 *
 * It never waits for the application. A record the delivery ring has no room for goes, copied,
 * to the end of a buffer in this thread's heap (the spill), and so does every record after it
 * until the buffer is empty again: nothing is dropped or reordered, and the frame ring keeps
 * being read, so the token worker never waits on a stalled main thread and the node keeps
 * circulating the token. The spill is bounded in bytes (deliveryBufferBytesMax): past it the
 * application is not keeping up at all, and this thread sets the slowConsumer wake flag (the
 * token worker then announces the leave, engine/srp/leave.ts) and posts 'slowConsumer' with why
 * (teardown.ts ends the node with TOTEM_ERR_SLOW_CONSUMER). From then on nothing more is forwarded:
 * the node is stopping and the application will get the error instead. Asked to stop, it still
 * forwards everything the frame ring and the spill hold, then replies 'stopped' and closes its
 * trace.
 *
 * A record longer than partChunkBytes (a large message, in principle a configuration) is written
 * as parts and a final record (ring/chunks.ts); what does not fit at once stays with the writer
 * (copied, counted in the spill's bytes) and is written as the main thread frees room.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { Assembler } from '../engine/groups/assembler.js';
import { GroupNameEncoder } from '../engine/groups/group-names.js';
import type { AppDelivery, ConfigurationChange, GroupEvent } from '../engine/types.js';
import { FileTraceWriter } from './trace/trace-writer.js';
import { configurationTraceLine, deliveryTraceLine } from './trace/trace-lines.js';
import { Doorbell } from './ring/doorbell.js';
import { SpscRing } from './ring/spsc-ring.js';
import { ChunkWriter, partHeaderBytes } from './ring/chunks.js';
import { SpillQueue } from './spill-queue.js';
import { SyncControl } from './control.js';
import { parkMsMax, runWorkerLoop } from './worker-loop.js';
import type { WorkerSteps } from './worker-loop.js';
import { WakeFlag, WakeFlags } from './wake-flags.js';
import {
  decodeConfiguration,
  decodeFrame,
  deliveryRecordBytes,
  deliveryStampsBytes,
  frameRecordEngineMs,
  frameRecordFrameMs,
  encodeConfiguration,
  encodeDelivery,
  encodeDeliveryHead,
  encodeGroupEvent,
  partChunkBytes,
  RecordType,
  ringView,
} from './records.js';
import type { DeliveryWorkerData } from './worker-data.js';
import { clockMs, isSampledCounter } from './anatomy.js';
import type { DeliveryStamps } from './anatomy.js';

const data = workerData as DeliveryWorkerData;
const port: MessagePort = data.port;
const control = new SyncControl(port, 'delivery');
const self = data.nodeId;

/** Frame records per read(): bounds how long the main thread's control messages wait. */
const frameBatchMax = 256;

const frameRing = new SpscRing(data.rings.frames);
const deliveryRing = new SpscRing(data.rings.delivery);
const frameView = ringView(frameRing.buffer);
const deliveryView = ringView(deliveryRing.buffer);
const deliveryWriter = new ChunkWriter(deliveryRing, RecordType.deliveryPart, partChunkBytes);
const bells = data.rings.bells;
const deliveryBell = new Doorbell(bells.delivery.sab, bells.delivery.byteOffset);
const tokenBell = new Doorbell(bells.token.sab, bells.token.byteOffset);
const mainBell = new Doorbell(bells.main.sab, bells.main.byteOffset);
const flags = new WakeFlags(data.rings.flags);

const trace = data.traceDir === null ? null : new FileTraceWriter(data.traceDir, self, data.incarnation);
const names = new GroupNameEncoder();

const counters = {
  /** Every application message the ring delivered here (local or not). */
  messagesDelivered: 0,
  /** Local deliveries forwarded to the main thread. */
  messagesForwarded: 0,
  /** This incarnation's own messages delivered here (close() waits for all of them). */
  ownDelivered: 0,
  configurations: 0,
  groupEvents: 0,
  /** Records that found the delivery ring full (or records waiting before them) and were spilled. */
  recordsSpilled: 0,
  /** Most bytes the spill held at once. */
  spillBytesPeak: 0,
  /** Records not forwarded because the node had already given up on its application. */
  recordsDroppedSlow: 0,
};
let drainTarget: number | null = null;
let stopping = false;

/**
 * Tracing only. The main thread writes lines into the same trace file (the lock manager's, after
 * each delivery and configuration it applies: workers/trace/lock-trace.ts). A conf line must not
 * overtake the main thread's lines of the events before it, and no line may come between a conf
 * line and the main thread's lines of that configuration (its cut): so a conf line, and the first
 * line after one, wait until the main thread has taken every record written so far (it reads a
 * batch, makes its callbacks, then moves the ring's head). Bounded: a main thread stuck longer
 * than traceOrderWaitMsMax costs the order of the lines, never the node (counted).
 */
const traceOrderWaitMsMax = 2000;
let traceWaitBeforeNextLine = false;
let traceOrderWaitsTimedOut = 0;

function waitForMainToCatchUp(): void {
  if (trace === null) return;
  traceWaitBeforeNextLine = false;
  const caughtUp = (): boolean => deliveryRing.usedBytes() === 0 && spillEmpty();
  if (caughtUp()) return;
  const deadlineMs = Date.now() + traceOrderWaitMsMax;
  // F1 before the check (wake-flags.ts): the main thread rings after a read only then.
  flags.set(WakeFlag.deliveryWantsRoom);
  // Records waiting in the spill count as written: they go into the ring as room appears.
  const ready = (): boolean => deliveryRing.usedBytes() === 0 || control.poll();
  while (!caughtUp() && !stopping) {
    writeSpill();
    if (caughtUp()) break;
    const leftMs = deadlineMs - Date.now();
    if (leftMs <= 0) {
      traceOrderWaitsTimedOut++;
      break;
    }
    deliveryBell.waitSync(Math.min(parkMsMax, leftMs), ready);
    if (control.poll()) handleControl();
  }
  // The spill keeps the flag while it holds records (writeSpill clears it once empty).
  if (spillEmpty()) flags.clear(WakeFlag.deliveryWantsRoom);
}

// ---- the spill: records waiting for room in the delivery ring --------------------------------

/** In order, packed as bytes (spill-queue.ts): nothing per record on this thread's heap. */
const spill = new SpillQueue();
const bytesMax = data.deliveryBufferBytesMax;
/** Set once the spill passed bytesMax: nothing more is forwarded. */
let gaveUp = false;
/**
 * performance.now() when this thread last saw the main thread read the delivery ring (its read
 * position moved), or saw the ring empty: how long the application has not taken a delivery.
 */
let lastReadMs = performance.now();
let lastReadPosition = deliveryRing.readPosition();

/** Notes whether the main thread has read since the last look (each turn, and before giving up). */
function noteConsumer(): void {
  const position = deliveryRing.readPosition();
  if (position !== lastReadPosition || deliveryRing.usedBytes() === 0) {
    lastReadPosition = position;
    lastReadMs = performance.now();
  }
}

function spillEmpty(): boolean {
  return spill.length === 0 && !deliveryWriter.open;
}

/** What waits for the application beyond the delivery ring, in bytes. */
function bufferedBytes(): number {
  return spill.bytes + deliveryWriter.remainingBytes;
}

/** Before a record goes into the spill. */
function beforeSpill(): void {
  if (spillEmpty()) startWaiting();
}

/** After a record went into the spill. */
function afterSpill(): void {
  counters.recordsSpilled++;
  afterGrowth();
}

/** The first record waits: the main thread must ring this thread when it frees room. */
function startWaiting(): void {
  // F1 before the next check of room (wake-flags.ts): ready() checks it before every park.
  flags.set(WakeFlag.deliveryWantsRoom);
}

function afterGrowth(): void {
  const buffered = bufferedBytes();
  if (buffered > counters.spillBytesPeak) counters.spillBytesPeak = buffered;
  if (buffered > bytesMax && !gaveUp) giveUp(buffered);
}

/**
 * The application has left more than bytesMax unread: tell the token worker to leave the ring
 * (through shared memory: the main thread may be the one that is stuck) and the main thread why.
 * What is spilled stays (the main thread is told to stop; nothing reaches the application after
 * the error), nothing more is added.
 */
function giveUp(buffered: number): void {
  gaveUp = true;
  flags.set(WakeFlag.slowConsumer);
  tokenBell.wake();
  noteConsumer();
  const notReadMs = Math.round(performance.now() - lastReadMs);
  control.post({ code: 'slowConsumer', body: { bufferedBytes: buffered, bytesMax, notReadMs } });
}

/**
 * Writes what the spill holds into the delivery ring, oldest first, as far as room allows; rings
 * the main thread after the commits. Returns the records written (parts included).
 */
function writeSpill(): number {
  let written = 0;
  for (;;) {
    if (deliveryWriter.open) {
      written += deliveryWriter.writeSome();
      if (deliveryWriter.open) break;
    }
    if (spill.length === 0 || !spillFits()) break;
    deliveryWriter.begin(spill.peekType(), [spill.peek()]);
    written += deliveryWriter.writeSome();
    // The view is the spill's until shift(): what the ring cannot take yet, the writer copies.
    if (deliveryWriter.open) deliveryWriter.detach();
    spill.shift();
  }
  if (written > 0) mainBell.wake();
  if (spillEmpty()) flags.clear(WakeFlag.deliveryWantsRoom);
  return written;
}

/**
 * Forwards one record of `type` made of `segments` (copied if it must wait): straight into the
 * delivery ring when nothing waits before it, as parts when longer than partChunkBytes; the rest
 * goes to the spill. Rings the main thread after the commits.
 */
function forward(type: number, segments: readonly Uint8Array[]): void {
  if (gaveUp) {
    counters.recordsDroppedSlow++;
    return;
  }
  if (!spillEmpty()) {
    beforeSpill();
    spill.appendCopy(type, segments);
    afterSpill();
    return;
  }
  deliveryWriter.begin(type, segments);
  if (deliveryWriter.writeSome() > 0) mainBell.wake();
  if (deliveryWriter.open) {
    // The segments may be views of the frame ring: keep a copy of the rest only.
    deliveryWriter.detach();
    startWaiting();
    afterGrowth();
  }
}

function writeJson(type: number, bytes: Uint8Array): void {
  forward(type, [bytes]);
}

const assembler = new Assembler(
  { nodeId: self, messageBytesMax: data.messageBytesMax },
  {
    deliver(d: AppDelivery): void {
      counters.messagesDelivered++;
      if (d.sender === self && d.incarnation === data.incarnation) counters.ownDelivered++;
      if (traceWaitBeforeNextLine) waitForMainToCatchUp();
      trace?.write(deliveryTraceLine(self, d, Date.now()));
      if (!d.local) return;
      counters.messagesForwarded++;
      const name = names.encode(d.group);
      const stamps = isSampledCounter(d.counter) ? stampsOf(d) : null;
      const length = deliveryRecordBytes(name, d.payload, stamps !== null);
      if (length <= partChunkBytes && !gaveUp) {
        if (spillEmpty()) {
          // Encoded straight into the ring: the one copy of the payload on this thread.
          const offset = deliveryRing.tryClaim(RecordType.deliveryMessage, length);
          if (offset !== null) {
            encodeDelivery(deliveryView, deliveryRing.buffer, offset, d, name, stamps);
            deliveryRing.commit();
            // After the commit store (ring/doorbell.ts R1/R2); one load when the main thread is awake.
            mainBell.wake();
            return;
          }
        }
        // Encoded straight into the spill, in place as into the ring.
        beforeSpill();
        const at = spill.append(RecordType.deliveryMessage, length);
        encodeDelivery(spill.tailView, spill.tailBuffer, at, d, name, stamps);
        afterSpill();
        return;
      }
      const segments = [encodeDeliveryHead(d, name, stamps !== null), d.payload];
      if (stamps !== null) segments.push(deliveryStampsBytes(stamps));
      forward(RecordType.deliveryMessage, segments);
    },
    configuration(c: ConfigurationChange): void {
      counters.configurations++;
      waitForMainToCatchUp();
      trace?.write(configurationTraceLine(self, c, Date.now()));
      writeJson(RecordType.deliveryConfiguration, encodeConfiguration(c));
      traceWaitBeforeNextLine = trace !== null;
    },
    groupEvent(e: GroupEvent): void {
      counters.groupEvents++;
      writeJson(RecordType.deliveryGroupEvent, encodeGroupEvent(e));
    },
  },
);

// ---- anatomy stamps (anatomy.ts) ------------------------------------------------------------

/** The stamps of the frame record being assembled (the Assembler delivers synchronously). */
let frameMs = NaN;
let engineMs = NaN;
/**
 * Own sampled messages taken by the token worker, not yet delivered: counter and taken stamp, in
 * counter order. Bounded: the oldest are dropped past ownSamplesMax (a message that is never
 * delivered locally, e.g. to a group this node left, leaves its entry behind until then).
 */
const ownSamplesMax = 1024;
const ownSampleCounters: number[] = [];
const ownSampleTakenMs: number[] = [];

function stampsOf(d: AppDelivery): DeliveryStamps {
  let takenMs = NaN;
  if (d.sender === self && d.incarnation === data.incarnation) {
    while (ownSampleCounters.length > 0 && (ownSampleCounters[0] as number) < d.counter) {
      ownSampleCounters.shift();
      ownSampleTakenMs.shift();
    }
    if (ownSampleCounters[0] === d.counter) {
      takenMs = ownSampleTakenMs.shift() as number;
      ownSampleCounters.shift();
    }
  }
  return { takenMs, frameMs, engineMs, workerMs: clockMs(), pumpMs: NaN };
}

function onFrameRecord(type: number, buffer: Uint8Array, offset: number, length: number): void {
  if (type === RecordType.frameRecord) {
    frameMs = frameRecordFrameMs(frameView, offset);
    engineMs = frameRecordEngineMs(frameView, offset);
    assembler.onFrame(decodeFrame(frameView, buffer, offset, length));
  } else if (type === RecordType.frameSample) {
    if (ownSampleCounters.length >= ownSamplesMax) {
      ownSampleCounters.shift();
      ownSampleTakenMs.shift();
    }
    ownSampleCounters.push(frameView.getFloat64(offset, true));
    ownSampleTakenMs.push(frameView.getFloat64(offset + 8, true));
  } else if (type === RecordType.frameConfiguration) {
    assembler.onConfiguration(decodeConfiguration(buffer, offset, length));
  } else if (type === RecordType.frameRingState) {
    writeJson(RecordType.deliveryRingState, buffer.slice(offset, offset + length));
  } else {
    throw new Error(`delivery worker: unknown frame record type ${type}`);
  }
}

function stats(): Record<string, unknown> {
  return { ...counters, spillBytes: bufferedBytes(), bytesMax, traceOrderWaitsTimedOut, assembler: assembler.stats };
}

function checkDrained(): void {
  if (drainTarget !== null && counters.ownDelivered >= drainTarget) {
    drainTarget = null;
    control.post({ code: 'drained', body: stats() });
  }
}

/** Handles queued control messages. */
function handleControl(): void {
  for (let m = control.take(); m !== undefined; m = control.take()) {
    switch (m.code) {
      case 'stats':
        control.post({ code: 'stats', id: m.id ?? 0, body: stats() });
        break;
      case 'drain':
        drainTarget = m.count ?? 0;
        checkDrained();
        break;
      case 'stop':
        stopping = true;
        break;
      case 'crash':
        process.exit(1);
        break;
      default:
        throw new Error(`delivery worker: control code ${JSON.stringify(m.code)} is not for this worker`);
    }
  }
}

/** The W2 re-check: frames, room for what the spill holds, or a control message. */
function idleReady(): boolean {
  return frameRing.hasReadable() || (!spillEmpty() && spillFits()) || control.poll();
}

function spillFits(): boolean {
  if (deliveryWriter.open) return deliveryWriter.canWriteNext();
  const length = spill.peekLength();
  return deliveryRing.canClaim(length > partChunkBytes ? partHeaderBytes + partChunkBytes : length);
}

/** One turn: the spill into the delivery ring, a batch of the frame ring, then the drain check. */
function turn(): boolean {
  noteConsumer();
  const written = spillEmpty() ? 0 : writeSpill();
  const count = frameRing.read(onFrameRecord, frameBatchMax);
  // After read()'s head store, if the token worker waits for room (wake-flags.ts).
  if (count > 0 && flags.isSet(WakeFlag.tokenWantsRoom)) tokenBell.wake();
  checkDrained();
  return count > 0 || written > 0;
}

const steps: WorkerSteps = {
  takeControl: () => {
    handleControl();
    // 'stop' does not end the loop here: see mayStop.
    return false;
  },
  turn,
  // Stop only with the frame ring and the spill empty: the token worker has stopped before this is
  // asked, so everything it forwarded reaches the main thread (which reads on during close; a
  // main thread that does not is bounded by close()'s stop timeout). Once the node gave up on its
  // application the spill no longer matters.
  mayStop: (busy) => !busy && stopping && (spillEmpty() || gaveUp),
  // No deadline of its own: it waits for frames, room (the main thread rings while
  // deliveryWantsRoom is set) or control.
  parkMs: () => Infinity,
  ready: idleReady,
  finish: stats,
  release: () => trace?.close(),
};

runWorkerLoop(control, port, deliveryBell, steps);
