/**
 * Token worker: runs the ordering and membership layer (Srp) and the sender side of the group
 * layer (Packer) on real time, performance.now() in ms (monotonic, as the engine requires).
 *
 * Loop, one thread, no event loop (the skeleton is worker-loop.ts; these are its steps):
 *   take control messages (receiveMessageOnPort); 'stop' ends the loop at once
 *   in ring: copy each packet out (the engine keeps references to what it is given), onPacket
 *   timers due: onTimer
 *   submit ring: hand each submission to the Packer; when the Packer holds two visits' worth of
 *     frames (feedFramesMax) or refuses (its send queue is full), keep it and stop reading the
 *     ring until a token visit has taken frames: the ring then fills and the main thread's submit
 *     returns false (backpressure)
 *   nothing to do: Atomics.wait on the one doorbell word both input rings ring, until the next
 *     timer deadline
 *   stopped: ring the consumers owed a bell, reply 'stopped', close the trace file
 *
 * Effects: host.send → out ring (net worker), and own broadcasts also straight back to the engine
 * at the next turn of the loop (loopback); deliverFrame and configurations → frame ring
 * (delivery worker); storeRingSeq → the state store, synchronously, before the packet announcing
 * the ring leaves (the engine calls it first). When an output ring is full this thread waits for
 * room on its own doorbell (the consumers ring it after every read): a frame delivery is never
 * dropped; an outbound packet is dropped only after outRoomWaitMs without room (counted), which
 * the protocol survives as a loss.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { GroupNameDecoder } from '../engine/groups/group-names.js';
import { RingNode } from '../engine/ring-node.js';
import type { ConfigurationChange, DeliveredFrame, LogLevel as EngineLogLevel, MembershipState, Order } from '../engine/types.js';
import { openStateStore } from './state-store.js';
import type { StateStore } from './state-store.js';
import { FileTraceWriter } from './trace/trace-writer.js';
import { sendLine } from './trace/trace-lines.js';
import { isLogLevel } from './logger.js';
import type { LogLevel, Logger } from './logger.js';
import { Doorbell } from './ring/doorbell.js';
import { SpscRing } from './ring/spsc-ring.js';
import { ChunkReader } from './ring/chunks.js';
import { SyncControl } from './control.js';
import { parkMsMax, runWorkerLoop } from './worker-loop.js';
import type { WorkerSteps } from './worker-loop.js';
import { WakeFlag, WakeFlags } from './wake-flags.js';
import {
  chunkedRecordBytesMax,
  encodeConfiguration,
  encodeFrame,
  encodeOutPacket,
  frameHeaderBytes,
  frameSampleBytes,
  membershipStates,
  orderFromWire,
  outHeaderBytes,
  RecordType,
  ringView,
  submitHeaderBytes,
} from './records.js';
import type { TokenWorkerData } from './worker-data.js';
import { clockMs, isSampledCounter } from './anatomy.js';
import { FrameStamps } from './frame-stamps.js';
import { sampledTokenSeq, TokenHopRing } from './token-hops.js';
import { PacketType } from '../engine/types.js';

const data = workerData as TokenWorkerData;
const port: MessagePort = data.port;
const control = new SyncControl(port, 'token');

/** Records taken per read() of one ring before the loop looks at the others. */
const inBatchMax = 256;
const submitBatchMax = 64;
/**
 * Frames of backlog the Packer is fed up to: two token visits' worth (maxMessages each). More
 * buys no throughput (a visit sends at most maxMessages) and only adds queueing delay: at
 * saturation a message waits for everything queued ahead of it, and the Packer's own bound
 * (sendQueueBytesMax, 4 MiB) is a quarter of a second at 15 MB/s. A message is always taken when
 * the backlog is below this, whatever its size.
 */
const feedFramesMax = 2 * data.engine.maxMessages;
/** Longest wait for room in the out ring before a packet is dropped (the last resort). */
const outRoomWaitMs = 200;

const inRing = new SpscRing(data.rings.in);
const submitRing = new SpscRing(data.rings.submit);
/**
 * Submissions larger than partChunkBytes arrive as parts (ring/chunks.ts). Parts are read, and
 * their room freed, whenever submissions are read, before the final record makes the message
 * pending: the main thread may still be writing the rest, and waits for that room.
 */
