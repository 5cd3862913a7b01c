/**
 * The ring and its doorbells across real threads. A producer worker writes a seeded stream of 2M
 * records of random sizes (8 B to payloadBytesMax, through write() and through tryClaim + commit,
 * with aborted claims mixed in) into a 4 KiB ring; a consumer checks every record. The ring is
 * small so that it wraps ~100k times and fills constantly; the producer also waits for a full
 * drain every ~512 records, so the consumer finds the ring empty and parks, and the next commit
 * has to wake it. Workers start from the compiled JS in dist/ (npm test builds first).
 *
 * Acceptable outcomes, as in jcstress, for each racing pair:
 *   reader vs. a record being written:
 *     - reader sees nothing of it (claim not yet published, or published with a negative length);
 *     - reader sees the whole record: its size, type, seq and checksum all match the stream.
 *   forbidden: part of a record (torn), a record out of order, lost or twice (outOfOrder), a
 *     record with another size or type (mismatched), an aborted claim (abortedSeen).
 *   waiter vs. waker (consumer parked on an empty ring, producer parked on a full ring or a drain):
 *     - 'ready': the waiter's re-check after flagging sleep found the work;
 *     - 'woken': the waker saw the flag and flipped it before the park, or notified the parked
 *       waiter (spurious wakes, from a notify meant for an earlier sleep, land here too).
 *   forbidden: 'timed-out'. A waiter waits only while its peer is mid-stream, and the peer
 *     publishes work or room within microseconds, so a 10 s park means the wake-up was lost.
 *     (10 s is far above the 1.3 s freezes this kind of host shows; it only turns a hang into a
 *     reported failure, it is not a performance bound.)
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Doorbell } from '../../workers/ring/doorbell.js';
import { SpscRing } from '../../workers/ring/spsc-ring.js';
import {
  StreamChecker,
  type ConsumerReport,
  type ProducerReport,
  type StressWorkerData,
} from './fixtures/stress-stream.js';

const fixturesUrl = new URL('../../dist/test/workers/fixtures/', import.meta.url);
const recordCount = 2_000_000;
const capacityBytes = 4096;
const waitTimeoutMs = 10_000;
const seed = 0x5eed_2024;

function fixture(name: string): URL {
  const url = new URL(name, fixturesUrl);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`${fileURLToPath(url)} is missing: run npx tsc -p tsconfig.json first`);
  }
  return url;
}

interface StressSetUp {
  ring: SpscRing;
  consumerBell: Doorbell;
  producerBell: Doorbell;
  data: StressWorkerData;
}

function setUp(): StressSetUp {
  const ring = SpscRing.create(capacityBytes);
  // The consumer's word lives in the ring's trailer; the producer's has a buffer of its own.
  const consumerBell = Doorbell.ofRing(ring);
  const producerBell = Doorbell.create();
  const data: StressWorkerData = {
    ringSab: ring.sab,
    consumerBellSab: consumerBell.sab,
    consumerBellByteOffset: consumerBell.byteOffset,
    producerBellSab: producerBell.sab,
    producerBellByteOffset: producerBell.byteOffset,
    seed,
    recordCount,
    drainEvery: 512,
    waitTimeoutMs,
    batchMax: 64,
  };
  return { ring, consumerBell, producerBell, data };
}

/** Resolves with the worker's one message, rejects if it fails or exits without sending it. */
function runWorker<T>(
  name: string,
  data: StressWorkerData,
): { worker: Worker; report: Promise<T> } {
  const worker = new Worker(fixture(name), { workerData: data });
  const report = new Promise<T>((resolve, reject) => {
    let result: T | undefined;
    worker.once('message', (message: T) => (result = message));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (result !== undefined) resolve(result);
      else reject(new Error(`${name} exited with code ${code} before reporting`));
    });
  });
  return { worker, report };
}

function expectCleanRun(producer: ProducerReport, consumer: ConsumerReport): void {
  expect(consumer.firstError).toBe('');
  expect(producer.written).toBe(recordCount);
  expect(consumer.received).toBe(recordCount);
  // Forbidden outcomes.
  expect(consumer.torn).toBe(0);
  expect(consumer.outOfOrder).toBe(0);
  expect(consumer.mismatched).toBe(0);
  expect(consumer.abortedSeen).toBe(0);
  expect(consumer.waits.timedOut).toBe(0);
  expect(producer.waits.timedOut).toBe(0);
  // The run exercised what it claims to: aborted claims, and both sides parked and were woken by
  // the other (not only caught by their own re-check).
  expect(producer.aborted).toBeGreaterThan(0);
  expect(consumer.waits.woken).toBeGreaterThan(0);
  expect(producer.waits.woken).toBeGreaterThan(0);
  expect(producer.wakesNotified).toBeGreaterThan(0);
  expect(consumer.wakesNotified).toBeGreaterThan(0);
}

describe('SpscRing across threads', () => {
  it('delivers every record whole and in order to a worker parked with Atomics.wait', async () => {
    const { data } = setUp();
    const consumer = runWorker<ConsumerReport>('ring-consumer.js', data);
    const producer = runWorker<ProducerReport>('ring-producer.js', data);
    try {
      const reports = await Promise.all([producer.report, consumer.report]);
      expectCleanRun(...reports);
    } finally {
      await Promise.all([producer.worker.terminate(), consumer.worker.terminate()]);
    }
  });

  it('delivers every record whole and in order to the main thread on waitAsync', async () => {
    const { ring, consumerBell, producerBell, data } = setUp();
    consumerBell.watch(ring);
    const checker = new StreamChecker(seed, ring.payloadBytesMax, data.drainEvery);
    const report = checker.report;
    const handler = checker.onRecord.bind(checker);
    // The running producer worker keeps this thread's event loop alive while waitAsync is pending
    // (a pending waitAsync alone would not).
    const producer = runWorker<ProducerReport>('ring-producer.js', data);
    let producerFailed = false;
    producer.report.catch(() => (producerFailed = true));
    try {
      while (report.received < recordCount && !producerFailed) {
        const count = ring.read(handler, data.batchMax);
        // After read()'s head store, for a producer parked on a full ring or a drain.
        if (producerBell.wake()) report.wakesNotified++;
        if (count > 0) continue;
        const outcome = await consumerBell.waitAsync(waitTimeoutMs);
        if (outcome === 'ready') report.waits.ready++;
        else if (outcome === 'woken') report.waits.woken++;
        else if (++report.waits.timedOut >= 3) break;
      }
      expectCleanRun(await producer.report, report);
    } finally {
      await producer.worker.terminate();
    }
  });
});
