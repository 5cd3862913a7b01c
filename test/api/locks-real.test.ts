/**
 * The lock manager on the real threaded runtime over loopback UDP: three nodes in this process
 * open it, contend for one resource, try-lock, convert, pass a value block, meet at a barrier,
 * and a holder that leaves has its lock granted to the waiter on the survivors.
 */
import { describe, expect, it } from 'vitest';
import { openLockManager, type LockManager } from '../../api/locks/lock-manager.js';
import { useRealNodes } from './real-nodes.js';
import { waitFor } from '../workers/fixtures/runtime-cluster.js';

const real = useRealNodes();

describe('lock manager on real workers', () => {
  it('grants in order with growing fencing tokens, tries, converts, passes the value block, purges a departed holder', { timeout: 90_000 }, async () => {
    const nodes = await real.startRing(3);
    const managers: LockManager[] = [];
    for (const n of nodes) managers.push(await openLockManager(n, { votes: [1, 2, 3] }));
    await waitFor(() => managers.every((m) => m.members.length === 3 && m.primary), 'three primary lock managers', 20_000);
    const [m1, m2, m3] = managers as [LockManager, LockManager, LockManager];
    const ls1 = m1.lockspace('app');
    const ls2 = m2.lockspace('app');
    const ls3 = m3.lockspace('app');

    const h1 = await ls1.lock('db', 'EX');
    const blocked: string[] = [];
    h1.on('blocking', (mode) => blocked.push(mode));
    await expect(ls2.lock('db', 'PR', { noQueue: true })).rejects.toMatchObject({ code: 'TOTEM_ERR_LOCK_WOULD_BLOCK' });
    await expect(ls2.lock('db', 'PR', { timeoutMs: 50 })).rejects.toMatchObject({ code: 'TOTEM_ERR_LOCK_TIMEOUT' });
    const waiting = ls2.lock('db', 'PR');
    await waitFor(() => blocked.includes('PR'), 'the holder hears of the PR waiter', 10_000);
    const value = new Uint8Array(32).fill(42);
    await h1.convert('NL', { valueBlock: value });
    const h2 = await waiting;
    expect(h2.fencingToken > h1.fencingToken).toBe(true);
    expect(h2.valueBlock).toEqual(value);
    const h3 = await ls3.lock('db', 'PR');
    expect(h3.fencingToken > h2.fencingToken).toBe(true);

    // Barrier: completes on all three.
    await Promise.all([ls1.barrier('ready'), ls2.barrier('ready'), ls3.barrier('ready')]);

    // Node 3 waits for EX behind node 2's PR and node 3's own PR is released first; node 2 leaves:
    // its PR is purged at the cut and node 3's EX is granted on the survivors.
    await h3.unlock();
    const exWait = ls3.lock('db', 'EX');
    const leftAtMs = performance.now();
    await managers[1]?.close();
    const ex = await exWait;
    const grantedAfterMs = performance.now() - leftAtMs;
    expect(ex.fencingToken > h2.fencingToken).toBe(true);
    expect(h2.signal.aborted).toBe(true);
    const holdersAt1 = (): string[] | undefined => m1.dump('app')?.resources.find((r) => r.name === 'db')?.holders.map((h) => h.owner);
    await waitFor(() => holdersAt1()?.join() === [h1.id, ex.id].join(), 'node 1 applied the same grants', 10_000);
    expect(grantedAfterMs).toBeGreaterThan(0);

    // A conversion pending when its lock is unlocked ends; a request pending when the node closes ends.
    const slow = ls1.lock('db', 'EX').catch((e: unknown) => e);
    await waitFor(() => (m1.dump('app')?.resources.find((r) => r.name === 'db')?.waiters.length ?? 0) === 1, 'node 1 queued', 10_000);
    const converting = h1.convert('EX').catch((e: unknown) => e);
    await h1.unlock();
    expect(await converting).toMatchObject({ code: 'TOTEM_ERR_LOCK_RELEASED' });
    await nodes[0]?.close({ drainTimeoutMs: 0 });
    expect(await slow).toMatchObject({ code: 'TOTEM_ERR_LOCK_CLOSED' });
  });
});
