/**
 * The ingress gate: the checks every received datagram passes before any cryptography and before
 * the engine, all on header bytes and the datagram's source address, so that rejecting a forged
 * datagram costs a few comparisons rather than an HKDF derivation and a decryption.
 *
 * Keyed (sealed datagrams, packet-auth.ts), in this order:
 *   runt             shorter than the sealed overhead;
 *   version          the sealed version is not this node's (counted; the net worker warns, rate
 *                    limited, naming both versions: a rolling upgrade in progress looks like this);
 *   own_packet       the sealer claims to be this node: this node never receives its own
 *                    datagrams from the network; on multicast they are the group's echo of
 *                    every broadcast, counted apart as own_echo (normal, expected);
 *   unlisted         the sealer is not in the configured member list;
 *   address_mismatch on udpu, the source address and port are not the configured address of the
 *                    node id the sealer claims (corosync's block_unlisted_ips, made exact);
 *   not_for_me       the datagram was sealed for another node (a copied unicast).
 * After the tag verifies (net worker), `checkOpened` compares the engine header with the sealer:
 *   sender_mismatch  a packet other than a data frame names another sender than the one that
 *                    sealed it; a data frame's header names its originator, and any member may
 *                    retransmit it, so for frames the header sender need only be a member
 *                    (unlisted otherwise).
 *
 * Unkeyed (plain engine packets), the same on the engine header: runt (shorter than an engine
 * header), own_packet, unlisted; on udpu the source must be the configured address of the header
 * sender, except for data frames, which any member may retransmit, so their source need only be
 * some member's address. Without a key anyone who can send from a member's address can still
 * forge anything: the gate keeps off only the rest of the network.
 *
 * The multicast transport checks no source address: a node bound to a wildcard address sends
 * from whichever interface address the route picks, which need not be its configured one.
 */
import { headerBytes, peekHeader } from '../../engine/wire/codec.js';
import { PacketType } from '../../engine/types.js';
import type { ResolvedMember, TransportKind } from '../runtime-options.js';
import {
  broadcastDestination,
  sealedDestinationOffset,
  sealedOverheadBytes,
  sealedSenderOffset,
  sealedVersion,
  sealedVersionOffset,
} from './packet-auth.js';

/** Why the net worker dropped a datagram: the `reason` label of totem_net_dropped_total. */
export const netDropReasons = [
  'runt',
  'version',
  'own_packet',
  'own_echo',
  'unlisted',
  'address_mismatch',
  'not_for_me',
  'auth_failed',
  'replay',
  'salt_budget',
  'sender_mismatch',
] as const;
export type NetDropReason = (typeof netDropReasons)[number];

export type NetDropCounts = Record<NetDropReason, number>;

export function zeroDropCounts(): NetDropCounts {
  const counts = {} as NetDropCounts;
  for (const r of netDropReasons) counts[r] = 0;
  return counts;
}

export interface IngressGateOptions {
  self: number;
  members: readonly ResolvedMember[];
  transport: TransportKind;
  /** Sealed datagrams (a key is set) or plain engine packets. */
  keyed: boolean;
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] as number) | ((bytes[offset + 1] as number) << 8) |
    ((bytes[offset + 2] as number) << 16) | ((bytes[offset + 3] as number) << 24)) >>> 0;
}

export class IngressGate {
  readonly counts: NetDropCounts = zeroDropCounts();
  /** The claimed sender of the last datagram check() looked at (0 if too short to say). */
  lastSender = 0;
  private readonly self: number;
  private readonly keyed: boolean;
  private readonly checkAddress: boolean;
  private readonly ownReason: NetDropReason;
  /** Node id → configured host and port, every member but this node. */
  private readonly addressOf = new Map<number, { host: string; port: number }>();
  /** "host|port" of every other member: where a data frame may come from unkeyed. */
  private readonly memberSources = new Set<string>();

  constructor(o: IngressGateOptions) {
    this.self = o.self;
    this.keyed = o.keyed;
    this.checkAddress = o.transport === 'udpu';
    this.ownReason = o.transport === 'multicast' ? 'own_echo' : 'own_packet';
    for (const m of o.members) {
      if (m.nodeId === o.self) continue;
      this.addressOf.set(m.nodeId, { host: m.address.host, port: m.address.port });
      this.memberSources.add(`${m.address.host}|${m.address.port}`);
    }
  }

  /** Whether `nodeId` is a configured member other than this node. */
  isPeer(nodeId: number): boolean {
    return this.addressOf.has(nodeId);
  }

  /**
   * null when the datagram may go on (to the opener when keyed, to the engine otherwise), else
   * why it is dropped, counted. Reads only header bytes; never throws.
   */
  check(msg: Uint8Array, sourceHost: string, sourcePort: number): NetDropReason | null {
    const reason = this.keyed ? this.checkSealed(msg, sourceHost, sourcePort) : this.checkPlain(msg, sourceHost, sourcePort);
    if (reason !== null) this.counts[reason]++;
    return reason;
  }

  /**
   * After a keyed datagram's tag verified: the engine header must name its sealer, except a data
   * frame, whose header names its originator (see the file comment).
   */
  checkOpened(plain: Uint8Array, sealer: number): NetDropReason | null {
    const h = peekHeader(plain);
    let reason: NetDropReason | null = null;
    if (h === null) reason = 'sender_mismatch';
    else if (h.type === PacketType.mcast) {
      if (h.sender !== sealer && !this.isPeer(h.sender) && h.sender !== this.self) reason = 'unlisted';
    } else if (h.sender !== sealer) reason = 'sender_mismatch';
    if (reason !== null) this.counts[reason]++;
    return reason;
  }

  /** Counts a drop decided elsewhere (the opener's refusals). */
  count(reason: NetDropReason): void {
    this.counts[reason]++;
  }

  private checkSealed(msg: Uint8Array, host: string, port: number): NetDropReason | null {
    this.lastSender = 0;
    if (msg.length < sealedOverheadBytes) return 'runt';
    if (msg[sealedVersionOffset] !== sealedVersion) return 'version';
    const sender = readU32(msg, sealedSenderOffset);
    this.lastSender = sender;
    if (sender === this.self) return this.ownReason;
    const configured = this.addressOf.get(sender);
    if (configured === undefined) return 'unlisted';
    if (this.checkAddress && (configured.port !== port || configured.host !== host)) return 'address_mismatch';
    const destination = readU32(msg, sealedDestinationOffset);
    if (destination !== this.self && destination !== broadcastDestination) return 'not_for_me';
    return null;
  }

  private checkPlain(msg: Uint8Array, host: string, port: number): NetDropReason | null {
    this.lastSender = 0;
    const h = peekHeader(msg);
    if (h === null || msg.length < headerBytes) return 'runt';
    this.lastSender = h.sender;
    if (h.sender === this.self) return this.ownReason;
    const configured = this.addressOf.get(h.sender);
    if (configured === undefined) return 'unlisted';
    if (!this.checkAddress) return null;
    if (h.type === PacketType.mcast) {
      return this.memberSources.has(`${host}|${port}`) ? null : 'address_mismatch';
    }
    if (configured.port !== port || configured.host !== host) return 'address_mismatch';
    return null;
  }
}

/** The sealed version a datagram claims (for the version-skew warning), or -1 when empty. */
export function sealedVersionOf(msg: Uint8Array): number {
  return msg.length === 0 ? -1 : (msg[sealedVersionOffset] as number);
}
