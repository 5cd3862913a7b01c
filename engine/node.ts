/**
 * A whole totem-evs node in one thread: the ordering and membership layer (srp/) plus the group
 * layer (groups/). The simulator and the in-memory benchmark drive it directly; the threaded
 * runtime splits the same parts over its workers (Srp + Packer on the token worker, Assembler on
 * the delivery worker).
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
import { Packer } from './groups/packer.js';
import { Srp } from './srp/srp.js';
import type {
  ConfigurationChange,
  EngineStats,
  Guarantee,
  MembershipState,
  NodeHost,
  NodeId,
  RingId,
} from './types.js';
import { mcastPayloadBytesMax } from './wire/codec.js';

export class TotemNode {
  readonly config: EngineConfig;
  private readonly srp: Srp;
  private readonly packer: Packer;
  private readonly assembler: Assembler;

  constructor(input: EngineConfigInput, host: NodeHost) {
    this.config = resolveEngineConfig(input);
    const c = this.config;
    this.packer = new Packer({
      nodeId: c.nodeId,
      incarnation: c.incarnation,
      payloadBytesMax: mcastPayloadBytesMax(c.frameBytesMax),
      messageBytesMax: c.messageBytesMax,
      sendQueueBytesMax: c.sendQueueBytesMax,
    });
    this.assembler = new Assembler(
      { nodeId: c.nodeId, messageBytesMax: c.messageBytesMax },
      {
        deliver: (d) => host.deliver(d),
        groupEvent: (e) => host.groupEvent?.(e),
        configuration: (change) => host.configuration(change),
      },
    );
    this.srp = new Srp(c, {
      send: (to, bytes, selfCopy) => host.send(to, bytes, selfCopy),
      deliverFrame: (frame) => this.assembler.onFrame(frame),
      configuration: (change) => this.onConfiguration(change),
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
  submit(group: string, payload: Uint8Array, guarantee: Guarantee): number | false {
    const counter = this.packer.submit(group, payload, guarantee);
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

  get state(): MembershipState {
    return this.srp.membershipState;
  }

  get ringId(): RingId {
    return this.srp.ringId;
  }

  get members(): readonly NodeId[] {
    return this.srp.members;
  }

  groupMembers(group: string): readonly NodeId[] {
    return this.assembler.groupMembers(group);
  }

  stats(): EngineStats {
    return this.srp.stats();
  }

  groupStats(): AssemblerStats {
    return this.assembler.stats;
  }

  private onConfiguration(change: ConfigurationChange): void {
    this.assembler.onConfiguration(change);
    // Nodes that merged in do not know which groups the others belong to: every member announces
    // its own after a regular configuration that joined someone (CPG's joinlist exchange).
    if (change.kind === 'regular' && change.joined.some((n) => n !== this.config.nodeId)) {
      const own = this.packer.ownGroups();
      if (own.length > 0) this.packer.announceGroups(own);
    }
  }
}
