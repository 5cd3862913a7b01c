/**
 * Versioned binary codec of every Totem packet (evs-spec §2.1, §3.2, §3.3). The layout, and the
 * rules by which a received packet is refused, are in ./layout.ts.
 *
 * Two sides, two attitudes:
 * - Encoding takes our own packets: a packet that breaks the format (a zero node id, an unsorted
 *   set, a seq that is not a uint32, too many entries) is a bug here, so the encoder asserts.
 * - Decoding takes whatever the network delivers: it never throws, and says why it refused.
 *
 * Mcast and token are on the per-message path (over a million application messages per second
 * are packed into frames), so they allocate nothing but their result: the decoder reads through
 * one DataView cached per underlying buffer (receive buffers are usually reused, so that view
 * rarely changes), hands out the payload as a view into the received bytes, and shares one frozen
 * result object per drop reason; the encoder builds one output array and one view over it.
 * Assertion messages are constant strings so that checking them costs no allocation.
 */
import { assert, assertNever } from '../assert.js';
import { nodeCountMax, packetBytesMax, rtrEntriesMax } from '../constants.js';
import {
  ORDER_AGREED,
  ORDER_SAFE,
  PROTOCOL_VERSION,
  PacketType,
} from '../types.js';
import type {
  CommitMemberEntry,
  CommitTokenPacket,
  DecodeResult,
  Order,
  JoinPacket,
  McastPacket,
  NodeId,
  Packet,
  RingId,
  RtrEntry,
  TokenPacket,
} from '../types.js';
import {
  commitFixedBytes,
  commitMemberAruOffset,
  commitMemberBytes,
  commitMemberCountOffset,
  commitMemberFlagFilled,
  commitMemberFlagReceived,
  commitMemberFlagsOffset,
  commitMemberHighDeliveredOffset,
  commitMemberNodeIdOffset,
  commitMemberOldRingIdOffset,
  commitMembIndexOffset,
  commitRingIdOffset,
  countBytes,
  headerBytes,
  headerFlagsOffset,
  headerSenderOffset,
  headerTypeOffset,
  headerVersionOffset,
  joinFixedBytes,
  joinProcCountOffset,
  joinRingSeqOffset,
  mcastEncapsulationBytes,
  mcastFlagEncapsulated,
  mcastOrderOffset,
  mcastHeaderBytes,
  mcastOriginatorOffset,
  mcastPayloadLengthOffset,
  mcastRingIdOffset,
  mcastSeqOffset,
  nodeIdBytes,
  ringIdBytes,
  ringIdRepOffset,
  ringIdSeqOffset,
  ringOnlyBytes,
  ringOnlyRingIdOffset,
  rtrEntryBytes,
  rtrEntryRingIdOffset,
  rtrEntrySeqOffset,
  tokenAruAddrOffset,
  tokenAruOffset,
  tokenBacklogOffset,
  tokenFccOffset,
  tokenFixedBytes,
  tokenFlagRetrans,
  tokenRingIdOffset,
  tokenRtrCountOffset,
  tokenSeqOffset,
  tokenTokenSeqOffset,
} from './layout.js';

export { headerBytes, mcastEncapsulationBytes, mcastHeaderBytes } from './layout.js';

const u64Max = 0xffff_ffff_ffff_ffffn;

/**
 * The largest mcast payload such that the frame, and its encapsulated re-broadcast in a later
 * Recovery (one more mcast header around the whole frame), both fit `frameBytesMax`.
 */
export function mcastPayloadBytesMax(frameBytesMax: number): number {
  assert(Number.isInteger(frameBytesMax), 'frameBytesMax is an integer');
  assert(frameBytesMax <= packetBytesMax, 'frameBytesMax fits a packet');
  const payloadBytesMax = frameBytesMax - mcastHeaderBytes - mcastEncapsulationBytes;
  assert(payloadBytesMax > 0, 'frameBytesMax leaves room for a payload');
  return payloadBytesMax;
}

/** Version, type and sender of a packet, unchecked, for routing before a full decode. */
export function peekHeader(bytes: Uint8Array): { version: number; type: number; sender: number } | null {
  if (bytes.length < headerBytes) return null;
  return {
    version: bytes[headerVersionOffset]!,
    type: bytes[headerTypeOffset]!,
    sender: readU32(bytes, headerSenderOffset),
  };
}

