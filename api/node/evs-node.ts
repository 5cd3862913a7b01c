/**
 * The node `createNode()` resolves with: the main-thread face of one totem-evs node. It turns the
 * runtime's callbacks into groups, events and iterators, and holds the node's lifecycle (see
 * lifecycle.ts for the states, what close() does and what a fatal error does).
 *
 * It owns what is per node and hands the rest to its parts: the submit queue (submit-queue.ts),
 * the one FIFO every send, join and leave goes through; the group table (group-table.ts), every
 * group from join() until its leave is delivered. Close and the fatal path stay here because they
 * settle both parts and the node's own events in one order.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { ConfigurationChange, NodeId, RingId } from '../../engine/types.js';
import { ringIdToString } from '../../engine/types.js';
import type { NodeRuntime, RuntimeEvents, RuntimeStats } from '../../workers/runtime-types.js';
import { clockMs, isSampledCounter } from '../../workers/anatomy.js';
import type { DeliveryStamps } from '../../workers/anatomy.js';
import type { StampedDelivery } from '../../workers/records.js';
import { TotemError } from '../../workers/errors.js';
import type { NodeLogger } from '../../workers/logger.js';
import { abortedError, checkCallOptions, checkSignal, closedError, invalidArgument } from '../call-errors.js';
import { Relay } from '../events.js';
import type { NodeConfiguration, NodeEvents, RingState } from '../events.js';
import type { Group, GroupHost, IterateOptions } from '../group.js';
import type { ResolvedNodeOptions } from '../options.js';
import { GroupTable } from './group-table.js';
import type { JoinOptions } from './group-table.js';
import { checkDrainTimeout, toTotemError } from './lifecycle.js';
import type { CloseOptions, NodeState } from './lifecycle.js';
import { SubmitQueue } from './submit-queue.js';
import { OwnLatency } from './own-latency.js';
import { deferred, onAbortUntil } from './waiting.js';
import { serveMetrics } from '../metrics.js';
import type { MetricsEndpoint } from '../metrics.js';
import { evaluatePrimary, resolvePrimaryRule } from './primary.js';
import type { TokenHopStamps } from '../../workers/token-hops.js';
import type { PrimaryRule } from './primary.js';

/**
 * `stats()`: JSON.stringify works on it (the ring id's uint64 seq is written as a decimal
 * string; in memory it stays a bigint).
 */
export interface NodeStats extends Omit<RuntimeStats, 'tokenHops'> {
  /** Sends, joins and leaves waiting in this node's FIFO for room in the runtime. */
  submitsWaiting: number;
  /** Groups joined, being joined or being left. */
  groups: number;
}

// What createNode() needs of a node it is starting, under symbols to stay off the public surface.
export const kRuntimeEvents = Symbol('totem-evs.node.runtimeEvents');
export const kAttach = Symbol('totem-evs.node.attach');
export const kFailure = Symbol('totem-evs.node.failure');
export const kServeMetrics = Symbol('totem-evs.node.serveMetrics');
/** @internal Latency anatomy samples (workers/anatomy.ts) for the benchmark: `[kLatencyAnatomy](listener)`. */
export const kLatencyAnatomy = Symbol('totem-evs.node.latencyAnatomy');
/** @internal The token hop stamps (workers/token-hops.ts) for the benchmark: `await node[kTokenHops]()`. */
export const kTokenHops = Symbol('totem-evs.node.tokenHops');

/** One sampled message's stamps, handed over just before its 'message' event (workers/anatomy.ts). */
export interface LatencySample {
  sender: NodeId;
  incarnation: number;
  counter: number;
  /** Own messages: the runtime took the send (ms on the shared clock); NaN for others'. */
  acceptedMs: number;
  stamps: DeliveryStamps;
}
export const kTraceDir = Symbol('totem-evs.node.traceDir');
export const kAddMetrics = Symbol('totem-evs.node.addMetrics');
export const kBeforeClose = Symbol('totem-evs.node.beforeClose');

