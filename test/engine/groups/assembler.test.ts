import { describe, expect, it } from 'vitest';
import { Assembler } from '../../../engine/groups/assembler.js';
import { Packer } from '../../../engine/groups/packer.js';
import type {
  AppDelivery,
  ConfigurationChange,
  DeliveredFrame,
  GroupEvent,
  Order,
  NodeId,
  RingId,
} from '../../../engine/types.js';

const payloadBytesMax = 1000;
const ringA: RingId = { rep: 1, seq: 4n };
const ringB: RingId = { rep: 1, seq: 8n };
const ringC: RingId = { rep: 1, seq: 12n };

type Seen =
  | { t: 'deliver'; d: AppDelivery }
  | { t: 'group'; e: GroupEvent }
  | { t: 'conf'; c: ConfigurationChange };

function regular(ringId: RingId, members: NodeId[]): ConfigurationChange {
  return { kind: 'regular', ringId, members, joined: [], left: [], cause: 'join', causeNodes: [] };
}

function transitional(ringId: RingId, members: NodeId[]): ConfigurationChange {
  return { kind: 'transitional', ringId, members, joined: [], left: [], cause: 'token-loss', causeNodes: [] };
}

/** Node `nodeId`'s assembler with a log of everything it reported, in order. */
function node(nodeId: NodeId): { a: Assembler; seen: Seen[] } {
  const seen: Seen[] = [];
  const a = new Assembler(
    { nodeId, messageBytesMax: 1024 * 1024 },
    {
      deliver: (d) => seen.push({ t: 'deliver', d }),
      groupEvent: (e) => seen.push({ t: 'group', e }),
      configuration: (c) => seen.push({ t: 'conf', c }),
    },
  );
  return { a, seen };
}

/** Senders: one Packer per node id. */
function sender(nodeId: NodeId): Packer {
  return new Packer({
    nodeId,
    incarnation: 1000 + nodeId,
    payloadBytesMax,
    messageBytesMax: 1024 * 1024,
    sendQueueBytesMax: 4 * 1024 * 1024,
  });
}

let seqNext = 0;

/** Every frame the packer has, as delivered frames of `originator`. */
function framesOf(p: Packer, originator: NodeId, ringId: RingId, inTransitional = false): DeliveredFrame[] {
  const out: DeliveredFrame[] = [];
  for (let f = p.nextFrame(); f !== null; f = p.nextFrame()) {
    out.push({ ringId, seq: ++seqNext, originator, transitional: inTransitional, ...f });
  }
  return out;
}

function feed(a: Assembler, frames: DeliveredFrame[]): void {
  for (const f of frames) a.onFrame(f);
}

/** Node 1 in group g, in ring A with node 2, its barrier passed. */
function inGroupG(): { a: Assembler; seen: Seen[] } {
  const n = node(1);
  n.a.onConfiguration(regular(ringA, [1, 2]));
  const p1 = sender(1);
  p1.submitJoin('g');
  feed(n.a, framesOf(p1, 1, ringA));
  settle(n.a, ringA, [1, 2]);
  return n;
}

/** The ends of the announces of `ids` (members in no group), in that order. */
function settle(a: Assembler, ringId: RingId, ids: NodeId[]): void {
  for (const id of ids) {
    const p = sender(id);
    p.announceGroups([]);
    feed(a, framesOf(p, id, ringId));
  }
}

const groupEvents = (seen: Seen[]): GroupEvent[] =>
  seen.flatMap((s) => (s.t === 'group' ? [s.e] : []));
const deliveries = (seen: Seen[]): AppDelivery[] =>
  seen.flatMap((s) => (s.t === 'deliver' ? [s.d] : []));

