/**
 * The options of `createNode()`, in the units users think in (milliseconds, bytes, "host:port"),
 * and their validation. Everything is checked here, on the caller's thread, before any worker
 * starts or any socket opens: a bad option is a TotemError `TOTEM_ERR_INVALID_OPTION` whose
 * `details.option` names the option (`members[2].address`) and whose message says what to change.
 * The one exception is the key file, read by `loadKey` (workers/net/key-file.ts; its errors are `TOTEM_ERR_KEY_FILE` and
 * `TOTEM_ERR_BAD_KEY`); resolving options does no I/O.
 *
 * Decisions taken here:
 * - Addresses are literal IPs: `a.b.c.d:port` or `[v6]:port` (a zone, `[fe80::1%eth0]:5405`, is
 *   kept). Host names are refused: the members of a ring must not change with DNS answers.
 * - Port 0 is refused everywhere, `bind` included: every node's address, port included, is listed
 *   in every node's `members` before start, so an ephemeral port could never be reached.
 * - `bind` may be a wildcard (`0.0.0.0:5405`, `[::]:5405`) or any local address; when it names the
 *   same host as this node's own member address, the ports must agree (otherwise peers send to a
 *   port nobody listens on). A different host is allowed, for NAT and port mappings.
 * - All addresses (bind, members, multicast group) are of one family.
 * - Timers are whole milliseconds in 1..2^31-1 (Node's timers turn larger delays into 1 ms).
 * - `members` is returned sorted by node id, so that the listing order of the input is irrelevant.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { deriveMaxMessages, deriveTimers, engineDefaults, engineTimerNames, resolveEngineConfig } from '../engine/config.js';
import type { EngineConfig, EngineTimerName } from '../engine/config.js';
import {
  ipv4UdpHeaderBytes,
  ipv6UdpHeaderBytes,
  messageBytesMaxLimit,
  netMtuMin,
  nodeCountMax,
  windowSizeMax,
} from '../engine/constants.js';
import type { NodeId } from '../engine/types.js';
import { TotemError } from '../workers/errors.js';
import { defaultLogLevel, isLogger, isLogLevel, logLevels } from '../workers/logger.js';
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
  /** Authenticates and encrypts packets; without it they are neither. */
  key?: KeyOption;
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
  /** 'udpu' (default): unicast to every member; 'multicast': one datagram to multicastAddress. */
  transport?: TransportKind;
  /** The multicast group "host:port"; required with transport 'multicast', refused otherwise. */
  multicastAddress?: string;
  logLevel?: LogLevel;
  logger?: Logger;
}


export const keyBytes = 32;
export const netMtuMax = 65535;
export const netMtuDefault = 1500;
/** Node's setTimeout turns a delay above 2^31-1 ms into 1 ms, with only a warning. */
export const timerMsMax = 2 ** 31 - 1;
/** The engine's smallest frame (engine/config.ts validateEngineConfig). */
const frameBytesMin = 256;

const optionNames = [
  'nodeId', 'bind', 'members', 'key', 'stateDir', 'trace', 'netMtu',
  'tokenTimeoutMs', 'tokenRetransmitMs', 'holdMs', 'joinTimeoutMs', 'consensusTimeoutMs', 'gatherSilenceMs',
  'mergeTimeoutMs', 'windowSize', 'maxMessages', 'messageBytesMax', 'sendQueueBytesMax',
  'transport', 'multicastAddress', 'logLevel', 'logger',
] as const satisfies readonly (keyof NodeOptions)[];

// Names people reach for from other systems (corosync, generic servers) that edit distance misses.
const optionAliases: Readonly<Record<string, string>> = {
  mtu: 'netMtu', listen: 'bind', bindAddress: 'bind', address: 'bind', nodes: 'members',
  peers: 'members', keyFile: 'key', authkey: 'key', id: 'nodeId', level: 'logLevel',
  traceDir: 'trace', window: 'windowSize', token: 'tokenTimeoutMs', consensus: 'consensusTimeoutMs',
  join: 'joinTimeoutMs', mcastaddr: 'multicastAddress',
};

function invalid(option: string, message: string): TotemError {
  return new TotemError('TOTEM_ERR_INVALID_OPTION', message, { details: { option } });
}

/**
 * Validate `input` and resolve defaults and derived values. `authOverheadBytes` is what the packet
 * authentication adds to each datagram; it is subtracted from frames only when a key is set.
 */
