/**
 * What a node reports to the application, as plain typed values, and the two ways to receive
 * them: events on a node:events EventEmitter, and async iterators.
 *
 * Why EventEmitter rather than EventTarget: an 'error' event without a listener throws, which is
 * what a node whose runtime failed must do when nobody listens (Node's convention for sockets
 * and streams); `events.once(node, 'configuration')` and `events.on(...)` work on it; and there
 * is no Event object to allocate per delivered message. The event maps are typed through
 * @types/node's generic `EventEmitter<T>`.
 *
 * Why iterator buffers are not bounded: the runtime cannot be paused from the main thread (the
 * ring goes on ordering messages whatever one application does), and EVS forbids dropping a
 * delivered message. So an iterator keeps every item delivered since it was created until it is
 * read; one that is not read makes memory grow. Each iterator logs one warning when its buffer
 * passes `iteratorBufferWarnItems`, naming the group, so a forgotten iterator shows in the log
 * instead of only in the heap. Stop an iterator (break out of the loop, call `return()`, or
 * abort its signal) to release its buffer.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../workers/logger.js';
import type { TotemError } from '../workers/errors.js';
import { abortedError } from './call-errors.js';
import type {
  ConfigurationCause,
  ConfigurationKind,
  GroupEventCause,
  Order,
  NodeId,
  RingId,
} from '../engine/types.js';

/** Delivery order of a message: `agreed` (total order) or `safe` (total order, and held by every member). */
export type { ConfigurationCause, ConfigurationKind, GroupEventCause, NodeId, Order, RingId };

/** How a group's payloads are carried: raw bytes, or any value encoded with MessagePack. */
export type Encoding = 'binary' | 'msgpack';

/** One application message of a group, as delivered at this node. */
export interface GroupMessage<T = Uint8Array> {
  readonly group: string;
  readonly sender: NodeId;
  /** The sender's incarnation (its start time in ms). */
  readonly incarnation: number;
  /** Per-incarnation counter of the sender, from 1. */
  readonly counter: number;
  /** `<sender>:<incarnation>:<counter>`: unique across the cluster's lifetime. */
  readonly id: string;
  readonly order: Order;
  /** The configuration it is delivered in, as "rep:seq". */
  readonly ringId: string;
  readonly ring: RingId;
  /**
   * True when delivered in a transitional configuration: the message was sent in the previous
   * regular configuration and its guarantee holds only among the transitional members.
   */
  readonly transitional: boolean;
  /** The bytes as sent (for a msgpack group, the encoded value). Shared by every consumer: do not modify. */
  readonly payload: Uint8Array;
  /**
   * The value: `payload` itself in a binary group, the decoded value in a msgpack group (decoded
   * on first read; a payload that is not MessagePack throws here, not at delivery).
   */
  readonly value: T;
}

/** A change of one group's membership as seen by this node. */
export interface GroupMembershipEvent {
  readonly group: string;
  readonly kind: ConfigurationKind;
  readonly ringId: string;
  readonly ring: RingId;
  /** The group's members after the change, sorted ascending. */
  readonly members: readonly NodeId[];
  readonly joined: readonly NodeId[];
  readonly left: readonly NodeId[];
  /**
   * 'join' / 'leave': a member's ordered join or leave; 'configuration': the ring's membership
   * changed; 'merge': it changed and brought members from another ring, whose view of the group
   * was not this side's (state replicated in the group reconciles here).
   */
  readonly cause: GroupEventCause;
}

/** A ring configuration installed by this node (EVS regular or transitional). */
export interface NodeConfiguration {
  readonly kind: ConfigurationKind;
  /** For a transitional configuration, the id of the regular configuration it leads to. */
  readonly ringId: string;
  readonly ring: RingId;
  readonly members: readonly NodeId[];
  /** Regular: members not in the transitional configuration before it. Transitional: []. */
  readonly joined: readonly NodeId[];
  /** Transitional: members of the previous regular configuration not in this one. Regular: []. */
  readonly left: readonly NodeId[];
  readonly cause: ConfigurationCause;
  /** The nodes whose behaviour caused the change (the silent ones, the joiners, the merging ring). */
  readonly causeNodes: readonly NodeId[];
}

