/**
 * N simulated totem-evs nodes on one virtual network: start, crash (memory dropped, in-flight
 * packets gone) and restart (fresh memory, new incarnation, ring seq from the node's "disk"), an
 * application load on every live node, and one in-memory trace file per node incarnation written
 * exactly as docs/trace-contract.md says.
 *
 * The cluster also checks what the trace cannot show: that every delivered payload is byte for
 * byte the one submitted, and that the persisted ring seq never goes backwards.
 */
import type { EngineConfigInput } from '../../engine/config.js';
import type { AppDelivery, ConfigurationChange, EngineStats, GroupEvent, Order, NodeHost } from '../../engine/types.js';
import { ringIdToString } from '../../engine/types.js';
import { Network } from './network.js';
import type { Prng } from './prng.js';
import { confLine, crashLine, deliverLine, messageId, sendLine, traceFileName } from './trace-lines.js';
import { DeadlineTimer, type VirtualClock } from './virtual-clock.js';

/** What the simulator drives: the surface of engine/node.ts TotemNode (a fake in unit tests). */
export interface SimNode {
  start(nowMs: number): void;
  onPacket(nowMs: number, bytes: Uint8Array): void;
  onTimer(nowMs: number): void;
  nextTimerMs(): number;
  submit(group: string, payload: Uint8Array, order: Order): number | false;
  joinGroup(group: string): void;
  /** Engine counters and membership state, when the engine has them (diagnostics only). */
  stats?(): Pick<EngineStats, 'state' | 'ringId' | 'members' | 'framesBroadcast'>;
  /** Throws when the engine's state breaks an invariant; called after every call into the node. */
  assertInvariants?(): void;
  /** Graceful leave (engine/srp/leave.ts), when the engine has it. */
  leaveRing?(nowMs: number, drainWaitMsMax: number): void;
  readonly hasLeftRing?: boolean;
}

export type SimNodeFactory = (config: EngineConfigInput, host: NodeHost) => SimNode;

export interface WorkloadOptions {
  /** Mean time between two messages of one node (exponential). */
  sendIntervalMsMean: number;
  /** Wait before retrying a message that submit() refused (send queue full). */
  retryMs: number;
  /** Probability that a message is safe rather than agreed. */
  safeProbability: number;
  /** Probability that a message is above one frame (fragmented), up to fragmentBytesMax. */
  fragmentedProbability: number;
  fragmentBytesMax: number;
  /** Probability of a very large message, up to hugeBytesMax. */
  hugeProbability: number;
  hugeBytesMax: number;
}

export const workloadDefaults: WorkloadOptions = {
  sendIntervalMsMean: 40,
  retryMs: 25,
  safeProbability: 0.5,
  fragmentedProbability: 0.08,
  fragmentBytesMax: 8 * 1024,
  hugeProbability: 0.005,
  hugeBytesMax: 64 * 1024,
};

export interface ClusterOptions {
  clock: VirtualClock;
  /** Drives the network faults. */
  networkPrng: Prng;
  /** Drives the application load (sizes, times, groups, guarantees). */
  loadPrng: Prng;
  nodeIds: readonly number[];
  nodeFactory: SimNodeFactory;
  /** Engine settings applied to every node (nodeId, incarnation and ringSeqInitial are the cluster's). */
  engineConfig?: Omit<EngineConfigInput, 'nodeId' | 'incarnation' | 'ringSeqInitial'>;
  workload?: Partial<WorkloadOptions>;
  /** An application driven on every node instead of (or beside) the random message load. */
  app?: SimApp;
}

/** What a simulated application may do on its node (test/sim/lock-workload.ts uses it). */
export interface SimAppNode {
  readonly nodeId: number;
  readonly incarnation: number;
  /** Submit a message (send line written); false when the send queue refused it. */
  submit(group: string, payload: Uint8Array, order: Order): boolean;
  /** Append a line to this incarnation's trace file. */
  line(text: string): void;
  /** Still the running incarnation (false after a crash)? */
  live(): boolean;
}

