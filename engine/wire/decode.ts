/**
 * Decoding of whatever the network delivers (evs-spec §2.1, §3.2, §3.3): it never throws, and
 * says why it refused (the rules are listed in ./layout.ts). Mcast and token allocate nothing but
 * their result: reads go through one DataView cached per underlying buffer, the payload is a view
 * into the received bytes, and each drop reason is one shared frozen result.
 */
import { readU32 } from './bytes.js';
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
  JoinPacket,
  McastPacket,
  NodeId,
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
  joinProcCountOffset,
  joinRingSeqOffset,
  mcastFlagEncapsulated,
  mcastOrderOffset,
  mcastHeaderBytes,
  mcastOriginatorOffset,
  mcastPayloadLengthOffset,
  mcastRingIdOffset,
  mcastSeqOffset,
  nodeIdBytes,
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


