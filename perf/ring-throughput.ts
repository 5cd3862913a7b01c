/**
 * Micro-benchmark of one SPSC ring between two threads: a producer worker writes N records of a
 * fixed payload size, the main thread reads them, and the rate is records per second from the
 * consumer's first to last record. Both sides park on doorbells when there is nothing to do (no
 * spinning: on 2 cores a spinning side steals the other's core). Not a test: it prints figures.
 *
 *   npx tsc -p tsconfig.json && node dist/perf/ring-throughput.js \
 *     [--runs 5] [--capacity-bytes 262144] [--records-small 4000000] [--records-large 1000000] [--json]
 *
 * Prints, per payload size, the median of the runs, their spread (min..max) and every run: the
 * host freezes threads now and then, so one slow run says little. The producer calls
 * wake() after every write, as a real producer without batching would.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Doorbell } from '../workers/ring/doorbell.js';
import { SpscRing } from '../workers/ring/spsc-ring.js';

interface ProducerData {
  ringSab: SharedArrayBuffer;
  consumerBellSab: SharedArrayBuffer;
  consumerBellByteOffset: number;
  producerBellSab: SharedArrayBuffer;
  /** Int32 slot 0: the start flag the producer waits on, so worker start-up is not measured. */
  startSab: SharedArrayBuffer;
  payloadBytes: number;
  recordCount: number;
}

const waitTimeoutMs = 1000;
const readBatchMax = 1024;

function produce(data: ProducerData): void {
  const ring = new SpscRing(data.ringSab);
  const consumerBell = new Doorbell(data.consumerBellSab, data.consumerBellByteOffset);
  const producerBell = new Doorbell(data.producerBellSab, 0);
  const payload = new Uint8Array(data.payloadBytes).fill(0x5a);
  const hasRoom = (): boolean => ring.canClaim(data.payloadBytes);
  const start = new Int32Array(data.startSab);
  parentPort?.postMessage('ready');
  // Parks until the main thread sets the flag; the loop covers a spurious or early return.
  while (Atomics.load(start, 0) === 0) Atomics.wait(start, 0, 0, waitTimeoutMs);
  for (let i = 0; i < data.recordCount; i++) {
    while (!ring.write(1 + (i & 0xff), payload)) producerBell.waitSync(waitTimeoutMs, hasRoom);
    // After the commit: notifies only when the consumer has flagged that it sleeps.
    consumerBell.wake();
  }
}

async function runOnce(
  payloadBytes: number,
  recordCount: number,
  capacityBytes: number,
): Promise<number> {
  const ring = SpscRing.create(capacityBytes);
  const consumerBell = Doorbell.ofRing(ring).watch(ring);
  const producerBell = Doorbell.create();
  const startSab = new SharedArrayBuffer(4);
  const data: ProducerData = {
    ringSab: ring.sab,
    consumerBellSab: consumerBell.sab,
    consumerBellByteOffset: consumerBell.byteOffset,
    producerBellSab: producerBell.sab,
    startSab,
    payloadBytes,
    recordCount,
  };
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  const exited = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));

  let received = 0;
  let checksum = 0;
  const handler = (type: number, buffer: Uint8Array, offset: number, length: number): void => {
    received++;
    checksum = (checksum + type + (buffer[offset + length - 1] ?? 0)) | 0;
  };
  const startNs = process.hrtime.bigint();
  Atomics.store(new Int32Array(startSab), 0, 1);
  Atomics.notify(new Int32Array(startSab), 0);
  // The main thread blocks with waitSync here: this script runs nothing else on its event loop.
  while (received < recordCount) {
    const count = ring.read(handler, readBatchMax);
    producerBell.wake();
    if (count === 0) consumerBell.waitSync(waitTimeoutMs);
  }
  const elapsedNs = Number(process.hrtime.bigint() - startNs);
  await exited;
  if (checksum === 0x7fffffff) console.log('unlikely checksum'); // keeps the handler's work live
  return recordCount / (elapsedNs / 1e9);
}

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function main(): Promise<void> {
  const runs = flag('runs', 5);
  const capacityBytes = flag('capacity-bytes', 256 * 1024);
  const cases = [
    { payloadBytes: 64, recordCount: flag('records-small', 4_000_000) },
    { payloadBytes: 1024, recordCount: flag('records-large', 1_000_000) },
  ];
  const json = process.argv.includes('--json');
  const all: { payloadBytes: number; recordCount: number; rates: number[] }[] = [];
  if (!json) console.log(`ring-throughput: node ${process.version}, ring ${capacityBytes} B, ${runs} runs`);
  for (const { payloadBytes, recordCount } of cases) {
    const rates: number[] = [];
    for (let run = 0; run < runs; run++) {
      rates.push(await runOnce(payloadBytes, recordCount, capacityBytes));
    }
    all.push({ payloadBytes, recordCount, rates: rates.map(Math.round) });
    if (json) continue;
    rates.sort((a, b) => a - b);
    const median = rates[Math.floor(rates.length / 2)] ?? 0;
    const min = rates[0] ?? 0;
    const max = rates[rates.length - 1] ?? 0;
    const mibPerS = (median * payloadBytes) / 2 ** 20;
    console.log(
      `${String(payloadBytes).padStart(5)} B x ${recordCount}: median ${fmt(median)} records/s ` +
        `(min ${fmt(min)}, max ${fmt(max)}; ${mibPerS.toFixed(0)} MiB/s payload) ` +
        `runs: ${rates.map(fmt).join(' ')}`,
    );
  }
  if (json) console.log(JSON.stringify(all));
}

function fmt(recordsPerS: number): string {
  return `${(recordsPerS / 1e6).toFixed(2)}M`;
}

if (isMainThread) {
  await main();
} else {
  produce(workerData as ProducerData);
}
