/**
 * Encoding of our own packets (evs-spec §2.1, §3.2, §3.3; layout in ./layout.ts). A packet that
 * breaks the format (a zero node id, an unsorted set, a seq that is not a uint32, too many
 * entries) is a bug of this node, so the encoder asserts. The per-frame path (mcast, token)
 * builds one output array and one view over it, nothing else.
 */
import { readU16, readU32 } from './bytes.js';
import { assert, assertNever } from '../assert.js';
import { nodeCountMax, packetBytesMax, rtrEntriesMax } from '../constants.js';
import {
  ORDER_AGREED,
  ORDER_SAFE,
  PROTOCOL_VERSION,
  PacketType,
} from '../types.js';
import type {
  CommitTokenPacket,
  Order,
  JoinPacket,
  McastPacket,
  NodeId,
  Packet,
  RingId,
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
  headerFlagsOffset,
  headerSenderOffset,
  headerTypeOffset,
  headerVersionOffset,
  joinFixedBytes,
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


const u64Max = 0xffff_ffff_ffff_ffffn;


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

