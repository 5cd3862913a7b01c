/**
 * One test per hostile-input finding: a packet an honest member never sends reaches the engine,
 * and the node neither stops nor breaks a guarantee; the packet is dropped and counted under its
 * named reason (engine/srp/admission.ts).
 */
import { describe, expect, it } from 'vitest';
import { ringSeqStartMax } from '../../engine/constants.js';
import { storedRingSeqProblem } from '../../engine/config.js';
import type { CommitTokenPacket, NodeId, TokenPacket } from '../../engine/types.js';
import { PacketType } from '../../engine/types.js';
import { decodePacket, encodePacket } from '../../engine/wire/codec.js';
import { engineState } from '../fuzz/engine-input.js';
import { MiniCluster, type Sent } from './mini-cluster.js';

const u64Max = (1n << 64n) - 1n;

function payload(i: number): Uint8Array {
  return new Uint8Array([i & 0xff, (i >> 8) & 0xff, 0x5a]);
}

/** A formed ring of `ids` with some traffic delivered, every node in group g. */
function formedRing(ids: NodeId[], config: ConstructorParameters<typeof MiniCluster>[1] = {}): MiniCluster {
  const c = new MiniCluster(ids, config);
  c.startAll();
  for (const id of ids) c.node(id).joinGroup('g');
  c.run(1500);
  for (let i = 0; i < 6; i++) for (const id of ids) c.node(id).submit('g', payload(i), 'agreed');
  c.run(300);
  for (const id of ids) {
    expect(c.node(id).state).toBe('operational');
    expect(c.node(id).members).toEqual(ids);
  }
  return c;
}

function join(sender: NodeId, procSet: NodeId[], failSet: NodeId[], ringSeq: bigint): Uint8Array {
  return encodePacket({ type: 'join', sender, procSet, failSet, ringSeq });
}

/** Record the regular tokens `from` sends to `to` while the cluster runs. */
function recordTokens(c: MiniCluster, from: NodeId, to: NodeId): TokenPacket[] {
  const seen: TokenPacket[] = [];
  const previous = c.filter;
  c.filter = (p: Sent, nowMs: number) => {
    if (p.type === PacketType.token && p.from === from && p.to === to) {
      const r = decodePacket(p.bytes);
      if (r.ok && r.packet.type === 'token') seen.push(r.packet);
    }
    return previous(p, nowMs);
  };
  return seen;
}

function ringIds(c: MiniCluster, ids: NodeId[]): string[] {
  return ids.map((id) => `${c.node(id).ringId.rep}:${c.node(id).ringId.seq}`);
}