export interface SimApp {
  /** False: the random message load is off. */
  readonly randomLoad: boolean;
  onStart(node: SimAppNode): void;
  onDeliver(nodeId: number, delivery: AppDelivery): void;
  /** Called right after the conf line is written; returns extra conf fields (e.g. primary). */
  onConfiguration(nodeId: number, change: ConfigurationChange): Record<string, boolean> | null;
  /** Groups every node of the application joins when it starts (before onStart). */
  readonly groups?: readonly string[];
  /** A membership event of one of those groups, at its place in the stream. */
  onGroupEvent?(nodeId: number, event: GroupEvent): void;
  onCrash(nodeId: number): void;
  /** The application stops starting new work. */
  stop(): void;
  /** Nothing of its own left to send (settled() waits for it). */
  idle(nodeId: number): boolean;
}

/** A defect the simulator itself detects (outside the EVS checker). */
export interface SimViolation {
  property: string;
  message: string;
}

export const groupMain = 'bench';
export const groupSecond = 'aux';

interface SentMessage {
  sizeBytes: number;
  fillBase: number;
}

interface NodeSlot {
  readonly id: number;
  node: SimNode | null;
  /** 0 before the first start. */
  incarnation: number;
  /** The persisted ring seq: survives crashes (the state directory). */
  diskRingSeq: bigint;
  lines: string[];
  groups: string[];
  /** Bumped at every crash/restart so that stale timer and load events of a dead incarnation do nothing. */
  generation: number;
  timer: DeadlineTimer;
  lastConf: { kind: string; ring: string; members: readonly number[] } | null;
  deliveriesInConf: number;
  /** Messages of this incarnation not yet delivered back to it. */
  ownUndelivered: Set<string>;
  /** A message submit() refused, retried before any new one (the application blocks). */
  pendingSubmit: { group: string; payload: Uint8Array; order: Order } | null;
  /** Highest counter submit() returned in this incarnation. */
  counterLast: number;
  /** A graceful leave is under way: the application stopped submitting, the node drains. */
  leaving: boolean;
}

export class Cluster {
  readonly network: Network;
  /** Trace files by name: `<nodeId>.<incarnation>.jsonl`. */
  readonly files = new Map<string, string[]>();
  readonly harness: string[] = [];
  readonly violations: SimViolation[] = [];
  /** Listeners of every installed configuration (fault injection reacts to membership changes). */
  readonly configurationListeners: ((nodeId: number, change: ConfigurationChange) => void)[] = [];

  messagesSent = 0;
  /** submit() calls that returned false (send queue full). */
  submitsRefused = 0;
  deliveries = 0;
  configurationsInstalled = 0;
  /** Virtual time of the last regular configuration any node installed. */
  lastRegularInstallMs = 0;
  crashes = 0;
  restarts = 0;
  /** Virtual time of the last delivery or configuration anywhere. */
  lastActivityMs = 0;

  private readonly clock: VirtualClock;
  private readonly loadPrng: Prng;
  private readonly slots = new Map<number, NodeSlot>();
  private readonly workload: WorkloadOptions;
  private readonly sent = new Map<string, SentMessage>();
  private submitting = true;

  constructor(private readonly options: ClusterOptions) {
    if (options.nodeIds.length < 1 || options.nodeIds.length > 64) throw new RangeError('a cluster has 1..64 nodes');
    this.clock = options.clock;
    this.loadPrng = options.loadPrng;
    this.workload = { ...workloadDefaults, ...options.workload };
    for (const id of options.nodeIds) {
      this.slots.set(id, {
        id,
        node: null,
        incarnation: 0,
        diskRingSeq: 0n,
        lines: [],
        groups: [],
        generation: 0,
        timer: new DeadlineTimer(this.clock),
        lastConf: null,
        deliveriesInConf: 0,
        ownUndelivered: new Set(),
        pendingSubmit: null,
        counterLast: 0,
        leaving: false,
      });
    }
    this.network = new Network(this.clock, options.networkPrng, options.nodeIds, (to, from, bytes) => this.onPacket(to, from, bytes));
    // Every node starts down; start() brings it up.
    for (const id of options.nodeIds) this.network.crash(id);
  }

