/**
 * Versioned binary codec of every Totem packet (evs-spec §2.1, §3.2, §3.3): the entry point and
 * the helpers both sides share. Encoding is in ./encode.ts, decoding in ./decode.ts; the layout,
 * and the rules by which a received packet is refused, are in ./layout.ts.
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
import { assert } from '../assert.js';
import { packetBytesMax } from '../constants.js';
import {
  PROTOCOL_VERSION,
  PacketType,
} from '../types.js';
import {
  headerBytes,
  headerFlagsOffset,
  headerSenderOffset,
  headerTypeOffset,
  headerVersionOffset,
  mcastEncapsulationBytes,
  mcastFlagEncapsulated,
  mcastHeaderBytes,
  mcastPayloadLengthOffset,
  ringIdBytes,
  ringIdSeqOffset,
} from './layout.js';

export { headerBytes, mcastEncapsulationBytes, mcastHeaderBytes } from './layout.js';
export { encodeMcast, encodeMcastEncapsulated, encodePacket } from './encode.js';
export { decodePacket } from './decode.js';
import { readU16, readU32 } from './bytes.js';

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

// The layout's sizes are what this file assumes when it sizes ring ids inline.
assert(ringIdBytes === ringIdSeqOffset + 8, 'ringId is rep u32 + seq u64');