describe('Assembler: partial messages at configuration changes', () => {
  it('drops every partial message at a regular configuration; a stray continuation is counted', () => {
    const { a, seen } = node(2);
    a.onConfiguration(regular(ringA, [1, 2]));
    const p = sender(1);
    p.submit('g', new Uint8Array(3000).fill(7), 'agreed');
    const frames = framesOf(p, 1, ringA);
    expect(frames.length).toBe(4);
    feed(a, frames.slice(0, 2));
    a.onConfiguration(transitional(ringB, [1, 2]));
    a.onConfiguration(regular(ringB, [1, 2]));
    feed(a, frames.slice(2).map((f) => ({ ...f, ringId: ringB })));
    expect(deliveries(seen)).toEqual([]);
    expect(a.stats.partialsDropped).toBe(1);
    expect(a.stats.fragmentErrors).toBe(2);
  });

  it('completes in the transitional configuration a message of a sender that left', () => {
    const { a, seen } = node(2);
    a.onConfiguration(regular(ringA, [1, 2, 3]));
    const p = sender(3);
    p.submit('g', new Uint8Array(2500).fill(9), 'safe');
    const frames = framesOf(p, 3, ringA);
    expect(frames.length).toBe(3);
    feed(a, frames.slice(0, 1));
    a.onConfiguration(transitional(ringB, [1, 2]));
    feed(a, frames.slice(1).map((f) => ({ ...f, transitional: true })));
    const [d] = deliveries(seen);
    expect(d?.payload).toEqual(new Uint8Array(2500).fill(9));
    expect(d?.transitional).toBe(true);
    expect(d?.ringId).toEqual(ringB);
    expect(d?.sender).toBe(3);
    expect(d?.incarnation).toBe(1003);
    expect(d?.order).toBe('safe');
  });

  it('drops a partial message whose sender left and whose rest never came', () => {
    const { a, seen } = node(2);
    a.onConfiguration(regular(ringA, [1, 2, 3]));
    const p = sender(3);
    p.submit('g', new Uint8Array(2500), 'agreed');
    feed(a, framesOf(p, 3, ringA).slice(0, 2));
    a.onConfiguration(transitional(ringB, [1, 2]));
    a.onConfiguration(regular(ringB, [1, 2]));
    expect(deliveries(seen)).toEqual([]);
    expect(a.stats.partialsDropped).toBe(1);
  });

  it('counts a fragment that does not continue the partial message and drops the partial', () => {
    const { a, seen } = node(2);
    a.onConfiguration(regular(ringA, [1, 2]));
    const p = sender(1);
    p.submit('g', new Uint8Array(2500), 'agreed');
    const x = framesOf(p, 1, ringA);
    p.submit('g', new Uint8Array(2500), 'agreed');
    const y = framesOf(p, 1, ringA);
    // first of message 1, then the middle of message 2: a counter mismatch.
    feed(a, [x[0] as DeliveredFrame, y[1] as DeliveredFrame, x[2] as DeliveredFrame]);
    expect(deliveries(seen)).toEqual([]);
    expect(a.stats.fragmentErrors).toBe(2);
    // A last fragment delivered under another guarantee is refused too.
    feed(a, x.slice(0, 2));
    feed(a, [{ ...(x[2] as DeliveredFrame), order: 'safe' }]);
    expect(deliveries(seen)).toEqual([]);
    feed(a, x);
    expect(deliveries(seen).map((d) => d.counter)).toEqual([1]);
  });
});

