/**
 * `createNode()` and the node it returns: the main-thread face of one totem-evs node. It validates
 * the options, starts the threaded runtime (workers/runtime.ts) and turns the runtime's callbacks
 * into groups, events and iterators, and its "ring full" answers into backpressure.
 *
 * SUBMISSIONS. Every send, join and leave of this node goes through one FIFO, whatever its group,
 * because the ring orders one sender's messages as they were handed to it: a send made after
 * another must not overtake it while the runtime is full. A submission is handed to the runtime
 * at once when nothing waits before it; otherwise, or when the runtime answers "full", it waits in
 * the FIFO until `writable`. At most `sendsWaitingMax` sends wait; more are refused rather than
 * buffered (the FIFO holds payloads, so an unbounded one would hold unbounded memory).
 *
 * LIFECYCLE. open → closing (close() called) → closed. A runtime fatal error goes to closed from
 * either: the 'error' event carries it (not while closing: close() rejects with it instead),
 * every pending promise rejects with it and every iterator throws it after its buffered items.
 * close() leaves every group (so the others see ordered leaves rather than a ring failure),
 * waits up to `drainTimeoutMs` for those leaves, then lets the runtime drain and stop; it rejects
 * with TOTEM_ERR_UNDELIVERED when the runtime reports accepted messages it could not deliver.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type {
  AppDelivery,
  ConfigurationChange,
  GroupEvent,
  NodeId,
  RingId,
} from '../engine/types.js';
import { ringIdToString } from '../engine/types.js';
import { sealedOverheadBytes } from '../workers/net/packet-auth.js';
import type { NodeRuntime, RuntimeEvents, RuntimeStats } from '../workers/runtime-types.js';
import { TotemError, totemErrorCodes } from '../workers/errors.js';
import type { TotemErrorCode } from '../workers/errors.js';
import {
  Fifo,
  Relay,
  abortedError,
  checkSignal,
  closedError,
  invalidArgument,
} from './events.js';
import type { Encoding, NodeConfiguration, NodeEvents, Order } from './events.js';
import {
  Group,
  kDispatchMembership,
  kDispatchMessage,
  kEnd,
  kFail,
  kSetState,
  toMembershipEvent,
} from './group.js';
import type { GroupHost, IterateOptions } from './group.js';
import { createLogger } from '../workers/logger.js';
import type { Logger, NodeLogger } from '../workers/logger.js';
import { loadKey } from '../workers/net/key-file.js';
import { resolveNodeOptions, timerMsMax } from './options.js';
import type { NodeOptions, ResolvedNodeOptions } from './options.js';

/** The runtime factory's shape (workers/runtime.ts `startRuntime`). */
export type StartRuntime = (
  options: ResolvedNodeOptions,
  events: RuntimeEvents,
  deps?: { logger?: Logger },
) => Promise<NodeRuntime>;

export interface CreateNodeOptions extends NodeOptions {
  /** Aborts the start: createNode rejects with TOTEM_ERR_ABORTED and the runtime is stopped. */
  signal?: AbortSignal;
}

export interface JoinOptions<E extends Encoding = Encoding> {
  /** 'binary' (default): payloads are Uint8Array. 'msgpack': any value, MessagePack-encoded. */
  encoding?: E;
  /** Aborts the wait. A join already handed to the runtime is undone by a leave right behind it. */
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** How long close() waits for this node's leaves and accepted messages to be delivered. */
  drainTimeoutMs?: number;
}

export interface NodeStats extends RuntimeStats {
  /** Sends, joins and leaves waiting in this node's FIFO for room in the runtime. */
  submitsWaiting: number;
  /** Groups joined, being joined or being left. */
  groups: number;
}

/** Sends that may wait for room at once, per node; a send beyond them is refused. */
export const sendsWaitingMax = 1024;
export const drainTimeoutMsDefault = 5000;

const groupNameBytesMax = 255;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Start a node. Every option is checked before any thread starts (TOTEM_ERR_INVALID_OPTION,
 * TOTEM_ERR_BAD_KEY, TOTEM_ERR_KEY_FILE); resolves once the runtime runs. Listen for 'error'.
 */
