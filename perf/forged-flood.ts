/**
 * What a forged datagram costs the net worker: µs of CPU per datagram on the receive path the net
 * worker runs for every datagram (workers/net-worker.ts onDatagram: the ingress gate, then the
 * opener, then the sealer/header check), per kind of forgery, keyed:
 *
 *   unlisted      sealed-looking, claims a node id in nobody's member list, random salt and tag;
 *   wrong_source  claims member 2 but comes from an address that is not member 2's;
 *   fresh_salt    claims member 2 from member 2's address, a new random salt every time;
 *   known_salt    member 2's real salt (a genuine packet was accepted first), fresh counters, bad tag;
 *   runt          10 bytes.
 *
 * In-process and single-threaded: the figure is the CPU of the path itself, without the kernel's
 * receive and libuv's dispatch (equal for every kind), measured as the process's CPU time
 * (process.cpuUsage), so that other processes sharing the machine do not count. Each run opens `--count` datagrams of each
 * kind on a fresh gate and opener; the report is the median and the spread (min..max) of `--runs`
 * runs, in µs per datagram, and the datagrams/s one core rejects at that cost.
 *
 *   node dist/perf/forged-flood.js [--runs 5] [--count 20000] [--json]
 *
 * It also runs against the sealed format version 1 (before the ingress gate existed): when
 * workers/net/ingress-gate.js is missing it lays datagrams out as version 1 and times the old
 * path (opener.open and the header check), so the same file measures before and after.
 */
import { randomBytes } from 'node:crypto';
import { peekHeader } from '../engine/wire/codec.js';
import { encodePacket } from '../engine/wire/encode.js';
import * as auth from '../workers/net/packet-auth.js';

type Kind = 'unlisted' | 'wrong_source' | 'fresh_salt' | 'known_salt' | 'runt';
const kinds: readonly Kind[] = ['unlisted', 'wrong_source', 'fresh_salt', 'known_salt', 'runt'];

interface Args {
  runs: number;
  count: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 5, count: 20_000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1 || v > 10_000_000) throw new Error(`${arg} takes a whole number in 1..10000000`);
      return v;
    };
    if (arg === '--runs') a.runs = next();
    else if (arg === '--count') a.count = next();
    else if (arg === '--json') a.json = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write('Usage: node dist/perf/forged-flood.js [--runs 5] [--count 20000] [--json]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  return a;
}

/** Header layout of the sealed version this build speaks. */
const v2 = (auth.sealedHeaderBytes as number) === 34;
const layout = v2
  ? { version: 2, sender: 2, destination: 6, salt: 10, counter: 26 }
  : { version: 1, sender: 2, destination: -1, salt: 6, counter: 22 };
const overheadBytes = auth.sealedHeaderBytes + auth.tagBytes;
const self = 1;
const peer = 2;
const peerHost = '127.0.0.1';
const peerPort = 40002;
const members = [
  { nodeId: 1, address: { host: '127.0.0.1', port: 40001, family: 'IPv4' as const } },
  { nodeId: 2, address: { host: peerHost, port: peerPort, family: 'IPv4' as const } },
  { nodeId: 3, address: { host: '127.0.0.1', port: 40003, family: 'IPv4' as const } },
];
const bodyBytes = 200;

/** A sealed-looking datagram: header fields as given, the rest random. */
function forged(sender: number, salt: Uint8Array, counter: number): Uint8Array {
  const d = new Uint8Array(overheadBytes + bodyBytes);
  d.set(randomBytes(d.length));
  const view = new DataView(d.buffer);
  d[0] = layout.version;
  d[1] = 0;
  view.setUint32(layout.sender, sender, true);
  if (layout.destination >= 0) view.setUint32(layout.destination, self, true);
  d.set(salt, layout.salt);
  view.setUint32(layout.counter, counter, true);
  view.setUint32(layout.counter + 4, 0, true);
  return d;
}

interface Path {
  receive(msg: Uint8Array, host: string, port: number): boolean;
}

type GateModule = typeof import('../workers/net/ingress-gate.js');

async function loadGate(): Promise<GateModule | null> {
  try {
    // A computed specifier: the same source compiles where the module does not exist yet.
    const specifier = new URL('../workers/net/ingress-gate.js', import.meta.url).href;
    return (await import(specifier)) as GateModule;
  } catch {
    return null;
  }
}

