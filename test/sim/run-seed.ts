/**
 * One simulated run, VOPR style: a seed fixes the cluster (node ids), the fault schedule and the
 * application load. A safety phase runs the load under faults; a convergence phase heals
 * everything, restarts some crashed nodes and leaves the others down, stops new sends, and runs
 * until the live nodes have settled in one ring (or a virtual time budget runs out). The traces
 * of every node incarnation are then checked by the EVS checker in its settled mode.
 *
 * Same seed and options, same traces, byte for byte: the seeded PRNG is the only randomness, the
 * virtual clock the only time, and nothing iterates an unordered collection.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TotemNode } from '../../engine/node.js';
import { deriveTimers } from '../../engine/config.js';
import type { CheckFn, CheckViolation } from './checker.js';
import { evsCheck } from './checker.js';
import type { ClusterOptions, SimNodeFactory, WorkloadOptions } from './cluster.js';
import { Cluster } from './cluster.js';
import { Adversary, type AdversaryMode, type AdversaryOptions } from './adversary.js';
import type { FaultMix } from './faults.js';
import { FaultInjector } from './faults.js';
import { Prng } from './prng.js';
import { evsAndLockCheck, LockWorkload } from './lock-workload.js';
import { HARNESS_FILE_NAME } from './trace-lines.js';
import { VirtualClock } from './virtual-clock.js';

export interface SeedOptions {
  seed: number;
  nodes: number;
  faults: FaultMix;
  /** Write the traces to `traceDir/<seed>/` (node files and harness.jsonl). */
  traceDir?: string;
  /** Length of the safety phase; default drawn from the seed in [10 s, 20 s]. */
  safetyMs?: number;
  /** Budget of the convergence phase. */
  convergenceMsMax?: number;
  /** Time after the end of the faults during which nodes still submit. */
  submitTailMs?: number;
  workload?: Partial<WorkloadOptions>;
  /** The application: the random message load (default) or the lock manager (test/sim/lock-workload.ts). */
  app?: 'messages' | 'locks';
  /** The engine; TotemNode unless a test substitutes a fake. */
  nodeFactory?: SimNodeFactory;
  /** The trace checker; the EVS checker unless given; null: no check (harness tests). */
  check?: CheckFn | null;
  /** Runaway guard: a run that handles this many events at all is reported, not waited for. */
  eventsMax?: number;
  /** Livelock guard: this many zero-delay events in a row at one virtual instant. */
  instantEventsMax?: number;
}

export interface SeedResult {
  seed: number;
  nodes: number;
  faults: FaultMix;
  /** The adversary of this seed (adversary.ts): none, or how the runtime's authentication is modelled. */
  adversary: 'none' | AdversaryMode;
  /** Whether the engines were given the member list (EngineConfig.clusterNodeIds). */
  memberList: boolean;
  /**
   * What was checked: `evs`, every EVS property and settling; `survival` (unkeyed adversary, which
   * may corrupt payloads undetected): no engine exception, no hang, settling. What the EVS checker
   * found in a survival run is listed in `warnings`.
   */
  check: 'evs' | 'survival';
  packetsInjected: number;
  ok: boolean;
  violations: CheckViolation[];
  /** Warnings that do not fail the seed (e.g. traces not checked). */
  warnings: string[];
  /** For a run that did not settle: each live node's membership state at the end. */
  diagnostics: string[];
  messagesSent: number;
  /** submit() calls refused with a full send queue (each retried later). */
  submitsRefused: number;
  deliveries: number;
  configurationsInstalled: number;
  crashes: number;
  restarts: number;
  /** Graceful leaves (the `leave` mix). */
  leaves: number;
  /** Did the live nodes settle before the convergence budget ran out? */
  settled: boolean;
  /**
   * For a settled run: virtual ms from the heal (faults stop, crashed nodes restart) to the last
   * regular configuration installed, the one the live nodes settled in; 0 if it came before.
   */
  healToOneRingMs?: number;
  /** The same in this seed's consensus timeouts (the unit the liveness bound is stated in). */
  healToOneRingConsensusTimeouts?: number;
  virtualMs: number;
  eventsRun: number;
  /** Trace files (node incarnations) the run produced. */
  traceFiles: number;
  replayCommand: string;
  /** The safety phase length when it was given rather than drawn from the seed (part of the replay). */
  safetyMs?: number;
  /** Where the traces were written, when they were. */
  traceDir?: string;
}

