/**
 * The load generator's pacer: sleeps until a target time with sub-millisecond precision without
 * blocking the event loop for long and without a long busy spin (2 cores are shared by every
 * node).
 *
 * Node's timers count whole milliseconds (a message due at t leaves up to ~1 ms late, and its
 * latency counts from t), and Atomics.wait on the main thread would stop the deliveries being
 * measured. So a small worker thread does the sleeping: it blocks in Atomics.wait with a fractional
 * timeout (a futex with a µs deadline) until `mainLeadUs` before the target and notifies; the main
 * thread awaits that notification with Atomics.waitAsync, so its event loop keeps running
 * meanwhile, and a whole-ms timer as a fallback for a host too loaded to run the worker in time.
 * Waking the main thread that way takes tens of µs (a task posted to its event loop; 70-90 µs at
 * the median on the shared 2-core host, when the worker notified at the target itself), so the
 * worker notifies early and the main thread spins out the rest, at most mainLeadUs: the spin is
 * where the wake latency used to be, and send() is called on time unless the wake took longer
 * than the lead. Targets are process.hrtime.bigint() (CLOCK_MONOTONIC, the same in every thread
 * and process of a host).
 *
 * How precise it is, the bench measures and reports (pacer lateness: send() called − intended).
 */
import { Worker } from 'node:worker_threads';

/**
 * How long before the target the worker wakes the main thread, which spins out whatever is left
 * (never more than this). Covers the worker's futex timer slack (~50 µs) and the main thread's
 * wake latency at the median; a later wake makes send() late by the excess, as before.
 */
export const mainLeadUs = 150;

/** Word indexes of the shared Int32Array; the target (BigInt64) sits at byte 16. */
const wordRequest = 0;
const wordFired = 1;
const wordSleep = 2;
const targetByteOffset = 16;

// Runs as CommonJS or as a module alike (an eval worker takes the parent's --input-type), hence
// getBuiltinModule rather than require or import.
const workerSource = `
const { workerData } = process.getBuiltinModule('node:worker_threads');
const w = new Int32Array(workerData.sab);
const target = new BigInt64Array(workerData.sab, ${targetByteOffset}, 1);
let last = 0;
for (;;) {
  const g = Atomics.load(w, ${wordRequest});
  if (g === last) { Atomics.wait(w, ${wordRequest}, last); continue; }
  if (g < 0) break;
  last = g;
  const t = Atomics.load(target, 0);
  for (;;) {
    const leftNs = t - process.hrtime.bigint();
    if (leftNs <= 0n) break;
    Atomics.wait(w, ${wordSleep}, 0, Number(leftNs) / 1e6);
  }
  Atomics.store(w, ${wordFired}, g);
  Atomics.notify(w, ${wordFired});
}
`;

// Atomics.waitAsync is in Node 20 (V8) but only in TypeScript's ES2024 lib; we target ES2022.
type WaitAsync = (
  a: Int32Array, index: number, value: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const atomicsWaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync.bind(Atomics);

const leadNs = BigInt(mainLeadUs * 1000);

export class Pacer {
  private readonly sab = new SharedArrayBuffer(24);
  private readonly words = new Int32Array(this.sab);
  private readonly target = new BigInt64Array(this.sab, targetByteOffset, 1);
  private readonly worker: Worker;
  private generation = 0;

  constructor() {
    this.worker = new Worker(workerSource, { eval: true, workerData: { sab: this.sab } });
    // The node's own threads keep the process alive; the pacer must not.
    this.worker.unref();
  }

  /** Resolves at `targetNs` (process.hrtime.bigint()), or at once if it has passed. */
  async sleepUntil(targetNs: bigint): Promise<void> {
    const leftNs = targetNs - process.hrtime.bigint();
    if (leftNs <= 0n) return;
    if (leftNs > leadNs) await this.wakeBefore(targetNs - leadNs, leftNs);
    // The bounded spin: at most mainLeadUs, on the thread that sends.
    while (process.hrtime.bigint() < targetNs);
  }

  /** Resolves at about `wakeNs` (the worker's notification, or the fallback timer). */
  private async wakeBefore(wakeNs: bigint, leftNs: bigint): Promise<void> {
    this.generation += 1;
    const g = this.generation;
    Atomics.store(this.target, 0, wakeNs);
    Atomics.store(this.words, wordRequest, g);
    Atomics.notify(this.words, wordRequest);
    // A fallback in whole ms (Node's timers) bounds the wait when the host cannot schedule the
    // worker in time: never later than the timers alone would be, give or take a ms. The timer
    // also holds the event loop's ref meanwhile (a pending waitAsync holds none).
    let timer: NodeJS.Timeout | undefined;
    const fallback = new Promise<'timer'>((resolve) => {
      timer = setTimeout(() => resolve('timer'), Math.ceil(Number(leftNs) / 1e6) + 1);
    });
    try {
      for (;;) {
        // Generations only grow: the worker may still be on an earlier one (a fallback won then).
        const fired = Atomics.load(this.words, wordFired);
        if (fired === g) return;
        const r = atomicsWaitAsync(this.words, wordFired, fired);
        if (!r.async) continue;
        if ((await Promise.race([r.value, fallback])) === 'timer') return;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the worker (it is blocked in Atomics.wait: asked through the request word). */
  close(): Promise<number> {
    Atomics.store(this.words, wordRequest, -1);
    Atomics.notify(this.words, wordRequest);
    return this.worker.terminate();
  }
}