export function createNode(options: CreateNodeOptions): Promise<EvsNode> {
  return createNodeWith(startRealRuntime, options);
}

// Loaded on first use so that the API (and its tests) do not load the worker code up front.
async function startRealRuntime(
  options: ResolvedNodeOptions,
  events: RuntimeEvents,
  deps?: { logger?: Logger },
): Promise<NodeRuntime> {
  const specifier = new URL('../workers/runtime.js', import.meta.url).href;
  const runtime = (await import(specifier)) as { startRuntime: StartRuntime };
  return runtime.startRuntime(options, events, deps);
}

/** createNode() with another runtime factory (tests start nodes on an in-memory runtime). */
export async function createNodeWith(start: StartRuntime, options: CreateNodeOptions): Promise<EvsNode> {
  const { signal, nodeOptions } = splitOptions(options);
  const resolved = resolveNodeOptions(nodeOptions, sealedOverheadBytes);
  // Read the key file now: a missing key should fail here, not in a worker after start.
  if (resolved.key !== null) loadKey(resolved.key);
  if (signal?.aborted === true) throw abortedError('createNode', signal);

  const logger = createLogger({
    nodeId: resolved.nodeId,
    level: resolved.logLevel,
    ...(resolved.logger === null ? {} : { logger: resolved.logger }),
  });
  const node = new EvsNode(resolved, logger);
  const started = start(resolved, node[kRuntimeEvents], { logger });
  let runtime: NodeRuntime;
  if (signal === undefined) {
    runtime = await started;
  } else {
    let onAbort = (): void => {};
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(abortedError('createNode', signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      runtime = await Promise.race([started, aborted]);
    } catch (err) {
      // The runtime may still come up: stop it then, since nobody holds the node.
      started.then((rt) => rt.close(0), () => undefined).catch(() => undefined);
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
  node[kAttach](runtime);
  const failure = node[kFailure];
  if (failure !== null) throw failure;
  return node;
}

function splitOptions(options: CreateNodeOptions): {
  signal: AbortSignal | undefined;
  nodeOptions: NodeOptions;
} {
  if (typeof options !== 'object' || options === null || !('signal' in options)) {
    return { signal: undefined, nodeOptions: options };
  }
  const { signal, ...nodeOptions } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TotemError('TOTEM_ERR_INVALID_OPTION', 'signal must be an AbortSignal', {
      details: { option: 'signal' },
    });
  }
  return { signal, nodeOptions };
}

// ------------------------------------------------------------------------------------------------

/** One send, join or leave on its way to the runtime. */
interface Submission {
  readonly kind: 'send' | 'join' | 'leave';
  readonly group: string;
  readonly payload: Uint8Array | null;
  readonly order: Order;
  /** The runtime took it. */
  accepted(): void;
  /** It leaves the FIFO without being taken (close, fatal, the runtime threw). */
  refused(error: unknown): void;
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A promise to settle later. Marked handled: callers get promises derived from it. */
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** `promise`, or TOTEM_ERR_ABORTED when `signal` fires first (for this caller only). */
function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return promise.then((v) => v);
  if (signal.aborted) return Promise.reject(abortedError(what, signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(what, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** What the node keeps per group name, from join() until its own leave is delivered. */
interface GroupSlot {
  readonly name: string;
  readonly encoding: Encoding;
  /** joining: join not yet delivered; joined; leaving: leave asked, not yet delivered. */
  state: 'joining' | 'joined' | 'leaving';
  /** Made when the own join is delivered; never made for an abandoned join. */
  group: Group<unknown> | null;
  /** The join was aborted or cut by close() after the runtime took it: undo it, show nothing. */
  abandoned: boolean;
  joinSubmission: Submission | null;
  leaveSubmission: Submission | null;
  joined: Deferred<Group<unknown>>;
  left: Deferred<void>;
  /** Resolves when the slot is removed, for whatever reason (a join of the same name waits for it). */
  gone: Deferred<void>;
}

const kRuntimeEvents = Symbol('totem-evs.node.runtimeEvents');
const kAttach = Symbol('totem-evs.node.attach');
const kFailure = Symbol('totem-evs.node.failure');

export type NodeState = 'open' | 'closing' | 'closed';

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
  private readonly queue = new Fifo<Submission>();
  private sendsWaiting = 0;
  private pumping = false;
  private pumpAgain = false;
  private readonly slots = new Map<string, GroupSlot>();
  private readonly relay: Relay<Pick<NodeEvents, 'configuration'>>;
  private readonly logger: NodeLogger;
  private closePromise: Promise<void> | null = null;
  /** Wakes close() when a slot goes away or the node fails. */
  private closeWake: (() => void) | null = null;
  private readonly host: GroupHost;

  /** @internal */
  readonly [kRuntimeEvents]: RuntimeEvents;

  /** @internal Use createNode(). */
  constructor(options: ResolvedNodeOptions, logger: NodeLogger) {
    super();
    this.nodeId = options.nodeId;
    this.messageBytesMax = options.engine.messageBytesMax;
    this.logger = logger;
    this.relay = new Relay(this as EventEmitter, ['configuration'], logger, 'configurations of the node');
    this[kRuntimeEvents] = {
      deliver: (d) => this.onDeliver(d),
      configuration: (c) => this.onConfiguration(c),
      groupEvent: (e) => this.onGroupEvent(e),
      writable: () => this.pump(),
      fatal: (error) => this.onFatal(error),
    };
    this.host = {
      nodeId: this.nodeId,
      messageBytesMax: this.messageBytesMax,
      logger,
      checkOpen: (what) => this.checkOpen(what),
      send: (group, payload, order, signal) => this.send(group, payload, order, signal),
      trySend: (group, payload, order) => this.trySend(group, payload, order),
      leave: (group, signal) => this.leave(group, signal),
    };
  }

  /** This incarnation: the runtime's start time in ms; part of every message id. */
  get incarnation(): number {
    return this.attached().incarnation;
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
   * Join a group. Resolves once this node's join is delivered (the group's first 'membership'
   * event, cause 'join', lists it). Joining a group joined or being joined returns that group
   * (same encoding required); joining one being left waits for the leave, then joins anew.
   */
  join(group: string, options: JoinOptions<'msgpack'> & { encoding: 'msgpack' }): Promise<Group<unknown>>;
  join(group: string, options?: JoinOptions<'binary'>): Promise<Group<Uint8Array>>;
  join(group: string, options?: JoinOptions): Promise<Group<unknown>>;
  join(group: string, options: JoinOptions = {}): Promise<Group<Uint8Array> | Group<unknown>> {
    let encoding: Encoding;
    let signal: AbortSignal | undefined;
    try {
      this.checkOpen('join');
      checkGroupName(group);
      encoding = checkEncoding(options.encoding);
      signal = checkSignal(options.signal, 'join');
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted === true) return Promise.reject(abortedError('join', signal));
    const existing = this.slots.get(group);
    if (existing !== undefined) {
      if (existing.encoding !== encoding) {
        const why = `group '${group}' is already joined with encoding '${existing.encoding}', not '${encoding}'`;
        return Promise.reject(invalidArgument(why, 'ERR_INVALID_ARG_VALUE'));
      }
      if (existing.state === 'leaving') {
        return withSignal(existing.gone.promise, signal, 'join').then(() => this.join(group, options));
      }
      return withSignal(existing.joined.promise, signal, 'join');
    }
    return this.startJoin(group, encoding, signal);
  }

  /** Configurations installed from now on; ends when the node closes, throws its fatal error. */
  configurations(options: IterateOptions = {}): AsyncIterableIterator<NodeConfiguration> {
    const signal = checkSignal(options.signal, 'configurations');
    const it = this.relay.iterate('configuration', signal, 'configurations of the node');
    if (this.failure !== null) it.fail(this.failure);
    else if (this.nodeState === 'closed') it.end();
    return it;
  }

  /** Counters of the runtime (engine, network, rings) and of this API layer. */
  async stats(): Promise<NodeStats> {
    this.checkOpen('stats');
    const runtimeStats = await this.attached().stats();
    return { ...runtimeStats, submitsWaiting: this.queue.length, groups: this.slots.size };
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
      drainTimeoutMs = checkDrainTimeout(options.drainTimeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.nodeState === 'closed') {
      this.closePromise = Promise.resolve();
      return this.closePromise;
    }
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
  }

  /** @internal */
  get [kFailure](): TotemError | null {
    return this.failure;
  }

  // ----------------------------------------------------------------------------------------------
  // Submissions

  private send(group: string, payload: Uint8Array, order: Order, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(abortedError('send', signal));
    if (this.queue.length === 0) {
      try {
        if (this.attached().submit(group, payload, order)) return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.sendsWaiting >= sendsWaitingMax) return Promise.reject(sendQueueFull());
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.queue.remove(submission)) return;
        this.sendsWaiting -= 1;
        reject(abortedError('send', signal as AbortSignal));
      };
      const submission: Submission = {
        kind: 'send',
        group,
        payload,
        order,
        accepted: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        refused: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.enqueue(submission);
    });
  }

  private trySend(group: string, payload: Uint8Array, order: Order): boolean {
    if (this.queue.length > 0) return false;
    return this.attached().submit(group, payload, order);
  }

  private enqueue(s: Submission): void {
    if (s.kind === 'send') this.sendsWaiting += 1;
    this.queue.push(s);
  }

  private dequeued(s: Submission): void {
    if (s.kind === 'send') this.sendsWaiting -= 1;
  }

  /** Hand waiting submissions to the runtime, in order, until it is full. */
  private pump(): void {
    if (this.pumping) {
      // The runtime called writable from inside a submit: finish this pass, then go again.
      this.pumpAgain = true;
      return;
    }
    const runtime = this.runtime;
    if (runtime === null || this.nodeState === 'closed') return;
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (let s = this.queue.peek(); s !== undefined; s = this.queue.peek()) {
          let taken: boolean;
          try {
            taken = submitTo(runtime, s);
          } catch (err) {
            this.queue.shift();
            this.dequeued(s);
            s.refused(err);
            continue;
          }
          if (!taken) break;
          this.queue.shift();
          this.dequeued(s);
          s.accepted();
        }
      } while (this.pumpAgain && this.queue.length > 0);
    } finally {
      this.pumping = false;
    }
  }

  /** Hand `s` over now if nothing waits and the runtime takes it, else queue it. */
  private submitOrEnqueue(s: Submission): void {
    if (this.queue.length === 0 && this.runtime !== null) {
      let taken = false;
      try {
        taken = submitTo(this.runtime, s);
      } catch (err) {
        s.refused(err);
        return;
      }
      if (taken) {
        s.accepted();
        return;
      }
    }
    this.enqueue(s);
  }

  // ----------------------------------------------------------------------------------------------
  // Join and leave

  private startJoin(name: string, encoding: Encoding, signal: AbortSignal | undefined): Promise<Group<unknown>> {
    const slot: GroupSlot = {
      name,
      encoding,
      state: 'joining',
      group: null,
      abandoned: false,
      joinSubmission: null,
      leaveSubmission: null,
      joined: deferred(),
      left: deferred(),
      gone: deferred(),
    };
    this.slots.set(name, slot);
    const onAbort = (): void => {
      if (slot.state !== 'joining') return;
      const error = abortedError('join', signal as AbortSignal);
      const queued = slot.joinSubmission;
      if (queued !== null && this.queue.remove(queued)) {
        this.removeSlot(slot);
      } else {
        this.abandon(slot);
      }
      slot.joined.reject(error);
    };
    const submission: Submission = {
      kind: 'join',
      group: name,
      payload: null,
      order: 'agreed',
      accepted: () => {
        slot.joinSubmission = null;
      },
      refused: (error) => {
        slot.joinSubmission = null;
        if (this.slots.get(name) === slot) this.removeSlot(slot);
        slot.joined.reject(error);
      },
    };
    slot.joinSubmission = submission;
    signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => signal?.removeEventListener('abort', onAbort);
    slot.joined.promise.then(cleanup, cleanup);
    this.submitOrEnqueue(submission);
    return slot.joined.promise.then((g) => g);
  }

  /** Undo a join the runtime took but the application will never see: leave right behind it. */
  private abandon(slot: GroupSlot): void {
    slot.abandoned = true;
    slot.state = 'leaving';
    this.submitLeave(slot);
  }

  private leave(group: Group<unknown>, signal: AbortSignal | undefined): Promise<void> {
    const slot = this.slots.get(group.name);
    if (slot === undefined || slot.group !== group) return Promise.resolve();
    if (this.nodeState === 'closed') return Promise.reject(closedError('leave'));
    if (signal?.aborted === true) return Promise.reject(abortedError('leave', signal));
    if (slot.state === 'leaving') return withSignal(slot.left.promise, signal, 'leave');
    slot.state = 'leaving';
    group[kSetState]('leaving');
    this.submitLeave(slot);
    if (signal === undefined) return slot.left.promise.then(() => undefined);
    const onAbort = (): void => {
      const queued = slot.leaveSubmission;
      // Still waiting for room: take it back, the group stays joined.
      if (queued !== null && slot.state === 'leaving' && this.queue.remove(queued)) {
        slot.leaveSubmission = null;
        slot.state = 'joined';
        group[kSetState]('joined');
        const left = slot.left;
        slot.left = deferred();
        left.reject(abortedError('leave', signal));
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => signal.removeEventListener('abort', onAbort);
    const left = slot.left.promise;
    left.then(cleanup, cleanup);
    return withSignal(left, signal, 'leave');
  }

  private submitLeave(slot: GroupSlot): void {
    const submission: Submission = {
      kind: 'leave',
      group: slot.name,
      payload: null,
      order: 'agreed',
      accepted: () => {
        slot.leaveSubmission = null;
      },
      refused: (error) => {
        slot.leaveSubmission = null;
        slot.left.reject(error);
      },
    };
    slot.leaveSubmission = submission;
    this.submitOrEnqueue(submission);
  }

  private removeSlot(slot: GroupSlot): void {
    if (this.slots.get(slot.name) === slot) this.slots.delete(slot.name);
    slot.gone.resolve();
    this.closeWake?.();
  }

  // ----------------------------------------------------------------------------------------------
  // Runtime callbacks

  private onDeliver(d: AppDelivery): void {
    if (this.nodeState === 'closed') return;
    const group = this.slots.get(d.group)?.group;
    // No group object: not joined here, or a join that was abandoned.
    if (group === null || group === undefined) return;
    group[kDispatchMessage](group.toMessage(d));
  }

  private onGroupEvent(e: GroupEvent): void {
    if (this.nodeState === 'closed') return;
    const slot = this.slots.get(e.group);
    if (slot === undefined) return;
    const self = this.nodeId;
    if (e.cause === 'join' && e.joined.includes(self)) {
      if (slot.state !== 'joining') return; // the abandoned join's own join: its leave follows
      slot.state = 'joined';
      const group = new Group<unknown>(this.host, slot.name, slot.encoding, e.members);
      slot.group = group;
      group[kDispatchMembership](toMembershipEvent(e));
      slot.joined.resolve(group);
      return;
    }
    const group = slot.group;
    if (e.cause === 'leave' && e.left.includes(self)) {
      if (group !== null) {
        group[kDispatchMembership](toMembershipEvent(e));
        group[kEnd]();
      }
      this.removeSlot(slot);
      slot.left.resolve();
      return;
    }
    if (group !== null && !slot.abandoned) group[kDispatchMembership](toMembershipEvent(e));
  }

  private onConfiguration(c: ConfigurationChange): void {
    if (this.nodeState === 'closed') return;
    if (c.kind === 'regular') {
      this.memberList = c.members;
      this.ring = c.ringId;
    }
    this.relay.dispatch('configuration', toNodeConfiguration(c));
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
    for (const s of this.queue.drain()) {
      this.dequeued(s);
      s.refused(error);
    }
    for (const slot of [...this.slots.values()]) {
      slot.group?.[kFail](error);
      slot.joined.reject(error);
      slot.left.reject(error);
      this.removeSlot(slot);
    }
  }

  // ----------------------------------------------------------------------------------------------
  // Close

  private async runClose(drainTimeoutMs: number): Promise<void> {
    const deadlineMs = performance.now() + drainTimeoutMs;
    const closed = closedError('the node was closed before this was accepted');
    // Sends and joins that did not reach the runtime never will; queued leaves still go.
    for (const s of this.queue.drain()) {
      if (s.kind === 'leave') {
        this.queue.push(s);
        continue;
      }
      this.dequeued(s);
      s.refused(closed);
    }
    for (const slot of [...this.slots.values()]) {
      if (slot.state === 'joining') {
        slot.joined.reject(closed);
        this.abandon(slot);
      } else if (slot.state === 'joined') {
        slot.state = 'leaving';
        slot.group?.[kSetState]('leaving');
        this.submitLeave(slot);
      }
    }
    this.pump();
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
      while (this.slots.size > 0 && this.failure === null) {
        const remainingMs = deadlineMs - performance.now();
        if (remainingMs <= 0) {
          this.logger.warn('close: leaves not delivered before drainTimeoutMs', {
            groups: [...this.slots.keys()],
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
    for (const s of this.queue.drain()) {
      this.dequeued(s);
      s.refused(closed);
    }
    for (const slot of [...this.slots.values()]) {
      slot.group?.[kEnd]();
      slot.left.reject(closed);
      this.removeSlot(slot);
    }
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

function submitTo(runtime: NodeRuntime, s: Submission): boolean {
  switch (s.kind) {
    case 'send':
      return runtime.submit(s.group, s.payload as Uint8Array, s.order);
    case 'join':
      return runtime.join(s.group);
    case 'leave':
      return runtime.leave(s.group);
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

const codeSet: ReadonlySet<string> = new Set(totemErrorCodes);

/** The runtime reports TotemErrors; anything else still reaches the user with a stable code. */
function toTotemError(error: unknown): TotemError {
  if (TotemError.isTotemError(error)) return error;
  if (TotemError.isTotemErrorJSON(error)) return TotemError.fromJSON(error);
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && codeSet.has(code)) {
    return new TotemError(code as TotemErrorCode, message, { cause: error });
  }
  return new TotemError('TOTEM_ERR_ENGINE_FATAL', `the runtime failed: ${message}`, { cause: error });
}

/**
 * The error of a send refused because `sendsWaitingMax` sends already wait. errors.ts has no
 * code for it yet, so it is a RangeError carrying the code it will have as a TotemError.
 */
function sendQueueFull(): RangeError {
  const message = `${sendsWaitingMax} sends are already waiting for room; await send() before sending more`;
  return Object.assign(new RangeError(message), { code: 'TOTEM_ERR_SEND_QUEUE_FULL' });
}

function checkGroupName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw invalidArgument('group must be a string');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > groupNameBytesMax) {
    const why = `group name must be 1..${groupNameBytesMax} UTF-8 bytes, got ${bytes}`;
    throw invalidArgument(why, 'ERR_INVALID_ARG_VALUE');
  }
  if (loneSurrogate.test(name)) {
    throw invalidArgument('group name is not well-formed Unicode (lone surrogate)', 'ERR_INVALID_ARG_VALUE');
  }
}

function checkEncoding(encoding: unknown): Encoding {
  if (encoding === undefined) return 'binary';
  if (encoding !== 'binary' && encoding !== 'msgpack') {
    const why = `encoding must be 'binary' or 'msgpack', got ${String(encoding)}`;
    throw invalidArgument(why, 'ERR_INVALID_ARG_VALUE');
  }
  return encoding;
}

function checkDrainTimeout(value: unknown): number {
  if (value === undefined) return drainTimeoutMsDefault;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > timerMsMax) {
    const why = `drainTimeoutMs must be a whole number of milliseconds in 0..${timerMsMax}`;
    throw Object.assign(new RangeError(why), { code: 'ERR_OUT_OF_RANGE' });
  }
  return value;
}
