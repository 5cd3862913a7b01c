/**
 * Net worker: owns the UDP socket(s) and packet authentication. It runs an event loop (sockets need
 * one), so it waits for outbound records with Doorbell.waitAsync and takes control messages as
 * port events; the port listener is also the ref that keeps this thread alive while it waits.
 *
 *   socket ──► ingress gate ──► open (key) ──► check sender ──► in ring ──► token worker
 *   token worker ──► out ring ──► seal (key, destination) ──► socket (one member, every member,
 *                                                              or the group)
 *
 * The ingress gate (net/ingress-gate.ts) refuses, before any crypto, what is too short, of another
 * sealed version, from this node itself, from a node id outside the member list, from an address
 * that is not the claimed member's (udpu), or sealed for another node. Every drop is counted by
 * reason (totem_net_dropped_total); the ones that point at a misconfiguration or an attack are
 * logged at warn through a WarnLimiter (net/warn-limiter.ts), so a flood cannot flood the log.
 *
 * The token worker loops its own broadcasts back to its engine itself; a record for this node
 * alone (which it does not write) would still be copied into the in ring, plain.
 *
 * A full in ring drops the datagram (counted): this thread must not block its event loop, and the
 * protocol retransmits what is lost, exactly as if the kernel had dropped it.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import type { RemoteInfo } from 'node:dgram';
import { IngressGate, sealedVersionOf } from './net/ingress-gate.js';
import type { NetDropReason } from './net/ingress-gate.js';
import { broadcastDestination, PacketOpener, PacketSealer, sealedVersion } from './net/packet-auth.js';
import type { OpenFailure } from './net/packet-auth.js';
import { WarnLimiter } from './net/warn-limiter.js';
import { UdpTransport } from './net/udp-transport.js';
import { Doorbell } from './ring/doorbell.js';
import { SpscRing } from './ring/spsc-ring.js';
import { describeCode, isMainMessage, toTotemError } from './control.js';
import type { WorkerMessage } from './control.js';
import { outHeaderBytes, RecordType, ringView } from './records.js';
import { WakeFlag, WakeFlags } from './wake-flags.js';
import type { NetWorkerData } from './worker-data.js';
import { sampledTokenSeq, TokenHopRing } from './token-hops.js';

const data = workerData as NetWorkerData;
const self = data.nodeId;
const port: MessagePort = data.port;
const inRing = new SpscRing(data.rings.in);
const outRing = new SpscRing(data.rings.out);
const outView = ringView(outRing.buffer);
const netBell = new Doorbell(data.rings.bells.net.sab, data.rings.bells.net.byteOffset).watch(outRing);
const tokenBell = new Doorbell(data.rings.bells.token.sab, data.rings.bells.token.byteOffset);
const flags = new WakeFlags(data.rings.flags);
const sealer = data.key === null ? null : new PacketSealer(data.key, self, data.cluster);
const opener = data.key === null ? null : new PacketOpener(data.key, { cluster: data.cluster });
const gate = new IngressGate({ self, members: data.members, transport: data.transport, keyed: data.key !== null });
const warnings = new WarnLimiter((message, fields) => post({ code: 'log', level: 'warn', message, fields }));
/** Outbound records per read() before yielding to the event loop, so receives are not starved. */
const outBatchMax = 256;
/** How often the warn limiter's window is closed even without new warnings (its summary line). */
const warnTickMs = 1000;
/** How often the opener forgets idle incarnations and senders. */
const sweepMs = 60_000;

const counters = {
  datagramsIn: 0,
  bytesIn: 0,
  /** Datagrams dropped because the in ring was full. */
  inRingFull: 0,
  /** Own multicast datagrams that came back through the group (already looped back). */
  ownEchoes: 0,
};

const openFailureReason: Record<OpenFailure, NetDropReason> = {
  truncated: 'runt',
  version: 'version',
  auth: 'auth_failed',
  replay: 'replay',
  budget: 'salt_budget',
};

/** What a warning says per reason; reasons not listed (replay, runt, own echo) are only counted. */
const warnText: Partial<Record<NetDropReason, string>> = {
  unlisted: 'dropped a datagram from a node id not in the member list',
  address_mismatch: "dropped a datagram whose source address is not the claimed member's configured address",
  not_for_me: 'dropped a datagram sealed for another node (copied or misdirected)',
  auth_failed: 'dropped a datagram that failed authentication (wrong key or cluster name, or forged)',
  salt_budget: 'dropped datagrams of new incarnations beyond the fresh-salt budget (forged salts?)',
  sender_mismatch: 'dropped an authenticated datagram whose engine header names another sender',
};

