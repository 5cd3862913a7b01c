/**
 * A simulated datagram network on a virtual clock, in the spirit of memberlist's MockNetwork:
 * endpoints are addressed by node id, and every packet is subject to seeded faults.
 *
 * Per packet copy: loss (per link, plus an extra loss for token packets during a token-loss storm),
 * duplication, and a delay of `delayMs + U[0, jitterMs]` (jitter reorders packets). Directed links
 * can be blocked, so a partition may be symmetric or asymmetric (A→B blocked while B→A is open).
 *
 * Crash semantics: a crashed node receives nothing, and packets in flight from or to it vanish —
 * also when it has been restarted before they would have arrived, since the new incarnation is a
 * new process that never owned that socket buffer.
 *
 * A node's own packets (loopback, and sends to itself on a singleton ring) are never lost or
 * blocked: the engine relies on them as corosync relies on its local loop socket (evs-spec §7).
 * They still arrive as a later event, never inside the send call.
 */
import type { Prng } from './prng.js';
import type { VirtualClock } from './virtual-clock.js';

export interface LinkFaults {
  /** Probability that one copy of a packet is dropped. */
  lossProbability: number;
  /** Probability that a packet is delivered twice (the second copy with its own delay). */
  duplicateProbability: number;
  /** Fixed part of the one-way delay. */
  delayMs: number;
  /** Uniform extra delay in [0, jitterMs]; reorders packets when above 0. */
  jitterMs: number;
}

export const linkFaultsNone: LinkFaults = { lossProbability: 0, duplicateProbability: 0, delayMs: 1, jitterMs: 0 };

/** Where the network hands a packet. */
export type PacketHandler = (to: number, from: number, bytes: Uint8Array) => void;

/** Byte 1 of every packet is its type (engine/types.ts PacketType); 1 is the regular token. */
const packetTypeOffset = 1;
const packetTypeToken = 1;

export interface NetworkStats {
  packetsSent: number;
  packetsDelivered: number;
  packetsLost: number;
  packetsBlocked: number;
  packetsDuplicated: number;
  /** To or from a node that crashed while the packet was in flight, or to a node that is down. */
  packetsVanished: number;
  /** Packets the adversary injected (test/sim/adversary.ts). */
  packetsInjected: number;
}

export class Network {
  /** Every node of the cluster, the broadcast destination set. */
  readonly nodeIds: readonly number[];
  /** Faults of every link without an override. */
  faults: LinkFaults = { ...linkFaultsNone };
  /** Extra loss applied to token packets only (a token-loss storm); 0 outside storms. */
  tokenLossProbability = 0;
  readonly stats: NetworkStats = {
    packetsSent: 0,
    packetsDelivered: 0,
    packetsLost: 0,
    packetsBlocked: 0,
    packetsDuplicated: 0,
    packetsVanished: 0,
    packetsInjected: 0,
  };

  private readonly linkOverrides = new Map<number, Partial<LinkFaults>>();
  private readonly blocked = new Set<number>();
  /** Bumped at every crash and restart; a packet carries the epochs of both ends when sent. */
  private readonly epochs = new Map<number, number>();
  private readonly down = new Set<number>();

