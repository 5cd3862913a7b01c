/**
 * The lock manager's atomic requests, re-entry, persistent locks (orphan, adopt, purge) and
 * HEADQUE on the real threaded runtime: three nodes in this process over loopback UDP.
 */
import { describe, expect, it } from 'vitest';
import { openLockManager, type LockManager } from '../../api/locks/lock-manager.js';
import { useRealNodes } from './real-nodes.js';
import { waitFor } from '../workers/fixtures/runtime-cluster.js';

const real = useRealNodes();

describe('lock manager features on real workers', () => {
  it('lockMany grants together, re-entry counts holds, a persistent lock outlives its node and is adopted', { timeout: 90_000 }, async () => {
    const nodes = await real.startRing(3);
    const managers: LockManager[] = [];
    for (const n of nodes) managers.push(await openLockManager(n, { votes: [1, 2, 3] }));
    await waitFor(() => managers.every((m) => m.members.length === 3 && m.primary), 'three primary lock managers', 20_000);
    const [m1, m2, m3] = managers as [LockManager, LockManager, LockManager];
    const ls1 = m1.lockspace('app', { reentrancyMax: 2 });
    const ls2 = m2.lockspace('app', { reentrancyMax: 2 });
    const ls3 = m3.lockspace('app', { reentrancyMax: 2 });

    // Atomic: b is held, so neither a nor b is granted; once b is free both are, with tokens in a row.
    const hb = await ls2.lock('b', 'EX');
    const both = ls1.lockMany([{ resource: 'a', mode: 'EX' }, { resource: 'b', mode: 'PR' }]);
    await waitFor(() => (m1.dump('app')?.resources.find((r) => r.name === 'a')?.waiters.length ?? 0) === 1, 'a waits with the request', 10_000);
    await expect(ls3.lock('a', 'PR', { noQueue: true })).rejects.toMatchObject({ code: 'TOTEM_ERR_LOCK_WOULD_BLOCK' });
    await hb.unlock();
    const [ha, hb1] = await both;
    expect(ha?.mode).toBe('EX');
    expect(hb1?.mode).toBe('PR');
    expect((hb1?.fencingToken ?? 0n) - (ha?.fencingToken ?? 0n)).toBe(1n);
    await expect(ls3.lockMany([{ resource: 'a', mode: 'EX' }, { resource: 'c', mode: 'EX' }], { timeoutMs: 50 })).rejects.toMatchObject({ code: 'TOTEM_ERR_LOCK_TIMEOUT' });
    expect(m3.dump('app')?.resources.find((r) => r.name === 'c')).toBeUndefined(); // nothing of it granted
    await ha?.unlock();
    await hb1?.unlock();

    // Re-entry: the same holder gets the same handle, one more hold; the limit is the lockspace's.
    const r1 = await ls1.lock('r', 'EX', { holder: 7 });
    const r2 = await ls1.lock('r', 'PR', { holder: 7 });
    expect(r2).toBe(r1);
    expect(r1.depth).toBe(2);
    await expect(ls1.lock('r', 'EX', { holder: 7 })).rejects.toMatchObject({ code: 'TOTEM_ERR_LOCK_REENTRANCY_LIMIT' });
    await r1.unlock();
    expect(r1.depth).toBe(1);
    expect(r1.signal.aborted).toBe(false);
    await r1.unlock();
    expect(r1.signal.aborted).toBe(true);

    // Persistent: node 3's lock stays as an orphan when node 3 leaves; node 1 adopts it, node 2 purges another.
    const p = await ls3.lock('p', 'PW', { persistent: true });
    const q = await ls3.lock('q', 'EX', { persistent: true });
    await m3.close();
    await waitFor(() => m1.members.length === 2 && m1.primary, 'the survivors form a primary', 20_000);
    const orphans = (): string[] => (m1.dump('app')?.resources ?? []).flatMap((r) => r.holders.filter((h) => h.orphan).map((h) => `${r.name} ${h.owner}`));
    expect(orphans()).toEqual([`p ${p.id}`, `q ${q.id}`]);
    await expect(ls2.lock('p', 'PR', { noQueue: true })).rejects.toMatchObject({ code: 'TOTEM_ERR_LOCK_WOULD_BLOCK' });
    await expect(ls1.adopt('p', 'EX')).rejects.toMatchObject({ code: 'TOTEM_ERR_LOCK_NO_ORPHAN' });
    const adopted = await ls1.adopt('p', 'PW', { orphan: p.id });
    expect(adopted.fencingToken > p.fencingToken).toBe(true);
    const waiting = ls2.lock('q', 'EX');
    ls2.purgeOrphans({ resource: 'q' });
    const hq = await waiting;
    expect(hq.fencingToken > q.fencingToken).toBe(true);
    // Node 2 applied the purge; node 1 applies it at its own delivery of the same message.
    await waitFor(() => orphans().length === 0, 'node 1 applied the purge', 10_000);

    // HEADQUE: ahead of an earlier waiter.
    const early = ls1.lock('q', 'EX');
    await waitFor(() => (m1.dump('app')?.resources.find((r) => r.name === 'q')?.waiters.length ?? 0) === 1, 'node 1 waits on q', 10_000);
    const head = ls2.lock('q', 'PR', { headQueue: true });
    await waitFor(() => m1.dump('app')?.resources.find((r) => r.name === 'q')?.waiters[0]?.requested === 'PR', 'the PR is first in line', 10_000);
    await hq.unlock();
    const hh = await head;
    await hh.unlock();
    const he = await early;
    expect(he.fencingToken > hh.fencingToken).toBe(true);
  });
});
