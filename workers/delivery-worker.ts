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
 * frame and the main thread rings after each read of the delivery ring (room) and after each
 * control message. A full delivery ring makes it wait: nothing is dropped. Asked to stop, it
 * still forwards everything the frame ring holds, then replies 'stopped' and closes its trace.
 *
 * A record longer than partChunkBytes (a large message, in principle a configuration) is written
 * as parts and a final record (ring/chunks.ts), waiting for room between them as for any record:
 * the main thread reads and frees every part as it comes, so a message larger than the whole
 * delivery ring goes through it.
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
import { ChunkWriter } from './ring/chunks.js';
import { SyncControl } from './control.js';
import { parkMsMax, runWorkerLoop } from './worker-loop.js';
import type { WorkerSteps } from './worker-loop.js';
import { WakeFlag, WakeFlags } from './wake-flags.js';
import {
  decodeConfiguration,
  decodeFrame,
  deliveryRecordBytes,
  encodeConfiguration,
  encodeDelivery,
  encodeDeliveryHead,
  encodeGroupEvent,
  partChunkBytes,
  RecordType,
  ringView,
} from './records.js';
import type { DeliveryWorkerData } from './worker-data.js';

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
  /** Times this thread waited for room in the delivery ring. */
  roomWaits: 0,
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
  if (deliveryRing.usedBytes() === 0) return;
  const deadlineMs = Date.now() + traceOrderWaitMsMax;
  // F1 before the check (wake-flags.ts): the main thread rings after a read only then.
  flags.set(WakeFlag.deliveryWantsRoom);
  const ready = (): boolean => deliveryRing.usedBytes() === 0 || control.poll();
  while (deliveryRing.usedBytes() !== 0 && !stopping) {
    const leftMs = deadlineMs - Date.now();
    if (leftMs <= 0) {
      traceOrderWaitsTimedOut++;
      break;
    }
    deliveryBell.waitSync(Math.min(parkMsMax, leftMs), ready);
    if (control.poll()) handleControl(true);
  }
  flags.clear(WakeFlag.deliveryWantsRoom);
}

function waitForRoom(lengthBytes: number): void {
  counters.roomWaits++;
  // F1 before any check of room (wake-flags.ts): the main thread rings after a read only then.
  flags.set(WakeFlag.deliveryWantsRoom);
  const ready = (): boolean => deliveryRing.canClaim(lengthBytes) || control.poll();
  while (!deliveryRing.canClaim(lengthBytes)) {
    deliveryBell.waitSync(parkMsMax, ready);
    // Keep answering the main thread while blocked (stats); 'crash' must work here too.
    if (control.poll()) handleControl(true);
  }
  flags.clear(WakeFlag.deliveryWantsRoom);
}

function claim(type: number, lengthBytes: number): number {
  let offset = deliveryRing.tryClaim(type, lengthBytes);
  while (offset === null) {
    waitForRoom(lengthBytes);
    offset = deliveryRing.tryClaim(type, lengthBytes);
  }
  return offset;
}

/**
 * Writes one record of `type` made of `segments`, as parts when it is longer than partChunkBytes,
 * waiting for room between records. Rings the main thread after every batch of commits.
 */
function writeChunked(type: number, segments: readonly Uint8Array[]): void {
  deliveryWriter.begin(type, segments);
  for (;;) {
    if (deliveryWriter.writeSome() > 0) mainBell.wake();
    if (!deliveryWriter.open) return;
    waitForRoom(deliveryWriter.nextRecordBytes());
  }
}

function writeJson(type: number, bytes: Uint8Array): void {
  writeChunked(type, [bytes]);
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
      const length = deliveryRecordBytes(name, d.payload);
      if (length > partChunkBytes) {
        writeChunked(RecordType.deliveryMessage, [encodeDeliveryHead(d, name), d.payload]);
        return;
      }
      // Encoded straight into the ring: the one copy of the payload on this thread.
      const offset = claim(RecordType.deliveryMessage, length);
      encodeDelivery(deliveryView, deliveryRing.buffer, offset, d, name);
      deliveryRing.commit();
      // After the commit store (ring/doorbell.ts R1/R2); one load when the main thread is awake.
      mainBell.wake();
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

function onFrameRecord(type: number, buffer: Uint8Array, offset: number, length: number): void {
  if (type === RecordType.frameRecord) {
    assembler.onFrame(decodeFrame(frameView, buffer, offset, length));
  } else if (type === RecordType.frameConfiguration) {
    assembler.onConfiguration(decodeConfiguration(buffer, offset, length));
  } else if (type === RecordType.frameRingState) {
    writeJson(RecordType.deliveryRingState, buffer.slice(offset, offset + length));
  } else {
    throw new Error(`delivery worker: unknown frame record type ${type}`);
  }
}

function stats(): Record<string, unknown> {
  return { ...counters, traceOrderWaitsTimedOut, assembler: assembler.stats };
}

function checkDrained(): void {
  if (drainTarget !== null && counters.ownDelivered >= drainTarget) {
    drainTarget = null;
    control.post({ code: 'drained', body: stats() });
  }
}

/** Handles queued control messages. `blocked`: called from inside a delivery (waiting for room). */
function handleControl(blocked: boolean): void {
  for (let m = control.take(); m !== undefined; m = control.take()) {
    switch (m.code) {
      case 'stats':
        control.post({ code: 'stats', id: m.id ?? 0, body: stats() });
        break;
      case 'drain':
        drainTarget = m.count ?? 0;
        if (!blocked) checkDrained();
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

function idleReady(): boolean {
  return frameRing.hasReadable() || control.poll();
}

/** One turn: a batch of the frame ring through the Assembler, then the drain check. */
function turn(): boolean {
  const count = frameRing.read(onFrameRecord, frameBatchMax);
  // After read()'s head store, if the token worker waits for room (wake-flags.ts).
  if (count > 0 && flags.isSet(WakeFlag.tokenWantsRoom)) tokenBell.wake();
  checkDrained();
  return count > 0;
}

const steps: WorkerSteps = {
  takeControl: () => {
    handleControl(false);
    // 'stop' does not end the loop here: see mayStop.
    return false;
  },
  turn,
  // Stop only with the frame ring empty: the token worker has stopped before this is asked, so
  // everything it forwarded reaches the main thread.
  mayStop: (busy) => !busy && stopping,
  // No deadline of its own: it waits for frames, room or control.
  parkMs: () => Infinity,
  ready: idleReady,
  finish: stats,
  release: () => trace?.close(),
};

runWorkerLoop(control, port, deliveryBell, steps);
