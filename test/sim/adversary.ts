/**
 * The simulator's adversary: a network that duplicates, misdirects, replays, corrupts and lies,
 * on top of the fault mixes' loss, partitions and crashes.
 *
 * It sees every packet the nodes send (Network.tap) and keeps the recent ones. In the safety
 * phase it acts in bursts:
 * - replay: an old genuine packet delivered again, late (up to the whole history, tens of
 *   seconds), to a node of its genuine destination set;
 * - misdirect: a genuine unicast (token, commit token) copied to another member or back to its
 *   sender, a broadcast copied back to its sender;
 * - forge: packets from ids outside the member list or claiming a member's id, with extreme
 *   fields: ring seqs near 2^64, 2^62 and far above every ring, sets of hundreds of ids, commit
 *   tokens with bogus entries, tokens with full and over-full rtr lists, frames with made-up
 *   content, raw garbage;
 * - mutate: a genuine packet with a few bytes changed, truncated or extended.
 *
 * Per seed the runtime's authentication is modelled as "keyed" or "unkeyed". Keyed: the runtime
 * binds every sealed packet to its destination and cluster and drops its own packets, so only
 * genuine packets reach a node, each only at a node of its genuine destination set (a broadcast
 * at any node, a unicast at its addressee), never at the node that sent it; forged and mutated
 * packets are dropped where the runtime drops them (they are not delivered). Unkeyed: everything
 * reaches the engine.
 */
import { nodeCountMax, rtrEntriesMax } from '../../engine/constants.js';
import type { CommitMemberEntry, NodeId, Packet, RingId } from '../../engine/types.js';
import { decodePacket, encodePacket } from '../../engine/wire/codec.js';
import type { Network } from './network.js';
import type { Prng } from './prng.js';
import type { VirtualClock } from './virtual-clock.js';

export type AdversaryMode = 'keyed' | 'unkeyed';

export interface AdversaryOptions {
  mode: AdversaryMode;
  /** Mean time between two bursts in the safety phase. */
  burstIntervalMsMean: number;
  /** Actions per burst, at most. */
  burstActionsMax: number;
}

export interface AdversaryStats {
  replayed: number;
  misdirected: number;
  forged: number;
  mutated: number;
}

interface Seen {
  atMs: number;
  from: NodeId;
  /** 0 for a broadcast. */
  to: NodeId;
  bytes: Uint8Array;
}

/** Sends remembered for replays: a few seconds of a busy ring. */
const historyMax = 4096;
const u64Max = (1n << 64n) - 1n;

export class Adversary {
  readonly stats: AdversaryStats = { replayed: 0, misdirected: 0, forged: 0, mutated: 0 };
  private readonly history: Seen[] = [];
  private historyNext = 0;
  /** Ring ids seen on the wire, newest last (forged packets name real rings too). */
  private readonly rings: RingId[] = [];
  private active = false;

  constructor(
    private readonly options: AdversaryOptions,
    private readonly network: Network,
    private readonly clock: VirtualClock,
    private readonly prng: Prng,
    private readonly nodeIds: readonly NodeId[],
  ) {
    network.tap = (from, to, bytes) => this.observe(from, to, bytes);
  }

  get mode(): AdversaryMode {
    return this.options.mode;
  }

  /** Act until `endMs` (the end of the safety phase). */
  startSafety(durationMs: number): void {
    const endMs = this.clock.nowMs + durationMs;
    this.active = true;
    const next = (): void => {
      const u = this.prng.float();
      const atMs = this.clock.nowMs + Math.max(1, Math.round(-Math.log(1 - u) * this.options.burstIntervalMsMean));
      if (atMs >= endMs) return;
      this.clock.at(atMs, () => {
        if (!this.active) return;
        this.burst();
        next();
      });
    };
    next();
    this.clock.at(endMs, () => this.stop());
  }

  stop(): void {
    this.active = false;
  }

  private observe(from: NodeId, to: NodeId, bytes: Uint8Array): void {
    const seen: Seen = { atMs: this.clock.nowMs, from, to, bytes };
    if (this.history.length < historyMax) this.history.push(seen);
    else this.history[this.historyNext] = seen;
    this.historyNext = (this.historyNext + 1) % historyMax;
    // Ring ids of membership traffic (cheap to decode, and where new rings show up).
    const type = bytes[1];
    if (type === 4 || type === 5) {
      const r = decodePacket(bytes);
      if (r.ok && 'ringId' in r.packet) this.noteRing(r.packet.ringId);
    }
  }

