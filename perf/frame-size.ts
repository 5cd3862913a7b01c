/**
 * The data frame totem-evs puts on the wire for a stream of equal messages of one group, computed
 * from the engine's layout constants (no run needed): what the UDP baseline sends so that it
 * moves datagrams of the same size as the ring.
 *
 *   frame payload max = netMtu − 28 (IPv4 + UDP) − auth overhead (46 with a key)
 *                       − 2 × mcast header (a frame must still fit when re-broadcast inside
 *                         another mcast header during recovery)
 *   one message entry  = size + 14 (kind, name length, counter, length) + group name bytes
 *   messages that fit whole: as many entries as fit behind the 10-byte frame header
 *   larger messages: fragments fill whole frames
 *   frame on the wire  = mcast header + frame payload (+ auth overhead)
 *
 * Approximation: every frame is assumed full of equal messages; the last frame of a burst, a
 * fragment tail and group control entries are shorter in reality.
 */
import { frameHeaderBytes, wholeOverheadBytes, firstOverheadBytes } from '../engine/groups/frame-format.js';
import { ipv4UdpHeaderBytes } from '../engine/constants.js';
import { mcastHeaderBytes, mcastPayloadBytesMax } from '../engine/wire/codec.js';
import { sealedOverheadBytes } from '../workers/net/packet-auth.js';

export interface FrameShape {
  /** UDP payload bytes of one data frame (mcast header, frame, authentication). */
  frameBytes: number;
  /** Messages one frame carries (a fraction below 1 for fragmented messages). */
  msgsPerFrame: number;
  /** Bytes the ring adds to one message when it travels alone in a frame. */
  perMessageOverheadBytes: number;
}

export function frameShape(sizeBytes: number, netMtu: number, encrypted: boolean, groupName = 'bench'): FrameShape {
  const authBytes = encrypted ? sealedOverheadBytes : 0;
  const frameBytesMax = netMtu - ipv4UdpHeaderBytes - authBytes;
  const payloadBytesMax = mcastPayloadBytesMax(frameBytesMax);
  const nameBytes = Buffer.byteLength(groupName);
  const entryBytes = sizeBytes + wholeOverheadBytes + nameBytes;
  const perMessageOverheadBytes = mcastHeaderBytes + frameHeaderBytes + wholeOverheadBytes + nameBytes + authBytes;
  if (frameHeaderBytes + entryBytes <= payloadBytesMax) {
    const msgsPerFrame = Math.floor((payloadBytesMax - frameHeaderBytes) / entryBytes);
    return {
      frameBytes: mcastHeaderBytes + frameHeaderBytes + msgsPerFrame * entryBytes + authBytes,
      msgsPerFrame,
      perMessageOverheadBytes,
    };
  }
  const carriedPerFrame = payloadBytesMax - frameHeaderBytes - firstOverheadBytes - nameBytes;
  return {
    frameBytes: mcastHeaderBytes + payloadBytesMax + authBytes,
    msgsPerFrame: carriedPerFrame / sizeBytes,
    perMessageOverheadBytes,
  };
}