describe('hostile input reaches the engine', () => {
  it('a forged join from an unlisted id with ring seq 2^64-1 stops no node and moves no ring seq', () => {
    const c = formedRing([1, 2, 3]);
    const before = ringIds(c, [1, 2, 3]);
    const diskBefore = [...c.disk.values()];
    for (const to of [1, 2, 3]) c.inject(to, join(99, [99], [], u64Max));
    c.run(3000);
    for (const id of [1, 2, 3]) {
      expect(c.node(id).state).toBe('operational');
      expect(c.node(id).members).toEqual([1, 2, 3]);
      expect(c.node(id).stats().packetsDropped['ring-seq-bound']).toBe(1);
    }
    expect(ringIds(c, [1, 2, 3])).toEqual(before);
    expect([...c.disk.values()]).toEqual(diskBefore);
  });

  it('a forged join with ring seq 2^62-5 is not persisted, so a restart still starts', () => {
    const c = formedRing([1, 2, 3]);
    for (const to of [1, 2, 3]) c.inject(to, join(2, [1, 2, 3], [], (1n << 62n) - 5n));
    c.run(3000);
    for (const id of [1, 2, 3]) expect(c.disk.get(id)! < 1000n).toBe(true);
    c.crash(3);
    c.run(10);
    c.startNode(3);
    c.run(3000);
    expect(c.node(3).members).toEqual([1, 2, 3]);
  });

  it('a ring seq beyond the jump is taken only once it has kept arriving for two consensus timeouts', () => {
    const c = new MiniCluster([1]);
    c.startNode(1);
    c.run(500);
    expect(c.node(1).state).toBe('operational');
    const far = c.node(1).ringId.seq + (1n << 40n) + 5n;
    const detect = encodePacket({ type: 'mergeDetect', sender: 7, ringId: { rep: 7, seq: far } });
    const gatherEntries = c.node(1).stats().gatherEntries;
    // Every 200 ms, as an idle representative announces its ring: dropped for 2.4 s, then taken.
    let takenAtMs: number | null = null;
    for (let i = 0; i < 20 && takenAtMs === null; i++) {
      c.inject(1, detect);
      c.run(200);
      if (c.node(1).stats().gatherEntries > gatherEntries) takenAtMs = i * 200;
    }
    expect(takenAtMs).not.toBeNull();
    expect(takenAtMs!).toBeGreaterThanOrEqual(2400);
    expect(c.node(1).stats().packetsDropped['ring-seq-bound']).toBeGreaterThanOrEqual(12);
  });

  it('a stored ring seq near the bound is a startup error that names the fix', () => {
    expect(storedRingSeqProblem(ringSeqStartMax)).toBeNull();
    const problem = storedRingSeqProblem((1n << 62n) - 5n);
    expect(problem).toMatch(/delete the ring-seq file/);
    expect(problem).toMatch(/every node/);
    const c = new MiniCluster([1]);
    c.disk.set(1, (1n << 62n) - 5n);
    expect(() => c.startNode(1)).toThrow(/ringSeqInitial: stored ring seq .* delete the ring-seq file/);
  });

  it('a join naming 384 made-up node ids kills no node and grows no set', () => {
    const c = formedRing([1, 2, 3]);
    const madeUp = Array.from({ length: 384 }, (_, i) => 1000 + i);
    for (const to of [1, 2, 3]) c.inject(to, join(1000, madeUp, [], 0n));
    c.run(3000);
    for (const id of [1, 2, 3]) {
      expect(c.node(id).state).toBe('operational');
      expect(c.node(id).members).toEqual([1, 2, 3]);
      expect(c.node(id).stats().packetsDropped['bad-set']).toBe(1);
    }
  });

  it('a commit token whose entries contradict each other is dropped, in Gather and in Commit', () => {
    // Node 2 alone, told by a join that 1 gathers with it: it takes 1's commit token and waits in
    // Commit for the second rotation.
    const c = new MiniCluster([2], { tokenTimeoutMs: 60_000, consensusTimeoutMs: 60_000 });
    // Its own joins do not come back, so it does not form a ring alone first.
    c.filter = (p) => !(p.from === 2 && p.to === 2 && p.type === PacketType.join);
    c.startNode(2);
    c.run(5);
    c.inject(2, join(1, [1, 2], [], 0n));
    c.run(5);
    const ringId = { rep: 1, seq: 20n };
    const empty = { oldRingId: { rep: 0, seq: 0n }, aru: 0, highDelivered: 0, receivedFlg: false, filled: false };
    const filled1 = { nodeId: 1, oldRingId: { rep: 1, seq: 1n }, aru: 0, highDelivered: 0, receivedFlg: true, filled: true };
    const token = (membIndex: number, members: CommitTokenPacket['members']): Uint8Array =>
      encodePacket({ type: 'commitToken', sender: 1, ringId, membIndex, members });
    // An entry left unfilled behind the index.
    c.inject(2, token(1, [{ nodeId: 1, ...empty }, { nodeId: 2, ...empty, filled: true }]));
    c.run(5);
    expect(c.node(2).state).toBe('gather');
    c.inject(2, token(1, [filled1, { nodeId: 2, ...empty }]));
    c.run(5);
    expect(c.node(2).state).toBe('commit');
    // The second rotation, with entries unfilled, or with my entry rewritten.
    c.inject(2, token(2, [filled1, { nodeId: 2, ...empty }]));
    c.inject(2, token(2, [{ nodeId: 1, ...empty }, { nodeId: 2, ...empty }]));
    c.inject(2, token(2, [filled1, { ...filled1, nodeId: 2, oldRingId: { rep: 2, seq: 19n } }]));
    c.run(5);
    expect(c.node(2).state).toBe('commit');
    expect(c.node(2).stats().packetsDropped['bad-commit-token']).toBe(4);
  });

  it('a token naming a seq below frames already held is dropped, not stored over them', () => {
    const c = formedRing([1, 2, 3]);
    const seen = recordTokens(c, 1, 2);
    c.run(200);
    const last = seen.at(-1)!;
    expect(last.seq).toBeGreaterThan(5);
    c.node(2).submit('g', payload(99), 'agreed');
    const forged: TokenPacket = { ...last, seq: 1, aru: 1, tokenSeq: last.tokenSeq + 1000, rtr: [] };
    c.inject(2, encodePacket(forged));
    c.run(2000);
    expect(c.node(2).stats().packetsDropped['bad-token']).toBe(1);
    for (const id of [1, 2, 3]) expect(c.node(id).members).toEqual([1, 2, 3]);
    const got = c.deliveries(3).filter((d) => d.sender === 2 && d.payload[0] === 99);
    expect(got).toHaveLength(1);
  });

  it('a token whose aruAddr names no member is dropped: it would hold every aru down for good', () => {
    const c = formedRing([1, 2, 3]);
    const seen = recordTokens(c, 1, 2);
    c.run(200);
    const last = seen.at(-1)!;
    // Frames nobody holds above the ring's real seq, and an aru only a non-member could raise.
    const forged: TokenPacket = { ...last, seq: last.seq + 50, aru: last.seq, aruAddr: 77, tokenSeq: last.tokenSeq + 1000, rtr: [] };
    c.inject(2, encodePacket(forged));
    c.run(10);
    c.node(2).submit('g', payload(98), 'agreed');
    c.run(3000);
    expect(c.node(2).stats().packetsDropped['bad-token']).toBe(1);
    for (const id of [1, 2, 3]) expect(c.node(id).members).toEqual([1, 2, 3]);
    expect(c.deliveries(3).filter((d) => d.sender === 2 && d.payload[0] === 98)).toHaveLength(1);
  });

  it('a frame whose seq is held with other content is counted as conflicting, and the held one stays', () => {
    const c = formedRing([1, 2, 3]);
    const frames: Uint8Array[] = [];
    const previous = c.filter;
    c.filter = (p, nowMs) => {
      if (p.type === PacketType.mcast && p.from === 1 && p.to === 3) frames.push(p.bytes);
      return previous(p, nowMs);
    };
    c.node(1).submit('g', payload(42), 'agreed');
    c.run(100);
    c.filter = previous;
    expect(frames.length).toBeGreaterThan(0);
    const altered = frames[0]!.slice();
    altered[altered.length - 1]! ^= 0xff;
    c.inject(3, altered);
    c.inject(3, frames[0]!);
    c.run(100);
    const dropped = c.node(3).stats().packetsDropped;
    // Node 3 may have released the frame already (then it is only a duplicate); held, it conflicts.
    expect(dropped['conflicting-frame'] + dropped.duplicate).toBeGreaterThanOrEqual(2);
    expect(c.deliveries(3).filter((d) => d.payload[0] === 42)).toHaveLength(1);
  });

  it('a conflicting frame held in the sort queue is dropped as conflicting-frame', () => {
    const c = formedRing([1, 2, 3]);
    // Hold node 3's deliveries back: safe messages wait for two token visits, so stop the token.
    const frames: Uint8Array[] = [];
    c.filter = (p) => {
      if (p.type === PacketType.mcast && p.from === 1 && p.to === 3) frames.push(p.bytes);
      return p.type !== PacketType.token;
    };
    c.node(1).submit('g', payload(43), 'safe');
    c.run(40);
    c.filter = () => true;
    const frame = frames[0];
    expect(frame).toBeDefined();
    const altered = frame!.slice();
    altered[altered.length - 1]! ^= 0xff;
    c.inject(3, altered);
    c.run(2);
    expect(c.node(3).stats().packetsDropped['conflicting-frame']).toBe(1);
  });

  it('a token copied to a member that is not its addressee, or back to its sender, is dropped', () => {
    const c = formedRing([1, 2, 3]);
    const seen = recordTokens(c, 1, 2);
    c.run(100);
    const copy = encodePacket(seen.at(-1)!);
    const received3 = c.node(3).stats().tokensReceived;
    const received1 = c.node(1).stats().tokensReceived;
    c.inject(3, copy);
    c.inject(1, copy);
    c.run(1);
    expect(c.node(3).stats().packetsDropped['not-predecessor']).toBe(1);
    expect(c.node(1).stats().packetsDropped['not-predecessor']).toBe(1);
    // The ring goes on; the copies were not visits.
    expect(c.node(3).stats().tokensReceived - received3).toBeLessThanOrEqual(1);
    expect(c.node(1).stats().tokensReceived - received1).toBeLessThanOrEqual(1);
    c.run(2000);
    for (const id of [1, 2, 3]) expect(c.node(id).members).toEqual([1, 2, 3]);
  });

  it('a recovery copy outside Recovery is dropped, not delivered as a frame (fuzzer find)', () => {
    const c = formedRing([1, 2, 3]);
    c.run(200);
    const s = engineState(c.node(2));
    const seq = (s.ring.highSeqReceived + 1) >>> 0;
    const inner = { type: 'mcast' as const, sender: 1, ringId: s.ring.ringId, seq, originator: 1, order: 'agreed' as const, payload: new Uint8Array(0) };
    c.inject(2, encodePacket({ ...inner, payload: new Uint8Array(0), inner }));
    c.run(2);
    expect(c.node(2).stats().packetsDropped.state).toBeGreaterThanOrEqual(1);
    c.run(2000);
    for (const id of [1, 2, 3]) expect(c.node(id).members).toEqual([1, 2, 3]);
  });

  it("a token reaching the representative while it holds the idle ring's token is dropped (simulator find)", () => {
    const c = formedRing([1, 2, 3]);
    const seen = recordTokens(c, 3, 1);
    // Idle: the representative (1) holds the token after seqnoUnchangedConst quiet rotations.
    for (let ms = 0; ms < 3000 && engineState(c.node(1)).heldToken === null; ms++) c.run(1);
    expect(engineState(c.node(1)).heldToken).not.toBeNull();
    const last = seen.at(-1)!;
    c.inject(1, encodePacket({ ...last, tokenSeq: last.tokenSeq + 10 }));
    c.run(1);
    expect(c.node(1).stats().packetsDropped['bad-token']).toBe(1);
    c.run(2000);
    for (const id of [1, 2, 3]) expect(c.node(id).members).toEqual([1, 2, 3]);
  });

  it('a token whose fcc no member owns does not stall the ring (simulator find)', () => {
    const c = formedRing([1, 2, 3]);
    c.run(200);
    // Swap one token 1 -> 2 in flight for a copy whose fcc fills the window (200 by default).
    let swapped = false;
    c.filter = (p) => {
      if (swapped || p.type !== PacketType.token || p.from !== 1 || p.to !== 2) return true;
      const r = decodePacket(p.bytes);
      if (!r.ok || r.packet.type !== 'token') return true;
      swapped = true;
      c.inject(2, encodePacket({ ...r.packet, fcc: 400 }));
      return false;
    };
    for (let ms = 0; ms < 2000 && !swapped; ms += 10) c.run(10);
    expect(swapped).toBe(true);
    c.filter = () => true;
    const before = c.confs(1).length;
    for (let i = 0; i < 5; i++) c.node(3).submit('g', payload(200 + i), 'agreed');
    c.run(2000);
    expect(c.deliveries(1).filter((d) => d.sender === 3 && d.payload[0]! >= 200)).toHaveLength(5);
    expect(c.confs(1).length).toBe(before);
  });

  it('a token with an fcc above any window is dropped (it would overflow the uint32 field)', () => {
    const c = formedRing([1, 2, 3]);
    const seen = recordTokens(c, 1, 2);
    c.run(100);
    const last = seen.at(-1)!;
    c.node(2).submit('g', payload(77), 'agreed');
    c.inject(2, encodePacket({ ...last, fcc: 0xffffffff, backlog: 0xffffffff, tokenSeq: last.tokenSeq + 5 }));
    c.run(1);
    expect(c.node(2).stats().packetsDropped['bad-token']).toBe(1);
  });

  it('with clusterNodeIds, a node id outside the list takes no part', () => {
    const c = new MiniCluster([1, 2, 3, 99], { clusterNodeIds: [1, 2, 3] });
    c.configFor = (id) => (id === 99 ? { clusterNodeIds: [1, 2, 3, 99] } : {});
    c.startAll();
    c.run(3000);
    for (const id of [1, 2, 3]) {
      expect(c.node(id).members).toEqual([1, 2, 3]);
      for (const conf of c.confs(id)) expect(conf.members).not.toContain(99);
      expect(c.node(id).stats().packetsDropped['not-member']).toBeGreaterThan(0);
    }
    expect(c.node(99).members).toEqual([99]);
  });

  it('clusterNodeIds must list this node, without repeats', () => {
    expect(() => new MiniCluster([1], { clusterNodeIds: [2, 3] }).startNode(1)).toThrow(/include this node's id 1/);
    expect(() => new MiniCluster([1], { clusterNodeIds: [1, 1] }).startNode(1)).toThrow(/repeat/);
  });
});
