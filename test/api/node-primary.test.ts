/**
 * Membership and the primary component on the node (in-memory runtime): the 'members' event with
 * its cause, `node.primary` and its 'primary' event under the default rule (a majority of the
 * configured members), per-node votes and an application function, and the lock manager taking
 * the node's rule when it is given none of its own.
 */
import { describe, expect, it } from 'vitest';
import { createNodeWith } from '../../api/node.js';
import type { MembersChange, NodeConfiguration } from '../../api/events.js';
import { openLockManager } from '../../api/locks/lock-manager.js';
import { FakeCluster } from './fake-runtime.js';
import { useFakeNodes } from './fake-nodes.js';


function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

const { optionsOf, startNode } = useFakeNodes({ ignoreErrors: true });

describe('node membership and primary component', () => {
  it('default rule: primary once a majority of the configured members is present, with events', async () => {
    const cluster = new FakeCluster();
    const one = await startNode(cluster, 1);
    const primaries: [boolean, NodeConfiguration][] = [];
    const memberEvents: [readonly number[], MembersChange][] = [];
    one.on('primary', (p, c) => primaries.push([p, c]));
    one.on('members', (m, change) => memberEvents.push([m, change]));
    await one.waitForMembers([1]);
    expect(one.primary).toBe(false); // 1 of 3
    await startNode(cluster, 2);
    await one.waitForMembers(2);
    expect(one.primary).toBe(true); // 2 of 3
    expect(primaries.map(([p, c]) => [p, c.members])).toEqual([[true, [1, 2]]]);
    const joined = memberEvents.at(-1);
    expect(joined?.[0]).toEqual([1, 2]);
    expect(joined?.[1]).toMatchObject({ joined: [2], left: [] });
    expect(joined?.[1].cause).not.toBe('token-loss');

    await startNode(cluster, 3);
    await one.waitForMembers(3);
    cluster.crash(2);
    cluster.crash(3);
    const lost = new Promise<MembersChange>((resolve) => one.on('members', (m, c) => m.length === 1 && resolve(c)));
    const change = await lost;
    expect(change).toMatchObject({ left: [2, 3], joined: [], cause: 'token-loss' });
    expect(one.primary).toBe(false);
    expect(primaries.map(([p]) => p)).toEqual([true, false]);
    // The change to "not primary" comes with the transitional configuration already.
    expect(primaries[1]?.[1].kind).toBe('transitional');
  });

  it('per-node votes: node 1 with 3 of 5 votes is primary alone; node 2 with 1 vote is not', async () => {
    const cluster = new FakeCluster();
    const votes = { votes: { 1: 3, 2: 1, 3: 1 } };
    const one = await startNode(cluster, 1, { primary: votes });
    await one.waitForMembers([1]);
    expect(one.primary).toBe(true);
    expect(one.primaryRule).toMatchObject({ kind: 'majority' });
  });

  it('a function rule decides; one that throws counts as not primary', async () => {
    const cluster = new FakeCluster();
    const seen: (readonly number[])[] = [];
    const one = await startNode(cluster, 1, { primary: (members) => (seen.push(members), members.includes(2)) });
    await one.waitForMembers([1]);
    expect(one.primary).toBe(false);
    const two = await startNode(cluster, 2, { primary: () => { throw new Error('broken rule'); } });
    await one.waitForMembers([1, 2]);
    expect(one.primary).toBe(true);
    expect(seen.some((m) => m.includes(2))).toBe(true);
    expect(two.primary).toBe(false);
  });

  it('refuses a bad primary option with TOTEM_ERR_INVALID_OPTION naming the option', async () => {
    const cluster = new FakeCluster();
    for (const bad of [{ votes: { 1: -1 } }, { votes: { 1: 0 } }, { votes: 'all' }, { vote: [1] }, 42]) {
      await expect(createNodeWith(cluster.start, optionsOf(1, { primary: bad as never }))).rejects.toMatchObject({
        code: 'TOTEM_ERR_INVALID_OPTION',
        details: { option: 'primary' },
      });
    }
    expect(cluster.startCalls).toBe(0);
  });

  it('the lock manager without votes uses the node rule: it grants only with a majority of the configured votes', async () => {
    const cluster = new FakeCluster();
    // Node 1 holds 3 of 4 votes: its lock manager grants alone.
    const one = await startNode(cluster, 1, { primary: { votes: { 1: 3, 2: 1 } } });
    await one.waitForMembers([1]);
    const locks = await openLockManager(one);
    await settle();
    expect(locks.primary).toBe(true);
    const h = await locks.lockspace('ls').lock('r', 'EX', { failIfNotPrimary: true });
    expect(h.mode).toBe('EX');
    await locks.close();

    // Default rule, 1 of 3 configured members: not primary, a fail-fast request is refused.
    const cluster2 = new FakeCluster();
    const lone = await startNode(cluster2, 1);
    await lone.waitForMembers([1]);
    const lonely = await openLockManager(lone);
    await settle();
    expect(lonely.primary).toBe(false);
    await expect(lonely.lockspace('ls').lock('r', 'EX', { failIfNotPrimary: true })).rejects.toMatchObject({ code: 'TOTEM_ERR_LOCK_NOT_PRIMARY' });
    await lonely.close();
  });

  it('lock latencies: acquire, blocking-to-release and recovery are recorded', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1, { metrics: { host: '127.0.0.1', port: 0 } });
    const b = await startNode(cluster, 2);
    await a.waitForMembers(2);
    const la = await openLockManager(a);
    const lb = await openLockManager(b);
    for (let i = 0; i < 100 && !(la.primary && lb.primary && la.members.length === 2); i++) await settle();
    expect(la.primary && lb.primary).toBe(true);
    const h = await la.lockspace('ls').lock('r', 'EX');
    const waiting = lb.lockspace('ls').lock('r', 'EX');
    await new Promise<void>((resolve) => h.once('blocking', () => resolve()));
    await h.unlock();
    await (await waiting).unlock();
    const lat = la.latencies();
    expect(lat.acquireUs.count).toBe(1);
    expect(lat.blockingToReleaseUs.count).toBe(1);
    expect(lat.recoveryUs.count).toBeGreaterThanOrEqual(1);
    const address = a.metricsAddress;
    const text = await (await fetch(`http://${address?.host}:${address?.port}/metrics`)).text();
    expect(text).toMatch(/totem_lock_acquire_latency_seconds_count\{node_id="1"\} 1\n/);
    expect(text).toMatch(/totem_lock_blocking_to_release_seconds_count\{node_id="1"\} 1\n/);
    expect(text).toMatch(/totem_lock_recovery_seconds_count/);
    expect(lb.latencies({ reset: true }).acquireUs.count).toBe(1);
    expect(lb.latencies().acquireUs.count).toBe(0);
  });
});