  get nodeIds(): readonly number[] {
    return this.options.nodeIds;
  }

  isLive(id: number): boolean {
    return this.slot(id).node !== null;
  }

  liveIds(): number[] {
    return this.options.nodeIds.filter((id) => this.isLive(id));
  }

  /** Start (or restart) a node now: a new incarnation with fresh memory. */
  start(id: number): void {
    const slot = this.slot(id);
    if (slot.node !== null) throw new Error(`node ${id} is already running`);
    const nowMs = this.clock.nowMs;
    if (slot.incarnation > 0) this.restarts++;
    // The incarnation is the virtual start time, raised above the previous one (trace contract).
    slot.incarnation = Math.max(1, Math.ceil(nowMs), slot.incarnation + 1);
    slot.generation++;
    slot.lines = [];
    this.files.set(traceFileName(id, slot.incarnation), slot.lines);
    slot.lastConf = null;
    slot.deliveriesInConf = 0;
    slot.ownUndelivered = new Set();
    slot.pendingSubmit = null;
    slot.counterLast = 0;
    slot.leaving = false;
    slot.timer.cancel();
    this.network.restart(id);
    const node = this.options.nodeFactory(
      {
        ...this.options.engineConfig,
        nodeId: id,
        incarnation: slot.incarnation,
        ringSeqInitial: slot.diskRingSeq,
      },
      this.makeHost(slot, slot.generation),
    );
    slot.node = node;
    node.start(nowMs);
    node.assertInvariants?.();
    // Every node is in the main group; about half also in a second one, so that some deliveries
    // reach nodes with no local member of the group.
    slot.groups = this.loadPrng.chance(0.5) ? [groupMain, groupSecond] : [groupMain];
    for (const group of [...slot.groups, ...(this.options.app?.groups ?? [])]) {
      node.joinGroup(group);
      node.assertInvariants?.();
    }
    this.armTimer(slot);
    if (this.options.app === undefined || this.options.app.randomLoad) this.scheduleNextSubmit(slot);
    this.options.app?.onStart(this.appNode(slot, slot.generation));
  }

  private appNode(slot: NodeSlot, generation: number): SimAppNode {
    return {
      nodeId: slot.id,
      incarnation: slot.incarnation,
      live: () => slot.generation === generation && slot.node !== null,
      line: (text) => {
        if (slot.generation === generation) slot.lines.push(text);
      },
      submit: (group, payload, order) => {
        const node = slot.node;
        if (node === null || slot.generation !== generation) return false;
        const index = slot.lines.length;
        const counterGuess = slot.counterLast + 1;
        const nowMs = this.clock.nowMs;
        slot.lines.push(sendLine(slot.id, slot.incarnation, counterGuess, order, group, nowMs));
        const counter = node.submit(group, payload, order);
        node.assertInvariants?.();
        this.armTimer(slot);
        if (counter === false) {
          this.submitsRefused++;
          slot.lines.splice(index, 1);
          return false;
        }
        if (counter !== counterGuess) slot.lines[index] = sendLine(slot.id, slot.incarnation, counter, order, group, nowMs);
        slot.counterLast = Math.max(slot.counterLast, counter);
        slot.ownUndelivered.add(messageId(slot.id, slot.incarnation, counter));
        this.messagesSent++;
        return true;
      },
    };
  }

  /** Kill a node: its memory is gone, its in-flight packets vanish, the harness file says so. */
  crash(id: number): void {
    const slot = this.slot(id);
    if (slot.node === null) throw new Error(`node ${id} is not running`);
    slot.node = null;
    slot.generation++;
    slot.pendingSubmit = null;
    this.network.crash(id);
    this.harness.push(crashLine(id));
    this.crashes++;
    this.options.app?.onCrash(id);
  }

  /** Graceful leaves completed (the node announced its leave and stopped). */
  leaves = 0;
  /** Listeners told when a leaving node has stopped (its last leave copy sent). */
  readonly leaveListeners: ((nodeId: number) => void)[] = [];

