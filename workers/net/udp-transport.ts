/**
 * The node's UDP sockets (node:dgram), owned by the net worker.
 *
 * 'udpu' (default, like corosync's udpu): one socket bound to `bind`; a broadcast is one unicast
 * datagram per other member. 'multicast': the same unicast socket (tokens, commit tokens, and the
 * source of every datagram), plus a receive socket bound to the group's port that joins the group;
 * a broadcast is one datagram to the group. Multicast loopback stays on, since other nodes may run
 * on this host; the net worker drops its own datagrams when they come back (it loops its own
 * broadcasts back to the engine directly).
 *
 * Receive buffers are asked for at `receiveBufferBytes` (the kernel caps the grant at its
 * rmem_max); what was granted is reported, since a small buffer is the first suspect for losses.
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { RemoteInfo, Socket, SocketOptions } from 'node:dgram';
import { TotemError } from '../errors.js';
import type { AddressFamily, NetAddress, ResolvedMember, TransportKind } from '../runtime-options.js';
import { formatAddress } from '../runtime-options.js';

export interface UdpTransportOptions {
  nodeId: number;
  family: AddressFamily;
  bind: NetAddress;
  members: readonly ResolvedMember[];
  transport: TransportKind;
  multicastAddress: NetAddress | null;
  receiveBufferBytes: number;
}

export interface UdpCounters {
  datagramsOut: number;
  bytesOut: number;
  sendErrors: number;
  /** Sends to a node id that is not in `members` (the engine never does this; counted in case). */
  unknownDestination: number;
}

/** A datagram and where it came from (the ingress gate checks the source against the members). */
type OnDatagram = (msg: Buffer, rinfo: RemoteInfo) => void;
type OnSocketError = (err: Error) => void;

function bindSocket(socket: Socket, host: string, port: number, what: string, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.off('listening', onListening);
      reject(
        new TotemError('TOTEM_ERR_BIND', `cannot bind the ${what} socket to ${address}: ${err.message}`, {
          details: { address, errno: err.code ?? String(err.errno ?? '') },
          cause: err,
        }),
      );
    };
    const onListening = (): void => {
      socket.off('error', onError);
      resolve();
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    // exclusive: a second node on the same address must fail, not share the port's datagrams.
    socket.bind({ address: host, port, exclusive: true });
  });
}

export class UdpTransport {
  readonly counters: UdpCounters = { datagramsOut: 0, bytesOut: 0, sendErrors: 0, unknownDestination: 0 };
  /** What the kernel granted for the unicast socket's receive buffer. */
  receiveBufferBytes = 0;
  private readonly peers: { port: number; host: string }[];
  private readonly byId = new Map<number, { port: number; host: string }>();
  private mcastSocket: Socket | null = null;
  private closed = false;
  private readonly onSent = (err: Error | null): void => {
    if (err !== null) this.counters.sendErrors++;
  };

  private constructor(
    private readonly opts: UdpTransportOptions,
    private readonly socket: Socket,
  ) {
    for (const m of opts.members) {
      const to = { port: m.address.port, host: m.address.host };
      this.byId.set(m.nodeId, to);
    }
    this.peers = opts.members.filter((m) => m.nodeId !== opts.nodeId).map((m) => ({
      port: m.address.port,
      host: m.address.host,
    }));
  }

  /** Binds the socket(s); rejects with TOTEM_ERR_BIND naming the address. */
  static async open(opts: UdpTransportOptions, onDatagram: OnDatagram, onError: OnSocketError): Promise<UdpTransport> {
    const type = opts.family === 'IPv6' ? 'udp6' : 'udp4';
    const socket = createSocket({ type, reuseAddr: false, lookup: literalLookup as unknown as SocketOptions['lookup'] });
    const t = new UdpTransport(opts, socket);
    try {
      await bindSocket(socket, opts.bind.host, opts.bind.port, 'node', formatAddress(opts.bind));
      t.receiveBufferBytes = trySetReceiveBuffer(socket, opts.receiveBufferBytes);
      socket.on('message', onDatagram);
      socket.on('error', onError);
      if (opts.transport === 'multicast' && opts.multicastAddress !== null) {
        await t.openMulticast(opts.multicastAddress, type, onDatagram, onError);
      }
    } catch (err) {
      t.close();
      throw err;
    }
    return t;
  }

  /** One datagram to one node; false when the id is unknown. */
  sendTo(nodeId: number, bytes: Uint8Array): boolean {
    const to = this.byId.get(nodeId);
    if (to === undefined) {
      this.counters.unknownDestination++;
      return false;
    }
    this.send(bytes, to.port, to.host);
    return true;
  }

  /** A broadcast to every other member: one datagram to the group, or one per member. */
  broadcast(bytes: Uint8Array): void {
    const group = this.opts.transport === 'multicast' ? this.opts.multicastAddress : null;
    if (group !== null) {
      this.send(bytes, group.port, group.host);
      return;
    }
    for (const p of this.peers) this.send(bytes, p.port, p.host);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeQuietly(this.socket);
    if (this.mcastSocket !== null) closeQuietly(this.mcastSocket);
  }

  private send(bytes: Uint8Array, port: number, host: string): void {
    if (this.closed) return;
    this.counters.datagramsOut++;
    this.counters.bytesOut += bytes.length;
    // dgram keeps a reference to bytes until the send completes: callers pass bytes they never
    // change afterwards (a fresh sealed packet, or a copy out of the ring).
    this.socket.send(bytes, port, host, this.onSent);
  }

  private async openMulticast(
    group: NetAddress,
    type: 'udp4' | 'udp6',
    onDatagram: OnDatagram,
    onError: OnSocketError,
  ): Promise<void> {
    // reuseAddr: every node on this host listens on the group's port.
    const m = createSocket({ type, reuseAddr: true });
    this.mcastSocket = m;
    const wildcard = type === 'udp6' ? '::' : '0.0.0.0';
    await bindSocket(m, wildcard, group.port, 'multicast', formatAddress(group));
    const iface = isWildcard(this.opts.bind.host) ? undefined : this.opts.bind.host;
    m.addMembership(group.host, iface);
    trySetReceiveBuffer(m, this.opts.receiveBufferBytes);
    if (iface !== undefined) this.socket.setMulticastInterface(iface);
    this.socket.setMulticastLoopback(true);
    m.on('message', onDatagram);
    m.on('error', onError);
  }
}

/**
 * dgram's lookup before each send and bind. Every address here is an IP literal (names are never
 * resolved: api/options/address.ts), yet the default (dns.lookup) defers each send to a
 * process.nextTick with its closure and arguments: at saturation tens of thousands a second in the
 * net worker, and on the token's way out. dgram calls it as (address, family, callback) and also
 * takes an answer given at once (as for a connected socket).
 */
function literalLookup(address: string, _family: number, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, isIPv6(address) ? 6 : 4);
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function trySetReceiveBuffer(socket: Socket, bytes: number): number {
  try {
    socket.setRecvBufferSize(bytes);
  } catch {
    // Refused outright (some platforms): keep the default and report it.
  }
  try {
    return socket.getRecvBufferSize();
  } catch {
    return 0;
  }
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // Not yet bound, or already closed: nothing to release.
  }
}
