/**
 * Checks a run's traces against the EVS properties of evs-spec.md §5 (P0–P18), which paraphrase
 * the specifications of [EVS] §3 in terms a trace can show.
 *
 * Vocabulary (evs-spec §5, trace-reader.ts): a process is one incarnation of a node (split at an
 * in-file crash line). A configuration's identity is its ring for a regular configuration and
 * (ring, the regular ring the process installed just before it) for a transitional one. A
 * configuration *instance* is one process's stay in one configuration: its conf line and the
 * deliveries up to its next conf line.
 *
 * Cost: every property is checked in time near-linear in the number of lines; the only global
 * structure is the P7 order graph (one vertex per message and configuration, one edge per pair of
 * consecutive events of a process), whose cycles are found with an iterative Tarjan SCC pass.
 *
 * Interpretations where §5 leaves room (each is also stated where it is checked):
 * - P2 also requires a send line's id to carry the sending node and incarnation, which is what
 *   makes ids unique across restarts.
 * - P6 orders one node's messages by its send lines across incarnations; a skip between two
 *   deliveries of one sender is allowed only across a regular configuration or a transitional one
 *   without that sender. A skip before a configuration's first delivery is not detectable: a send
 *   line does not say which ring the message was broadcast on.
 * - P9: a delivery in a transitional configuration that follows no regular one (the empty first
 *   transitional) can belong to no regular configuration and is reported.
 * - P14 also requires a transitional configuration's ring to equal the next regular one's, as the
 *   contract says it carries "the ring id of the regular configuration it leads to".
 * - P17 requires every member of C to have installed C (a safe delivery needs the token to have
 *   visited every member in C, and conf lines are written before they take effect); the crash and
 *   inflight exemptions apply to delivering m.
 * - P18 checks messages only once the live nodes agree on their final configuration; otherwise it
 *   reports the disagreement alone.
 */
import { parseMessageId, parseTrace } from './trace-reader.js';
import type {
  ConfEvent,
  DeliverEvent,
  FormatProblem,
  TraceInput,
  TraceProcess,
} from './trace-reader.js';
import { ViolationLog, WITNESSES_PER_PROPERTY_MAX } from './violation-log.js';
import { OrderGraph } from './order-graph.js';
import type { CheckCounts, CheckOptions, CheckResult, Witness } from './violation-log.js';

export { EVS_PROPERTIES, WITNESSES_PER_PROPERTY_MAX } from './violation-log.js';
export type {
  CheckCounts,
  CheckOptions,
  CheckResult,
  PropertyName,
  Violation,
  Witness,
} from './violation-log.js';

/** Most edges of a P7 cycle spelled out in its message; longer cycles are elided. */
const CYCLE_EDGES_SHOWN_MAX = 8;

interface ConfInstance {
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

interface ProcState {
  proc: TraceProcess;
  /** Position among the processes of the same node (incarnation order). */
  nodePosition: number;
  confs: ConfInstance[];
  /** id → where this process delivered it (first delivery only). */
  delivered: Map<string, { line: number; confIndex: number }>;
}

interface SendRecord {
  proc: number;
  line: number;
  node: string;
  /** Position among all sends of the node, across its incarnations in order. */
  ordinal: number;
  order: string;
  group: string;
}

/** A regular installation that followed another regular one, with the transitional between. */
interface Transition {
  instance: ConfInstance;
  transitional: ConfInstance | null;
}

/** Per sender node: the last of its messages a process delivered (P6). */
type FifoState = Map<string, { ordinal: number; line: number; id: string; confIndex: number }>;

function identityOf(kind: ConfEvent['kind'], ring: string, prevRegular: string | null): string {
  return kind === 'regular'
    ? `regular ${ring}`
    : `transitional ${ring} after ${prevRegular ?? '-'}`;
}

function describeConf(instance: ConfInstance): string {
  if (instance.kind === 'regular') return `regular ${instance.ring}`;
  const after = instance.prevRegular?.ring ?? 'no regular configuration';
  return `transitional ${instance.ring} (after ${after})`;
}

function sameMembers(a: readonly string[], b: ReadonlySet<string>): boolean {
  return a.length === b.size && a.every((member) => b.has(member));
}

function formatMembers(members: Iterable<string>): string {
  return `[${[...members].join(',')}]`;
}

/** Checks a whole trace. Synchronous and pure: the same input always gives the same result. */
export function checkTrace(input: TraceInput, options: CheckOptions = {}): CheckResult {
  const parsed = parseTrace(input);
  const log = new ViolationLog();
  const warnings = [...parsed.warnings];
  reportFormat(parsed.formatProblems, log);
  const checker = new Checker(parsed.processes, log, options);
  checker.run();
  const total = Object.values(log.counts).reduce((sum, count) => sum + count, 0);
  return {
    ok: total === 0,
    violations: log.stored,
    violationCounts: log.counts,
    counts: checker.counts,
    warnings,
  };
}

function reportFormat(problems: readonly FormatProblem[], log: ViolationLog): void {
  for (const problem of problems) {
    log.add('trace-format', () => ({
      message: problem.message,
      witness: {
        processes: [],
        lines: [problem.line === null ? problem.file : `${problem.file}:${problem.line}`],
      },
    }));
  }
}

class Checker {
  readonly counts: CheckCounts = {
    processes: 0,
    messagesSent: 0,
    deliveries: 0,
    configurationsInstalled: 0,
  };
  private readonly states: ProcState[];
  private readonly sends = new Map<string, SendRecord>();
  /** Per node: its message ids by send ordinal. */
  private readonly nodeSends = new Map<string, string[]>();
  /** Configuration identity → members and where they were first seen (P12). */
  private readonly identities = new Map<
    string,
    { members: Set<string>; proc: number; line: number }
  >();
  /** "<node> <ring>" → the first instance of that node installing that regular ring. */
  private readonly regularInstalls = new Map<string, ConfInstance>();
  /** Message id → the regular configuration its first delivery belongs to (P9, P10). */
  private readonly bases = new Map<
    string,
    { base: string; proc: number; line: number; sender: string }
  >();
  /** Regular ring → safe ids delivered in it, with the first delivery (P17). */
  private readonly safeByRing = new Map<string, Map<string, { proc: number; line: number }>>();
  private readonly graph = new OrderGraph();