export function resolveNodeOptions(input: NodeOptions, authOverheadBytes = 0): ResolvedNodeOptions {
  if (!Number.isSafeInteger(authOverheadBytes) || authOverheadBytes < 0) {
    throw new RangeError(`authOverheadBytes must be a non-negative integer, got ${authOverheadBytes}`);
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('(options)', 'createNode() takes an options object: { nodeId, bind, members, ... }');
  }
  const o = input as unknown as Record<string, unknown>;
  checkKnownKeys(o, optionNames, '', 'option');

  const nodeId = parseNodeId(o.nodeId, 'nodeId');
  const bind = parseAddress(o.bind, 'bind');
  const members = parseMembers(o.members, nodeId, bind);
  const family = bind.family;
  const { transport, multicastAddress } = parseTransport(o.transport, o.multicastAddress, family);
  const key = parseKey(o.key);
  const stateDir = parseDir(o.stateDir, 'stateDir');
  const traceDir = parseDir(o.trace, 'trace');
  const logLevel = parseLogLevel(o.logLevel);
  const logger = parseLogger(o.logger);

  const netMtu = o.netMtu === undefined
    ? netMtuDefault
    : parseInteger(o.netMtu, 'netMtu', netMtuMin, netMtuMax, 'bytes');
  const overhead = key === null ? 0 : authOverheadBytes;
  const headerBytes = family === 'IPv4' ? ipv4UdpHeaderBytes : ipv6UdpHeaderBytes;
  const frameBytesMax = netMtu - headerBytes - overhead;
  if (frameBytesMax < frameBytesMin) {
    throw invalid(
      'netMtu',
      `netMtu ${netMtu} leaves ${frameBytesMax} bytes per frame after headers and authentication; raise netMtu`,
    );
  }

  const engine = resolveEngine(o, nodeId, frameBytesMax);
  return {
    nodeId, bind, family, members, transport, multicastAddress, key, stateDir, traceDir, netMtu,
    authOverheadBytes: overhead, logLevel, logger, engine,
  };
}

// ------------------------------------------------------------------------------------------------
// Unknown keys

function checkKnownKeys(
  o: Record<string, unknown>,
  known: readonly string[],
  where: string,
  what: string,
): void {
  for (const k of Object.keys(o)) {
    if (known.includes(k)) continue;
    const suggestion = suggest(k, known);
    const hint = suggestion === null
      ? `; known ${what}s: ${known.join(', ')}`
      : ` — did you mean '${where}${suggestion}'?`;
    throw invalid(`${where}${k}`, `unknown ${what} '${where}${k}'${hint}`);
  }
}

/** The known name closest to `name`, if close enough to be a likely typo. */
export function suggest(name: string, known: readonly string[]): string | null {
  const alias = optionAliases[name];
  if (alias !== undefined && known.includes(alias)) return alias;
  // Where only one name fits (key: { file }), any other name was meant to be it.
  if (known.length === 1) return known[0] ?? null;
  const lower = name.toLowerCase();
  // An abbreviation ('addr' for 'address', 'consensusTimeout').
  const extended = lower.length >= 3 ? known.find((k) => k.toLowerCase().startsWith(lower)) : undefined;
  if (extended !== undefined) return extended;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const cur = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

// ------------------------------------------------------------------------------------------------
// Scalars

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : String(v);
}

function parseInteger(v: unknown, option: string, min: number, max: number, unit: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const why = `${option} must be a whole number of ${unit} in ${min}..${max}, got ${describe(v)}`;
    throw invalid(option, why);
  }
  return v;
}

function parseNodeId(v: unknown, option: string): NodeId {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0xffffffff) {
    const why = `${option} must be an integer in 1..4294967295 (0 is reserved), got ${describe(v)}`;
    throw invalid(option, why);
  }
  return v;
}

function parseDir(v: unknown, option: string): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || v.length === 0) {
    throw invalid(option, `${option} must be a non-empty directory path, got ${describe(v)}`);
  }
  return resolvePath(v);
}

function parseLogLevel(v: unknown): LogLevel {
  if (v === undefined) return defaultLogLevel;
  if (!isLogLevel(v)) {
    throw invalid(
      'logLevel',
      `logLevel must be one of ${logLevels.map((l) => `'${l}'`).join(', ')}, got ${describe(v)}`,
    );
  }
  return v;
}

