/**
 * Admission at the engine's entry: every decoded packet is checked here, one function per packet
 * type, before its handler runs. The decoder (wire/decode.ts) has already refused what does not
 * parse; admission refuses what parses but cannot be true of a packet an honest member sent, or
 * what would carry this node past one of its bounds. A refused packet is dropped and counted under
 * a named reason (types.ts DropReason); the handlers behind it may then rely on what is admitted,
 * and no assertion of the engine depends on received data (engine/README.md, "Assertions").
 *
 * The rules (engine/README.md deviations 19–25):
 * - Ring seqs: above `ringSeqAcceptMax`, or more than `ringSeqJumpMax` above my own ring's seq
 *   → `ring-seq-bound` (dropped, not clamped: a clamped seq names a ring nobody formed). Seqs
 *   beyond the jump that keep arriving (no gap over a consensus timeout) for
 *   `ringSeqJumpAdoptMs` are taken, and the jump is measured from there on: peers that took a
 *   forged jump are not lost for good, and a forger needs seconds of packets, not one.
 *   (Admission writes only this streak; every other check only reads the state.)
 * - With `clusterNodeIds`: a sender, ring representative, originator, set member or commit member
 *   outside it → `not-member`.
 * - Join: the sender not in its own proc set, a fail set not within the proc set, or sets that
 *   would grow mine past nodeCountMax → `bad-set`. A foreign ring's sender that would grow my proc
 *   set past nodeCountMax → `bad-set`.
 * - Commit token: entries that contradict each other or its index (filled exactly below
 *   membIndex, unfilled entries empty, an old ring older than the new one, highDelivered ≤ aru),
 *   a representative that is not the smallest member, a sender that is not my predecessor in its
 *   member list, a list without me → `bad-commit-token`.
 * - Regular token of my ring: a sender that is not my predecessor (the representative's first
 *   token to itself excepted) → `not-predecessor`; a seq below a frame already broadcast on the
 *   ring, an aru above its seq, an aruAddr that is neither 0 nor a member of the ring, or an fcc
 *   above 2 × windowSizeMax → `bad-token`.
 * - Multicast of my ring: a sender or originator that is not a member of the ring →
 *   `not-member`; a seq I hold with other content → `conflicting-frame`; a recovery copy I do
 *   not hold, outside Recovery → `state`.
 */
import { nodeCountMax, ringSeqAcceptMax, ringSeqJumpMax, windowSizeMax } from '../constants.js';
import { seqLe, seqLt } from '../seq.js';
import type {
  CommitTokenPacket,
  DropReason,
  JoinPacket,
  McastPacket,
  MergeDetectPacket,
  NodeId,
  RingId,
  TokenHoldCancelPacket,
  TokenPacket,
} from '../types.js';
import { ringIdEquals } from '../types.js';
import { log, type SrpState } from './state.js';

/** The verdict of admission: null admits the packet, a reason drops it. */
export type Admission = DropReason | null;

export function admitToken(s: SrpState, p: TokenPacket): Admission {
  const verdict = admitSender(s, p.sender) ?? admitRingId(s, p.ringId);
  if (verdict !== null) return verdict;
  // A token of another ring, or in a state that takes none, is the handler's to drop.
  if (!ringIdEquals(p.ringId, s.ring.ringId)) return null;
  if (s.membership !== 'operational' && s.membership !== 'recovery') return null;
  const ring = s.ring;
  if (p.sender !== predecessor(ring.members, s.self)) {
    // The representative sends a ring's first token to itself (deviation 6); anything else
    // from me is one of my tokens copied back to me.
    const firstToken = p.sender === s.self && ring.ringId.rep === s.self && p.tokenSeq === 0;
    if (!firstToken) return 'not-predecessor';
  }
  // An old copy (a resend that crossed the token) is the handler's duplicate, whatever it says.
  if (s.myTokenSeq !== null && seqLe(p.tokenSeq, s.myTokenSeq)) return null;
  // The representative holding the ring's token cannot receive another one.
  if (s.heldToken !== null) return 'bad-token';
  // Seqs are taken from the token: no frame of the ring can lie above the token's seq, and no
  // member's aru above it either.
  if (seqLt(p.seq, ring.highSeqReceived)) return 'bad-token';
  if (!seqLe(p.aru, p.seq)) return 'bad-token';
  // aruAddr names the member whose aru holds the token's aru down (0: nobody); only that member
  // raises it again (§2.2 step 12). A name outside the ring would hold it down for good, and
  // failure to receive (step 13) would never fire, since no member is that name.
  if (p.aruAddr !== 0 && !ring.members.includes(p.aruAddr)) return 'bad-token';
  // Each member sends while fcc is below its window, at most its maxMessages.
  if (p.fcc > 2 * windowSizeMax) return 'bad-token';
  return null;
}