function makePath(key: Uint8Array, gateModule: GateModule | null): Path {
  // The one-argument constructor exists in both versions.
  const opener = new auth.PacketOpener(key);
  if (gateModule === null) {
    // Version 1's net worker: open, then compare the engine header's sender.
    return {
      receive(msg) {
        const r = opener.open(msg);
        if (!r.ok) return false;
        const h = peekHeader(r.plain);
        return h !== null && h.sender === r.sender;
      },
    };
  }
  const gate = new gateModule.IngressGate({ self, members, transport: 'udpu', keyed: true });
  return {
    receive(msg, host, port) {
      if (gate.check(msg, host, port) !== null) return false;
      const r = opener.open(msg);
      if (!r.ok) return false;
      return gate.checkOpened(r.plain, r.sender) === null;
    },
  };
}

/** The datagrams of one kind, made before timing; and the genuine packet that primes known_salt. */
function datagramsOf(kind: Kind, count: number, key: Uint8Array): { list: Uint8Array[]; prime: Uint8Array | null } {
  const list: Uint8Array[] = [];
  let prime: Uint8Array | null = null;
  if (kind === 'known_salt') {
    const sealer = new auth.PacketSealer(key, peer);
    const plain = encodePacket({ type: 'mergeDetect', sender: peer, ringId: { rep: peer, seq: 8n } });
    prime = (sealer.seal as (p: Uint8Array, d?: number) => Uint8Array)(plain, self);
    const salt = prime.subarray(layout.salt, layout.salt + auth.saltBytes);
    for (let i = 0; i < count; i++) list.push(forged(peer, salt, i + 1));
    return { list, prime };
  }
  for (let i = 0; i < count; i++) {
    if (kind === 'runt') list.push(randomBytes(10));
    else list.push(forged(kind === 'unlisted' ? 99 : peer, randomBytes(auth.saltBytes), 0));
  }
  return { list, prime };
}

function runOnce(kind: Kind, count: number, key: Uint8Array, gateModule: GateModule | null): number {
  const path = makePath(key, gateModule);
  const { list, prime } = datagramsOf(kind, count, key);
  if (prime !== null && !path.receive(prime, peerHost, peerPort)) throw new Error('the genuine packet was refused');
  const host = kind === 'wrong_source' ? '127.0.0.9' : peerHost;
  let accepted = 0;
  // CPU time, not wall time: on a shared machine the wall clock counts other processes' turns.
  const before = process.cpuUsage();
  for (const d of list) if (path.receive(d, host, peerPort)) accepted++;
  const used = process.cpuUsage(before);
  if (accepted !== 0) throw new Error(`${accepted} forged ${kind} datagrams were accepted`);
  return (used.user + used.system) / count;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const gateModule = await loadGate();
  const key = new Uint8Array(randomBytes(32));
  const result: Record<string, { medianUs: number; minUs: number; maxUs: number; rejectsPerSec: number }> = {};
  // One untimed warm-up run of every kind, so the JIT has compiled the path before timing.
  for (const kind of kinds) runOnce(kind, Math.min(args.count, 2000), key, gateModule);
  for (const kind of kinds) {
    const us: number[] = [];
    for (let r = 0; r < args.runs; r++) us.push(runOnce(kind, args.count, key, gateModule));
    const m = median(us);
    result[kind] = {
      medianUs: Math.round(m * 1000) / 1000,
      minUs: Math.round(Math.min(...us) * 1000) / 1000,
      maxUs: Math.round(Math.max(...us) * 1000) / 1000,
      rejectsPerSec: Math.round(1e6 / m),
    };
  }
  const sealed = `sealed v${layout.version}${gateModule === null ? ', no ingress gate' : ', ingress gate'}`;
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ sealed, runs: args.runs, count: args.count, kinds: result })}\n`);
    return;
  }
  process.stdout.write(`forged datagrams, ${sealed}: µs per datagram, median of ${args.runs} runs of ${args.count} (min..max)\n`);
  for (const kind of kinds) {
    const r = result[kind];
    if (r === undefined) continue;
    process.stdout.write(`  ${kind.padEnd(13)} ${r.medianUs.toFixed(3).padStart(9)} µs  (${r.minUs.toFixed(3)}..${r.maxUs.toFixed(3)})  ${r.rejectsPerSec} rejected/s per core\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`forged-flood: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
