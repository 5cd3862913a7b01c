import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.js';
import { Network } from './network.js';
import { Prng } from './prng.js';
import { VirtualClock } from './virtual-clock.js';

interface Received {
  atMs: number;
  to: number;
  from: number;
  tag: number;
}

/** A network of `ids` whose endpoints record what they receive; byte 0 of a packet is its tag. */
function harness(ids: number[], seed = 1): { clock: VirtualClock; network: Network; received: Received[] } {
  const clock = new VirtualClock();
  const received: Received[] = [];
  const network = new Network(clock, new Prng(seed), ids, (to, from, bytes) => {
    received.push({ atMs: clock.nowMs, to, from, tag: bytes[0] ?? -1 });
  });
  return { clock, network, received };
}

function packet(tag: number, type = 2): Uint8Array {
  return Uint8Array.of(tag, type);
}

describe('EventQueue', () => {
  it('pops by time, then by insertion order', () => {
    const q = new EventQueue<string>();
    q.push(5, 'c');
    q.push(1, 'a');
    q.push(5, 'd');
    q.push(1, 'b');
    q.push(3, 'x');
    const out: string[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e.value);
    expect(out).toEqual(['a', 'b', 'x', 'c', 'd']);
  });

  it('keeps ties in insertion order over many random pushes', () => {
    const prng = new Prng(7);
    const q = new EventQueue<number>();
    const pushed: { timeMs: number; i: number }[] = [];
    for (let i = 0; i < 2000; i++) {
      const timeMs = prng.int(0, 50);
      q.push(timeMs, i);
      pushed.push({ timeMs, i });
    }
    pushed.sort((a, b) => a.timeMs - b.timeMs || a.i - b.i);
    const out: number[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e.value);
    expect(out).toEqual(pushed.map((p) => p.i));
  });
});

