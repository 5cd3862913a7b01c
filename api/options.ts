/**
 * The options of `createNode()`, in the units users think in (milliseconds, bytes, "host:port"),
 * and `resolveNodeOptions`, which checks them and resolves defaults into what the runtime reads
 * (workers/runtime-options.ts). Everything is checked here, on the caller's thread, before any
 * worker starts or any socket opens: a bad option is a TotemError `TOTEM_ERR_INVALID_OPTION` whose
 * `details.option` names the option (`members[2].address`) and whose message says what to change.
 * Resolving options does no I/O (the key file is read when the node starts).
 *
 * The checks live by subject, each file stating the decisions it takes:
 * - options/validation.ts: the error, unknown keys and their likely meant name, integers;
 * - options/address.ts: "host:port" parsing and formatting (literal IPs, no port 0);
 * - options/members.ts: node ids, the members list, bind against it, the transport;
 * - options/local.ts: the key, the state and trace directories, logging;
 * - options/tuning.ts: netMtu and the frame size it leaves, timers, window and sizes.
 */
import type { LogLevel, Logger } from '../workers/logger.js';
import type {
  AddressFamily,
  EngineTuning,
  NetAddress,
  ResolvedKey,
  ResolvedMember,
  ResolvedNodeOptions,
  TransportKind,
} from '../workers/runtime-options.js';
import { parseCluster, parseDir, parseInsecure, parseKey, parseLogger, parseLogLevel, refuseInsecure } from './options/local.js';
import { parseMembers, parseNodeId, parseTransport } from './options/members.js';
import { resolveDeliveryBuffer, resolveEngine, resolveNetMtu } from './options/tuning.js';
import { checkKnownKeys, invalid, isRecord } from './options/validation.js';
import { parseAddress } from './options/address.js';

export { formatAddress, parseAddress } from './options/address.js';
export { clusterNameDefault, isLoopbackHost, keyBytes } from './options/local.js';
export { netMtuDefault, netMtuMax, timerMsMax } from './options/tuning.js';
export { suggest } from './options/validation.js';

export type { AddressFamily, EngineTuning, NetAddress, ResolvedKey, ResolvedMember, ResolvedNodeOptions, TransportKind };

export interface MemberOption {
  nodeId: number;
  /** "a.b.c.d:port" or "[v6]:port": where the other nodes reach this member. */
  address: string;
}

/** 32 bytes, inline or in a file (32 raw bytes, 64 hex digits, or base64 of 32 bytes). */
export type KeyOption = Uint8Array | { file: string };

export interface NodeOptions {
  /** This node's id: an integer in 1..2^32-1, unique in the cluster. */
  nodeId: number;
  /** The local address to bind, "host:port". */
  bind: string;
  /** Every node of the cluster, this one included. */
  members: readonly MemberOption[];
  /**
   * Authenticates and encrypts packets; without it they are neither. Required when any member
   * (or the bind address) is not on loopback, unless `insecure` is true.
   */
  key?: KeyOption;
  /**
   * Run without a key although members are on a real network: anyone who can send to a node can
   * then forge any packet (see README, Threat model). Default false.
   */
  insecure?: boolean;
  /**
   * The cluster's name, bound into every packet's authentication tag, so that two clusters sharing
   * a key never take each other's packets: 1..64 of A-Z a-z 0-9 . _ -; default 'totem-evs'. Every
   * node of a cluster must have the same.
   */
  cluster?: string;
  /** Directory for the ring-seq file; without it ring seqs start above a clock-derived value. */
  stateDir?: string;
  /** Directory for this node's JSON-lines trace (trace-contract.md). */
  trace?: string;
  /**
   * Largest datagram a node sends, in bytes, IP and UDP headers included: netMtuMin (1280)..65535;
   * default 1500. Frames are packed up to it. Above the link MTU the kernel fragments each
   * datagram into link-sized IP packets (as knet does for corosync's large netmtu): fewer
   * datagrams per message, less CPU, but the loss of one fragment loses the whole datagram.
   */
  netMtu?: number;
  tokenTimeoutMs?: number;
  tokenRetransmitMs?: number;
  holdMs?: number;
  joinTimeoutMs?: number;
  consensusTimeoutMs?: number;
  /** Gather: a ring member silent this long is failed before the consensus timeout (engine/README.md rule 15). */
  gatherSilenceMs?: number;
  mergeTimeoutMs?: number;
  /** Frames (new and retransmitted) one token rotation may carry; default 200 (corosync: 50). */
  windowSize?: number;
  /** Frames one node may send per token visit; default half of windowSize (corosync: 17). */
  maxMessages?: number;
  messageBytesMax?: number;
  sendQueueBytesMax?: number;
  /**
   * Bytes of deliveries kept for an application that is not taking them (a blocked event loop, a
   * listener that does not return, an iterator nobody reads), beyond the runtime's rings, before
   * the node leaves the ring and fails with TOTEM_ERR_SLOW_CONSUMER; the token keeps circulating
   * meanwhile. At least messageBytesMax; default 128 MiB (a 2 s stall at ~29k msgs/s of 1 KiB,
   * twice over). See docs/api.md, Slow consumers.
   */
  deliveryBufferBytesMax?: number;
  /** 'udpu' (default): unicast to every member; 'multicast': one datagram to multicastAddress. */
  transport?: TransportKind;
  /** The multicast group "host:port"; required with transport 'multicast', refused otherwise. */
  multicastAddress?: string;
  logLevel?: LogLevel;
  logger?: Logger;
}

