/**
 * The token worker's half of the latency anatomy (anatomy.ts): when each frame of the ring was
 * broadcast (own) or taken from the in ring (others'), looked up when the engine delivers it.
 * Kept by seq modulo the sort queue's bound, since no two frames awaiting delivery share a slot;
 * the first stamp of a seq wins, so a retransmission does not move it.
 */
import { sortQueueItemsMax } from '../engine/constants.js';
import type { DeliveredFrame } from '../engine/types.js';
import { PacketType } from '../engine/types.js';
import { mcastHeaderBytes, mcastOriginatorOffset, mcastRingIdOffset, mcastSeqOffset } from '../engine/wire/layout.js';
import { clockMs } from './anatomy.js';

const frameSlotMask = sortQueueItemsMax - 1;

export class FrameStamps {
  private readonly stampMs = new Float64Array(sortQueueItemsMax);
  private readonly stampSeq = new Uint32Array(sortQueueItemsMax);
  /** The low 32 bits of the ring seq of each stamp: seqs start again at 1 on every ring. */
  private readonly stampRing = new Uint32Array(sortQueueItemsMax);
  private deliveredRingSeq = -1n;
  private deliveredRingLow = 0;

  /**
   * Stamps the mcast of `length` bytes at `offset` if its seq has no stamp yet on this ring.
   * Received bytes are not validated here (the engine does that): a malformed packet costs at
   * most a wrong stamp, never a throw.
   */
  stamp(bytes: Uint8Array, offset: number, length: number): void {
    if (length < mcastHeaderBytes || bytes[offset + 1] !== PacketType.mcast) return;
    const seq = readU32(bytes, offset + mcastSeqOffset);
    const ring = readU32(bytes, offset + mcastRingIdOffset + 4);
    const slot = seq & frameSlotMask;
    if (this.stampSeq[slot] === seq && this.stampRing[slot] === ring) return;
    this.stampSeq[slot] = seq;
    this.stampRing[slot] = ring;
    this.stampMs[slot] = clockMs();
  }

  /** Stamps an outgoing packet if it is a data frame this node originated (`selfId`). */
  stampOwnBroadcast(bytes: Uint8Array, selfId: number): void {
    if (bytes.length >= mcastHeaderBytes && bytes[1] === PacketType.mcast && readU32(bytes, mcastOriginatorOffset) === selfId) {
      this.stamp(bytes, 0, bytes.length);
    }
  }

  /** The stamp of a frame the engine delivers, or NaN if it has none. */
  of(frame: DeliveredFrame): number {
    if (frame.ringId.seq !== this.deliveredRingSeq) {
      this.deliveredRingSeq = frame.ringId.seq;
      this.deliveredRingLow = Number(BigInt.asUintN(32, this.deliveredRingSeq));
    }
    const slot = frame.seq & frameSlotMask;
    return this.stampSeq[slot] === frame.seq && this.stampRing[slot] === this.deliveredRingLow ? (this.stampMs[slot] as number) : NaN;
  }
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] as number) | ((bytes[offset + 1] as number) << 8) | ((bytes[offset + 2] as number) << 16)
    | ((bytes[offset + 3] as number) << 24)) >>> 0;
}