  private noteRing(ringId: RingId): void {
    const last = this.rings.at(-1);
    if (last !== undefined && last.rep === ringId.rep && last.seq === ringId.seq) return;
    this.rings.push(ringId);
    if (this.rings.length > 64) this.rings.shift();
  }

  private burst(): void {
    const actions = this.prng.int(1, this.options.burstActionsMax);
    for (let i = 0; i < actions; i++) {
      const keyed = this.options.mode === 'keyed';
      const kind = keyed ? this.prng.int(0, 1) : this.prng.int(0, 5);
      if (kind === 0) this.replay(true);
      else if (kind === 1) this.replay(false);
      else if (kind === 2) this.misdirect();
      else if (kind === 3 || kind === 4) this.forge();
      else this.mutate();
    }
  }

  /** A genuine packet again, to a node of its destination set: a recent one, or an old one late. */
  private replay(recent: boolean): void {
    const seen = this.pickSeen(recent);
    if (seen === undefined) return;
    const to = seen.to !== 0 ? seen.to : this.prng.pick(this.nodeIds);
    // A node's own packets are dropped by the runtime when sealed; a self-send is its own loopback.
    if (to === seen.from) return;
    this.stats.replayed++;
    this.network.inject(to, seen.bytes, this.prng.int(0, 50));
  }

  /** A unicast to someone else or back to its sender; a broadcast back to its sender (unkeyed). */
  private misdirect(): void {
    const seen = this.pickSeen(true);
    if (seen === undefined) return;
    let to: NodeId;
    if (seen.to === 0) to = seen.from;
    else to = this.prng.chance(0.3) ? seen.from : this.prng.pick(this.nodeIds.filter((id) => id !== seen.to).concat(seen.from));
    this.stats.misdirected++;
    this.network.inject(to, seen.bytes, this.prng.int(0, 20));
  }

  private mutate(): void {
    const seen = this.pickSeen(true);
    if (seen === undefined) return;
    let bytes = seen.bytes.slice();
    const how = this.prng.int(0, 3);
    if (how === 0 && bytes.length > 1) {
      bytes = bytes.subarray(0, this.prng.int(1, bytes.length - 1));
    } else if (how === 1) {
      const longer = new Uint8Array(bytes.length + this.prng.int(1, 64));
      longer.set(bytes);
      for (let i = bytes.length; i < longer.length; i++) longer[i] = this.prng.int(0, 255);
      bytes = longer;
    } else {
      // Flip a few bytes, mostly past the version byte so that the packet still decodes often.
      const flips = this.prng.int(1, 4);
      for (let i = 0; i < flips; i++) {
        const at = this.prng.int(bytes.length > 1 ? 1 : 0, bytes.length - 1);
        bytes[at] = this.prng.int(0, 255);
      }
    }
    this.stats.mutated++;
    this.network.inject(this.prng.pick(this.nodeIds), bytes, this.prng.int(0, 20));
  }

  private forge(): void {
    const bytes = this.forgedPacket();
    this.stats.forged++;
    const targets = this.prng.chance(0.5) ? this.nodeIds : [this.prng.pick(this.nodeIds)];
    const delayMs = this.prng.int(0, 20);
    for (const to of targets) this.network.inject(to, bytes, delayMs);
  }

  private forgedPacket(): Uint8Array {
    const p = this.prng;
    const sender = this.someId();
    const kind = p.int(0, 7);
    if (kind === 7) {
      const raw = new Uint8Array(p.int(1, 200));
      for (let i = 0; i < raw.length; i++) raw[i] = p.int(0, 255);
      if (p.chance(0.5)) raw[0] = 1;
      return raw;
    }
    if (kind === 6) return this.overfullToken(sender);
    return encodePacket(this.forgedFields(kind, sender));
  }