const quietMs = 1500;
const settleCheckPeriodMs = 250;
/**
 * How long past the convergence budget a draining ring may run on. A 64-node ring carries a few
 * hundred frames a second at a seed's smallest window, while the heavy workload offers 100 a
 * second per node: a 20 s fault phase queues minutes of work. The bound grows with the ring so
 * that it still catches a ring that delivers but never empties.
 */
function drainMsMaxFor(nodes: number): number {
  return 240_000 * Math.max(1, nodes / 16);
}

/**
 * The total event budget. A busy 9-node seed handles about a million events; every frame is an
 * event at each receiver and the offered load grows with the node count, so a 64-node seed that
 * settles can handle tens of millions. A livelock is still cut short within minutes of wall time.
 */
function eventsMaxFor(nodes: number): number {
  return Math.max(8_000_000, 1_000_000 * nodes);
}

/** The command that replays one seed in-process and writes its traces. */
export function replayCommand(seed: number, nodes: number, faults: FaultMix, traceDir = 'sim-traces', safetyMs?: number): string {
  const safety = safetyMs === undefined ? '' : ` --safety-ms ${safetyMs}`;
  return `npm run sim -- --seed ${seed} --nodes ${nodes} --faults ${faults}${safety} --trace-dir ${traceDir}`;
}

