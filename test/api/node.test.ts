/**
 * The public API (createNode, groups, events, iterators, backpressure, close and failure) on the
 * in-memory FakeCluster runtime of fake-runtime.ts. Every wait is on an event or a promise of the
 * code under test; nothing here depends on time.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TotemError } from '../../workers/errors.js';
import type { GroupMembershipEvent, GroupMessage, NodeConfiguration } from '../../api/events.js';
import type { Group } from '../../api/group.js';
import { createNodeWith, sendsWaitingMax } from '../../api/node.js';
import { FakeCluster } from './fake-runtime.js';
import { useFakeNodes } from './fake-nodes.js';

/** Log lines of every node, instead of stderr. */
const logged: string[] = [];
const logger = {
  error: (m: string) => void logged.push(`error ${m}`),
  warn: (m: string) => void logged.push(`warn ${m}`),
  info: (m: string) => void logged.push(`info ${m}`),
  debug: (m: string) => void logged.push(`debug ${m}`),
};


const { optionsOf, startNode } = useFakeNodes({ logger });

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** The rejection of `promise` (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<TotemError> {
  try {
    await promise;
  } catch (err) {
    return err as TotemError;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): TotemError {
  try {
    fn();
  } catch (err) {
    return err as TotemError;
  }
  throw new Error('expected a throw');
}

/** Collect the next `count` messages of `group` through its 'message' event. */
function nextMessages<T>(group: Group<T>, count: number): Promise<GroupMessage<T>[]> {
  return new Promise((resolve) => {
    const got: GroupMessage<T>[] = [];
    const onMessage = (m: GroupMessage<T>): void => {
      got.push(m);
      if (got.length < count) return;
      group.off('message', onMessage);
      resolve(got);
    };
    group.on('message', onMessage);
  });
}

/** Resolves when `group` reports a membership event matching `test`. */
function membership(group: Group<unknown> | Group<Uint8Array>, test: (e: GroupMembershipEvent) => boolean) {
  return new Promise<GroupMembershipEvent>((resolve) => {
    const g = group as Group<unknown>;
    const on = (e: GroupMembershipEvent): void => {
      if (!test(e)) return;
      g.off('membership', on);
      resolve(e);
    };
    g.on('membership', on);
  });
}

describe('createNode', () => {
  it('rejects bad options with TOTEM_ERR_INVALID_OPTION before any runtime starts', async () => {
    const cluster = new FakeCluster();
    const pending = createNodeWith(cluster.start, optionsOf(1, { tokenTimeoutMs: -5 }));
    const err = await rejection(pending);
    expect(err).toBeInstanceOf(TotemError);
    expect(err.code).toBe('TOTEM_ERR_INVALID_OPTION');
    expect(err.details?.option).toBe('tokenTimeoutMs');
    const typo = await rejection(createNodeWith(cluster.start, { ...optionsOf(1), nodeID: 1 } as never));
    expect(typo.code).toBe('TOTEM_ERR_INVALID_OPTION');
    const signal = await rejection(createNodeWith(cluster.start, optionsOf(1, { signal: 'no' as never })));
    expect(signal.details?.option).toBe('signal');
    expect(cluster.startCalls).toBe(0);
  });

  it('rejects with TOTEM_ERR_ABORTED on an aborted signal, without starting', async () => {
    const cluster = new FakeCluster();
    const err = await rejection(createNodeWith(cluster.start, optionsOf(1, { signal: AbortSignal.abort() })));
    expect(err.code).toBe('TOTEM_ERR_ABORTED');
    expect(cluster.startCalls).toBe(0);
  });

  it('aborted, it settles only once the runtime that came up late is stopped (its socket released)', async () => {
    const cluster = new FakeCluster();
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let closedWith: number | null = null;
    const slowStart: typeof cluster.start = async (options, events) => {
      await gate;
      const runtime = await cluster.start(options, events);
      const close = runtime.close.bind(runtime);
      runtime.close = (drainTimeoutMs) => {
        closedWith = drainTimeoutMs;
        return close(drainTimeoutMs);
      };
      return runtime;
    };
    const ac = new AbortController();
    const starting = createNodeWith(slowStart, optionsOf(1, { signal: ac.signal }));
    let settled = false;
    const rejected = rejection(starting).finally(() => (settled = true));
    ac.abort();
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    release();
    expect((await rejected).code).toBe('TOTEM_ERR_ABORTED');
    expect(closedWith).toBe(0);
  });

  it('reports the first configuration, members and ring id', async () => {
    const cluster = new FakeCluster();
    const node = await startNode(cluster, 1);
    const [configuration] = (await once(node, 'configuration')) as [NodeConfiguration];
    expect(configuration).toMatchObject({ kind: 'regular', cause: 'start', members: [1] });
    expect(node.members).toEqual([1]);
    expect(node.ringId).toBe(configuration.ringId);
    expect(node.ringId).toMatch(/^1:\d+$/);
    expect(node.nodeId).toBe(1);
    expect(node.state).toBe('open');
  });
});

describe('join', () => {
  it('resolves once its own join is delivered, with the group members', async () => {
    const cluster = new FakeCluster();
    const [a, b] = [await startNode(cluster, 1), await startNode(cluster, 2)];
    const ga = await a.join('g');
    expect(ga.members).toEqual([1]);
    expect(ga.name).toBe('g');
    const first = (await once(ga, 'membership')) as [GroupMembershipEvent];
    expect(first[0]).toMatchObject({ group: 'g', cause: 'join', joined: [1], members: [1] });
    const seen = membership(ga, (e) => e.cause === 'join');
    const gb = await b.join('g');
    expect(gb.members).toEqual([1, 2]);
    expect((await seen).joined).toEqual([2]);
    expect(ga.members).toEqual([1, 2]);
  });

  it('hands over messages delivered in the same batch as the join', async () => {
    const cluster = new FakeCluster();
    const [a, b] = [await startNode(cluster, 1), await startNode(cluster, 2)];
    const gb = await b.join('g');
    // Node 1's join and node 2's sends are ordered in one rotation and reported in one callback batch.
    const joining = a.join('g');
    await gb.send(bytes(1));
    await gb.send(bytes(2));
    const ga = await joining;
    const got = await nextMessages(ga, 2);
    expect(got.map((m) => [...m.payload])).toEqual([[1], [2]]);
  });

  it('returns the same group for a second join, and refuses another encoding', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1);
    const [g1, g2] = await Promise.all([a.join('g'), a.join('g')]);
    expect(g1).toBe(g2);
    const err = await rejection(a.join('g', { encoding: 'msgpack' }));
    expect((err as unknown as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
  });

  it('rejects a bad group name', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1);
    expect(((await rejection(a.join(''))) as unknown as { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(((await rejection(a.join('x'.repeat(256)))) as unknown as { code: string }).code)
      .toBe('ERR_INVALID_ARG_VALUE');
  });

  it('aborts a join still waiting for room, and the group stays unjoined', async () => {
    const cluster = new FakeCluster({ submitCapacity: 1 });
    const a = await startNode(cluster, 1);
    await once(a, 'configuration');
    cluster.pause();
    const gate = a.join('first');
    const ac = new AbortController();
    const waiting = a.join('second', { signal: ac.signal });
    ac.abort();
    expect((await rejection(waiting)).code).toBe('TOTEM_ERR_ABORTED');
    cluster.resume();
    await gate;
    const again = await a.join('second');
    expect(again.members).toEqual([1]);
    expect((await a.stats()).groups).toBe(2);
  });
});

describe('send', () => {
  it('delivers to every member in one order, with ids, order and ring id', async () => {
    const cluster = new FakeCluster();
    const [a, b] = [await startNode(cluster, 1), await startNode(cluster, 2)];
    const [ga, gb] = [await a.join('g'), await b.join('g')];
    const atA = nextMessages(ga, 2);
    const atB = nextMessages(gb, 2);
    await ga.send(bytes(7), { order: 'safe' });
    await gb.send(bytes(8));
    const [ma, mb] = [await atA, await atB];
    expect(ma.map((m) => m.id)).toEqual(mb.map((m) => m.id));
    const first = ma[0] as GroupMessage;
    expect(first).toMatchObject({ group: 'g', sender: 1, counter: 1, order: 'safe', transitional: false });
    expect(first.id).toBe(`1:${a.incarnation}:1`);
    expect(first.ringId).toBe(a.ringId);
    expect(first.value).toBe(first.payload);
    expect((ma[1] as GroupMessage).order).toBe('agreed');
  });

  it('keeps send order across groups under backpressure', async () => {
    const cluster = new FakeCluster({ submitCapacity: 2 });
    const [a, b] = [await startNode(cluster, 1), await startNode(cluster, 2)];
    const [x, y] = [await a.join('x'), await a.join('y')];
    const [bx, by] = [await b.join('x'), await b.join('y')];
    const atB: string[] = [];
    bx.on('message', (m) => atB.push(`x${m.payload[0]}`));
    by.on('message', (m) => atB.push(`y${m.payload[0]}`));
    const allAtB = new Promise<void>((resolve) => {
      const check = (): void => {
        if (atB.length === 12) resolve();
      };
      bx.on('message', check);
      by.on('message', check);
    });
    cluster.pause();
    const accepted: number[] = [];
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 12; i++) {
      const group = i % 3 === 0 ? y : x;
      sends.push(group.send(bytes(i)).then(() => void accepted.push(i)));
    }
    await Promise.resolve();
    // Two fit in the submit ring; the others wait, holding their turn.
    expect(accepted).toEqual([0, 1]);
    expect((await a.stats()).submitsWaiting).toBe(10);
    cluster.resume();
    await Promise.all(sends);
    expect(accepted).toEqual([...Array(12).keys()]);
    await allAtB;
    expect(atB).toEqual([...Array(12).keys()].map((i) => `${i % 3 === 0 ? 'y' : 'x'}${i}`));
  });

  it('trySend is false when the runtime is full and when sends are waiting', async () => {
    const cluster = new FakeCluster({ submitCapacity: 1 });
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    cluster.pause();
    expect(g.trySend(bytes(1))).toBe(true);
    expect(g.trySend(bytes(2))).toBe(false);
    const waiting = g.send(bytes(3));
    expect(g.trySend(bytes(4))).toBe(false);
    const got = nextMessages(g, 2);
    cluster.resume();
    await waiting;
    expect((await got).map((m) => m.payload[0])).toEqual([1, 3]);
  });

  it('an aborted waiting send rejects with TOTEM_ERR_ABORTED and later ones go on in order', async () => {
    const cluster = new FakeCluster({ submitCapacity: 1 });
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    cluster.pause();
    await g.send(bytes(1));
    const ac = new AbortController();
    const second = g.send(bytes(2), { signal: ac.signal });
    const third = g.send(bytes(3));
    ac.abort(new Error('no longer needed'));
    const err = await rejection(second);
    expect(err.code).toBe('TOTEM_ERR_ABORTED');
    const got = nextMessages(g, 2);
    cluster.resume();
    await third;
    expect((await got).map((m) => m.payload[0])).toEqual([1, 3]);
    expect((await rejection(g.send(bytes(4), { signal: AbortSignal.abort() }))).code).toBe('TOTEM_ERR_ABORTED');
  });

  it(`refuses a send beyond ${sendsWaitingMax} waiting ones`, async () => {
    const cluster = new FakeCluster({ submitCapacity: 1 });
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    cluster.pause();
    await g.send(bytes(0));
    const waiting = Array.from({ length: sendsWaitingMax }, () => g.send(bytes(1)));
    const err = await rejection(g.send(bytes(2)));
    expect((err as unknown as { code: string }).code).toBe('TOTEM_ERR_SEND_QUEUE_FULL');
    cluster.resume();
    await Promise.all(waiting);
  });

  it('refuses payloads above messageBytesMax with TOTEM_ERR_PAYLOAD_TOO_LARGE', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1, { messageBytesMax: 100 });
    const g = await a.join('g');
    const err = await rejection(g.send(new Uint8Array(101)));
    expect(err.code).toBe('TOTEM_ERR_PAYLOAD_TOO_LARGE');
    expect(err.details).toMatchObject({ bytes: 101, bytesMax: 100 });
    expect(thrown(() => g.trySend(new Uint8Array(101))).code).toBe('TOTEM_ERR_PAYLOAD_TOO_LARGE');
    await g.send(new Uint8Array(100));
    const m = await a.join('m', { encoding: 'msgpack' });
    expect((await rejection(m.send({ text: 'x'.repeat(100) }))).code).toBe('TOTEM_ERR_PAYLOAD_TOO_LARGE');
  });

  it('refuses a payload that is not bytes in a binary group', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    const err = await rejection(g.send('text' as unknown as Uint8Array));
    expect(err).toBeInstanceOf(TypeError);
  });
});

