/**
 * What bare node:dgram achieves on the bench's ring shape: the ceiling the machine allows, with no
 * token, no ordering and no threads in between. Two measurements, each in child processes placed
 * where the ring's nodes are (loopback, or the bench's network namespaces through `wrap`):
 *
 *   throughput: one sender process sends datagrams of the ring's frame size (perf/frame-size.ts)
 *     to N − 1 receiver processes as fast as it can for a few seconds, by unicast to each receiver
 *     in turn ('udpu') or once to an IP multicast group every receiver joined ('multicast');
 *     each receiver counts what arrives. The figure is frames/s and bytes/s at the slowest
 *     receiver.
 *   round trip: N processes in a ring; process 1 sends a datagram of the frame size to process 2
 *     at a paced rate, each process forwards what it receives to its successor, and process 1
 *     records the time until it comes back (from the intended send time, like the bench's paced
 *     runs). The figure a token-passing ring cannot beat for one circuit.
 *
 * The same file is the child entry: `node udp-baseline.js receiver|sender|hop ...`.
 * Everything is bounded: a sender stops after its seconds or framesMax datagrams, a receiver
 * 1 s after its last datagram or at a hard deadline, and the harness kills (by PID) whatever is
 * still running past its own deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import hdr from 'hdr-histogram-js';

export interface UdpBaselineResult {
  frameBytes: number;
  receivers: number;
  transport: BaselineTransport;
  durationS: number;
  sentFrames: number;
  framesPerSecSlowest: number;
  bytesPerSecSlowest: number;
  perReceiverFramesPerSec: number[];
}

export interface UdpRoundTripResult {
  nodes: number;
  frameBytes: number;
  ratePerSec: number;
  durationS: number;
  sentFrames: number;
  /** Datagrams that did not come back (lost on the way, or still travelling at the end). */
  lostFrames: number;
  rttUs: { p50: number; p90: number; p99: number; p999: number; max: number; count: number };
}

export type BaselineTransport = 'udpu' | 'multicast';

/** How a child process is started: by default plain `node`, e.g. `ip netns exec NS node` for a namespace. */
export type Wrap = (index: number, command: string, args: string[]) => { command: string; args: string[] };

export interface UdpBaselineOptions {
  receivers: number;
  frameBytes: number;
  durationS: number;
  transport?: BaselineTransport;
  /** Address of each process, sender first: [sender, receiver 1, ...]. Default 127.0.0.1 for all. */
  hosts?: readonly string[];
  /** Group address and port for 'multicast'. */
  multicastGroup?: { host: string; port: number };
  wrap?: Wrap;
}

export interface UdpRoundTripOptions {
  nodes: number;
  frameBytes: number;
  ratePerSec: number;
  durationS: number;
  hosts?: readonly string[];
  wrap?: Wrap;
}

const receiveBufferBytes = 4 * 1024 * 1024;
const sendBatch = 256;
const framesMaxDefault = 50_000_000;
const self = fileURLToPath(import.meta.url);
const plainWrap: Wrap = (_i, command, args) => ({ command, args });

function lineReader(child: ChildProcess, onLine: (line: string) => void): void {
  if (child.stdout === null) return;
  createInterface({ input: child.stdout }).on('line', onLine);
}

function hostOf(hosts: readonly string[] | undefined, index: number): string {
  return hosts?.[index] ?? '127.0.0.1';
}

function startChild(wrap: Wrap, index: number, args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const how = wrap(index, process.execPath, [self, ...args]);
  return spawn(how.command, how.args, { stdio: [stdin, 'pipe', 'inherit'] });
}

function killAll(children: ChildProcess[]): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

