/**
 * Real nodes (threaded runtime, loopback UDP) in this process for API tests: `useRealNodes()`
 * registers the close of every node it started after the file's tests; `startRing(count)` starts
 * `count` members on free ports and resolves once every one of them sees the whole ring.
 */
import { afterAll } from 'vitest';
import { createNode, type CreateNodeOptions, type EvsNode } from '../../api/index.js';
import { freeUdpPorts } from '../processes/node-cluster.js';
import { waitFor } from '../workers/fixtures/runtime-cluster.js';

export interface RealNodes {
  /** Starts `count` members with ids 1..count; `options` is added to each node's options. */
  startRing(count: number, options?: Partial<CreateNodeOptions>): Promise<EvsNode[]>;
}

export function useRealNodes(): RealNodes {
  const nodes: EvsNode[] = [];
  afterAll(async () => {
    for (const n of nodes) if (n.state !== 'closed') await n.close({ drainTimeoutMs: 0 }).catch(() => {});
  });
  return {
    async startRing(count, options = {}) {
      const ports = await freeUdpPorts(count);
      const members = ports.map((port, i) => ({ nodeId: i + 1, address: `127.0.0.1:${port}` }));
      const ring: EvsNode[] = [];
      for (const m of members) {
        const node = await createNode({ nodeId: m.nodeId, bind: m.address, members, tokenTimeoutMs: 500, logLevel: 'error', ...options });
        // Tests observe errors through the calls they make; an unheard 'error' event would throw.
        node.on('error', () => {});
        nodes.push(node);
        ring.push(node);
      }
      await waitFor(() => ring.every((n) => n.members.length === count), `a ${count}-member ring`, 20_000);
      return ring;
    },
  };
}
