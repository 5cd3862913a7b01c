/**
 * Prometheus metrics of one node, on an HTTP endpoint the application opts into
 * (`createNode({ metrics: { host, port } })`, `totem-evs node --metrics HOST:PORT`):
 *
 *   GET /metrics  the text exposition format (prom-client), every name prefixed `totem_`;
 *   GET /status   the same figures as one JSON object, for `totem-evs status HOST:PORT`.
 *
 * Nothing is sampled in the background: each scrape asks the node for its counters once
 * (`stats()`, one round trip to the workers) and every metric is filled from that snapshot, so
 * an idle endpoint costs nothing and one scrape is consistent with itself. The registry is the
 * node's own, never prom-client's global one: several nodes in one process each keep theirs.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MembershipState } from '../engine/types.js';
import type { RuntimeStats } from '../workers/runtime-types.js';

/** What the endpoint reads: a node's counters, and its own-delivery latencies if it keeps them. */
export interface MetricsSource {
  readonly nodeId: number;
  stats(): Promise<MetricsStats>;
  /**
   * Own-delivery latencies (seconds from send() accepted to the message's delivery here) observed
   * since the last call; emptied by the call.
   */
  takeLatencies?(): readonly number[];
  /** More Prometheus text appended to `/metrics` (the lock manager's latency histograms). */
  extraText?(): Promise<string>;
}

/** The figures one scrape reads (a node's `stats()` has these and more). */
export interface MetricsStats extends RuntimeStats {
  submitsWaiting?: number;
  groups?: number;
}