describe('msgpack groups', () => {
  it('round-trips values', async () => {
    const cluster = new FakeCluster();
    const [a, b] = [await startNode(cluster, 1), await startNode(cluster, 2)];
    const ga = await a.join('kv', { encoding: 'msgpack' });
    const gb = await b.join('kv', { encoding: 'msgpack' });
    const value = { op: 'set', key: 'k', value: [1, 2.5, null, true, 'é'], nested: { n: -3 } };
    const messages = gb.messages();
    await ga.send(value);
    await ga.send('second');
    const first = await messages.next();
    expect(first.done).toBe(false);
    expect(first.value?.value).toEqual(value);
    expect((await messages.next()).value?.value).toBe('second');
    await messages.return?.();
    const err = await rejection(ga.send(Symbol('not encodable')));
    expect(err).toBeInstanceOf(TypeError);
  });
});

describe('iterators', () => {
  it('yields messages in order and ends when the node closes', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    const messages = g.messages();
    const configurations = a.configurations();
    for (let i = 0; i < 5; i++) await g.send(bytes(i));
    const got: number[] = [];
    for await (const m of messages) {
      got.push(m.payload[0] as number);
      if (got.length === 5) void a.close();
    }
    expect(got).toEqual([0, 1, 2, 3, 4]);
    const kinds: string[] = [];
    for await (const c of configurations) kinds.push(`${c.kind}:${c.cause}`);
    expect(kinds).toEqual(['regular:start']);
    expect(a.state).toBe('closed');
    const after = await g.messages().next();
    expect(after.done).toBe(true);
  });

  it('stops with TOTEM_ERR_ABORTED on its signal, and leaves other consumers alone', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    const ac = new AbortController();
    const aborted = g.messages({ signal: ac.signal });
    const other = g.messages();
    await g.send(bytes(1));
    expect((await aborted.next()).value?.payload[0]).toBe(1);
    const pending = aborted.next();
    ac.abort();
    expect((await rejection(pending)).code).toBe('TOTEM_ERR_ABORTED');
    expect((await aborted.next()).done).toBe(true);
    await g.send(bytes(2));
    expect((await other.next()).value?.payload[0]).toBe(1);
    expect((await other.next()).value?.payload[0]).toBe(2);
  });

  it('ends the group iterators after the own leave', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    const events = g.memberships();
    await g.send(bytes(1));
    await once(g, 'message');
    // Made after message 1 was delivered: it sees message 2 only.
    const messages = g.messages();
    await g.send(bytes(2));
    await g.leave();
    const got: number[] = [];
    for await (const m of messages) got.push(m.payload[0] as number);
    expect(got).toEqual([2]);
    const causes: string[] = [];
    for await (const e of events) causes.push(e.cause);
    expect(causes).toEqual(['join', 'leave']);
  });
});

