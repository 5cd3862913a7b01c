/**
 * The lock manager's latency histograms, in microseconds (hdr-histogram-js, 3 significant digits
 * from 1 µs to 10 minutes), measured on this node with its monotonic clock:
 *
 * - `acquire`: from `lock()` (the request handed to the node) to its grant applied here;
 * - `blockingToRelease`: from a blocking notice on one of this node's locks to that lock's release
 *   applied here: how long this node's holders take to yield to waiters elsewhere;
 * - `recovery`: from a configuration change (the transitional configuration applied to the table)
 *   to the table granting again (a primary regular configuration, table synced): the stall a
 *   membership change costs lock users.
 *
 * Exposed as `LockManager.latencies()` (percentile summaries) and, on a node with a metrics
 * endpoint, as Prometheus histograms `totem_lock_*_seconds`.
 */
import { Histogram as PromHistogram, Registry } from 'prom-client';
import { createLatencyHistogram, recordLatencyUs, summarizeUs, type LatencyHistogram, type LatencySummaryUs } from '../commands/latency.js';

export type LockLatencyName = 'acquire' | 'blockingToRelease' | 'recovery';

export interface LockLatencies {
  acquireUs: LatencySummaryUs;
  blockingToReleaseUs: LatencySummaryUs;
  recoveryUs: LatencySummaryUs;
}

const promNames: Record<LockLatencyName, [name: string, help: string]> = {
  acquire: ['totem_lock_acquire_latency_seconds', 'From lock() to the grant applied at this node.'],
  blockingToRelease: ['totem_lock_blocking_to_release_seconds', 'From a blocking notice on a lock of this node to its release.'],
  recovery: ['totem_lock_recovery_seconds', 'From a configuration change to the lock table granting again.'],
};

/** Buckets in seconds: 50 µs to 10 s. */
const bucketsS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class LockLatencyRecorder {
  private readonly hdr: Record<LockLatencyName, LatencyHistogram> = {
    acquire: createLatencyHistogram(),
    blockingToRelease: createLatencyHistogram(),
    recovery: createLatencyHistogram(),
  };
  private readonly registry = new Registry();
  private readonly prom: Record<LockLatencyName, PromHistogram>;

  constructor(nodeId: number) {
    this.registry.setDefaultLabels({ node_id: String(nodeId) });
    const make = (n: LockLatencyName): PromHistogram => new PromHistogram({ name: promNames[n][0], help: promNames[n][1], buckets: bucketsS, registers: [this.registry] });
    this.prom = { acquire: make('acquire'), blockingToRelease: make('blockingToRelease'), recovery: make('recovery') };
  }

  record(name: LockLatencyName, us: number): void {
    recordLatencyUs(this.hdr[name], us);
    this.prom[name].observe(us / 1e6);
  }

  /** The hdr histogram itself (the bench merges these across nodes). */
  histogram(name: LockLatencyName): LatencyHistogram {
    return this.hdr[name];
  }

  summary(): LockLatencies {
    return {
      acquireUs: summarizeUs(this.hdr.acquire),
      blockingToReleaseUs: summarizeUs(this.hdr.blockingToRelease),
      recoveryUs: summarizeUs(this.hdr.recovery),
    };
  }

  /** Empty the hdr histograms (the Prometheus ones, cumulative by nature, keep counting). */
  reset(): void {
    for (const h of Object.values(this.hdr)) h.reset();
  }

  /** The Prometheus text of the histograms (the node's `/metrics` appends it). */
  prometheusText(): Promise<string> {
    return this.registry.metrics();
  }
}