/**
 * The complete inner frame of an encapsulated mcast, as a view into `bytes` (no copy), or null
 * when `bytes` is not an encapsulated mcast. Only the outer framing is checked here: call it on a
 * packet decodePacket accepted, which validated the inner frame.
 */
export function mcastInnerBytes(bytes: Uint8Array): Uint8Array | null {
  const length = bytes.length;
  if (length < mcastHeaderBytes + mcastHeaderBytes) return null;
  if (bytes[headerVersionOffset] !== PROTOCOL_VERSION) return null;
  if (bytes[headerTypeOffset] !== PacketType.mcast) return null;
  if (readU16(bytes, headerFlagsOffset) !== mcastFlagEncapsulated) return null;
  if (readU32(bytes, mcastPayloadLengthOffset) !== length - mcastHeaderBytes) return null;
  return bytes.subarray(mcastHeaderBytes);
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Encode any packet into a fresh array of exactly its length. */
export function encodePacket(p: Packet): Uint8Array {
  switch (p.type) {
    case 'token':
      return encodeToken(p);
    case 'mcast':
      return encodeMcastPacket(p);
    case 'join':
      return encodeJoin(p);
    case 'commitToken':
      return encodeCommitToken(p);
    case 'mergeDetect':
      return encodeRingOnly(PacketType.mergeDetect, p.sender, p.ringId);
    case 'tokenHoldCancel':
      return encodeRingOnly(PacketType.tokenHoldCancel, p.sender, p.ringId);
    default:
      return assertNever(p, 'encodePacket: unknown packet type');
  }
}

/** A plain data frame, written straight from its fields (the per-frame path). */
export function encodeMcast(
  sender: NodeId,
  ringId: RingId,
  seq: number,
  originator: NodeId,
  order: Order,
  payload: Uint8Array,
): Uint8Array {
  const payloadBytes = payload.length;
  assert(payloadBytes <= packetBytesMax - mcastHeaderBytes, 'encodeMcast: payload fits a packet');
  const out = new Uint8Array(mcastHeaderBytes + payloadBytes);
  const view = new DataView(out.buffer);
  writeMcastHeader(view, 0, sender, ringId, seq, originator, order, 0, payloadBytes);
  out.set(payload, mcastHeaderBytes);
  return out;
}

/**
 * A recovery re-broadcast (evs-spec §2.1): the new ring's header around `innerBytes`, a complete
 * plain mcast frame of the old ring kept byte for byte. The re-broadcaster is the outer
 * originator; the outer guarantee repeats the inner one.
 */
export function encodeMcastEncapsulated(
  sender: NodeId,
  ringId: RingId,
  seq: number,
  innerBytes: Uint8Array,
): Uint8Array {
  const innerLength = innerBytes.length;
  assert(innerLength >= mcastHeaderBytes, 'encodeMcastEncapsulated: inner holds an mcast header');
  assert(innerBytes[headerVersionOffset] === PROTOCOL_VERSION, 'encodeMcastEncapsulated: inner version');
  assert(innerBytes[headerTypeOffset] === PacketType.mcast, 'encodeMcastEncapsulated: inner is an mcast');
  assert(readU16(innerBytes, headerFlagsOffset) === 0, 'encodeMcastEncapsulated: inner is plain');
  assert(
    readU32(innerBytes, mcastPayloadLengthOffset) === innerLength - mcastHeaderBytes,
    'encodeMcastEncapsulated: inner length matches its header',
  );
  const innerOrder = innerBytes[mcastOrderOffset];
  assert(
    innerOrder === ORDER_AGREED || innerOrder === ORDER_SAFE,
    'encodeMcastEncapsulated: inner order',
  );
  assert(innerLength <= packetBytesMax - mcastHeaderBytes, 'encodeMcastEncapsulated: fits a packet');
  const out = new Uint8Array(mcastHeaderBytes + innerLength);
  const view = new DataView(out.buffer);
  const order: Order = innerOrder === ORDER_SAFE ? 'safe' : 'agreed';
  writeMcastHeader(view, 0, sender, ringId, seq, sender, order, mcastFlagEncapsulated, innerLength);
  out.set(innerBytes, mcastHeaderBytes);
  return out;
}

function encodeMcastPacket(p: McastPacket): Uint8Array {
  const inner = p.inner;
  if (inner === undefined) {
    return encodeMcast(p.sender, p.ringId, p.seq, p.originator, p.order, p.payload);
  }
  assert(p.payload.length === 0, 'encodePacket: an encapsulated mcast has no payload of its own');
  assert(inner.inner === undefined, 'encodePacket: encapsulation is one level deep');
  const innerLength = mcastHeaderBytes + inner.payload.length;
  assert(innerLength <= packetBytesMax - mcastHeaderBytes, 'encodePacket: encapsulated mcast fits a packet');
  const out = new Uint8Array(mcastHeaderBytes + innerLength);
  const view = new DataView(out.buffer);
  writeMcastHeader(view, 0, p.sender, p.ringId, p.seq, p.originator, p.order, mcastFlagEncapsulated, innerLength);
  writeMcastHeader(
    view,
    mcastHeaderBytes,
    inner.sender,
    inner.ringId,
    inner.seq,
    inner.originator,
    inner.order,
    0,
    inner.payload.length,
  );
  out.set(inner.payload, mcastHeaderBytes + mcastHeaderBytes);
  return out;
}

function writeMcastHeader(
  view: DataView,
  at: number,
  sender: NodeId,
  ringId: RingId,
  seq: number,
  originator: NodeId,
  order: Order,
  flags: number,
  payloadBytes: number,
): void {
  assertU32(seq, 'mcast: seq is a uint32');
  assertNodeId(originator, 'mcast: originator is a node id');
  assert(order === 'agreed' || order === 'safe', 'mcast: order is agreed or safe');
  writeHeader(view, at, PacketType.mcast, flags, sender);
  writeRingId(view, at + mcastRingIdOffset, ringId);
  view.setUint32(at + mcastSeqOffset, seq, true);
  view.setUint32(at + mcastOriginatorOffset, originator, true);
  view.setUint8(at + mcastOrderOffset, order === 'safe' ? ORDER_SAFE : ORDER_AGREED);
  view.setUint32(at + mcastPayloadLengthOffset, payloadBytes, true);
}

function encodeToken(p: TokenPacket): Uint8Array {
  const rtr = p.rtr;
  const rtrCount = rtr.length;
  assert(rtrCount <= rtrEntriesMax, 'token: rtr entries within rtrEntriesMax');
  assertU32(p.tokenSeq, 'token: tokenSeq is a uint32');
  assertU32(p.seq, 'token: seq is a uint32');
  assertU32(p.aru, 'token: aru is a uint32');
  assertU32(p.aruAddr, 'token: aruAddr is a uint32');
  assertU32(p.fcc, 'token: fcc is a uint32');
  assertU32(p.backlog, 'token: backlog is a uint32');
  assert(typeof p.retransFlg === 'boolean', 'token: retransFlg is a boolean');
  const out = new Uint8Array(tokenFixedBytes + rtrCount * rtrEntryBytes);
  const view = new DataView(out.buffer);
  writeHeader(view, 0, PacketType.token, p.retransFlg ? tokenFlagRetrans : 0, p.sender);
  writeRingId(view, tokenRingIdOffset, p.ringId);
  view.setUint32(tokenTokenSeqOffset, p.tokenSeq, true);
  view.setUint32(tokenSeqOffset, p.seq, true);
  view.setUint32(tokenAruOffset, p.aru, true);
  view.setUint32(tokenAruAddrOffset, p.aruAddr, true);
  view.setUint32(tokenFccOffset, p.fcc, true);
  view.setUint32(tokenBacklogOffset, p.backlog, true);
  view.setUint16(tokenRtrCountOffset, rtrCount, true);
  let at = tokenFixedBytes;
  for (let i = 0; i < rtrCount; i++) {
    const entry = rtr[i]!;
    assertU32(entry.seq, 'token: rtr seq is a uint32');
    writeRingId(view, at + rtrEntryRingIdOffset, entry.ringId);
    view.setUint32(at + rtrEntrySeqOffset, entry.seq, true);
    at += rtrEntryBytes;
  }
  assert(at === out.length, 'token: wrote exactly its length');
  return out;
}

function encodeJoin(p: JoinPacket): Uint8Array {
  const procCount = p.procSet.length;
  const failCount = p.failSet.length;
  assert(procCount <= nodeCountMax, 'join: procSet within nodeCountMax');
  assert(failCount <= nodeCountMax, 'join: failSet within nodeCountMax');
  assertRingSeq(p.ringSeq, 'join: ringSeq is a uint64');
  const out = new Uint8Array(joinFixedBytes + (procCount + failCount) * nodeIdBytes);
  const view = new DataView(out.buffer);
  writeHeader(view, 0, PacketType.join, 0, p.sender);
  view.setBigUint64(joinRingSeqOffset, p.ringSeq, true);
  let at = writeIdSet(view, joinProcCountOffset, p.procSet);
  at = writeIdSet(view, at, p.failSet);
  assert(at === out.length, 'join: wrote exactly its length');
  return out;
}

/** A count and a strictly ascending list of node ids; returns the offset after it. */
function writeIdSet(view: DataView, at: number, ids: readonly NodeId[]): number {
  view.setUint16(at, ids.length, true);
  at += countBytes;
  let previous = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    assertNodeId(id, 'join: set member is a node id');
    assert(id > previous, 'join: sets are sorted ascending without duplicates');
    view.setUint32(at, id, true);
    at += nodeIdBytes;
    previous = id;
  }
  return at;
}