const submitReader = new ChunkReader(submitRing, RecordType.submitPart, chunkedRecordBytesMax(data.engine.messageBytesMax));
const outRing = new SpscRing(data.rings.out);
const frameRing = new SpscRing(data.rings.frames);
const outView = ringView(outRing.buffer);
const frameView = ringView(frameRing.buffer);
const bells = data.rings.bells;
const tokenBell = new Doorbell(bells.token.sab, bells.token.byteOffset);
const netBell = new Doorbell(bells.net.sab, bells.net.byteOffset);
const deliveryBell = new Doorbell(bells.delivery.sab, bells.delivery.byteOffset);
const mainBell = new Doorbell(bells.main.sab, bells.main.byteOffset);
const flags = new WakeFlags(data.rings.flags);

const severity: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const threshold = severity[data.logLevel];
function log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
  if (severity[level] > threshold) return;
  control.log(level, message, fields);
}
const workerLogger: Logger = {
  error: (m, f) => log('error', m, f),
  warn: (m, f) => log('warn', m, f),
  info: (m, f) => log('info', m, f),
  debug: (m, f) => log('debug', m, f),
};

const counters = {
  /** Outbound packets dropped after outRoomWaitMs without room in the out ring. */
  outRingFull: 0,
  /** Times this thread waited for room in an output ring. */
  roomWaits: 0,
  /** Application messages the Packer took (the last counter assigned). */
  messagesSubmitted: 0,
};

interface PendingSubmission {
  type: number;
  group: string;
  order: Order;
  payload: Uint8Array;
}

/** Submissions read from the ring but not yet taken by the Packer, in ring order. */
const pending: PendingSubmission[] = [];
let started = false;
let stopping = false;
/** 'leave' was asked for; 'left' is posted once the engine has sent its last leave copy. */
let leaveAsked = false;
let leftPosted = false;

const engine = data.engine;
const store: StateStore | null =
  data.stateDir === null ? null : openStateStore(data.stateDir, engine.nodeId, Date.now(), workerLogger);
const trace = data.traceDir === null ? null : new FileTraceWriter(data.traceDir, engine.nodeId, data.incarnation);
const names = new GroupNameDecoder();

// Srp + Packer and the announce rule, composed as TotemNode composes them (engine/ring-node.ts).
const ringNode = new RingNode(engine, {
  send: sendPacket,
  deliverFrame: writeFrame,
  configuration: onConfiguration,
  storeRingSeq: (seq) => {
    // Synchronous and durable (fsync) before the engine lets the commit token leave.
    store?.storeRingSeq(seq);
  },
  log: (level: EngineLogLevel, message: string) => {
    if (isLogLevel(level)) log(level, message);
  },
});
const { srp, packer } = ringNode;

// ---- output rings ----------------------------------------------------------------------------

/**
 * Parks on this thread's doorbell until `ring` can take a record of lengthBytes, or deadlineMs
 * passes. The consumer rings this doorbell after every read(). Control messages that arrive in the
 * meantime are queued for the main loop.
 */
function waitForRoom(ring: SpscRing, lengthBytes: number, deadlineMs: number): boolean {
  counters.roomWaits++;
  // The consumer we wait on may be parked with records it has not been rung for.
  ringBells();
  // F1 before any check of room (wake-flags.ts): the net and delivery workers ring only then.
  flags.set(WakeFlag.tokenWantsRoom);
  try {
    const ready = (): boolean => ring.canClaim(lengthBytes) || control.poll();
    for (;;) {
      if (ring.canClaim(lengthBytes)) return true;
      const leftMs = deadlineMs - performance.now();
      if (leftMs <= 0) return false;
      tokenBell.waitSync(Math.min(leftMs, parkMsMax), ready);
      // A 'crash' must work even while blocked here, and a stop must not wait for room forever.
      if (control.poll() && handleUrgentControl()) return false;
    }
  } finally {
    flags.clear(WakeFlag.tokenWantsRoom);
  }
}

