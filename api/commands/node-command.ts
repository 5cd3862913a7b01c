/**
 * `totem-evs node`: one member of a cluster as a process, for deployments, scripts, fault tests
 * and the bench. It joins a group, optionally multicasts probe messages at a given rate, prints
 * one human-readable line per configuration change, and ends with one JSON line of figures.
 */
import { appendHarnessCrash } from '../../workers/trace/trace-writer.js';
import { anatomySampleEvery, clockMs } from '../../workers/anatomy.js';
import { hopStampsWithin } from '../../workers/token-hops.js';
import { kLatencyAnatomy, kTokenHops } from '../node/evs-node.js';
import { AnatomyRecorder } from './anatomy-recorder.js';
import { Pacer } from './pacer.js';
import { createNode } from '../node.js';
import type { CreateNodeOptions, EvsNode } from '../node.js';
import type { Group } from '../group.js';
import type { GroupMessage, NodeConfiguration } from '../events.js';
import { parseAddress, suggest, timerMsMax } from '../options.js';
import type { MemberOption, NodeOptions } from '../options.js';
import { TotemError } from '../../workers/errors.js';
import { isLogLevel } from '../../workers/logger.js';
import type { LogLevel } from '../../workers/logger.js';
import {
  createLatencyHistogram,
  encodeHistogram,
  recordLatencyUs,
  summarizeUs,
} from './latency.js';
import { IntegrityCheck, probeBytesMin, readProbe, writeProbe } from './probe-payload.js';

export const NODE_USAGE = `Usage: totem-evs node --id N --listen HOST:PORT --member ID@HOST:PORT [--member ...] [options]

Runs one member of a totem-evs cluster. --member lists every node of the cluster, this one
included (its address must be the --listen address). The node joins a group and, with --rate,
multicasts probe messages to it; it prints one line per configuration change and, when it
stops, one JSON line of figures (the last line on stdout). A configuration line reads
'configuration regular|transitional ring R members A,B joined .. left .. cause C at MS', MS
being the wall-clock time it was printed (ms since the epoch).

Cluster:
  --id N                 this node's id (1..4294967295)
  --listen HOST:PORT     the address to bind (IPv4, or [IPv6]:port)
  --member ID@HOST:PORT  a member of the cluster; repeat for every node, this one included
  --key FILE             cluster key (32 bytes raw, 64 hex digits or base64; create one with
                         'totem-evs keygen FILE', mode 0600): authenticate and encrypt every
                         packet. Required when any member is off loopback, unless --insecure
  --insecure             run without a key although members are off loopback: anyone who can
                         reach the node can then read and forge its packets
  --cluster NAME         the cluster's name, bound into every packet's authentication (default
                         totem-evs; 1..64 of A-Z a-z 0-9 . _ -; the same on every node)
  --state-dir DIR        keep the highest ring seq here, so ring ids never repeat across restarts
  --trace-dir DIR        write this node's EVS trace (one file per incarnation) into DIR
  --transport udpu|multicast, --multicast HOST:PORT
                         unicast to every member (default) or IP multicast to a group address
  --net-mtu N            largest datagram in bytes, IP and UDP headers included (default 1500);
                         above the link MTU the kernel fragments it
  --token-ms N           token timeout (default 1000); --join-ms N (default 50);
  --consensus-ms N       (default 1.2 x token); --gather-silence-ms N: a member of the ring
                         silent this long in Gather is failed (default: max(4 x join,
                         token / 4.2 + 3 x join), 388 ms with the default token)
  --window N             frames per token rotation (default 200); --max-messages N, frames per
                         visit (default half the window)
  --log-level L          error | warn | info | debug (default warn)
  --metrics HOST:PORT    serve Prometheus metrics on http://HOST:PORT/metrics and a JSON status on
                         /status (read it with 'totem-evs status HOST:PORT'); off by default

Load:
  --group NAME           the group to join and send to (default bench)
  --rate R|max           messages per second (default 0: send nothing; max: as fast as flow
                         control allows)
  --size BYTES           message size (default 1024, at least ${probeBytesMin})
  --order agreed|safe|mixed
                         delivery order (default agreed; mixed alternates)
  --wait-members N       start sending once a regular configuration has N members (default 0)
  --latency-from S       record latencies only of messages whose intended send time is at least
                         S seconds after the load started here (default 0: all): a warmup
  --duration S           stop after S seconds (default: run until SIGTERM or SIGINT)
  --help                 print this help

It leaves gracefully on SIGTERM, SIGINT or at the end of --duration and exits 0. Bad flags, an
unknown member, an address that cannot be bound, an unreadable key file or a missing key off
loopback (without --insecure) print one error line
on stderr and exit 2; a fatal runtime error exits 1.

The JSON line has: node, incarnation, sentMsgs, deliveredMsgs, deliveredMsgsPerSec,
deliveredBytes, ownLatencyUs {p50,p90,p99,p999,p9999,max,count}, latencyUs (every delivery),
integrity {corrupt,missing,duplicated,reordered}, retransmitsSent, tokenRetransmits (token copies
resent), retransmitsRequested, packetsDropped (by reason), configurations (regular
configurations installed), tokenRotations, timeline (deliveries per second), timelineStartMs
(wall-clock ms since the epoch at which timeline's first second starts), cpuUserMs,
cpuSystemMs, peakRssBytes, deliveryBufferBytesPeak (most bytes of deliveries waiting for the
application beyond the delivery ring), and the encoded histograms (ownHistogram, latencyHistogram).
`;