function encodeCommitToken(p: CommitTokenPacket): Uint8Array {
  const members = p.members;
  const memberCount = members.length;
  assert(memberCount >= 1, 'commitToken: at least one member');
  assert(memberCount <= nodeCountMax, 'commitToken: members within nodeCountMax');
  assert(Number.isInteger(p.membIndex), 'commitToken: membIndex is an integer');
  assert(p.membIndex >= 0, 'commitToken: membIndex is not negative');
  assert(p.membIndex <= memberCount, 'commitToken: membIndex at most the member count');
  const out = new Uint8Array(commitFixedBytes + memberCount * commitMemberBytes);
  const view = new DataView(out.buffer);
  writeHeader(view, 0, PacketType.commitToken, 0, p.sender);
  writeRingId(view, commitRingIdOffset, p.ringId);
  view.setUint16(commitMembIndexOffset, p.membIndex, true);
  view.setUint16(commitMemberCountOffset, memberCount, true);
  let at = commitFixedBytes;
  let previous = 0;
  for (let i = 0; i < memberCount; i++) {
    const m = members[i]!;
    assertNodeId(m.nodeId, 'commitToken: member is a node id');
    assert(m.nodeId > previous, 'commitToken: members sorted ascending without duplicates');
    assertU32(m.aru, 'commitToken: aru is a uint32');
    assertU32(m.highDelivered, 'commitToken: highDelivered is a uint32');
    assert(typeof m.receivedFlg === 'boolean', 'commitToken: receivedFlg is a boolean');
    assert(typeof m.filled === 'boolean', 'commitToken: filled is a boolean');
    view.setUint32(at + commitMemberNodeIdOffset, m.nodeId, true);
    writeOldRingId(view, at + commitMemberOldRingIdOffset, m.oldRingId);
    view.setUint32(at + commitMemberAruOffset, m.aru, true);
    view.setUint32(at + commitMemberHighDeliveredOffset, m.highDelivered, true);
    view.setUint8(
      at + commitMemberFlagsOffset,
      (m.receivedFlg ? commitMemberFlagReceived : 0) | (m.filled ? commitMemberFlagFilled : 0),
    );
    previous = m.nodeId;
    at += commitMemberBytes;
  }
  assert(at === out.length, 'commitToken: wrote exactly its length');
  return out;
}

