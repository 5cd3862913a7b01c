/**
 * Net worker: owns the UDP socket(s) and packet authentication. It runs an event loop (sockets need
 * one), so it waits for outbound records with Doorbell.waitAsync and takes control messages as
 * port events; the port listener is also the ref that keeps this thread alive while it waits.
 *
 *   socket ──► open (key) ──► check sender ──► in ring ──► token worker
 *   token worker ──► out ring ──► seal (key) ──► socket (one member, every member, or the group)
 *
 * The token worker loops its own broadcasts back to its engine itself; a record for this node
 * alone (which it does not write) would still be copied into the in ring, plain.
 *
 * A full in ring drops the datagram (counted): this thread must not block its event loop, and the
 * protocol retransmits what is lost, exactly as if the kernel had dropped it.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { peekHeader } from '../engine/wire/codec.js';
import { PacketOpener, PacketSealer } from './net/packet-auth.js';
import { UdpTransport } from './net/udp-transport.js';
import { Doorbell } from './ring/doorbell.js';
import { SpscRing } from './ring/spsc-ring.js';
import { describeCode, isMainMessage, toTotemError } from './control.js';
import type { WorkerMessage } from './control.js';
import { outHeaderBytes, RecordType, ringView } from './records.js';
import { WakeFlag, WakeFlags } from './wake-flags.js';
import type { NetWorkerData } from './worker-data.js';

const data = workerData as NetWorkerData;
const self = data.nodeId;
const port: MessagePort = data.port;
const inRing = new SpscRing(data.rings.in);
const outRing = new SpscRing(data.rings.out);
const outView = ringView(outRing.buffer);
const netBell = new Doorbell(data.rings.bells.net.sab, data.rings.bells.net.byteOffset).watch(outRing);
const tokenBell = new Doorbell(data.rings.bells.token.sab, data.rings.bells.token.byteOffset);
const flags = new WakeFlags(data.rings.flags);
const sealer = data.key === null ? null : new PacketSealer(data.key, self);
const opener = data.key === null ? null : new PacketOpener(data.key);
/** Outbound records per read() before yielding to the event loop, so receives are not starved. */
const outBatchMax = 256;
/** Offset of the sender id in a sealed header (packet-auth.ts): readable before opening. */
const sealedSenderOffset = 2;

const counters = {
  datagramsIn: 0,
  bytesIn: 0,
  /** Datagrams whose opened sender differs from the engine header's sender. */
  senderMismatch: 0,
  /** Datagrams dropped because the in ring was full. */
  inRingFull: 0,
  /** Own multicast datagrams that came back through the group (already looped back). */
  ownEchoes: 0,
};
let transport: UdpTransport | null = null;
let stopping = false;
let failed = false;

function post(m: WorkerMessage): void {
  port.postMessage(m);
}

function fail(err: unknown): void {
  if (failed) return;
  failed = true;
  stopping = true;
  post({ code: 'fatal', error: toTotemError(err, 'net').toJSON() });
  transport?.close();
  port.close();
}

let wakeScheduled = false;
function wakeToken(): void {
  wakeScheduled = false;
  // After the commit stores of every packet written since the last wake: ring/doorbell.ts R1/R2.
  tokenBell.wake();
}

function toToken(packet: Uint8Array): void {
  // write() copies: the caller's bytes (a ring view, a dgram buffer) may be reused after this.
  if (!inRing.write(RecordType.inPacket, packet)) {
    counters.inRingFull++;
    return;
  }
  // One wake per turn of the event loop, not per datagram: libuv hands every datagram a poll
  // found to 'message' in one go, and the immediate runs after them, so the token worker is woken
  // once for the batch instead of once per packet (a futex wake and two context switches each,
  // which on two cores cost more than the packets themselves).
  if (!wakeScheduled) {
    wakeScheduled = true;
    setImmediate(wakeToken);
  }
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] as number) | ((bytes[offset + 1] as number) << 8) |
    ((bytes[offset + 2] as number) << 16) | ((bytes[offset + 3] as number) << 24)) >>> 0;
}