export function admitMcast(s: SrpState, p: McastPacket, bytes: Uint8Array): Admission {
  const verdict = admitSender(s, p.sender) ?? admitMember(s, p.originator) ?? admitRingId(s, p.ringId);
  if (verdict !== null) return verdict;
  if (p.inner !== undefined) {
    const inner = admitSender(s, p.inner.sender) ?? admitMember(s, p.inner.originator) ?? admitRingId(s, p.inner.ringId);
    if (inner !== null) return inner;
  }
  const ring = s.ring;
  if (!ringIdEquals(p.ringId, ring.ringId)) return admitForeignSender(s, p.sender);
  if (!ring.members.includes(p.sender) || !ring.members.includes(p.originator)) return 'not-member';
  const held = ring.queue.get(p.seq);
  if (held !== undefined && !sameFrame(held.bytes, held.inner, p, bytes)) return 'conflicting-frame';
  // Recovery copies are broadcast in Recovery only, and a member installs once it holds all of
  // them: one I do not hold outside Recovery was never sent (delivery would take it for a frame).
  if (p.inner !== undefined && held === undefined && s.membership !== 'recovery') return 'state';
  return null;
}

export function admitJoin(s: SrpState, p: JoinPacket): Admission {
  const verdict = admitSender(s, p.sender) ?? admitRingSeq(s, p.ringSeq);
  if (verdict !== null) return verdict;
  for (const id of p.procSet) if (!isListed(s, id)) return 'not-member';
  for (const id of p.failSet) if (!isListed(s, id)) return 'not-member';
  // A joiner names itself among its processors, and fails only processors it knows.
  if (!p.procSet.includes(p.sender)) return 'bad-set';
  for (const f of p.failSet) if (!p.procSet.includes(f)) return 'bad-set';
  // My sets only grow by what a join names: together they must still fit one join.
  let added = 0;
  for (const id of p.procSet) if (!s.procSet.has(id)) added += 1;
  if (s.procSet.size + added > nodeCountMax) return 'bad-set';
  return null;
}

export function admitCommitToken(s: SrpState, p: CommitTokenPacket): Admission {
  const verdict = admitSender(s, p.sender) ?? admitRingId(s, p.ringId);
  if (verdict !== null) return verdict;
  const members = p.members;
  const n = members.length;
  for (const m of members) {
    if (!isListed(s, m.nodeId)) return 'not-member';
    if (m.filled && !isListed(s, m.oldRingId.rep)) return 'not-member';
  }
  const ids = members.map((m) => m.nodeId);
  if (!ids.includes(s.self)) return 'bad-commit-token';
  if (p.ringId.rep !== ids[0]) return 'bad-commit-token';
  // The representative hands its new token to itself; one from the network has been forwarded.
  if (p.membIndex < 1) return 'bad-commit-token';
  if (p.sender !== predecessor(ids, s.self)) return 'bad-commit-token';
  if (p.membIndex < n && ids[p.membIndex] !== s.self) return 'bad-commit-token';
  const myOld = s.old?.ring ?? s.ring;
  for (let i = 0; i < n; i++) {
    const m = members[i]!;
    // Each member fills its entry as the token passes it on the first rotation.
    if (m.filled !== i < p.membIndex) return 'bad-commit-token';
    if (!m.filled) {
      if (m.oldRingId.rep !== 0 || m.oldRingId.seq !== 0n) return 'bad-commit-token';
      if (m.aru !== 0 || m.highDelivered !== 0 || m.receivedFlg) return 'bad-commit-token';
      continue;
    }
    if (m.oldRingId.rep === 0 || m.oldRingId.seq >= p.ringId.seq) return 'bad-commit-token';
    if (!seqLe(m.highDelivered, m.aru)) return 'bad-commit-token';
    // Whoever comes from my old ring was a member of it: I know its member list.
    if (m.nodeId !== s.self && ringIdEquals(m.oldRingId, myOld.ringId) && !myOld.members.includes(m.nodeId)) {
      return 'bad-commit-token';
    }
  }
  if (s.membership === 'commit' && ringIdEquals(p.ringId, s.ring.ringId)) {
    // A ring id names one member list. A copy from the first rotation is a duplicate (the
    // handler's); the token I passed on that comes back carries my entry as I wrote it.
    if (!sameList(ids, s.newMembers)) return 'bad-commit-token';
    if (p.membIndex !== n) return null;
    const mine = members[ids.indexOf(s.self)]!;
    const old = s.old?.ring;
    if (old === undefined || !ringIdEquals(mine.oldRingId, old.ringId)) return 'bad-commit-token';
    if (mine.aru !== old.aru || mine.highDelivered !== old.highDelivered) return 'bad-commit-token';
  }
  return null;
}