function encodeRingOnly(type: number, sender: NodeId, ringId: RingId): Uint8Array {
  const out = new Uint8Array(ringOnlyBytes);
  const view = new DataView(out.buffer);
  writeHeader(view, 0, type, 0, sender);
  writeRingId(view, ringOnlyRingIdOffset, ringId);
  return out;
}

function writeHeader(view: DataView, at: number, type: number, flags: number, sender: NodeId): void {
  assertNodeId(sender, 'header: sender is a node id');
  view.setUint8(at + headerVersionOffset, PROTOCOL_VERSION);
  view.setUint8(at + headerTypeOffset, type);
  view.setUint16(at + headerFlagsOffset, flags, true);
  view.setUint32(at + headerSenderOffset, sender, true);
}

function writeRingId(view: DataView, at: number, ringId: RingId): void {
  assertNodeId(ringId.rep, 'ringId: rep is a node id');
  writeOldRingId(view, at, ringId);
}

/** A ring id whose rep may be 0: a commit member's old ring before its entry is filled. */
function writeOldRingId(view: DataView, at: number, ringId: RingId): void {
  assertU32(ringId.rep, 'ringId: rep is a uint32');
  assertRingSeq(ringId.seq, 'ringId: seq is a uint64');
  view.setUint32(at + ringIdRepOffset, ringId.rep, true);
  view.setBigUint64(at + ringIdSeqOffset, ringId.seq, true);
}

