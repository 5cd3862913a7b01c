/**
 * A keyless on-path attacker in front of node 1 of a 3-node ring of real processes on loopback.
 *
 * The proxy (in this test process) owns node 1's address as nodes 2 and 3 know it (P1), and nodes
 * 2's and 3's addresses as node 1 knows them (A, B): node 1 is configured with 2@A and 3@B, nodes
 * 2 and 3 with 1@P1. Every datagram is forwarded on its way, with the right source address, so
 * the ring works through the proxy; besides, the proxy
 *   - copies datagrams to the other node and back to their sender (from the address it holds),
 *   - replays old datagrams late, along their original way,
 *   - sends mutated copies (one byte flipped),
 *   - unkeyed, also forges joins in node 1's name with wild fields (ring seq 2^64 - 1, hundreds
 *     of made-up ids).
 * Keyed: no node fails, no probe message is corrupt, duplicated, missing or reordered, and the
 * traces pass the EVS checker. Unkeyed: the ring is whole again once the attack stops.
 *
 * A second test: a key holder whose node id is in nobody's member list is never let in.
 * Every wait is bounded; every process started here is stopped here by its PID.
 */
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkTrace } from '../../api/check/evs-checker.js';
import { readTraceDir } from '../../api/check/trace-reader.js';
import {
  freeUdpPorts,
  lastJson,
  regularWith,
  startNodeProcess,
  stopGracefully,
  waitForLine,
  type NodeProcess,
} from './node-cluster.js';
import { useProcessCleanup } from './process-cleanup.js';

const cleanup = useProcessCleanup();
const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.close();
});

const host = '127.0.0.1';

/** A deterministic generator, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function bound(port: number): Promise<Socket> {
  const s = createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, host, () => resolve());
  });
  return s;
}

/** A join in `sender`'s name: ring seq 2^64 - 1 and `ids` made-up node ids (engine/wire/layout.ts). */
function wildJoin(sender: number, ids: number): Uint8Array {
  const bytes = new Uint8Array(8 + 8 + 2 + 4 * ids + 2);
  const v = new DataView(bytes.buffer);
  v.setUint8(0, 1);
  v.setUint8(1, 3);
  v.setUint32(4, sender, true);
  v.setBigUint64(8, 0xffff_ffff_ffff_ffffn, true);
  v.setUint16(16, ids, true);
  for (let i = 0; i < ids; i++) v.setUint32(18 + 4 * i, 1000 + i, true);
  v.setUint16(18 + 4 * ids, 0, true);
  return bytes;
}

interface Proxy {
  /** Attacks on (true) or plain forwarding only (false). */
  attacking: boolean;
  counts: { forwarded: number; copied: number; replayed: number; mutated: number; forged: number };
}

/**
 * Forwards between node 1 (real port r1) and nodes 2, 3 (r2, r3) through P1, A, B; attacks while
 * `attacking`.
 */
