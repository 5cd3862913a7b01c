/**
 * The lock manager's batches on the in-memory runtime: the operations made in one event-loop turn
 * travel as one message and are applied in the order they were made (a cancel after its request),
 * a batch the node refuses ends every operation it carries, batches are cut to the node's
 * messageBytesMax, and operations made before node.close() still go out before its leave.
 */
import { describe, expect, it } from 'vitest';
import { decodeLockMessages } from '../../engine/locks/codec.js';
import type { AppDelivery } from '../../engine/types.js';
import { openLockManager, type LockManager } from '../../api/locks/lock-manager.js';
import type { CreateNodeOptions, EvsNode } from '../../api/node.js';
import { FakeCluster, type FakeNode } from './fake-runtime.js';
import { useFakeNodes } from './fake-nodes.js';

const { startNode } = useFakeNodes({ ignoreErrors: true });

/** Node 1 alone, primary with 3 of 4 votes, its lock manager granting. */
async function soloManager(extra: Partial<CreateNodeOptions> = {}): Promise<{ node: EvsNode; fake: FakeNode; locks: LockManager; cluster: FakeCluster }> {
  const cluster = new FakeCluster();
  const node = await startNode(cluster, 1, { primary: { votes: { 1: 3, 2: 1 } }, ...extra });
  await node.waitForMembers([1]);
  const locks = await openLockManager(node);
  for (let i = 0; i < 100 && !locks.primary; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(locks.primary).toBe(true);
  const fake = cluster.nodes.get(1);
  if (fake === undefined) throw new Error('no fake runtime node 1');
  return { node, fake, locks, cluster };
}

/** The lock group's deliveries since `from`, as operation types per message. */
function lockMessages(fake: FakeNode, from: number): string[][] {
  return fake.delivered
    .slice(from)
    .filter((d: AppDelivery) => d.group === 'totem-locks')
    .map((d) => {
      const decoded = decodeLockMessages(d.payload);
      if (!decoded.ok) throw new Error(`undecodable lock message: ${decoded.reason}`);
      return decoded.messages.map((m) => m.type);
    });
}

describe('lock manager batches', () => {
  it('sends the operations of one turn as one message, applied in order: a cancel ends its request', async () => {
    const { fake, locks } = await soloManager();
    const ls = locks.lockspace('ls');
    const from = fake.delivered.length;
    const a = ls.lock('a', 'EX');
    const b = ls.lock('b', 'PR');
    const abort = new AbortController();
    const queued = ls.lock('a', 'PR', { signal: abort.signal });
    abort.abort();
    const [ha, hb] = await Promise.all([a, b]);
    await expect(queued).rejects.toMatchObject({ code: 'TOTEM_ERR_LOCK_CANCELLED' });
    expect(lockMessages(fake, from)).toEqual([['lock', 'lock', 'lock', 'cancel']]);
    expect(hb.fencingToken).toBeGreaterThan(ha.fencingToken);

    const next = fake.delivered.length;
    await Promise.all([ha.unlock(), hb.unlock()]);
    expect(lockMessages(fake, next)).toEqual([['unlock', 'unlock']]);
    expect(locks.dump('ls')?.resources).toEqual([]);
  });

  it('ends every operation of a batch the node refuses with that error, and sends again after', async () => {
    const { fake, locks } = await soloManager();
    const ls = locks.lockspace('ls');
    const held = await ls.lock('held', 'EX');
    const other = await ls.lock('other', 'EX');
    const submit = fake.submit.bind(fake);
    fake.submit = (group, payload, order) => {
      if (group === 'totem-locks') throw new Error('refused by the runtime');
      return submit(group, payload, order);
    };
    const outcomes = await Promise.allSettled([ls.lock('x', 'EX'), ls.lock('y', 'PR'), other.convert('PR'), held.unlock()]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'fulfilled'))).toEqual(Array(4).fill('refused by the runtime'));
    fake.submit = submit;
    // Nothing of it reached the table: both locks are still held in EX, and they can be used again.
    expect(locks.dump('ls')?.resources.map((r) => [r.name, r.holders.map((h) => h.granted)])).toEqual([
      ['held', ['EX']],
      ['other', ['EX']],
    ]);
    await Promise.all([held.unlock(), other.convert('PR')]);
    expect(other.mode).toBe('PR');
    await (await ls.lock('x', 'EX')).unlock();
  });

  it('cuts batches at the node messageBytesMax, keeping their order', async () => {
    const { fake, locks } = await soloManager({ messageBytesMax: 200 });
    const ls = locks.lockspace('ls');
    const from = fake.delivered.length;
    const names = Array.from({ length: 12 }, (_, i) => `resource-with-a-long-name-${i}`);
    const handles = await Promise.all(names.map((n) => ls.lock(n, 'EX')));
    const messages = lockMessages(fake, from);
    expect(messages.length).toBeGreaterThan(1);
    expect(messages.flat()).toEqual(names.map(() => 'lock'));
    for (const d of fake.delivered.slice(from)) expect(d.payload.length).toBeLessThanOrEqual(200);
    for (let i = 1; i < handles.length; i++) expect(handles[i]?.fencingToken).toBeGreaterThan(handles[i - 1]?.fencingToken ?? 0n);
  });

  it('sends what was asked before node.close() ahead of the leave', async () => {
    const { node, fake, locks } = await soloManager();
    const ls = locks.lockspace('ls');
    const held = await ls.lock('a', 'EX');
    const from = fake.delivered.length;
    const released = held.unlock();
    const requested = ls.lock('b', 'EX');
    await node.close();
    await expect(released).resolves.toBeUndefined();
    expect((await requested).resource).toBe('b');
    expect(lockMessages(fake, from)).toEqual([['unlock', 'lock']]);
  });

  describe('between a ring change\'s cut and its regular event', () => {
    /** The lock group's side of a ring change, as the group layer reports it (cut, then views). */
    function cut(fake: FakeNode): () => void {
      const ringId = fake.configurations.at(-1)?.ringId ?? { rep: 1, seq: 0n };
      const event = (kind: 'transitional' | 'regular') => fake.events.groupEvent({ group: 'totem-locks', kind, ringId, members: [1], joined: [], left: [], cause: kind === 'regular' ? 'merge' : 'configuration' });
      event('transitional');
      return () => event('regular');
    }

    it('holds what is asked there and sends it after the regular event\'s sync', async () => {
      const { fake, locks } = await soloManager();
      const ls = locks.lockspace('ls');
      const from = fake.delivered.length;
      const regular = cut(fake);
      expect(locks.primary).toBe(false);
      const a = ls.lock('a', 'EX');
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(lockMessages(fake, from)).toEqual([]);
      regular();
      const h = await a;
      expect(h.mode).toBe('EX');
      expect(lockMessages(fake, from)).toEqual([['sync'], ['lock']]);
    });

    it('sends again a request delivered there (no replica applied it) and grants it once', async () => {
      const { fake, locks, cluster } = await soloManager();
      const ls = locks.lockspace('ls');
      const from = fake.delivered.length;
      cluster.pause();
      const a = ls.lock('a', 'EX');
      // The batch reaches the node's send queue, then the ring changes before it is delivered.
      await new Promise((resolve) => setTimeout(resolve, 10));
      const regular = cut(fake);
      cluster.resume();
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(lockMessages(fake, from)).toEqual([['lock']]);
      expect(locks.dump('ls')?.resources ?? []).toEqual([]);
      regular();
      const h = await a;
      expect(h.mode).toBe('EX');
      expect(lockMessages(fake, from)).toEqual([['lock'], ['sync'], ['lock']]);
      expect(locks.dump('ls')?.resources.map((r) => r.holders.length)).toEqual([1]);
    });

    it('ends a request whose timeout already sent its cancel, rather than send it after that cancel', async () => {
      const { fake, locks, cluster } = await soloManager();
      const ls = locks.lockspace('ls');
      const from = fake.delivered.length;
      cluster.pause();
      const a = ls.lock('a', 'EX', { timeoutMs: 5 });
      const ended = a.then(() => 'granted', (e: { code?: string }) => e.code);
      await new Promise((resolve) => setTimeout(resolve, 30));
      const regular = cut(fake);
      cluster.resume();
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(await ended).toBe('TOTEM_ERR_LOCK_TIMEOUT');
      regular();
      await new Promise((resolve) => setTimeout(resolve, 30));
      // The cancel goes again, after the sync, and finds nothing; nothing is granted.
      expect(lockMessages(fake, from)).toEqual([['lock'], ['cancel'], ['sync'], ['cancel']]);
      expect(locks.dump('ls')?.resources ?? []).toEqual([]);
      expect(locks.counters.unknownLock).toBe(1);
    });
  });
});

