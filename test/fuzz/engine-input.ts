/**
 * Property-based fuzzing of the engine's input with fast-check: structurally valid packets of
 * every type (they encode, so the decoder takes them) with arbitrary field values, and mutated or
 * raw bytes, fed to an engine in each membership state. The property: the engine never throws
 * (no assertion, no invariant of engine/srp/invariants.ts broken, checked after every input by
 * MiniCluster) and its per-peer state stays within the stated bounds (engine/constants.ts).
 *
 * fast-check rather than a coverage-guided fuzzer (@jazzer.js): the engine's input is structured
 * (a packet is valid only if it encodes), and a coverage-guided byte fuzzer spends nearly all of
 * its time in the decoder's first checks; fast-check generates structured values, shrinks a
 * failure to a minimal packet sequence, replays one from its seed and path, and runs inside
 * vitest with no native build. Raw and mutated bytes are generated too, for the decoder.
 *
 * Field values are drawn as descriptors relative to the target's state ("my ring's seq + 3",
 * "my predecessor", "any uint32"), resolved when the packet is fed, so that packets reach the
 * handlers behind admission as well as the drops in front of it.
 */
import fc from 'fast-check';
import {
  nodeCountMax,
  peerEntriesMax,
  rtrEntriesMax,
  sortQueueItemsMax,
} from '../../engine/constants.js';
import type { TotemNode } from '../../engine/node.js';
import type { RingNode } from '../../engine/ring-node.js';
import type { SrpState } from '../../engine/srp/state.js';
import type { CommitMemberEntry, McastPacket, NodeId, Packet, RingId } from '../../engine/types.js';
import { encodePacket } from '../../engine/wire/codec.js';
import { MiniCluster } from '../engine/mini-cluster.js';

export const fuzzStates = ['fresh', 'operational', 'gather', 'commit', 'recovery'] as const;
export type FuzzState = (typeof fuzzStates)[number];

const clusterIds: NodeId[] = [1, 2, 3];
/** The node the packets are fed to. */
const target: NodeId = 2;
const u64Max = (1n << 64n) - 1n;

// ---- Descriptors ---------------------------------------------------------------------------

type IdPick = { k: 'member'; i: number } | { k: 'pred' } | { k: 'self' } | { k: 'any'; v: number };
type SeqPick = { k: 'near'; d: number } | { k: 'any'; v: number };
type RingSeqPick = { k: 'near'; d: bigint } | { k: 'any'; v: bigint };
type RingPick = { k: 'mine' } | { k: 'mineSeq'; d: bigint } | { k: 'any'; rep: IdPick; seq: RingSeqPick };

type PacketPick =
  | { t: 'token'; sender: IdPick; ring: RingPick; tokenSeq: SeqPick; seq: SeqPick; aru: SeqPick; aruAddr: IdPick | null; fcc: number; backlog: number; retrans: boolean; rtr: { ring: RingPick; seq: SeqPick }[] }
  | { t: 'mcast'; sender: IdPick; ring: RingPick; seq: SeqPick; originator: IdPick; safe: boolean; payload: Uint8Array; inner: { sender: IdPick; ring: RingPick; seq: SeqPick; payload: Uint8Array } | null }
  | { t: 'join'; sender: IdPick; proc: IdPick[]; fail: IdPick[]; ringSeq: RingSeqPick; big: number }
  | { t: 'commitToken'; sender: IdPick; ring: RingPick; membIndex: number; members: { id: IdPick; old: RingPick | null; aru: SeqPick; hd: SeqPick; received: boolean; filled: boolean }[] }
  | { t: 'mergeDetect' | 'tokenHoldCancel'; sender: IdPick; ring: RingPick }
  | { t: 'raw'; bytes: Uint8Array }
  | { t: 'mutated'; base: PacketPick; flips: { at: number; v: number }[]; cut: number | null };

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const idPick: fc.Arbitrary<IdPick> = fc.oneof(
  fc.record({ k: fc.constant('member' as const), i: fc.nat(5) }),
  fc.constant({ k: 'pred' as const }),
  fc.constant({ k: 'self' as const }),
  fc.record({ k: fc.constant('any' as const), v: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 0xffffffff })) }),
);
const seqPick: fc.Arbitrary<SeqPick> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('near' as const), d: fc.integer({ min: -40, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('any' as const), v: u32 }) },
);
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: u64Max }),
  fc.constantFrom(u64Max, u64Max - 3n, (1n << 62n) - 5n, (1n << 62n) - 1n, 1n << 40n, 0n),
);
const ringSeqPick: fc.Arbitrary<RingSeqPick> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('near' as const), d: fc.oneof(fc.bigInt({ min: -12n, max: 12n }), fc.constantFrom(1n << 40n, (1n << 40n) + 1n)) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('any' as const), v: u64 }) },
);
const ringPick: fc.Arbitrary<RingPick> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ k: 'mine' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('mineSeq' as const), d: fc.bigInt({ min: -8n, max: 8n }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('any' as const), rep: idPick, seq: ringSeqPick }) },
);
const payload = fc.uint8Array({ maxLength: 300 });