/**
 * Own broadcasts and packets to this node, for the engine to receive at the next turn of the
 * loop (never recursively: engine/README.md). Looping them back here rather than through the net
 * worker saves two thread hand-offs per own frame: an own message is delivered (and its
 * application sees it) without waiting for the net worker to be scheduled and to wake this
 * thread again. A copy: the engine gives no promise about the bytes it passed to send.
 */
let loopback: Uint8Array[] = [];

// ---- anatomy stamps (anatomy.ts, frame-stamps.ts) ------------------------------------------

const frameStamps = new FrameStamps();
/** The token's path through this thread, sampled (token-hops.ts). */
const hopsTaken = new TokenHopRing();
const hopsForwarded = new TokenHopRing();

/** Tells the delivery worker when an own sampled message was taken (it matches it at delivery). */
function writeSample(counter: number): void {
  const takenMs = clockMs();
  writeFrameRecord(RecordType.frameSample, frameSampleBytes, (offset) => {
    frameView.setFloat64(offset, counter, true);
    frameView.setFloat64(offset + 8, takenMs, true);
  });
}

function sendPacket(to: number, bytes: Uint8Array, selfCopy: boolean): void {
  const hopSeq = sampledTokenSeq(bytes, 0, bytes.length);
  if (hopSeq !== null) hopsForwarded.stamp(hopSeq);
  // An own new data frame (or its retransmission: the first stamp stays): its broadcast time.
  if (to === 0 && !selfCopy) frameStamps.stampOwnBroadcast(bytes, engine.nodeId);
  // Own data frames (selfCopy false) are already in the engine's ring: looping them back would
  // cost a copy, a decode and a duplicate drop per frame on the node that sends the most.
  if (to === 0 ? selfCopy : to === engine.nodeId) {
    loopback.push(bytes.slice());
    if (to !== 0) return;
  }
  const length = outHeaderBytes + bytes.length;
  let offset = outRing.tryClaim(RecordType.outPacket, length);
  if (offset === null) {
    if (waitForRoom(outRing, length, performance.now() + outRoomWaitMs)) {
      offset = outRing.tryClaim(RecordType.outPacket, length);
    }
    if (offset === null) {
      counters.outRingFull++;
      return;
    }
  }
  encodeOutPacket(outView, outRing.buffer, offset, to, bytes);
  outRing.commit();
  // Rung by ringBells() once the engine call that sent this returns: a token visit sends up to
  // maxMessages frames and the token, and one wake for all of them spares the net worker a
  // futex round trip per frame (it would wake, drain one packet, and park again).
  netBellDue = true;
  // The token is the visit's last send (its frames went before it), but the engine delivers after
  // forwarding it (step 17): ring now, so the token leaves while this thread delivers.
  if (bytes[1] === PacketType.token) ringNetBell();
}

/** Whether a record was committed to the out ring (net) or frame ring (delivery) since the last ring. */
let netBellDue = false;
let deliveryBellDue = false;

/**
 * Rings the consumers of the output rings that got records since the last call. Called after every
 * engine call that may send (the token must leave without waiting for the rest of a batch), at the
 * end of each input batch for deliveries, and before this thread parks or waits for room: a
 * consumer never waits on a record whose bell is still owed (ring/doorbell.ts: ring once per
 * batch, before the producer stops producing).
 */
function ringBells(): void {
  ringNetBell();
  if (deliveryBellDue) {
    deliveryBellDue = false;
    deliveryBell.wake();
  }
}

/** The net worker's part of ringBells(): after an engine call, so the token leaves at once. */
function ringNetBell(): void {
  if (netBellDue) {
    netBellDue = false;
    netBell.wake();
  }
}

function writeFrameRecord(type: number, length: number, encode: (offset: number) => void): void {
  let offset = frameRing.tryClaim(type, length);
  while (offset === null) {
    // Never drop a delivery: wait as long as it takes (the delivery worker always drains).
    if (!waitForRoom(frameRing, length, performance.now() + parkMsMax) && stopping) return;
    offset = frameRing.tryClaim(type, length);
  }
  encode(offset);
  frameRing.commit();
  deliveryBellDue = true;
}

