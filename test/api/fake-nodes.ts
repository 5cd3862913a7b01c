/**
 * Nodes on the fake runtime (fake-runtime.ts) for API tests: `useFakeNodes()` registers the close
 * of every node it started after each test; nodes are 1..3 of a 3-member list at 10.0.0.N:5405.
 */
import { afterEach } from 'vitest';
import { createNodeWith } from '../../api/node.js';
import type { CreateNodeOptions, EvsNode } from '../../api/node.js';
import type { Logger } from '../../workers/logger.js';
import type { FakeCluster } from './fake-runtime.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

export interface FakeNodes {
  optionsOf(nodeId: number, extra?: Partial<CreateNodeOptions>): CreateNodeOptions;
  startNode(cluster: FakeCluster, nodeId: number, extra?: Partial<CreateNodeOptions>): Promise<EvsNode>;
}

export function useFakeNodes(options: { logger?: Logger; ignoreErrors?: boolean } = {}): FakeNodes {
  const started: EvsNode[] = [];
  afterEach(async () => {
    for (const node of started.splice(0)) await node.close({ drainTimeoutMs: 0 }).catch(() => undefined);
  });
  const optionsOf = (nodeId: number, extra: Partial<CreateNodeOptions> = {}): CreateNodeOptions => ({
    nodeId,
    logger: options.logger ?? quiet,
    bind: `10.0.0.${nodeId}:5405`,
    members: [1, 2, 3].map((id) => ({ nodeId: id, address: `10.0.0.${id}:5405` })),
    // A fake runtime: nothing is sent, but the addresses are off loopback and there is no key.
    insecure: true,
    ...extra,
  });
  return {
    optionsOf,
    async startNode(cluster, nodeId, extra = {}) {
      const node = await createNodeWith(cluster.start, optionsOf(nodeId, extra));
      // Tests that crash nodes on purpose: their fatal 'error' event would otherwise throw.
      if (options.ignoreErrors === true) node.on('error', () => undefined);
      started.push(node);
      return node;
    },
  };
}