describe('membership', () => {
  it("reports joins, leaves and a member's failure as group events and configurations", async () => {
    const cluster = new FakeCluster();
    const [a, b, c] = [await startNode(cluster, 1), await startNode(cluster, 2), await startNode(cluster, 3)];
    c.on('error', () => undefined);
    const ga = await a.join('g');
    const events = ga.memberships();
    const configurations = a.configurations();
    const gb = await b.join('g');
    await c.join('g');
    await gb.leave();
    cluster.crash(3);
    const seen: string[] = [];
    for await (const e of events) {
      seen.push(`${e.kind}:${e.cause}:+${e.joined.join(',')}-${e.left.join(',')}=${e.members.join(',')}`);
      if (seen.length === 6) break;
    }
    expect(seen).toEqual([
      'regular:join:+1-=1',
      'regular:join:+2-=1,2',
      'regular:join:+3-=1,2,3',
      'regular:leave:+-2=1,3',
      'transitional:configuration:+-3=1',
      'regular:configuration:+-=1',
    ]);
    let last: NodeConfiguration | undefined;
    for await (const conf of configurations) {
      last = conf;
      if (conf.cause === 'token-loss' && conf.kind === 'regular') break;
    }
    expect(last).toMatchObject({ kind: 'regular', members: [1, 2], cause: 'token-loss' });
    expect(a.members).toEqual([1, 2]);
    expect(ga.members).toEqual([1]);
  });
});