function parseLogger(v: unknown): Logger | null {
  if (v === undefined) return null;
  if (!isLogger(v)) {
    throw invalid(
      'logger',
      'logger must be an object with error, warn, info and debug methods taking (message, fields)',
    );
  }
  return v;
}

// ------------------------------------------------------------------------------------------------
// Addresses

const ipv4Wildcard = '0.0.0.0';
const ipv6Wildcard = '::';

/** Parse "a.b.c.d:port" or "[v6]:port"; `option` names the option in errors. */
export function parseAddress(v: unknown, option: string): NetAddress {
  if (typeof v !== 'string') {
    throw invalid(option, `${option} must be a "host:port" string, got ${describe(v)}`);
  }
  const bad = (why: string) => invalid(option, `${option} ${JSON.stringify(v)}: ${why}`);
  let host: string;
  let portText: string;
  let family: AddressFamily;
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    if (close < 0 || v[close + 1] !== ':') throw bad('write an IPv6 address as [address]:port, e.g. [fd00::1]:5405');
    host = v.slice(1, close);
    portText = v.slice(close + 2);
    if (!isIPv6(host)) throw bad(`'${host}' is not an IPv6 address`);
    host = canonicalIPv6(host);
    family = 'IPv6';
  } else {
    const colon = v.lastIndexOf(':');
    if (colon < 0) throw bad('the port is missing; write host:port, e.g. 10.0.0.1:5405');
    host = v.slice(0, colon);
    portText = v.slice(colon + 1);
    if (host.includes(':')) throw bad('write an IPv6 address in brackets, e.g. [fd00::1]:5405');
    if (!isIPv4(host)) throw bad(`'${host}' is not an IPv4 address (host names are not resolved; give the IP)`);
    family = 'IPv4';
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw bad(`'${portText}' is not a port number`);
  const port = Number(portText);
  if (port === 0) throw bad('port 0 is not allowed: every node must know the others\' ports before start');
  if (port > 65535) throw bad(`port ${port} is above 65535`);
  return { host, port, family };
}

/** Lower-case, compressed form (via the WHATWG URL parser), zone kept, so equal addresses compare equal. */
function canonicalIPv6(host: string): string {
  const pct = host.indexOf('%');
  const addr = pct < 0 ? host : host.slice(0, pct);
  const zone = pct < 0 ? '' : host.slice(pct);
  const hostname = new URL(`udp://[${addr}]/`).hostname;
  return `${hostname.slice(1, -1)}${zone}`;
}

export function formatAddress(a: NetAddress): string {
  return a.family === 'IPv6' ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function isWildcard(a: NetAddress): boolean {
  return a.host === ipv4Wildcard || a.host === ipv6Wildcard;
}

function isMulticast(a: NetAddress): boolean {
  if (a.family === 'IPv6') return a.host.startsWith('ff');
  const first = Number(a.host.split('.')[0]);
  return first >= 224 && first <= 239;
}

// ------------------------------------------------------------------------------------------------
// Members

function parseMembers(v: unknown, nodeId: NodeId, bind: NetAddress): ResolvedMember[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw invalid(
      'members',
      `members must be a non-empty array of { nodeId, address } listing every node, this one (${nodeId}) included`,
    );
  }
  if (v.length > nodeCountMax) {
    throw invalid(
      'members',
      `members lists ${v.length} nodes; at most ${nodeCountMax} are supported`,
    );
  }
  const byId = new Map<NodeId, number>();
  const byAddress = new Map<string, number>();
  const out: ResolvedMember[] = [];
  v.forEach((entry: unknown, i) => {
    const where = `members[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw invalid(where, `${where} must be an object { nodeId, address }, got ${describe(entry)}`);
    }
    const e = entry as Record<string, unknown>;
    checkKnownKeys(e, ['nodeId', 'address'], `${where}.`, 'member key');
    const id = parseNodeId(e.nodeId, `${where}.nodeId`);
    const address = parseAddress(e.address, `${where}.address`);
    const at = `${where}.address ${JSON.stringify(e.address)}`;
    if (isWildcard(address)) {
      throw invalid(
        `${where}.address`,
        `${at} is a wildcard; give the address other nodes reach it at`,
      );
    }
    if (isMulticast(address)) {
      throw invalid(
        `${where}.address`,
        `${at} is a multicast address; give the node's own address`,
      );
    }
    if (address.family !== bind.family) {
      const why = `${at} is ${address.family} but bind is ${bind.family}; use one address family throughout`;
      throw invalid(`${where}.address`, why);
    }
    const sameId = byId.get(id);
    if (sameId !== undefined) {
      throw invalid(
        `${where}.nodeId`,
        `${where}.nodeId ${id} is also the id of members[${sameId}]; node ids must be unique`,
      );
    }
    const text = formatAddress(address);
    const sameAddress = byAddress.get(text);
    if (sameAddress !== undefined) {
      throw invalid(
        `${where}.address`,
        `${at} is also the address of members[${sameAddress}]; addresses must be unique`,
      );
    }
    byId.set(id, i);
    byAddress.set(text, i);
    out.push({ nodeId: id, address });
  });
  const self = out.find((m) => m.nodeId === nodeId);
  if (self === undefined) {
    throw invalid(
      'members',
      `members does not list this node (nodeId ${nodeId}); list every node, this one included`,
    );
  }
  if (!isWildcard(bind) && bind.host === self.address.host && bind.port !== self.address.port) {
    const why = `bind ${formatAddress(bind)} and this node's member address ${formatAddress(self.address)}` +
      ' name the same host with different ports; use one port';
    throw invalid('bind', why);
  }
  return out.sort((a, b) => a.nodeId - b.nodeId);
}

