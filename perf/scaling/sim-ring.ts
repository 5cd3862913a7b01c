/**
 * A ring of engine nodes (engine/node.ts TotemNode) on the simulator's network and virtual clock
 * (test/sim/network.ts, virtual-clock.ts), lighter than test/sim/cluster.ts: no trace files, no
 * invariants pass after every call, no random load. It exists to measure the protocol's own costs
 * in virtual time — what a ring of N members pays in rotations, latency, throughput and membership
 * rounds — independent of the machine the study runs on.
 *
 * The network model is the simulator's: a fixed one-way delay per hop (plus optional jitter), no
 * loss, no bandwidth limit and no processing cost. The engine itself runs unchanged.
 */
import type { EngineConfigInput } from '../../engine/config.js';
import { TotemNode } from '../../engine/node.js';
import type { AppDelivery, ConfigurationChange, Order } from '../../engine/types.js';
import { Network } from '../../test/sim/network.js';
import { Prng } from '../../test/sim/prng.js';
import { DeadlineTimer, VirtualClock } from '../../test/sim/virtual-clock.js';

/** Byte 1 of every packet is its type; 1 is the regular token (engine/types.ts PacketType). */
const packetTypeToken = 1;

/** Events one measurement may run before it is cut short (a run that stops is reported, not hidden). */
export const eventsMaxDefault = 200_000_000;

export interface SimRingOptions {
  nodeCount: number;
  /** Engine settings for every node (timers, window). */
  engine: Omit<EngineConfigInput, 'nodeId' | 'incarnation' | 'ringSeqInitial'>;
  /** One-way delay of every hop, in virtual ms (the simulator's links are at least 1 ms). */
  hopMs: number;
  /** Uniform extra delay per packet in [0, jitterMs]. */
  jitterMs: number;
  seed: number;
}

interface Slot {
  node: TotemNode | null;
  incarnation: number;
  ringSeq: bigint;
  generation: number;
  timer: DeadlineTimer;
  /** The last regular configuration this node installed (ring id string and members). */
  regular: { ring: string; members: readonly number[] } | null;
}

export class SimRing {
  readonly clock = new VirtualClock();
  readonly network: Network;
  readonly ids: readonly number[];
  /** Called for every delivery at every node: (node, delivery, virtual ms). */
  onDeliver: ((nodeId: number, d: AppDelivery, nowMs: number) => void) | null = null;
  /** Called after every installed configuration. */
  onConfiguration: ((nodeId: number, c: ConfigurationChange, nowMs: number) => void) | null = null;
  /** Called for every token a node sends: (sender, virtual ms). */
  onTokenSent: ((from: number, nowMs: number) => void) | null = null;

  private readonly slots = new Map<number, Slot>();

  constructor(private readonly options: SimRingOptions) {
    if (!Number.isInteger(options.nodeCount) || options.nodeCount < 1 || options.nodeCount > 64) {
      throw new RangeError('a ring has 1..64 nodes');
    }
    this.ids = Array.from({ length: options.nodeCount }, (_, i) => i + 1);
    const prng = new Prng(options.seed);
    this.network = new Network(this.clock, prng.fork(), this.ids, (to, _from, bytes) => this.onPacket(to, bytes));
    this.network.faults = { lossProbability: 0, duplicateProbability: 0, delayMs: options.hopMs, jitterMs: options.jitterMs };
    this.network.tap = (from, _to, bytes) => {
      if (bytes[1] === packetTypeToken) this.onTokenSent?.(from, this.clock.nowMs);
    };
    for (const id of this.ids) {
      this.slots.set(id, {
        node: null,
        incarnation: 0,
        ringSeq: 0n,
        generation: 0,
        timer: new DeadlineTimer(this.clock),
        regular: null,
      });
      this.network.crash(id);
    }
  }

  get nowMs(): number {
    return this.clock.nowMs;
  }

  isLive(id: number): boolean {
    return this.slot(id).node !== null;
  }

  liveIds(): number[] {
    return this.ids.filter((id) => this.isLive(id));
  }

  node(id: number): TotemNode {
    const node = this.slot(id).node;
    if (node === null) throw new Error(`node ${id} is not running`);
    return node;
  }

