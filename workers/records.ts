/**
 * Every record that crosses a ring of the runtime, defined once: type ids, byte layouts and the
 * encode/decode helpers both ends use. Binary and little-endian, like engine/wire/layout.ts.
 * Configuration and group events travel as JSON (rare: one per membership or group change), with
 * the 64-bit ring seq as a decimal string since JSON has no bigint.
 *
 * Rings (producer → consumer) and their records:
 *
 *   submit   main → token       submitMessage | submitJoin | submitLeave | submitPart
 *   in       net → token        inPacket
 *   out      token → net        outPacket
 *   frames   token → delivery   frameRecord | frameConfiguration
 *   delivery delivery → main    deliveryMessage | deliveryConfiguration | deliveryGroupEvent
 *                               | deliveryPart
 *
 * Layouts (offsets in bytes from the start of the record's payload; the ring's own 8-byte header
 * holds the length and the type id):
 *
 *   submitMessage       0 order u8 (0 agreed, 1 safe) | 1 group length u8 | 2 group UTF-8
 *                       | 2+g payload
 *   submitJoin / Leave  0 group UTF-8
 *   inPacket            0 engine packet (plain: already opened by the net worker)
 *   outPacket           0 destination u32 (0 = every member, this node included) | 4 engine packet
 *   frameRecord         0 ring rep u32 | 4 seq u32 | 8 originator u32 | 12 order u8
 *                       | 13 transitional u8 | 14 pad 2 | 16 ring seq u64 | 24 frame ms f64
 *                       | 32 engine ms f64 | 40 frame payload   (stamps: workers/anatomy.ts)
 *   frameSample         0 counter f64 | 8 taken ms f64   (an own sampled message: anatomy.ts)
 *   frameConfiguration  0 JSON of ConfigurationChange
 *   deliveryMessage     0 sender u32 | 4 ring rep u32 | 8 incarnation f64 | 16 counter f64
 *                       | 24 ring seq u64 | 32 order u8 | 33 transitional u8
 *                       | 34 group length u8 | 35 flags u8 | 36 pad 4 | 40 group UTF-8
 *                       | 40+g payload | (flags bit 0: stamps, the last 32 bytes: taken ms,
 *                       frame ms, engine ms, worker ms, f64 each; anatomy.ts)
 *   deliveryConfiguration / deliveryGroupEvent   0 JSON
 *   submitPart / deliveryPart   0 message length u32 | 4 chunk offset u32 | 8 chunk
 *
 * A record longer than partChunkBytes (a submitMessage or deliveryMessage of a large payload, in
 * principle any record of those two rings) crosses as parts followed by a final record of its own
 * type holding the last chunk: ring/chunks.ts. The reader reassembles the record's bytes, so the
 * layouts above describe the whole record whichever way it crossed.
 *
 * Incarnation and counter are f64: both are safe integers that can pass 2^32 (an incarnation is a
 * time in ms), and an f64 holds every safe integer exactly.
 */
import type {
  AppDelivery,
  ConfigurationChange,
  DeliveredFrame,
  GroupEvent,
  MembershipState,
  Order,
  NodeId,
  RingId,
} from '../engine/types.js';
import { ORDER_AGREED, ORDER_SAFE } from '../engine/types.js';
import { assert } from '../engine/assert.js';
import { groupNameBytesMax } from '../engine/constants.js';
import { clockMs, deliveryStampBytes } from './anatomy.js';
import type { DeliveryStamps } from './anatomy.js';

// ---- type ids (>= 1; the ring reserves -1 and 0) --------------------------------------------

export const RecordType = {
  submitMessage: 1,
  submitJoin: 2,
  submitLeave: 3,
  inPacket: 1,
  outPacket: 1,
  frameRecord: 1,
  frameConfiguration: 2,
  frameRingState: 3,
  frameSample: 4,
  deliveryMessage: 1,
  deliveryConfiguration: 2,
  deliveryGroupEvent: 3,
  deliveryPart: 4,
  deliveryRingState: 5,
  submitPart: 4,
} as const;

/**
 * The engine's membership state as one byte (frameRingState, deliveryRingState): written when it
 * changed over a token-worker turn, in the frame ring's order, so the main thread sees 'gather'
 * before the configurations that end it.
 */
export const membershipStates = ['operational', 'gather', 'commit', 'recovery'] as const satisfies readonly MembershipState[];

// ---- sizes -----------------------------------------------------------------------------------

export const submitHeaderBytes = 2;
export const outHeaderBytes = 4;
export const frameHeaderBytes = 40;
export const frameSampleBytes = 16;
/** deliveryMessage flags (byte 35): the record ends with the message's stamps. */
export const deliveryFlagStamped = 0x01;
export const deliveryHeaderBytes = 40;