  /**
   * Close a node gracefully: its application stops submitting (a message submit() refused is
   * dropped, as close() refuses it), the engine drains its own frames for at most
   * `drainWaitMsMax`, announces its leave and stops; then the node is down, and the harness file
   * says so as for any stop. Packets it sent before stopping still arrive.
   */
  leave(id: number, drainWaitMsMax: number): void {
    const slot = this.slot(id);
    const node = slot.node;
    if (node === null) throw new Error(`node ${id} is not running`);
    if (node.leaveRing === undefined) throw new Error('this engine has no graceful leave');
    slot.leaving = true;
    slot.pendingSubmit = null;
    node.leaveRing(this.clock.nowMs, drainWaitMsMax);
    node.assertInvariants?.();
    this.armTimer(slot);
  }

  /** The application stops handing over new messages (a refused one is still retried). */
  stopSubmitting(): void {
    this.submitting = false;
    this.options.app?.stop();
  }

  /** Every live node's last configuration is the same regular one, with every live node in it. */
  inOneRing(): boolean {
    const live = this.liveIds().map((id) => this.slot(id));
    const ring = live[0]?.lastConf?.ring;
    return live.every((slot) => {
      const conf = slot.lastConf;
      return conf !== null && conf.kind === 'regular' && conf.ring === ring && conf.members.length === live.length && live.every((s) => conf.members.includes(s.id));
    });
  }

  /**
   * True when the live nodes sit in one regular configuration of exactly the live nodes, every
   * live node has delivered its own messages and as many messages in that configuration as the
   * others, nothing waits to be submitted, and nothing has been delivered or installed for
   * `quietMs`. The EVS checker's settled mode then has the last word.
   */
  settled(quietMs: number): boolean {
    const live = this.liveIds().map((id) => this.slot(id));
    const first = live[0];
    if (first === undefined) return true;
    if (this.clock.nowMs - this.lastActivityMs < quietMs) return false;
    if (!this.inOneRing()) return false;
    for (const slot of live) {
      if (slot.ownUndelivered.size > 0 || slot.pendingSubmit !== null) return false;
      if (this.options.app !== undefined && !this.options.app.idle(slot.id)) return false;
      if (slot.deliveriesInConf !== first.deliveriesInConf) return false;
    }
    return true;
  }

  /** One line per live node: its membership state and last configuration (for an unsettled run). */
  describeNodes(): string[] {
    return this.liveIds().map((id) => {
      const slot = this.slot(id);
      const stats = slot.node?.stats?.();
      const engine = stats === undefined ? '' : ` state ${stats.state} ring ${ringIdToString(stats.ringId)} [${stats.members.join(',')}]`;
      const conf = slot.lastConf === null ? 'none' : `${slot.lastConf.kind} ${slot.lastConf.ring} [${slot.lastConf.members.join(',')}]`;
      const timerMs = slot.node?.nextTimerMs() ?? Infinity;
      const timer = Number.isFinite(timerMs) ? `next timer in ${timerMs - this.clock.nowMs} ms` : 'no timer armed';
      return `node ${id}.${slot.incarnation}:${engine}; ${timer}; last conf ${conf}; own undelivered ${slot.ownUndelivered.size}`;
    });
  }

  /**
   * New frames the live incarnations have broadcast so far. A ring draining one large message
   * orders its fragments for a while before it delivers anything: this is its progress.
   */
  framesBroadcast(): number {
    let n = 0;
    for (const slot of this.slots.values()) n += slot.node?.stats?.().framesBroadcast ?? 0;
    return n;
  }

  /** Messages handed to nodes still awaiting delivery at their own sender (live incarnations only). */
  ownUndelivered(): number {
    let n = 0;
    for (const slot of this.slots.values()) if (slot.node !== null) n += slot.ownUndelivered.size;
    return n;
  }

  private slot(id: number): NodeSlot {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new RangeError(`unknown node ${id}`);
    return slot;
  }

