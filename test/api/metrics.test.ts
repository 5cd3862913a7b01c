/**
 * The metrics endpoint: Prometheus text exposition from one stats snapshot per scrape, and the
 * same figures as JSON on /status.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricsEndpoint, MetricsSource, MetricsStats } from '../../api/metrics.js';
import { serveMetrics } from '../../api/metrics.js';

function snapshot(overrides: Partial<MetricsStats['engine']> = {}): MetricsStats {
  return {
    engine: {
      tokenRotations: 1200,
      tokensReceived: 1201,
      framesBroadcast: 300,
      framesDelivered: 900,
      retransmitsSent: 4,
      retransmitsRequested: 5,
      tokenRetransmits: 1,
      packetsDropped: { truncated: 0, malformed: 2, oversized: 0, version: 0, 'unknown-type': 0, 'foreign-ring': 3, duplicate: 7, state: 0,
        'ring-seq-bound': 0, 'not-member': 0, 'bad-set': 0, 'bad-commit-token': 0, 'bad-token': 0, 'not-predecessor': 0, 'conflicting-frame': 0 },
      gatherEntries: 2,
      commitEntries: 2,
      recoveryEntries: 2,
      configurationsInstalled: 2,
      state: 'operational',
      ringId: { rep: 1, seq: 2n ** 40n + 8n },
      members: [1, 2, 3],
      ...overrides,
    },
    net: { datagramsIn: 10, datagramsOut: 11, bytesIn: 1000, bytesOut: 1100, authFailures: 0, replays: 0, sendErrors: 0, receiveBufferBytes: 4194304 },
    messagesSubmitted: 40,
    messagesDelivered: 120,
    rings: [{ name: 'submit', usedBytes: 64, capacityBytes: 1048576 }],
    drops: { inRingFull: 0, outRingFull: 1, senderMismatch: 0 },
    submitsWaiting: 0,
    groups: 1,
  };
}

/** Sample lines of the text format: name{labels} value, every name declared by # TYPE first. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      typed.add(type[1] as string);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (m === null) throw new Error(`not a valid exposition line: ${line}`);
    const base = (m[1] as string).replace(/_(bucket|sum|count)$/, '');
    if (!typed.has(m[1] as string) && !typed.has(base)) throw new Error(`sample before its # TYPE: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

let endpoint: MetricsEndpoint | null = null;
afterEach(async () => {
  await endpoint?.close();
  endpoint = null;
});

describe('metrics endpoint', () => {
  it('serves every figure of a snapshot in the text format, names prefixed totem_', async () => {
    let current = snapshot();
    let latencies = [0.0004, 0.003];
    const source: MetricsSource = {
      nodeId: 3,
      stats: async () => current,
      takeLatencies: () => {
        const taken = latencies;
        latencies = [];
        return taken;
      },
    };
    endpoint = await serveMetrics(source, { host: '127.0.0.1', port: 0 });
    const res = await fetch(`http://127.0.0.1:${endpoint.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const samples = parseExposition(await res.text());
    for (const name of samples.keys()) expect(name.startsWith('totem_')).toBe(true);
    expect(samples.get('totem_token_rotations_total{node_id="3"}')).toBe(1200);
    expect(samples.get('totem_packets_dropped_total{reason="duplicate",node_id="3"}')).toBe(7);
    expect(samples.get('totem_ring_state{state="operational",node_id="3"}')).toBe(1);
    expect(samples.get('totem_ring_state{state="gather",node_id="3"}')).toBe(0);
    expect(samples.get('totem_ring_members{node_id="3"}')).toBe(3);
    expect(samples.get('totem_ring_seq{representative="1",node_id="3"}')).toBe(2 ** 40 + 8);
    expect(samples.get('totem_runtime_drops_total{reason="outRingFull",node_id="3"}')).toBe(1);
    expect(samples.get('totem_own_delivery_latency_seconds_count{node_id="3"}')).toBe(2);
    expect(samples.get('totem_own_delivery_latency_seconds_bucket{le="0.0005",node_id="3"}')).toBe(1);

    // A second scrape shows the node's counts, not a sum of scrapes; the state follows the node.
    current = snapshot({ tokenRotations: 1500, state: 'gather' });
    const again = parseExposition(await (await fetch(`http://127.0.0.1:${endpoint.port}/metrics`)).text());
    expect(again.get('totem_token_rotations_total{node_id="3"}')).toBe(1500);
    expect(again.get('totem_ring_state{state="operational",node_id="3"}')).toBe(0);
    expect(again.get('totem_ring_state{state="gather",node_id="3"}')).toBe(1);
    expect(again.get('totem_own_delivery_latency_seconds_count{node_id="3"}')).toBe(2);
  });

  it('serves /status as JSON (ring seq as a string), 404 elsewhere, 503 when the node has no figures', async () => {
    let failing = false;
    endpoint = await serveMetrics(
      { nodeId: 2, stats: async () => { if (failing) throw new Error('node is closed'); return snapshot(); } },
      { host: '127.0.0.1', port: 0 },
    );
    const base = `http://127.0.0.1:${endpoint.port}`;
    const status = (await (await fetch(`${base}/status`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ nodeId: 2, state: 'operational', ring: `1:${2n ** 40n + 8n}`, members: [1, 2, 3], messagesDelivered: 120 });
    expect((await fetch(`${base}/other`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    failing = true;
    const down = await fetch(`${base}/metrics`);
    expect(down.status).toBe(503);
    expect(await down.text()).toContain('node is closed');
  });

  it('rejects with the listen error when the port is taken', async () => {
    endpoint = await serveMetrics({ nodeId: 1, stats: async () => snapshot() }, { host: '127.0.0.1', port: 0 });
    await expect(serveMetrics({ nodeId: 1, stats: async () => snapshot() }, { host: '127.0.0.1', port: endpoint.port })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });
});
