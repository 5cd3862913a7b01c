/**
 * The lock workload shared by every system the locks bench drives (totem-evs, etcd, Redlock): C
 * client loops per process, each acquiring and releasing a lock again and again for a while. A
 * loop's resource and mode follow the bench's options:
 *
 * - `resources` 0 (uncontended): every loop has a resource of its own, no request ever waits;
 * - `resources` R > 0: each cycle picks one of R shared resources at random (contention);
 * - `sharedPct`: the share of cycles that ask for a shared (PR) lock instead of an exclusive one.
 *
 * Acquire latency is from the call that asks for the lock to its grant, recorded (µs) only for
 * cycles that start inside the measured window; cycles count those that end inside it.
 */
import { createLatencyHistogram, encodeHistogram, recordLatencyUs } from '../../api/commands/latency.js';

export interface LockWorkloadSpec {
  /** Concurrent client loops in this process. */
  concurrency: number;
  resources: number;
  sharedPct: number;
  /** Date.now() when the measured window starts and ends; loops stop at the end. */
  measureFromMs: number;
  measureToMs: number;
  /** Seed of the resource and mode choice (xorshift; the bench passes one per process). */
  seed: number;
}

export interface LockWorkloadResult {
  /** Acquire+release cycles that ended inside the measured window. */
  cycles: number;
  /** Acquisitions that failed and were retried (etcd: lock taken; Redlock: quorum not reached). */
  retries: number;
  /** hdr histogram (compressed base64) of acquire latencies in µs. */
  acquireUs: string;
  errors: string[];
}

/** What one system offers the workload: acquire returns the release. */
export type Acquire = (resource: string, shared: boolean) => Promise<() => Promise<void>>;

/** Thrown by an Acquire that did not get the lock and should be retried (a peer's "taken"). */
export class RetryLater extends Error {}

export async function runLockWorkload(spec: LockWorkloadSpec, prefix: string, acquire: Acquire): Promise<LockWorkloadResult> {
  const histogram = createLatencyHistogram();
  let cycles = 0;
  let retries = 0;
  const errors: string[] = [];
  let state = spec.seed >>> 0 || 1;
  const random = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  const loop = async (k: number): Promise<void> => {
    while (Date.now() < spec.measureToMs && errors.length < 10) {
      const resource = spec.resources === 0 ? `${prefix}-c${k}` : `r${Math.floor(random() * spec.resources)}`;
      const shared = random() * 100 < spec.sharedPct;
      const startedMs = Date.now();
      const t0 = performance.now();
      let release: () => Promise<void>;
      try {
        release = await acquire(resource, shared);
      } catch (err) {
        if (err instanceof RetryLater) {
          retries++;
          continue;
        }
        errors.push(String(err));
        continue;
      }
      const acquiredUs = (performance.now() - t0) * 1000;
      if (startedMs >= spec.measureFromMs) recordLatencyUs(histogram, acquiredUs);
      try {
        await release();
      } catch (err) {
        errors.push(String(err));
        continue;
      }
      const endMs = Date.now();
      if (endMs >= spec.measureFromMs && endMs <= spec.measureToMs) cycles++;
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, (_, k) => loop(k)));
  return { cycles, retries, acquireUs: encodeHistogram(histogram), errors };
}