describe('Network', () => {
  it('delivers a unicast after the link delay, never inside send()', () => {
    const { clock, network, received } = harness([1, 2]);
    network.faults = { lossProbability: 0, duplicateProbability: 0, delayMs: 3, jitterMs: 0 };
    network.send(1, 2, packet(9));
    expect(received).toEqual([]);
    clock.runUntil(100);
    expect(received).toEqual([{ atMs: 3, to: 2, from: 1, tag: 9 }]);
  });

  it('broadcasts to every node, the sender included, and loops back even under total loss', () => {
    const { clock, network, received } = harness([1, 2, 3]);
    network.send(2, 0, packet(1));
    clock.runUntil(10);
    expect(received.map((r) => r.to).sort()).toEqual([1, 2, 3]);
    received.length = 0;
    network.faults = { ...network.faults, lossProbability: 1 };
    network.send(2, 0, packet(2));
    clock.runUntil(20);
    expect(received.map((r) => r.to)).toEqual([2]);
  });

  it('a send to self arrives as a later event', () => {
    const { clock, network, received } = harness([4]);
    network.send(4, 4, packet(5));
    expect(received).toEqual([]);
    clock.runUntil(0);
    expect(received).toEqual([{ atMs: 0, to: 4, from: 4, tag: 5 }]);
  });

  it('drops about the configured fraction of packets', () => {
    const { clock, network, received } = harness([1, 2]);
    network.faults = { lossProbability: 0.1, duplicateProbability: 0, delayMs: 1, jitterMs: 0 };
    for (let i = 0; i < 10_000; i++) network.send(1, 2, packet(0));
    clock.runUntil(10);
    expect(received.length).toBeGreaterThan(8700);
    expect(received.length).toBeLessThan(9300);
    expect(network.stats.packetsLost).toBe(10_000 - received.length);
  });

  it('duplicates packets', () => {
    const { clock, network, received } = harness([1, 2]);
    network.faults = { lossProbability: 0, duplicateProbability: 0.5, delayMs: 1, jitterMs: 4 };
    for (let i = 0; i < 1000; i++) network.send(1, 2, packet(i & 0xff));
    clock.runUntil(100);
    expect(received.length).toBeGreaterThan(1400);
    expect(received.length).toBeLessThan(1600);
    expect(network.stats.packetsDuplicated).toBe(received.length - 1000);
  });

  it('reorders with jitter and keeps order without it', () => {
    const ordered = harness([1, 2]);
    for (let i = 0; i < 100; i++) ordered.network.send(1, 2, packet(i));
    ordered.clock.runUntil(100);
    expect(ordered.received.map((r) => r.tag)).toEqual(Array.from({ length: 100 }, (_, i) => i));

    const jittered = harness([1, 2]);
    jittered.network.faults = { lossProbability: 0, duplicateProbability: 0, delayMs: 1, jitterMs: 10 };
    for (let i = 0; i < 100; i++) jittered.network.send(1, 2, packet(i));
    jittered.clock.runUntil(100);
    const tags = jittered.received.map((r) => r.tag);
    expect(tags).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...tags].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('a symmetric partition blocks both directions until healed', () => {
    const { clock, network, received } = harness([1, 2, 3, 4]);
    network.partition([
      [1, 2],
      [3, 4],
    ]);
    network.send(1, 0, packet(1));
    network.send(3, 0, packet(3));
    clock.runUntil(10);
    const pairs = received.map((r) => `${r.from}->${r.to}`).sort();
    expect(pairs).toEqual(['1->1', '1->2', '3->3', '3->4']);
    network.heal();
    received.length = 0;
    network.send(1, 3, packet(1));
    network.send(4, 2, packet(4));
    clock.runUntil(20);
    expect(received.map((r) => `${r.from}->${r.to}`)).toEqual(['1->3', '4->2']);
  });

  it('an asymmetric partition blocks one direction only', () => {
    const { clock, network, received } = harness([1, 2]);
    network.block(1, 2);
    network.send(1, 2, packet(1));
    network.send(2, 1, packet(2));
    clock.runUntil(10);
    expect(received.map((r) => `${r.from}->${r.to}`)).toEqual(['2->1']);
    expect(network.stats.packetsBlocked).toBe(1);
  });

  it('nodes outside every listed side form one more side', () => {
    const { clock, network, received } = harness([1, 2, 3]);
    network.partition([[1]]);
    network.send(2, 0, packet(2));
    clock.runUntil(10);
    expect(received.map((r) => r.to).sort()).toEqual([2, 3]);
  });

  it('token-loss storms drop token packets (type byte 1) and nothing else', () => {
    const { clock, network, received } = harness([1, 2]);
    network.tokenLossProbability = 1;
    network.send(1, 2, packet(1, 1));
    network.send(1, 2, packet(2, 2));
    clock.runUntil(10);
    expect(received.map((r) => r.tag)).toEqual([2]);
  });

  it('packets to a crashed node vanish, also those in flight when it crashed', () => {
    const { clock, network, received } = harness([1, 2]);
    network.faults = { lossProbability: 0, duplicateProbability: 0, delayMs: 5, jitterMs: 0 };
    network.send(1, 2, packet(1));
    clock.runUntil(2);
    network.crash(2);
    network.send(1, 2, packet(2));
    clock.runUntil(3);
    // Restarted before the first packet would have arrived: the new process never sees it.
    network.restart(2);
    network.send(1, 2, packet(3));
    clock.runUntil(20);
    expect(received.map((r) => r.tag)).toEqual([3]);
    expect(network.stats.packetsVanished).toBe(2);
  });

  it('packets in flight from a node that crashes vanish', () => {
    const { clock, network, received } = harness([1, 2]);
    network.faults = { lossProbability: 0, duplicateProbability: 0, delayMs: 5, jitterMs: 0 };
    network.send(1, 2, packet(1));
    clock.runUntil(1);
    network.crash(1);
    clock.runUntil(20);
    expect(received).toEqual([]);
    expect(() => network.send(1, 2, packet(2))).toThrow(/crashed/);
  });

  it('per-link overrides apply to that direction only', () => {
    const { clock, network, received } = harness([1, 2]);
    network.setLink(1, 2, { lossProbability: 1 });
    for (let i = 0; i < 10; i++) {
      network.send(1, 2, packet(1));
      network.send(2, 1, packet(2));
    }
    clock.runUntil(10);
    expect(received.every((r) => r.from === 2)).toBe(true);
    expect(received).toHaveLength(10);
  });

  it('one seed gives one event order; another seed another', () => {
    const runOnce = (seed: number): string => {
      const { clock, network, received } = harness([1, 2, 3, 4, 5], seed);
      network.faults = { lossProbability: 0.05, duplicateProbability: 0.05, delayMs: 1, jitterMs: 6 };
      for (let i = 0; i < 200; i++) network.send((i % 5) + 1, i % 3 === 0 ? 0 : ((i * 7) % 5) + 1, packet(i & 0xff));
      clock.runUntil(1000);
      return received.map((r) => `${r.atMs}:${r.from}>${r.to}#${r.tag}`).join(',');
    };
    expect(runOnce(42)).toBe(runOnce(42));
    expect(runOnce(42)).not.toBe(runOnce(43));
  });
});

describe('Prng', () => {
  it('is a pure function of its seed and stays in range', () => {
    const a = new Prng(123);
    const b = new Prng(123);
    for (let i = 0; i < 1000; i++) {
      const x = a.int(-3, 17);
      expect(x).toBe(b.int(-3, 17));
      expect(x).toBeGreaterThanOrEqual(-3);
      expect(x).toBeLessThanOrEqual(17);
    }
    expect(new Prng(1).nextU32()).not.toBe(new Prng(2).nextU32());
  });
});