function writeFrame(frame: DeliveredFrame): void {
  const frameMs = frameStamps.of(frame);
  const engineMs = clockMs();
  writeFrameRecord(RecordType.frameRecord, frameHeaderBytes + frame.payload.length, (offset) =>
    encodeFrame(frameView, frameRing.buffer, offset, frame, frameMs, engineMs),
  );
}

/** The membership state last written to the frame ring; none before the start. */
let ringStateWritten: MembershipState | null = null;

/** Tells the delivery worker (and so the main thread) when the membership state changed. */
function noteRingState(): void {
  const state = srp.membershipState;
  if (state === ringStateWritten) return;
  ringStateWritten = state;
  const code = membershipStates.indexOf(state);
  writeFrameRecord(RecordType.frameRingState, 1, (offset) => {
    frameRing.buffer[offset] = code;
  });
}

function onConfiguration(change: ConfigurationChange): void {
  const bytes = encodeConfiguration(change);
  writeFrameRecord(RecordType.frameConfiguration, bytes.length, (offset) => frameRing.buffer.set(bytes, offset));
  // The ring node then applies the announce rule (its groups after a configuration that joined someone).
}

// ---- input rings -----------------------------------------------------------------------------

let nowMs = 0;

function onInRecord(type: number, buffer: Uint8Array, offset: number, length: number): void {
  if (type !== RecordType.inPacket) throw new Error(`token worker: unknown in record type ${type}`);
  frameStamps.stamp(buffer, offset, length);
  const token = length > 1 && buffer[offset + 1] === PacketType.token;
  if (token) {
    const hopSeq = sampledTokenSeq(buffer, offset, length);
    if (hopSeq !== null) hopsTaken.stamp(hopSeq);
  }
  // A submission that came in while the token was away leaves with this visit, not the next.
  if (token) takeSubmissions();
  // A copy: the engine keeps the bytes (sort queue) and the ring reuses them after this handler.
  srp.onPacket(nowMs, buffer.slice(offset, offset + length));
  afterPacket(token);
}

/**
 * After the engine took a packet: the net worker at once (the token leaves). The engine delivers
 * only at token visits (step 17, and Recovery's), so after a token the delivery worker is rung
 * too, rather than after the rest of the batch: at most one wake per visit, as at the end of the
 * turn, but the visit's deliveries no longer wait for the packets read after the token.
 */
function afterPacket(token: boolean): void {
  if (token) ringBells();
  else ringNetBell();
}

/** Hands the looped-back packets to the engine; those it sends meanwhile wait for the next turn. */
function receiveLoopback(): number {
  if (loopback.length === 0) return 0;
  const batch = loopback;
  loopback = [];
  for (const bytes of batch) {
    const token = bytes[1] === PacketType.token;
    if (token) takeSubmissions();
    srp.onPacket(nowMs, bytes);
    afterPacket(token);
  }
  return batch.length;
}

function onSubmitRecord(type: number, buffer: Uint8Array, offset: number, length: number, owned: boolean): void {
  if (type === RecordType.submitMessage) {
    const nameBytes = buffer[offset + 1] as number;
    const nameStart = offset + submitHeaderBytes;
    pending.push({
      type,
      group: groupName(buffer, nameStart, nameBytes),
      order: orderFromWire(buffer[offset] as number),
      // The Packer keeps the payload by reference until the message is broadcast: a copy out of
      // the ring, or a view of a reassembled record, which is this message's alone.
      payload: owned ? buffer.subarray(nameStart + nameBytes, offset + length) : buffer.slice(nameStart + nameBytes, offset + length),
    });
  } else if (type === RecordType.submitJoin || type === RecordType.submitLeave) {
    pending.push({ type, group: groupName(buffer, offset, length), order: 'agreed', payload: emptyPayload });
  } else {
    throw new Error(`token worker: unknown submit record type ${type}`);
  }
}

const emptyPayload = new Uint8Array(0);

function groupName(buffer: Uint8Array, start: number, length: number): string {
  const name = names.decode(buffer, start, length);
  if (name === null) throw new Error('token worker: a submitted group name is not UTF-8');
  return name;
}

