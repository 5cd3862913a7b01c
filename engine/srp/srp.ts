/**
 * Totem Single Ring Protocol: ordering (token, sequence numbers, retransmission, flow control,
 * agreed and safe delivery) and membership (Gather, Commit, Recovery, installation of the
 * transitional and regular configurations), as evs-spec.md describes it, after [TOTEM] and
 * corosync's exec/totemsrp.c. Section numbers in comments (§2.2 …) refer to evs-spec.md.
 *
 * A pure state machine: packets and time come in (`onPacket`, `onTimer`), effects go out through
 * the host (`send`, `deliverFrame`, `configuration`, `storeRingSeq`). No clock, no sockets, no
 * randomness. Deviations from corosync are listed in engine/README.md.
 */
import { assert } from '../assert.js';
import type { EngineConfig } from '../config.js';
import { rtrEntriesMax, sortQueueItemsMax } from '../constants.js';
import {
  decodePacket,
  encodeMcast,
  encodeMcastEncapsulated,
  encodePacket,
  mcastInnerBytes,
} from '../wire/codec.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMin } from '../seq.js';
import type {
  CommitMemberEntry,
  CommitTokenPacket,
  ConfigurationCause,
  DropReason,
  EngineStats,
  FrameSource,
  JoinPacket,
  McastPacket,
  MembershipState,
  MergeDetectPacket,
  NodeId,
  RingId,
  SrpHost,
  TokenHoldCancelPacket,
  TokenPacket,
} from '../types.js';
import { PROTOCOL_VERSION, ringIdEquals, ringIdToString } from '../types.js';
import { fccAllowance, fccTokenUpdate, type FlowControlState } from './flow-control.js';
import { RingState, type StoredFrame } from './ring-state.js';
import { Timers, type TimerName } from './timers.js';

/** The old ring as it stood at the first Commit entry of a membership change (§7 "Old-ring state"). */
interface OldRing {
  ring: RingState;
  /** False before this node's first regular configuration: there is nothing to recover then. */
  installed: boolean;
}

/** Recovery progress on the new ring (§3.4 step 3). */
interface RecoveryProgress {
  /** Encoded old-ring frames this node re-broadcasts, encapsulated. */
  queue: Uint8Array[];
  next: number;
  iSetRetransFlg: boolean;
  retransFlgCount: number;
  installSeq: number;
  rotationCounter: number;
  firstTokenSent: boolean;
}