const basePacket: fc.Arbitrary<PacketPick> = fc.oneof(
  fc.record({
    t: fc.constant('token' as const), sender: idPick, ring: ringPick, tokenSeq: seqPick, seq: seqPick, aru: seqPick,
    aruAddr: fc.option(idPick), fcc: u32, backlog: u32, retrans: fc.boolean(),
    rtr: fc.array(fc.record({ ring: ringPick, seq: seqPick }), { maxLength: rtrEntriesMax }),
  }),
  fc.record({
    t: fc.constant('mcast' as const), sender: idPick, ring: ringPick, seq: seqPick, originator: idPick, safe: fc.boolean(), payload,
    inner: fc.option(fc.record({ sender: idPick, ring: ringPick, seq: seqPick, payload })),
  }),
  fc.record({
    t: fc.constant('join' as const), sender: idPick, proc: fc.array(idPick, { maxLength: 8 }), fail: fc.array(idPick, { maxLength: 4 }),
    ringSeq: ringSeqPick, big: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: nodeCountMax }) }),
  }),
  fc.record({
    t: fc.constant('commitToken' as const), sender: idPick, ring: ringPick, membIndex: fc.nat(6),
    members: fc.array(
      fc.record({ id: idPick, old: fc.option(ringPick), aru: seqPick, hd: seqPick, received: fc.boolean(), filled: fc.boolean() }),
      { minLength: 1, maxLength: 6 },
    ),
  }),
  fc.record({ t: fc.constantFrom('mergeDetect' as const, 'tokenHoldCancel' as const), sender: idPick, ring: ringPick }),
  fc.record({ t: fc.constant('raw' as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 120 }) }),
);

export const packetPick: fc.Arbitrary<PacketPick> = fc.oneof(
  { weight: 6, arbitrary: basePacket },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('mutated' as const),
      base: basePacket,
      flips: fc.array(fc.record({ at: fc.nat(), v: fc.nat(255) }), { maxLength: 4 }),
      cut: fc.option(fc.nat()),
    }),
  },
);

/** One input: a packet to the target, then this much virtual time for the cluster. */
export const fuzzStep = fc.record({ packet: packetPick, afterMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 30 })) });
export type FuzzStep = { packet: PacketPick; afterMs: number };

// ---- Resolution against the target's state ---------------------------------------------------

export function engineState(node: TotemNode): SrpState {
  return (node as unknown as { ring: RingNode }).ring.srp.state;
}

function resolveId(s: SrpState, pick: IdPick): NodeId {
  switch (pick.k) {
    case 'member':
      return clusterIds[pick.i % clusterIds.length]!;
    case 'self':
      return s.self;
    case 'pred': {
      const members = s.ring.members.length > 0 ? s.ring.members : clusterIds;
      const i = members.indexOf(s.self);
      return members[(Math.max(0, i) + members.length - 1) % members.length]!;
    }
    case 'any':
      return pick.v;
  }
}

function resolveSeq(base: number, pick: SeqPick): number {
  return pick.k === 'near' ? (base + pick.d) >>> 0 : pick.v;
}

