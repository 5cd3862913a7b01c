/**
 * The ring side of a node: the ordering and membership layer (Srp) fed by the sender side of the
 * group layer (Packer), with CPG's announce rule between them. One composition for both places
 * that run it: TotemNode (engine/node.ts: the simulator and the in-memory benchmark, which adds
 * the Assembler in the same thread) and the runtime's token worker (workers/token-worker.ts, whose
 * Assembler runs on the delivery worker).
 *
 * The announce rule (corosync CPG's joinlist exchange): nodes that merged in do not know which
 * groups the others belong to, so after every regular configuration every member announces its
 * own groups, and ends the announce even when it is in none: the group layer reports the views
 * once every member's announce has ended, so that they change at the same point of the stream on
 * every member (groups/assembler.ts). The host hears the configuration first, then the announce
 * is queued: the same order in both hosts, so a simulated trace is what the runtime would do.
 */
import type { EngineConfig } from './config.js';
import { Packer } from './groups/packer.js';
import { Srp } from './srp/srp.js';
import type { ConfigurationChange, EngineStats, Order, MembershipState, NodeId, RingId, SrpHost } from './types.js';
import { mcastPayloadBytesMax } from './wire/codec.js';

export class RingNode {
  readonly config: EngineConfig;
  /**
   * The ordering and membership layer. Public for hosts that drive it directly: the token worker
   * feeds the Packer a batch of submissions and then signals `srp.onSubmit()` once.
   */
  readonly srp: Srp;
  /** Application messages → frames; the Srp takes frames from it on every token visit. */
  readonly packer: Packer;

  /** `host.configuration` hears every configuration before this node applies the announce rule. */
  constructor(config: EngineConfig, host: SrpHost) {
    this.config = config;
    this.packer = new Packer({
      nodeId: config.nodeId,
      incarnation: config.incarnation,
      payloadBytesMax: mcastPayloadBytesMax(config.frameBytesMax),
      messageBytesMax: config.messageBytesMax,
      sendQueueBytesMax: config.sendQueueBytesMax,
    });
    this.srp = new Srp(config, {
      send: (to, bytes, selfCopy) => host.send(to, bytes, selfCopy),
      deliverFrame: (frame) => host.deliverFrame(frame),
      configuration: (change) => this.onConfiguration(host, change),
      storeRingSeq: (seq) => host.storeRingSeq(seq),
      log: (level, message) => host.log?.(level, message),
    }, this.packer);
  }

  start(nowMs: number): void {
    this.srp.start(nowMs);
  }

  onPacket(nowMs: number, bytes: Uint8Array): void {
    this.srp.onPacket(nowMs, bytes);
  }

  onTimer(nowMs: number): void {
    this.srp.onTimer(nowMs);
  }

  /** Absolute time (same clock as `now`) of the earliest armed timer; Infinity when none. */
  nextTimerMs(): number {
    return this.srp.nextTimerMs();
  }

  /**
   * Queue an application message; returns its per-incarnation counter, or false when the send
   * queue is full (retry once the ring has taken frames). The payload must not be modified after.
   */
  submit(group: string, payload: Uint8Array, order: Order): number | false {
    const counter = this.packer.submit(group, payload, order);
    if (counter !== false) this.srp.onSubmit();
    return counter;
  }

  joinGroup(group: string): void {
    this.packer.submitJoin(group);
    this.srp.onSubmit();
  }

  leaveGroup(group: string): void {
    this.packer.submitLeave(group);
    this.srp.onSubmit();
  }

  /**
   * Leave the ring for good (the host closes the node): this node's frames drain for at most
   * `drainWaitMsMax`, then the leave is announced (a join with this node in its fail set, a few
   * copies) and the others reconfigure with cause 'leave' without waiting for token loss. Keep
   * driving packets and timers until `hasLeftRing`; after it, nothing comes from this node.
   */
  leaveRing(nowMs: number, drainWaitMsMax: number): void {
    this.srp.leave(nowMs, drainWaitMsMax);
  }

  get hasLeftRing(): boolean {
    return this.srp.hasLeft;
  }

  get state(): MembershipState {
    return this.srp.membershipState;
  }

  get ringId(): RingId {
    return this.srp.ringId;
  }

  get members(): readonly NodeId[] {
    return this.srp.members;
  }

  stats(): EngineStats {
    return this.srp.stats();
  }

  /** Throws when the protocol state breaks an invariant (engine/srp/invariants.ts); tests only. */
  assertInvariants(): void {
    this.srp.assertInvariants();
  }

  private onConfiguration(host: SrpHost, change: ConfigurationChange): void {
    host.configuration(change);
    if (change.kind === 'regular') this.packer.announceGroups(this.packer.ownGroups());
  }
}