export interface MetricsEndpoint {
  /** The bound address (the port is the kernel's choice when 0 was asked for). */
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Ring states, in the order a membership change passes through them. */
export const ringStates: readonly MembershipState[] = ['operational', 'gather', 'commit', 'recovery'];

/** Latency buckets in seconds: 50 µs to 5 s, where own-delivery latencies of a ring fall. */
const latencyBucketsS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type CounterSpec = readonly [name: string, help: string, read: (s: MetricsStats) => number];

const counterSpecs: readonly CounterSpec[] = [
  ['totem_token_rotations_total', 'Token rotations seen by this node.', (s) => s.engine.tokenRotations],
  ['totem_tokens_received_total', 'Tokens of the current rings accepted.', (s) => s.engine.tokensReceived],
  ['totem_frames_broadcast_total', 'Data frames this node broadcast.', (s) => s.engine.framesBroadcast],
  ['totem_frames_delivered_total', 'Data frames delivered here in total order.', (s) => s.engine.framesDelivered],
  ['totem_retransmits_sent_total', 'Frames this node retransmitted on request.', (s) => s.engine.retransmitsSent],
  ['totem_retransmits_requested_total', 'Frames this node asked others to retransmit.', (s) => s.engine.retransmitsRequested],
  ['totem_token_retransmits_total', 'Token copies resent after the token seemed lost.', (s) => s.engine.tokenRetransmits],
  ['totem_gather_entries_total', 'Times this node entered Gather (a membership change began).', (s) => s.engine.gatherEntries],
  ['totem_commit_entries_total', 'Times this node entered Commit.', (s) => s.engine.commitEntries],
  ['totem_recovery_entries_total', 'Times this node entered Recovery.', (s) => s.engine.recoveryEntries],
  ['totem_configurations_installed_total', 'Regular configurations installed.', (s) => s.engine.configurationsInstalled],
  ['totem_messages_submitted_total', 'Application messages this node submitted.', (s) => s.messagesSubmitted],
  ['totem_messages_delivered_total', 'Application messages delivered to this node.', (s) => s.messagesDelivered],
  ['totem_net_datagrams_in_total', 'Datagrams received.', (s) => s.net.datagramsIn],
  ['totem_net_datagrams_out_total', 'Datagrams sent.', (s) => s.net.datagramsOut],
  ['totem_net_bytes_in_total', 'Bytes received, UDP payload.', (s) => s.net.bytesIn],
  ['totem_net_bytes_out_total', 'Bytes sent, UDP payload.', (s) => s.net.bytesOut],
  ['totem_net_auth_failures_total', 'Datagrams that failed authentication.', (s) => s.net.authFailures],
  ['totem_net_replays_total', 'Authenticated datagrams dropped as replays.', (s) => s.net.replays],
  ['totem_net_send_errors_total', 'Datagrams the socket refused to send.', (s) => s.net.sendErrors],
  [
    'totem_net_warnings_held_back_total',
    'Warnings about received datagrams not logged because of the rate limit (16 lines per 10 s).',
    (s) => s.net.warningsHeldBack ?? 0,
  ],
];

/**
 * A registry filled from one stats snapshot per scrape. `collect` sets every metric from `stats`;
 * counters are set to the node's own monotonic counts (prom-client counters only count up, so each
 * is reset and raised to the node's value: the exposed value is the node's, never a sum of scrapes).
 */
export function createMetricsRegistry(source: MetricsSource): { registry: Registry; collect: (stats: MetricsStats) => void } {
  const registry = new Registry();
  registry.setDefaultLabels({ node_id: String(source.nodeId) });
  const counters = counterSpecs.map(([name, help, read]) => ({ metric: new Counter({ name, help, registers: [registry] }), read }));
  const dropped = new Counter({
    name: 'totem_packets_dropped_total',
    help: 'Packets the engine dropped, by reason (malformed, foreign ring, duplicate, ...).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const runtimeDrops = new Counter({
    name: 'totem_runtime_drops_total',
    help: 'Packets the runtime dropped (ring full, sender mismatch), by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const netDropped = new Counter({
    name: 'totem_net_dropped_total',
    help: 'Datagrams the net worker dropped before the engine, by reason (own_packet, unlisted, address_mismatch, not_for_me, auth_failed, replay, version, ...).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const state = new Gauge({
    name: 'totem_ring_state',
    help: 'Membership state: 1 for the current one. Sends wait while it is not operational.',
    labelNames: ['state'],
    registers: [registry],
  });
  const members = new Gauge({ name: 'totem_ring_members', help: 'Members of the current ring.', registers: [registry] });
  const ringSeq = new Gauge({
    name: 'totem_ring_seq',
    help: 'Sequence number of the current ring id (exact below 2^53).',
    labelNames: ['representative'],
    registers: [registry],
  });
  const ringUsed = new Gauge({ name: 'totem_ring_buffer_used_bytes', help: 'Bytes queued in a thread ring buffer.', labelNames: ['ring'], registers: [registry] });
  const ringCapacity = new Gauge({ name: 'totem_ring_buffer_capacity_bytes', help: 'Capacity of a thread ring buffer.', labelNames: ['ring'], registers: [registry] });
  const receiveBuffer = new Gauge({ name: 'totem_net_receive_buffer_bytes', help: 'Socket receive buffer the kernel granted.', registers: [registry] });
  const waiting = new Gauge({ name: 'totem_submits_waiting', help: 'Sends, joins and leaves waiting for room in the runtime.', registers: [registry] });
  const groups = new Gauge({ name: 'totem_groups', help: 'Groups joined, being joined or being left.', registers: [registry] });
  const latency = new Histogram({
    name: 'totem_own_delivery_latency_seconds',
    help: 'From send() accepted to the delivery of the same message at this node, in total order.',
    buckets: latencyBucketsS,
    registers: [registry],
  });

  const setCounter = (c: Counter<string>, value: number, labels?: Record<string, string>): void => {
    if (labels === undefined) {
      c.reset();
      c.inc(value);
    } else {
      c.remove(labels);
      c.inc(labels, value);
    }
  };

  const collect = (s: MetricsStats): void => {
    for (const { metric, read } of counters) setCounter(metric, read(s));
    for (const [reason, count] of Object.entries(s.engine.packetsDropped)) setCounter(dropped, count, { reason });
    for (const [reason, count] of Object.entries(s.net.dropped ?? {})) setCounter(netDropped, count, { reason });
    if (s.drops !== undefined) for (const [reason, count] of Object.entries(s.drops)) setCounter(runtimeDrops, count, { reason });
    for (const st of ringStates) state.set({ state: st }, st === s.engine.state ? 1 : 0);
    members.set(s.engine.members.length);
    ringSeq.reset();
    ringSeq.set({ representative: String(s.engine.ringId.rep) }, Number(s.engine.ringId.seq));
    for (const r of s.rings) {
      ringUsed.set({ ring: r.name }, r.usedBytes);
      ringCapacity.set({ ring: r.name }, r.capacityBytes);
    }
    receiveBuffer.set(s.net.receiveBufferBytes);
    waiting.set(s.submitsWaiting ?? 0);
    groups.set(s.groups ?? 0);
    for (const seconds of source.takeLatencies?.() ?? []) latency.observe(seconds);
  };
  return { registry, collect };
}

/** The JSON of `/status`: the snapshot with the ring id spelled as strings (no BigInt). */
export function statusJson(nodeId: number, s: MetricsStats): Record<string, unknown> {
  return {
    nodeId,
    state: s.engine.state,
    ring: `${s.engine.ringId.rep}:${s.engine.ringId.seq}`,
    members: s.engine.members,
    engine: { ...s.engine, ringId: { rep: s.engine.ringId.rep, seq: String(s.engine.ringId.seq) } },
    net: s.net,
    messagesSubmitted: s.messagesSubmitted,
    messagesDelivered: s.messagesDelivered,
    rings: s.rings,
    drops: s.drops ?? null,
    submitsWaiting: s.submitsWaiting ?? 0,
    groups: s.groups ?? 0,
  };
}

/**
 * Serve `/metrics` and `/status` for `source` on host:port. Resolves once listening; rejects with
 * the listen error (EADDRINUSE, EACCES ...) otherwise. Other paths answer 404, other methods 405.
 */
export async function serveMetrics(source: MetricsSource, address: { host: string; port: number }): Promise<MetricsEndpoint> {
  const { registry, collect } = createMetricsRegistry(source);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/status') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('totem-evs serves /metrics and /status\n');
      return;
    }
    let stats: MetricsStats;
    try {
      stats = await source.stats();
    } catch (err) {
      // A closed or failed node has no figures: say so rather than serve stale ones.
      res.writeHead(503, { 'content-type': 'text/plain' }).end(`${err instanceof Error ? err.message : String(err)}\n`);
      return;
    }
    if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(statusJson(source.nodeId, stats))}\n`);
      return;
    }
    collect(stats);
    res.writeHead(200, { 'content-type': registry.contentType }).end((await registry.metrics()) + ((await source.extraText?.()) ?? ''));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    host: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