function parseTransport(
  kind: unknown,
  group: unknown,
  family: AddressFamily,
): { transport: TransportKind; multicastAddress: NetAddress | null } {
  if (kind !== undefined && kind !== 'udpu' && kind !== 'multicast') {
    throw invalid('transport', `transport must be 'udpu' or 'multicast', got ${describe(kind)}`);
  }
  const transport: TransportKind = kind ?? 'udpu';
  if (transport === 'udpu') {
    if (group !== undefined) {
      throw invalid(
        'multicastAddress',
        "multicastAddress is used only with transport 'multicast'; remove it or set transport: 'multicast'",
      );
    }
    return { transport, multicastAddress: null };
  }
  if (group === undefined) {
    throw invalid(
      'multicastAddress',
      "transport 'multicast' needs multicastAddress, e.g. '239.192.0.1:5405'",
    );
  }
  const address = parseAddress(group, 'multicastAddress');
  if (!isMulticast(address)) {
    throw invalid(
      'multicastAddress',
      `multicastAddress ${formatAddress(address)} is not a multicast group (224.0.0.0/4, ff00::/8)`,
    );
  }
  if (address.family !== family) {
    throw invalid(
      'multicastAddress',
      `multicastAddress is ${address.family} but bind is ${family}; use one address family throughout`,
    );
  }
  return { transport, multicastAddress: address };
}

// ------------------------------------------------------------------------------------------------
// Key

function parseKey(v: unknown): ResolvedKey | null {
  if (v === undefined) return null;
  if (v instanceof Uint8Array) {
    if (v.byteLength !== keyBytes) {
      throw new TotemError('TOTEM_ERR_BAD_KEY', `key is ${v.byteLength} bytes; it must be exactly ${keyBytes}`, {
        details: { option: 'key', bytes: v.byteLength },
      });
    }
    // A copy, so that later changes to the caller's buffer do not change the node's key.
    return { kind: 'inline', bytes: Uint8Array.from(v) };
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ArrayBuffer)) {
    const k = v as Record<string, unknown>;
    checkKnownKeys(k, ['file'], 'key.', 'key option');
    if (typeof k.file === 'string' && k.file.length > 0) return { kind: 'file', path: resolvePath(k.file) };
  }
  throw invalid('key', `key must be a ${keyBytes}-byte Uint8Array or { file: path }, got ${describe(v)}`);
}

// ------------------------------------------------------------------------------------------------
// Engine: timers, window, sizes

const timerOptions = engineTimerNames;
type TimerOption = EngineTimerName;

const derivationSource: Partial<Record<TimerOption, TimerOption>> = {
  tokenRetransmitMs: 'tokenTimeoutMs',
  holdMs: 'tokenRetransmitMs',
  consensusTimeoutMs: 'tokenTimeoutMs',
};

const derivedFrom: Partial<Record<TimerOption, string>> = {
  tokenRetransmitMs: 'tokenTimeoutMs / 4.2',
  holdMs: 'tokenRetransmitMs × 0.8',
  consensusTimeoutMs: 'tokenTimeoutMs × 1.2',
};