  private makeHost(slot: NodeSlot, generation: number): NodeHost {
    // A callback from an incarnation that is gone would be a harness bug: the node object is dropped at crash.
    const current = (): boolean => {
      if (slot.generation !== generation) throw new Error(`node ${slot.id}: callback from a crashed incarnation`);
      return true;
    };
    return {
      send: (to, bytes, selfCopy) => {
        current();
        this.network.send(slot.id, to, bytes, selfCopy);
      },
      storeRingSeq: (seq) => {
        current();
        if (seq < slot.diskRingSeq) {
          this.violations.push({
            property: 'sim-ring-seq-persist',
            message: `node ${slot.id} persisted ring seq ${seq} below the stored ${slot.diskRingSeq}`,
          });
        }
        slot.diskRingSeq = seq;
      },
      deliver: (delivery) => {
        current();
        this.onDeliver(slot, delivery);
      },
      configuration: (change) => {
        current();
        this.onConfiguration(slot, change);
      },
      groupEvent: (e) => {
        current();
        if (this.options.app?.groups?.includes(e.group) === true) this.options.app.onGroupEvent?.(slot.id, e);
      },
    };
  }

  private onDeliver(slot: NodeSlot, d: AppDelivery): void {
    const nowMs = this.clock.nowMs;
    slot.lines.push(deliverLine(slot.id, d, nowMs));
    slot.deliveriesInConf++;
    this.deliveries++;
    this.lastActivityMs = nowMs;
    const id = messageId(d.sender, d.incarnation, d.counter);
    if (d.sender === slot.id && d.incarnation === slot.incarnation) slot.ownUndelivered.delete(id);
    const sent = this.sent.get(id);
    // An unknown id is the checker's no-creation finding; here only the bytes are compared.
    this.options.app?.onDeliver(slot.id, d);
    if (sent !== undefined && !payloadMatches(d.payload, sent)) {
      this.violations.push({
        property: 'sim-payload-integrity',
        message: `node ${slot.id} delivered ${id} with ${d.payload.length} bytes that differ from the ${sent.sizeBytes} submitted`,
      });
    }
  }