describe('leave', () => {
  it('resolves on the own leave; sends then reject with TOTEM_ERR_NOT_JOINED', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    const leaving = g.leave();
    expect(g.state).toBe('leaving');
    expect((await rejection(g.send(bytes(1)))).code).toBe('TOTEM_ERR_NOT_JOINED');
    await leaving;
    expect(g.state).toBe('left');
    expect(g.members).toEqual([]);
    const err = await rejection(g.send(bytes(1)));
    expect(err.code).toBe('TOTEM_ERR_NOT_JOINED');
    expect(err.details?.group).toBe('g');
    expect(thrown(() => g.trySend(bytes(1))).code).toBe('TOTEM_ERR_NOT_JOINED');
    await g.leave();
    const again = await a.join('g');
    expect(again).not.toBe(g);
    expect(again.state).toBe('joined');
  });

  it('sends made before leave() are delivered before it', async () => {
    const cluster = new FakeCluster({ submitCapacity: 1 });
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    const messages = g.messages();
    cluster.pause();
    const sends = [g.send(bytes(1)), g.send(bytes(2))];
    const leaving = g.leave();
    cluster.resume();
    await Promise.all([...sends, leaving]);
    const got: number[] = [];
    for await (const m of messages) got.push(m.payload[0] as number);
    expect(got).toEqual([1, 2]);
  });
});