export interface NodeCommandArgs {
  options: CreateNodeOptions;
  group: string;
  rate: number | 'max';
  sizeBytes: number;
  order: 'agreed' | 'safe' | 'mixed';
  waitMembers: number;
  durationS: number | null;
  /** Seconds after the load starts before latencies are recorded. */
  latencyFromS: number;
  traceDir: string | null;
}

export class UsageError extends Error {}

function intFlag(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} takes a whole number, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be in ${min}..${max}, got ${n}`);
  return n;
}

/** Parse argv (without "node"); throws UsageError with a message that says what to change. */
export function parseNodeArgs(argv: string[]): NodeCommandArgs | 'help' {
  const members: MemberOption[] = [];
  const flags = new Map<string, string>();
  const single = new Set([
    'id', 'listen', 'key', 'cluster', 'state-dir', 'trace-dir', 'transport', 'multicast', 'net-mtu', 'token-ms',
    'join-ms', 'consensus-ms', 'gather-silence-ms', 'window', 'max-messages', 'log-level', 'group', 'rate', 'size', 'order',
    'wait-members', 'duration', 'latency-from', 'metrics',
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return 'help';
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    if (arg === '--insecure') {
      // The one flag without a value.
      if (flags.has('insecure')) throw new UsageError('--insecure is given twice');
      flags.set('insecure', 'true');
      continue;
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else {
      value = argv[++i];
    }
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (name === 'member') {
      const m = /^(\d+)@(.+)$/.exec(value);
      if (m === null) throw new UsageError(`--member takes ID@HOST:PORT, got '${value}'`);
      members.push({ nodeId: intFlag('member', m[1] as string, 1, 0xffffffff), address: m[2] as string });
      continue;
    }
    if (!single.has(name)) {
      const near = suggest(name, [...single, 'member', 'insecure', 'help']);
      throw new UsageError(`unknown flag --${name}${near === null ? '' : ` (did you mean --${near}?)`} (see --help)`);
    }
    if (flags.has(name)) throw new UsageError(`--${name} is given twice`);
    flags.set(name, value);
  }
  const need = (name: string): string => {
    const v = flags.get(name);
    if (v === undefined) throw new UsageError(`--${name} is required`);
    return v;
  };
  const nodeId = intFlag('id', need('id'), 1, 0xffffffff);
  const listen = need('listen');
  if (members.length === 0) throw new UsageError('at least one --member is required (every node, this one included)');
  if (!members.some((m) => m.nodeId === nodeId)) throw new UsageError(`--id ${nodeId} is not among the --member flags`);
  const options: CreateNodeOptions = { nodeId, bind: listen, members };
  const opt = <K extends keyof NodeOptions>(key: K, value: NodeOptions[K] | undefined): void => {
    if (value !== undefined) options[key] = value;
  };
  const key = flags.get('key');
  if (key !== undefined) opt('key', { file: key });
  if (flags.has('insecure')) opt('insecure', true);
  opt('cluster', flags.get('cluster'));
  opt('stateDir', flags.get('state-dir'));
  const traceDir = flags.get('trace-dir') ?? null;
  if (traceDir !== null) opt('trace', traceDir);
  const transport = flags.get('transport');
  if (transport !== undefined && transport !== 'udpu' && transport !== 'multicast') {
    throw new UsageError(`--transport is udpu or multicast, got '${transport}'`);
  }
  opt('transport', transport as 'udpu' | 'multicast' | undefined);
  opt('multicastAddress', flags.get('multicast'));
  const num = (flag: string, min: number, max: number): number | undefined => {
    const v = flags.get(flag);
    return v === undefined ? undefined : intFlag(flag, v, min, max);
  };
  opt('netMtu', num('net-mtu', 1, 65535));
  opt('tokenTimeoutMs', num('token-ms', 1, timerMsMax));
  opt('joinTimeoutMs', num('join-ms', 1, timerMsMax));
  opt('consensusTimeoutMs', num('consensus-ms', 1, timerMsMax));
  opt('gatherSilenceMs', num('gather-silence-ms', 1, timerMsMax));
  opt('windowSize', num('window', 1, 1_000_000));
  opt('maxMessages', num('max-messages', 1, 1_000_000));
  const logLevel = flags.get('log-level');
  if (logLevel !== undefined) {
    if (!isLogLevel(logLevel)) throw new UsageError(`--log-level is error, warn, info or debug, got '${logLevel}'`);
    opt('logLevel', logLevel as LogLevel);
  }
  const rateFlag = flags.get('rate') ?? '0';
  const rate = rateFlag === 'max' ? 'max' : intFlag('rate', rateFlag, 0, 100_000_000);
  const sizeBytes = num('size', probeBytesMin, 64 * 1024 * 1024) ?? 1024;
  const order = flags.get('order') ?? 'agreed';
  if (order !== 'agreed' && order !== 'safe' && order !== 'mixed') {
    throw new UsageError(`--order is agreed, safe or mixed, got '${order}'`);
  }
  const durationFlag = flags.get('duration');
  let durationS: number | null = null;
  if (durationFlag !== undefined) {
    durationS = Number(durationFlag);
    if (!Number.isFinite(durationS) || durationS <= 0) throw new UsageError(`--duration takes seconds > 0, got '${durationFlag}'`);
  }
  const metrics = flags.get('metrics');
  if (metrics !== undefined) {
    let address;
    try {
      address = parseAddress(metrics, 'metrics');
    } catch (err) {
      throw new UsageError(`--metrics takes HOST:PORT: ${(err as Error).message}`);
    }
    options.metrics = { host: address.host, port: address.port };
  }
  return {
    options,
    group: flags.get('group') ?? 'bench',
    rate,
    sizeBytes,
    order,
    waitMembers: num('wait-members', 0, 100_000) ?? 0,
    durationS,
    latencyFromS: num('latency-from', 0, 86_400) ?? 0,
    traceDir,
  };
}

interface Out {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** One `configuration ...` line of this command's stdout, as a harness reads it back. */
export interface ConfigurationLine {
  kind: 'regular' | 'transitional';
  members: number[];
  /** Why the membership changed (engine ConfigurationCause). */
  cause: string;
  /** Wall-clock ms since the epoch when the line was written. */
  atMs: number;
}

const configurationLinePattern = /^configuration (regular|transitional) ring \S+ members (\S+) .* cause (\S+).* at (\d+)$/;

/** The inverse of describeConfiguration; null for any other line. */
export function parseConfigurationLine(line: string): ConfigurationLine | null {
  const m = configurationLinePattern.exec(line);
  if (m === null) return null;
  const members = m[2] === '-' ? [] : (m[2] as string).split(',').map(Number);
  return { kind: m[1] as ConfigurationLine['kind'], members, cause: m[3] as string, atMs: Number(m[4]) };
}

function describeConfiguration(c: NodeConfiguration): string {
  const list = (ids: readonly number[]): string => (ids.length === 0 ? '-' : ids.join(','));
  const who = c.causeNodes.length === 0 ? '' : ` (${list(c.causeNodes)})`;
  // `at`: wall-clock ms since the epoch when the line was written, so that a harness can time
  // membership changes (failover, rejoin) against its own clock on the same host.
  return `configuration ${c.kind} ring ${c.ringId} members ${list(c.members)} joined ${list(c.joined)} left ${list(c.left)} cause ${c.cause}${who} at ${Date.now()}`;
}

function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** Runs the command; resolves with the exit code. */
export async function runNodeCommand(argv: string[], out: Out = process): Promise<number> {
  let args: NodeCommandArgs;
  try {
    const parsed = parseNodeArgs(argv);
    if (parsed === 'help') {
      out.stdout.write(NODE_USAGE);
      return 0;
    }
    args = parsed;
  } catch (err) {
    out.stderr.write(`totem-evs node: ${(err as Error).message}\n`);
    return 2;
  }

  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  let node: EvsNode;
  try {
    node = await createNode(args.options);
  } catch (err) {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    const code = TotemError.isTotemError(err) ? err.code : undefined;
    out.stderr.write(`totem-evs node: ${(err as Error).message}${code === undefined ? '' : ` [${code}]`}\n`);
    const startupCodes = new Set(['TOTEM_ERR_INVALID_OPTION', 'TOTEM_ERR_BIND', 'TOTEM_ERR_KEY_FILE', 'TOTEM_ERR_BAD_KEY', 'TOTEM_ERR_STATE_DIR', 'TOTEM_ERR_INSECURE']);
    return code !== undefined && startupCodes.has(code) ? 2 : 1;
  }

  const me = args.options.nodeId;
  const incarnation = node.incarnation;
  const metricsAt = node.metricsAddress;
  if (metricsAt !== null) {
    const host = metricsAt.host.includes(':') ? `[${metricsAt.host}]` : metricsAt.host;
    out.stdout.write(`metrics on http://${host}:${metricsAt.port}/metrics\n`);
  }
  const integrity = new IntegrityCheck();
  let fatal: Error | null = null;
  let configurations = 0;
  let membersNow = 0;
  let membersReached: (() => void) | null = null;
  node.on('error', (err) => {
    fatal = err;
    out.stderr.write(`totem-evs node: fatal: ${err.message} [${err.code}]\n`);
    stop.abort();
  });
  node.on('configuration', (c) => {
    out.stdout.write(`${describeConfiguration(c)}\n`);
    if (c.kind === 'transitional') integrity.onTransitional(c.members);
    if (c.kind === 'regular') {
      configurations += 1;
      membersNow = c.members.length;
      if (membersNow >= args.waitMembers) membersReached?.();
    }
  });

  const startNs = nowNs();
  const startWallMs = Date.now();
  const own = createLatencyHistogram();
  const all = createLatencyHistogram();
  /** Paced runs: how late send() was called after the intended time (the pacer's own error). */
  const pacerLateness = createLatencyHistogram();
  const anatomy = new AnatomyRecorder(anatomySampleEvery);
  node[kLatencyAnatomy](anatomy.onSample);
  let pacer: Pacer | null = null;
  const timeline: number[] = [];
  let delivered = 0;
  let deliveredBytes = 0;
  let firstDeliveryNs = 0n;
  let lastDeliveryNs = 0n;
  let sent = 0;
  let ownOutstanding = 0;
  let ownDrained: (() => void) | null = null;
  /** Messages intended to be sent before this are not in the latency histograms (warmup). */
  let recordFromNs: bigint | null = null;
  /** The same window on the token hop stamps' clock (workers/token-hops.ts): from, and to (the load's end). */
  let hopsFromMs = Number.POSITIVE_INFINITY;
  let hopsToMs = Number.POSITIVE_INFINITY;
  stop.signal.addEventListener('abort', () => (hopsToMs = clockMs()), { once: true });

  const onMessage = (m: GroupMessage): void => {
    const t = nowNs();
    if (delivered === 0) firstDeliveryNs = t;
    lastDeliveryNs = t;
    delivered += 1;
    deliveredBytes += m.payload.length;
    const second = Number((t - startNs) / 1_000_000_000n);
    while (timeline.length <= second) timeline.push(0);
    timeline[second] = (timeline[second] ?? 0) + 1;
    const probe = readProbe(m.payload);
    integrity.observe(m.sender, m.incarnation, probe);
    if (probe !== null) {
      const recorded = recordFromNs !== null && probe.intendedNs >= recordFromNs;
      const latencyUs = Number(t - probe.intendedNs) / 1000;
      const isOwn = m.sender === me && m.incarnation === incarnation;
      anatomy.emitted(m.sender, m.incarnation, m.counter, isOwn, probe.intendedNs, recorded);
      if (recorded) recordLatencyUs(all, latencyUs);
      if (isOwn) {
        if (recorded) recordLatencyUs(own, latencyUs);
        ownOutstanding -= 1;
        if (ownOutstanding === 0) ownDrained?.();
      }
    }
  };

  let group: Group | null = null;
  try {
    group = await node.join(args.group, { signal: stop.signal });
    group.on('message', onMessage);
    if (args.durationS !== null) {
      const timer = setTimeout(() => stop.abort(), args.durationS * 1000);
      stop.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    }
    if (args.waitMembers > 0 && membersNow < args.waitMembers) {
      await new Promise<void>((resolve) => {
        membersReached = resolve;
        stop.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    // The load starts now (every node reaches its member count at about the same moment, and
    // all share CLOCK_MONOTONIC on one host): latencies count from here plus the warmup.
    recordFromNs = nowNs() + BigInt(Math.round(args.latencyFromS * 1e9));
    hopsFromMs = clockMs() + args.latencyFromS * 1000;
    if (args.rate !== 0 && !stop.signal.aborted) {
      const send = async (intendedNs: bigint): Promise<void> => {
        const payload = new Uint8Array(args.sizeBytes);
        sent += 1;
        writeProbe(payload, me, sent, intendedNs);
        const order = args.order === 'mixed' ? (sent % 2 === 0 ? 'safe' : 'agreed') : args.order;
        ownOutstanding += 1;
        if (args.rate !== 'max' && recordFromNs !== null && intendedNs >= recordFromNs) {
          recordLatencyUs(pacerLateness, Number(nowNs() - intendedNs) / 1000);
        }
        // The k-th message this incarnation sends is its counter k (one FIFO, one Packer).
        anatomy.sendCalled(sent);
        await (group as Group).send(payload, { order, signal: stop.signal });
      };
      if (args.rate === 'max') {
        while (!stop.signal.aborted) await send(nowNs());
      } else {
        // Paced: message k is due at start + k / rate; latency counts from that intended time,
        // so a sender that falls behind shows it (no coordinated omission).
        const periodNs = 1_000_000_000n / BigInt(args.rate);
        pacer = new Pacer();
        const sendStartNs = nowNs();
        let k = 0n;
        while (!stop.signal.aborted) {
          const now = nowNs();
          while (!stop.signal.aborted && sendStartNs + k * periodNs <= now) {
            await send(sendStartNs + k * periodNs);
            k += 1n;
          }
          // Sub-millisecond: Node's timers would let a message leave up to ~1 ms late (pacer.ts).
          if (!stop.signal.aborted) await pacer.sleepUntil(sendStartNs + k * periodNs);
        }
      }
    } else {
      await new Promise<void>((resolve) => {
        if (stop.signal.aborted) resolve();
        else stop.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  } catch (err) {
    if (!stop.signal.aborted && fatal === null) {
      out.stderr.write(`totem-evs node: ${(err as Error).message}\n`);
      fatal = err as Error;
    }
  }

  if (pacer !== null) await (pacer as Pacer).close();
  // Let own messages already accepted come back before leaving (bounded).
  if (fatal === null && ownOutstanding > 0) {
    await new Promise<void>((resolve) => {
      ownDrained = resolve;
      setTimeout(resolve, 3000).unref();
    });
  }
  let stats = null;
  let tokenHops = null;
  try {
    if (fatal === null) stats = await node.stats();
    if (fatal === null) tokenHops = await node[kTokenHops]();
  } catch {
    stats = null;
  }
  try {
    await node.close({ drainTimeoutMs: 3000 });
  } catch (err) {
    if (fatal === null) out.stderr.write(`totem-evs node: close: ${(err as Error).message}\n`);
  }
  if (args.traceDir !== null) appendHarnessCrash(args.traceDir, me);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);

  const spanS = Number(lastDeliveryNs - firstDeliveryNs) / 1e9;
  const usage = process.resourceUsage();
  const summary = {
    node: String(me),
    incarnation,
    sentMsgs: sent,
    deliveredMsgs: delivered,
    deliveredMsgsPerSec: spanS > 0 ? Math.round(delivered / spanS) : 0,
    deliveredBytes,
    ownLatencyUs: summarizeUs(own),
    latencyUs: summarizeUs(all),
    integrity: {
      corrupt: integrity.corrupt,
      missing: integrity.missing,
      duplicated: integrity.duplicated,
      reordered: integrity.reordered,
    },
    retransmitsSent: stats?.engine.retransmitsSent ?? null,
    tokenRotations: stats?.engine.tokenRotations ?? null,
    tokenRetransmits: stats?.engine.tokenRetransmits ?? null,
    retransmitsRequested: stats?.engine.retransmitsRequested ?? null,
    packetsDropped: stats?.engine.packetsDropped ?? null,
    configurations,
    timeline,
    timelineStartMs: startWallMs,
    firstDeliveryMs: Number(firstDeliveryNs - startNs) / 1e6,
    lastDeliveryMs: Number(lastDeliveryNs - startNs) / 1e6,
    cpuUserMs: Math.round(usage.userCPUTime / 1000),
    cpuSystemMs: Math.round(usage.systemCPUTime / 1000),
    peakRssBytes: usage.maxRSS * 1024,
    deliveryBufferBytesPeak: stats?.deliveryBuffer?.bytesPeak ?? null,
    ownHistogram: encodeHistogram(own),
    pacerLatenessUs: summarizeUs(pacerLateness),
    pacerHistogram: encodeHistogram(pacerLateness),
    anatomy: anatomy.toJSON(),
    tokenHops: tokenHops === null ? null : hopStampsWithin(tokenHops, hopsFromMs, hopsToMs),
    latencyHistogram: encodeHistogram(all),
    error: fatal === null ? null : (fatal as Error).message,
  };
  out.stdout.write(`${JSON.stringify(summary)}\n`);
  return fatal === null ? 0 : 1;
}
