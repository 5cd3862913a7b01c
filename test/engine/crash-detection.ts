/**
 * How long a crashed member takes to leave the ring: whole clusters of TotemNode on the
 * simulator's network (test/sim: per-link delay, jitter and loss, the application load) in
 * virtual time. A run forms the ring, lets it work, crashes one member at a seeded instant and
 * measures the virtual time until every survivor has installed a regular configuration without
 * it. It also collects every regular configuration that left out a live member: a false failure.
 */
import { TotemNode } from '../../engine/node.js';
import type { EngineConfigInput } from '../../engine/config.js';
import type { ConfigurationChange } from '../../engine/types.js';
import { Cluster } from '../sim/cluster.js';
import type { LinkFaults } from '../sim/network.js';
import { Prng } from '../sim/prng.js';
import { VirtualClock } from '../sim/virtual-clock.js';

export interface CrashRunOptions {
  seed: number;
  ids: number[];
  /** The member to crash; none: only watch for false failures. */
  crash?: number;
  engine?: Omit<EngineConfigInput, 'nodeId' | 'incarnation' | 'ringSeqInitial'>;
  /** Mean ms between two messages of one node; Infinity: an idle ring. */
  sendIntervalMsMean?: number;
  /** Faults of every link. */
  links?: Partial<LinkFaults>;
  /** Faults of every link to and from these nodes (a slow or busy member). */
  slow?: { ids: number[]; faults: Partial<LinkFaults> };
  /** Time the formed ring works before the crash; a seeded extra 0..1000 ms is added. */
  workMs?: number;
  /** Time watched after the crash. */
  afterMs?: number;
}

export interface CrashRunResult {
  /** Virtual ms from the crash to the last survivor's regular configuration without the crashed member. */
  excludedAfterMs: number | null;
  /** Regular configurations (node: members) that left out a member that was alive. */
  falseFailures: string[];
  /** Every survivor's last regular configuration. */
  finalMembers: Map<number, number[]>;
}

export function crashRun(o: CrashRunOptions): CrashRunResult {
  const root = new Prng(o.seed);
  const networkPrng = root.fork();
  const loadPrng = root.fork();
  const shape = root.fork();
  const clock = new VirtualClock();
  const cluster = new Cluster({
    clock,
    networkPrng,
    loadPrng,
    nodeIds: o.ids,
    engineConfig: { tokenTimeoutMs: 1000, ...o.engine },
    nodeFactory: (config, host) => new TotemNode(config, host),
    workload: { sendIntervalMsMean: Math.min(o.sendIntervalMsMean ?? 40, 1e9) },
  });
  const last = new Map<number, ConfigurationChange>();
  const falseFailures: string[] = [];
  let crashAtMs: number | null = null;
  let excludedAtMs: number | null = null;
  let ringFormedAtMs: number | null = null;
  const formed = () => o.ids.every((id) => last.get(id)?.members.length === o.ids.length);
  cluster.configurationListeners.push((id, c) => {
    if (c.kind !== 'regular') return;
    last.set(id, c);
    const alive = cluster.liveIds();
    const missing = alive.filter((m) => !c.members.includes(m));
    if (ringFormedAtMs !== null && missing.length > 0) falseFailures.push(`${clock.nowMs} ms node ${id}: [${c.members.join(',')}]`);
    const crashed = o.crash;
    if (crashAtMs !== null && excludedAtMs === null && crashed !== undefined) {
      if (alive.every((s) => last.get(s)?.members.includes(crashed) === false)) excludedAtMs = clock.nowMs;
    }
  });

  cluster.network.faults = { ...cluster.network.faults, ...o.links };
  if (o.slow !== undefined) {
    for (const s of o.slow.ids) {
      for (const other of o.ids) {
        if (other === s) continue;
        cluster.network.setLink(s, other, { ...cluster.network.faults, ...o.slow.faults });
        cluster.network.setLink(other, s, { ...cluster.network.faults, ...o.slow.faults });
      }
    }
  }
  for (const id of o.ids) clock.at(1 + shape.int(0, 20), () => cluster.start(id));
  // The nodes start within 20 ms of each other; measure from the first ring of all of them.
  for (let t = 250; t <= 20_000 && !formed(); t += 250) clock.runUntil(t);
  if (!formed()) throw new Error(`seed ${o.seed}: the ring did not form`);
  ringFormedAtMs = clock.nowMs;
  clock.runUntil(clock.nowMs + (o.workMs ?? 2000) + shape.int(0, 1000));
  if (o.crash !== undefined) {
    crashAtMs = clock.nowMs;
    cluster.crash(o.crash);
  }
  clock.runUntil(clock.nowMs + (o.afterMs ?? 5000));
  const finalMembers = new Map<number, number[]>();
  for (const id of cluster.liveIds()) finalMembers.set(id, [...(last.get(id)?.members ?? [])]);
  return {
    excludedAfterMs: crashAtMs === null || excludedAtMs === null ? null : excludedAtMs - crashAtMs,
    falseFailures,
    finalMembers,
  };
}