/** Hands pending submissions to the Packer, in order, until it refuses one. */
function feedPacker(): boolean {
  let fed = false;
  while (pending.length > 0) {
    const p = pending[0] as PendingSubmission;
    if (p.type === RecordType.submitMessage) {
      if (packer.backlogFrames() >= feedFramesMax) break;
      const counter = packer.submit(p.group, p.payload, p.order);
      if (counter === false) break;
      counters.messagesSubmitted = counter;
      if (isSampledCounter(counter)) writeSample(counter);
      // Right after the counter is assigned, before any frame of it can be broadcast.
      trace?.write(sendLine({
        node: engine.nodeId,
        incarnation: engine.incarnation,
        counter,
        order: p.order,
        group: p.group,
        tMs: Date.now(),
      }));
    } else if (p.type === RecordType.submitJoin) {
      packer.submitJoin(p.group);
    } else {
      packer.submitLeave(p.group);
    }
    pending.shift();
    fed = true;
  }
  // The main thread rings for submissions only while they are taken (wake-flags.ts) and a wake
  // changes when they leave: the flag is set before the loop next looks at the ring, and cleared
  // while the Packer is not fed or the token keeps coming anyway.
  if (pending.length === 0 && submissionWakeHelps()) flags.set(WakeFlag.tokenTakesSubmissions);
  else flags.clear(WakeFlag.tokenTakesSubmissions);
  if (fed) {
    srp.onSubmit();
    ringNetBell();
  }
  return fed;
}

/**
 * Idle token visits in a row from which a submission rings this thread: half the count past which
 * the representative holds the token (each member counts within a visit or two of it).
 */
const submissionWakeIdleRotations = Math.floor(engine.seqnoUnchangedConst / 2);

/**
 * Whether a submission should wake this thread rather than wait for the next token visit, which
 * takes it anyway (takeSubmissions): only when the token may stop coming, i.e. the ring is idle
 * and the representative may hold it (srp.onSubmit then releases it or asks for it), or when
 * there is no operational ring to bring the token. Otherwise the wake moved nothing earlier: the
 * message leaves with the token's next visit either way, and each wake cost the main thread a
 * futex call in send() and a thread switch on a host of 2 cores, in the token's way.
 */
function submissionWakeHelps(): boolean {
  return srp.membershipState !== 'operational' || srp.idleRotations >= submissionWakeIdleRotations;
}

/**
 * Right before a token visit: what waits in the submit ring goes to the Packer, so the visit
 * broadcasts it. Without this, a submission that arrived while the token was away waited for the
 * next rotation whenever the token came in the same turn (the turn reads packets first).
 */
function takeSubmissions(): void {
  if (!started) return;
  feedPacker();
  if (readSubmissions() > 0) feedPacker();
}

function readSubmissions(): number {
  // Read more only once everything read before was taken: the Packer's refusal is what holds the
  // ring back (backpressure), and order must be kept.
  if (pending.length > 0) return 0;
  const count = submitReader.read(onSubmitRecord, submitBatchMax);
  // After read()'s head store, if the main thread waits for room (writable).
  if (count > 0 && flags.isSet(WakeFlag.mainWantsRoom)) mainBell.wake();
  return count;
}

// ---- control ---------------------------------------------------------------------------------

function stats(withTokenHops = false): Record<string, unknown> {
  return {
    engine: srp.stats(),
    messagesSubmitted: counters.messagesSubmitted,
    outRingFull: counters.outRingFull,
    roomWaits: counters.roomWaits,
    pendingSubmissions: pending.length,
    queuedEntries: packer.queuedEntries(),
    ...(withTokenHops ? { tokenHops: { taken: hopsTaken.samples(), forwarded: hopsForwarded.samples() } } : {}),
  };
}

/**
 * How long the engine may wait for this node's own frames to be held by every member before it
 * announces a leave the delivery worker asked for (slow consumer): the main thread has stopped
 * taking deliveries, so this node's last messages should still reach the others, but the leave
 * must not wait on a ring that is re-forming. Two default token timeouts' worth.
 */
const slowConsumerLeaveWaitMs = 2000;