/** Events of a node. */
/**
 * The membership state of the node's ring: 'operational' delivers messages; 'gather', 'commit'
 * and 'recovery' mean the ring is re-forming, and sends wait until it is operational again.
 */
export type RingState = 'operational' | 'gather' | 'commit' | 'recovery';

/** What changed with a 'members' event (a regular configuration with another member list). */
export interface MembersChange {
  /** The regular configuration's ring id, "rep:seq". */
  readonly ringId: string;
  /** Members now that were not in the previous regular configuration. */
  readonly joined: readonly NodeId[];
  /** Members of the previous regular configuration that are not members now. */
  readonly left: readonly NodeId[];
  readonly cause: ConfigurationCause;
  /** The nodes whose behaviour caused the change (the silent ones, the joiners, the merging ring). */
  readonly causeNodes: readonly NodeId[];
}

export type NodeEvents = {
  configuration: [configuration: NodeConfiguration];
  /** The members changed (at a regular configuration): the members, ascending, and why. */
  members: [members: readonly NodeId[], change: MembersChange];
  /** `node.primary` changed, at `configuration` (the rule of createNode's `primary` option). */
  primary: [primary: boolean, configuration: NodeConfiguration];
  /** The ring's membership state changed (see RingState): sends wait while it is not operational. */
  ringState: [state: RingState];
  /** A fatal error: the node has stopped. See docs/api.md: listen for it. */
  error: [error: TotemError];
  /** The node is closed (after close(), or after a fatal error); emitted once. */
  close: [];
};

/** Events of a group. */
export type GroupEvents<T> = {
  message: [message: GroupMessage<T>];
  membership: [event: GroupMembershipEvent];
};

/** Items an iterator buffers before it warns, once, that nobody reads it. */
export const iteratorBufferWarnItems = 10_000;

// ------------------------------------------------------------------------------------------------
// FIFO

/**
 * An array-backed FIFO whose shift is O(1): the head index advances, and the consumed prefix is
 * cut off once it is half the array (amortised O(1), no per-item node allocation).
 */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as T;
    // Release the reference now, not at the next compaction.
    (this.items as (T | undefined)[])[this.head] = undefined;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head * 2 >= this.items.length && this.head >= 64) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Remove the first item equal to `item`; true when found. O(n), for cancellations. */
  remove(item: T): boolean {
    const at = this.items.indexOf(item, this.head);
    if (at < 0) return false;
    this.items.splice(at, 1);
    return true;
  }

  /** Take every item out, in order. */
  drain(): T[] {
    const out = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }
}

// ------------------------------------------------------------------------------------------------
// Iterator

/**
 * A bound on what one iterator may hold unread, in bytes: the node's deliveryBufferBytesMax. Past
 * it the node gives up on its application (TOTEM_ERR_SLOW_CONSUMER) rather than grow without end.
 */
export interface IteratorBound {
  readonly bytesMax: number;
  bytesOf(item: unknown): number;
  /** Called once, when the buffer passes bytesMax; `notReadMs`: since the last item was read. */
  overflow(bufferedBytes: number, notReadMs: number, label: string): void;
}

export interface EventIteratorOptions {
  signal?: AbortSignal | undefined;
  /** Without it the buffer is bounded only by memory (node configurations, group memberships). */
  bound?: IteratorBound | undefined;
  /** What the iterator is of, for messages and the buffer warning ("messages of group 'locks'"). */
  label: string;
  logger: Logger;
  /** Called once when the iterator stops (ended, failed, returned or aborted): detach it. */
  onStop: () => void;
}