  constructor(
    processes: readonly TraceProcess[],
    private readonly log: ViolationLog,
    private readonly options: CheckOptions,
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

  run(): void {
    this.indexSends();
    this.states.forEach((_, index) => this.scanProcess(index));
    this.checkSenderInConfiguration();
    this.checkPrefixOrder();
    this.checkVirtualSynchrony();
    this.checkTransitionalRule();
    this.checkSafeDelivery();
    this.checkSelfDelivery();
    if (this.options.settled === true) this.checkSettled();
    this.checkTotalOrder();
  }

  private at(proc: number, line: number): string {
    return `${this.stateOf(proc).proc.file}:${line}`;
  }

  private keyOf(proc: number): string {
    return this.stateOf(proc).proc.key;
  }

  private stateOf(proc: number): ProcState {
    const state = this.states[proc];
    if (state === undefined) throw new Error(`no process ${proc}`);
    return state;
  }

  /** Pass 1: every send line, so that deliveries anywhere can be matched to it (P2). */
  private indexSends(): void {
    this.states.forEach(({ proc }, index) => {
      for (const event of proc.events) {
        if (event.ev !== 'send') continue;
        this.counts.messagesSent += 1;
        const parts = parseMessageId(event.id);
        // Ids are unique by construction only if they carry the sender's node and incarnation.
        if (
          parts !== null &&
          (parts.sender !== proc.node || parts.incarnation !== proc.incarnation)
        ) {
          this.log.add('unique-message-id', () => ({
            message:
              `${proc.key} sends ${event.id}, whose id does not carry its node and incarnation ` +
              `(${proc.node}:${proc.incarnation}), so it is not unique across restarts`,
            witness: { processes: [proc.key], id: event.id, lines: [this.at(index, event.line)] },
          }));
        }
        const earlier = this.sends.get(event.id);
        if (earlier !== undefined) {
          this.log.add('unique-message-id', () => ({
            message: `${event.id} is sent twice: by ${this.keyOf(earlier.proc)} and ${proc.key}`,
            witness: {
              processes: [this.keyOf(earlier.proc), proc.key],
              id: event.id,
              lines: [this.at(earlier.proc, earlier.line), this.at(index, event.line)],
            },
          }));
          continue;
        }
        const ids = this.nodeSends.get(proc.node) ?? [];
        this.nodeSends.set(proc.node, ids);
        this.sends.set(event.id, {
          proc: index,
          line: event.line,
          node: proc.node,
          ordinal: ids.length,
          order: event.order,
          group: event.group,
        });
        ids.push(event.id);
      }
    });
  }

  /** Pass 2: one process's configurations and deliveries, in its order. */
  private scanProcess(index: number): void {
    const state = this.stateOf(index);
    const fifo: FifoState = new Map();
    let current: ConfInstance | null = null;
    let prevRegular: ConfInstance | null = null;
    let previousVertex = -1;
    let previousLine = 0;
    for (const event of state.proc.events) {
      if (event.ev === 'send') continue;
      let vertex: number;
      if (event.ev === 'conf') {
        this.counts.configurationsInstalled += 1;
        const instance = this.installConf(index, event, current, prevRegular);
        current = instance;
        if (instance.kind === 'regular') prevRegular = instance;
        vertex = this.graph.vertex(`c ${instance.identity}`);
      } else {
        this.counts.deliveries += 1;
        if (!this.deliver(index, event, current, fifo)) continue;
        vertex = this.graph.vertex(`m ${event.id}`);
      }
      if (previousVertex !== -1)
        this.graph.edge(previousVertex, vertex, index, previousLine, event.line);
      previousVertex = vertex;
      previousLine = event.line;
    }
  }

  private installConf(
    index: number,
    event: ConfEvent,
    current: ConfInstance | null,
    prevRegular: ConfInstance | null,
  ): ConfInstance {
    const state = this.stateOf(index);
    const instance: ConfInstance = {
      proc: index,
      index: state.confs.length,
      kind: event.kind,
      ring: event.ring,
      members: event.members,
      memberSet: new Set(event.members),
      line: event.line,
      identity: identityOf(event.kind, event.ring, prevRegular?.ring ?? null),
      prevRegular,
      deliveries: [],
    };
    state.confs.push(instance);
    if (current !== null) this.checkSequence(current, instance);
    this.checkAgreement(instance);
    if (instance.kind === 'regular') this.checkUnique(instance);
    return instance;
  }

  /**
   * P14: after the first configuration, transitional and regular alternate, and a transitional
   * configuration carries the ring of the regular configuration it leads to.
   */
  private checkSequence(current: ConfInstance, next: ConfInstance): void {
    const key = this.keyOf(next.proc);
    const lines = [this.at(current.proc, current.line), this.at(next.proc, next.line)];
    const witness: Witness = { processes: [key], ring: next.ring, lines };
    if (current.kind === next.kind) {
      this.log.add('configuration-sequence', () => ({
        message: `${key} installs ${next.kind} ${next.ring} right after ${describeConf(current)}`,
        witness,
      }));
    } else if (current.kind === 'transitional' && current.ring !== next.ring) {
      this.log.add('configuration-sequence', () => ({
        message:
          `${key} installs regular ${next.ring} after transitional ${current.ring}, ` +
          'which announced another ring',
        witness,
      }));
    }
  }

  /**
   * P12: the installer is a member (except in the empty transitional configuration before a
   * process's first regular one), and all installers of one identity agree on its members.
   */
  private checkAgreement(instance: ConfInstance): void {
    const { proc: index, line } = instance;
    const { proc } = this.stateOf(index);
    const emptyFirst =
      instance.kind === 'transitional' && instance.index === 0 && instance.members.length === 0;
    if (!instance.memberSet.has(proc.node) && !emptyFirst) {
      this.log.add('configuration-agreement', () => ({
        message:
          `${proc.key} installs ${describeConf(instance)} without being a member ` +
          `${formatMembers(instance.members)}`,
        witness: { processes: [proc.key], ring: instance.ring, lines: [this.at(index, line)] },
      }));
    }
    const known = this.identities.get(instance.identity);
    if (known === undefined) {
      this.identities.set(instance.identity, { members: instance.memberSet, proc: index, line });
    } else if (!sameMembers(instance.members, known.members)) {
      this.log.add('configuration-agreement', () => ({
        message:
          `${describeConf(instance)} has members ${formatMembers(known.members)} at ` +
          `${this.keyOf(known.proc)} but ${formatMembers(instance.members)} at ${proc.key}`,
        witness: {
          processes: [this.keyOf(known.proc), proc.key],
          ring: instance.ring,
          lines: [this.at(known.proc, known.line), this.at(index, line)],
        },
      }));
    }
  }

  /** P13: ring ids are never reused, so a node installs a regular ring once, across restarts. */
  private checkUnique(instance: ConfInstance): void {
    const { proc } = this.stateOf(instance.proc);
    const key = `${proc.node} ${instance.ring}`;
    const earlier = this.regularInstalls.get(key);
    if (earlier === undefined) {
      this.regularInstalls.set(key, instance);
      return;
    }
    this.log.add('configuration-unique', () => ({
      message: `node ${proc.node} installs regular ${instance.ring} twice`,
      witness: {
        processes: [...new Set([this.keyOf(earlier.proc), proc.key])],
        ring: instance.ring,
        lines: [this.at(earlier.proc, earlier.line), this.at(instance.proc, instance.line)],
      },
    }));
  }

  /** Checks one deliver line; returns false for a duplicate, which takes no further part. */
  private deliver(
    index: number,
    event: DeliverEvent,
    current: ConfInstance | null,
    fifo: FifoState,
  ): boolean {
    const state = this.stateOf(index);
    const { proc } = state;
    this.checkCurrentConfig(index, event, current);
    // P4
    const earlier = state.delivered.get(event.id);
    if (earlier !== undefined) {
      this.log.add('no-duplication', () => ({
        message: `${proc.key} delivers ${event.id} twice`,
        witness: {
          processes: [proc.key],
          id: event.id,
          ring: event.ring,
          lines: [this.at(index, event.line), this.at(index, earlier.line)],
        },
      }));
      return false;
    }
    state.delivered.set(event.id, { line: event.line, confIndex: current?.index ?? -1 });
    current?.deliveries.push(event.id);

    const send = this.sends.get(event.id);
    this.checkCreation(index, event, send);
    this.checkIntegrity(index, event, send);
    if (send !== undefined) this.checkFifo(index, event, send, current, fifo);
    if (current !== null) this.checkSameConfiguration(index, event, current, send);
    if (current?.kind === 'regular' && event.order === 'safe') {
      const ids =
        this.safeByRing.get(current.ring) ?? new Map<string, { proc: number; line: number }>();
      this.safeByRing.set(current.ring, ids);
      if (!ids.has(event.id)) ids.set(event.id, { proc: index, line: event.line });
    }
    return true;
  }

  /** P11: a delivery carries the ring of the process's current configuration. */
  private checkCurrentConfig(
    index: number,
    event: DeliverEvent,
    current: ConfInstance | null,
  ): void {
    const key = this.keyOf(index);
    const here = this.at(index, event.line);
    if (current === null) {
      this.log.add('deliver-in-current-config', () => ({
        message: `${key} delivers ${event.id} before installing any configuration`,
        witness: { processes: [key], id: event.id, ring: event.ring, lines: [here] },
      }));
    } else if (current.ring !== event.ring) {
      this.log.add('deliver-in-current-config', () => ({
        message:
          `${key} delivers ${event.id} with ring ${event.ring} while in ` +
          `${describeConf(current)}`,
        witness: {
          processes: [key],
          id: event.id,
          ring: event.ring,
          lines: [here, this.at(index, current.line)],
        },
      }));
    }
  }

  /**
   * P9: every delivery of m belongs to one regular configuration C: made in C, or in a
   * transitional configuration that follows C.
   */
  private checkSameConfiguration(
    index: number,
    event: DeliverEvent,
    current: ConfInstance,
    send: SendRecord | undefined,
  ): void {
    const key = this.keyOf(index);
    const here = this.at(index, event.line);
    const base = current.kind === 'regular' ? current.ring : current.prevRegular?.ring;
    if (base === undefined) {
      this.log.add('same-configuration', () => ({
        message:
          `${key} delivers ${event.id} in a transitional configuration that follows ` +
          'no regular one',
        witness: {
          processes: [key],
          id: event.id,
          ring: event.ring,
          lines: [here, this.at(index, current.line)],
        },
      }));
      return;
    }
    const first = this.bases.get(event.id);
    if (first === undefined) {
      const sender = send?.node ?? event.sender;
      this.bases.set(event.id, { base, proc: index, line: event.line, sender });
    } else if (first.base !== base) {
      this.log.add('same-configuration', () => ({
        message:
          `${event.id} is delivered in regular ${first.base} (or its transitional) at ` +
          `${this.keyOf(first.proc)} but in ${describeConf(current)} at ${key}`,
        witness: {
          processes: [this.keyOf(first.proc), key],
          id: event.id,
          lines: [this.at(first.proc, first.line), here],
        },
      }));
    }
  }

  /** P1: only sent messages are delivered, and never by their sender before it sent them. */
  private checkCreation(index: number, event: DeliverEvent, send: SendRecord | undefined): void {
    const state = this.stateOf(index);
    const here = this.at(index, event.line);
    if (send === undefined) {
      this.log.add('no-creation', () => ({
        message: `${state.proc.key} delivers ${event.id}, which no process sent`,
        witness: { processes: [state.proc.key], id: event.id, lines: [here] },
      }));
      return;
    }
    if (send.node !== state.proc.node) return;
    const sender = this.stateOf(send.proc);
    const before =
      state.nodePosition < sender.nodePosition || (send.proc === index && event.line < send.line);
    if (before) {
      this.log.add('no-creation', () => ({
        message: `${state.proc.key} delivers its own ${event.id} before sending it`,
        witness: {
          processes: [...new Set([state.proc.key, sender.proc.key])],
          id: event.id,
          lines: [here, this.at(send.proc, send.line)],
        },
      }));
    }
  }

  /** P3: a delivery's sender, order and group are those of the send line. */
  private checkIntegrity(index: number, event: DeliverEvent, send: SendRecord | undefined): void {
    const key = this.keyOf(index);
    const here = this.at(index, event.line);
    const mismatches: string[] = [];
    if (send === undefined) {
      const parts = parseMessageId(event.id);
      if (parts !== null && parts.sender !== event.sender)
        mismatches.push(`sender ${event.sender} ≠ id's ${parts.sender}`);
    } else {
      if (event.sender !== send.node) mismatches.push(`sender ${event.sender} ≠ ${send.node}`);
      if (event.order !== send.order) mismatches.push(`order ${event.order} ≠ ${send.order}`);
      if (event.group !== send.group)
        mismatches.push(`group ${JSON.stringify(event.group)} ≠ ${JSON.stringify(send.group)}`);
    }
    if (mismatches.length === 0) return;
    this.log.add('message-integrity', () => ({
      message: `${key} delivers ${event.id} with ${mismatches.join(', ')} (as sent)`,
      witness: {
        processes: send === undefined ? [key] : [key, this.keyOf(send.proc)],
        id: event.id,
        lines: send === undefined ? [here] : [here, this.at(send.proc, send.line)],
      },
    }));
  }

  /**
   * P6: one sender's messages arrive in send order, and between two of them no message of that
   * sender is skipped unless the process crossed a regular configuration or a transitional one
   * without the sender (where holes for absent senders are allowed) in between.
   */
  private checkFifo(
    index: number,
    event: DeliverEvent,
    send: SendRecord,
    current: ConfInstance | null,
    fifo: FifoState,
  ): void {
    const state = this.stateOf(index);
    const last = fifo.get(send.node);
    const confIndex = current?.index ?? -1;
    const here = this.at(index, event.line);
    if (last === undefined || send.ordinal > last.ordinal) {
      fifo.set(send.node, { ordinal: send.ordinal, line: event.line, id: event.id, confIndex });
    }
    if (last === undefined) return;
    if (send.ordinal < last.ordinal) {
      this.log.add('fifo', () => ({
        message:
          `${state.proc.key} delivers ${event.id} after ${last.id}, which node ` +
          `${send.node} sent later`,
        witness: {
          processes: [state.proc.key],
          id: event.id,
          lines: [this.at(index, last.line), here],
        },
      }));
      return;
    }
    if (send.ordinal === last.ordinal + 1 || last.confIndex === -1) return;
    for (let i = last.confIndex + 1; i <= confIndex; i += 1) {
      const crossed = state.confs[i];
      if (
        crossed !== undefined &&
        (crossed.kind === 'regular' || !crossed.memberSet.has(send.node))
      )
        return;
    }
    const skipped = this.nodeSends.get(send.node)?.[last.ordinal + 1] ?? '?';
    const skippedSend = this.sends.get(skipped);
    this.log.add('fifo', () => ({
      message:
        `${state.proc.key} delivers ${last.id} then ${event.id} in ` +
        `${describeConf(current as ConfInstance)}, ` +
        `skipping ${skipped} sent between them by node ${send.node}`,
      witness: {
        processes: [state.proc.key],
        id: skipped,
        ring: event.ring,
        lines: [
          this.at(index, last.line),
          here,
          ...(skippedSend === undefined ? [] : [this.at(skippedSend.proc, skippedSend.line)]),
        ],
      },
    }));
  }

  /** P10: the sender of m is a member of the regular configuration m is delivered in. */
  private checkSenderInConfiguration(): void {
    for (const [id, base] of this.bases) {
      const members = this.identities.get(identityOf('regular', base.base, null))?.members;
      if (members === undefined || members.has(base.sender)) continue;
      this.log.add('sender-in-configuration', () => ({
        message:
          `${id} from node ${base.sender} is delivered in regular ${base.base} ` +
          `${formatMembers(members)}, which does not contain its sender`,
        witness: {
          processes: [this.keyOf(base.proc)],
          id,
          ring: base.base,
          lines: [this.at(base.proc, base.line)],
        },
      }));
    }
  }

  /** P8: in each regular configuration, every process's deliveries are a prefix of one sequence. */
  private checkPrefixOrder(): void {
    const byRing = new Map<string, ConfInstance[]>();
    for (const state of this.states) {
      for (const instance of state.confs) {
        if (instance.kind !== 'regular') continue;
        const list = byRing.get(instance.ring) ?? [];
        byRing.set(instance.ring, list);
        list.push(instance);
      }
    }
    for (const [ring, instances] of byRing) {
      let longest = instances[0];
      for (const instance of instances) {
        if (longest === undefined || instance.deliveries.length > longest.deliveries.length)
          longest = instance;
      }
      if (longest === undefined) continue;
      const reference = longest;
      for (const instance of instances) {
        if (instance === reference) continue;
        const at = instance.deliveries.findIndex((id, i) => reference.deliveries[i] !== id);
        if (at === -1) continue;
        this.log.add('agreed-order-prefix', () => {
          const mine = instance.deliveries[at] ?? '';
          const theirs = reference.deliveries[at] ?? '';
          const myLine = this.stateOf(instance.proc).delivered.get(mine)?.line ?? instance.line;
          const theirLine =
            this.stateOf(reference.proc).delivered.get(theirs)?.line ?? reference.line;
          return {
            message:
              `in regular ${ring}, delivery #${at + 1} is ${mine} at ` +
              `${this.keyOf(instance.proc)} ` +
              `but ${theirs} at ${this.keyOf(reference.proc)}`,
            witness: {
              processes: [this.keyOf(instance.proc), this.keyOf(reference.proc)],
              id: mine,
              ring,
              lines: [this.at(instance.proc, myLine), this.at(reference.proc, theirLine)],
            },
          };
        });
      }
    }
  }

  /** P16: processes that go from X to the same next configuration deliver the same set in X. */
  private checkVirtualSynchrony(): void {
    const groups = new Map<string, ConfInstance[]>();
    for (const state of this.states) {
      state.confs.forEach((instance, i) => {
        const next = state.confs[i + 1];
        if (next === undefined) return;
        const key = `${instance.identity} → ${next.identity}`;
        const list = groups.get(key) ?? [];
        groups.set(key, list);
        list.push(instance);
      });
    }
    for (const instances of groups.values()) {
      const [reference, ...others] = instances;
      if (reference === undefined) continue;
      const referenceSet = new Set(reference.deliveries);
      for (const other of others) {
        const sameSize = other.deliveries.length === referenceSet.size;
        if (sameSize && other.deliveries.every((id) => referenceSet.has(id))) continue;
        this.log.add('virtual-synchrony', () => {
          const otherSet = new Set(other.deliveries);
          const onlyOther = other.deliveries.find((id) => !referenceSet.has(id));
          const onlyReference = reference.deliveries.find((id) => !otherSet.has(id));
          const [has, lacks, id] =
            onlyOther !== undefined
              ? [other, reference, onlyOther]
              : [reference, other, onlyReference ?? ''];
          const next = this.stateOf(other.proc).confs[other.index + 1];
          const hasLine = this.stateOf(has.proc).delivered.get(id)?.line ?? has.line;
          return {
            message:
              `${this.keyOf(has.proc)} and ${this.keyOf(lacks.proc)} both go from ` +
              `${describeConf(other)} ` +
              `to ${next === undefined ? '?' : describeConf(next)}, but only ` +
              `${this.keyOf(has.proc)} delivers ${id} in it`,
            witness: {
              processes: [this.keyOf(has.proc), this.keyOf(lacks.proc)],
              id,
              ring: other.ring,
              lines: [this.at(has.proc, hasLine), this.at(lacks.proc, lacks.line)],
            },
          };
        });
      }
    }
  }

  /**
   * P15: T ⊆ the preceding regular C and ⊆ the following regular C'; processes going from C to C'
   * together are in each other's T; a member of T that installed C' came to it from C.
   */
  private checkTransitionalRule(): void {
    const together = new Map<string, Transition[]>();
    for (const state of this.states) {
      state.confs.forEach((instance, i) => {
        if (instance.kind === 'transitional') {
          this.checkTransitionalMembers(instance, state.confs[i + 1]);
          return;
        }
        if (instance.prevRegular === null) return;
        const before = state.confs[i - 1];
        const transitional =
          before?.kind === 'transitional' && before.ring === instance.ring ? before : null;
        const key = `${instance.prevRegular.ring} → ${instance.ring}`;
        const list = together.get(key) ?? [];
        together.set(key, list);
        list.push({ instance, transitional });
      });
    }
    for (const [key, transitions] of together) this.checkTogether(key, transitions);
  }

  /** P15 for one transitional configuration T: T ⊆ C, T ⊆ C', and T's members came from C. */
  private checkTransitionalMembers(instance: ConfInstance, next: ConfInstance | undefined): void {
    const key = this.keyOf(instance.proc);
    const node = this.stateOf(instance.proc).proc.node;
    const fail = (message: string, extraLines: string[]): void =>
      this.log.add('transitional-rule', () => ({
        message,
        witness: {
          processes: [key],
          ring: instance.ring,
          lines: [this.at(instance.proc, instance.line), ...extraLines],
        },
      }));
    const previous = instance.prevRegular;
    const outsidePrevious = instance.members.filter((m) => previous?.memberSet.has(m) !== true);
    if (outsidePrevious.length > 0) {
      fail(
        `${key}: ${describeConf(instance)} ${formatMembers(instance.members)} holds ` +
          `${formatMembers(outsidePrevious)}, not in the preceding regular configuration` +
          (previous === null ? ' (there is none)' : ` ${formatMembers(previous.members)}`),
        previous === null ? [] : [this.at(previous.proc, previous.line)],
      );
    }
    if (next?.kind === 'regular') {
      const outsideNext = instance.members.filter((m) => !next.memberSet.has(m));
      if (outsideNext.length > 0) {
        fail(
          `${key}: ${describeConf(instance)} holds ${formatMembers(outsideNext)}, ` +
            `not in the following regular ${next.ring} ${formatMembers(next.members)}`,
          [this.at(next.proc, next.line)],
        );
      }
    }
    if (previous === null) return;
    for (const member of instance.members) {
      if (member === node) continue;
      const theirs = this.regularInstalls.get(`${member} ${instance.ring}`);
      if (theirs === undefined || theirs.prevRegular?.ring === previous.ring) continue;
      fail(
        `${key}: node ${member} is in ${describeConf(instance)} but installed regular ` +
          `${instance.ring} coming from ` +
          `${theirs.prevRegular?.ring ?? 'no regular configuration'}`,
        [this.at(theirs.proc, theirs.line)],
      );
    }
  }

  /** P15: processes that went from C to C' together are in each other's T. */
  private checkTogether(key: string, transitions: readonly Transition[]): void {
    for (const entry of transitions) {
      const { transitional } = entry;
      if (transitional === null) continue;
      const mine = this.keyOf(entry.instance.proc);
      for (const other of transitions) {
        // Being in one's own T is P12's "installer ∈ members".
        if (other === entry) continue;
        const otherNode = this.stateOf(other.instance.proc).proc.node;
        if (transitional.memberSet.has(otherNode)) continue;
        this.log.add('transitional-rule', () => ({
          message:
            `${mine} and ${this.keyOf(other.instance.proc)} both go ${key}, but node ` +
            `${otherNode} is not in ${mine}'s ${describeConf(transitional)} ` +
            `${formatMembers(transitional.members)}`,
          witness: {
            processes: [mine, this.keyOf(other.instance.proc)],
            ring: transitional.ring,
            lines: [
              this.at(transitional.proc, transitional.line),
              this.at(other.instance.proc, other.instance.line),
            ],
          },
        }));
      }
    }
  }

  private installsLaterRegular(instance: ConfInstance): boolean {
    const confs = this.stateOf(instance.proc).confs;
    for (let i = instance.index + 1; i < confs.length; i += 1) {
      if (confs[i]?.kind === 'regular') return true;
    }
    return false;
  }

  /**
   * P17: safe m delivered in regular C ⇒ every member of C installed C and delivered m in C or in
   * the transitional configuration right after it, unless that incarnation crashed before
   * installing a later regular configuration (allowInflight: unless it installed none yet).
   */
  private checkSafeDelivery(): void {
    for (const [ring, ids] of this.safeByRing) {
      const members = this.identities.get(identityOf('regular', ring, null))?.members;
      if (members === undefined) continue;
      for (const member of members) {
        const instance = this.regularInstalls.get(`${member} ${ring}`);
        if (instance === undefined) {
          const [id, first] = ids.entries().next().value ?? ['', { proc: 0, line: 0 }];
          this.log.add('safe-delivery', () => ({
            message:
              `safe ${id} is delivered in regular ${ring}, but member ${member} never ` +
              `installed ${ring}`,
            witness: {
              processes: [this.keyOf(first.proc)],
              id,
              ring,
              lines: [this.at(first.proc, first.line)],
            },
          }));
          continue;
        }
        const state = this.stateOf(instance.proc);
        const mayStop = this.options.allowInflight === true || state.proc.crashed;
        if (mayStop && !this.installsLaterRegular(instance)) continue;
        const following = state.confs[instance.index + 1];
        for (const [id, first] of ids) {
          const delivered = state.delivered.get(id);
          const inC = delivered?.confIndex === instance.index;
          const inT =
            delivered !== undefined &&
            following?.kind === 'transitional' &&
            delivered.confIndex === following.index;
          if (inC || inT) continue;
          this.log.add('safe-delivery', () => ({
            message:
              `safe ${id} is delivered in regular ${ring} at ${this.keyOf(first.proc)}, but ` +
              `member ` +
              `${state.proc.key} ` +
              `${delivered === undefined ? 'never delivers it' : 'delivers it elsewhere'}` +
              (state.proc.crashed ? ' although it installed a later regular configuration' : ''),
            witness: {
              processes: [this.keyOf(first.proc), state.proc.key],
              id,
              ring,
              lines: [
                this.at(first.proc, first.line),
                this.at(instance.proc, delivered?.line ?? instance.line),
              ],
            },
          }));
        }
      }
    }
  }

  /**
   * P5: a process that did not crash delivers every message it sent; with allowInflight only once
   * it has installed at least two regular configurations after the send line.
   */
  private checkSelfDelivery(): void {
    this.states.forEach((state, index) => {
      if (state.proc.crashed) return;
      let regularCount = 0;
      const regularTotal = state.confs.filter((c) => c.kind === 'regular').length;
      for (const event of state.proc.events) {
        if (event.ev === 'conf' && event.kind === 'regular') regularCount += 1;
        if (event.ev !== 'send' || state.delivered.has(event.id)) continue;
        if (this.sends.get(event.id)?.proc !== index) continue; // a duplicate id: P2
        const laterRegular = regularTotal - regularCount;
        if (this.options.allowInflight === true && laterRegular < 2) continue;
        this.log.add('self-delivery', () => ({
          message:
            `${state.proc.key} sent ${event.id} and did not crash, but never delivers it` +
            (this.options.allowInflight === true
              ? ` (${laterRegular} regular configurations later)`
              : ''),
          witness: {
            processes: [state.proc.key],
            id: event.id,
            lines: [this.at(index, event.line)],
          },
        }));
      }
    });
  }

  /**
   * P18 (settled runs): the live nodes end in one regular configuration whose members are exactly
   * the live nodes, and every message delivered in it, sent in it by a live node, or sent by a
   * live node and never delivered, is delivered by every live node.
   */
  private checkSettled(): void {
    const live: ProcState[] = [];
    this.states.forEach((state, index) => {
      const next = this.states[index + 1];
      const last = next === undefined || next.proc.node !== state.proc.node;
      if (last && !state.proc.crashed) live.push(state);
    });
    const finals = this.settledConfiguration(live);
    if (finals !== null) this.checkSettledMessages(live, finals);
  }

  /**
   * P18, first half: every live process ends in the same regular configuration, whose members
   * are the live nodes. Returns the live processes' instances of it, or null if they do not.
   */
  private settledConfiguration(live: readonly ProcState[]): ConfInstance[] | null {
    if (live.length === 0) return null;
    const liveNodes = new Set(live.map((s) => s.proc.node));
    const finals: ConfInstance[] = [];
    for (const state of live) {
      const last = state.confs[state.confs.length - 1];
      if (last?.kind === 'regular') {
        finals.push(last);
        continue;
      }
      this.log.add('liveness-settled', () => ({
        message:
          `live ${state.proc.key} ends ` +
          (last === undefined
            ? 'without any configuration'
            : `in ${describeConf(last)}, not a regular configuration`),
        witness: {
          processes: [state.proc.key],
          lines: [last === undefined ? state.proc.file : this.at(last.proc, last.line)],
        },
      }));
    }
    const [first] = finals;
    if (first === undefined || finals.length !== live.length) return null;
    const split = finals.find((f) => f.ring !== first.ring);
    if (split !== undefined) {
      this.log.add('liveness-settled', () => ({
        message:
          `live nodes end in different regular configurations: ${first.ring} at ` +
          `${this.keyOf(first.proc)}, ` +
          `${split.ring} at ${this.keyOf(split.proc)}`,
        witness: {
          processes: [this.keyOf(first.proc), this.keyOf(split.proc)],
          lines: [this.at(first.proc, first.line), this.at(split.proc, split.line)],
        },
      }));
      return null;
    }
    if (!sameMembers(first.members, liveNodes)) {
      this.log.add('liveness-settled', () => ({
        message:
          `the final regular configuration ${first.ring} has members ` +
          `${formatMembers(first.members)}, ` +
          `but the live nodes are ${formatMembers([...liveNodes])}`,
        witness: {
          processes: [this.keyOf(first.proc)],
          ring: first.ring,
          lines: [this.at(first.proc, first.line)],
        },
      }));
      return null;
    }
    return finals;
  }

  /**
   * P18, second half: every message delivered in the final configuration, sent in it by a live
   * node, or sent by a live node and never delivered anywhere, is delivered by every live node.
   */
  private checkSettledMessages(live: readonly ProcState[], finals: readonly ConfInstance[]): void {
    const ring = finals[0]?.ring ?? '';
    const deliveredAnywhere = new Set<string>();
    for (const state of this.states)
      for (const id of state.delivered.keys()) deliveredAnywhere.add(id);
    const required = new Map<string, { why: string; proc: number; line: number }>();
    const require = (id: string, why: string, proc: number, line: number): void => {
      if (!required.has(id)) required.set(id, { why, proc, line });
    };
    const inFinal = `the final regular configuration ${ring}`;
    for (const instance of finals) {
      const state = this.stateOf(instance.proc);
      for (const id of instance.deliveries) {
        const line = state.delivered.get(id)?.line ?? instance.line;
        require(id, `delivered in ${inFinal}`, instance.proc, line);
      }
      for (const event of state.proc.events) {
        if (event.ev !== 'send') continue;
        if (event.line > instance.line) {
          require(event.id, `sent in ${inFinal}`, instance.proc, event.line);
        } else if (!deliveredAnywhere.has(event.id)) {
          require(event.id, 'sent by a live node and never delivered', instance.proc, event.line);
        }
      }
    }
    for (const [id, reason] of required) {
      for (const state of live) {
        if (state.delivered.has(id)) continue;
        this.log.add('liveness-settled', () => ({
          message: `${id} (${reason.why}) is never delivered by live ${state.proc.key}`,
          witness: {
            processes: [this.keyOf(reason.proc), state.proc.key],
            id,
            ring: ring,
            lines: [this.at(reason.proc, reason.line), state.proc.file],
          },
        }));
      }
    }
  }

  /**
   * P7: one total order on messages and configuration changes is consistent with every process's
   * order, i.e. the union of the per-process orders is acyclic (a pairwise inversion is a cycle of
   * two edges). Each non-trivial strongly connected component of the order graph is one
   * violation, reported with one of its cycles.
   */
  private checkTotalOrder(): void {
    const { componentCount, cycles } = this.graph.findCycles(WITNESSES_PER_PROPERTY_MAX);
    for (let i = 0; i < componentCount; i += 1) {
      this.log.add('total-order', () => this.describeCycle(cycles[i] ?? []));
    }
  }

  private describeCycle(cycle: readonly number[]): { message: string; witness: Witness } {
    const graph = this.graph;
    const steps: string[] = [];
    const lines: string[] = [];
    const processes = new Set<string>();
    let id: string | undefined;
    cycle.forEach((edge, i) => {
      const { from, to, proc, fromLine, toLine } = graph.edgeAt(edge);
      const key = this.keyOf(proc);
      processes.add(key);
      if (id === undefined && graph.isMessage(from)) id = graph.label(from);
      if (i >= CYCLE_EDGES_SHOWN_MAX) return;
      steps.push(`${key} has ${graph.label(from)} before ${graph.label(to)}`);
      lines.push(this.at(proc, fromLine), this.at(proc, toLine));
    });
    if (cycle.length > CYCLE_EDGES_SHOWN_MAX)
      steps.push(`… ${cycle.length - CYCLE_EDGES_SHOWN_MAX} more`);
    return {
      message: `no total order of deliveries and configurations: ${steps.join('; ')}`,
      witness: { processes: [...processes], ...(id === undefined ? {} : { id }), lines },
    };
  }
}
