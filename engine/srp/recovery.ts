/**
 * Recovery and installation (evs-spec.md §3.4): the transitional members and the old-ring frames
 * to re-broadcast, encapsulated, on the new ring (step 2); the ring's first regular token and the
 * retrans-flag / install rule run on every Recovery visit (step 3); and installation (step 4):
 * old-ring deliveries in the old configuration, the transitional configuration, the rest of the
 * old ring in it, the new regular configuration.
 *
 * Deviations (engine/README.md): 3 (beyond the agreed prefix, only what some member of the
 * transitional configuration already delivered in C, `highRingDelivered`, is delivered in C),
 * 6 (the representative sends the first token to itself), 7 (no empty transitional
 * configuration before the first regular one), 8 (recovery copies become empty placeholder
 * frames in the new ring rather than being freed), 29 (an old-ring frame already carried on the
 * new ring is not re-broadcast again).
 */
import { assert } from '../assert.js';
import {
  decodePacket,
  encodeMcast,
  encodeMcastEncapsulated,
  encodePacket,
} from '../wire/codec.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMin } from '../seq.js';
import type { CommitTokenPacket, McastPacket, TokenPacket } from '../types.js';
import { ringIdEquals, ringIdToString } from '../types.js';
import { deliver, deliverReady } from './delivery.js';
import { sortedIds } from './node-ids.js';
import { forwardToken } from './ordering.js';
import type { RingState, StoredFrame } from './ring-state.js';
import { log, type RecoveryProgress, type SrpState } from './state.js';

/** The commit token's second rotation (§3.4 steps 1–2): transitional members and the recovery queue. */
export function enterRecovery(s: SrpState, token: CommitTokenPacket): void {
  assert(s.membership === 'commit', 'Recovery follows Commit');
  assert(s.old !== null, 'the old ring was saved at Commit');
  for (const m of token.members) assert(m.filled, 'every member filled its commit entry');
  const old = s.old.ring;
  const myIndex = s.newMembers.indexOf(s.self);
  assert(myIndex >= 0, 'I am a member of the new ring');

  // Transitional members: new members that come directly from my old ring.
  const transEntries = token.members.filter((m) => ringIdEquals(m.oldRingId, old.ringId));
  s.transMembers = s.old.installed ? transEntries.map((m) => m.nodeId) : [];
  assert(!s.old.installed || s.transMembers.includes(s.self), 'I am in my own transitional configuration');

  const queue: StoredFrame[] = [];
  s.highRingDelivered = old.highDelivered;
  if (s.old.installed) {
    for (const m of transEntries) if (seqGt(m.highDelivered, s.highRingDelivered)) s.highRingDelivered = m.highDelivered;
    if (!transEntries.every((m) => m.receivedFlg)) {
      let lowRingAru = old.highSeqReceived;
      for (const m of transEntries) lowRingAru = seqMin(lowRingAru, m.aru);
      // Nothing at or below lowWater is held: start there at the latest, so that the scan stays
      // within the sort queue whatever aru an entry claims.
      if (seqLt(lowRingAru, old.lowWater)) lowRingAru = old.lowWater;
      for (let seq = seqAdd(lowRingAru, 1); seqLe(seq, old.highSeqReceived); seq = seqAdd(seq, 1)) {
        const frame = old.queue.get(seq);
        if (frame !== undefined) queue.push(frame);
      }
    }
  }
  s.recovery = {
    queue,
    next: 0,
    carried: new Set(),
    iSetRetransFlg: false,
    retransFlgCount: 0,
    installSeq: 0,
    rotationCounter: 0,
    firstTokenSent: false,
  };
  s.membership = 'recovery';
  s.counters.recoveryEntries += 1;
  s.myTokenSeq = null;
  s.lastTokenSeqField = null;
  s.lastTokenAtMs = null;
  s.unchangedCount = 0;
  s.myLastAru = null;
  s.safeBound = null;
  s.myAruCount = 0;
  s.missCount.clear();

  const n = s.newMembers.length;
  const next = s.newMembers[(myIndex + 1) % n];
  assert(next !== undefined, 'successor exists');
  const forwarded: CommitTokenPacket = { ...token, sender: s.self };
  const bytes = encodePacket(forwarded);
  // Until a regular token passes here, the commit token is what a retransmission resends.
  s.tokenCopy = { bytes, to: next };
  s.host.send(next, bytes, true);
  s.timers.arm('tokenLoss', s.nowMs, s.config.tokenTimeoutMs);
  s.tokenRetransmitWaitMs = s.config.tokenRetransmitMs;
  s.timers.arm('tokenRetransmit', s.nowMs, s.tokenRetransmitWaitMs);
}