/** A totem-evs node (what `createNode()` resolves with). */
export class EvsNode extends EventEmitter<NodeEvents> implements AsyncDisposable {
  readonly nodeId: NodeId;
  /** The limit on one message's payload, after encoding (the messageBytesMax option). */
  readonly messageBytesMax: number;
  private runtime: NodeRuntime | null = null;
  private nodeState: NodeState = 'open';
  private failure: TotemError | null = null;
  private memberList: readonly NodeId[] = [];
  private ring: RingId | null = null;
  private readonly submits: SubmitQueue;
  private readonly groups: GroupTable;
  private readonly relay: Relay<Pick<NodeEvents, 'configuration'>>;
  private readonly logger: NodeLogger;
  private closePromise: Promise<void> | null = null;
  /** Wakes close() when a group slot goes away or the node fails. */
  private closeWake: (() => void) | null = null;
  private readonly host: GroupHost;
  /** Waiters of waitForMembers(), re-checked at every regular configuration. */
  private readonly memberWaiters = new Set<{ check(members: readonly NodeId[]): boolean; fail(error: unknown): void }>();
  private metricsEndpoint: MetricsEndpoint | null = null;
  private ringStateNow: RingState = 'gather';
  /** Kept only while a metrics endpoint is open. */
  private ownLatency: OwnLatency | null = null;
  /** Latency anatomy: set by [kLatencyAnatomy]; null keeps nothing. */
  private anatomyListener: ((sample: LatencySample) => void) | null = null;
  /** Sends the runtime took (the k-th is counter k), and when, for the sampled ones awaiting delivery. */
  private sendsAccepted = 0;
  private readonly sampledAccepted: { counter: number; acceptedMs: number }[] = [];
  private primaryNow = false;
  /** Extra metrics sources (the lock manager's histograms), read by the metrics endpoint. */
  private readonly metricsExtras = new Set<() => Promise<string>>();
  /** Called when close() starts, before sends are refused (the lock manager hands over its batch). */
  private readonly beforeCloseHooks = new Set<() => void>();
  /** The traceDir option: the lock manager writes its lines into this node's trace file. */
  private readonly traceDirOption: string | null;
  /** The primary-component rule (createNode's `primary` option; default: majority of the members option). */
  readonly primaryRule: PrimaryRule;

  /** @internal */
  readonly [kRuntimeEvents]: RuntimeEvents;

  /** @internal Use createNode(). */
  constructor(options: ResolvedNodeOptions, logger: NodeLogger, primaryRule?: PrimaryRule) {
    super();
    this.nodeId = options.nodeId;
    this.traceDirOption = options.traceDir;
    this.primaryRule = primaryRule ?? resolvePrimaryRule(undefined, options.members.map((m) => m.nodeId));
    this.messageBytesMax = options.engine.messageBytesMax;
    this.logger = logger;
    this.relay = new Relay(this as EventEmitter, ['configuration'], logger, 'configurations of the node');
    const isClosed = (): boolean => this.nodeState === 'closed';
    this.submits = new SubmitQueue(isClosed, () => {
      this.ownLatency?.accepted(performance.now());
      this.sendsAccepted += 1;
      // Bounded like the runtime's own (a sample never delivered here is dropped as it ages).
      if (this.anatomyListener !== null && isSampledCounter(this.sendsAccepted) && this.sampledAccepted.length < 1024) {
        this.sampledAccepted.push({ counter: this.sendsAccepted, acceptedMs: clockMs() });
      }
    });
    this[kRuntimeEvents] = {
      deliver: (d: StampedDelivery) => {
        if (this.ownLatency !== null && d.sender === this.nodeId && this.runtime !== null && d.incarnation === this.runtime.incarnation) {
          this.ownLatency.delivered(d.counter, performance.now());
        }
        if (d.stamps !== undefined && this.anatomyListener !== null) this.onSample(d, d.stamps);
        this.groups.deliver(d);
      },
      configuration: (c) => this.onConfiguration(c),
      groupEvent: (e) => this.groups.groupEvent(e),
      ringState: (state) => this.onRingState(state),
      writable: () => this.submits.pump(),
      fatal: (error) => this.onFatal(error),
    };
    this.host = {
      nodeId: this.nodeId,
      messageBytesMax: this.messageBytesMax,
      logger,
      checkOpen: (what) => this.checkOpen(what),
      send: (group, payload, order, signal) => this.submits.send(group, payload, order, signal),
      trySend: (group, payload, order) => this.submits.trySend(group, payload, order),
      leave: (group, signal) => this.groups.leave(group, signal),
      iteratorBound: {
        bytesMax: options.deliveryBufferBytesMax,
        bytesOf: (m) => (m as { payload: Uint8Array }).payload.byteLength,
        overflow: (bufferedBytes, notReadMs, label) =>
          this.runtime?.reportSlowConsumer?.({ bufferedBytes, bytesMax: options.deliveryBufferBytesMax, notReadMs, where: 'iterator', of: label }),
      },
    };
    this.groups = new GroupTable(this.host, this.submits, isClosed, () => this.closeWake?.());
  }