function sortedIds(set: Iterable<NodeId>): NodeId[] {
  return [...set].sort((a, b) => a - b);
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isSubset(a: readonly NodeId[], b: ReadonlySet<NodeId>): boolean {
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function emptyDropCounts(): Record<DropReason, number> {
  return {
    truncated: 0,
    malformed: 0,
    oversized: 0,
    version: 0,
    'unknown-type': 0,
    'foreign-ring': 0,
    duplicate: 0,
    state: 0,
  };
}

export class Srp {
  private readonly self: NodeId;
  private readonly timers = new Timers();
  private nowMs = 0;
  private started = false;

  private state: MembershipState = 'gather';
  /** The ring my ring id names: the installed one in Operational, the attempted one after Commit. */
  private ring: RingState;
  /** The last installed regular configuration, or null before the first. */
  private installed: RingState | null = null;
  private old: OldRing | null = null;
  /** The largest ring seq this node knows of (corosync token_ring_id_seq). */
  private tokenRingIdSeq: bigint;

  // Gather (§3.2)
  private procSet = new Set<NodeId>();
  private failSet = new Set<NodeId>();
  private consensus = new Set<NodeId>();
  /** When each processor was last heard from (any packet it sent), for silence in Gather. */
  private readonly lastHeardMs = new Map<NodeId, number>();
  /** When each processor's last join arrived: a processor in Gather sends one every join period. */
  private readonly lastJoinMs = new Map<NodeId, number>();
  /** When this stay in Gather began (entered from another state), or null outside Gather. */
  private gatherSinceMs: number | null = null;
  /** The last token rotation seen here: ms between my last two accepted tokens of one ring. */
  private lastRotationMs = 0;
  /**
   * Recent rotation time, a moving average (an eighth per token) in which one rotation counts
   * for at most four times the average: a rotation slowed by a lost token must not lengthen the
   * wait before the next resend much (that would feed on itself under steady loss), while a ring
   * that really slows down (load, a hold) raises it within a few rotations.
   */
  private rotationEstimateMs = 0;
  /** The wait before the next resend of my token copy; doubles after each resend. */
  private tokenRetransmitWaitMs = 0;
  private lastTokenAtMs: number | null = null;
  private failedToRecv = false;
  /** What started the membership change under way (reported with its configurations). */
  private changeCause: ConfigurationCause = 'start';
  private changeNodes = new Set<NodeId>();
  private changeUnderWay = false;

  // Commit and Recovery (§3.3, §3.4)
  private commitCopy: { bytes: Uint8Array; to: NodeId } | null = null;
  private newMembers: NodeId[] = [];
  private transMembers: NodeId[] = [];
  private highRingDelivered = 0;
  private recovery: RecoveryProgress | null = null;

  // Ordering (§2.2)
  /** token_seq of my last accepted token on this ring; null after entering Recovery (§2.1). */
  private myTokenSeq: number | null = null;
  private lastTokenSeqField: number | null = null;
  private unchangedCount = 0;
  /** token.aru as received on my previous accepted visit on this ring (a_prev), or null. */
  private myLastAru: number | null = null;
  /** Safe messages at or below this seq may be delivered (min of the last two visits' aru), or null. */
  private safeBound: number | null = null;
  private myAruCount = 0;
  private readonly fcc: FlowControlState = { sentPrev: 0, backlogPrev: 0 };
  private tokenCopy: { bytes: Uint8Array; to: NodeId } | null = null;
  private heldToken: { bytes: Uint8Array; to: NodeId } | null = null;
  private readonly missCount = new Map<number, number>();
  private readonly versionSkewReported = new Set<NodeId>();

  private readonly counters = {
    tokenRotations: 0,
    tokensReceived: 0,
    framesBroadcast: 0,
    framesDelivered: 0,
    retransmitsSent: 0,
    retransmitsRequested: 0,
    tokenRetransmits: 0,
    gatherEntries: 0,
    commitEntries: 0,
    recoveryEntries: 0,
    configurationsInstalled: 0,
  };
  private readonly dropped = emptyDropCounts();

  constructor(
    private readonly config: EngineConfig,
    private readonly host: SrpHost,
    private readonly source: FrameSource,
  ) {
    this.self = config.nodeId;
    // corosync loads the stored seq and adds 1 so that a restarted lowest-id node's singleton ring
    // id cannot repeat one it used before (§1).
    const ringSeq = config.ringSeqInitial + 1n;
    this.tokenRingIdSeq = ringSeq;
    this.ring = new RingState({ rep: this.self, seq: ringSeq }, []);
  }

  // ------------------------------------------------------------------------------------------
  // Inputs

  start(nowMs: number): void {
    assert(!this.started, 'start() is called once');
    this.started = true;
    this.nowMs = nowMs;
    this.enterGather('start', []);
  }

  onTimer(nowMs: number): void {
    assert(this.started, 'started before timers fire');
    this.advanceClock(nowMs);
    for (let name = this.timers.takeExpired(nowMs); name !== null; name = this.timers.takeExpired(nowMs)) {
      this.onTimerExpired(name);
    }
  }

  nextTimerMs(): number {
    return this.timers.nextDeadlineMs();
  }

  onPacket(nowMs: number, bytes: Uint8Array): void {
    assert(this.started, 'started before packets arrive');
    this.advanceClock(nowMs);
    const result = decodePacket(bytes);
    if (!result.ok) {
      this.drop(result.reason);
      if (result.reason === 'version' && result.sender !== undefined) this.reportVersionSkew(result.sender, result.version);
      return;
    }
    const packet = result.packet;
    this.lastHeardMs.set(packet.sender, nowMs);
    switch (packet.type) {
      case 'token':
        this.onToken(packet);
        break;
      case 'mcast':
        this.onMcast(packet, bytes);
        break;
      case 'join':
        this.onJoin(packet);
        break;
      case 'commitToken':
        this.onCommitToken(packet);
        break;
      case 'mergeDetect':
        this.onMergeDetect(packet);
        break;
      case 'tokenHoldCancel':
        this.onTokenHoldCancel(packet);
        break;
    }
  }

  /**
   * The application queued something. On a ring this node sees as idle, ask the representative to
   * release a held token at once rather than after `holdMs` (§2.5 hold-cancel).
   */
  onSubmit(): void {
    if (this.state !== 'operational') return;
    if (this.unchangedCount <= this.config.seqnoUnchangedConst) return;
    if (this.heldToken !== null) {
      this.releaseHeldToken();
      return;
    }
    this.unchangedCount = 0;
    const cancel: TokenHoldCancelPacket = { type: 'tokenHoldCancel', sender: this.self, ringId: this.ring.ringId };
    this.host.send(0, encodePacket(cancel), true);
  }

  // ------------------------------------------------------------------------------------------
  // Introspection

  get membershipState(): MembershipState {
    return this.state;
  }

  get ringId(): RingId {
    return this.ring.ringId;
  }

  /** Members of the installed regular configuration. */
  get members(): readonly NodeId[] {
    return this.installed?.members ?? [];
  }

  stats(): EngineStats {
    return {
      ...this.counters,
      packetsDropped: { ...this.dropped },
      state: this.state,
      ringId: this.installed?.ringId ?? this.ring.ringId,
      members: [...this.members],
    };
  }

  // ------------------------------------------------------------------------------------------
  // Timers

  private advanceClock(nowMs: number): void {
    assert(nowMs >= this.nowMs, 'time never goes backwards');
    this.nowMs = nowMs;
  }

  private onTimerExpired(name: TimerName): void {
    switch (name) {
      case 'tokenLoss':
        this.onTokenLossTimeout();
        break;
      case 'tokenRetransmit':
        this.onTokenRetransmitTimeout();
        break;
      case 'join':
        if (this.state === 'gather') {
          this.sendJoin();
          this.timers.arm('join', this.nowMs, this.config.joinTimeoutMs);
        }
        break;
      case 'consensus':
        if (this.state === 'gather') this.onConsensusTimeout();
        break;
      case 'silence':
        if (this.state === 'gather') this.onGatherSilence();
        break;
      case 'merge':
        // Only the representative of an operational ring announces it (§2.5).
        if (this.state === 'operational' && this.ring.ringId.rep === this.self) {
          const md: MergeDetectPacket = { type: 'mergeDetect', sender: this.self, ringId: this.ring.ringId };
          this.host.send(0, encodePacket(md), true);
        }
        break;
      case 'hold':
        this.releaseHeldToken();
        break;
    }
  }

  private onTokenLossTimeout(): void {
    switch (this.state) {
      case 'operational':
        this.log('info', `token lost on ring ${ringIdToString(this.ring.ringId)}`);
        this.enterGather('token-loss', this.members.filter((m) => m !== this.self));
        break;
      case 'gather':
        // Consensus was reached earlier but no commit token came: check again (§3.2).
        this.onConsensusTimeout();
        break;
      case 'commit':
      case 'recovery':
        this.log('info', `token lost while forming ring ${ringIdToString(this.ring.ringId)} (${this.state})`);
        this.abandonAttempt();
        this.enterGather('token-loss', this.newMembers.filter((m) => m !== this.self));
        break;
    }
  }

  private onTokenRetransmitTimeout(): void {
    if (this.state === 'gather' || this.heldToken !== null) return;
    const copy = this.state === 'commit' ? this.commitCopy : this.tokenCopy;
    if (copy === null) return;
    this.counters.tokenRetransmits += 1;
    this.host.send(copy.to, copy.bytes, true);
    // Backing off: a token held by an idle representative, or a successor that is only slow,
    // costs a few duplicates (dropped by token seq), not one every tokenRetransmitMinMs.
    this.tokenRetransmitWaitMs = Math.min(this.config.tokenRetransmitMs, 2 * this.tokenRetransmitWaitMs);
    this.timers.arm('tokenRetransmit', this.nowMs, this.tokenRetransmitWaitMs);
  }

  /**
   * Arms the resend of the token copy just sent. The first wait is twice the recent rotation time
   * (at least tokenRetransmitMinMs, at most tokenRetransmitMs): on a busy ring a lost token then
   * costs a few ms instead of tokenRetransmitMs, which under random loss is the difference
   * between a ring that crawls and one that keeps most of its throughput (every rotation risks
   * one token per member). A resend the successor did not need is a duplicate it drops.
   */
  private armTokenRetransmit(): void {
    const c = this.config;
    // An idle ring (nothing broadcast for seqnoUnchangedConst rotations, as every member counts)
    // is one whose representative is about to hold the token for holdMs: resending sooner than
    // tokenRetransmitMs (> holdMs) would only send duplicates to the holder.
    const idle = this.unchangedCount >= c.seqnoUnchangedConst;
    this.tokenRetransmitWaitMs = idle
      ? c.tokenRetransmitMs
      : Math.min(c.tokenRetransmitMs, Math.max(c.tokenRetransmitMinMs, 2 * this.rotationEstimateMs));
    this.timers.arm('tokenRetransmit', this.nowMs, this.tokenRetransmitWaitMs);
  }

  private onConsensusTimeout(): void {
    assert(this.state === 'gather', 'consensus timeout acts in Gather only');
    if (this.failedToRecv) {
      this.formSingletonAfterFailureToReceive();
      return;
    }
    if (this.consensusAgreed()) {
      // Everyone agreed but the commit token did not come: start over from my own agreement and
      // give the representative one token timeout more (§3.2).
      this.consensus = new Set([this.self]);
      this.timers.arm('tokenLoss', this.nowMs, this.config.tokenTimeoutMs);
      return;
    }
    // First fail only the processors that sent no join at all this round, and give everyone a
    // round to agree on that; only when nobody new fell silent are the processors that answer but
    // disagree failed too, as corosync does at once (deviation, README). Failing live but
    // disagreeing processors at once splits rings that can all hear each other whenever their
    // rounds are out of step, and they can stay out of step forever.
    const unmatched: NodeId[] = [];
    for (const p of this.procSet) {
      if (!this.consensus.has(p) && !this.failSet.has(p)) unmatched.push(p);
    }
    const silent = unmatched.filter((p) => this.isSilent(p));
    const failed = silent.length > 0 ? silent : unmatched;
    for (const p of failed) this.failSet.add(p);
    this.enterGather('consensus-timeout', failed);
  }

  /**
   * Silence in Gather (deviation, README): a member of my ring that I have not heard from at all
   * since I entered Gather is failed once the grace has passed, without waiting for the consensus
   * timeout. A live member that hears a join enters Gather and broadcasts its own join every join
   * period, so after several periods of total silence it has crashed or is cut off, unless it has
   * moved on to Commit: a member that reached consensus sends no more joins and ignores mine until
   * the commit token reaches me or the attempt fails. The grace covers one retransmission of a
   * lost commit token, and while any other candidate has gone quiet too (the commit token passed
   * it), the verdict waits. Processors of other rings may be busy in a Commit of their own: only
   * the consensus timeout fails them, as it stays the backstop for everything else.
   */
  private onGatherSilence(): void {
    const silent = this.silenceWatched().filter((p) => this.isGatherSilent(p));
    if (silent.length === 0) {
      this.armSilenceTimer();
      return;
    }
    if (this.othersQuiet(silent)) {
      // Look again a join period later; the consensus timeout still runs.
      this.timers.arm('silence', this.nowMs, this.config.joinTimeoutMs);
      return;
    }
    const sinceMs = this.nowMs - (this.gatherSinceMs ?? this.nowMs);
    this.log('info', `failed [${silent.join(',')}]: nothing from them in ${sinceMs} ms of Gather`);
    for (const p of silent) this.failSet.add(p);
    this.enterGather('consensus-timeout', silent);
  }

  /**
   * Some other candidate sent no join for two join periods (or never): it may be in Commit on an
   * attempt under way (where it sends commit tokens, never joins), and the silent ones may be
   * ahead of it on that ring.
   */
  private othersQuiet(silent: readonly NodeId[]): boolean {
    const quietMs = 2 * this.config.joinTimeoutMs;
    for (const q of this.candidateMembers()) {
      if (q === this.self || silent.includes(q)) continue;
      const joinMs = this.lastJoinMs.get(q);
      if (joinMs === undefined || this.nowMs - joinMs > quietMs) return true;
    }
    return false;
  }

  /**
   * How long a member may stay silent in Gather: the configured silence, and never less than the
   * last token rotation plus two join periods. A member slow enough to slow the token down (a
   * saturated host, a long link) gets the time its answer takes to come round.
   */
  private gatherSilenceGraceMs(): number {
    return Math.max(this.config.gatherSilenceMs, this.lastRotationMs + 2 * this.config.joinTimeoutMs);
  }

  /**
   * When `node` counts as silent in this stay in Gather: the grace after the stay began, unless
   * something from it arrived since. Null when it was heard, or when the rule is off.
   */
  private gatherSilenceDeadlineMs(node: NodeId): number | null {
    const since = this.gatherSinceMs;
    if (since === null || node === this.self) return null;
    const graceMs = this.gatherSilenceGraceMs();
    if (graceMs >= this.config.consensusTimeoutMs) return null;
    const heardMs = this.lastHeardMs.get(node);
    if (heardMs !== undefined && heardMs >= since) return null;
    return since + graceMs;
  }

  private isGatherSilent(node: NodeId): boolean {
    const deadlineMs = this.gatherSilenceDeadlineMs(node);
    return deadlineMs !== null && this.nowMs >= deadlineMs;
  }

  /**
   * The candidates whose silence alone fails them: members of my installed ring and of the ring
   * last attempted in this membership change. Not while failing to receive: that round forms a
   * singleton through the consensus timeout.
   */
  private silenceWatched(): NodeId[] {
    if (this.state !== 'gather' || this.failedToRecv) return [];
    const known = new Set<NodeId>(this.installed?.members ?? []);
    if (this.old !== null) for (const m of this.newMembers) known.add(m);
    return this.candidateMembers().filter((p) => known.has(p));
  }

  private armSilenceTimer(): void {
    let nextMs = Infinity;
    for (const p of this.silenceWatched()) nextMs = Math.min(nextMs, this.gatherSilenceDeadlineMs(p) ?? Infinity);
    if (nextMs === Infinity) this.timers.cancel('silence');
    else this.timers.arm('silence', this.nowMs, Math.max(0, nextMs - this.nowMs));
  }

  // ------------------------------------------------------------------------------------------
  // Gather (§3.2)

  private enterGather(cause: ConfigurationCause, causeNodes: readonly NodeId[]): void {
    if (!this.changeUnderWay) {
      // The first Gather of a membership change names the change.
      this.changeUnderWay = true;
      this.changeCause = cause;
      this.changeNodes = new Set(causeNodes);
    } else {
      for (const n of causeNodes) this.changeNodes.add(n);
    }
    if (this.state === 'operational' && this.installed !== null) {
      // Gather starts from the installed membership; silent members reach fail_set by the silence
      // rule or the consensus timeout.
      for (const m of this.installed.members) this.procSet.add(m);
    }
    // Re-entries within Gather keep the stay's start: silence is counted from the first entry.
    if (this.state !== 'gather' || this.gatherSinceMs === null) this.gatherSinceMs = this.nowMs;
    this.state = 'gather';
    this.counters.gatherEntries += 1;
    this.procSet.add(this.self);
    this.recovery = null;
    this.heldToken = null;
    this.sendJoin();
    this.timers.arm('join', this.nowMs, this.config.joinTimeoutMs);
    this.timers.arm('consensus', this.nowMs, this.config.consensusTimeoutMs);
    this.timers.cancel('tokenLoss');
    this.timers.cancel('tokenRetransmit');
    this.timers.cancel('merge');
    this.timers.cancel('hold');
    this.consensus = new Set([this.self]);
    this.armSilenceTimer();
  }

  private sendJoin(): void {
    const join: JoinPacket = {
      type: 'join',
      sender: this.self,
      procSet: sortedIds(this.procSet),
      failSet: sortedIds(this.failSet),
      ringSeq: this.ring.ringId.seq,
    };
    this.host.send(0, encodePacket(join), true);
  }

  private candidateMembers(): NodeId[] {
    const members: NodeId[] = [];
    for (const p of this.procSet) if (!this.failSet.has(p)) members.push(p);
    return members.sort((a, b) => a - b);
  }

  /**
   * Back to Gather from a failed Commit or Recovery: the fail set that led to the attempted ring
   * is dropped (deviation, README). Corosync keeps it; but a processor that never installs the
   * ring it attempted then carries a verdict from an older round into every later one, makes
   * live processors fail it in return, and keeps whole groups from ever merging. Silent
   * processors reach the fail set again through the consensus timeout.
   */
  private abandonAttempt(): void {
    this.failSet = new Set();
  }

  /** Nothing from `node` reached me for a whole consensus period, or in Gather for the silence grace. */
  private isSilent(node: NodeId): boolean {
    const heardMs = this.lastHeardMs.get(node);
    if (heardMs === undefined || this.nowMs - heardMs >= this.config.consensusTimeoutMs) return true;
    return this.isGatherSilent(node);
  }

  /** §2.2 step 13: the processor that could not receive forms a singleton ring at once. */
  private formSingletonAfterFailureToReceive(): void {
    this.failedToRecv = false;
    this.procSet = new Set([this.self]);
    this.failSet = new Set();
    this.createCommitToken();
  }

  private consensusAgreed(): boolean {
    const members = this.candidateMembers();
    if (members.length === 0) return false;
    for (const m of members) if (!this.consensus.has(m)) return false;
    return true;
  }

  private onJoin(join: JoinPacket): void {
    if (join.ringSeq > this.tokenRingIdSeq) this.tokenRingIdSeq = join.ringSeq;
    this.lastJoinMs.set(join.sender, this.nowMs);
    switch (this.state) {
      case 'operational': {
        if (join.failSet.includes(this.self)) return;
        if (this.members.includes(join.sender) && join.ringSeq < this.ring.ringId.seq) return;
        const gathered = this.processJoin(join);
        if (!gathered && this.state === 'operational') this.enterGather('join', [join.sender]);
        return;
      }
      case 'gather':
        this.processJoin(join);
        return;
      case 'commit':
      case 'recovery': {
        if (!this.newMembers.includes(join.sender) || join.ringSeq < this.ring.ringId.seq) return;
        this.abandonAttempt();
        const gathered = this.processJoin(join);
        if (!gathered && (this.state === 'commit' || this.state === 'recovery')) {
          this.enterGather('join', [join.sender]);
        }
        return;
      }
    }
  }

  /** memb_join_process (§3.2). Returns true when it (re-)entered Gather or moved on to Commit. */
  private processJoin(join: JoinPacket): boolean {
    const myProc = sortedIds(this.procSet);
    const myFail = sortedIds(this.failSet);
    if (sameIds(join.procSet, myProc) && sameIds(join.failSet, myFail)) {
      if (this.state !== 'gather') return false;
      this.consensus.add(join.sender);
      if (!this.consensusAgreed()) return false;
      if (this.failedToRecv) {
        this.formSingletonAfterFailureToReceive();
        return true;
      }
      if (this.candidateMembers()[0] === this.self) {
        this.createCommitToken();
        return true;
      }
      return false;
    }
    if (isSubset(join.procSet, this.procSet) && isSubset(join.failSet, this.failSet)) return false;
    if (this.failSet.has(join.sender)) return false;
    const procBefore = this.procSet.size;
    const failBefore = this.failSet.size;
    for (const p of join.procSet) this.procSet.add(p);
    const newcomers = this.procSet.size > procBefore;
    // A join whose ring seq is below mine was sent before I formed or attempted my current ring:
    // its view of who failed is older than my ring, so it fails nobody here (deviation, README).
    // Without this, joins of the last round that named me failed arrive after I moved on, I fail
    // their senders in return, and a cluster of singletons re-forms singletons forever.
    const stale = join.ringSeq < this.ring.ringId.seq;
    if (stale) {
      // Only the proc set grows.
    } else if (join.failSet.includes(this.self)) {
      this.failSet.add(join.sender);
    } else if (this.members.includes(join.sender)) {
      for (const f of join.failSet) if (f !== this.self) this.failSet.add(f);
    }
    if (this.state === 'gather') {
      // A verdict on a processor that is silent to me too is taken over at once, from anyone and
      // however old (deviation, README): my own silence confirms it. Groups that lose the same
      // dead members then agree in one round instead of each waiting for its own consensus
      // timeout, out of step with the others.
      for (const f of join.failSet) if (f !== this.self && this.isSilent(f)) this.failSet.add(f);
    }
    // Re-enter Gather only when my sets grew (deviation: corosync always does). Two processors
    // that hold different fail sets they cannot adopt from each other would otherwise answer each
    // other's joins forever, and every re-entry restarts the consensus timeout that would settle
    // it. Sets only grow within a change, so re-entries are finite and the timeout fires.
    if (this.procSet.size === procBefore && this.failSet.size === failBefore) return false;
    const cause: ConfigurationCause = newcomers && this.state === 'operational' ? 'merge' : 'join';
    this.enterGather(cause, [join.sender]);
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Commit (§3.3)

  private createCommitToken(): void {
    assert(this.state === 'gather', 'commit tokens are created in Gather');
    const members = this.candidateMembers();
    assert(members[0] === this.self, 'the representative is the smallest member');
    const ringId: RingId = { rep: this.self, seq: this.tokenRingIdSeq + 4n };
    const entries: CommitMemberEntry[] = members.map((nodeId) => ({
      nodeId,
      oldRingId: { rep: 0, seq: 0n },
      aru: 0,
      highDelivered: 0,
      receivedFlg: false,
      filled: false,
    }));
    const token: CommitTokenPacket = { type: 'commitToken', sender: this.self, ringId, membIndex: 0, members: entries };
    this.enterCommit(token);
  }

  private onCommitToken(token: CommitTokenPacket): void {
    const memberIds = token.members.map((m) => m.nodeId);
    switch (this.state) {
      case 'operational':
        this.drop('state');
        return;
      case 'gather':
        if (!sameIds(memberIds, this.candidateMembers()) || token.ringId.seq <= this.ring.ringId.seq) {
          this.drop('state');
          return;
        }
        if (token.membIndex >= token.members.length || memberIds[token.membIndex] !== this.self) {
          this.drop('state');
          return;
        }
        this.enterCommit(token);
        return;
      case 'commit':
        if (!ringIdEquals(token.ringId, this.ring.ringId) || token.membIndex !== token.members.length) {
          this.drop('duplicate');
          return;
        }
        this.enterRecovery(token);
        return;
      case 'recovery':
        if (
          ringIdEquals(token.ringId, this.ring.ringId) &&
          this.ring.ringId.rep === this.self &&
          this.recovery !== null &&
          !this.recovery.firstTokenSent
        ) {
          this.sendInitialToken();
        } else {
          this.drop('duplicate');
        }
        return;
    }
  }

  private enterCommit(token: CommitTokenPacket): void {
    const myIndex = token.members.findIndex((m) => m.nodeId === this.self);
    assert(myIndex >= 0, 'a commit token names its receiver');
    assert(token.ringId.seq > this.ring.ringId.seq, 'a new ring has a higher seq');
    if (this.old === null) {
      // First Commit of this membership change: save the old ring as it stands (§7).
      this.old = { ring: this.ring, installed: this.installed !== null };
    }
    const old = this.old.ring;
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

    this.state = 'commit';
    this.counters.commitEntries += 1;
    this.newMembers = token.members.map((m) => m.nodeId);
    this.ring = new RingState(token.ringId, this.newMembers);
    this.tokenRingIdSeq = token.ringId.seq;
    // The ring seq is durable before any packet that announces it leaves this node.
    this.host.storeRingSeq(token.ringId.seq);
    this.timers.cancel('join');
    this.timers.cancel('consensus');
    this.timers.cancel('silence');
    this.timers.cancel('merge');
    this.timers.cancel('hold');
    this.gatherSinceMs = null;
    this.fcc.sentPrev = 0;
    this.fcc.backlogPrev = 0;
    this.heldToken = null;

    token.membIndex += 1;
    const n = token.members.length;
    const next = token.members[token.membIndex % n];
    assert(next !== undefined, 'next member exists');
    const forwarded: CommitTokenPacket = { ...token, sender: this.self };
    const bytes = encodePacket(forwarded);
    this.commitCopy = { bytes, to: next.nodeId };
    this.host.send(next.nodeId, bytes, true);
    this.timers.arm('tokenLoss', this.nowMs, this.config.tokenTimeoutMs);
    this.tokenRetransmitWaitMs = this.config.tokenRetransmitMs;
    this.timers.arm('tokenRetransmit', this.nowMs, this.tokenRetransmitWaitMs);
  }

  // ------------------------------------------------------------------------------------------
  // Recovery (§3.4)

  private enterRecovery(token: CommitTokenPacket): void {
    assert(this.state === 'commit', 'Recovery follows Commit');
    assert(this.old !== null, 'the old ring was saved at Commit');
    for (const m of token.members) assert(m.filled, 'every member filled its commit entry');
    const old = this.old.ring;
    const myIndex = this.newMembers.indexOf(this.self);
    assert(myIndex >= 0, 'I am a member of the new ring');

    // Transitional members: new members that come directly from my old ring.
    const transEntries = token.members.filter((m) => ringIdEquals(m.oldRingId, old.ringId));
    this.transMembers = this.old.installed ? transEntries.map((m) => m.nodeId) : [];
    assert(!this.old.installed || this.transMembers.includes(this.self), 'I am in my own transitional configuration');

    const queue: Uint8Array[] = [];
    this.highRingDelivered = old.highDelivered;
    if (this.old.installed) {
      for (const m of transEntries) if (seqGt(m.highDelivered, this.highRingDelivered)) this.highRingDelivered = m.highDelivered;
      if (!transEntries.every((m) => m.receivedFlg)) {
        let lowRingAru = old.highSeqReceived;
        for (const m of transEntries) lowRingAru = seqMin(lowRingAru, m.aru);
        for (let s = seqAdd(lowRingAru, 1); seqLe(s, old.highSeqReceived); s = seqAdd(s, 1)) {
          const frame = old.queue.get(s);
          if (frame !== undefined) queue.push(frame.bytes);
        }
      }
    }
    this.recovery = {
      queue,
      next: 0,
      iSetRetransFlg: false,
      retransFlgCount: 0,
      installSeq: 0,
      rotationCounter: 0,
      firstTokenSent: false,
    };
    this.state = 'recovery';
    this.counters.recoveryEntries += 1;
    this.myTokenSeq = null;
    this.lastTokenSeqField = null;
    this.lastTokenAtMs = null;
    this.unchangedCount = 0;
    this.myLastAru = null;
    this.safeBound = null;
    this.myAruCount = 0;
    this.missCount.clear();

    const n = this.newMembers.length;
    const next = this.newMembers[(myIndex + 1) % n];
    assert(next !== undefined, 'successor exists');
    const forwarded: CommitTokenPacket = { ...token, sender: this.self };
    const bytes = encodePacket(forwarded);
    // Until a regular token passes here, the commit token is what a retransmission resends.
    this.tokenCopy = { bytes, to: next };
    this.host.send(next, bytes, true);
    this.timers.arm('tokenLoss', this.nowMs, this.config.tokenTimeoutMs);
    this.tokenRetransmitWaitMs = this.config.tokenRetransmitMs;
    this.timers.arm('tokenRetransmit', this.nowMs, this.tokenRetransmitWaitMs);
  }

  private sendInitialToken(): void {
    assert(this.recovery !== null, 'in Recovery');
    assert(this.ring.ringId.rep === this.self, 'only the representative sends the first token');
    this.recovery.firstTokenSent = true;
    const token: TokenPacket = {
      type: 'token',
      sender: this.self,
      ringId: this.ring.ringId,
      tokenSeq: 0,
      seq: 0,
      aru: 0,
      aruAddr: this.self,
      fcc: 0,
      backlog: 0,
      retransFlg: this.recovery.queue.length > 0,
      rtr: [],
    };
    // Whoever sets the flag is the one to clear it once its queue is empty (§3.4 step 3).
    this.recovery.iSetRetransFlg = token.retransFlg;
    // The first token goes to the representative itself, so that its visit runs like any other.
    this.forwardToken(token, this.self);
  }

  /** §3.4 step 3: the retrans flag and install rule, run on every Recovery visit before forwarding. */
  private recoveryVisit(token: TokenPacket): boolean {
    const rec = this.recovery;
    assert(rec !== null, 'in Recovery');
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

  /** Installation (§3.4 step 4): old-ring deliveries, transitional configuration, regular configuration. */
  private enterOperational(): void {
    assert(this.state === 'recovery', 'Operational follows Recovery');
    assert(this.old !== null, 'the old ring was saved');
    const old = this.old.ring;
    const newRing = this.ring;
    const trans = this.transMembers;

    if (this.old.installed) {
      // a. Unpack the recovered old-ring frames, keeping the first copy of each old seq.
      for (let s = seqAdd(newRing.lowWater, 1); seqLe(s, newRing.highSeqReceived); s = seqAdd(s, 1)) {
        const frame = newRing.queue.get(s);
        if (frame === undefined || frame.inner === null) continue;
        newRing.queue.set(s, this.placeholderFrame(newRing, frame));
        const decoded = decodePacket(frame.inner);
        if (!decoded.ok || decoded.packet.type !== 'mcast') continue;
        const inner = decoded.packet;
        if (!ringIdEquals(inner.ringId, old.ringId) || !old.accepts(inner.seq)) continue;
        old.store(this.storedFrame(inner, frame.inner));
      }
      // Deliver in C everything some member of T delivered in C, then agreed messages up to the
      // first hole or the first safe message.
      for (let s = seqAdd(old.highDelivered, 1); ; s = seqAdd(s, 1)) {
        const frame = old.queue.get(s);
        if (frame === undefined) {
          assert(!seqLe(s, this.highRingDelivered), 'no hole at or below high_ring_delivered after recovery');
          break;
        }
        if (seqGt(s, this.highRingDelivered) && frame.guarantee === 'safe') break;
        old.highDelivered = s;
        this.deliver(old, frame, false);
      }
      // b. The transitional configuration.
      const transitionalLeft = old.members.filter((m) => !trans.includes(m));
      this.host.configuration({
        kind: 'transitional',
        ringId: newRing.ringId,
        members: [...trans],
        joined: [],
        left: transitionalLeft,
        cause: this.changeCause,
        causeNodes: sortedIds(this.changeNodes),
      });
      // c. The rest of the old ring in T: skip holes; above the first hole, only senders in T.
      let holeSeen = false;
      for (let s = seqAdd(old.highDelivered, 1); seqLe(s, old.highSeqReceived); s = seqAdd(s, 1)) {
        const frame = old.queue.get(s);
        if (frame === undefined) {
          holeSeen = true;
          continue;
        }
        if (holeSeen && !trans.includes(frame.originator)) continue;
        this.deliver(old, frame, true);
      }
    }
    // d. The regular configuration.
    this.state = 'operational';
    this.installed = newRing;
    this.old = null;
    this.recovery = null;
    this.procSet = new Set(newRing.members);
    this.failSet = new Set();
    this.consensus = new Set([this.self]);
    this.myLastAru = null;
    this.safeBound = null;
    this.counters.configurationsInstalled += 1;
    this.host.configuration({
      kind: 'regular',
      ringId: newRing.ringId,
      members: [...newRing.members],
      joined: newRing.members.filter((m) => !trans.includes(m)),
      left: [],
      cause: this.changeCause,
      causeNodes: sortedIds(this.changeNodes),
    });
    this.log('info', `installed ring ${ringIdToString(newRing.ringId)} members [${newRing.members.join(',')}] (${this.changeCause})`);
    this.changeUnderWay = false;
    this.changeNodes = new Set();
    this.source.onRegularConfiguration(newRing.ringId);
    this.deliverReady();
  }

  // ------------------------------------------------------------------------------------------
  // Ordering (§2.2)

  private onToken(token: TokenPacket): void {
    if (this.state === 'gather' || this.state === 'commit') {
      this.drop('state');
      return;
    }
    if (!ringIdEquals(token.ringId, this.ring.ringId)) {
      this.drop('foreign-ring');
      return;
    }
    if (this.myTokenSeq !== null && seqLe(token.tokenSeq, this.myTokenSeq)) {
      this.drop('duplicate');
      return;
    }
    this.counters.tokensReceived += 1;
    if (this.lastTokenAtMs !== null) {
      this.lastRotationMs = this.nowMs - this.lastTokenAtMs;
      const est = this.rotationEstimateMs;
      const sample = est === 0 ? this.lastRotationMs : Math.min(this.lastRotationMs, 4 * est);
      this.rotationEstimateMs = est + (sample - est) / 8;
    }
    this.lastTokenAtMs = this.nowMs;
    const ring = this.ring;
    const operational = this.state === 'operational';

    // Idle bookkeeping (step 2): an unchanged seq means nothing was broadcast for a rotation.
    if (this.lastTokenSeqField !== null && token.seq === this.lastTokenSeqField) {
      this.unchangedCount += 1;
      if (!this.timers.isArmed('merge')) this.timers.arm('merge', this.nowMs, this.config.mergeTimeoutMs);
    } else {
      this.unchangedCount = 0;
      this.timers.cancel('merge');
      this.timers.cancel('hold');
    }
    this.lastTokenSeqField = token.seq;
    if (ring.ringId.rep === this.self) this.counters.tokenRotations += 1;

    // Step 4: garbage-collect what every member is known to hold and I delivered.
    if (operational && this.myLastAru !== null) {
      const stable = seqMin(seqMin(token.aru, this.myLastAru), ring.highDelivered);
      ring.releaseThrough(stable);
    }

    // Step 6.
    const aPrev = this.myLastAru;
    this.myLastAru = token.aru;
    this.safeBound = aPrev === null ? null : seqMin(aPrev, token.aru);

    // Step 7: flow control (§2.4).
    const backlogNow = operational ? this.source.backlogFrames() : this.recoveryBacklog();
    const { windowSize, maxMessages } = this.config;
    const allowed = fccAllowance(windowSize, maxMessages, token.fcc, token.backlog, backlogNow, this.fcc);

    // Step 8: serve retransmission requests, then add my own.
    let sent = this.serveRetransmits(token, ring, allowed);
    this.requestRetransmits(token, ring);

    // Step 9: never let the sort queue span more than its bound.
    const room = sortQueueItemsMax - this.config.windowSize - ring.span(token.seq);
    const newAllowed = Math.max(0, Math.min(allowed - sent, room));

    // Step 10: broadcast.
    sent += operational ? this.broadcastNew(token, ring, newAllowed) : this.broadcastRecovery(token, ring, newAllowed);

    // Step 11.
    fccTokenUpdate(token, sent, backlogNow, this.fcc);

    // Step 12: aru.
    if (seqLt(ring.aru, token.aru) || token.aruAddr === this.self || token.aruAddr === 0) {
      token.aru = ring.aru;
      token.aruAddr = ring.aru === token.seq ? 0 : this.self;
    }

    // Step 13: failure to receive.
    if (aPrev !== null && token.aru === aPrev && token.aruAddr !== 0) this.myAruCount += 1;
    else this.myAruCount = 0;
    if (operational && this.myAruCount > this.config.failToRecvConst && token.aruAddr === this.self) {
      this.log('warn', `failed to receive on ring ${ringIdToString(ring.ringId)}: aru ${ring.aru}, seq ${token.seq}`);
      this.failedToRecv = true;
      this.myAruCount = 0;
      this.failSet.add(this.self);
      this.enterGather('failure-to-receive', [this.self]);
      return;
    }

    // Step 14.
    this.myTokenSeq = token.tokenSeq;
    token.tokenSeq = seqAdd(token.tokenSeq, 1);

    // Step 15: Recovery may end here, before the token moves on.
    let installNow = false;
    if (!operational) installNow = this.recoveryVisit(token);
    if (installNow) this.enterOperational();

    // Step 16: forward, or hold it on an idle ring.
    const next = this.successor();
    const hold =
      this.state === 'operational' &&
      ring.ringId.rep === this.self &&
      this.unchangedCount > this.config.seqnoUnchangedConst &&
      sent === 0;
    if (hold) {
      this.heldToken = { bytes: encodePacket({ ...token, sender: this.self }), to: next };
      this.tokenCopy = this.heldToken;
    } else {
      this.forwardToken(token, next);
    }

    // Step 17.
    if (this.state === 'operational') this.deliverReady();

    // Step 18.
    this.timers.arm('tokenLoss', this.nowMs, this.config.tokenTimeoutMs);
    if (hold) {
      // Nothing to resend while the token is here: releaseHeldToken arms the resend.
      this.timers.cancel('tokenRetransmit');
      this.timers.arm('hold', this.nowMs, this.config.holdMs);
    } else {
      this.armTokenRetransmit();
    }
  }

  private forwardToken(token: TokenPacket, to: NodeId): void {
    const bytes = encodePacket({ ...token, sender: this.self });
    this.tokenCopy = { bytes, to };
    this.host.send(to, bytes, true);
  }

  private releaseHeldToken(): void {
    const held = this.heldToken;
    if (held === null) return;
    this.heldToken = null;
    this.timers.cancel('hold');
    this.unchangedCount = 0;
    this.host.send(held.to, held.bytes, true);
    this.armTokenRetransmit();
  }

  private successor(): NodeId {
    const members = this.ring.members;
    const index = members.indexOf(this.self);
    assert(index >= 0, 'I am a member of my ring');
    const next = members[(index + 1) % members.length];
    assert(next !== undefined, 'successor exists');
    return next;
  }

  private serveRetransmits(token: TokenPacket, ring: RingState, allowed: number): number {
    let sent = 0;
    const kept = [];
    for (const entry of token.rtr) {
      if (sent < allowed && ringIdEquals(entry.ringId, ring.ringId)) {
        const frame = ring.queue.get(entry.seq);
        if (frame !== undefined) {
          this.host.send(0, frame.bytes, false);
          this.counters.retransmitsSent += 1;
          sent += 1;
          continue;
        }
      }
      kept.push(entry);
    }
    token.rtr = kept;
    return sent;
  }

  private requestRetransmits(token: TokenPacket, ring: RingState): void {
    if (seqLe(token.seq, ring.aru)) {
      if (this.missCount.size > 0) this.missCount.clear();
      return;
    }
    for (const s of this.missCount.keys()) if (seqLe(s, ring.aru)) this.missCount.delete(s);
    const missing = ring.missingThrough(token.seq, sortQueueItemsMax);
    for (const s of missing) {
      const seen = (this.missCount.get(s) ?? 0) + 1;
      this.missCount.set(s, seen);
      if (seen < this.config.missCountConst) continue;
      if (token.rtr.length >= rtrEntriesMax) break;
      if (token.rtr.some((e) => e.seq === s && ringIdEquals(e.ringId, ring.ringId))) continue;
      token.rtr.push({ ringId: ring.ringId, seq: s });
      this.counters.retransmitsRequested += 1;
    }
  }

  private broadcastNew(token: TokenPacket, ring: RingState, allowed: number): number {
    let sent = 0;
    while (sent < allowed) {
      const frame = this.source.nextFrame();
      if (frame === null) break;
      const seq = seqAdd(token.seq, 1);
      token.seq = seq;
      const bytes = encodeMcast(this.self, ring.ringId, seq, this.self, frame.guarantee, frame.payload);
      ring.store({ seq, originator: this.self, guarantee: frame.guarantee, payload: frame.payload, bytes, inner: null });
      // Stored above: no copy of it needs to come back here.
      this.host.send(0, bytes, false);
      this.counters.framesBroadcast += 1;
      sent += 1;
    }
    return sent;
  }

  private recoveryBacklog(): number {
    const rec = this.recovery;
    return rec === null ? 0 : rec.queue.length - rec.next;
  }

  private broadcastRecovery(token: TokenPacket, ring: RingState, allowed: number): number {
    const rec = this.recovery;
    assert(rec !== null, 'in Recovery');
    let sent = 0;
    while (sent < allowed && rec.next < rec.queue.length) {
      const inner = rec.queue[rec.next];
      assert(inner !== undefined, 'queued frame exists');
      rec.next += 1;
      const seq = seqAdd(token.seq, 1);
      token.seq = seq;
      const bytes = encodeMcastEncapsulated(this.self, ring.ringId, seq, inner);
      ring.store({ seq, originator: this.self, guarantee: 'agreed', payload: new Uint8Array(0), bytes, inner });
      this.host.send(0, bytes, false);
      sent += 1;
    }
    return sent;
  }

  // ------------------------------------------------------------------------------------------
  // Multicast frames (§2.3, §7 table)

  private onMcast(packet: McastPacket, bytes: Uint8Array): void {
    if (!ringIdEquals(packet.ringId, this.ring.ringId)) {
      this.onForeignRing(packet.sender, packet.ringId);
      return;
    }
    const storing =
      this.state === 'operational' ||
      this.state === 'recovery' ||
      (this.state === 'gather' && this.old === null && this.installed === this.ring);
    if (!storing) {
      this.drop('state');
      return;
    }
    const ring = this.ring;
    if (!ring.accepts(packet.seq)) {
      this.drop('duplicate');
      return;
    }
    // The engine keeps the received bytes (onPacket's contract: the host never reuses them).
    let inner: Uint8Array | null = null;
    if (packet.inner !== undefined) {
      inner = mcastInnerBytes(bytes);
      if (inner === null) {
        this.drop('malformed');
        return;
      }
    }
    ring.store({ seq: packet.seq, originator: packet.originator, guarantee: packet.guarantee, payload: packet.payload, bytes, inner });
    if (this.state === 'operational') this.deliverReady();
  }

  /**
   * After installation a recovery copy stands in the new ring as an empty agreed frame: it keeps
   * the seq without a hole, delivers nothing, and can itself be re-broadcast (encapsulated once)
   * if this ring has to be recovered in turn.
   */
  private placeholderFrame(ring: RingState, frame: StoredFrame): StoredFrame {
    const payload = new Uint8Array(0);
    const bytes = encodeMcast(frame.originator, ring.ringId, frame.seq, frame.originator, 'agreed', payload);
    return { seq: frame.seq, originator: frame.originator, guarantee: 'agreed', payload, bytes, inner: null };
  }

  /** A frame of the old ring recovered from an encapsulated copy. */
  private storedFrame(inner: McastPacket, innerBytes: Uint8Array): StoredFrame {
    return { seq: inner.seq, originator: inner.originator, guarantee: inner.guarantee, payload: inner.payload, bytes: innerBytes, inner: null };
  }

  /**
   * A multicast or merge-detect of another ring. In Operational it reveals another ring to merge
   * with; a late packet of an older ring from a member of mine is stale and ignored (deviation:
   * corosync enters Gather on any foreign ring id, README).
   */
  private onForeignRing(sender: NodeId, ringId: RingId): void {
    switch (this.state) {
      case 'operational':
        if (this.members.includes(sender) && ringId.seq <= this.ring.ringId.seq) {
          this.drop('foreign-ring');
          return;
        }
        this.procSet.add(sender);
        this.enterGather('merge', [sender]);
        return;
      case 'gather':
        if (!this.procSet.has(sender)) {
          this.procSet.add(sender);
          this.enterGather('merge', [sender]);
          return;
        }
        this.drop('foreign-ring');
        return;
      case 'commit':
      case 'recovery':
        this.drop('foreign-ring');
        return;
    }
  }

  private onMergeDetect(packet: MergeDetectPacket): void {
    if (ringIdEquals(packet.ringId, this.ring.ringId)) return;
    this.onForeignRing(packet.sender, packet.ringId);
  }

  private onTokenHoldCancel(packet: TokenHoldCancelPacket): void {
    if (!ringIdEquals(packet.ringId, this.ring.ringId)) {
      this.drop('foreign-ring');
      return;
    }
    this.unchangedCount = 0;
    if (this.heldToken !== null) this.releaseHeldToken();
  }

  /** Deliver, in seq order, every frame the rules of §2.3 allow on the current ring. */
  private deliverReady(): void {
    assert(this.state === 'operational', 'deliveries happen in Operational');
    const ring = this.ring;
    const safeBound = this.safeBound;
    while (seqLt(ring.highDelivered, ring.aru)) {
      const s = seqAdd(ring.highDelivered, 1);
      const frame = ring.queue.get(s);
      assert(frame !== undefined, 'every seq up to aru is held');
      if (frame.guarantee === 'safe' && (safeBound === null || seqGt(s, safeBound))) break;
      ring.highDelivered = s;
      this.deliver(ring, frame, false);
    }
  }

  private deliver(ring: RingState, frame: StoredFrame, transitional: boolean): void {
    assert(frame.inner === null, 'recovery copies are unpacked, never delivered');
    // Placeholders of recovery copies hold a seq and carry nothing.
    if (frame.payload.length === 0) return;
    this.counters.framesDelivered += 1;
    this.host.deliverFrame({
      ringId: ring.ringId,
      seq: frame.seq,
      originator: frame.originator,
      guarantee: frame.guarantee,
      payload: frame.payload,
      transitional,
    });
  }

  // ------------------------------------------------------------------------------------------

  private drop(reason: DropReason): void {
    this.dropped[reason] += 1;
  }

  private reportVersionSkew(peer: NodeId, version: number | undefined): void {
    if (this.versionSkewReported.has(peer)) return;
    this.versionSkewReported.add(peer);
    this.log('warn', `node ${peer} speaks protocol version ${version ?? '?'}; this node speaks ${PROTOCOL_VERSION}: its packets are dropped`);
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.host.log?.(level, `node ${this.self}: ${message}`);
  }
}
