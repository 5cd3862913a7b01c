/**
 * The node's options as the runtime takes them: validated, defaults filled in, addresses parsed.
 * api/options.ts turns what a user passes to createNode into this shape; the runtime and its
 * workers read nothing else, so they never see the user-facing option names or their errors.
 */
import type { EngineConfig } from '../engine/config.js';
import type { NodeId } from '../engine/types.js';
import type { LogLevel, Logger } from './logger.js';

export type TransportKind = 'udpu' | 'multicast';

export type AddressFamily = 'IPv4' | 'IPv6';

export interface NetAddress {
  /** Canonical literal: dotted quad, or compressed lower-case IPv6 with its zone if any. */
  host: string;
  port: number;
  family: AddressFamily;
}

export interface ResolvedMember {
  nodeId: NodeId;
  address: NetAddress;
}

export type ResolvedKey = { kind: 'inline'; bytes: Uint8Array } | { kind: 'file'; path: string };

/** Every EngineConfig field known before start; incarnation and ringSeqInitial come at start. */
export type EngineTuning = Omit<EngineConfig, 'incarnation' | 'ringSeqInitial'>;

export interface ResolvedNodeOptions {
  nodeId: NodeId;
  bind: NetAddress;
  /** The family of every address below; the socket type follows (udp4 / udp6). */
  family: AddressFamily;
  /** Sorted by node id; this node included. */
  members: readonly ResolvedMember[];
  transport: TransportKind;
  multicastAddress: NetAddress | null;
  key: ResolvedKey | null;
  /**
   * The cluster name, bound into every sealed packet (packet-auth.ts): two clusters sharing a key
   * never take each other's packets.
   */
  cluster: string;
  /** Without a key on a non-loopback member list, the user said so (options.ts: TOTEM_ERR_INSECURE). */
  insecure: boolean;
  /** Absolute paths. */
  stateDir: string | null;
  traceDir: string | null;
  netMtu: number;
  /** The authentication overhead subtracted from frames: as given with a key, 0 without. */
  authOverheadBytes: number;
  logLevel: LogLevel;
  /**
   * Bytes of deliveries the runtime keeps for an application that is not taking them (runtime-sizing.ts
   * deliveryBufferBytesDefault); past it the node leaves the ring with TOTEM_ERR_SLOW_CONSUMER.
   */
  deliveryBufferBytesMax: number;
  /** Holds functions: not structured-cloneable, so leave it out of what is posted to workers. */
  logger: Logger | null;
  engine: EngineTuning;
}

/** `host:port`, or `[v6]:port`: how every message and log line spells an address. */
export function formatAddress(a: NetAddress): string {
  return a.family === 'IPv6' ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
