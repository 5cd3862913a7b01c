/**
 * Other rings and idle-ring signals (evs-spec.md §2.5 "Merge detection" and "Hold-cancel", the
 * foreign-ring and merge-detect rows of §7's table): a multicast or merge-detect of another ring
 * reveals a ring to merge with and sends this node to Gather with the sender in its proc set; the
 * representative of an idle operational ring announces its ring on the merge timer; a hold-cancel
 * of my ring makes the representative release a held token at once.
 *
 * Deviation 4 (engine/README.md): in Operational, a late packet of an older ring from a member of
 * my ring is ignored (corosync enters Gather on any foreign ring id): it is a delayed
 * retransmission or merge-detect of a ring this node already left with that member, and
 * gathering on it only churns the membership.
 */
import { encodePacket } from '../wire/codec.js';
import type { MergeDetectPacket, NodeId, RingId, TokenHoldCancelPacket } from '../types.js';
import { ringIdEquals } from '../types.js';
import { enterGather } from './gather.js';
import { releaseHeldToken } from './ordering.js';
import { drop, installedMembers, type SrpState } from './state.js';

/** The merge timer fired: only the representative of an operational ring announces it (§2.5). */
export function onMergeTimeout(s: SrpState): void {
  if (s.membership === 'operational' && s.ring.ringId.rep === s.self) {
    const md: MergeDetectPacket = { type: 'mergeDetect', sender: s.self, ringId: s.ring.ringId };
    s.host.send(0, encodePacket(md), true);
  }
}

/**
 * A multicast or merge-detect of another ring. In Operational it reveals another ring to merge
 * with; a late packet of an older ring from a member of mine is stale and ignored (deviation:
 * corosync enters Gather on any foreign ring id, README).
 */
export function onForeignRing(s: SrpState, sender: NodeId, ringId: RingId): void {
  switch (s.membership) {
    case 'operational':
      if (installedMembers(s).includes(sender) && ringId.seq <= s.ring.ringId.seq) {
        drop(s, 'foreign-ring');
        return;
      }
      s.procSet.add(sender);
      enterGather(s, 'merge', [sender]);
      return;
    case 'gather':
      if (!s.procSet.has(sender)) {
        s.procSet.add(sender);
        enterGather(s, 'merge', [sender]);
        return;
      }
      drop(s, 'foreign-ring');
      return;
    case 'commit':
    case 'recovery':
      drop(s, 'foreign-ring');
      return;
  }
}

/** A merge-detect of my own ring is my own representative's: nothing to merge with. */
export function onMergeDetect(s: SrpState, packet: MergeDetectPacket): void {
  if (ringIdEquals(packet.ringId, s.ring.ringId)) return;
  onForeignRing(s, packet.sender, packet.ringId);
}

/** Someone of my ring has something to send: the ring is not idle, and a held token leaves now. */
export function onTokenHoldCancel(s: SrpState, packet: TokenHoldCancelPacket): void {
  if (!ringIdEquals(packet.ringId, s.ring.ringId)) {
    drop(s, 'foreign-ring');
    return;
  }
  s.unchangedCount = 0;
  if (s.heldToken !== null) releaseHeldToken(s);
}