function onDrop(reason: NetDropReason, msg: Uint8Array, rinfo: RemoteInfo): void {
  if (reason === 'own_echo') {
    counters.ownEchoes++;
    return;
  }
  const address = rinfo.family === 'IPv6' ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}`;
  if (reason === 'version') {
    const version = sealedVersionOf(msg);
    const text = data.key === null
      ? 'dropped a datagram that is not a plain engine packet'
      : `dropped a datagram of sealed format version ${version}; this node speaks version ${sealedVersion} ` +
        '(nodes of different totem-evs versions, or a node with a key and one without)';
    warnings.warn(performance.now(), `version ${address}`, text, { address, version });
    return;
  }
  const text = warnText[reason];
  if (text === undefined) return;
  warnings.warn(performance.now(), `${reason} ${address}`, text, { reason, address, claimedSender: gate.lastSender });
}
let transport: UdpTransport | null = null;
/** The token's path through this thread, sampled (token-hops.ts). */
const hopsReceived = new TokenHopRing();
const hopsSent = new TokenHopRing();
let stopping = false;
let failed = false;

function post(m: WorkerMessage): void {
  port.postMessage(m);
}

function fail(err: unknown): void {
  if (failed) return;
  failed = true;
  stopping = true;
  clearInterval(warnTimer);
  clearInterval(sweepTimer);
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

function onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
  if (stopping) return;
  counters.datagramsIn++;
  counters.bytesIn += msg.length;
  const refused = gate.check(msg, rinfo.address, rinfo.port);
  if (refused !== null) {
    onDrop(refused, msg, rinfo);
    return;
  }
  let plain: Uint8Array = msg;
  if (opener !== null) {
    const r = opener.open(msg);
    if (!r.ok) {
      const reason = openFailureReason[r.reason];
      gate.count(reason);
      onDrop(reason, msg, rinfo);
      return;
    }
    plain = r.plain;
    // The tag proves who sealed the datagram; the engine trusts the sender in its own header, so
    // the two must agree (a data frame excepted: any member may retransmit it) or one member
    // could speak for another.
    const mismatch = gate.checkOpened(plain, r.sender);
    if (mismatch !== null) {
      onDrop(mismatch, msg, rinfo);
      return;
    }
  }
  const hopSeq = sampledTokenSeq(plain, 0, plain.length);
  if (hopSeq !== null) hopsReceived.stamp(hopSeq);
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
  const hopSeq = sampledTokenSeq(packet, 0, packet.length);
  if (hopSeq !== null) hopsSent.stamp(hopSeq);
  // The sealer reads the plain bytes synchronously and returns a fresh array; without a key the
  // packet is copied, since dgram holds the bytes until the send completes and the ring reuses them.
  // A broadcast is sealed once for every member; a unicast is sealed for its one receiver, so a
  // copy delivered anywhere else is refused there before the tag is even checked.
  const wire = sealer === null ? packet.slice() : sealer.seal(packet, destination === 0 ? broadcastDestination : destination);
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

function stats(withTokenHops = false): Record<string, unknown> {
  const t = transport;
  const o = opener?.stats;
  return {
    datagramsIn: counters.datagramsIn,
    datagramsOut: t?.counters.datagramsOut ?? 0,
    bytesIn: counters.bytesIn,
    bytesOut: t?.counters.bytesOut ?? 0,
    authFailures: o === undefined ? 0 : o.auth,
    replays: o?.replay ?? 0,
    dropped: { ...gate.counts },
    warningsHeldBack: warnings.heldBack,
    ownEchoes: counters.ownEchoes,
    sendErrors: t?.counters.sendErrors ?? 0,
    receiveBufferBytes: t?.receiveBufferBytes ?? 0,
    senderMismatch: gate.counts.sender_mismatch,
    inRingFull: counters.inRingFull,
    unknownDestination: t?.counters.unknownDestination ?? 0,
    ...(withTokenHops ? { tokenHops: { received: hopsReceived.samples(), sent: hopsSent.samples() } } : {}),
  };
}

// Unref'd: these never keep the thread alive; the port listener does while the node runs.
const warnTimer = setInterval(() => warnings.tick(performance.now()), warnTickMs);
warnTimer.unref();
const sweepTimer = setInterval(() => opener?.sweep(), sweepMs);
sweepTimer.unref();

port.on('message', (m: unknown) => {
  if (!isMainMessage(m)) {
    fail(new Error(`net worker: unknown control code ${describeCode(m)}`));
    return;
  }
  switch (m.code) {
    case 'stats':
      post({ code: 'stats', id: m.id ?? 0, body: stats(m.tokenHops === true) });
      return;
    case 'stop':
      // The token worker has stopped: what it put in the out ring (a leave announce's last copy)
      // still goes out before the socket closes.
      if (!failed) while (outRing.read(onOutRecord, outBatchMax) > 0);
      stopping = true;
      clearInterval(warnTimer);
      clearInterval(sweepTimer);
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
