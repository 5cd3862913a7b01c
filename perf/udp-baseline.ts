/**
 * What bare node:dgram achieves on the bench's ring shape, on loopback: one sender process sends
 * datagrams of the ring's frame size (perf/frame-size.ts) by unicast to each of N − 1 receiver
 * processes, round-robin, as fast as it can for a few seconds; each receiver counts what arrives.
 * The figure is frames/s and bytes/s at the slowest receiver: an upper bound for a ring whose
 * sender unicasts every frame to every other member (udpu), with no token, no ordering and no
 * threads in between.
 *
 * The same file is the child entry: `node udp-baseline.js receiver|sender ...` (spawned below).
 * Everything is bounded: the sender stops after --duration seconds or --frames-max datagrams;
 * a receiver stops 1 s after its last datagram or at a hard deadline, and the harness kills (by
 * PID) whatever is still running past its own deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';

export interface UdpBaselineResult {
  frameBytes: number;
  receivers: number;
  durationS: number;
  sentFrames: number;
  framesPerSecSlowest: number;
  bytesPerSecSlowest: number;
  perReceiverFramesPerSec: number[];
}

interface ReceiverSummary {
  frames: number;
  bytes: number;
  spanMs: number;
}

const receiveBufferBytes = 4 * 1024 * 1024;
const sendBatch = 256;
const framesMaxDefault = 50_000_000;
const self = fileURLToPath(import.meta.url);

function lineReader(child: ChildProcess, onLine: (line: string) => void): void {
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const p of parts) onLine(p);
  });
}

/** Runs the baseline in child processes; rejects when they do not report in time. */
export async function runUdpBaseline(receivers: number, frameBytes: number, durationS: number): Promise<UdpBaselineResult> {
  const children: ChildProcess[] = [];
  const deadlineMs = (durationS + 15) * 1000;
  try {
    const ports: number[] = [];
    const summaries: ReceiverSummary[] = [];
    const receiverDone: Promise<void>[] = [];
    for (let i = 0; i < receivers; i++) {
      const child = spawn(process.execPath, [self, 'receiver', String(durationS + 10)], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      receiverDone.push(new Promise<void>((resolve, reject) => {
        let port = false;
        lineReader(child, (line) => {
          const msg = JSON.parse(line) as { port?: number } & Partial<ReceiverSummary>;
          if (!port && msg.port !== undefined) {
            port = true;
            ports[i] = msg.port;
          } else if (msg.frames !== undefined) {
            summaries[i] = msg as ReceiverSummary;
            resolve();
          }
        });
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`udp baseline receiver exited with ${code}`))));
      }));
    }
    const started = Date.now();
    while (ports.filter((p) => p !== undefined).length < receivers) {
      if (Date.now() - started > 10_000) throw new Error('udp baseline receivers did not bind in time');
      await new Promise((r) => setTimeout(r, 20));
    }
    const sender = spawn(process.execPath, [self, 'sender', String(frameBytes), String(durationS), String(framesMaxDefault), ...ports.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(sender);
    let sentFrames = 0;
    lineReader(sender, (line) => (sentFrames = (JSON.parse(line) as { sentFrames: number }).sentFrames));
    const all = Promise.all([...receiverDone, new Promise<void>((r) => sender.once('exit', () => r()))]);
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), deadlineMs).unref()),
    ]);
    if (timedOut) throw new Error('udp baseline did not finish in time');
    const rates = summaries.map((s) => (s.spanMs > 0 ? (s.frames * 1000) / s.spanMs : 0));
    const slowest = rates.length === 0 ? 0 : Math.min(...rates);
    return {
      frameBytes,
      receivers,
      durationS,
      sentFrames,
      framesPerSecSlowest: Math.round(slowest),
      bytesPerSecSlowest: Math.round(slowest * frameBytes),
      perReceiverFramesPerSec: rates.map(Math.round),
    };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

function receiverMain(hardStopS: number): void {
  const socket = createSocket({ type: 'udp4', recvBufferSize: receiveBufferBytes });
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
  socket.bind(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: socket.address().port })}\n`));
}

async function senderMain(frameBytes: number, durationS: number, framesMax: number, ports: number[]): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
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
        socket.send(frame, ports[(sent + i) % ports.length] as number, '127.0.0.1', done);
      }
      sent += sendBatch;
    });
  }
  process.stdout.write(`${JSON.stringify({ sentFrames: sent })}\n`);
  socket.close();
}

if (process.argv[1] === self) {
  const [role, ...rest] = process.argv.slice(2);
  if (role === 'receiver') receiverMain(Number(rest[0] ?? 20));
  else if (role === 'sender') {
    const [frameBytes, durationS, framesMax, ...ports] = rest.map(Number);
    await senderMain(frameBytes as number, durationS as number, framesMax as number, ports);
  } else if (role === 'run') {
    const [receivers, frameBytes, durationS] = rest.map(Number);
    console.log(JSON.stringify(await runUdpBaseline(receivers ?? 2, frameBytes ?? 1086, durationS ?? 3)));
  } else {
    process.stderr.write('usage: udp-baseline.js run RECEIVERS FRAME_BYTES SECONDS\n');
    process.exitCode = 2;
  }
}
