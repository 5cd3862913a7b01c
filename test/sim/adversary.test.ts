/**
 * The adversary's model of the runtime's authentication (adversary.ts): in a keyed seed every
 * packet a node receives is one some node sent, to that node or to everyone; in an unkeyed seed
 * forged and misdirected packets arrive too, and the engines survive them.
 */
import { describe, expect, it } from 'vitest';
import { TotemNode } from '../../engine/node.js';
import type { NodeId } from '../../engine/types.js';
import { runSeed, type SeedResult } from './run-seed.js';

interface Seen {
  /** Packets whose destination set includes each node (sent to it, or to everyone). */
  sentTo: Map<NodeId, Set<Uint8Array>>;
  received: number;
  foreign: number;
}

function run(seed: number): { result: SeedResult; seen: Seen } {
  const seen: Seen = { sentTo: new Map(), received: 0, foreign: 0 };
  let ids: NodeId[] = [];
  const result = runSeed({
    seed,
    nodes: 3,
    faults: 'hostile',
    safetyMs: 3000,
    convergenceMsMax: 30_000,
    nodeFactory: (config, host) => {
      if (!ids.includes(config.nodeId)) ids = [...ids, config.nodeId];
      const node = new TotemNode(config, {
        ...host,
        send: (to, bytes, selfCopy) => {
          for (const id of to === 0 ? ids : [to]) {
            if (to === 0 && id === config.nodeId && !selfCopy) continue;
            const set = seen.sentTo.get(id) ?? new Set();
            set.add(bytes);
            seen.sentTo.set(id, set);
          }
          host.send(to, bytes, selfCopy);
        },
      });
      const onPacket = node.onPacket.bind(node);
      node.onPacket = (nowMs, bytes) => {
        seen.received++;
        if (!(seen.sentTo.get(config.nodeId)?.has(bytes) ?? false)) seen.foreign++;
        onPacket(nowMs, bytes);
      };
      return node;
    },
  });
  return { result, seen };
}

describe('simulator adversary', () => {
  it('keyed: only genuine packets, each at a node of its destination set; unkeyed: others too, and the engines survive', () => {
    const byMode = new Map<string, { result: SeedResult; seen: Seen }>();
    for (let seed = 1; seed <= 20 && byMode.size < 2; seed++) {
      const r = run(seed);
      if (!byMode.has(r.result.adversary)) byMode.set(r.result.adversary, r);
    }
    const keyed = byMode.get('keyed');
    const unkeyed = byMode.get('unkeyed');
    expect(keyed).toBeDefined();
    expect(unkeyed).toBeDefined();
    expect(keyed!.result.packetsInjected).toBeGreaterThan(0);
    expect(keyed!.seen.foreign).toBe(0);
    expect(keyed!.result.check).toBe('evs');
    expect(keyed!.result.violations).toEqual([]);
    expect(unkeyed!.seen.foreign).toBeGreaterThan(0);
    expect(unkeyed!.result.check).toBe('survival');
    expect(unkeyed!.result.violations).toEqual([]);
  });
});