function assertU32(value: number, message: string): void {
  // `>>> 0` maps anything but a uint32 (fraction, negative, ≥ 2^32, NaN) to another value.
  assert(value >>> 0 === value, message);
}

function assertNodeId(value: NodeId, message: string): void {
  assert(value !== 0, message);
  assert(value >>> 0 === value, message);
}

function assertRingSeq(value: bigint, message: string): void {
  assert(typeof value === 'bigint', message);
  assert(value >= 0n, message);
  assert(value <= u64Max, message);
}

// ---------------------------------------------------------------------------------------------
// Decoding

type Drop = Extract<DecodeResult, { ok: false }>;

// Shared, frozen: a flood of garbage must not turn into a flood of allocations.
const dropTruncated: Drop = Object.freeze({ ok: false, reason: 'truncated' });
const dropMalformed: Drop = Object.freeze({ ok: false, reason: 'malformed' });
const dropOversized: Drop = Object.freeze({ ok: false, reason: 'oversized' });
const dropUnknownType: Drop = Object.freeze({ ok: false, reason: 'unknown-type' });

const emptyPayload = new Uint8Array(0);

/**
 * One DataView over the whole underlying buffer of the last packet decoded. Receive paths reuse
 * their buffers, so this is almost never rebuilt; offsets below are absolute in that buffer.
 */
let cachedViewBuffer: ArrayBufferLike | null = null;
let cachedView: DataView = new DataView(new ArrayBuffer(0));

function viewOf(bytes: Uint8Array): DataView {
  const buffer = bytes.buffer;
  if (buffer !== cachedViewBuffer) {
    cachedView = new DataView(buffer);
    cachedViewBuffer = buffer;
  }
  return cachedView;
}

/** Decode a received packet. Never throws; the rules are listed in ./layout.ts. */
export function decodePacket(bytes: Uint8Array): DecodeResult {
  const length = bytes.length;
  if (length > packetBytesMax) return dropOversized;
  if (length === 0) return dropTruncated;
  const version = bytes[headerVersionOffset]!;
  if (version !== PROTOCOL_VERSION) {
    if (length < headerBytes) return { ok: false, reason: 'version', version };
    return { ok: false, reason: 'version', version, sender: readU32(bytes, headerSenderOffset) };
  }
  if (length < headerBytes) return dropTruncated;
  const dv = viewOf(bytes);
  const start = bytes.byteOffset;
  const end = start + length;
  const flags = dv.getUint16(start + headerFlagsOffset, true);
  const sender = dv.getUint32(start + headerSenderOffset, true);
  switch (bytes[headerTypeOffset]) {
    case PacketType.token:
      return decodeToken(dv, start, end, flags, sender);
    case PacketType.mcast:
      return decodeMcast(dv, bytes, start, end, flags, sender, false);
    case PacketType.join:
      return decodeJoin(dv, start, end, flags, sender);
    case PacketType.commitToken:
      return decodeCommitToken(dv, start, end, flags, sender);
    case PacketType.mergeDetect:
      return decodeRingOnly(dv, start, end, flags, sender, 'mergeDetect');
    case PacketType.tokenHoldCancel:
      return decodeRingOnly(dv, start, end, flags, sender, 'tokenHoldCancel');
    default:
      return dropUnknownType;
  }
}

