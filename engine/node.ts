/**
 * A whole totem-evs node in one thread: the ring side (RingNode: the ordering and membership layer
 * of srp/ fed by the group layer's Packer) plus the receiving side of the group layer (Assembler).
 * The simulator and the in-memory benchmark drive it directly; the threaded runtime splits the
 * same parts over its workers (RingNode on the token worker, Assembler on the delivery worker).
 *
 * Driving contract: call start(now) once; then onPacket(now, bytes) for each received packet and
 * onTimer(now) whenever now >= nextTimerMs(). `now` never goes backwards. Every effect is a
 * synchronous call on the host, made before the input call returns.
 *
 * Ownership: the engine keeps references to the bytes it receives (a frame stays in the sort
 * queue until every member holds it), so a host must hand onPacket bytes it will not reuse: a
 * host that reads packets into a recycled buffer copies them first. Bytes the engine passes to
 * host.send are never modified afterwards.
 */
import { resolveEngineConfig, type EngineConfig, type EngineConfigInput } from './config.js';
import { Assembler, type AssemblerStats } from './groups/assembler.js';
import { RingNode } from './ring-node.js';
import type { EngineStats, Order, MembershipState, NodeHost, NodeId, RingId } from './types.js';

export class TotemNode {
  readonly config: EngineConfig;
  private readonly ring: RingNode;
  private readonly assembler: Assembler;

  constructor(input: EngineConfigInput, host: NodeHost) {
    this.config = resolveEngineConfig(input);
    const c = this.config;
    this.assembler = new Assembler(
      { nodeId: c.nodeId, messageBytesMax: c.messageBytesMax },
      {
        deliver: (d) => host.deliver(d),
        groupEvent: (e) => host.groupEvent?.(e),
        configuration: (change) => host.configuration(change),
      },
    );
    // The Assembler hears each configuration before the ring node applies the announce rule.
    this.ring = new RingNode(c, {
      send: (to, bytes, selfCopy) => host.send(to, bytes, selfCopy),
      deliverFrame: (frame) => this.assembler.onFrame(frame),
      configuration: (change) => this.assembler.onConfiguration(change),
      storeRingSeq: (seq) => host.storeRingSeq(seq),
      log: (level, message) => host.log?.(level, message),
    });
  }

  start(nowMs: number): void {
    this.ring.start(nowMs);
  }

  onPacket(nowMs: number, bytes: Uint8Array): void {
    this.ring.onPacket(nowMs, bytes);
  }

  onTimer(nowMs: number): void {
    this.ring.onTimer(nowMs);
  }

  /** Absolute time (same clock as `now`) of the earliest armed timer; Infinity when none. */
  nextTimerMs(): number {
    return this.ring.nextTimerMs();
  }

  /**
   * Queue an application message; returns its per-incarnation counter, or false when the send
   * queue is full (retry once the ring has taken frames). The payload must not be modified after.
   */
  submit(group: string, payload: Uint8Array, order: Order): number | false {
    return this.ring.submit(group, payload, order);
  }

  joinGroup(group: string): void {
    this.ring.joinGroup(group);
  }

  leaveGroup(group: string): void {
    this.ring.leaveGroup(group);
  }

  /** As RingNode.leaveRing: drain, announce the leave, stop; then `hasLeftRing`. */
  leaveRing(nowMs: number, drainWaitMsMax: number): void {
    this.ring.leaveRing(nowMs, drainWaitMsMax);
  }

  get hasLeftRing(): boolean {
    return this.ring.hasLeftRing;
  }

  get state(): MembershipState {
    return this.ring.state;
  }

  get ringId(): RingId {
    return this.ring.ringId;
  }

  get members(): readonly NodeId[] {
    return this.ring.members;
  }

  groupMembers(group: string): readonly NodeId[] {
    return this.assembler.groupMembers(group);
  }

  stats(): EngineStats {
    return this.ring.stats();
  }

  groupStats(): AssemblerStats {
    return this.assembler.stats;
  }

  /**
   * Throws an AssertionError when the protocol state breaks one of its invariants
   * (engine/srp/invariants.ts). The simulator and the engine tests call it after every input.
   */
  assertInvariants(): void {
    this.ring.assertInvariants();
  }
}