const optionNames = [
  'nodeId', 'bind', 'members', 'key', 'insecure', 'cluster', 'stateDir', 'trace', 'netMtu',
  'tokenTimeoutMs', 'tokenRetransmitMs', 'holdMs', 'joinTimeoutMs', 'consensusTimeoutMs', 'gatherSilenceMs',
  'mergeTimeoutMs', 'windowSize', 'maxMessages', 'messageBytesMax', 'sendQueueBytesMax', 'deliveryBufferBytesMax',
  'transport', 'multicastAddress', 'logLevel', 'logger',
] as const satisfies readonly (keyof NodeOptions)[];

/**
 * Validate `input` and resolve defaults and derived values. `authOverheadBytes` is what the packet
 * authentication adds to each datagram; it is subtracted from frames only when a key is set.
 */
export function resolveNodeOptions(input: NodeOptions, authOverheadBytes = 0): ResolvedNodeOptions {
  if (!Number.isSafeInteger(authOverheadBytes) || authOverheadBytes < 0) {
    throw new RangeError(`authOverheadBytes must be a non-negative integer, got ${authOverheadBytes}`);
  }
  const o: unknown = input;
  if (!isRecord(o)) {
    throw invalid('(options)', 'createNode() takes an options object: { nodeId, bind, members, ... }');
  }
  checkKnownKeys(o, optionNames, '', 'option');

  const nodeId = parseNodeId(o.nodeId, 'nodeId');
  const bind = parseAddress(o.bind, 'bind');
  const members = parseMembers(o.members, nodeId, bind);
  const family = bind.family;
  const { transport, multicastAddress } = parseTransport(o.transport, o.multicastAddress, family);
  const key = parseKey(o.key);
  const insecure = parseInsecure(o.insecure);
  const cluster = parseCluster(o.cluster);
  if (key === null && !insecure) refuseInsecure(nodeId, bind, members);
  const stateDir = parseDir(o.stateDir, 'stateDir');
  const traceDir = parseDir(o.trace, 'trace');
  const logLevel = parseLogLevel(o.logLevel);
  const logger = parseLogger(o.logger);

  const overhead = key === null ? 0 : authOverheadBytes;
  const { netMtu, frameBytesMax } = resolveNetMtu(o, family, overhead);
  const engine = resolveEngine(o, nodeId, frameBytesMax);
  const deliveryBufferBytesMax = resolveDeliveryBuffer(o, engine.messageBytesMax);
  return {
    nodeId, bind, family, members, transport, multicastAddress, key, cluster, insecure, stateDir, traceDir, netMtu,
    authOverheadBytes: overhead, logLevel, logger, deliveryBufferBytesMax, engine,
  };
}