/** The commit token came back a third time: the representative starts the ring's first token (§3.3). */
export function sendInitialToken(s: SrpState): void {
  assert(s.recovery !== null, 'in Recovery');
  assert(s.ring.ringId.rep === s.self, 'only the representative sends the first token');
  s.recovery.firstTokenSent = true;
  const token: TokenPacket = {
    type: 'token',
    sender: s.self,
    ringId: s.ring.ringId,
    tokenSeq: 0,
    seq: 0,
    aru: 0,
    aruAddr: s.self,
    fcc: 0,
    backlog: 0,
    retransFlg: s.recovery.queue.length > 0,
    rtr: [],
  };
  // Whoever sets the flag is the one to clear it once its queue is empty (§3.4 step 3).
  s.recovery.iSetRetransFlg = token.retransFlg;
  // The first token goes to the representative itself, so that its visit runs like any other.
  forwardToken(s, token, s.self);
}

/** §3.4 step 3: the retrans flag and install rule, run on every Recovery visit before forwarding. */
export function recoveryVisit(s: SrpState, token: TokenPacket): boolean {
  const rec = s.recovery;
  assert(rec !== null, 'in Recovery');
  skipCarried(rec);
  const pending = rec.next < rec.queue.length;
  if (pending && !token.retransFlg) {
    token.retransFlg = true;
    rec.iSetRetransFlg = true;
  } else if (!pending && rec.iSetRetransFlg) {
    token.retransFlg = false;
    rec.iSetRetransFlg = false;
  }
  if (token.retransFlg) rec.retransFlgCount = 0;
  else rec.retransFlgCount += 1;
  if (rec.retransFlgCount === 2) rec.installSeq = token.seq;
  if (rec.retransFlgCount >= 3 && seqGe(token.aru, rec.installSeq)) rec.rotationCounter += 1;
  else rec.rotationCounter = 0;
  return rec.rotationCounter === 2;
}

/** Recovery frames still to re-broadcast: the backlog flow control sees in Recovery (§2.4). Steps past those already carried. */
export function recoveryBacklog(s: SrpState): number {
  const rec = s.recovery;
  if (rec === null) return 0;
  skipCarried(rec);
  return rec.queue.length - rec.next;
}

/** Step past the frames at the head of my queue that another member already re-broadcast. */
function skipCarried(rec: RecoveryProgress): void {
  while (rec.next < rec.queue.length && rec.carried.has((rec.queue[rec.next] as StoredFrame).seq)) rec.next += 1;
}

/**
 * An encapsulated frame of the new ring was stored here in Recovery: if it carries a frame of my
 * old ring, no member of my transitional configuration needs to re-broadcast that frame again.
 * Without this every member re-broadcasts every frame it holds above the lowest aru, and ten
 * members of one old ring holding ~1,900 frames fill the new ring's sort queue with copies
 * before it can install (deviation 29).
 */
export function noteCarried(s: SrpState, inner: McastPacket): void {
  const rec = s.recovery;
  if (rec === null || s.old === null || !ringIdEquals(inner.ringId, s.old.ring.ringId)) return;
  rec.carried.add(inner.seq);
}

/** §2.2 step 10 in Recovery: only the recovery queue is sent, each frame encapsulated once. */
export function broadcastRecovery(s: SrpState, token: TokenPacket, ring: RingState, allowed: number): number {
  const rec = s.recovery;
  assert(rec !== null, 'in Recovery');
  let sent = 0;
  while (sent < allowed && rec.next < rec.queue.length) {
    const frame = rec.queue[rec.next];
    assert(frame !== undefined, 'queued frame exists');
    rec.next += 1;
    if (rec.carried.has(frame.seq)) continue;
    rec.carried.add(frame.seq);
    const inner = frame.bytes;
    const seq = seqAdd(token.seq, 1);
    token.seq = seq;
    const bytes = encodeMcastEncapsulated(s.self, ring.ringId, seq, inner);
    ring.store({ seq, originator: s.self, order: 'agreed', payload: new Uint8Array(0), bytes, inner });
    s.host.send(0, bytes, false);
    sent += 1;
  }
  return sent;
}