  /** Start (or restart) a node: new incarnation, ring seq from its "disk", member of group `g`. */
  start(id: number): void {
    const slot = this.slot(id);
    if (slot.node !== null) throw new Error(`node ${id} is already running`);
    slot.incarnation = Math.max(1, Math.ceil(this.clock.nowMs), slot.incarnation + 1);
    slot.generation++;
    slot.timer.cancel();
    slot.regular = null;
    this.network.restart(id);
    const generation = slot.generation;
    const live = (): boolean => slot.generation === generation;
    const node = new TotemNode(
      { ...this.options.engine, nodeId: id, incarnation: slot.incarnation, ringSeqInitial: slot.ringSeq, clusterNodeIds: this.ids },
      {
        send: (to, bytes, selfCopy) => {
          if (live()) this.network.send(id, to, bytes, selfCopy);
        },
        storeRingSeq: (seq) => {
          if (live()) slot.ringSeq = seq;
        },
        deliver: (d) => {
          if (live()) this.onDeliver?.(id, d, this.clock.nowMs);
        },
        configuration: (c) => {
          if (!live()) return;
          if (c.kind === 'regular') slot.regular = { ring: `${c.ringId.rep}:${c.ringId.seq}`, members: c.members.slice() };
          this.onConfiguration?.(id, c, this.clock.nowMs);
        },
      },
    );
    slot.node = node;
    node.start(this.clock.nowMs);
    node.joinGroup('g');
    this.armTimer(slot);
  }

  /** Kill a node: memory gone, in-flight packets to and from it vanish. */
  crash(id: number): void {
    const slot = this.slot(id);
    if (slot.node === null) throw new Error(`node ${id} is not running`);
    slot.node = null;
    slot.generation++;
    slot.timer.cancel();
    slot.regular = null;
    this.network.crash(id);
  }

  /** submit() on a live node, timers re-armed; false when the send queue is full. */
  submit(id: number, payload: Uint8Array, order: Order): boolean {
    const slot = this.slot(id);
    const node = slot.node;
    if (node === null) return false;
    const counter = node.submit('g', payload, order);
    this.armTimer(slot);
    return counter !== false;
  }

  /** True when every node of `ids` is live and has installed the same regular configuration of exactly `ids`. */
  oneRing(ids: readonly number[]): boolean {
    let ring: string | null = null;
    for (const id of ids) {
      const slot = this.slot(id);
      const r = slot.regular;
      if (slot.node === null || r === null || r.members.length !== ids.length) return false;
      if (ring === null) ring = r.ring;
      else if (r.ring !== ring) return false;
      if (!ids.every((m) => r.members.includes(m))) return false;
    }
    return true;
  }

  /**
   * Run until `done()` holds (checked after every event batch of one virtual ms) or `limitMs` of
   * virtual time pass; returns the virtual time it held at, or null.
   */
  runUntil(done: () => boolean, limitMs: number): number | null {
    const endMs = this.clock.nowMs + limitMs;
    while (this.clock.nowMs < endMs) {
      if (done()) return this.clock.nowMs;
      const nextMs = Math.min(endMs, Math.max(this.clock.nowMs + 1, Math.floor(this.clock.nextMs())));
      if (!this.clock.runUntil(Number.isFinite(nextMs) ? nextMs : endMs, eventsMaxDefault)) throw new Error('event budget exhausted');
    }
    return done() ? this.clock.nowMs : null;
  }

  /** Run for `durationMs` of virtual time. */
  runFor(durationMs: number): void {
    if (!this.clock.runUntil(this.clock.nowMs + durationMs, eventsMaxDefault)) throw new Error('event budget exhausted');
  }

  private slot(id: number): Slot {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new RangeError(`unknown node ${id}`);
    return slot;
  }

  private onPacket(to: number, bytes: Uint8Array): void {
    const slot = this.slot(to);
    const node = slot.node;
    if (node === null) return;
    node.onPacket(this.clock.nowMs, bytes);
    this.armTimer(slot);
  }

  private armTimer(slot: Slot): void {
    const node = slot.node;
    if (node === null) return;
    slot.timer.arm(node.nextTimerMs(), () => {
      if (slot.node === null) return;
      slot.node.onTimer(this.clock.nowMs);
      this.armTimer(slot);
    });
  }
}