function checkTimers(given: Partial<Record<TimerOption, number>>, t: Record<TimerOption, number>): void {
  const show = (k: TimerOption) => {
    if (given[k] !== undefined) return `${k} ${t[k]}`;
    const from = derivedFrom[k];
    return from === undefined ? `${k} ${t[k]} (default)` : `${k} ${t[k]} (derived: ${from})`;
  };
  // Blame an option the user set: a derived timer's fault is its source's (tokenTimeoutMs for
  // tokenRetransmitMs, ...); of the two sides of a relation, the dependent one unless only the
  // other side was set.
  const origin = (k: TimerOption): TimerOption => {
    const from = derivationSource[k];
    return given[k] !== undefined || from === undefined ? k : origin(from);
  };
  const isSet = (k: TimerOption) => given[origin(k)] !== undefined;
  const blame = (dependent: TimerOption, other: TimerOption) =>
    isSet(dependent) || !isSet(other) ? origin(dependent) : origin(other);
  for (const k of timerOptions) {
    if (t[k] < 1) {
      throw invalid(origin(k), `${show(k)} is below 1 ms; raise tokenTimeoutMs or set ${k}`);
    }
  }
  if (!(t.tokenTimeoutMs > t.tokenRetransmitMs)) {
    const why = `${show('tokenRetransmitMs')} must be below ${show('tokenTimeoutMs')}`;
    throw invalid(blame('tokenRetransmitMs', 'tokenTimeoutMs'), why);
  }
  if (!(t.holdMs < t.tokenRetransmitMs)) {
    const why = `${show('holdMs')} must be below ${show('tokenRetransmitMs')}`;
    throw invalid(blame('holdMs', 'tokenRetransmitMs'), why);
  }
  if (!(t.consensusTimeoutMs >= t.joinTimeoutMs)) {
    const why = `${show('consensusTimeoutMs')} must be at least ${show('joinTimeoutMs')}`;
    throw invalid(blame('consensusTimeoutMs', 'joinTimeoutMs'), why);
  }
}

function resolveEngine(o: Record<string, unknown>, nodeId: NodeId, frameBytesMax: number): EngineTuning {
  const given: Partial<Record<TimerOption, number>> = {};
  for (const k of timerOptions) {
    if (o[k] !== undefined) given[k] = parseInteger(o[k], k, 1, timerMsMax, 'milliseconds');
  }
  checkTimers(given, deriveTimers(given));

  const windowSize = o.windowSize === undefined
    ? engineDefaults.windowSize
    : parseInteger(o.windowSize, 'windowSize', 1, windowSizeMax, 'frames');
  const maxMessages = o.maxMessages === undefined
    ? deriveMaxMessages(windowSize)
    : parseInteger(o.maxMessages, 'maxMessages', 1, windowSizeMax, 'frames');
  if (maxMessages > windowSize) {
    const ws = o.windowSize === undefined ? `the default windowSize ${windowSize}` : `windowSize ${windowSize}`;
    const why = `maxMessages ${maxMessages} must not exceed ${ws}; lower maxMessages or raise windowSize`;
    throw invalid('maxMessages', why);
  }
  const messageBytesMax = o.messageBytesMax === undefined
    ? engineDefaults.messageBytesMax
    : parseInteger(o.messageBytesMax, 'messageBytesMax', 1, messageBytesMaxLimit, 'bytes');
  const sendQueueBytesMax = o.sendQueueBytesMax === undefined
    ? Math.max(engineDefaults.sendQueueBytesMax, messageBytesMax)
    : parseInteger(o.sendQueueBytesMax, 'sendQueueBytesMax', 1, Number.MAX_SAFE_INTEGER, 'bytes');
  if (sendQueueBytesMax < messageBytesMax) {
    const why = `sendQueueBytesMax ${sendQueueBytesMax} must be at least messageBytesMax ${messageBytesMax},` +
      ' so that one largest message fits';
    throw invalid('sendQueueBytesMax', why);
  }

  let config: EngineConfig;
  try {
    config = resolveEngineConfig({
      nodeId, ...given, windowSize, maxMessages, messageBytesMax, sendQueueBytesMax, frameBytesMax,
    });
  } catch (err) {
    // The checks above should have caught it; if the engine's rules have grown, still report it as
    // an option error rather than a crash.
    const why = err instanceof Error ? err.message : String(err);
    throw new TotemError('TOTEM_ERR_INVALID_OPTION', why, { details: { option: '(engine)' }, cause: err });
  }
  const { incarnation: _incarnation, ringSeqInitial: _ringSeqInitial, ...tuning } = config;
  return tuning;
}