export function admitRingOnly(s: SrpState, p: MergeDetectPacket | TokenHoldCancelPacket): Admission {
  const verdict = admitSender(s, p.sender) ?? admitRingId(s, p.ringId);
  if (verdict !== null) return verdict;
  if (p.type === 'mergeDetect' && !ringIdEquals(p.ringId, s.ring.ringId)) return admitForeignSender(s, p.sender);
  return null;
}

/** The sender is listed (or no list is configured). */
function admitSender(s: SrpState, sender: NodeId): Admission {
  return isListed(s, sender) ? null : 'not-member';
}

function admitMember(s: SrpState, id: NodeId): Admission {
  return isListed(s, id) ? null : 'not-member';
}

function admitRingId(s: SrpState, ringId: RingId): Admission {
  if (!isListed(s, ringId.rep)) return 'not-member';
  return admitRingSeq(s, ringId.seq);
}

/**
 * Within the absolute bound, and not further ahead of my own ring (or of the last jump taken)
 * than ringSeqJumpMax, unless such seqs have kept arriving for ringSeqJumpAdoptMs.
 */
function admitRingSeq(s: SrpState, seq: bigint): Admission {
  if (seq > ringSeqAcceptMax) return 'ring-seq-bound';
  const base = s.ring.ringId.seq > s.ringSeqJump.base ? s.ring.ringId.seq : s.ringSeqJump.base;
  if (seq <= base + ringSeqJumpMax) return null;
  const jump = s.ringSeqJump;
  const nowMs = s.nowMs;
  if (jump.sinceMs === null || nowMs - jump.lastMs > s.config.consensusTimeoutMs) {
    jump.sinceMs = nowMs;
    jump.lastMs = nowMs;
    return 'ring-seq-bound';
  }
  jump.lastMs = nowMs;
  if (nowMs - jump.sinceMs < ringSeqJumpAdoptMs(s)) return 'ring-seq-bound';
  jump.base = seq;
  jump.sinceMs = null;
  log(s, 'warn', `ring seq ${seq} is more than ${ringSeqJumpMax} above mine (${base}) and kept arriving for ${ringSeqJumpAdoptMs(s)} ms or more: taken`);
  return null;
}

/** How long seqs beyond the jump must keep arriving before one is taken: two consensus timeouts. */
export function ringSeqJumpAdoptMs(s: SrpState): number {
  return 2 * s.config.consensusTimeoutMs;
}

/** A foreign ring's sender joins my proc set (foreign-rings.ts): it must still fit. */
function admitForeignSender(s: SrpState, sender: NodeId): Admission {
  if (!s.procSet.has(sender) && s.procSet.size >= nodeCountMax) return 'bad-set';
  return null;
}

function isListed(s: SrpState, id: NodeId): boolean {
  return s.clusterMembers === null || s.clusterMembers.has(id);
}

/** The member before `self` in a sorted member list (itself on a singleton), or 0 when absent. */
function predecessor(members: readonly NodeId[], self: NodeId): NodeId {
  const index = members.indexOf(self);
  if (index < 0) return 0;
  return members[(index + members.length - 1) % members.length]!;
}

function sameList(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A frame I hold at this seq is the one received: the same bytes, or a recovery copy that
 * installation turned into a placeholder (deviation 8), whose bytes were re-encoded.
 */
function sameFrame(heldBytes: Uint8Array, heldInner: Uint8Array | null, p: McastPacket, bytes: Uint8Array): boolean {
  if (p.inner !== undefined && heldInner === null) return true;
  if (heldBytes.length !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (heldBytes[i] !== bytes[i]) return false;
  return true;
}