function resolveRingSeq(base: bigint, pick: RingSeqPick): bigint {
  if (pick.k === 'any') return pick.v;
  const v = base + pick.d;
  return v < 0n ? 0n : v > u64Max ? u64Max : v;
}

function resolveRing(s: SrpState, pick: RingPick): RingId {
  const mine = s.ring.ringId;
  if (pick.k === 'mine') return mine;
  if (pick.k === 'mineSeq') return { rep: mine.rep, seq: resolveRingSeq(mine.seq, { k: 'near', d: pick.d }) };
  return { rep: resolveId(s, pick.rep), seq: resolveRingSeq(mine.seq, pick.seq) };
}

function idSet(ids: NodeId[]): NodeId[] {
  return [...new Set(ids.filter((id) => id >= 1 && id <= 0xffffffff))].sort((a, b) => a - b).slice(0, nodeCountMax);
}

/** The bytes a descriptor stands for in the target's current state. */
export function resolvePacket(s: SrpState, pick: PacketPick): Uint8Array {
  if (pick.t === 'raw') return pick.bytes;
  if (pick.t === 'mutated') {
    let bytes = resolvePacket(s, pick.base).slice();
    for (const f of pick.flips) if (bytes.length > 0) bytes[f.at % bytes.length] = f.v;
    if (pick.cut !== null && bytes.length > 0) bytes = bytes.subarray(0, pick.cut % bytes.length);
    return bytes;
  }
  return encodePacket(resolveFields(s, pick));
}

function resolveFields(s: SrpState, pick: Exclude<PacketPick, { t: 'raw' } | { t: 'mutated' }>): Packet {
  const high = s.ring.highSeqReceived;
  const sender = resolveId(s, pick.sender);
  switch (pick.t) {
    case 'token':
      return {
        type: 'token', sender, ringId: resolveRing(s, pick.ring),
        tokenSeq: resolveSeq((s.myTokenSeq ?? 0) + 1, pick.tokenSeq), seq: resolveSeq(high, pick.seq), aru: resolveSeq(s.ring.aru, pick.aru),
        aruAddr: pick.aruAddr === null ? 0 : resolveId(s, pick.aruAddr), fcc: pick.fcc, backlog: pick.backlog, retransFlg: pick.retrans,
        rtr: pick.rtr.map((e) => ({ ringId: resolveRing(s, e.ring), seq: resolveSeq(high, e.seq) })),
      };
    case 'mcast': {
      const packet: McastPacket = {
        type: 'mcast', sender, ringId: resolveRing(s, pick.ring), seq: resolveSeq(high + 1, pick.seq),
        originator: resolveId(s, pick.originator), order: pick.safe ? 'safe' : 'agreed', payload: pick.payload,
      };
      if (pick.inner !== null) {
        const innerSender = resolveId(s, pick.inner.sender);
        packet.payload = new Uint8Array(0);
        packet.inner = {
          type: 'mcast', sender: innerSender, ringId: resolveRing(s, pick.inner.ring), seq: resolveSeq(high, pick.inner.seq),
          originator: innerSender, order: packet.order, payload: pick.inner.payload,
        };
      }
      return packet;
    }
    case 'join': {
      const made = Array.from({ length: pick.big }, (_, i) => 1000 + i);
      const procSet = idSet([sender, ...pick.proc.map((p) => resolveId(s, p)), ...made]);
      const failSet = idSet(pick.fail.map((p) => resolveId(s, p)));
      return { type: 'join', sender, procSet, failSet, ringSeq: resolveRingSeq(s.ring.ringId.seq, pick.ringSeq) };
    }
    case 'commitToken': {
      const byId = new Map<NodeId, CommitMemberEntry>();
      for (const m of pick.members) {
        const nodeId = resolveId(s, m.id);
        byId.set(nodeId, {
          nodeId,
          oldRingId: m.old === null ? { rep: 0, seq: 0n } : resolveRing(s, m.old),
          aru: resolveSeq(high, m.aru), highDelivered: resolveSeq(s.ring.highDelivered, m.hd),
          receivedFlg: m.received, filled: m.filled,
        });
      }
      const members = [...byId.values()].sort((a, b) => a.nodeId - b.nodeId).slice(0, nodeCountMax);
      return { type: 'commitToken', sender, ringId: resolveRing(s, pick.ring), membIndex: Math.min(pick.membIndex, members.length), members };
    }
    case 'mergeDetect':
    case 'tokenHoldCancel':
      return { type: pick.t, sender, ringId: resolveRing(s, pick.ring) };
  }
}

