/**
 * Commit (evs-spec.md §3.3): the representative creates the commit token once consensus is
 * reached; each member fills its entry from the old ring (saved at the first Commit of a
 * membership change, §7 "Old-ring state"), takes the new ring id, persists its seq before the
 * token leaves, and forwards it. The second rotation moves members to Recovery (recovery.ts), and
 * the third arrival at the representative sends the ring's first regular token.
 *
 * Deviations (engine/README.md): 2 (message seqs start at 1; a commit entry's aru of 0 means
 * nothing yet), 6 (the first regular token goes to the representative itself, recovery.ts).
 */
import { assert } from '../assert.js';
import { encodePacket } from '../wire/codec.js';
import { seqGt, seqLt } from '../seq.js';
import type { CommitMemberEntry, CommitTokenPacket, RingId } from '../types.js';
import { ringIdEquals } from '../types.js';
import { candidateMembers } from './gather.js';
import { sameIds } from './node-ids.js';
import { enterRecovery, sendInitialToken } from './recovery.js';
import { RingState } from './ring-state.js';
import { drop, log, type SrpState } from './state.js';
import { ringSeqMax } from '../constants.js';

/** Consensus reached and I am the smallest candidate: a new ring id past every seq I know of. */
export function createCommitToken(s: SrpState): void {
  assert(s.membership === 'gather', 'commit tokens are created in Gather');
  const members = candidateMembers(s);
  assert(members[0] === s.self, 'the representative is the smallest member');
  const ringId: RingId = { rep: s.self, seq: s.tokenRingIdSeq + 4n };
  if (ringId.seq > ringSeqMax) {
    // 2^22 rings past the accept bound: unreachable but by a cluster pushed there on purpose.
    // No ring id is left; stay in Gather and say what fixes it (config.ts storedRingSeqProblem).
    log(s, 'error', `no ring id left: ring seq ${ringId.seq} would pass ${ringSeqMax}; restart every node with its ring-seq file deleted`);
    return;
  }
  const entries: CommitMemberEntry[] = members.map((nodeId) => ({
    nodeId,
    oldRingId: { rep: 0, seq: 0n },
    aru: 0,
    highDelivered: 0,
    receivedFlg: false,
    filled: false,
  }));
  const token: CommitTokenPacket = { type: 'commitToken', sender: s.self, ringId, membIndex: 0, members: entries };
  enterCommit(s, token);
}

/** A commit token arrives: accepted per state as §7's table says, every other copy dropped. */
export function onCommitToken(s: SrpState, token: CommitTokenPacket): void {
  const memberIds = token.members.map((m) => m.nodeId);
  switch (s.membership) {
    case 'operational':
      drop(s, 'state');
      return;
    case 'gather':
      if (!sameIds(memberIds, candidateMembers(s)) || token.ringId.seq <= s.ring.ringId.seq) {
        drop(s, 'state');
        return;
      }
      if (token.membIndex >= token.members.length || memberIds[token.membIndex] !== s.self) {
        drop(s, 'state');
        return;
      }
      enterCommit(s, token);
      return;
    case 'commit':
      if (!ringIdEquals(token.ringId, s.ring.ringId) || token.membIndex !== token.members.length) {
        drop(s, 'duplicate');
        return;
      }
      enterRecovery(s, token);
      return;
    case 'recovery':
      if (
        ringIdEquals(token.ringId, s.ring.ringId) &&
        s.ring.ringId.rep === s.self &&
        s.recovery !== null &&
        !s.recovery.firstTokenSent
      ) {
        sendInitialToken(s);
      } else {
        drop(s, 'duplicate');
      }
      return;
  }
}

/** Fill my entry, take the new ring id (persisted first), stop the Gather timers, pass it on (§3.3). */
function enterCommit(s: SrpState, token: CommitTokenPacket): void {
  const myIndex = token.members.findIndex((m) => m.nodeId === s.self);
  assert(myIndex >= 0, 'a commit token names its receiver');
  assert(token.ringId.seq > s.ring.ringId.seq, 'a new ring has a higher seq');
  if (s.old === null) {
    // First Commit of this membership change: save the old ring as it stands (§7).
    s.old = { ring: s.ring, installed: s.installed !== null };
  }
  const old = s.old.ring;
  const entry = token.members[myIndex];
  assert(entry !== undefined, 'entry exists');
  entry.oldRingId = old.ringId;
  entry.aru = old.aru;
  entry.highDelivered = old.highDelivered;
  entry.receivedFlg = old.aru === old.highSeqReceived;
  entry.filled = true;
  // Clear received_flg of every filled entry of my old ring whose aru is below the highest aru
  // among them: those members lack messages another member holds (§3.3).
  let highestAru: number | null = null;
  for (const m of token.members) {
    if (m.filled && ringIdEquals(m.oldRingId, old.ringId)) {
      if (highestAru === null || seqGt(m.aru, highestAru)) highestAru = m.aru;
    }
  }
  for (const m of token.members) {
    if (m.filled && ringIdEquals(m.oldRingId, old.ringId) && highestAru !== null && seqLt(m.aru, highestAru)) {
      m.receivedFlg = false;
    }
  }

  s.membership = 'commit';
  s.counters.commitEntries += 1;
  s.newMembers = token.members.map((m) => m.nodeId);
  s.ring = new RingState(token.ringId, s.newMembers);
  s.tokenRingIdSeq = token.ringId.seq;
  // The ring seq is durable before any packet that announces it leaves this node.
  s.host.storeRingSeq(token.ringId.seq);
  s.timers.cancel('join');
  s.timers.cancel('consensus');
  s.timers.cancel('silence');
  s.timers.cancel('merge');
  s.timers.cancel('hold');
  s.gatherSinceMs = null;
  s.fcc.sentPrev = 0;
  s.fcc.backlogPrev = 0;
  s.heldToken = null;

  token.membIndex += 1;
  const n = token.members.length;
  const next = token.members[token.membIndex % n];
  assert(next !== undefined, 'next member exists');
  const forwarded: CommitTokenPacket = { ...token, sender: s.self };
  const bytes = encodePacket(forwarded);
  s.commitCopy = { bytes, to: next.nodeId };
  s.host.send(next.nodeId, bytes, true);
  s.timers.arm('tokenLoss', s.nowMs, s.config.tokenTimeoutMs);
  s.tokenRetransmitWaitMs = s.config.tokenRetransmitMs;
  s.timers.arm('tokenRetransmit', s.nowMs, s.tokenRetransmitWaitMs);
}