function onDatagram(msg: Buffer): void {
  if (stopping) return;
  counters.datagramsIn++;
  counters.bytesIn += msg.length;
  let plain: Uint8Array = msg;
  if (opener !== null) {
    // A multicast of our own that came back: it already reached the engine through the ring.
    if (data.transport === 'multicast' && msg.length >= 6 && readUint32(msg, sealedSenderOffset) === self) {
      counters.ownEchoes++;
      return;
    }
    const r = opener.open(msg);
    if (!r.ok) return;
    plain = r.plain;
    // The tag proves who sealed the datagram; the engine trusts the sender in its own header, so
    // the two must agree or one member could speak for another.
    const h = peekHeader(plain);
    if (h === null || h.sender !== r.sender) {
      counters.senderMismatch++;
      return;
    }
  } else if (data.transport === 'multicast') {
    const h = peekHeader(plain);
    if (h !== null && h.sender === self) {
      counters.ownEchoes++;
      return;
    }
  }
  toToken(plain);
}

function onOutRecord(type: number, buffer: Uint8Array, offset: number, length: number): void {
  if (type !== RecordType.outPacket) throw new Error(`net worker: unknown out record type ${type}`);
  const destination = outView.getUint32(offset, true);
  const packet = buffer.subarray(offset + outHeaderBytes, offset + length);
  const t = transport;
  if (t === null) return;
  if (destination === self) {
    toToken(packet);
    return;
  }
  // The sealer reads the plain bytes synchronously and returns a fresh array; without a key the
  // packet is copied, since dgram holds the bytes until the send completes and the ring reuses them.
  const wire = sealer === null ? packet.slice() : sealer.seal(packet);
  if (destination === 0) {
    // To the other members only: the token worker has already looped it back to its engine.
    t.broadcast(wire);
  } else {
    t.sendTo(destination, wire);
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function outLoop(): Promise<void> {
  while (!stopping) {
    const count = outRing.read(onOutRecord, outBatchMax);
    // After read()'s head store, if the token worker waits for room (wake-flags.ts).
    if (count > 0 && flags.isSet(WakeFlag.tokenWantsRoom)) tokenBell.wake();
    if (count > 0) {
      await yieldToEventLoop();
      continue;
    }
    // The port listener holds this thread's ref while the promise is pending.
    await netBell.waitAsync(Infinity);
  }
}

function stats(): Record<string, unknown> {
  const t = transport;
  const o = opener?.stats;
  return {
    datagramsIn: counters.datagramsIn,
    datagramsOut: t?.counters.datagramsOut ?? 0,
    bytesIn: counters.bytesIn,
    bytesOut: t?.counters.bytesOut ?? 0,
    authFailures: o === undefined ? 0 : o.auth + o.truncated + o.version,
    replays: o?.replay ?? 0,
    sendErrors: t?.counters.sendErrors ?? 0,
    receiveBufferBytes: t?.receiveBufferBytes ?? 0,
    senderMismatch: counters.senderMismatch,
    inRingFull: counters.inRingFull,
    unknownDestination: t?.counters.unknownDestination ?? 0,
  };
}

port.on('message', (m: unknown) => {
  if (!isMainMessage(m)) {
    fail(new Error(`net worker: unknown control code ${describeCode(m)}`));
    return;
  }
  switch (m.code) {
    case 'stats':
      post({ code: 'stats', id: m.id ?? 0, body: stats() });
      return;
    case 'stop':
      // The token worker has stopped: what it put in the out ring (a leave announce's last copy)
      // still goes out before the socket closes.
      if (!failed) while (outRing.read(onOutRecord, outBatchMax) > 0);
      stopping = true;
      transport?.close();
      post({ code: 'stopped', body: stats() });
      port.close();
      // The out loop may be parked: wake it so it sees `stopping` and returns.
      netBell.wake();
      return;
    case 'crash':
      process.exit(1);
      return;
    default:
      fail(new Error(`net worker: control code ${describeCode(m)} is not for this worker`));
  }
});

try {
  transport = await UdpTransport.open(
    {
      nodeId: self,
      family: data.family,
      bind: data.bind,
      members: data.members,
      transport: data.transport,
      multicastAddress: data.multicastAddress,
      receiveBufferBytes: data.receiveBufferBytes,
    },
    onDatagram,
    (err) => fail(err),
  );
  post({
    code: 'ready',
    body: { receiveBufferBytes: transport.receiveBufferBytes, requestedBytes: data.receiveBufferBytes },
  });
  outLoop().catch(fail);
} catch (err) {
  fail(err);
}