async function raceDeadline<T>(work: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in time`)), deadlineMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

interface ReceiverSummary {
  frames: number;
  bytes: number;
  spanMs: number;
}

/** The throughput ceiling: runs in child processes; rejects when they do not report in time. */
export async function runUdpBaseline(o: UdpBaselineOptions): Promise<UdpBaselineResult> {
  const transport = o.transport ?? 'udpu';
  const wrap = o.wrap ?? plainWrap;
  if (transport === 'multicast' && o.multicastGroup === undefined) throw new Error('udp baseline: multicast needs a group');
  const children: ChildProcess[] = [];
  try {
    const ports: number[] = [];
    const summaries: ReceiverSummary[] = [];
    const receiverDone: Promise<void>[] = [];
    for (let i = 0; i < o.receivers; i++) {
      const host = hostOf(o.hosts, i + 1);
      const group = transport === 'multicast' ? `${o.multicastGroup?.host}:${o.multicastGroup?.port}` : '-';
      const child = startChild(wrap, i + 1, ['receiver', String(o.durationS + 10), host, group]);
      children.push(child);
      receiverDone.push(new Promise<void>((resolve, reject) => {
        lineReader(child, (line) => {
          const msg = JSON.parse(line) as { port?: number } & Partial<ReceiverSummary>;
          if (msg.port !== undefined) ports[i] = msg.port;
          else if (msg.frames !== undefined) {
            summaries[i] = msg as ReceiverSummary;
            resolve();
          }
        });
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`udp baseline receiver exited with ${code}`))));
      }));
    }
    await waitFor(() => ports.filter((p) => p !== undefined).length === o.receivers, 10_000, 'udp baseline receivers did not bind in time');
    const targets = transport === 'multicast'
      ? [`${o.multicastGroup?.host}:${o.multicastGroup?.port}`]
      : ports.map((p, i) => `${hostOf(o.hosts, i + 1)}:${p}`);
    const sender = startChild(wrap, 0, ['sender', String(o.frameBytes), String(o.durationS), String(framesMaxDefault), hostOf(o.hosts, 0), ...targets]);
    children.push(sender);
    let sentFrames = 0;
    lineReader(sender, (line) => (sentFrames = (JSON.parse(line) as { sentFrames: number }).sentFrames));
    const all = Promise.all([...receiverDone, new Promise<void>((r) => sender.once('exit', () => r()))]);
    await raceDeadline(all, (o.durationS + 15) * 1000, 'udp baseline');
    const rates = summaries.map((s) => (s.spanMs > 0 ? (s.frames * 1000) / s.spanMs : 0));
    const slowest = rates.length === 0 ? 0 : Math.min(...rates);
    return {
      frameBytes: o.frameBytes,
      receivers: o.receivers,
      transport,
      durationS: o.durationS,
      sentFrames,
      framesPerSecSlowest: Math.round(slowest),
      bytesPerSecSlowest: Math.round(slowest * o.frameBytes),
      perReceiverFramesPerSec: rates.map(Math.round),
    };
  } finally {
    killAll(children);
  }
}

/** The round-trip floor: a paced datagram around a ring of `nodes` processes. */
export async function runUdpRoundTrip(o: UdpRoundTripOptions): Promise<UdpRoundTripResult> {
  if (o.nodes < 2) throw new Error('udp round trip: needs 2 nodes or more');
  const wrap = o.wrap ?? plainWrap;
  const children: ChildProcess[] = [];
  try {
    const ports: number[] = [];
    let result: UdpRoundTripResult | null = null;
    const done: Promise<void>[] = [];
    for (let i = 0; i < o.nodes; i++) {
      const child = startChild(wrap, i, ['hop', String(i), hostOf(o.hosts, i), String(o.frameBytes), String(o.ratePerSec), String(o.durationS)], 'pipe');
      children.push(child);
      done.push(new Promise<void>((resolve, reject) => {
        lineReader(child, (line) => {
          const msg = JSON.parse(line) as { port?: number; result?: Omit<UdpRoundTripResult, 'nodes'> };
          if (msg.port !== undefined) ports[i] = msg.port;
          if (msg.result !== undefined) result = { nodes: o.nodes, ...msg.result };
        });
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`udp round trip hop ${i} exited with ${code}`))));
      }));
    }
    await waitFor(() => ports.filter((p) => p !== undefined).length === o.nodes, 10_000, 'udp round trip hops did not bind in time');
    // Successors are given last, so that the origin starts only once every hop listens.
    for (let i = o.nodes - 1; i >= 0; i--) {
      const next = (i + 1) % o.nodes;
      children[i]?.stdin?.end(`${hostOf(o.hosts, next)}:${ports[next]}\n`);
    }
    await raceDeadline(Promise.all(done), (o.durationS + 15) * 1000, 'udp round trip');
    if (result === null) throw new Error('udp round trip: the origin reported nothing');
    return result;
  } finally {
    killAll(children);
  }
}

async function waitFor(ok: () => boolean, withinMs: number, message: string): Promise<void> {
  const started = Date.now();
  while (!ok()) {
    if (Date.now() - started > withinMs) throw new Error(message);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function parseTarget(t: string): { host: string; port: number } {
  const at = t.lastIndexOf(':');
  return { host: t.slice(0, at), port: Number(t.slice(at + 1)) };
}

function bindTo(socket: Socket, host: string, port = 0): Promise<void> {
  return new Promise((resolve) => socket.bind(port, host, () => resolve()));
}

async function receiverMain(hardStopS: number, host: string, group: string): Promise<void> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: receiveBufferBytes, reuseAddr: group !== '-' });
  let frames = 0;
  let bytes = 0;
  let firstMs = 0;
  let lastMs = 0;
  const finish = (): void => {
    process.stdout.write(`${JSON.stringify({ frames, bytes, spanMs: lastMs - firstMs })}\n`);
    socket.close();
    clearInterval(idle);
    clearTimeout(hard);
  };
  socket.on('message', (msg) => {
    const now = performance.now();
    if (frames === 0) firstMs = now;
    lastMs = now;
    frames += 1;
    bytes += msg.length;
  });
  const idle = setInterval(() => {
    if (frames > 0 && performance.now() - lastMs > 1000) finish();
  }, 100);
  const hard = setTimeout(finish, hardStopS * 1000);
  if (group === '-') {
    await bindTo(socket, host);
  } else {
    const g = parseTarget(group);
    await bindTo(socket, '0.0.0.0', g.port);
    socket.addMembership(g.host, host);
  }
  process.stdout.write(`${JSON.stringify({ port: socket.address().port })}\n`);
}

async function senderMain(frameBytes: number, durationS: number, framesMax: number, host: string, targets: string[]): Promise<void> {
  const socket = createSocket('udp4');
  await bindTo(socket, host);
  if (targets.length === 1 && isMulticast(parseTarget(targets[0] as string).host)) socket.setMulticastInterface(host);
  const to = targets.map(parseTarget);
  const frame = Buffer.alloc(frameBytes, 0x5a);
  const endMs = performance.now() + durationS * 1000;
  let sent = 0;
  // Batches of sends with their callbacks awaited: at most sendBatch datagrams in flight.
  while (performance.now() < endMs && sent < framesMax) {
    await new Promise<void>((resolve) => {
      let pending = sendBatch;
      const done = (): void => {
        pending -= 1;
        if (pending === 0) resolve();
      };
      for (let i = 0; i < sendBatch; i++) {
        const t = to[(sent + i) % to.length] as { host: string; port: number };
        socket.send(frame, t.port, t.host, done);
      }
      sent += sendBatch;
    });
  }
  process.stdout.write(`${JSON.stringify({ sentFrames: sent })}\n`);
  socket.close();
}

function isMulticast(host: string): boolean {
  const first = Number(host.split('.')[0]);
  return first >= 224 && first <= 239;
}

/**
 * One process of the round-trip ring. Index 0 is the origin: it sends datagram k at its intended
 * time start + k / rate, carrying k, and records now − intended when k comes back; the others
 * forward every datagram to their successor unchanged.
 */
async function hopMain(index: number, host: string, frameBytes: number, ratePerSec: number, durationS: number): Promise<void> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: receiveBufferBytes });
  await bindTo(socket, host);
  process.stdout.write(`${JSON.stringify({ port: socket.address().port })}\n`);
  const line = await new Promise<string>((resolve) => {
    createInterface({ input: process.stdin }).once('line', resolve);
  });
  const next = parseTarget(line.trim());
  if (index !== 0) {
    // The origin's end is this hop's end: it stops one second after the last datagram it forwarded
    // (or at a hard deadline if none ever comes).
    let lastMs = -1;
    socket.on('message', (msg) => {
      lastMs = performance.now();
      socket.send(msg, next.port, next.host);
    });
    await new Promise<void>((resolve) => {
      const hard = setTimeout(() => finish(), (durationS + 10) * 1000);
      const check = setInterval(() => {
        if (lastMs >= 0 && performance.now() - lastMs > 1000) finish();
      }, 100);
      function finish(): void {
        clearInterval(check);
        clearTimeout(hard);
        resolve();
      }
    });
    socket.close();
    return;
  }
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const intervalMs = 1000 / ratePerSec;
  const total = Math.max(1, Math.floor(durationS * ratePerSec));
  const intendedMs = new Float64Array(total);
  const frame = Buffer.alloc(Math.max(8, frameBytes), 0x5a);
  let received = 0;
  socket.on('message', (msg) => {
    const k = msg.readUInt32LE(0);
    if (k >= total) return;
    histogram.recordValue(Math.max(1, Math.round((performance.now() - (intendedMs[k] as number)) * 1000)));
    received += 1;
  });
  const startMs = performance.now() + 5;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      // Every datagram whose time has come, each stamped with its intended time (a late timer
      // does not hide the delay: coordinated omission).
      while (sent < total && startMs + sent * intervalMs <= now) {
        intendedMs[sent] = startMs + sent * intervalMs;
        frame.writeUInt32LE(sent, 0);
        socket.send(frame, next.port, next.host);
        sent += 1;
      }
      if (sent >= total) resolve();
      else setTimeout(tick, Math.max(0, startMs + sent * intervalMs - performance.now()));
    };
    tick();
  });
  await new Promise((r) => setTimeout(r, 500));
  socket.close();
  const p = (q: number): number => Math.round(histogram.getValueAtPercentile(q));
  process.stdout.write(`${JSON.stringify({
    result: {
      frameBytes, ratePerSec, durationS, sentFrames: sent, lostFrames: sent - received,
      rttUs: { p50: p(50), p90: p(90), p99: p(99), p999: p(99.9), max: Math.round(histogram.maxValue), count: received },
    },
  })}\n`);
}

if (process.argv[1] === self) {
  const [role, ...rest] = process.argv.slice(2);
  if (role === 'receiver') {
    await receiverMain(Number(rest[0] ?? 20), rest[1] ?? '127.0.0.1', rest[2] ?? '-');
  } else if (role === 'sender') {
    const [frameBytes, durationS, framesMax, host, ...targets] = rest;
    await senderMain(Number(frameBytes), Number(durationS), Number(framesMax), host ?? '127.0.0.1', targets);
  } else if (role === 'hop') {
    const [index, host, frameBytes, rate, durationS] = rest;
    await hopMain(Number(index), host ?? '127.0.0.1', Number(frameBytes), Number(rate), Number(durationS));
  } else if (role === 'run') {
    const [receivers, frameBytes, durationS] = rest.map(Number);
    console.log(JSON.stringify(await runUdpBaseline({ receivers: receivers ?? 2, frameBytes: frameBytes ?? 1086, durationS: durationS ?? 3 })));
  } else if (role === 'round-trip') {
    const [nodes, frameBytes, rate, durationS] = rest.map(Number);
    console.log(JSON.stringify(await runUdpRoundTrip({ nodes: nodes ?? 3, frameBytes: frameBytes ?? 1086, ratePerSec: rate ?? 1000, durationS: durationS ?? 3 })));
  } else {
    process.stderr.write('usage: udp-baseline.js run RECEIVERS FRAME_BYTES SECONDS | round-trip NODES FRAME_BYTES RATE SECONDS\n');
    process.exitCode = 2;
  }
}
