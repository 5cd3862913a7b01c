/**
 * Piscina worker: runs one seed per task. Loaded from dist/test/sim/seed-worker.js, since Node 20
 * cannot start a worker from a .ts file.
 */
import type { FaultMix } from './faults.js';
import type { SeedResult } from './run-seed.js';
import { runSeed } from './run-seed.js';

export interface SeedTask {
  seed: number;
  nodes: number;
  faults: FaultMix;
  traceDir?: string;
  safetyMs?: number;
  convergenceMsMax?: number;
  app?: 'messages' | 'locks';
}

export default function runSeedTask(task: SeedTask): SeedResult {
  return runSeed(task);
}