/**
 * An async iterator fed by push(). Buffers every pushed item until read (see the file comment).
 * end() lets the reader finish the buffer, then reports done; fail(err) lets it finish the buffer,
 * then throws err once (items delivered before a failure were delivered: they are not withheld);
 * an abort of the signal throws TOTEM_ERR_ABORTED at once and discards the buffer.
 */
export class EventIterator<T> implements AsyncIterableIterator<T> {
  private readonly buffer = new Fifo<T>();
  private readonly readers = new Fifo<{
    resolve: (r: IteratorResult<T>) => void;
    reject: (e: unknown) => void;
  }>();
  private state: 'open' | 'ended' | 'failed' | 'done' = 'open';
  private error: unknown = null;
  private warned = false;
  private bufferedBytes = 0;
  /** performance.now() of the last read (or of the creation): how long nobody has read. */
  private lastReadMs = performance.now();
  private overflowed = false;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = (): void => {
    if (this.state === 'done') return;
    this.buffer.drain();
    this.bufferedBytes = 0;
    this.finish('failed', abortedError(`iterating ${this.options.label}`, this.signal as AbortSignal));
  };

  constructor(private readonly options: EventIteratorOptions) {
    this.signal = options.signal;
    if (this.signal?.aborted === true) {
      this.onAbort();
    } else {
      this.signal?.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Items waiting to be read. */
  get buffered(): number {
    return this.buffer.length;
  }

  push(item: T): void {
    if (this.state !== 'open') return;
    const reader = this.readers.shift();
    if (reader !== undefined) {
      this.lastReadMs = performance.now();
      reader.resolve({ value: item, done: false });
      return;
    }
    this.buffer.push(item);
    const bound = this.options.bound;
    if (bound !== undefined) {
      if (this.buffer.length === 1) this.lastReadMs = performance.now();
      this.bufferedBytes += bound.bytesOf(item);
      if (this.bufferedBytes > bound.bytesMax && !this.overflowed) {
        this.overflowed = true;
        bound.overflow(this.bufferedBytes, Math.round(performance.now() - this.lastReadMs), this.options.label);
      }
    }
    if (!this.warned && this.buffer.length > iteratorBufferWarnItems) {
      this.warned = true;
      this.options.logger.warn('an iterator is not being read; its buffer keeps growing', {
        of: this.options.label,
        items: this.buffer.length,
      });
    }
  }

  end(): void {
    if (this.state === 'open') this.finish('ended', null);
  }

  fail(error: unknown): void {
    if (this.state === 'open') this.finish('failed', error);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) {
      const item = this.buffer.shift() as T;
      this.lastReadMs = performance.now();
      if (this.options.bound !== undefined) this.bufferedBytes -= this.options.bound.bytesOf(item);
      return Promise.resolve({ value: item, done: false });
    }
    switch (this.state) {
      case 'open':
        return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
      case 'failed': {
        // Thrown once; later calls report done, as a finished generator does.
        const error = this.error;
        this.state = 'done';
        this.error = null;
        return Promise.reject(error);
      }
      default:
        this.state = 'done';
        return Promise.resolve({ value: undefined, done: true });
    }
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.drain();
    this.bufferedBytes = 0;
    if (this.state === 'open') this.finish('ended', null);
    this.state = 'done';
    this.error = null;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(state: 'ended' | 'failed', error: unknown): void {
    this.state = state;
    this.error = error;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.options.onStop();
    // Waiting readers imply an empty buffer (push hands items straight to them): settle them. The
    // first one gets the error, the others done, as with next() calls made after the failure.
    for (const reader of this.readers.drain()) {
      if (this.state === 'failed') reader.reject(error);
      else reader.resolve({ value: undefined, done: true });
      this.state = 'done';
    }
  }
}

/** Rethrow outside the current call stack, so that a throwing listener cannot break the runtime's callback. */
export function rethrowAsync(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}

// ------------------------------------------------------------------------------------------------
// Relay: events and iterators in one order, held until the first consumer

/** Events whose listeners take one argument (every event a Relay carries). */
type SingleArgEvents = Record<string, [unknown]>;

/** Items a relay holds for a first consumer before it warns, once, that nobody consumes them. */
export const relayHoldWarnItems = 10_000;

/**
 * Delivers one ordered stream of events to an emitter's listeners and to iterators.
 *
 * Like a paused Readable, a relay holds what arrives until the first consumer attaches (a
 * listener of one of its events, or an iterator), then flushes the held items on a microtask, so
 * that listeners attached one after the other in the same synchronous block all see them. This
 * closes a gap the runtime would otherwise open: it may deliver the messages that follow this
 * node's join in the same callback batch as the join itself, before the code that awaited
 * `join()` has had a chance to attach its listeners.
 *
 * A listener that throws does not break the runtime's callback: the exception is rethrown on the
 * next tick (an uncaught exception, as for a throwing listener of a socket), and the other
 * consumers still receive the item.
 */
export class Relay<E extends SingleArgEvents> {
  private flowing = false;
  private warned = false;
  private readonly held = new Fifo<{ name: keyof E & string; value: unknown }>();
  private readonly iterators = new Map<keyof E & string, Set<EventIterator<unknown>>>();

  constructor(
    private readonly emitter: EventEmitter,
    private readonly names: readonly (keyof E & string)[],
    private readonly logger: Logger,
    private readonly label: string,
  ) {
    emitter.on('newListener', (name: string | symbol) => {
      if (typeof name === 'string' && (this.names as readonly string[]).includes(name)) this.startFlowing();
    });
  }

  dispatch<K extends keyof E & string>(name: K, value: E[K][0]): void {
    if (!this.flowing || this.held.length > 0) {
      this.held.push({ name, value });
      if (!this.warned && this.held.length > relayHoldWarnItems) {
        this.warned = true;
        this.logger.warn('events are held for a first listener or iterator that does not come', {
          of: this.label,
          items: this.held.length,
        });
      }
      return;
    }
    this.deliver(name, value);
  }

  iterate<K extends keyof E & string>(
    name: K,
    signal: AbortSignal | undefined,
    label: string,
    bound?: IteratorBound,
  ): EventIterator<E[K][0]> {
    let set = this.iterators.get(name);
    if (set === undefined) {
      set = new Set();
      this.iterators.set(name, set);
    }
    const iterators = set;
    const it: EventIterator<E[K][0]> = new EventIterator<E[K][0]>({
      signal,
      bound,
      label,
      logger: this.logger,
      onStop: () => iterators.delete(it as EventIterator<unknown>),
    });
    // An iterator made on an already aborted signal stopped in its constructor: keep it out.
    if (signal?.aborted !== true) iterators.add(it as EventIterator<unknown>);
    this.startFlowing();
    return it;
  }

  /** Deliver what is held now, whatever the consumers (used before ending the stream). */
  flush(): void {
    this.flowing = true;
    for (let item = this.held.shift(); item !== undefined; item = this.held.shift()) {
      this.deliver(item.name, item.value as E[keyof E & string][0]);
    }
  }

  /** Let every iterator finish its buffer and then report done. */
  endAll(): void {
    for (const set of this.iterators.values()) for (const it of [...set]) it.end();
  }

  /** Let every iterator finish its buffer and then throw `error`. */
  failAll(error: unknown): void {
    for (const set of this.iterators.values()) for (const it of [...set]) it.fail(error);
  }

  private startFlowing(): void {
    if (this.flowing) return;
    this.flowing = true;
    queueMicrotask(() => this.flush());
  }

  private deliver<K extends keyof E & string>(name: K, value: E[K][0]): void {
    const set = this.iterators.get(name);
    if (set !== undefined) for (const it of set) it.push(value);
    try {
      this.emitter.emit(name, value);
    } catch (err) {
      rethrowAsync(err);
    }
  }
}
