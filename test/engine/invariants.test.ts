/**
 * The invariants pass (engine/srp/invariants.ts) holds on live rings and catches a corrupted state:
 * each case below breaks one relation on a node of a formed 3-node ring and expects the pass to
 * name it. (Every MiniCluster and simulator run also checks it after every input.)
 */
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../engine/assert.js';
import { resolveEngineConfig } from '../../engine/config.js';
import { RingNode } from '../../engine/ring-node.js';
import type { SrpState } from '../../engine/srp/state.js';
import type { NodeId } from '../../engine/types.js';

interface InFlight {
  atMs: number;
  to: NodeId;
  bytes: Uint8Array;
}

/** Three RingNodes on a 1 ms FIFO network, run until they form one ring, with some traffic. */
function formedRing(): { nodes: Map<NodeId, RingNode>; run: (durationMs: number) => void } {
  const ids = [1, 2, 3];
  const nodes = new Map<NodeId, RingNode>();
  let nowMs = 0;
  let inFlight: InFlight[] = [];
  for (const id of ids) {
    nodes.set(
      id,
      new RingNode(resolveEngineConfig({ nodeId: id }), {
        send: (to, bytes) => {
          for (const t of to === 0 ? ids : [to]) inFlight.push({ atMs: nowMs + 1, to: t, bytes });
        },
        deliverFrame: () => {},
        configuration: () => {},
        storeRingSeq: () => {},
      }),
    );
  }
  const run = (durationMs: number): void => {
    const endMs = nowMs + durationMs;
    for (; nowMs <= endMs; nowMs++) {
      const due = inFlight.filter((p) => p.atMs <= nowMs);
      inFlight = inFlight.filter((p) => p.atMs > nowMs);
      for (const p of due) {
        const node = nodes.get(p.to) as RingNode;
        node.onPacket(nowMs, p.bytes);
        node.assertInvariants();
      }
      for (const node of nodes.values()) {
        if (node.nextTimerMs() > nowMs) continue;
        node.onTimer(nowMs);
        node.assertInvariants();
      }
    }
  };
  for (const node of nodes.values()) node.start(0);
  run(2000);
  for (const node of nodes.values()) {
    expect(node.state).toBe('operational');
    expect(node.members).toEqual(ids);
  }
  const node1 = nodes.get(1) as RingNode;
  node1.joinGroup('g');
  for (let i = 0; i < 20; i++) node1.submit('g', Uint8Array.of(i), i % 2 === 0 ? 'agreed' : 'safe');
  run(200);
  return { nodes, run };
}

function corrupted(corrupt: (s: SrpState) => void): () => void {
  const { nodes } = formedRing();
  const node = nodes.get(2) as RingNode;
  node.assertInvariants();
  corrupt(node.srp.state);
  return () => node.assertInvariants();
}

describe('state invariants', () => {
  it('hold on a formed ring that has delivered traffic', () => {
    const { nodes, run } = formedRing();
    run(500);
    for (const node of nodes.values()) {
      expect(node.srp.state.ring.aru).toBeGreaterThan(0);
      expect(() => node.assertInvariants()).not.toThrow();
    }
  });

  it('catch aru above highSeqReceived', () => {
    const check = corrupted((s) => {
      s.ring.aru = s.ring.highSeqReceived + 1;
    });
    expect(check).toThrow(AssertionError);
    expect(check).toThrow(/aru <= highSeqReceived/);
  });

  it('catch delivery beyond aru', () => {
    expect(corrupted((s) => (s.ring.highDelivered = s.ring.aru + 1))).toThrow(/highDelivered <= aru/);
  });

  it('catch an Operational node outside its own ring', () => {
    expect(corrupted((s) => s.procSet.delete(s.self))).toThrow(/I am in my proc set/);
  });

  it('catch a membership state that disagrees with what is set', () => {
    expect(corrupted((s) => (s.membership = 'recovery'))).toThrow(/a membership change is under way exactly outside Operational/);
    expect(corrupted((s) => (s.membership = 'gather'))).toThrow(/gatherSinceMs is set exactly in Gather/);
    expect(corrupted((s) => (s.heldToken = { bytes: new Uint8Array(0), to: 3 }))).toThrow(/representative/);
  });

  it('catch a fail set that is not within the proc set', () => {
    expect(corrupted((s) => s.failSet.add(99))).toThrow(/fail set ⊆ proc set/);
  });

  it('catch timers armed in the wrong state', () => {
    expect(corrupted((s) => s.timers.arm('join', s.nowMs, 50))).toThrow(/Operational: no Gather timers/);
    expect(corrupted((s) => s.timers.cancel('tokenLoss'))).toThrow(/token-loss timer runs/);
  });
});
