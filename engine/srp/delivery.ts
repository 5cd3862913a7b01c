/**
 * Receiving multicasts and delivering them (evs-spec.md §2.3; the multicast rows of §7's table):
 * a frame of my ring is stored in the sort queue (in Operational, Recovery, and in Gather while
 * the installed ring is still mine); in Operational, agreed frames are delivered in seq order up
 * to `aru`, and a safe frame only once it is at or below the bound the last two token visits fixed
 * (`safeBound`, set in ordering.ts). A multicast of another ring goes to foreign-rings.ts.
 *
 * Deviations (engine/README.md): 3 (safe delivery is implemented; corosync never reads the
 * guarantee), 8 (recovery copies stay as empty placeholders, which deliver nothing), 10 (the
 * received bytes are kept, not copied).
 */
import { assert } from '../assert.js';
import { mcastInnerBytes } from '../wire/codec.js';
import { seqAdd, seqGt, seqLt } from '../seq.js';
import type { McastPacket } from '../types.js';
import { ringIdEquals } from '../types.js';
import { onForeignRing } from './foreign-rings.js';
import type { RingState, StoredFrame } from './ring-state.js';
import { drop, type SrpState } from './state.js';

/**
 * A multicast arrives: stored if it is of my ring and this state keeps frames, then delivery
 * runs. Returns whether it was stored in my ring.
 */
export function onMcast(s: SrpState, packet: McastPacket, bytes: Uint8Array): boolean {
  if (!ringIdEquals(packet.ringId, s.ring.ringId)) {
    onForeignRing(s, packet.sender, packet.ringId);
    return false;
  }
  const storing =
    s.membership === 'operational' ||
    s.membership === 'recovery' ||
    (s.membership === 'gather' && s.old === null && s.installed === s.ring);
  if (!storing) {
    drop(s, 'state');
    return false;
  }
  const ring = s.ring;
  if (!ring.accepts(packet.seq)) {
    drop(s, 'duplicate');
    return false;
  }
  // The engine keeps the received bytes (onPacket's contract: the host never reuses them).
  let inner: Uint8Array | null = null;
  if (packet.inner !== undefined) {
    inner = mcastInnerBytes(bytes);
    if (inner === null) {
      drop(s, 'malformed');
      return false;
    }
  }
  ring.store({ seq: packet.seq, originator: packet.originator, order: packet.order, payload: packet.payload, bytes, inner });
  if (s.membership === 'operational') deliverReady(s);
  return true;
}

/** Deliver, in seq order, every frame the rules of §2.3 allow on the current ring. */
export function deliverReady(s: SrpState): void {
  assert(s.membership === 'operational', 'deliveries happen in Operational');
  const ring = s.ring;
  const safeBound = s.safeBound;
  while (seqLt(ring.highDelivered, ring.aru)) {
    const seq = seqAdd(ring.highDelivered, 1);
    const frame = ring.queue.get(seq);
    assert(frame !== undefined, 'every seq up to aru is held');
    if (frame.order === 'safe' && (safeBound === null || seqGt(seq, safeBound))) break;
    ring.highDelivered = seq;
    deliver(s, ring, frame, false);
  }
}

/** Hand one frame to the host, in the configuration `transitional` says. */
export function deliver(s: SrpState, ring: RingState, frame: StoredFrame, transitional: boolean): void {
  assert(frame.inner === null, 'recovery copies are unpacked, never delivered');
  // Placeholders of recovery copies hold a seq and carry nothing.
  if (frame.payload.length === 0) return;
  s.counters.framesDelivered += 1;
  s.host.deliverFrame({
    ringId: ring.ringId,
    seq: frame.seq,
    originator: frame.originator,
    order: frame.order,
    payload: frame.payload,
    transitional,
  });
}
