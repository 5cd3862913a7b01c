/**
 * Totem Single Ring Protocol: ordering (token, sequence numbers, retransmission, flow control,
 * agreed and safe delivery) and membership (Gather, Commit, Recovery, installation of the
 * transitional and regular configurations), as evs-spec.md describes it, after [TOTEM] and
 * corosync's exec/totemsrp.c. Section numbers in comments (§2.2 …) refer to evs-spec.md.
 *
 * A pure state machine: packets and time come in (`onPacket`, `onTimer`), effects go out through
 * the host (`send`, `deliverFrame`, `configuration`, `storeRingSeq`). No clock, no sockets, no
 * randomness. Deviations from corosync are listed in engine/README.md.
 *
 * This class is the facade the host drives: it keeps the clock, decodes packets and hands each
 * packet type and each timer to its handler. The protocol itself is in free functions over one
 * state object (state.ts), one file per spec section: ordering.ts (§2.2, §2.4, hold),
 * retransmission.ts (§2.2 step 8, §2.5), delivery.ts (§2.3), foreign-rings.ts (§2.5 merge
 * detection), gather.ts and gather-silence.ts (§3.2), commit.ts (§3.3), recovery.ts (§3.4).
 */
import { assert } from '../assert.js';
import type { EngineConfig } from '../config.js';
import { decodePacket } from '../wire/codec.js';
import type { DropReason, EngineStats, FrameSource, MembershipState, NodeId, Packet, RingId, SrpHost } from '../types.js';
import { PROTOCOL_VERSION } from '../types.js';
import { admitCommitToken, admitJoin, admitMcast, admitRingOnly, admitToken } from './admission.js';
import { onCommitToken } from './commit.js';
import { onMcast } from './delivery.js';
import { onMergeDetect, onMergeTimeout, onTokenHoldCancel } from './foreign-rings.js';
import { enterGather, onConsensusTimeout, onJoin, onJoinTimeout, onTokenLossTimeout } from './gather.js';
import { onGatherSilence } from './gather-silence.js';
import { checkInvariants } from './invariants.js';
import { leaveAnnounced, leaveIfDrained, onLeaveJoin, onLeaveTimeout, requestLeave } from './leave.js';
import { onSubmit, onToken, releaseHeldToken } from './ordering.js';
import { noteCarried } from './recovery.js';
import { onTokenRetransmitTimeout } from './retransmission.js';
import { createSrpState, drop, installedMembers, log, touchPeer, type SrpState } from './state.js';
import type { TimerName } from './timers.js';

export class Srp {
  /**
   * The whole protocol state. Exposed for the invariants pass and for tests that inspect or
   * corrupt it; a host reads the engine through the getters below and never writes here.
   */
  readonly state: SrpState;

  constructor(config: EngineConfig, host: SrpHost, source: FrameSource) {
    this.state = createSrpState(config, host, source);
  }

  // ------------------------------------------------------------------------------------------
  // Inputs

  start(nowMs: number): void {
    const s = this.state;
    assert(!s.started, 'start() is called once');
    s.started = true;
    s.nowMs = nowMs;
    enterGather(s, 'start', []);
  }

  onTimer(nowMs: number): void {
    const s = this.state;
    assert(s.started, 'started before timers fire');
    advanceClock(s, nowMs);
    for (let name = s.timers.takeExpired(nowMs); name !== null; name = s.timers.takeExpired(nowMs)) {
      onTimerExpired(s, name);
    }
  }

  nextTimerMs(): number {
    return this.state.timers.nextDeadlineMs();
  }

  onPacket(nowMs: number, bytes: Uint8Array): void {
    const s = this.state;
    assert(s.started, 'started before packets arrive');
    advanceClock(s, nowMs);
    // A node that announced its leave is gone from the ring: it answers nothing.
    if (leaveAnnounced(s)) return;
    const result = decodePacket(bytes);
    if (!result.ok) {
      drop(s, result.reason);
      if (result.reason === 'version' && result.sender !== undefined) reportVersionSkew(s, result.sender, result.version);
      return;
    }
    const packet = result.packet;
    const verdict = admit(s, packet, bytes);
    if (verdict !== null) {
      drop(s, verdict);
      return;
    }
    touchPeer(s.lastHeardMs, packet.sender, nowMs, (heardMs) => nowMs - heardMs >= s.config.consensusTimeoutMs);
    switch (packet.type) {
      case 'token':
        onToken(s, packet);
        if (s.leave !== null) leaveIfDrained(s);
        break;
      case 'mcast':
        // A recovery copy stored on my new ring spares the other transitional members theirs.
        if (onMcast(s, packet, bytes) && packet.inner !== undefined) noteCarried(s, packet.inner);
        break;
      case 'join':
        if (!onLeaveJoin(s, packet)) onJoin(s, packet);
        break;
      case 'commitToken':
        onCommitToken(s, packet);
        break;
      case 'mergeDetect':
        onMergeDetect(s, packet);
        break;
      case 'tokenHoldCancel':
        onTokenHoldCancel(s, packet);
        break;
    }
  }