  private forgedFields(kind: number, sender: NodeId): Packet {
    const p = this.prng;
    switch (kind) {
      case 0: {
        const procSet = this.idSet(p.chance(0.3) ? nodeCountMax - 1 : p.int(0, 12), sender);
        const failSet = p.chance(0.5) ? [] : this.idSet(p.int(0, 6), 0).filter((id) => id !== sender);
        return { type: 'join', sender, procSet, failSet, ringSeq: this.extremeSeq() };
      }
      case 1: {
        const members = this.idSet(p.chance(0.2) ? p.int(1, nodeCountMax) : p.int(1, 8), 0);
        const entries: CommitMemberEntry[] = members.map((nodeId) => ({
          nodeId,
          oldRingId: p.chance(0.5) ? { rep: 0, seq: 0n } : this.someRing(),
          aru: this.u32(),
          highDelivered: this.u32(),
          receivedFlg: p.chance(0.5),
          filled: p.chance(0.5),
        }));
        const ringId = p.chance(0.5) ? { rep: members[0]!, seq: this.extremeSeq() } : this.someRing();
        return { type: 'commitToken', sender, ringId, membIndex: p.int(0, members.length), members: entries };
      }
      case 2: {
        const rtr = Array.from({ length: p.int(0, rtrEntriesMax) }, () => ({ ringId: this.someRing(), seq: this.u32() }));
        return {
          type: 'token',
          sender,
          ringId: this.someRing(),
          tokenSeq: this.u32(),
          seq: this.u32(),
          aru: this.u32(),
          aruAddr: p.chance(0.5) ? 0 : this.someId(),
          fcc: this.u32(),
          backlog: this.u32(),
          retransFlg: p.chance(0.5),
          rtr,
        };
      }
      case 3: {
        const payload = new Uint8Array(p.int(0, 300));
        for (let i = 0; i < payload.length; i++) payload[i] = p.int(0, 255);
        return {
          type: 'mcast',
          sender,
          ringId: this.someRing(),
          seq: p.chance(0.5) ? p.int(1, 2000) : this.u32(),
          originator: p.chance(0.7) ? sender : this.someId(),
          order: p.chance(0.5) ? 'safe' : 'agreed',
          payload,
        };
      }
      case 4:
        return { type: 'mergeDetect', sender, ringId: p.chance(0.5) ? { rep: sender, seq: this.extremeSeq() } : this.someRing() };
      default:
        return { type: 'tokenHoldCancel', sender, ringId: this.someRing() };
    }
  }

  /** A token whose rtr count is above rtrEntriesMax (the decoder refuses it as oversized). */
  private overfullToken(sender: NodeId): Uint8Array {
    const full = encodePacket({
      type: 'token', sender, ringId: this.someRing(), tokenSeq: this.u32(), seq: this.u32(), aru: 0, aruAddr: 0,
      fcc: 0, backlog: 0, retransFlg: false, rtr: [],
    });
    const count = this.prng.int(rtrEntriesMax + 1, 2000);
    const out = new Uint8Array(full.length + count * 16);
    out.set(full);
    // rtr count u16 at offset 44 (engine/wire/layout.ts).
    out[44] = count & 0xff;
    out[45] = count >> 8;
    return out;
  }

  /** Mostly a member's id (a forger claiming it), sometimes one outside the member list. */
  private someId(): NodeId {
    if (this.prng.chance(0.5)) return this.prng.pick(this.nodeIds);
    for (;;) {
      const id = this.prng.chance(0.5) ? this.prng.int(1, 1000) : this.prng.int(1, 0xffffffff);
      if (!this.nodeIds.includes(id)) return id;
    }
  }

  /** A sorted set of `count` ids (members and made-up ones), with `include` in it when not 0. */
  private idSet(count: number, include: NodeId): NodeId[] {
    const ids = new Set<NodeId>();
    if (include !== 0) ids.add(include);
    while (ids.size < Math.min(count, nodeCountMax)) ids.add(this.someId());
    return [...ids].sort((a, b) => a - b);
  }

  /** A ring seen on the wire (sometimes with an extreme seq), or a made-up one. */
  private someRing(): RingId {
    const seen = this.rings.length > 0 && this.prng.chance(0.7) ? this.prng.pick(this.rings) : undefined;
    if (seen !== undefined) return this.prng.chance(0.8) ? seen : { rep: seen.rep, seq: this.extremeSeq() };
    return { rep: this.someId(), seq: this.extremeSeq() };
  }

  private extremeSeq(): bigint {
    const p = this.prng;
    const base = this.rings.at(-1)?.seq ?? 0n;
    switch (p.int(0, 6)) {
      case 0:
        return u64Max - BigInt(p.int(0, 8));
      case 1:
        return (1n << 62n) - BigInt(p.int(1, 8));
      case 2:
        return base + (1n << 40n) + BigInt(p.int(1, 1000));
      case 3:
        return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
      case 4:
        return base > 8n ? base - BigInt(p.int(0, 8)) : 0n;
      default:
        return base + BigInt(p.int(1, 64));
    }
  }

  private u32(): number {
    return this.prng.chance(0.3) ? this.prng.int(0, 64) : this.prng.nextU32();
  }

  private pickSeen(recent: boolean): Seen | undefined {
    const n = this.history.length;
    if (n === 0) return undefined;
    if (!recent) return this.history[this.prng.int(0, n - 1)];
    // One of the last few dozen sends.
    const back = this.prng.int(1, Math.min(n, 48));
    return this.history[n < historyMax ? n - back : (this.historyNext - back + historyMax) % historyMax];
  }
}