/** Installation (§3.4 step 4): old-ring deliveries, transitional configuration, regular configuration. */
export function enterOperational(s: SrpState): void {
  assert(s.membership === 'recovery', 'Operational follows Recovery');
  assert(s.old !== null, 'the old ring was saved');
  const old = s.old.ring;
  const newRing = s.ring;
  const trans = s.transMembers;

  if (s.old.installed) {
    // a. Unpack the recovered old-ring frames, keeping the first copy of each old seq.
    for (let seq = seqAdd(newRing.lowWater, 1); seqLe(seq, newRing.highSeqReceived); seq = seqAdd(seq, 1)) {
      const frame = newRing.queue.get(seq);
      if (frame === undefined || frame.inner === null) continue;
      newRing.queue.set(seq, placeholderFrame(newRing, frame));
      const decoded = decodePacket(frame.inner);
      if (!decoded.ok || decoded.packet.type !== 'mcast') continue;
      const inner = decoded.packet;
      if (!ringIdEquals(inner.ringId, old.ringId) || !old.accepts(inner.seq)) continue;
      if (!old.members.includes(inner.originator)) continue;
      old.store(storedFrame(inner, frame.inner));
    }
    // Deliver in C everything some member of T delivered in C, then agreed messages up to the
    // first hole or the first safe message.
    for (let seq = seqAdd(old.highDelivered, 1); ; seq = seqAdd(seq, 1)) {
      const frame = old.queue.get(seq);
      if (frame === undefined) {
        // Honest members re-broadcast every frame up to the highest highDelivered of T, so a hole
        // below it means a commit entry claimed deliveries its ring never had: not an invariant
        // of this node, so it is logged, and delivery in C stops at the hole.
        if (seqLe(seq, s.highRingDelivered)) {
          log(s, 'warn', `ring ${ringIdToString(old.ringId)}: seq ${seq} missing below the highest delivered seq a member claimed (${s.highRingDelivered})`);
        }
        break;
      }
      if (seqGt(seq, s.highRingDelivered) && frame.order === 'safe') break;
      old.highDelivered = seq;
      deliver(s, old, frame, false);
    }
    // b. The transitional configuration.
    const transitionalLeft = old.members.filter((m) => !trans.includes(m));
    s.host.configuration({
      kind: 'transitional',
      ringId: newRing.ringId,
      members: [...trans],
      joined: [],
      left: transitionalLeft,
      cause: s.changeCause,
      causeNodes: sortedIds(s.changeNodes),
    });
    // c. The rest of the old ring in T: skip holes; above the first hole, only senders in T.
    let holeSeen = false;
    for (let seq = seqAdd(old.highDelivered, 1); seqLe(seq, old.highSeqReceived); seq = seqAdd(seq, 1)) {
      const frame = old.queue.get(seq);
      if (frame === undefined) {
        holeSeen = true;
        continue;
      }
      if (holeSeen && !trans.includes(frame.originator)) continue;
      deliver(s, old, frame, true);
    }
  }
  // d. The regular configuration.
  s.membership = 'operational';
  s.installed = newRing;
  s.old = null;
  s.recovery = null;
  s.procSet = new Set(newRing.members);
  s.failSet = new Set();
  s.consensus = new Set([s.self]);
  s.myLastAru = null;
  s.safeBound = null;
  s.counters.configurationsInstalled += 1;
  s.host.configuration({
    kind: 'regular',
    ringId: newRing.ringId,
    members: [...newRing.members],
    joined: newRing.members.filter((m) => !trans.includes(m)),
    left: [],
    cause: s.changeCause,
    causeNodes: sortedIds(s.changeNodes),
  });
  log(s, 'info', `installed ring ${ringIdToString(newRing.ringId)} members [${newRing.members.join(',')}] (${s.changeCause})`);
  s.changeUnderWay = false;
  s.changeNodes = new Set();
  s.source.onRegularConfiguration(newRing.ringId);
  deliverReady(s);
}

/**
 * After installation a recovery copy stands in the new ring as an empty agreed frame: it keeps
 * the seq without a hole, delivers nothing, and can itself be re-broadcast (encapsulated once)
 * if this ring has to be recovered in turn.
 */
function placeholderFrame(ring: RingState, frame: StoredFrame): StoredFrame {
  const payload = new Uint8Array(0);
  const bytes = encodeMcast(frame.originator, ring.ringId, frame.seq, frame.originator, 'agreed', payload);
  return { seq: frame.seq, originator: frame.originator, order: 'agreed', payload, bytes, inner: null };
}

/** A frame of the old ring recovered from an encapsulated copy. */
function storedFrame(inner: McastPacket, innerBytes: Uint8Array): StoredFrame {
  return { seq: inner.seq, originator: inner.originator, order: inner.order, payload: inner.payload, bytes: innerBytes, inner: null };
}