  private onConfiguration(slot: NodeSlot, c: ConfigurationChange): void {
    const nowMs = this.clock.nowMs;
    slot.lines.push(confLine(slot.id, c, nowMs));
    const extra = this.options.app?.onConfiguration(slot.id, c) ?? null;
    if (extra !== null) {
      // Extra conf fields (trace contract: `primary` once the lock manager is in use), before `t`'s
      // closing brace; written before the app's own lines for this configuration.
      const at = slot.lines.lastIndexOf(confLine(slot.id, c, nowMs));
      const fields = Object.entries(extra).map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`).join('');
      slot.lines[at] = `${(slot.lines[at] ?? '').slice(0, -1)}${fields}}`;
    }
    slot.lastConf = { kind: c.kind, ring: ringIdToString(c.ringId), members: c.members.slice() };
    slot.deliveriesInConf = 0;
    if (c.kind === 'regular') {
      this.configurationsInstalled++;
      this.lastRegularInstallMs = nowMs;
    }
    this.lastActivityMs = nowMs;
    for (const listener of this.configurationListeners) listener(slot.id, c);
  }

  /**
   * When set, counts what the nodes are handed ("packet type 1 2 -> 3", "timer -> node 2"):
   * turned on after a livelock to say what keeps the clock from advancing.
   */
  eventCounts: Map<string, number> | null = null;

  private onPacket(to: number, from: number, bytes: Uint8Array): void {
    const slot = this.slot(to);
    const node = slot.node;
    if (node === null) return;
    if (this.eventCounts !== null) countEvent(this.eventCounts, `packet type ${bytes[1] ?? '?'} ${from} -> ${to}`);
    node.onPacket(this.clock.nowMs, bytes);
    node.assertInvariants?.();
    this.armTimer(slot);
  }

  /** Schedule the node's earliest timer; a re-armed timer makes the older event stale. */
  private armTimer(slot: NodeSlot): void {
    const node = slot.node;
    if (node === null) return;
    if (node.hasLeftRing === true) {
      this.finishLeave(slot);
      return;
    }
    slot.timer.arm(node.nextTimerMs(), () => {
      if (slot.node === null) return;
      if (this.eventCounts !== null) countEvent(this.eventCounts, `timer -> node ${slot.id}`);
      slot.node.onTimer(this.clock.nowMs);
      slot.node.assertInvariants?.();
      this.armTimer(slot);
    });
  }

  private finishLeave(slot: NodeSlot): void {
    slot.node = null;
    slot.generation++;
    slot.timer.cancel();
    this.network.stop(slot.id);
    this.harness.push(crashLine(slot.id));
    this.leaves++;
    for (const listener of this.leaveListeners) listener(slot.id);
  }

  private scheduleNextSubmit(slot: NodeSlot): void {
    const generation = slot.generation;
    const u = this.loadPrng.float();
    const delayMs = Math.max(1, Math.round(-Math.log(1 - u) * this.workload.sendIntervalMsMean));
    this.clock.after(delayMs, () => {
      if (slot.generation !== generation || slot.node === null || slot.leaving) return;
      if (this.submitting) this.submitOne(slot);
      if (slot.pendingSubmit === null && this.submitting) this.scheduleNextSubmit(slot);
    });
  }

  private submitOne(slot: NodeSlot): void {
    const w = this.workload;
    const prng = this.loadPrng;
    let sizeBytes: number;
    if (prng.chance(w.hugeProbability)) sizeBytes = prng.int(w.fragmentBytesMax, w.hugeBytesMax);
    else if (prng.chance(w.fragmentedProbability)) sizeBytes = prng.int(1500, w.fragmentBytesMax);
    else sizeBytes = prng.chance(0.8) ? prng.int(1, 200) : prng.int(201, 1400);
    const group = prng.pick(slot.groups);
    const order: Order = prng.chance(w.safeProbability) ? 'safe' : 'agreed';
    const fillBase = prng.nextU32();
    const payload = new Uint8Array(sizeBytes);
    fill(payload, fillBase);
    slot.pendingSubmit = { group, payload, order };
    this.trySubmit(slot, fillBase);
  }

  /** Hand the pending message to the node; the send line is written before it enters the protocol. */
  private trySubmit(slot: NodeSlot, fillBase: number): void {
    const node = slot.node;
    const pending = slot.pendingSubmit;
    if (node === null || pending === null) return;
    const nowMs = this.clock.nowMs;
    // The counter is the engine's; guess the next one for the line, then correct it in place:
    // the file is in memory, so nothing has read the line before submit() returns.
    const counterGuess = slot.counterLast + 1;
    const index = slot.lines.length;
    slot.lines.push(sendLine(slot.id, slot.incarnation, counterGuess, pending.order, pending.group, nowMs));
    const counter = node.submit(pending.group, pending.payload, pending.order);
    node.assertInvariants?.();
    this.armTimer(slot);
    if (counter === false) {
      this.submitsRefused++;
      slot.lines.splice(index, 1);
      const generation = slot.generation;
      this.clock.after(this.workload.retryMs, () => {
        if (slot.generation !== generation || slot.node === null || slot.leaving) return;
        this.trySubmit(slot, fillBase);
        if (slot.pendingSubmit === null && this.submitting) this.scheduleNextSubmit(slot);
      });
      return;
    }
    const id = messageId(slot.id, slot.incarnation, counter);
    if (counter !== counterGuess) {
      slot.lines[index] = sendLine(slot.id, slot.incarnation, counter, pending.order, pending.group, nowMs);
    }
    slot.counterLast = Math.max(slot.counterLast, counter);
    slot.pendingSubmit = null;
    slot.ownUndelivered.add(id);
    this.sent.set(id, { sizeBytes: pending.payload.length, fillBase });
    this.messagesSent++;
  }
}

function countEvent(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** A payload pattern that depends on every byte's position, so truncation, shifts and mixups show. */
function fill(payload: Uint8Array, fillBase: number): void {
  let x = fillBase | 1;
  for (let i = 0; i < payload.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    payload[i] = x >>> 24;
  }
}

function payloadMatches(payload: Uint8Array, sent: SentMessage): boolean {
  if (payload.length !== sent.sizeBytes) return false;
  let x = sent.fillBase | 1;
  for (let i = 0; i < payload.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    if (payload[i] !== x >>> 24) return false;
  }
  return true;
}