/**
 * Largest record the submit and delivery rings carry as one record; a longer one crosses as
 * chunks of this size (ring/chunks.ts). 64 KiB: the 1 KiB messages of a busy ring and every
 * configuration stay single records encoded in place; a 1 MiB message is 17 records (the 16
 * header bytes of each are noise next to 64 KiB of copying); a part fits the record limit
 * (capacity / 8) of any ring from 1 MiB up, and the padding it may leave at the wrap costs at
 * most about 1/16 of such a ring.
 */
export const partChunkBytes = 64 * 1024;

/** Largest submitMessage record for a payload of payloadBytes (longest group name). */
export function submitRecordBytesMax(payloadBytes: number): number {
  return submitHeaderBytes + groupNameBytesMax + payloadBytes;
}

/** Largest deliveryMessage record for a payload of payloadBytes (longest group name). */
export function deliveryRecordBytesMax(payloadBytes: number): number {
  return deliveryHeaderBytes + groupNameBytesMax + payloadBytes + deliveryStampBytes;
}

/**
 * Largest record of either message-carrying ring for messageBytesMax: what a ChunkReader may be
 * asked to reassemble. JSON records (configurations, group events) are far below it.
 */
export function chunkedRecordBytesMax(messageBytesMax: number): number {
  return Math.max(submitRecordBytesMax(messageBytesMax), deliveryRecordBytesMax(messageBytesMax), 1024 * 1024);
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function orderToWire(g: Order): number {
  return g === 'safe' ? ORDER_SAFE : ORDER_AGREED;
}

export function orderFromWire(v: number): Order {
  assert(v === ORDER_AGREED || v === ORDER_SAFE, 'record: order is 0 or 1');
  return v === ORDER_SAFE ? 'safe' : 'agreed';
}

/**
 * A DataView over a ring's data region, made once per ring and side: records are decoded in place
 * with it, so reading a field allocates nothing.
 */
export function ringView(buffer: Uint8Array): DataView {
  return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

// ---- submit ring -----------------------------------------------------------------------------

/** Writes a submitMessage at `offset` of a claimed record of submitRecordBytes(name, payload). */
export function encodeSubmitMessage(
  buffer: Uint8Array,
  offset: number,
  order: Order,
  name: Uint8Array,
  payload: Uint8Array,
): void {
  assert(name.length >= 1 && name.length <= groupNameBytesMax, 'record: group name length fits u8');
  buffer[offset] = orderToWire(order);
  buffer[offset + 1] = name.length;
  buffer.set(name, offset + submitHeaderBytes);
  buffer.set(payload, offset + submitHeaderBytes + name.length);
}

/**
 * The submitMessage header and group name alone (the record's bytes before the payload), for a
 * record that crosses in chunks: the writer sends [head, payload] without joining them.
 */
export function encodeSubmitHead(order: Order, name: Uint8Array): Uint8Array {
  assert(name.length >= 1 && name.length <= groupNameBytesMax, 'record: group name length fits u8');
  const head = new Uint8Array(submitHeaderBytes + name.length);
  head[0] = orderToWire(order);
  head[1] = name.length;
  head.set(name, submitHeaderBytes);
  return head;
}

export function submitRecordBytes(name: Uint8Array, payload: Uint8Array): number {
  return submitHeaderBytes + name.length + payload.length;
}

// ---- out ring --------------------------------------------------------------------------------

export function encodeOutPacket(
  view: DataView,
  buffer: Uint8Array,
  offset: number,
  destination: NodeId,
  packet: Uint8Array,
): void {
  view.setUint32(offset, destination, true);
  buffer.set(packet, offset + outHeaderBytes);
}

// ---- frame ring ------------------------------------------------------------------------------

export function encodeFrame(
  view: DataView,
  buffer: Uint8Array,
  offset: number,
  frame: DeliveredFrame,
  frameMs: number,
  engineMs: number,
): void {
  view.setUint32(offset, frame.ringId.rep, true);
  view.setUint32(offset + 4, frame.seq, true);
  view.setUint32(offset + 8, frame.originator, true);
  buffer[offset + 12] = orderToWire(frame.order);
  buffer[offset + 13] = frame.transitional ? 1 : 0;
  view.setBigUint64(offset + 16, frame.ringId.seq, true);
  view.setFloat64(offset + 24, frameMs, true);
  view.setFloat64(offset + 32, engineMs, true);
  buffer.set(frame.payload, offset + frameHeaderBytes);
}

/** A frame record's frame stamp (anatomy.ts): broadcast (own) or taken from the in ring. */
export function frameRecordFrameMs(view: DataView, offset: number): number {
  return view.getFloat64(offset + 24, true);
}

/** A frame record's engine stamp (anatomy.ts): the engine delivered it. */
export function frameRecordEngineMs(view: DataView, offset: number): number {
  return view.getFloat64(offset + 32, true);
}

/**
 * The ring id of the last record decoded on this thread, kept: every frame and delivery of a ring
 * carries the same one, and decoding it afresh cost an object and a BigInt per message (the main
 * thread's share of allocation at saturation). Frozen, since every message of the ring shares it.
 */
let lastRingId: RingId = Object.freeze({ rep: 0, seq: 0n });
let lastRingSeqLow = 0;
let lastRingSeqHigh = 0;

/** The ring id whose rep is at repOffset and seq (u64) at seqOffset. */
function ringIdAt(view: DataView, repOffset: number, seqOffset: number): RingId {
  const rep = view.getUint32(repOffset, true);
  const low = view.getUint32(seqOffset, true);
  const high = view.getUint32(seqOffset + 4, true);
  if (rep !== lastRingId.rep || low !== lastRingSeqLow || high !== lastRingSeqHigh) {
    lastRingId = Object.freeze({ rep, seq: view.getBigUint64(seqOffset, true) });
    lastRingSeqLow = low;
    lastRingSeqHigh = high;
  }
  return lastRingId;
}

/**
 * The frame at `offset`; its payload is a view into the ring (valid only while the record is being
 * handled: the Assembler copies what it keeps).
 */
export function decodeFrame(
  view: DataView,
  buffer: Uint8Array,
  offset: number,
  length: number,
): DeliveredFrame {
  assert(length >= frameHeaderBytes, 'record: a frame record holds its header');
  return {
    ringId: ringIdAt(view, offset, offset + 16),
    seq: view.getUint32(offset + 4, true),
    originator: view.getUint32(offset + 8, true),
    order: orderFromWire(buffer[offset + 12] as number),
    transitional: buffer[offset + 13] === 1,
    payload: buffer.subarray(offset + frameHeaderBytes, offset + length),
  };
}

// ---- delivery ring ---------------------------------------------------------------------------

export function deliveryRecordBytes(name: Uint8Array, payload: Uint8Array, stamped = false): number {
  return deliveryHeaderBytes + name.length + payload.length + (stamped ? deliveryStampBytes : 0);
}

/** The stamps a stamped deliveryMessage ends with (anatomy.ts); pumpMs is the reader's. */
export function encodeDeliveryStamps(view: DataView, offset: number, s: DeliveryStamps): void {
  view.setFloat64(offset, s.takenMs, true);
  view.setFloat64(offset + 8, s.frameMs, true);
  view.setFloat64(offset + 16, s.engineMs, true);
  view.setFloat64(offset + 24, s.workerMs, true);
}

/** The stamps alone, for a record that crosses in chunks (the last segment). */
export function deliveryStampsBytes(s: DeliveryStamps): Uint8Array {
  const bytes = new Uint8Array(deliveryStampBytes);
  encodeDeliveryStamps(ringView(bytes), 0, s);
  return bytes;
}

export function encodeDelivery(
  view: DataView,
  buffer: Uint8Array,
  offset: number,
  d: AppDelivery,
  name: Uint8Array,
  stamps: DeliveryStamps | null = null,
): void {
  encodeDeliveryHeader(view, buffer, offset, d, name, stamps !== null);
  const payloadStart = offset + deliveryHeaderBytes + name.length;
  buffer.set(d.payload, payloadStart);
  if (stamps !== null) encodeDeliveryStamps(view, payloadStart + d.payload.length, stamps);
}

/**
 * The deliveryMessage header and group name alone (the record's bytes before the payload), for a
 * record that crosses in chunks: the writer sends [head, payload] without joining them.
 */
export function encodeDeliveryHead(d: AppDelivery, name: Uint8Array, stamped = false): Uint8Array {
  const head = new Uint8Array(deliveryHeaderBytes + name.length);
  encodeDeliveryHeader(ringView(head), head, 0, d, name, stamped);
  return head;
}

function encodeDeliveryHeader(
  view: DataView,
  buffer: Uint8Array,
  offset: number,
  d: AppDelivery,
  name: Uint8Array,
  stamped: boolean,
): void {
  assert(name.length >= 1 && name.length <= groupNameBytesMax, 'record: group name length fits u8');
  view.setUint32(offset, d.sender, true);
  view.setUint32(offset + 4, d.ringId.rep, true);
  view.setFloat64(offset + 8, d.incarnation, true);
  view.setFloat64(offset + 16, d.counter, true);
  view.setBigUint64(offset + 24, d.ringId.seq, true);
  buffer[offset + 32] = orderToWire(d.order);
  buffer[offset + 33] = d.transitional ? 1 : 0;
  buffer[offset + 34] = name.length;
  buffer[offset + 35] = stamped ? deliveryFlagStamped : 0;
  buffer.set(name, offset + deliveryHeaderBytes);
}

/**
 * Decodes a deliveryMessage. The payload is copied out of the ring (the application keeps it),
 * unless `owned`: then buffer is the record's own reassembled copy and the payload is a view of
 * it (one copy of a large message fewer). `groupOf` turns the name bytes into a string (a caching
 * decoder). `view` is a DataView over the same bytes as `buffer`.
 */
export function decodeDelivery(
  view: DataView,
  buffer: Uint8Array,
  offset: number,
  length: number,
  groupOf: (bytes: Uint8Array, start: number, length: number) => string,
  owned = false,
): StampedDelivery {
  assert(length >= deliveryHeaderBytes, 'record: a delivery record holds its header');
  const nameBytes = buffer[offset + 34] as number;
  const stamped = ((buffer[offset + 35] as number) & deliveryFlagStamped) !== 0;
  const payloadStart = offset + deliveryHeaderBytes + nameBytes;
  const payloadEnd = offset + length - (stamped ? deliveryStampBytes : 0);
  assert(payloadStart <= payloadEnd, 'record: the group name and stamps lie inside the record');
  const d: StampedDelivery = {
    sender: view.getUint32(offset, true),
    incarnation: view.getFloat64(offset + 8, true),
    counter: view.getFloat64(offset + 16, true),
    group: groupOf(buffer, offset + deliveryHeaderBytes, nameBytes),
    order: orderFromWire(buffer[offset + 32] as number),
    payload: owned ? buffer.subarray(payloadStart, payloadEnd) : buffer.slice(payloadStart, payloadEnd),
    ringId: ringIdAt(view, offset + 4, offset + 24),
    transitional: buffer[offset + 33] === 1,
    local: true,
  };
  if (stamped) {
    d.stamps = {
      takenMs: view.getFloat64(payloadEnd, true),
      frameMs: view.getFloat64(payloadEnd + 8, true),
      engineMs: view.getFloat64(payloadEnd + 16, true),
      workerMs: view.getFloat64(payloadEnd + 24, true),
      pumpMs: clockMs(),
    };
  }
  return d;
}

/** A delivery as the main thread reads it: a sampled message carries its stamps (anatomy.ts). */
export type StampedDelivery = AppDelivery & { stamps?: DeliveryStamps };

// ---- JSON records (configuration, group event) -----------------------------------------------

interface RingIdJson {
  rep: number;
  seq: string;
}

function ringIdToJson(r: RingId): RingIdJson {
  return { rep: r.rep, seq: r.seq.toString() };
}

function ringIdFromJson(r: RingIdJson): RingId {
  return { rep: r.rep, seq: BigInt(r.seq) };
}

/** JSON with the ring id's bigint seq as a string: configurations and group events (rare records). */
function encodeWithRingId(value: { ringId: RingId }): Uint8Array {
  return utf8Encoder.encode(JSON.stringify({ ...value, ringId: ringIdToJson(value.ringId) }));
}

function decodeWithRingId<T extends { ringId: RingId }>(buffer: Uint8Array, offset: number, length: number): T {
  const o = JSON.parse(utf8Decoder.decode(buffer.subarray(offset, offset + length))) as Omit<T, 'ringId'> & {
    ringId: RingIdJson;
  };
  return { ...o, ringId: ringIdFromJson(o.ringId) } as T;
}

export function encodeConfiguration(c: ConfigurationChange): Uint8Array {
  return encodeWithRingId(c);
}

export function decodeConfiguration(buffer: Uint8Array, offset: number, length: number): ConfigurationChange {
  return decodeWithRingId<ConfigurationChange>(buffer, offset, length);
}

export function encodeGroupEvent(e: GroupEvent): Uint8Array {
  return encodeWithRingId(e);
}

export function decodeGroupEvent(buffer: Uint8Array, offset: number, length: number): GroupEvent {
  return decodeWithRingId<GroupEvent>(buffer, offset, length);
}

assert(frameHeaderBytes % 8 === 0, 'record: frame payloads start 8-byte aligned');
assert(deliveryHeaderBytes % 8 === 0, 'record: delivery groups start 8-byte aligned');