describe('close', () => {
  it('rejects waiting sends with TOTEM_ERR_CLOSED and reports undelivered accepted ones', async () => {
    const cluster = new FakeCluster({ submitCapacity: 1 });
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    cluster.pause();
    await g.send(bytes(1));
    const waiting = g.send(bytes(2));
    const closing = a.close({ drainTimeoutMs: 0 });
    expect(a.state).toBe('closing');
    expect((await rejection(waiting)).code).toBe('TOTEM_ERR_CLOSED');
    const err = await rejection(closing);
    expect(err.code).toBe('TOTEM_ERR_UNDELIVERED');
    expect(err.details?.undelivered).toBe(1);
    expect(a.state).toBe('closed');
    expect((await rejection(g.send(bytes(3)))).code).toBe('TOTEM_ERR_CLOSED');
    expect((await rejection(a.join('h'))).code).toBe('TOTEM_ERR_CLOSED');
    expect(a.close()).toBe(a.close());
  });

  it('leaves its groups, drains, ends everything and emits close', async () => {
    const cluster = new FakeCluster();
    const [a, b] = [await startNode(cluster, 1), await startNode(cluster, 2)];
    const [ga, gb] = [await a.join('g'), await b.join('g')];
    const left = membership(gb, (e) => e.cause === 'leave');
    const messages = ga.messages();
    await ga.send(bytes(9));
    const closed = once(a, 'close');
    await a.close();
    await closed;
    expect((await left).left).toEqual([1]);
    expect(ga.state).toBe('left');
    const got: number[] = [];
    for await (const m of messages) got.push(m.payload[0] as number);
    expect(got).toEqual([9]);
    expect(gb.members).toEqual([2]);
  });

  it('supports await using', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1);
    await a[Symbol.asyncDispose]();
    expect(a.state).toBe('closed');
  });
});

describe('runtime failure', () => {
  it("emits 'error', rejects what waits, fails iterators and closes the node", async () => {
    const cluster = new FakeCluster({ submitCapacity: 1 });
    const a = await startNode(cluster, 1);
    const g = await a.join('g');
    const messages = g.messages();
    const configurations = a.configurations();
    cluster.pause();
    await g.send(bytes(1));
    const waiting = rejection(g.send(bytes(2)));
    const failed = once(a, 'error');
    // Not events.once: it rejects on 'error'.
    const closed = new Promise((resolve) => a.on('close', () => resolve(undefined)));
    cluster.crash(1);
    const [error] = (await failed) as [TotemError];
    expect(error).toBeInstanceOf(TotemError);
    expect(error.code).toBe('TOTEM_ERR_WORKER_DIED');
    await closed;
    expect(await waiting).toBe(error);
    expect(await rejection(messages.next())).toBe(error);
    expect((await messages.next()).done).toBe(true);
    expect((await configurations.next()).value?.cause).toBe('start');
    expect(await rejection(configurations.next())).toBe(error);
    expect(a.state).toBe('closed');
    const later = await rejection(g.send(bytes(3)));
    expect(later.code).toBe('TOTEM_ERR_CLOSED');
    expect(later.cause).toBe(error);
    await a.close();
  });

  it('gives an error without a code TOTEM_ERR_ENGINE_FATAL', async () => {
    const cluster = new FakeCluster();
    const a = await startNode(cluster, 1);
    const failed = once(a, 'error');
    cluster.crash(1, new Error('invariant broken'));
    const [error] = (await failed) as [TotemError];
    expect(error.code).toBe('TOTEM_ERR_ENGINE_FATAL');
    expect((error.cause as Error).message).toBe('invariant broken');
  });
});
