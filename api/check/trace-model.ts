/**
 * The model every property group reads: one trace's processes with their configuration instances
 * and deliveries, indexed the ways the checks need (sends by message and by node, configuration
 * identities, regular installations, the regular configuration of each message, safe deliveries
 * per ring, the P7 order graph). model-scan.ts fills it in two passes over the parsed trace; the
 * property groups then read it and report to its violation log.
 *
 * Vocabulary (evs-spec §5, trace-reader.ts): a process is one incarnation of a node (split at an
 * in-file crash line). A configuration's identity is its ring for a regular configuration and
 * (ring, the regular ring the process installed just before it) for a transitional one. A
 * configuration *instance* is one process's stay in one configuration: its conf line and the
 * deliveries up to its next conf line.
 *
 * Size: events and messages are numbers (trace-store.ts); what the model adds per message lives
 * in typed arrays indexed by message number, and a process's deliveries are read back from the
 * store's events rather than copied, so a trace of tens of millions of lines fits the default heap.
 */
import { Int32Column } from './columns.js';
import { OrderGraph } from './order-graph.js';
import type { ParsedTrace, TraceProcess } from './trace-reader.js';
import { EV_CONF, EV_DELIVER } from './trace-store.js';
import type { ConfRecord, TraceStore } from './trace-store.js';
import type { CheckCounts, CheckOptions, ViolationLog } from './violation-log.js';

export interface ConfInstance {
  proc: number;
  /** Index among the process's configuration instances. */
  index: number;
  kind: ConfRecord['kind'];
  ring: string;
  ringIndex: number;
  members: string[];
  memberSet: Set<string>;
  line: number;
  /** Its conf event; its deliveries are the events after it, up to `endEvent` (exclusive). */
  event: number;
  endEvent: number;
  identity: string;
  /** The regular instance this process installed last before this one, if any. */
  prevRegular: ConfInstance | null;
  /** Messages delivered in this instance (duplicates left out). */
  deliveryCount: number;
  /** Its vertex in the order graph. */
  vertex: number;
}

export interface ProcState {
  proc: TraceProcess;
  /** Position among the processes of the same node (incarnation order). */
  nodePosition: number;
  confs: ConfInstance[];
}

/** Per sender node: the last of its messages a process delivered (P6). */
export interface FifoEntry {
  ordinal: number;
  event: number;
  confIndex: number;
}
export type FifoState = Map<string, FifoEntry>;

