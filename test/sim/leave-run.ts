/**
 * One graceful leave in a five-node simulated cluster under load, observed: when each survivor
 * installed its next regular configuration and with what cause, which of the leaver's messages
 * it had delivered by then, and the EVS checker's verdict once the survivors settled.
 * Used by leave.test.ts.
 */
import { TotemNode } from '../../engine/node.js';
import { engineDefaults } from '../../engine/config.js';
import type { ConfigurationCause } from '../../engine/types.js';
import { evsCheck } from './checker.js';
import { Cluster, type WorkloadOptions } from './cluster.js';
import type { LinkFaults } from './network.js';
import { Prng } from './prng.js';
import { VirtualClock } from './virtual-clock.js';

export interface Reconfiguration {
  nodeId: number;
  atMs: number;
  cause: ConfigurationCause;
  members: number[];
}

export interface LeaveRun {
  leaveAtMs: number;
  leftAtMs: number | null;
  /** First regular configuration at each survivor after the leave. */
  after: Map<number, Reconfiguration>;
  /**
   * The leaver's own messages it delivered in the ring it left (a message it sent while alone,
   * before the first merge, is delivered in its singleton configuration only: EVS), and per
   * survivor the ids delivered before its new configuration.
   */
  leaverSent: string[];
  /** Messages the leaver handed over in the ring it left that it never delivered itself. */
  leaverLost: string[];
  deliveredBefore: Map<number, Set<string>>;
  violations: string[];
  settled: boolean;
}

export const drainWaitMsMax = engineDefaults.tokenTimeoutMs;

/** Five nodes form one ring under load; node `leaverId` leaves at `leaveAtMs`; the rest settle. */
export function runLeave(options: {
  seed: number;
  leaverId: number;
  leaveAtMs: number;
  faults?: Partial<LinkFaults>;
  workload?: Partial<WorkloadOptions>;
}): LeaveRun {
  const root = new Prng(options.seed);
  const clock = new VirtualClock();
  const nodeIds = [1, 2, 3, 4, 5];
  const cluster = new Cluster({
    clock,
    networkPrng: root.fork(),
    loadPrng: root.fork(),
    nodeIds,
    nodeFactory: (config, host) => new TotemNode(config, host),
    workload: { sendIntervalMsMean: 20, ...options.workload },
  });
  cluster.network.faults = { ...cluster.network.faults, ...options.faults };
  for (const id of nodeIds) clock.at(1 + id * 10, () => cluster.start(id));

  const run: LeaveRun = {
    leaveAtMs: options.leaveAtMs,
    leftAtMs: null,
    after: new Map(),
    leaverSent: [],
    leaverLost: [],
    deliveredBefore: new Map(),
    violations: [],
    settled: false,
  };
  let leaving = false;
  cluster.configurationListeners.push((nodeId, change) => {
    if (!leaving || change.kind !== 'regular' || nodeId === options.leaverId || run.after.has(nodeId)) return;
    run.after.set(nodeId, { nodeId, atMs: clock.nowMs, cause: change.cause, members: change.members.slice() });
    run.deliveredBefore.set(nodeId, deliveredIds(cluster, nodeId));
  });
  cluster.leaveListeners.push(() => {
    run.leftAtMs = clock.nowMs;
  });
  clock.at(options.leaveAtMs, () => {
    leaving = true;
    cluster.leave(options.leaverId, drainWaitMsMax);
  });
  clock.runUntil(options.leaveAtMs + 3000, 4_000_000);
  const own = ownInLastRing(cluster, options.leaverId);
  run.leaverSent = own.delivered;
  run.leaverLost = own.lost;
  cluster.stopSubmitting();
  for (let i = 0; i < 40 && !run.settled; i++) {
    clock.runUntil(clock.nowMs + 250, 8_000_000);
    run.settled = cluster.settled(1500);
  }
  const outcome = evsCheck({ files: cluster.files, harness: cluster.harness }, { settled: run.settled, allowInflight: false });
  run.violations = outcome.violations.map((v) => `${v.property}: ${v.message}`);
  for (const v of cluster.violations) run.violations.push(`${v.property}: ${v.message}`);
  return run;
}

interface Line {
  ev: string;
  node: string;
  id?: string;
  sender?: string;
  ring?: string;
  kind?: string;
}

function linesOf(cluster: Cluster, nodeId: number): Line[] {
  const out: Line[] = [];
  for (const [name, lines] of cluster.files) {
    if (!name.startsWith(`${nodeId}.`)) continue;
    for (const line of lines) out.push(JSON.parse(line) as Line);
  }
  return out;
}

/** The leaver's own messages delivered in its last ring, and those it sent there but never delivered. */
function ownInLastRing(cluster: Cluster, nodeId: number): { delivered: string[]; lost: string[] } {
  const lines = linesOf(cluster, nodeId);
  let lastRegular = -1;
  lines.forEach((l, i) => {
    if (l.ev === 'conf' && l.kind === 'regular') lastRegular = i;
  });
  const tail = lines.slice(lastRegular + 1);
  const ring = lines[lastRegular]?.ring;
  const delivered = tail.filter((l) => l.ev === 'deliver' && l.sender === String(nodeId) && l.ring === ring).map((l) => l.id as string);
  const deliveredSet = new Set(delivered);
  const lost = tail.filter((l) => l.ev === 'send' && !deliveredSet.has(l.id as string)).map((l) => l.id as string);
  return { delivered, lost };
}

function deliveredIds(cluster: Cluster, nodeId: number): Set<string> {
  return new Set(linesOf(cluster, nodeId).filter((l) => l.ev === 'deliver').map((l) => l.id as string));
}