describe('Assembler: group membership', () => {
  it('reports the configuration before the group events it causes', () => {
    const { a, seen } = inGroupG();
    seen.length = 0;
    a.onConfiguration(transitional(ringB, [1]));
    expect(seen.map((s) => s.t)).toEqual(['conf', 'group']);
    a.onConfiguration(regular(ringB, [1, 3]));
    expect(seen.map((s) => s.t)).toEqual(['conf', 'group', 'conf']);
    settle(a, ringB, [1, 3]);
    expect(seen.map((s) => s.t)).toEqual(['conf', 'group', 'conf', 'group']);
  });

  it('follows joins, leaves and announces, and restricts groups at configurations', () => {
    const { a, seen } = node(1);
    a.onConfiguration(transitional(ringA, []));
    a.onConfiguration(regular(ringA, [1, 2, 3]));
    settle(a, ringA, [3, 1, 2]);
    expect(groupEvents(seen)).toEqual([]);
    const [p1, p2, p3] = [sender(1), sender(2), sender(3)];
    p2.submitJoin('g');
    p3.submitJoin('g');
    p3.submitJoin('h');
    p3.submitJoin('h'); // a second join changes nothing
    p2.submitLeave('nothing');
    p1.submitJoin('h');
    feed(a, [...framesOf(p2, 2, ringA), ...framesOf(p3, 3, ringA), ...framesOf(p1, 1, ringA)]);
    expect(groupEvents(seen)).toEqual([
      { group: 'g', kind: 'regular', ringId: ringA, members: [2], joined: [2], left: [], cause: 'join' },
      { group: 'g', kind: 'regular', ringId: ringA, members: [2, 3], joined: [3], left: [], cause: 'join' },
      { group: 'h', kind: 'regular', ringId: ringA, members: [3], joined: [3], left: [], cause: 'join' },
      { group: 'h', kind: 'regular', ringId: ringA, members: [1, 3], joined: [1], left: [], cause: 'join' },
    ]);
    expect(a.localGroups()).toEqual(['h']);

    // Node 3 goes: both groups lose it at the cut; the regular configuration reports the group of
    // this node once every member's announce has ended (nothing else changed).
    seen.length = 0;
    a.onConfiguration(transitional(ringB, [1, 2]));
    a.onConfiguration(regular(ringB, [1, 2, 4]));
    expect(groupEvents(seen)).toEqual([
      { group: 'g', kind: 'transitional', ringId: ringB, members: [2], joined: [], left: [3], cause: 'configuration' },
      { group: 'h', kind: 'transitional', ringId: ringB, members: [1], joined: [], left: [3], cause: 'configuration' },
    ]);

    // Node 4 merged in: its announce makes it a member of its groups; node 2 leaves g. All of it is
    // held until the last announce ends, then reported as one event per group.
    seen.length = 0;
    const p4 = sender(4);
    p4.announceGroups(['g', 'h', 'k']);
    p2.submitLeave('g');
    p2.announceGroups(p2.ownGroups());
    p1.announceGroups(p1.ownGroups());
    feed(a, [...framesOf(p4, 4, ringB), ...framesOf(p2, 2, ringB)]);
    expect(groupEvents(seen)).toEqual([]);
    expect(a.groupMembers('g')).toEqual([4]);
    feed(a, framesOf(p1, 1, ringB));
    expect(groupEvents(seen).map((e) => [e.group, e.kind, e.members, e.joined, e.left, e.cause])).toEqual([
      ['g', 'regular', [4], [4], [2], 'configuration'],
      ['h', 'regular', [1, 4], [4], [], 'configuration'],
      ['k', 'regular', [4], [4], [], 'configuration'],
    ]);
    expect(a.groupNames()).toEqual(['g', 'h', 'k']);
  });

  it('two sides of a merge report the same views at the same frame', () => {
    // Node 1 comes from ring A with node 2 (both in g), node 3 from ring B alone (in g and h).
    const side1 = node(1);
    side1.a.onConfiguration(regular(ringA, [1, 2]));
    settle(side1.a, ringA, [1, 2]);
    const side3 = node(3);
    side3.a.onConfiguration(regular(ringB, [3]));
    settle(side3.a, ringB, [3]);
    const [p1, p2, p3] = [sender(1), sender(2), sender(3)];
    p1.submitJoin('g');
    p2.submitJoin('g');
    feed(side1.a, [...framesOf(p1, 1, ringA), ...framesOf(p2, 2, ringA)]);
    p3.submitJoin('g');
    p3.submitJoin('h');
    feed(side3.a, framesOf(p3, 3, ringB));
    // Ring C: one stream for both, announces interleaved with a message and a join of node 2.
    for (const p of [p1, p2, p3]) p.announceGroups(p.ownGroups());
    const a1 = framesOf(p1, 1, ringC);
    const a3 = framesOf(p3, 3, ringC);
    p2.submit('g', new Uint8Array([7]), 'agreed');
    p2.submitJoin('h');
    const a2 = framesOf(p2, 2, ringC);
    const stream = [...a3, ...a1, ...a2];
    const reported = (side: { a: Assembler; seen: Seen[] }): unknown[] => {
      side.seen.length = 0;
      side.a.onConfiguration(transitional(ringC, side === side1 ? [1, 2] : [3]));
      side.a.onConfiguration({ ...regular(ringC, [1, 2, 3]), joined: side === side1 ? [3] : [1, 2] });
      const out: unknown[] = [];
      stream.forEach((f, i) => {
        const before = groupEvents(side.seen).length;
        side.a.onFrame(f);
        for (const e of groupEvents(side.seen).slice(before)) out.push([i, e.group, e.members, e.cause]);
      });
      return out;
    };
    const r1 = reported(side1);
    const r3 = reported(side3);
    expect(r1).toEqual(r3);
    // The barrier passes at node 2's announce end; its join of h, in the same frame, follows.
    expect(r1).toEqual([
      [stream.length - 1, 'g', [1, 2, 3], 'merge'],
      [stream.length - 1, 'h', [3], 'merge'],
      [stream.length - 1, 'h', [2, 3], 'join'],
    ]);
  });

  it('says merge after a ring that brought members, and after one whose barrier was not passed', () => {
    const { a, seen } = inGroupG();
    const causes = (): string[] => groupEvents(seen).filter((e) => e.kind === 'regular').map((e) => e.cause);
    // Node 2 crashes: nothing merged.
    seen.length = 0;
    a.onConfiguration(transitional(ringB, [1]));
    a.onConfiguration(regular(ringB, [1]));
    settle(a, ringB, [1]);
    expect(causes()).toEqual(['configuration']);
    // Node 3 merges in, and the ring breaks before its announce ends: the next ring, with nobody
    // new, still says merge.
    seen.length = 0;
    a.onConfiguration(transitional(ringC, [1]));
    a.onConfiguration({ ...regular(ringC, [1, 3]), joined: [3] });
    settle(a, ringC, [1]);
    expect(causes()).toEqual([]);
    const ringD: RingId = { rep: 1, seq: 16n };
    a.onConfiguration(transitional(ringD, [1, 3]));
    a.onConfiguration(regular(ringD, [1, 3]));
    settle(a, ringD, [3, 1]);
    expect(causes()).toEqual(['merge']);
  });

  it('reports this node\'s own join at once while the views are held', () => {
    const { a, seen } = node(2);
    a.onConfiguration(regular(ringA, [1, 2]));
    const [p1, p2] = [sender(1), sender(2)];
    p1.submitJoin('g');
    p2.submitJoin('g');
    feed(a, [...framesOf(p1, 1, ringA), ...framesOf(p2, 2, ringA)]);
    expect(groupEvents(seen).map((e) => [e.members, e.joined, e.cause])).toEqual([[[1, 2], [2], 'join']]);
    settle(a, ringA, [1, 2]);
    expect(groupEvents(seen).map((e) => [e.members, e.joined, e.cause]).slice(1)).toEqual([[[1, 2], [], 'configuration']]);
  });

  it('ignores a join delivered in a transitional configuration from a sender that left', () => {
    const { a, seen } = node(1);
    a.onConfiguration(regular(ringA, [1, 2, 3]));
    const p3 = sender(3);
    p3.submitJoin('g');
    p3.submit('g', new Uint8Array(4), 'agreed');
    const frames = framesOf(p3, 3, ringA, true);
    a.onConfiguration(transitional(ringB, [1, 2]));
    feed(a, frames);
    expect(groupEvents(seen)).toEqual([]);
    expect(a.groupMembers('g')).toEqual([]);
    // Its message is still delivered (the trace records it), to no local member.
    expect(deliveries(seen).map((d) => [d.sender, d.local, d.transitional])).toEqual([[3, false, true]]);
  });

  it('sets `local` from this node\'s own join until its own leave is delivered', () => {
    const { a, seen } = node(1);
    a.onConfiguration(regular(ringA, [1, 2]));
    const [p1, p2] = [sender(1), sender(2)];
    const send = (from: Packer, id: NodeId, n: number): void => {
      for (let i = 0; i < n; i++) from.submit('g', new Uint8Array([i]), 'agreed');
      feed(a, framesOf(from, id, ringA));
    };
    send(p2, 2, 1);
    p1.submitJoin('g');
    send(p1, 1, 1); // the join and the message share a frame: the join comes first
    send(p2, 2, 1);
    p1.submitLeave('g');
    send(p2, 2, 0);
    feed(a, framesOf(p1, 1, ringA));
    send(p2, 2, 1);
    expect(deliveries(seen).map((d) => [d.sender, d.counter, d.local])).toEqual([
      [2, 1, false],
      [1, 1, true],
      [2, 2, true],
      [2, 3, false],
    ]);
    expect(a.localGroups()).toEqual([]);
  });

  it('gives every delivery the current ring id and transitional flag', () => {
    const { a, seen } = node(2);
    a.onConfiguration(regular(ringA, [1, 2]));
    const p = sender(1);
    p.submit('g', new Uint8Array(1), 'agreed');
    feed(a, framesOf(p, 1, ringA));
    p.submit('g', new Uint8Array(1), 'safe');
    const late = framesOf(p, 1, ringA, true);
    a.onConfiguration(transitional(ringC, [1, 2]));
    feed(a, late);
    const got = deliveries(seen).map((d) => [d.counter, d.ringId, d.transitional, d.order as Order]);
    expect(got).toEqual([
      [1, ringA, false, 'agreed'],
      [2, ringC, true, 'safe'],
    ]);
  });
});