  /** This incarnation: the runtime's start time in ms; part of every message id. */
  get incarnation(): number {
    return this.attached().incarnation;
  }

  /** The ring's membership state; 'gather' until the first ring forms. See RingState. */
  get ringState(): RingState {
    return this.ringStateNow;
  }

  /** Members of the current regular configuration, ascending; empty before the first one. */
  get members(): readonly NodeId[] {
    return this.memberList;
  }

  /** The current regular configuration's ring id, "rep:seq"; null before the first one. */
  get ringId(): string | null {
    return this.ring === null ? null : ringIdToString(this.ring);
  }

  /** The current regular configuration's ring id as { rep, seq }; null before the first one. */
  get ringIdParts(): RingId | null {
    return this.ring;
  }

  get state(): NodeState {
    return this.nodeState;
  }

  /**
   * Whether the configuration this node last installed is a primary component under the
   * `primary` rule (default: more than half of the configured members). Evaluated at every
   * configuration, transitional ones included; false before the first one. 'primary' tells changes.
   */
  get primary(): boolean {
    return this.primaryNow;
  }

  /** @internal The trace directory (createNode's `trace` option), or null. */
  get [kTraceDir](): string | null {
    return this.traceDirOption;
  }

  /**
   * @internal Add Prometheus text to this node's `/metrics` (the lock manager's histograms);
   * returns the function that removes it.
   */
  [kAddMetrics](render: () => Promise<string>): () => void {
    this.metricsExtras.add(render);
    return () => this.metricsExtras.delete(render);
  }

  /**
   * @internal Run `hook` when close() starts, while sends are still taken (what was asked of the
   * node before close() goes out before its leaves); returns the function that removes it.
   */
  [kBeforeClose](hook: () => void): () => void {
    this.beforeCloseHooks.add(hook);
    return () => this.beforeCloseHooks.delete(hook);
  }

