/**
 * The ring-state event on the real runtime: a node alone in its ring is operational; when a
 * second node starts, the first re-forms its ring (gather, ... , operational again) and says so,
 * in order with the configuration that ends the change.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createNode, type EvsNode, type RingState } from '../../api/index.js';
import { freeUdpPorts } from '../processes/node-cluster.js';
import { waitFor } from '../workers/fixtures/runtime-cluster.js';

const nodes: EvsNode[] = [];
afterAll(async () => {
  for (const n of nodes) if (n.state !== 'closed') await n.close({ drainTimeoutMs: 0 }).catch(() => {});
});

describe('ringState', () => {
  it('reports the ring re-forming when a member joins, and operational once the new ring is installed', { timeout: 60_000 }, async () => {
    const ports = await freeUdpPorts(2);
    const members = ports.map((port, i) => ({ nodeId: i + 1, address: `127.0.0.1:${port}` }));
    const first = await createNode({ nodeId: 1, bind: members[0]?.address as string, members, tokenTimeoutMs: 1000, logLevel: 'error' });
    nodes.push(first);
    await first.waitForMembers(1, { signal: AbortSignal.timeout(20_000) });
    await waitFor(() => first.ringState === 'operational', 'node 1 operational alone', 20_000);

    const seen: string[] = [];
    first.on('ringState', (state: RingState) => seen.push(`state ${state}`));
    // The relay hands the first listener the configurations it held: only those from now on count.
    let counting = false;
    first.on('configuration', (c) => counting && seen.push(`${c.kind} ${c.members.join(',')}`));
    await new Promise((resolve) => setImmediate(resolve));
    counting = true;
    const second = await createNode({ nodeId: 2, bind: members[1]?.address as string, members, tokenTimeoutMs: 1000, logLevel: 'error' });
    nodes.push(second);
    await first.waitForMembers(2, { signal: AbortSignal.timeout(20_000) });
    await waitFor(() => first.ringState === 'operational', 'node 1 operational again', 20_000);

    expect(seen[0]).toBe('state gather');
    const regular = seen.indexOf('regular 1,2');
    expect(regular).toBeGreaterThan(0);
    expect(seen.slice(regular + 1)).toContain('state operational');
    expect(seen.at(-1)).toBe('state operational');
  });
});