// ---- Scenarios -----------------------------------------------------------------------------

/**
 * A 3-node cluster with the target (node 2) in `state`: fresh (started alone, in Gather),
 * operational (a formed ring with traffic), gather (a member crashed, the ring lost),
 * commit or recovery (caught while the first ring forms). Null when the state was not reached.
 */
export function scenario(state: FuzzState, memberList: boolean): MiniCluster | null {
  const config = memberList ? { clusterNodeIds: clusterIds } : {};
  const c = new MiniCluster(clusterIds, config);
  if (state === 'fresh') {
    c.startNode(target);
    return c;
  }
  c.startAll();
  for (const id of clusterIds) c.node(id).joinGroup('g');
  if (state === 'commit' || state === 'recovery') {
    for (let ms = 0; ms < 3000; ms++) {
      c.run(1);
      if (c.node(target).state === state) return c;
    }
    return null;
  }
  c.run(1500);
  for (let i = 0; i < 5; i++) for (const id of clusterIds) c.node(id).submit('g', new Uint8Array([i, id]), i % 2 === 0 ? 'safe' : 'agreed');
  c.run(100);
  if (state === 'operational') return c.node(target).state === 'operational' ? c : null;
  c.crash(3);
  for (let ms = 0; ms < 3000; ms += 5) {
    c.run(5);
    if (c.node(target).state === 'gather') return c;
  }
  return null;
}

/** Bounds the target's state must keep whatever it was fed (engine/constants.ts). */
export function boundsBroken(s: SrpState): string | null {
  if (s.procSet.size > nodeCountMax) return `procSet ${s.procSet.size} > ${nodeCountMax}`;
  if (s.failSet.size > nodeCountMax) return `failSet ${s.failSet.size} > ${nodeCountMax}`;
  if (s.lastHeardMs.size > peerEntriesMax) return `lastHeardMs ${s.lastHeardMs.size} > ${peerEntriesMax}`;
  if (s.lastJoin.size > peerEntriesMax) return `lastJoin ${s.lastJoin.size} > ${peerEntriesMax}`;
  if (s.versionSkewReported.size > peerEntriesMax) return `versionSkewReported ${s.versionSkewReported.size} > ${peerEntriesMax}`;
  if (s.changeNodes.size > nodeCountMax) return `changeNodes ${s.changeNodes.size} > ${nodeCountMax}`;
  if (s.ring.queue.size > sortQueueItemsMax) return `sort queue ${s.ring.queue.size} > ${sortQueueItemsMax}`;
  if (s.missCount.size > sortQueueItemsMax) return `missCount ${s.missCount.size} > ${sortQueueItemsMax}`;
  return null;
}

/** Feed `steps` to the target; throws (engine or bounds) on a failure. */
export function feed(c: MiniCluster, steps: readonly FuzzStep[]): void {
  for (const step of steps) {
    const node = c.nodes.get(target);
    if (node === undefined) return;
    c.inject(target, resolvePacket(engineState(node), step.packet));
    c.run(1 + step.afterMs);
    const broken = boundsBroken(engineState(node));
    if (broken !== null) throw new Error(`bound broken: ${broken}`);
  }
}

/** The property for one state: any sequence of inputs, no throw, bounds kept. */
export function engineInputProperty(state: FuzzState): fc.IPropertyWithHooks<[boolean, FuzzStep[]]> {
  return fc.property(fc.boolean(), fc.array(fuzzStep, { minLength: 1, maxLength: 25 }), (memberList, steps) => {
    const c = scenario(state, memberList);
    if (c === null) return;
    feed(c, steps);
  });
}