  /**
   * Join a group. Resolves once this node's join is delivered (the group's first 'membership'
   * event, cause 'join', lists it). Joining a group joined or being joined returns that group
   * (same encoding required); joining one being left waits for the leave, then joins anew.
   */
  join(group: string, options: JoinOptions<'msgpack'> & { encoding: 'msgpack' }): Promise<Group<unknown>>;
  join(group: string, options?: JoinOptions<'binary'>): Promise<Group<Uint8Array>>;
  join(group: string, options?: JoinOptions): Promise<Group<unknown>>;
  join(group: string, options: JoinOptions = {}): Promise<Group<Uint8Array> | Group<unknown>> {
    try {
      checkCallOptions(options, ['encoding', 'signal'], 'join');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.groups.join(group, options);
  }

  /** Configurations installed from now on; ends when the node closes, throws its fatal error. */
  configurations(options: IterateOptions = {}): AsyncIterableIterator<NodeConfiguration> {
    checkCallOptions(options, ['signal'], 'configurations');
    const signal = checkSignal(options.signal, 'configurations');
    const it = this.relay.iterate('configuration', signal, 'configurations of the node');
    if (this.failure !== null) it.fail(this.failure);
    else if (this.nodeState === 'closed') it.end();
    return it;
  }

  /** Counters of the runtime (engine, network, rings) and of this API layer; JSON-safe. */
  async stats(): Promise<NodeStats> {
    this.checkOpen('stats');
    const runtimeStats = await this.attached().stats();
    const ringId = runtimeStats.engine.ringId;
    // The seq is a uint64 (bigint), which JSON.stringify refuses: spell it as a string there.
    Object.defineProperty(ringId, 'toJSON', { value: () => ({ rep: ringId.rep, seq: String(ringId.seq) }), enumerable: false });
    return { ...runtimeStats, submitsWaiting: this.submits.length, groups: this.groups.size };
  }

  /**
   * Resolves with the members once a regular configuration has at least `n` members, or all of
   * `ids` (this node's own view; at once if the current one does). Rejects with TOTEM_ERR_ABORTED
   * when `signal` fires, TOTEM_ERR_CLOSED when the node closes first, or the node's fatal error.
   */
  waitForMembers(target: number | readonly NodeId[], options: { signal?: AbortSignal } = {}): Promise<readonly NodeId[]> {
    const check = memberTarget(target);
    checkCallOptions(options, ['signal'], 'waitForMembers');
    const signal = checkSignal(options.signal, 'waitForMembers');
    this.checkOpen('waitForMembers');
    if (signal?.aborted === true) return Promise.reject(abortedError('waitForMembers', signal));
    if (check(this.memberList)) return Promise.resolve(this.memberList);
    const done = deferred<readonly NodeId[]>();
    const waiter = {
      check: (members: readonly NodeId[]): boolean => {
        if (!check(members)) return false;
        this.memberWaiters.delete(waiter);
        done.resolve(members);
        return true;
      },
      fail: (error: unknown): void => {
        this.memberWaiters.delete(waiter);
        done.reject(error);
      },
    };
    this.memberWaiters.add(waiter);
    onAbortUntil(signal, done.promise, (s) => waiter.fail(abortedError('waitForMembers', s)));
    return done.promise.then((members) => members);
  }

  /** The metrics endpoint's address, or null when none is open (the `metrics` option). */
  get metricsAddress(): { host: string; port: number } | null {
    const e = this.metricsEndpoint;
    return e === null ? null : { host: e.host, port: e.port };
  }

  /**
   * Leave every group, let the runtime deliver what it accepted, stop it. Sends and joins not yet
   * accepted reject with TOTEM_ERR_CLOSED; iterators end; 'close' is emitted. Rejects with
   * TOTEM_ERR_UNDELIVERED (details.undelivered) when accepted messages of this node were not
   * delivered before the stop, with the fatal error when the runtime fails meanwhile. The node is
   * closed either way. Every call returns the same promise; after a fatal error it resolves.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.closePromise !== null) return this.closePromise;
    let drainTimeoutMs: number;
    try {
      checkCallOptions(options, ['drainTimeoutMs'], 'close');
      drainTimeoutMs = checkDrainTimeout(options.drainTimeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.nodeState === 'closed') {
      this.closePromise = Promise.resolve();
      return this.closePromise;
    }
    if (this.nodeState === 'open') for (const hook of [...this.beforeCloseHooks]) hook();
    this.nodeState = 'closing';
    this.closePromise = this.runClose(drainTimeoutMs);
    return this.closePromise;
  }

  /** `await using node = await createNode(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal */
  [kAttach](runtime: NodeRuntime): void {
    this.runtime = runtime;
    this.submits.attach(runtime);
  }

  /** @internal Open the metrics endpoint (createNode's `metrics` option). */
  async [kServeMetrics](address: { host: string; port: number }): Promise<void> {
    this.ownLatency = new OwnLatency();
    const latency = this.ownLatency;
    this.metricsEndpoint = await serveMetrics(
      {
        nodeId: this.nodeId,
        stats: () => this.stats(),
        takeLatencies: () => latency.take(),
        extraText: async () => (await Promise.all([...this.metricsExtras].map((render) => render()))).join(''),
      },
      address,
    );
  }

  /** @internal The token hop stamps of this node's workers; null from a runtime that keeps none. */
  async [kTokenHops](): Promise<TokenHopStamps | null> {
    this.checkOpen('stats');
    return (await this.attached().stats({ tokenHops: true })).tokenHops ?? null;
  }

  /** @internal Receive the latency anatomy of sampled messages (null: stop). */
  [kLatencyAnatomy](listener: ((sample: LatencySample) => void) | null): void {
    this.anatomyListener = listener;
    if (listener === null) this.sampledAccepted.length = 0;
  }

  private onSample(d: StampedDelivery, stamps: DeliveryStamps): void {
    let acceptedMs = NaN;
    if (this.runtime !== null && d.sender === this.nodeId && d.incarnation === this.runtime.incarnation) {
      const q = this.sampledAccepted;
      while (q.length > 0 && (q[0] as { counter: number }).counter < d.counter) q.shift();
      if (q.length > 0 && q[0]?.counter === d.counter) acceptedMs = (q.shift() as { acceptedMs: number }).acceptedMs;
    }
    (this.anatomyListener as (sample: LatencySample) => void)({
      sender: d.sender, incarnation: d.incarnation, counter: d.counter, acceptedMs, stamps,
    });
  }

  /** @internal */
  get [kFailure](): TotemError | null {
    return this.failure;
  }

  // ----------------------------------------------------------------------------------------------
  // Runtime callbacks of the node itself (deliveries and group events go to the group table)

  private onConfiguration(c: ConfigurationChange): void {
    if (this.nodeState === 'closed') return;
    const before = this.memberList;
    if (c.kind === 'regular') {
      this.memberList = c.members;
      this.ring = c.ringId;
    }
    const configuration = toNodeConfiguration(c);
    this.relay.dispatch('configuration', configuration);
    if (c.kind === 'regular' && !sameMembers(before, c.members)) {
      this.emitSafely('members', c.members, {
        ringId: configuration.ringId,
        joined: c.members.filter((id) => !before.includes(id)),
        left: before.filter((id) => !c.members.includes(id)),
        cause: c.cause,
        causeNodes: c.causeNodes,
      });
    }
    const primary = evaluatePrimary(this.primaryRule, c.members);
    if (primary !== this.primaryNow) {
      this.primaryNow = primary;
      this.emitSafely('primary', primary, configuration);
    }
    if (c.kind === 'regular') for (const waiter of [...this.memberWaiters]) waiter.check(c.members);
  }

  /** Emit without letting a throwing listener disturb the runtime's callbacks. */
  private emitSafely<K extends 'members' | 'primary'>(event: K, ...args: NodeEvents[K]): void {
    if (this.listenerCount(event) === 0) return;
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  private onRingState(state: RingState): void {
    if (this.nodeState === 'closed' || state === this.ringStateNow) return;
    this.ringStateNow = state;
    if (this.listenerCount('ringState') === 0) return;
    try {
      this.emit('ringState', state);
    } catch (err) {
      // As with the other events: a throwing listener must not disturb the runtime's callbacks.
      process.nextTick(() => {
        throw err;
      });
    }
  }

  private onFatal(error: Error): void {
    if (this.nodeState === 'closed') {
      this.logger.debug('a runtime error after close is ignored', { err: error });
      return;
    }
    const err = toTotemError(error);
    const closing = this.nodeState === 'closing';
    this.failure = err;
    this.nodeState = 'closed';
    this.logger.error('the node failed and stopped', { err });
    this.settleAll(err);
    this.relay.flush();
    this.relay.failAll(err);
    this.closeWake?.();
    // Outside the runtime's call stack: with no 'error' listener, EventEmitter throws, and that
    // must reach the process as an uncaught exception, not the runtime's callback loop.
    // While closing, close() rejects with err instead: the caller is already waiting on it.
    if (this.runtime !== null && !closing) process.nextTick(() => this.emit('error', err));
    if (this.runtime !== null) process.nextTick(() => this.emit('close'));
  }

  /** Reject every waiting submission and pending join or leave with `error`; end every group. */
  private settleAll(error: unknown): void {
    this.submits.refuseWaiting(error);
    this.groups.failAll(error);
    for (const waiter of [...this.memberWaiters]) waiter.fail(error);
    this.stopMetrics();
  }

  private stopMetrics(): void {
    const endpoint = this.metricsEndpoint;
    this.metricsEndpoint = null;
    this.ownLatency = null;
    endpoint?.close().catch((err: unknown) => this.logger.warn('closing the metrics endpoint failed', { err }));
  }

  // ----------------------------------------------------------------------------------------------
  // Close

  private async runClose(drainTimeoutMs: number): Promise<void> {
    const deadlineMs = performance.now() + drainTimeoutMs;
    const closed = closedError('the node was closed before this was accepted');
    // Sends and joins that did not reach the runtime never will; queued leaves still go.
    this.submits.refuseWaiting(closed, (s) => s.kind === 'leave');
    this.groups.leaveAll(closed);
    this.submits.pump();
    await this.waitForLeaves(deadlineMs);

    let undelivered = 0;
    let closeError: unknown = null;
    if (this.failure === null) {
      try {
        const result = await this.attached().close(Math.max(0, Math.ceil(deadlineMs - performance.now())));
        undelivered = result.undelivered;
      } catch (err) {
        closeError = err;
      }
    }
    const failure = this.failure;
    if (failure !== null) throw failure; // onFatal already settled everything and emits 'close'
    this.finishClose(closed);
    if (closeError !== null) throw toTotemError(closeError);
    if (undelivered > 0) {
      this.logger.warn('closed with accepted messages not delivered', { undelivered });
      throw new TotemError(
        'TOTEM_ERR_UNDELIVERED',
        `the node closed before delivering ${undelivered} accepted message(s) of its own`,
        { details: { undelivered, drainTimeoutMs } },
      );
    }
  }

  /** Until every group's leave is delivered, the deadline passes, or the node fails. */
  private async waitForLeaves(deadlineMs: number): Promise<void> {
    const timer = new AbortController();
    try {
      while (this.groups.size > 0 && this.failure === null) {
        const remainingMs = deadlineMs - performance.now();
        if (remainingMs <= 0) {
          this.logger.warn('close: leaves not delivered before drainTimeoutMs', {
            groups: this.groups.names(),
          });
          return;
        }
        const woken = new Promise<void>((resolve) => {
          this.closeWake = resolve;
        });
        const expired = delay(Math.ceil(remainingMs), undefined, { signal: timer.signal }).catch(() => undefined);
        await Promise.race([woken, expired]);
        this.closeWake = null;
      }
    } finally {
      this.closeWake = null;
      timer.abort();
    }
  }

  private finishClose(closed: TotemError): void {
    this.nodeState = 'closed';
    for (const waiter of [...this.memberWaiters]) waiter.fail(closed);
    this.stopMetrics();
    this.submits.refuseWaiting(closed);
    this.groups.endAll(closed);
    this.relay.flush();
    this.relay.endAll();
    process.nextTick(() => this.emit('close'));
  }

  // ----------------------------------------------------------------------------------------------

  private checkOpen(what: string): void {
    if (this.nodeState === 'open') return;
    const error = closedError(what);
    if (this.failure !== null) Object.defineProperty(error, 'cause', { value: this.failure });
    throw error;
  }

  private attached(): NodeRuntime {
    const runtime = this.runtime;
    if (runtime === null) throw new Error('the runtime is not attached yet');
    return runtime;
  }
}

function toNodeConfiguration(c: ConfigurationChange): NodeConfiguration {
  return {
    kind: c.kind,
    ringId: ringIdToString(c.ringId),
    ring: c.ringId,
    members: c.members,
    joined: c.joined,
    left: c.left,
    cause: c.cause,
    causeNodes: c.causeNodes,
  };
}

function sameMembers(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id, i) => b[i] === id);
}

/** The test of waitForMembers' target: a count of members, or ids that must all be members. */
function memberTarget(target: number | readonly NodeId[]): (members: readonly NodeId[]) => boolean {
  if (typeof target === 'number') {
    if (!Number.isSafeInteger(target) || target < 1) {
      throw invalidArgument(`waitForMembers: n must be a whole number of members, at least 1, got ${String(target)}`, 'ERR_OUT_OF_RANGE');
    }
    return (members) => members.length >= target;
  }
  if (!Array.isArray(target) || target.length === 0 || !target.every((id) => Number.isSafeInteger(id) && id >= 1)) {
    throw invalidArgument('waitForMembers takes a member count or a non-empty array of node ids', 'ERR_INVALID_ARG_TYPE');
  }
  const ids = [...target];
  return (members) => ids.every((id) => members.includes(id));
}