export function runSeed(options: SeedOptions): SeedResult {
  const { seed, nodes, faults } = options;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64) throw new RangeError(`nodes must be in 1..64, got ${nodes}`);
  const root = new Prng(seed);
  // Separate streams, so that e.g. a change in the load's draws leaves the fault schedule alone.
  const shapePrng = root.fork();
  const networkPrng = root.fork();
  const loadPrng = root.fork();
  const faultPrng = root.fork();

  // Drawn even when given, so that --safety-ms changes nothing else about the seed.
  const safetyMsDrawn = shapePrng.int(10_000, 20_000);
  const safetyMs = options.safetyMs ?? safetyMsDrawn;
  const convergenceMsMax = options.convergenceMsMax ?? 60_000;
  const submitTailMs = options.submitTailMs ?? 2000;
  const eventsMax = options.eventsMax ?? eventsMaxFor(nodes);
  const instantEventsMax = options.instantEventsMax ?? 100_000;
  // Forked after the others, so that seeds without an adversary run as they did before it.
  const adversaryPrng = root.fork();
  const nodeIds = pickNodeIds(shapePrng, nodes);
  const engineConfig = pickEngineConfig(shapePrng);
  const adversaryOptions = pickAdversary(adversaryPrng, faults);
  // The runtime passes its configured node list; unkeyed hostile seeds sometimes run without it,
  // so that forged ids outside the cluster reach the protocol's deeper paths.
  const memberList = adversaryOptions === null || adversaryOptions.mode === 'keyed' || adversaryPrng.chance(0.75);
  if (memberList) engineConfig.clusterNodeIds = nodeIds;

  const clock = new VirtualClock();
  // Forked last, so that the other streams stay those of the message workload.
  const lockWorkload = options.app === 'locks' ? new LockWorkload(clock, root.fork(), nodeIds) : undefined;
  const cluster = new Cluster({
    clock,
    networkPrng,
    loadPrng,
    nodeIds,
    engineConfig,
    nodeFactory: options.nodeFactory ?? ((config, host) => new TotemNode(config, host)),
    // Mostly a steady load; sometimes a heavy one that fills windows and send queues.
    workload: { sendIntervalMsMean: shapePrng.pick([40, 40, 40, 10, 100]), ...options.workload },
    ...(lockWorkload === undefined ? {} : { app: lockWorkload }),
  });
  const injector = new FaultInjector(faults, cluster, clock, faultPrng);
  const adversary =
    adversaryOptions === null ? null : new Adversary(adversaryOptions, cluster.network, clock, adversaryPrng.fork(), nodeIds);
  const survival = adversary?.mode === 'unkeyed';
  const violations: CheckViolation[] = [];
  const warnings: string[] = [];

  // Nodes boot within the first 200 ms, not all at once, so that the first rings merge.
  const startAtMs = 1;
  for (const id of nodeIds) clock.at(startAtMs + shapePrng.int(0, 200), () => cluster.start(id));
  let settled = false;
  let aborted = false;
  let healToOneRingMs: number | undefined;
  try {
    injector.startSafety(safetyMs);
    adversary?.startSafety(safetyMs);
    aborted = !clock.runUntil(startAtMs + safetyMs, eventsMax, instantEventsMax);
    if (!aborted) {
      adversary?.stop();
      injector.converge();
      const convergenceStartMs = clock.nowMs;
      clock.at(convergenceStartMs + submitTailMs, () => cluster.stopSubmitting());
      let deadlineMs = convergenceStartMs + convergenceMsMax;
      // Past the budget, a ring that holds every live node and still makes progress is draining
      // what the application queued (a seed's small window can take minutes at 16 nodes and
      // more), not stuck: it runs on while it makes progress, up to drainMsMaxFor(nodes) more.
      const drainDeadlineMs = deadlineMs + drainMsMaxFor(nodes);
      // Progress is a delivery or a new frame: at a small maxMessages a 64-node ring orders one
      // frame per rotation, and a message of 30 fragments then takes seconds to deliver.
      const progress = (): number => cluster.deliveries + cluster.framesBroadcast();
      let progressBefore = progress();
      let progressLastMs = clock.nowMs;
      while (clock.nowMs < deadlineMs) {
        aborted = !clock.runUntil(Math.min(deadlineMs, clock.nowMs + settleCheckPeriodMs), eventsMax, instantEventsMax);
        if (aborted) break;
        if (clock.nowMs >= convergenceStartMs + submitTailMs && cluster.settled(quietMs)) {
          settled = true;
          healToOneRingMs = Math.max(0, cluster.lastRegularInstallMs - convergenceStartMs);
          break;
        }
        // A crash restarts a node's counters: any change is activity.
        const progressNow = progress();
        if (progressNow !== progressBefore) progressLastMs = clock.nowMs;
        progressBefore = progressNow;
        // Drained, it still needs quietMs without activity to be seen as settled.
        const draining = cluster.inOneRing() && clock.nowMs - progressLastMs <= quietMs + settleCheckPeriodMs;
        if (clock.nowMs >= deadlineMs && draining) deadlineMs = Math.min(drainDeadlineMs, clock.nowMs + settleCheckPeriodMs);
      }
    }
  } catch (error) {
    aborted = true;
    violations.push({
      property: 'sim-engine-exception',
      message: `at virtual ${clock.nowMs} ms: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    });
  }
  if (clock.eventsRun >= eventsMax) {
    violations.push({ property: 'sim-event-budget', message: `${eventsMax} events by virtual ${clock.nowMs} ms: a livelock?` });
  }
  if (clock.eventsThisInstant >= instantEventsMax) {
    violations.push({
      property: 'sim-livelock',
      message: `${instantEventsMax} zero-delay events in a row at virtual ${clock.nowMs} ms (time does not advance); ${describeLivelock(clock, cluster)}`,
    });
  }
  for (const v of cluster.violations) violations.push({ property: v.property, message: v.message });

  const check = options.check === undefined ? (lockWorkload === undefined ? evsCheck : evsAndLockCheck) : options.check;
  if (check === null) {
    warnings.push('traces were not checked');
  } else {
    // An aborted run stopped mid-flight: judge safety only, as for a trace cut short.
    const outcome = check({ files: cluster.files, harness: cluster.harness }, { settled: !aborted, allowInflight: aborted });
    violations.push(...outcome.violations);
    for (const w of outcome.warnings ?? []) warnings.push(w);
  }
  if (survival) {
    // Unkeyed: a forged or mutated frame may be delivered as if genuine, so only crashes, hangs
    // and a failure to settle count; the rest is reported.
    const fatal = violations.filter((v) => survivalProperties.has(v.property));
    for (const v of violations) if (!survivalProperties.has(v.property)) warnings.push(`${v.property}: ${v.message.slice(0, 300)}`);
    violations.length = 0;
    violations.push(...fatal);
    if (!settled && !aborted) {
      violations.push({ property: 'sim-not-settled', message: `the live nodes did not settle: ${cluster.describeNodes().join('; ')}` });
    }
  }

  let writtenDir: string | undefined;
  if (options.traceDir !== undefined) {
    writtenDir = path.join(options.traceDir, String(seed));
    writeTraces(writtenDir, cluster.files, cluster.harness);
  }
  return {
    seed,
    nodes,
    faults,
    adversary: adversary?.mode ?? 'none',
    memberList,
    check: survival ? 'survival' : 'evs',
    packetsInjected: cluster.network.stats.packetsInjected,
    ok: violations.length === 0,
    violations,
    warnings,
    diagnostics: settled ? [] : cluster.describeNodes(),
    messagesSent: cluster.messagesSent,
    submitsRefused: cluster.submitsRefused,
    deliveries: cluster.deliveries,
    configurationsInstalled: cluster.configurationsInstalled,
    crashes: cluster.crashes,
    restarts: cluster.restarts,
    leaves: cluster.leaves,
    settled,
    virtualMs: clock.nowMs,
    eventsRun: clock.eventsRun,
    traceFiles: cluster.files.size,
    replayCommand: replayCommand(seed, nodes, faults, options.traceDir, options.safetyMs) + (options.app === 'locks' ? ' --workload locks' : ''),
    ...(options.safetyMs === undefined ? {} : { safetyMs: options.safetyMs }),
    ...(healToOneRingMs === undefined
      ? {}
      : { healToOneRingMs, healToOneRingConsensusTimeouts: healToOneRingMs / deriveTimers(engineConfig).consensusTimeoutMs }),
    ...(writtenDir === undefined ? {} : { traceDir: writtenDir }),
  };
}

/** What fails a survival run (unkeyed adversary): the node crashed or hung. */
const survivalProperties = new Set(['sim-engine-exception', 'sim-event-budget', 'sim-livelock', 'sim-ring-seq-persist']);

/** The adversary of a seed: always in `hostile`, in about 30 % of `mixed` at a lower rate, else none. */
function pickAdversary(prng: Prng, faults: FaultMix): AdversaryOptions | null {
  const hostile = faults === 'hostile';
  if (!hostile && !(faults === 'mixed' && prng.chance(0.3))) return null;
  return {
    mode: prng.chance(0.5) ? 'keyed' : 'unkeyed',
    burstIntervalMsMean: hostile ? 40 : 200,
    burstActionsMax: hostile ? 6 : 3,
  };
}

/** Run a few more events of the stuck instant, counting what the nodes are handed. */
function describeLivelock(clock: VirtualClock, cluster: Cluster): string {
  const sampleEvents = 1000;
  cluster.eventCounts = new Map();
  try {
    clock.runUntil(clock.nowMs, clock.eventsRun + sampleEvents);
  } catch {
    // The engine threw while sampling: what was counted so far still helps.
  }
  const counts = [...cluster.eventCounts].sort((a, b) => b[1] - a[1]).slice(0, 8);
  cluster.eventCounts = null;
  return `of the next ${sampleEvents} events: ${counts.map(([k, n]) => `${n}x ${k}`).join(', ')}`;
}

/**
 * Mostly the engine's defaults; sometimes a shorter token timeout (other timer interleavings,
 * faster reformation), a small window (flow control binds), or a small send queue (submit()
 * refuses and the application retries).
 */
function pickEngineConfig(prng: Prng): NonNullable<ClusterOptions['engineConfig']> {
  const config: NonNullable<ClusterOptions['engineConfig']> = {};
  if (prng.chance(0.3)) config.tokenTimeoutMs = prng.pick([300, 500, 2000]);
  if (prng.chance(0.2)) {
    config.windowSize = prng.int(4, 20);
    config.maxMessages = prng.int(1, config.windowSize);
  }
  if (prng.chance(0.3)) {
    config.messageBytesMax = 64 * 1024;
    config.sendQueueBytesMax = prng.int(64 * 1024, 256 * 1024);
  }
  return config;
}

/** Mostly 1..N; sometimes scattered ids, so that nothing depends on ids being small or dense. */
function pickNodeIds(prng: Prng, nodes: number): number[] {
  if (prng.chance(0.75)) return Array.from({ length: nodes }, (_, i) => i + 1);
  const ids = new Set<number>();
  const idMax = prng.chance(0.5) ? 1000 : 0xffffffff;
  while (ids.size < nodes) ids.add(prng.int(1, idMax));
  return [...ids];
}

/** The directory holds the run's files and nothing else (trace contract): replace an older run's. */
function writeTraces(dir: string, files: Map<string, string[]>, harness: string[]): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, lines] of files) fs.writeFileSync(path.join(dir, name), lines.map((l) => `${l}\n`).join(''));
  fs.writeFileSync(path.join(dir, HARNESS_FILE_NAME), harness.map((l) => `${l}\n`).join(''));
}