async function startProxy(ports: { p1: number; a: number; b: number; r1: number; r2: number; r3: number }, forgeJoins: boolean): Promise<Proxy> {
  const random = prng(9);
  const proxy: Proxy = { attacking: false, counts: { forwarded: 0, copied: 0, replayed: 0, mutated: 0, forged: 0 } };
  const p1 = await bound(ports.p1);
  const a = await bound(ports.a);
  const b = await bound(ports.b);
  /** Old datagrams: the socket and port they went out on. */
  const history: { via: Socket; to: number; bytes: Buffer }[] = [];
  const send = (via: Socket, to: number, bytes: Uint8Array): void => {
    via.send(bytes, to, host);
  };
  const pass = (via: Socket, to: number, msg: Buffer, back: { via: Socket; to: number }, other: { via: Socket; to: number }): void => {
    send(via, to, msg);
    proxy.counts.forwarded++;
    if (history.length < 2000) history.push({ via, to, bytes: Buffer.from(msg) });
    else history[Math.floor(random() * history.length)] = { via, to, bytes: Buffer.from(msg) };
    if (!proxy.attacking) return;
    if (random() < 0.3) {
      send(other.via, other.to, msg);
      proxy.counts.copied++;
    }
    if (random() < 0.2) {
      send(back.via, back.to, msg);
      proxy.counts.copied++;
    }
    if (random() < 0.1) {
      const mutated = Buffer.from(msg);
      const at = Math.floor(random() * mutated.length);
      mutated[at] = (mutated[at] as number) ^ (1 + Math.floor(random() * 255));
      send(via, to, mutated);
      proxy.counts.mutated++;
    }
  };
  // From node 2 or 3 to node 1: arrives at P1, goes on from A or B.
  p1.on('message', (msg, rinfo) => {
    if (rinfo.port === ports.r2) pass(a, ports.r1, msg, { via: p1, to: ports.r2 }, { via: p1, to: ports.r3 });
    else if (rinfo.port === ports.r3) pass(b, ports.r1, msg, { via: p1, to: ports.r3 }, { via: p1, to: ports.r2 });
  });
  // From node 1 to node 2 or 3: arrives at A or B, goes on from P1.
  a.on('message', (msg) => pass(p1, ports.r2, msg, { via: a, to: ports.r1 }, { via: p1, to: ports.r3 }));
  b.on('message', (msg) => pass(p1, ports.r3, msg, { via: b, to: ports.r1 }, { via: p1, to: ports.r2 }));
  const timer = setInterval(() => {
    if (!proxy.attacking) return;
    for (let i = 0; i < 20 && history.length > 0; i++) {
      const old = history[Math.floor(random() * history.length)];
      if (old === undefined) continue;
      send(old.via, old.to, old.bytes);
      proxy.counts.replayed++;
    }
    if (forgeJoins) {
      // In node 1's name from node 1's address: only the engine can tell these apart.
      for (const to of [ports.r2, ports.r3]) send(p1, to, wildJoin(1, random() < 0.5 ? 300 : 3));
      proxy.counts.forged += 2;
    }
  }, 50);
  timer.unref();
  return proxy;
}

async function ringThroughProxy(keyed: boolean, forgeJoins: boolean): Promise<void> {
  const traceDir = cleanup.tempDir('totem-evs-hostile-');
  const [r1, r2, r3, p1, a, b] = (await freeUdpPorts(6)) as [number, number, number, number, number, number];
  const proxy = await startProxy({ p1, a, b, r1, r2, r3 }, forgeJoins);
  const keyArgs: string[] = [];
  if (keyed) {
    // Not in the trace directory: the checker reads every file there.
    const keyDir = cleanup.tempDir('totem-evs-key-');
    const keyFile = join(keyDir, 'cluster.key');
    writeFileSync(keyFile, `${'5a'.repeat(32)}\n`, { mode: 0o600 });
    keyArgs.push('--key', keyFile);
  }
  const membersOf = (id: number): string[] =>
    id === 1
      ? ['--member', `1@${host}:${r1}`, '--member', `2@${host}:${a}`, '--member', `3@${host}:${b}`]
      : ['--member', `1@${host}:${p1}`, '--member', `2@${host}:${r2}`, '--member', `3@${host}:${r3}`];
  const real = [r1, r2, r3];
  const procs = [1, 2, 3].map((id) => {
    const p = startNodeProcess(id, [
      '--listen', `${host}:${real[id - 1]}`, ...membersOf(id), ...keyArgs,
      '--trace-dir', traceDir, '--rate', '200', '--size', '200', '--order', 'mixed', '--token-ms', '500',
    ]);
    cleanup.track(p);
    return p;
  });
  for (const p of procs) await waitForLine(p, regularWith([1, 2, 3]), 30_000, 'a 3-member ring through the proxy');

  proxy.attacking = true;
  await new Promise((r) => setTimeout(r, 6000));
  proxy.attacking = false;
  expect(proxy.counts.copied).toBeGreaterThan(100);
  expect(proxy.counts.replayed).toBeGreaterThan(100);
  expect(proxy.counts.mutated).toBeGreaterThan(10);

  // Whole again once the attack stops: a regular configuration of all three, printed last.
  const settleDeadline = Date.now() + 30_000;
  const lastConfiguration = (p: NodeProcess): string | undefined => [...p.lines].reverse().find((l) => l.startsWith('configuration'));
  while (Date.now() < settleDeadline) {
    if (procs.every((p) => p.child.exitCode === null && regularWith([1, 2, 3])(lastConfiguration(p) ?? ''))) break;
    if (procs.some((p) => p.child.exitCode !== null)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1000));
  for (const p of procs) {
    expect(p.child.exitCode, `node ${p.id} still runs; stderr: ${p.stderr.join('').slice(-2000)}`).toBeNull();
    expect(lastConfiguration(p), `node ${p.id}'s last configuration`).toSatisfy(regularWith([1, 2, 3]));
  }
  for (const p of procs) expect(await stopGracefully(p, 15_000)).toBe(0);

  if (keyed) {
    for (const p of procs) {
      expect(lastJson(p)['integrity']).toEqual({ corrupt: 0, missing: 0, duplicated: 0, reordered: 0 });
    }
    const result = checkTrace(await readTraceDir(traceDir), {});
    expect(result.violations.map((v) => `${v.property}: ${v.message}`)).toEqual([]);
    expect(result.ok).toBe(true);
    // The gate named what it saw: copies sealed for another node, and mutations.
    const stderr = procs.map((p) => p.stderr.join('')).join('');
    expect(stderr).toContain('sealed for another node');
    expect(stderr).toContain('failed authentication');
  }
}

