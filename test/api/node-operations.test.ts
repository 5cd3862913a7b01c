/**
 * What an operator and a careful caller meet: waiting for the cluster to form, strict option
 * objects, stats that serialise, and the metrics endpoint of a node (on the in-memory runtime).
 */
import { describe, expect, it } from 'vitest';
import { createNodeWith } from '../../api/node.js';
import type { TotemError } from '../../workers/errors.js';
import { FakeCluster } from './fake-runtime.js';
import { useFakeNodes } from './fake-nodes.js';

const { optionsOf, startNode } = useFakeNodes();


async function rejection(promise: Promise<unknown>): Promise<TotemError> {
  try {
    await promise;
  } catch (err) {
    return err as TotemError;
  }
  throw new Error('expected a rejection');
}

describe('waitForMembers', () => {
  it('resolves once a regular configuration has n members, or all of the ids', async () => {
    const cluster = new FakeCluster();
    const one = await startNode(cluster, 1);
    const byCount = one.waitForMembers(3);
    const byIds = one.waitForMembers([1, 3]);
    let settled = false;
    void byCount.then(() => (settled = true));
    await startNode(cluster, 2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    await startNode(cluster, 3);
    expect(await byCount).toEqual([1, 2, 3]);
    expect(await byIds).toEqual([1, 2, 3]);
    expect(await one.waitForMembers(2)).toEqual([1, 2, 3]); // already true: at once
  });

  it('rejects on abort and on close, and refuses a bad target', async () => {
    const cluster = new FakeCluster();
    const node = await startNode(cluster, 1);
    const controller = new AbortController();
    const aborted = node.waitForMembers(3, { signal: controller.signal });
    controller.abort();
    expect((await rejection(aborted)).code).toBe('TOTEM_ERR_ABORTED');
    const closed = node.waitForMembers([2]);
    await node.close({ drainTimeoutMs: 0 });
    expect((await rejection(closed)).code).toBe('TOTEM_ERR_CLOSED');
    expect(() => node.waitForMembers(0)).toThrow(/at least 1/);
  });
});

describe('strict options', () => {
  it('an unknown key in join, send, trySend, iterators and close is an error with a suggestion', async () => {
    const cluster = new FakeCluster();
    const node = await startNode(cluster, 1);
    const joinError = await rejection(node.join('g', { encodng: 'msgpack' } as never));
    expect(joinError).toBeInstanceOf(TypeError);
    expect(joinError.message).toContain("unknown option 'encodng' (did you mean 'encoding'?)");
    const group = await node.join('g');
    expect((await rejection(group.send(new Uint8Array(1), { ordr: 'safe' } as never))).message).toContain("did you mean 'order'?");
    expect(() => group.trySend(new Uint8Array(1), { signal: undefined } as never)).toThrow(/unknown option 'signal'/);
    expect(() => group.messages({ singal: undefined } as never)).toThrow(/did you mean 'signal'/);
    expect(() => node.configurations({ x: 1 } as never)).toThrow(/unknown option 'x'/);
    expect((await rejection(node.close({ drainTimeout: 5 } as never))).message).toContain("did you mean 'drainTimeoutMs'?");
  });
});

describe('stats', () => {
  it('JSON.stringify works on it; the ring seq is written as a decimal string', async () => {
    const cluster = new FakeCluster();
    const node = await startNode(cluster, 1);
    await node.waitForMembers(1);
    const stats = await node.stats();
    expect(typeof stats.engine.ringId.seq).toBe('bigint');
    const parsed = JSON.parse(JSON.stringify(stats)) as { engine: { ringId: { rep: number; seq: string } } };
    expect(parsed.engine.ringId).toEqual({ rep: stats.engine.ringId.rep, seq: String(stats.engine.ringId.seq) });
  });
});

describe('metrics option', () => {
  it('serves /metrics while the node runs and stops with close()', async () => {
    const cluster = new FakeCluster();
    const node = await startNode(cluster, 1, { metrics: { host: '127.0.0.1', port: 0 } });
    const at = node.metricsAddress;
    expect(at).not.toBeNull();
    const text = await (await fetch(`http://127.0.0.1:${at?.port}/metrics`)).text();
    expect(text).toContain('totem_ring_state{state="operational",node_id="1"} 1');
    await node.close({ drainTimeoutMs: 0 });
    expect(node.metricsAddress).toBeNull();
    await expect(fetch(`http://127.0.0.1:${at?.port}/metrics`)).rejects.toThrow();
  });

  it('a bad metrics option is TOTEM_ERR_INVALID_OPTION before anything starts', async () => {
    const cluster = new FakeCluster();
    const err = await rejection(createNodeWith(cluster.start, optionsOf(1, { metrics: { host: 'localhost', port: 9464 } })));
    expect(err.code).toBe('TOTEM_ERR_INVALID_OPTION');
    expect(err.message).toContain('IP address literal');
    expect(cluster.startCalls).toBe(0);
  });
});