  constructor(
    private readonly clock: VirtualClock,
    private readonly prng: Prng,
    nodeIds: readonly number[],
    private readonly handler: PacketHandler,
  ) {
    if (new Set(nodeIds).size !== nodeIds.length) throw new RangeError('duplicate node id');
    for (const id of nodeIds) {
      if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) throw new RangeError(`bad node id ${id}`);
      this.epochs.set(id, 0);
    }
    this.nodeIds = nodeIds.slice();
  }

  /**
   * Send `bytes` from `from` to node `to`, or to every node when `to` is 0: the sender included
   * unless `selfCopy` is false (the engine says it holds the packet already; the runtime skips
   * that copy too, so the simulator does, and proves the engine needs no copy of its own frames).
   */
  send(from: number, to: number, bytes: Uint8Array, selfCopy = true): void {
    if (!this.epochs.has(from)) throw new RangeError(`send from unknown node ${from}`);
    if (this.down.has(from)) throw new Error(`node ${from} sends while crashed`);
    this.tap?.(from, to, bytes);
    if (to === 0) {
      for (const dest of this.nodeIds) if (selfCopy || dest !== from) this.sendCopy(from, dest, bytes);
    } else {
      if (!this.epochs.has(to)) throw new RangeError(`send to unknown node ${to}`);
      this.sendCopy(from, to, bytes);
    }
  }

  /** Sees every send as the engine made it (`to` 0 for a broadcast): the adversary's view of the wire. */
  tap: ((from: number, to: number, bytes: Uint8Array) => void) | null = null;

  /**
   * A packet that did not come from a node's send (a replay, a misdirected copy, a forgery):
   * delivered to `to` after `delayMs` unless `to` is down or restarts meanwhile. Blocks and loss
   * do not apply: the adversary sits on the receiver's side of the link.
   */
  inject(to: number, bytes: Uint8Array, delayMs: number): void {
    this.requireKnown(to);
    this.stats.packetsInjected++;
    if (!this.isUp(to)) {
      this.stats.packetsVanished++;
      return;
    }
    const toEpoch = this.epochs.get(to);
    this.clock.after(delayMs, () => {
      if (this.epochs.get(to) !== toEpoch || this.down.has(to)) {
        this.stats.packetsVanished++;
        return;
      }
      this.stats.packetsDelivered++;
      this.handler(to, 0, bytes);
    });
  }

  isUp(id: number): boolean {
    return this.epochs.has(id) && !this.down.has(id);
  }

  /** The node is gone: it receives nothing, and everything in flight from or to it vanishes. */
  crash(id: number): void {
    this.requireKnown(id);
    this.down.add(id);
    this.epochs.set(id, (this.epochs.get(id) ?? 0) + 1);
  }

  /**
   * The node stopped on its own (a graceful close): it receives nothing from now on, but what it
   * sent before is already on the wire and still arrives.
   */
  stop(id: number): void {
    this.requireKnown(id);
    this.down.add(id);
  }

  /** A new process of the node: it receives packets sent from now on. */
  restart(id: number): void {
    this.requireKnown(id);
    this.down.delete(id);
    this.epochs.set(id, (this.epochs.get(id) ?? 0) + 1);
  }

  /** Override the faults of the directed link from → to. */
  setLink(from: number, to: number, faults: Partial<LinkFaults>): void {
    this.linkOverrides.set(linkKey(from, to), { ...faults });
  }

  clearLinks(): void {
    this.linkOverrides.clear();
  }

  /** Block packets from → to only (asymmetric). */
  block(from: number, to: number): void {
    if (from !== to) this.blocked.add(linkKey(from, to));
  }

  unblock(from: number, to: number): void {
    this.blocked.delete(linkKey(from, to));
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked.has(linkKey(from, to));
  }

  /** Split the cluster: packets cross no border between two sides, in either direction. Nodes in no side form one more side. */
  partition(sides: readonly (readonly number[])[]): void {
    const sideOf = new Map<number, number>();
    sides.forEach((side, index) => side.forEach((id) => sideOf.set(id, index)));
    for (const a of this.nodeIds) {
      for (const b of this.nodeIds) {
        if ((sideOf.get(a) ?? -1) !== (sideOf.get(b) ?? -1)) this.block(a, b);
      }
    }
  }

  /** Remove every block (partitions heal); link faults stay. */
  heal(): void {
    this.blocked.clear();
  }

  /** Back to a perfect network: no blocks, no loss, no storms, default delay. */
  calm(): void {
    this.heal();
    this.clearLinks();
    this.faults = { ...linkFaultsNone };
    this.tokenLossProbability = 0;
  }

  private sendCopy(from: number, to: number, bytes: Uint8Array): void {
    this.stats.packetsSent++;
    if (!this.isUp(to)) {
      this.stats.packetsVanished++;
      return;
    }
    const self = from === to;
    const faults = self ? undefined : this.linkFaults(from, to);
    if (!self) {
      if (this.blocked.has(linkKey(from, to))) {
        this.stats.packetsBlocked++;
        return;
      }
      const f = faults as LinkFaults;
      const tokenLoss = bytes[packetTypeOffset] === packetTypeToken ? this.tokenLossProbability : 0;
      if (this.prng.chance(f.lossProbability) || this.prng.chance(tokenLoss)) {
        this.stats.packetsLost++;
        return;
      }
    }
    this.schedule(from, to, bytes, faults);
    if (faults !== undefined && this.prng.chance(faults.duplicateProbability)) {
      this.stats.packetsDuplicated++;
      this.schedule(from, to, bytes, faults);
    }
  }

  private schedule(from: number, to: number, bytes: Uint8Array, faults: LinkFaults | undefined): void {
    const fromEpoch = this.epochs.get(from);
    const toEpoch = this.epochs.get(to);
    const delayMs = faults === undefined ? 0 : faults.delayMs + (faults.jitterMs > 0 ? this.prng.int(0, faults.jitterMs) : 0);
    this.clock.after(delayMs, () => {
      if (this.epochs.get(from) !== fromEpoch || this.epochs.get(to) !== toEpoch || this.down.has(to)) {
        this.stats.packetsVanished++;
        return;
      }
      this.stats.packetsDelivered++;
      this.handler(to, from, bytes);
    });
  }

  private linkFaults(from: number, to: number): LinkFaults {
    const override = this.linkOverrides.get(linkKey(from, to));
    return override === undefined ? this.faults : { ...this.faults, ...override };
  }

  private requireKnown(id: number): void {
    if (!this.epochs.has(id)) throw new RangeError(`unknown node ${id}`);
  }
}

/** One number per directed link; node ids are uint32, so the pair fits a double exactly. */
function linkKey(from: number, to: number): number {
  return from * 0x1_0000_0000 + to;
}