describe('a keyless on-path proxy in front of node 1', () => {
  it('keyed: copies, replays and mutations fail no node, and the traces keep every EVS property', { timeout: 120_000 }, async () => {
    await ringThroughProxy(true, false);
  });

  it('unkeyed: forged wild joins and mutated datagrams; the ring is whole again once the attack stops', { timeout: 120_000 }, async () => {
    await ringThroughProxy(false, true);
  });
});

describe('member list', () => {
  it('a key holder with a node id in nobody\'s member list is never let in', { timeout: 90_000 }, async () => {
    const dir = cleanup.tempDir('totem-evs-unlisted-');
    const keyFile = join(dir, 'cluster.key');
    writeFileSync(keyFile, `${'6b'.repeat(32)}\n`, { mode: 0o600 });
    const ports = await freeUdpPorts(4);
    const members = [1, 2, 3].flatMap((id) => ['--member', `${id}@${host}:${ports[id - 1]}`]);
    const procs = [1, 2, 3].map((id) => {
      const p = startNodeProcess(id, ['--listen', `${host}:${ports[id - 1]}`, ...members, '--key', keyFile, '--token-ms', '500']);
      cleanup.track(p);
      return p;
    });
    for (const p of procs) await waitForLine(p, regularWith([1, 2, 3]), 30_000, 'a 3-member ring');
    // Node 99 holds the key and lists the ring's members and itself.
    const intruder = startNodeProcess(99, ['--listen', `${host}:${ports[3]}`, ...members, '--member', `99@${host}:${ports[3]}`, '--key', keyFile, '--token-ms', '500']);
    cleanup.track(intruder);
    // Each node names the intruder's datagrams once they arrive (the process may take seconds to
    // start on a loaded machine), and for a while after none lets it in.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !procs.every((p) => p.stderr.join('').includes('not in the member list'))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 3000));
    expect(intruder.child.exitCode).toBeNull();
    for (const p of procs) {
      expect(p.child.exitCode).toBeNull();
      expect(p.lines.filter((l) => l.startsWith('configuration') && / members [\d,]*\b99\b/.test(l))).toEqual([]);
      expect(p.stderr.join('')).toContain('not in the member list');
    }
    expect(intruder.lines.filter((l) => l.startsWith('configuration regular') && /members [\d,]*\b1\b/.test(l))).toEqual([]);
    for (const p of [...procs, intruder]) await stopGracefully(p, 15_000);
  });
});
