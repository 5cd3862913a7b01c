/**
 * The threaded runtime with real workers over loopback UDP: nodes of one process, each with its own
 * net, token and delivery workers (started from the compiled JS in dist/: build first). Every wait
 * is bounded and only turns a hang into a failure; nothing asserts on time.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TotemError } from '../../workers/errors.js';
import { checkTrace } from '../../api/check/evs-checker.js';
import { readTraceDir } from '../../api/check/trace-reader.js';
import { appendHarnessCrash } from '../../workers/trace/trace-writer.js';
import { crashWorkerForTest, startRuntime, workersExitedForTest } from '../../workers/runtime.js';
import {
  freePorts,
  hasMembers,
  messageId,
  nodeOptions,
  recorder,
  startNode,
  waitFor,
} from './fixtures/runtime-cluster.js';
import type { ClusterNode } from './fixtures/runtime-cluster.js';

const live: ClusterNode[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'totem-runtime-'));
  dirs.push(d);
  return d;
}

afterEach(async () => {
  await Promise.all(live.splice(0).map((n) => n.runtime.close(2000)));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function cluster(count: number, extra: (nodeId: number) => Parameters<typeof nodeOptions>[2] = () => ({}), ports?: number[]): Promise<ClusterNode[]> {
  const p = ports ?? (await freePorts(count));
  const nodes = await Promise.all(
    Array.from({ length: count }, (_, i) => startNode(nodeOptions(i + 1, p, extra(i + 1)))),
  );
  live.push(...nodes);
  return nodes;
}

function payloadOf(nodeId: number, i: number): Uint8Array {
  return new TextEncoder().encode(`node ${nodeId} message ${i}`);
}

describe('runtime: a 3-node cluster on loopback', () => {
  it('forms one ring, joins a group, and delivers agreed and safe messages in one order everywhere', async () => {
    const key = randomBytes(32);
    const nodes = await cluster(3, () => ({ key }));
    await waitFor(() => nodes.every((n) => hasMembers(n, [1, 2, 3])), 'one ring of 1, 2, 3');
    for (const n of nodes) expect(n.runtime.join('g')).toBe(true);
    await waitFor(
      () => nodes.every((n) => n.events.groupEvents.some((e) => e.group === 'g' && e.members.length === 3)),
      'group g with three members at every node',
    );

    const perNode = 60;
    for (let i = 0; i < perNode; i++) {
      for (const n of nodes) {
        expect(n.runtime.submit('g', payloadOf(n.nodeId, i), i % 2 === 0 ? 'agreed' : 'safe')).toBe(true);
      }
    }
    const total = perNode * nodes.length;
    await waitFor(() => nodes.every((n) => n.events.deliveries.length >= total), `${total} deliveries everywhere`);

    const orders = nodes.map((n) => n.events.deliveries.map(messageId));
    expect(orders[1]).toEqual(orders[0]);
    expect(orders[2]).toEqual(orders[0]);
    for (const n of nodes) {
      const own = n.events.deliveries.filter((d) => d.sender === n.nodeId);
      expect(own.map((d) => d.counter)).toEqual(Array.from({ length: perNode }, (_, i) => i + 1));
      expect(own.every((d) => d.incarnation === n.runtime.incarnation)).toBe(true);
      const safe = n.events.deliveries.filter((d) => d.order === 'safe').length;
      expect(safe).toBe(total / 2);
      expect(new TextDecoder().decode(own[3]?.payload)).toBe(`node ${n.nodeId} message 3`);
    }
    const stats = await nodes[0]!.runtime.stats();
    expect(stats.messagesSubmitted).toBe(perNode);
    expect(stats.messagesDelivered).toBeGreaterThanOrEqual(total);
    expect(stats.engine.members).toEqual([1, 2, 3]);
    expect(stats.net.authFailures).toBe(0);
    expect(stats.net.receiveBufferBytes).toBeGreaterThan(0);
    expect(stats.rings.map((r) => r.name)).toEqual(['submit', 'in', 'out', 'frames', 'delivery']);
    // The token hop stamps come only when asked for, with every kind stamped by its thread.
    expect(stats.tokenHops).toBeUndefined();
    const hops = (await nodes[0]!.runtime.stats({ tokenHops: true })).tokenHops;
    for (const kind of ['received', 'taken', 'forwarded', 'sent'] as const) {
      expect({ kind, stamped: (hops?.[kind].seq.length ?? 0) > 0 }).toEqual({ kind, stamped: true });
      expect(hops?.[kind].seq.every((seq) => seq % 8 <= 1)).toBe(true);
    }

    // close() with messages in flight: everything this node took is delivered here first.
    const first = nodes[0]!;
    for (let i = 0; i < 300; i++) expect(first.runtime.submit('g', payloadOf(1, perNode + i), 'safe')).toBe(true);
    const closed = await first.runtime.close(20_000);
    expect(closed).toEqual({ undelivered: 0 });
    expect(first.events.deliveries.filter((d) => d.sender === 1).length).toBe(perNode + 300);
    expect(first.events.fatals).toEqual([]);
    expect(() => first.runtime.submit('g', payloadOf(1, 0), 'agreed')).toThrow(TotemError);
    // Idempotent.
    expect(await first.runtime.close(1000)).toEqual({ undelivered: 0 });
  });

  it('writes a trace that satisfies every EVS property', async () => {
    const traceDir = tempDir();
    const stateDir = tempDir();
    const nodes = await cluster(3, () => ({ trace: traceDir, stateDir }));
    await waitFor(() => nodes.every((n) => hasMembers(n, [1, 2, 3])), 'one ring of 1, 2, 3');
    for (const n of nodes) n.runtime.join('t');
    // Messages delivered before a node's own join are not local there: wait for the group first.
    await waitFor(
      () => nodes.every((n) => n.events.groupEvents.some((e) => e.group === 't' && e.members.length === 3)),
      'group t with three members at every node',
    );
    for (let i = 0; i < 40; i++) {
      for (const n of nodes) n.runtime.submit(i % 5 === 0 ? 'other' : 't', payloadOf(n.nodeId, i), i % 3 === 0 ? 'safe' : 'agreed');
    }
    await waitFor(
      () => nodes.every((n) => n.events.deliveries.filter((d) => d.group === 't').length >= 3 * 32),
      'deliveries of group t everywhere',
    );
    for (const n of nodes) {
      expect(await n.runtime.close(10_000)).toEqual({ undelivered: 0 });
      appendHarnessCrash(traceDir, n.nodeId);
    }
    live.length = 0;
    const result = checkTrace(await readTraceDir(traceDir));
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.counts.messagesSent).toBe(120);
    expect(result.counts.processes).toBe(3);
  });
});

describe('runtime: backpressure', () => {
  it('submit returns false when the submit ring is full, and writable follows', async () => {
    const [node] = await cluster(1, () => ({ messageBytesMax: 64 * 1024, sendQueueBytesMax: 64 * 1024 }));
    await waitFor(() => hasMembers(node!, [1]), 'a singleton ring');
    const payload = new Uint8Array(16 * 1024);
    let accepted = 0;
    let refused = false;
    // 256 KiB queued in the submit ring + 64 KiB send queue: a few dozen 16 KiB messages fill
    // them long before 100k.
    for (let i = 0; i < 100_000; i++) {
      if (!node!.runtime.submit('bp', payload, 'agreed')) {
        refused = true;
        break;
      }
      accepted++;
    }
    expect(refused).toBe(true);
    expect(accepted).toBeGreaterThan(0);
    await waitFor(() => node!.events.writables > 0, 'writable');
    expect(node!.runtime.submit('bp', payload, 'agreed')).toBe(true);
    accepted++;
    const stats = await node!.runtime.stats();
    expect(stats.messagesSubmitted).toBe(accepted);
    expect(await node!.runtime.close(30_000)).toEqual({ undelivered: 0 });
  });

  it('submit refuses while the application is behind on its deliveries, and writable follows once it reads', async () => {
    const [node] = await cluster(1);
    await waitFor(() => hasMembers(node!, [1]), 'a singleton ring');
    expect(node!.runtime.join('bl')).toBe(true);
    await waitFor(() => node!.events.groupEvents.some((e) => e.group === 'bl'), 'group bl');
    const payload = new Uint8Array(1024);
    const parked = new Int32Array(new SharedArrayBuffer(4));
    // The main thread never yields here, so nothing reads the delivery ring: the token worker
    // takes every submission and the deliveries pile up. A refusal that lasts while the token
    // worker has had 50 × 5 ms to empty the submit ring is the backlog's, not the submit ring's.
    let accepted = 0;
    let refusedInRow = 0;
    for (let i = 0; i < 20_000 && refusedInRow < 50; i++) {
      if (node!.runtime.submit('bl', payload, 'agreed')) {
        accepted++;
        refusedInRow = 0;
      } else {
        refusedInRow++;
        Atomics.wait(parked, 0, 0, 5);
      }
    }
    expect(refusedInRow).toBe(50);
    // At most the backlog bound, what submit() queues and the Packer's two visits: far from the
    // 128 MiB the delivery worker would otherwise buffer.
    expect(accepted * payload.length).toBeLessThan(4 * 1024 * 1024);
    const delivered = node!.events.deliveries.length;
    await waitFor(() => node!.events.writables > 0, 'writable once deliveries are read');
    expect(node!.events.deliveries.length).toBeGreaterThan(delivered);
    expect(node!.runtime.submit('bl', payload, 'agreed')).toBe(true);
    accepted++;
    await waitFor(() => node!.events.deliveries.filter((d) => d.group === 'bl').length === accepted, 'every message delivered');
    expect(await node!.runtime.close(30_000)).toEqual({ undelivered: 0 });
  });

  it('a message larger than the submit ring is taken, holds later submissions back until written, and arrives whole', async () => {
    // 4 MiB messages: four times the submit ring and twice the delivery ring, so each is written
    // mostly by the pump as the token worker frees room, and read in parts on the main thread.
    const messageBytesMax = 4 * 1024 * 1024;
    const [node] = await cluster(1, () => ({ messageBytesMax, sendQueueBytesMax: messageBytesMax }));
    await waitFor(() => hasMembers(node!, [1]), 'a singleton ring');
    expect(node!.runtime.join('big')).toBe(true);
    await waitFor(() => node!.events.groupEvents.some((e) => e.group === 'big'), 'group big');
    const big = (seed: number): Uint8Array => {
      const b = new Uint8Array(messageBytesMax);
      for (let i = 0; i < b.length; i += 4093) b[i] = (seed + i) & 0xff;
      b[b.length - 1] = seed;
      return b;
    };
    const sent: Uint8Array[] = [];
    const take = (payload: Uint8Array): boolean => {
      const ok = node!.runtime.submit('big', payload, 'agreed');
      if (ok) sent.push(payload.slice());
      return ok;
    };
    const first = big(1);
    expect(take(first)).toBe(true);
    // Accepted: the caller may reuse its buffer at once; the rest of it was copied.
    first.fill(0);
    // The first one is still being written: anything after it is refused, joins too, and
    // writable follows once it is through.
    expect(take(big(2))).toBe(false);
    expect(node!.runtime.join('other')).toBe(false);
    await waitFor(() => node!.events.writables > 0, 'writable after the large message');
    for (let i = 2; i <= 4; i++) {
      if (!take(big(i))) {
        const w = node!.events.writables;
        await waitFor(() => node!.events.writables > w, `writable before message ${i}`);
        expect(take(big(i))).toBe(true);
      }
      expect(take(new Uint8Array([i]))).toBe(false);
    }
    await waitFor(() => node!.events.deliveries.filter((d) => d.group === 'big').length >= 4, '4 large deliveries');
    const got = node!.events.deliveries.filter((d) => d.group === 'big');
    expect(got.map((d) => d.counter)).toEqual([1, 2, 3, 4]);
    got.forEach((d, i) => expect(Buffer.compare(d.payload, sent[i] as Uint8Array)).toBe(0));
    const stats = await node!.runtime.stats();
    expect(stats.rings.find((r) => r.name === 'submit')?.capacityBytes).toBeLessThan(messageBytesMax);
    expect(await node!.runtime.close(30_000)).toEqual({ undelivered: 0 });
  });
});

describe('runtime: packet authentication', () => {
  it('a node with another key never joins the ring, and both sides count auth failures', async () => {
    const good = randomBytes(32);
    const bad = randomBytes(32);
    const nodes = await cluster(3, (id) => ({ key: id === 3 ? bad : good }));
    const [n1, n2, n3] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    await waitFor(() => hasMembers(n1, [1, 2]) && hasMembers(n2, [1, 2]) && hasMembers(n3, [3]), 'rings {1,2} and {3}');
    await waitFor(async () => {
      const [s1, s3] = await Promise.all([n1.runtime.stats(), n3.runtime.stats()]);
      return s1.net.authFailures > 0 && s3.net.authFailures > 0;
    }, 'auth failures on both sides');
    expect(n3.events.configurations.every((c) => c.members.length === 1)).toBe(true);
    for (const n of [n1, n2]) expect(n.events.configurations.every((c) => !c.members.includes(3))).toBe(true);
  });

  it('drops a replayed datagram sent from another address before the AEAD, and counts it', async () => {
    const key = randomBytes(32);
    const ports = await freePorts(3);
    // Node 3 is a raw socket: every broadcast of nodes 1 and 2 reaches it too, sealed.
    const spy = createSocket('udp4');
    await new Promise<void>((resolve) => spy.bind(ports[2], '127.0.0.1', resolve));
    const captured: Buffer[] = [];
    spy.on('message', (m) => {
      if (m.readUInt32LE(2) === 1) captured.push(m);
    });
    try {
      const nodes = await Promise.all([1, 2].map((id) => startNode(nodeOptions(id, ports, { key }))));
      live.push(...nodes);
      const [n1, n2] = nodes as [ClusterNode, ClusterNode];
      await waitFor(() => hasMembers(n1, [1, 2]) && hasMembers(n2, [1, 2]), 'ring {1,2}');
      captured.length = 0;
      n1.runtime.submit('r', payloadOf(1, 0), 'agreed');
      await waitFor(() => captured.length > 0, 'a broadcast of node 1 at the spy');
      // Node 1 sent these same bytes to node 2; the spy resends them from node 3's address, which
      // is not node 1's: the ingress gate drops them before the tag or the replay window is looked
      // at. (A replay from the right address is refused by the replay window: packet-auth tests.)
      const replayed = captured[0] as Buffer;
      for (let i = 0; i < 3; i++) spy.send(replayed, ports[1], '127.0.0.1');
      await waitFor(async () => ((await n2.runtime.stats()).net.dropped?.address_mismatch ?? 0) >= 3, 'address mismatches counted at node 2');
      expect((await n2.runtime.stats()).net.authFailures).toBe(0);
      expect(n2.events.fatals).toEqual([]);
    } finally {
      spy.close();
    }
  });
});

describe('runtime: failures', () => {
  it('a worker that dies surfaces as fatal TOTEM_ERR_WORKER_DIED and the node shuts down', async () => {
    const [node] = await cluster(1);
    await waitFor(() => hasMembers(node!, [1]), 'a singleton ring');
    crashWorkerForTest(node!.runtime, 'token');
    await waitFor(() => node!.events.fatals.length > 0, 'fatal');
    const err = node!.events.fatals[0] as TotemError;
    expect(TotemError.isTotemError(err)).toBe(true);
    expect(err.code).toBe('TOTEM_ERR_WORKER_DIED');
    expect(err.details).toMatchObject({ thread: 'token' });
    expect(workersExitedForTest(node!.runtime)).toBe(true);
    expect(node!.events.fatals.length).toBe(1);
    // The socket is closed: its port can be bound again.
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(node!.port, '127.0.0.1', () => resolve());
    });
    s.close();
    await expect(node!.runtime.stats()).rejects.toMatchObject({ code: 'TOTEM_ERR_WORKER_DIED' });
    expect(() => node!.runtime.submit('g', new Uint8Array(1), 'agreed')).toThrow(TotemError);
    expect(await node!.runtime.close(1000)).toEqual({ undelivered: 0 });
  });

  it('a bind to an address in use rejects startRuntime with TOTEM_ERR_BIND', async () => {
    const [port] = await freePorts(1);
    const holder = createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(port, '127.0.0.1', resolve));
    try {
      const events = recorder();
      const start = startRuntime(nodeOptions(1, [port as number]), events);
      await expect(start).rejects.toMatchObject({ code: 'TOTEM_ERR_BIND' });
      await start.catch((err: TotemError) => {
        expect(err.message).toContain(`127.0.0.1:${port}`);
      });
      expect(events.fatals).toEqual([]);
    } finally {
      holder.close();
    }
  });
});