function decodeToken(dv: DataView, start: number, end: number, flags: number, sender: number): DecodeResult {
  if ((flags & ~tokenFlagRetrans) !== 0 || sender === 0) return dropMalformed;
  if (end - start < tokenFixedBytes) return dropTruncated;
  const rtrCount = dv.getUint16(start + tokenRtrCountOffset, true);
  if (rtrCount > rtrEntriesMax) return dropOversized;
  if (dv.getUint32(start + tokenRingIdOffset + ringIdRepOffset, true) === 0) return dropMalformed;
  const listEnd = start + tokenFixedBytes + rtrCount * rtrEntryBytes;
  if (listEnd > end) return dropTruncated;
  if (listEnd !== end) return dropMalformed;
  const rtr: RtrEntry[] = [];
  for (let at = start + tokenFixedBytes; at < listEnd; at += rtrEntryBytes) {
    if (dv.getUint32(at + rtrEntryRingIdOffset + ringIdRepOffset, true) === 0) return dropMalformed;
    rtr.push({ ringId: readRingId(dv, at + rtrEntryRingIdOffset), seq: dv.getUint32(at + rtrEntrySeqOffset, true) });
  }
  const packet: TokenPacket = {
    type: 'token',
    sender,
    ringId: readRingId(dv, start + tokenRingIdOffset),
    tokenSeq: dv.getUint32(start + tokenTokenSeqOffset, true),
    seq: dv.getUint32(start + tokenSeqOffset, true),
    aru: dv.getUint32(start + tokenAruOffset, true),
    aruAddr: dv.getUint32(start + tokenAruAddrOffset, true),
    fcc: dv.getUint32(start + tokenFccOffset, true),
    backlog: dv.getUint32(start + tokenBacklogOffset, true),
    retransFlg: (flags & tokenFlagRetrans) !== 0,
    rtr,
  };
  return { ok: true, packet };
}

/**
 * `bytes` is the outermost received array (the payload is a view into it); `start` and `end` are
 * absolute offsets of this packet in dv's buffer. `nested` is set while decoding an inner frame.
 */
function decodeMcast(
  dv: DataView,
  bytes: Uint8Array,
  start: number,
  end: number,
  flags: number,
  sender: number,
  nested: boolean,
): DecodeResult {
  if ((flags & ~mcastFlagEncapsulated) !== 0 || sender === 0) return dropMalformed;
  if (end - start < mcastHeaderBytes) return dropTruncated;
  if (dv.getUint32(start + mcastRingIdOffset + ringIdRepOffset, true) === 0) return dropMalformed;
  const originator = dv.getUint32(start + mcastOriginatorOffset, true);
  if (originator === 0) return dropMalformed;
  const orderByte = dv.getUint8(start + mcastOrderOffset);
  if (orderByte !== ORDER_AGREED && orderByte !== ORDER_SAFE) return dropMalformed;
  const payloadBytes = dv.getUint32(start + mcastPayloadLengthOffset, true);
  const payloadStart = start + mcastHeaderBytes;
  if (payloadBytes > end - payloadStart) return dropTruncated;
  if (payloadBytes !== end - payloadStart) return dropMalformed;
  const encapsulated = (flags & mcastFlagEncapsulated) !== 0;
  let inner: McastPacket | null = null;
  if (encapsulated) {
    if (nested) return dropMalformed;
    inner = decodeInner(dv, bytes, payloadStart, end);
    if (inner === null) return dropMalformed;
  }
  const relative = payloadStart - bytes.byteOffset;
  const packet: McastPacket = {
    type: 'mcast',
    sender,
    ringId: readRingId(dv, start + mcastRingIdOffset),
    seq: dv.getUint32(start + mcastSeqOffset, true),
    originator,
    order: orderByte === ORDER_SAFE ? 'safe' : 'agreed',
    payload: encapsulated ? emptyPayload : bytes.subarray(relative, relative + payloadBytes),
  };
  if (inner !== null) packet.inner = inner;
  return { ok: true, packet };
}

/** The inner frame of an encapsulated mcast: a plain mcast filling [start, end) exactly, or null. */
function decodeInner(dv: DataView, bytes: Uint8Array, start: number, end: number): McastPacket | null {
  if (end - start < headerBytes) return null;
  if (dv.getUint8(start + headerVersionOffset) !== PROTOCOL_VERSION) return null;
  if (dv.getUint8(start + headerTypeOffset) !== PacketType.mcast) return null;
  const flags = dv.getUint16(start + headerFlagsOffset, true);
  const sender = dv.getUint32(start + headerSenderOffset, true);
  const result = decodeMcast(dv, bytes, start, end, flags, sender, true);
  if (!result.ok || result.packet.type !== 'mcast') return null;
  return result.packet;
}

function decodeJoin(dv: DataView, start: number, end: number, flags: number, sender: number): DecodeResult {
  if (flags !== 0 || sender === 0) return dropMalformed;
  if (end - start < joinProcCountOffset + countBytes) return dropTruncated;
  const ringSeq = dv.getBigUint64(start + joinRingSeqOffset, true);
  const procSet = readIdSet(dv, start + joinProcCountOffset, end);
  if (!Array.isArray(procSet)) return procSet;
  const failCountAt = start + joinProcCountOffset + countBytes + procSet.length * nodeIdBytes;
  if (end - failCountAt < countBytes) return dropTruncated;
  const failSet = readIdSet(dv, failCountAt, end);
  if (!Array.isArray(failSet)) return failSet;
  if (failCountAt + countBytes + failSet.length * nodeIdBytes !== end) return dropMalformed;
  const packet: JoinPacket = { type: 'join', sender, procSet, failSet, ringSeq };
  return { ok: true, packet };
}

