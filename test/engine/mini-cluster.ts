/**
 * A small deterministic cluster for engine unit tests: N TotemNodes on a virtual clock with a FIFO
 * network of fixed delay and a per-packet filter, so a test can drop exactly the packets it names.
 * (The seeded fault simulator lives in test/sim/; this one is for scenarios written by hand.)
 *
 * Every node's state invariants (engine/srp/invariants.ts) are checked after each start, packet
 * and timer, and for every node when run() begins (after whatever a test submitted directly).
 */
import { TotemNode } from '../../engine/node.js';
import type { EngineConfigInput } from '../../engine/config.js';
import type { AppDelivery, ConfigurationChange, GroupEvent, NodeId } from '../../engine/types.js';
import { PacketType } from '../../engine/types.js';

export interface Sent {
  from: NodeId;
  to: NodeId;
  type: number;
  bytes: Uint8Array;
}

export type Filter = (packet: Sent, nowMs: number) => boolean;

interface InFlight {
  atMs: number;
  order: number;
  to: NodeId;
  bytes: Uint8Array;
}

export type Event =
  | { kind: 'deliver'; node: NodeId; d: AppDelivery; atMs: number }
  | { kind: 'conf'; node: NodeId; c: ConfigurationChange; atMs: number };

export class MiniCluster {
  nowMs = 0;
  readonly nodes = new Map<NodeId, TotemNode>();
  readonly events: Event[] = [];
  readonly groupEvents: { node: NodeId; e: GroupEvent }[] = [];
  readonly disk = new Map<NodeId, bigint>();
  readonly down = new Set<NodeId>();
  /** Return false to drop a packet. */
  filter: Filter = () => true;
  delayMs = 1;
  packetsSent = 0;
  /** Settings for one node on top of `config` (a node outside the others' member list, say). */
  configFor: (id: NodeId) => Partial<EngineConfigInput> = () => ({});
  private inFlight: InFlight[] = [];
  private order = 0;
  private incarnation = 1;

  constructor(readonly ids: NodeId[], readonly config: Partial<EngineConfigInput> = {}) {}

  startAll(): void {
    for (const id of this.ids) this.startNode(id);
  }

  startNode(id: NodeId): TotemNode {
    this.down.delete(id);
    const node = new TotemNode(
      { ...this.config, ...this.configFor(id), nodeId: id, incarnation: this.incarnation++, ringSeqInitial: this.disk.get(id) ?? 0n },
      {
        // Loops back every broadcast, selfCopy or not: a host may, and the engine drops the copy.
        send: (to, bytes) => this.send(id, to, bytes),
        storeRingSeq: (seq) => this.disk.set(id, seq),
        deliver: (d) => this.events.push({ kind: 'deliver', node: id, d, atMs: this.nowMs }),
        configuration: (c) => this.events.push({ kind: 'conf', node: id, c, atMs: this.nowMs }),
        groupEvent: (e) => this.groupEvents.push({ node: id, e }),
      },
    );
    this.nodes.set(id, node);
    node.start(this.nowMs);
    node.assertInvariants();
    return node;
  }

  crash(id: NodeId): void {
    this.down.add(id);
    this.nodes.delete(id);
  }

  node(id: NodeId): TotemNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`node ${id} is down`);
    return n;
  }

  private send(from: NodeId, to: NodeId, bytes: Uint8Array): void {
    const targets = to === 0 ? this.ids : [to];
    const type = bytes[1] ?? 0;
    for (const t of targets) {
      this.packetsSent += 1;
      if (!this.filter({ from, to: t, type, bytes }, this.nowMs)) continue;
      this.inFlight.push({ atMs: this.nowMs + this.delayMs, order: this.order++, to: t, bytes });
    }
  }

  /** A packet from outside the cluster's own sends (a forger, a replay), delivered like any other. */
  inject(to: NodeId, bytes: Uint8Array): void {
    this.inFlight.push({ atMs: this.nowMs + this.delayMs, order: this.order++, to, bytes });
  }

  /** Advance virtual time by `durationMs`, delivering packets and firing timers in time order. */
  run(durationMs: number): void {
    const endMs = this.nowMs + durationMs;
    for (const n of this.nodes.values()) n.assertInvariants();
    for (;;) {
      let nextPacket: InFlight | undefined;
      for (const p of this.inFlight) {
        if (nextPacket === undefined || p.atMs < nextPacket.atMs || (p.atMs === nextPacket.atMs && p.order < nextPacket.order)) nextPacket = p;
      }
      let nextTimerMs = Infinity;
      let timerNode: TotemNode | undefined;
      for (const id of this.ids) {
        const n = this.nodes.get(id);
        if (n === undefined) continue;
        const t = n.nextTimerMs();
        if (t < nextTimerMs) {
          nextTimerMs = t;
          timerNode = n;
        }
      }
      const packetMs = nextPacket?.atMs ?? Infinity;
      const atMs = Math.min(packetMs, nextTimerMs);
      if (atMs > endMs) break;
      this.nowMs = Math.max(this.nowMs, atMs);
      if (nextPacket !== undefined && packetMs <= nextTimerMs) {
        this.inFlight.splice(this.inFlight.indexOf(nextPacket), 1);
        const receiver = this.nodes.get(nextPacket.to);
        receiver?.onPacket(this.nowMs, nextPacket.bytes);
        receiver?.assertInvariants();
      } else {
        timerNode?.onTimer(this.nowMs);
        timerNode?.assertInvariants();
      }
    }
    this.nowMs = endMs;
  }

  confs(node: NodeId, kind?: 'regular' | 'transitional'): ConfigurationChange[] {
    const out: ConfigurationChange[] = [];
    for (const e of this.events) if (e.kind === 'conf' && e.node === node && (kind === undefined || e.c.kind === kind)) out.push(e.c);
    return out;
  }

  deliveries(node: NodeId): AppDelivery[] {
    const out: AppDelivery[] = [];
    for (const e of this.events) if (e.kind === 'deliver' && e.node === node) out.push(e.d);
    return out;
  }

  lastRegular(node: NodeId): ConfigurationChange | undefined {
    return this.confs(node, 'regular').at(-1);
  }
}

export const isToken = (p: Sent): boolean => p.type === PacketType.token;