/**
 * The delivery worker set the slowConsumer flag (wake-flags.ts): its buffer passed
 * deliveryBufferBytesMax. Leave the ring as close() does; 'left' tells the main thread when the
 * last copy is out. Read here rather than from the main thread, which may be the stalled one.
 */
function checkSlowConsumer(): boolean {
  if (leaveAsked || !flags.isSet(WakeFlag.slowConsumer)) return false;
  leaveAsked = true;
  // nowMs, the turn's time: the packets of this turn are handed over at it, and the engine
  // refuses time that goes backwards.
  if (started) srp.leave(nowMs, slowConsumerLeaveWaitMs);
  ringNetBell();
  postLeftOnce();
  return true;
}

/** Replies 'left' once, when the engine has sent its last leave copy (or never started). */
function postLeftOnce(): void {
  if (!leaveAsked || leftPosted || (started && !srp.hasLeft)) return;
  leftPosted = true;
  control.post({ code: 'left', body: { engine: srp.stats() } });
}

/** Handles what cannot wait for the main loop; returns true when the loop must stop. */
function handleUrgentControl(): boolean {
  const m = control.take();
  if (m === undefined) return false;
  switch (m.code) {
    case 'start':
      if (!started) {
        started = true;
        srp.start(performance.now());
        noteRingState();
        ringBells();
      }
      break;
    case 'stats':
      control.post({ code: 'stats', id: m.id ?? 0, body: stats(m.tokenHops === true) });
      break;
    case 'leave':
      if (!leaveAsked) {
        leaveAsked = true;
        // Before the start no ring knows this node: nothing to announce.
        if (started) srp.leave(performance.now(), Math.max(0, m.waitMs ?? 0));
        ringNetBell();
        postLeftOnce();
      }
      break;
    case 'stop':
      stopping = true;
      break;
    case 'crash':
      process.exit(1);
      break;
    default:
      throw new Error(`token worker: control code ${JSON.stringify(m.code)} is not for this worker`);
  }
  return stopping || handleUrgentControl();
}

// ---- main loop (worker-loop.ts) -------------------------------------------------------------

function idleReady(): boolean {
  // Before the start only control can end the park: packets may already wait in the in ring.
  if (!started) return control.poll();
  // W2 re-check: new packets, new submissions (only if the Packer is taking them), or a control
  // message. Looking at the port here closes the gap between the last poll and the sleep.
  return (
    inRing.hasReadable() ||
    (pending.length === 0 && submitRing.hasReadable()) ||
    control.poll() ||
    (!leaveAsked && flags.isSet(WakeFlag.slowConsumer))
  );
}

/** One turn: loopback, in ring, timers, submissions. Nothing runs before 'start'. */
function turn(): boolean {
  if (!started) return false;
  nowMs = performance.now();
  let work = checkSlowConsumer() ? 1 : 0;
  work += receiveLoopback();
  work += inRing.read(onInRecord, inBatchMax);
  // After read()'s head store: the net worker never waits for room, but the wake is one load.
  if (srp.nextTimerMs() <= (nowMs = performance.now())) {
    srp.onTimer(nowMs);
    ringNetBell();
    work++;
  }
  if (feedPacker()) work++;
  const read = readSubmissions();
  if (read > 0 && feedPacker()) work++;
  work += read;
  noteRingState();
  ringBells();
  if (leaveAsked) postLeftOnce();
  return work > 0 || loopback.length > 0;
}

const steps: WorkerSteps = {
  takeControl: handleUrgentControl,
  turn,
  // A 'stop' taken while a turn waited for room ends the loop before another turn, as one taken
  // by takeControl does: no more packets, frames or ring seqs once the main thread has asked.
  mayStop: () => stopping,
  // Until the engine's next timer; before the start there is none.
  parkMs: () => (started ? srp.nextTimerMs() - performance.now() : parkMsMax),
  ready: idleReady,
  finish: () => {
    // Shutdown order: the consumers of records already committed are rung, then 'stopped'.
    ringBells();
    return stats();
  },
  release: () => trace?.close(),
};

runWorkerLoop(control, port, tokenBell, steps);