export function identityOf(
  kind: ConfRecord['kind'],
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
  readonly store: TraceStore;
  readonly states: ProcState[];
  /** Per message: its send event and that event's process, or -1 (first send only, P2). */
  readonly sendEvent: Int32Array;
  readonly sendProc: Int32Array;
  /** Per message: its position among all sends of its sending node, across incarnations. */
  readonly ordinal: Int32Array;
  /** Per node: its messages by send ordinal. */
  readonly nodeSends = new Map<string, Int32Column>();
  /** Configuration identity → members and where they were first seen (P12). */
  readonly identities = new Map<
    string,
    { members: Set<string>; proc: number; line: number }
  >();
  /** "<node> <ring>" → the first instance of that node installing that regular ring. */
  readonly regularInstalls = new Map<string, ConfInstance>();
  /**
   * Per message: the regular ring (interned) its first delivery belongs to, or -1, and that
   * delivery's event (P9, P10); `baseOrder` lists the messages in the order they got one.
   */
  readonly baseRing: Int32Array;
  readonly baseEvent: Int32Array;
  readonly baseOrder = new Int32Column();
  /** Regular ring (interned) → first safe deliveries in it, one event per message (P17). */
  readonly safeByRing = new Map<number, Int32Column>();
  /** Per message: the ring whose safe list has it, or -1; a second ring is kept in `safeMore`. */
  readonly safeRing: Int32Array;
  readonly safeMore = new Set<string>();
  /** The union of every process's order of deliveries and installations (P7). */
  readonly graph: OrderGraph;
  /** Processes by their first event, to find the process of an event. */
  private readonly byStart: number[];

  constructor(
    parsed: ParsedTrace,
    readonly log: ViolationLog,
    readonly options: CheckOptions,
  ) {
    this.store = parsed.store;
    let previousNode: string | null = null;
    let position = 0;
    this.states = parsed.processes.map((proc) => {
      position = proc.node === previousNode ? position + 1 : 0;
      previousNode = proc.node;
      return { proc, nodePosition: position, confs: [] };
    });
    this.counts.processes = parsed.processes.length;
    const messages = this.store.messages.size;
    this.sendEvent = new Int32Array(messages).fill(-1);
    this.sendProc = new Int32Array(messages).fill(-1);
    this.ordinal = new Int32Array(messages);
    this.baseRing = new Int32Array(messages).fill(-1);
    this.baseEvent = new Int32Array(messages).fill(-1);
    this.safeRing = new Int32Array(messages).fill(-1);
    this.graph = new OrderGraph(messages, (message) => this.id(message));
    this.byStart = this.states.map((_, index) => index);
    this.byStart.sort((a, b) => this.stateOf(a).proc.eventStart - this.stateOf(b).proc.eventStart);
  }

  /** A witness position: "<file>:<line>" of a line of process `proc`. */
  at(proc: number, line: number): string {
    return `${this.stateOf(proc).proc.file}:${line}`;
  }

  /** The witness position of an event of process `proc`. */
  atEvent(proc: number, event: number): string {
    return this.at(proc, this.store.line(event));
  }

  keyOf(proc: number): string {
    return this.stateOf(proc).proc.key;
  }

  stateOf(proc: number): ProcState {
    const state = this.states[proc];
    if (state === undefined) throw new Error(`no process ${proc}`);
    return state;
  }

  /** The message id as the trace writes it. */
  id(message: number): string {
    return this.store.messages.text(message);
  }

  ringText(ringIndex: number): string {
    return this.store.rings.text(ringIndex);
  }

  /** The node whose send line of `message` counts, or null if nobody sent it. */
  sendNode(message: number): string | null {
    const proc = this.sendProc[message] ?? -1;
    return proc === -1 ? null : this.stateOf(proc).proc.node;
  }

  /** Where process `proc` delivered `message` first: its deliver event, or -1. */
  deliveryOf(proc: number, message: number): number {
    const { eventStart, eventEnd } = this.stateOf(proc).proc;
    // The list runs from the newest event to the oldest.
    for (let event = this.store.newestDelivery(message); event >= eventStart; ) {
      if (event < eventEnd) return event;
      event = this.store.olderDelivery(event);
    }
    return -1;
  }

  /** Whether some process delivered `message`. */
  deliveredAnywhere(message: number): boolean {
    return this.store.newestDelivery(message) !== -1;
  }

  /** The index of the configuration instance of `proc` that `event` falls in, or -1. */
  confIndexAt(proc: number, event: number): number {
    const confs = this.stateOf(proc).confs;
    let low = 0;
    let high = confs.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((confs[middle]?.event ?? 0) < event) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }

  /** The messages delivered in `instance`, in order (duplicates left out). */
  deliveriesOf(instance: ConfInstance): Int32Array {
    const out = new Int32Array(instance.deliveryCount);
    let count = 0;
    for (let event = instance.event + 1; event < instance.endEvent; event += 1) {
      if (this.store.kind(event) !== EV_DELIVER || this.store.isDuplicate(event)) continue;
      out[count] = this.store.messageOf(event);
      count += 1;
    }
    return out;
  }

  /** The process an event belongs to. */
  procOfEvent(event: number): number {
    let low = 0;
    let high = this.byStart.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const proc = this.byStart[middle] ?? 0;
      if (this.stateOf(proc).proc.eventStart <= event) low = middle + 1;
      else high = middle;
    }
    return this.byStart[low - 1] ?? -1;
  }

  /**
   * Calls `edge` for each pair of consecutive events of one process that the order graph joins
   * (conf lines and first deliveries; a repeated vertex in a row is left out), process by
   * process in order: the order in which the scan met them.
   */
  forEachOrderEdge(edge: (from: number, to: number, toEvent: number) => void): void {
    const { store } = this;
    for (const state of this.states) {
      let confIndex = 0;
      let previous = -1;
      for (let event = state.proc.eventStart; event < state.proc.eventEnd; event += 1) {
        const kind = store.kind(event);
        let vertex: number;
        if (kind === EV_CONF) {
          vertex = state.confs[confIndex]?.vertex ?? -1;
          confIndex += 1;
        } else if (kind === EV_DELIVER && !store.isDuplicate(event)) {
          vertex = this.graph.messageVertex(store.messageOf(event));
        } else {
          continue;
        }
        if (previous !== -1 && previous !== vertex) edge(previous, vertex, event);
        previous = vertex;
      }
    }
  }

  /** The order-graph event of the same process right before `event` (the start of its edge). */
  previousOrderEvent(event: number): number {
    const { store } = this;
    for (let at = event - 1; at >= 0; at -= 1) {
      const kind = store.kind(at);
      if (kind === EV_CONF || (kind === EV_DELIVER && !store.isDuplicate(at))) return at;
    }
    return -1;
  }
}