  /**
   * The application queued something. On a ring this node sees as idle, ask the representative to
   * release a held token at once rather than after `holdMs` (§2.5 hold-cancel).
   */
  onSubmit(): void {
    if (leaveAnnounced(this.state)) return;
    onSubmit(this.state);
  }

  /**
   * Leave the ring (the host closes the node): own frames drain for at most `drainWaitMsMax`
   * (broadcast and held by every member), then the leave is announced and the node stops taking
   * input. Poll `hasLeft` after each input; the timers stay to be driven until it is true.
   */
  leave(nowMs: number, drainWaitMsMax: number): void {
    const s = this.state;
    if (s.started) advanceClock(s, nowMs);
    else s.nowMs = nowMs;
    requestLeave(s, drainWaitMsMax);
  }

  /** The leave was announced (every copy sent): nothing more will come from this node. */
  get hasLeft(): boolean {
    return this.state.leave?.phase === 'left';
  }

  /** A leave was asked for (it may still be draining). */
  get leaving(): boolean {
    return this.state.leave !== null;
  }

  // ------------------------------------------------------------------------------------------
  // Introspection

  get membershipState(): MembershipState {
    return this.state.membership;
  }

  get ringId(): RingId {
    return this.state.ring.ringId;
  }

  /**
   * Token visits in a row that saw nothing broadcast (the token's seq unchanged), as this node
   * counts them; past config.seqnoUnchangedConst the representative holds the token (§2.5).
   */
  get idleRotations(): number {
    return this.state.unchangedCount;
  }

  /** Members of the installed regular configuration. */
  get members(): readonly NodeId[] {
    return installedMembers(this.state);
  }

  stats(): EngineStats {
    const s = this.state;
    return {
      ...s.counters,
      packetsDropped: { ...s.dropped },
      state: s.membership,
      ringId: s.installed?.ringId ?? s.ring.ringId,
      members: [...this.members],
    };
  }

  /**
   * Throws an AssertionError when the state breaks one of its invariants (invariants.ts). Tests
   * and the simulator call it after every input; the runtime does not (it reads the whole state).
   */
  assertInvariants(): void {
    checkInvariants(this.state);
  }
}

function advanceClock(s: SrpState, nowMs: number): void {
  assert(nowMs >= s.nowMs, 'time never goes backwards');
  s.nowMs = nowMs;
}

function onTimerExpired(s: SrpState, name: TimerName): void {
  switch (name) {
    case 'tokenLoss':
      onTokenLossTimeout(s);
      break;
    case 'tokenRetransmit':
      onTokenRetransmitTimeout(s);
      break;
    case 'join':
      onJoinTimeout(s);
      break;
    case 'consensus':
      if (s.membership === 'gather') onConsensusTimeout(s);
      break;
    case 'silence':
      if (s.membership === 'gather') onGatherSilence(s);
      break;
    case 'merge':
      onMergeTimeout(s);
      break;
    case 'hold':
      releaseHeldToken(s);
      break;
    case 'leave':
      onLeaveTimeout(s);
      break;
  }
}

/** Admission (admission.ts): one check per packet type, before its handler. */
function admit(s: SrpState, packet: Packet, bytes: Uint8Array): DropReason | null {
  switch (packet.type) {
    case 'token':
      return admitToken(s, packet);
    case 'mcast':
      return admitMcast(s, packet, bytes);
    case 'join':
      return admitJoin(s, packet);
    case 'commitToken':
      return admitCommitToken(s, packet);
    case 'mergeDetect':
    case 'tokenHoldCancel':
      return admitRingOnly(s, packet);
  }
}

/** Peers whose skew was reported this long ago may be pruned (and reported again) when the map is full. */
const versionSkewReportAgainMs = 60_000;

function reportVersionSkew(s: SrpState, peer: NodeId, version: number | undefined): void {
  if (s.versionSkewReported.has(peer)) return;
  const nowMs = s.nowMs;
  touchPeer(s.versionSkewReported, peer, nowMs, (reportedMs) => nowMs - reportedMs >= versionSkewReportAgainMs);
  log(s, 'warn', `node ${peer} speaks protocol version ${version ?? '?'}; this node speaks ${PROTOCOL_VERSION}: its packets are dropped`);
}