/** A count (already known to be present at `at`) and a strictly ascending list of node ids. */
function readIdSet(dv: DataView, at: number, end: number): NodeId[] | Drop {
  const count = dv.getUint16(at, true);
  if (count > nodeCountMax) return dropOversized;
  at += countBytes;
  if (count * nodeIdBytes > end - at) return dropTruncated;
  const ids: NodeId[] = [];
  let previous = 0;
  for (let i = 0; i < count; i++, at += nodeIdBytes) {
    const id = dv.getUint32(at, true);
    // Strictly above the previous one, starting from 0: sorted, no duplicate, no zero.
    if (id <= previous) return dropMalformed;
    ids.push(id);
    previous = id;
  }
  return ids;
}

function decodeCommitToken(dv: DataView, start: number, end: number, flags: number, sender: number): DecodeResult {
  if (flags !== 0 || sender === 0) return dropMalformed;
  if (end - start < commitFixedBytes) return dropTruncated;
  const membIndex = dv.getUint16(start + commitMembIndexOffset, true);
  const memberCount = dv.getUint16(start + commitMemberCountOffset, true);
  if (memberCount > nodeCountMax) return dropOversized;
  if (dv.getUint32(start + commitRingIdOffset + ringIdRepOffset, true) === 0) return dropMalformed;
  if (memberCount === 0 || membIndex > memberCount) return dropMalformed;
  const listEnd = start + commitFixedBytes + memberCount * commitMemberBytes;
  if (listEnd > end) return dropTruncated;
  if (listEnd !== end) return dropMalformed;
  const members: CommitMemberEntry[] = [];
  let previous = 0;
  for (let at = start + commitFixedBytes; at < listEnd; at += commitMemberBytes) {
    const nodeId = dv.getUint32(at + commitMemberNodeIdOffset, true);
    if (nodeId <= previous) return dropMalformed;
    const memberFlags = dv.getUint8(at + commitMemberFlagsOffset);
    if ((memberFlags & ~(commitMemberFlagReceived | commitMemberFlagFilled)) !== 0) return dropMalformed;
    members.push({
      nodeId,
      oldRingId: readRingId(dv, at + commitMemberOldRingIdOffset),
      aru: dv.getUint32(at + commitMemberAruOffset, true),
      highDelivered: dv.getUint32(at + commitMemberHighDeliveredOffset, true),
      receivedFlg: (memberFlags & commitMemberFlagReceived) !== 0,
      filled: (memberFlags & commitMemberFlagFilled) !== 0,
    });
    previous = nodeId;
  }
  const packet: CommitTokenPacket = {
    type: 'commitToken',
    sender,
    ringId: readRingId(dv, start + commitRingIdOffset),
    membIndex,
    members,
  };
  return { ok: true, packet };
}

function decodeRingOnly(
  dv: DataView,
  start: number,
  end: number,
  flags: number,
  sender: number,
  type: 'mergeDetect' | 'tokenHoldCancel',
): DecodeResult {
  if (flags !== 0 || sender === 0) return dropMalformed;
  if (end - start < ringOnlyBytes) return dropTruncated;
  if (end - start !== ringOnlyBytes) return dropMalformed;
  if (dv.getUint32(start + ringOnlyRingIdOffset + ringIdRepOffset, true) === 0) return dropMalformed;
  return { ok: true, packet: { type, sender, ringId: readRingId(dv, start + ringOnlyRingIdOffset) } };
}

function readRingId(dv: DataView, at: number): RingId {
  return { rep: dv.getUint32(at + ringIdRepOffset, true), seq: dv.getBigUint64(at + ringIdSeqOffset, true) };
}

// Byte-wise little-endian reads for the few fields read without a view (peek, inner checks).
function readU16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

// The layout's sizes are what this file assumes when it sizes ring ids inline.
assert(ringIdBytes === ringIdSeqOffset + 8, 'ringId is rep u32 + seq u64');
