/**
 * The model every property group reads: one trace's processes with their configuration instances
 * and deliveries, indexed the ways the checks need (sends by id and by node, configuration
 * identities, regular installations, the regular configuration of each message, safe deliveries
 * per ring, the P7 order graph). model-scan.ts fills it in two passes over the parsed trace; the
 * property groups then read it and report to its violation log.
 *
 * Vocabulary (evs-spec §5, trace-reader.ts): a process is one incarnation of a node (split at an
 * in-file crash line). A configuration's identity is its ring for a regular configuration and
 * (ring, the regular ring the process installed just before it) for a transitional one. A
 * configuration *instance* is one process's stay in one configuration: its conf line and the
 * deliveries up to its next conf line.
 */
import { OrderGraph } from './order-graph.js';
import type { ConfEvent, TraceProcess } from './trace-reader.js';
import type { CheckCounts, CheckOptions, ViolationLog } from './violation-log.js';

export interface ConfInstance {
  proc: number;
  /** Index among the process's configuration instances. */
  index: number;
  kind: ConfEvent['kind'];
  ring: string;
  members: string[];
  memberSet: Set<string>;
  line: number;
  identity: string;
  /** The regular instance this process installed last before this one, if any. */
  prevRegular: ConfInstance | null;
  /** Ids delivered in this instance, in order (duplicates left out). */
  deliveries: string[];
}

export interface ProcState {
  proc: TraceProcess;
  /** Position among the processes of the same node (incarnation order). */
  nodePosition: number;
  confs: ConfInstance[];
  /** id → where this process delivered it (first delivery only). */
  delivered: Map<string, { line: number; confIndex: number }>;
}

export interface SendRecord {
  proc: number;
  line: number;
  node: string;
  /** Position among all sends of the node, across its incarnations in order. */
  ordinal: number;
  order: string;
  group: string;
}

/** Per sender node: the last of its messages a process delivered (P6). */
export type FifoState = Map<
  string,
  { ordinal: number; line: number; id: string; confIndex: number }
>;

export function identityOf(
  kind: ConfEvent['kind'],
  ring: string,
  prevRegular: string | null,
): string {
  return kind === 'regular'
    ? `regular ${ring}`
    : `transitional ${ring} after ${prevRegular ?? '-'}`;
}

export function describeConf(instance: ConfInstance): string {
  if (instance.kind === 'regular') return `regular ${instance.ring}`;
  const after = instance.prevRegular?.ring ?? 'no regular configuration';
  return `transitional ${instance.ring} (after ${after})`;
}

export function sameMembers(a: readonly string[], b: ReadonlySet<string>): boolean {
  return a.length === b.size && a.every((member) => b.has(member));
}

export function formatMembers(members: Iterable<string>): string {
  return `[${[...members].join(',')}]`;
}

/** The shared model: filled by model-scan.ts, read by every property group. */
export class TraceModel {
  readonly counts: CheckCounts = {
    processes: 0,
    messagesSent: 0,
    deliveries: 0,
    configurationsInstalled: 0,
  };
  readonly states: ProcState[];
  readonly sends = new Map<string, SendRecord>();
  /** Per node: its message ids by send ordinal. */
  readonly nodeSends = new Map<string, string[]>();
  /** Configuration identity → members and where they were first seen (P12). */
  readonly identities = new Map<
    string,
    { members: Set<string>; proc: number; line: number }
  >();
  /** "<node> <ring>" → the first instance of that node installing that regular ring. */
  readonly regularInstalls = new Map<string, ConfInstance>();
  /** Message id → the regular configuration its first delivery belongs to (P9, P10). */
  readonly bases = new Map<
    string,
    { base: string; proc: number; line: number; sender: string }
  >();
  /** Regular ring → safe ids delivered in it, with the first delivery (P17). */
  readonly safeByRing = new Map<string, Map<string, { proc: number; line: number }>>();
  /** The union of every process's order of deliveries and installations (P7). */
  readonly graph = new OrderGraph();

  constructor(
    processes: readonly TraceProcess[],
    readonly log: ViolationLog,
    readonly options: CheckOptions,
  ) {
    let previousNode: string | null = null;
    let position = 0;
    this.states = processes.map((proc) => {
      position = proc.node === previousNode ? position + 1 : 0;
      previousNode = proc.node;
      return { proc, nodePosition: position, confs: [], delivered: new Map() };
    });
    this.counts.processes = processes.length;
  }

  /** A witness position: "<file>:<line>" of a line of process `proc`. */
  at(proc: number, line: number): string {
    return `${this.stateOf(proc).proc.file}:${line}`;
  }

  keyOf(proc: number): string {
    return this.stateOf(proc).proc.key;
  }

  stateOf(proc: number): ProcState {
    const state = this.states[proc];
    if (state === undefined) throw new Error(`no process ${proc}`);
    return state;
  }
}
