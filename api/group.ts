/**
 * A process group this node has joined: send to it, receive its messages and membership changes.
 * A Group is made by `node.join()` and is alive until its own leave is delivered (or the node
 * closes); a later join of the same name makes a new Group.
 *
 * The Group owns what is per group (payload encoding, size check, its event relay, its state);
 * the node owns what is per node (the submit FIFO shared by every group, so that sends keep their
 * order across groups, and the runtime).
 */
import { EventEmitter } from 'node:events';
import { Packr } from 'msgpackr';
import type { GroupEvent, NodeId, RingId } from '../engine/types.js';
import { ringIdToString } from '../engine/types.js';
import { TotemError } from '../workers/errors.js';
import { checkCallOptions, checkChoice, checkSignal, invalidArgument } from './call-errors.js';
import { Relay } from './events.js';
import type { IteratorBound } from './events.js';
import type {
  Encoding,
  GroupEvents,
  GroupMembershipEvent,
  GroupMessage,
  Order,
} from './events.js';
import type { Logger } from '../workers/logger.js';

export interface SendOptions {
  /** 'agreed' (default) or 'safe'. */
  order?: Order;
  /** Aborts a send still waiting for room; a send already accepted is not taken back. */
  signal?: AbortSignal;
}

export interface TrySendOptions {
  order?: Order;
}

export interface LeaveOptions {
  /** Stops waiting; the leave itself goes ahead once it has been handed to the runtime. */
  signal?: AbortSignal;
}

export interface IterateOptions {
  /** Aborting it makes the iterator throw TOTEM_ERR_ABORTED and releases its buffer. */
  signal?: AbortSignal;
}

/** What a Group asks of its node. Internal. */
export interface GroupHost {
  readonly nodeId: NodeId;
  readonly messageBytesMax: number;
  readonly logger: Logger;
  /** Throws TOTEM_ERR_CLOSED (or the fatal error) when the node no longer takes calls. */
  checkOpen(what: string): void;
  send(group: string, payload: Uint8Array, order: Order, signal: AbortSignal | undefined): Promise<void>;
  trySend(group: string, payload: Uint8Array, order: Order): boolean;
  leave(group: Group<unknown>, signal: AbortSignal | undefined): Promise<void>;
  /** What a messages() iterator may hold unread (deliveryBufferBytesMax); none: no bound. */
  readonly iteratorBound?: IteratorBound;
}

export type GroupState = 'joined' | 'leaving' | 'left';

// Standard MessagePack only: the records extension would make payloads readable by msgpackr alone.
const packr = new Packr({ useRecords: false });

// Internal entry points of the node, under symbols so that they stay off the public surface.
export const kDispatchMessage = Symbol('totem-evs.group.dispatchMessage');
export const kDispatchMembership = Symbol('totem-evs.group.dispatchMembership');
export const kSetState = Symbol('totem-evs.group.setState');
export const kEnd = Symbol('totem-evs.group.end');
export const kFail = Symbol('totem-evs.group.fail');

export class Group<T = Uint8Array> extends EventEmitter<GroupEvents<T>> {
  readonly name: string;
  readonly encoding: Encoding;
  private groupState: GroupState = 'joined';
  private memberList: readonly NodeId[];
  private readonly relay: Relay<GroupEvents<T>>;

  /** @internal Made by the node when its own join is delivered. */
  constructor(
    private readonly host: GroupHost,
    name: string,
    encoding: Encoding,
    members: readonly NodeId[],
  ) {
    super();
    this.name = name;
    this.encoding = encoding;
    this.memberList = members;
    this.relay = new Relay<GroupEvents<T>>(
      this as EventEmitter,
      ['message', 'membership'],
      host.logger,
      `group '${name}'`,
    );
  }

  /** Members of the group (node ids, ascending) as of the last delivered change. */
  get members(): readonly NodeId[] {
    return this.memberList;
  }

  /** 'joined'; 'leaving' once leave() is called (sends are refused); 'left' once the leave is delivered. */
  get state(): GroupState {
    return this.groupState;
  }

  /**
   * Multicast `value` to the group. Resolves once the runtime has accepted the message: from then
   * on it will be delivered to every member in total order (to this node too), unless this node
   * fails or closes first. When the runtime is full the send waits its turn; sends from this node
   * are accepted in the order they were called, whatever their group.
   */
  send(value: T, options: SendOptions = {}): Promise<void> {
    try {
      this.checkSendable('send');
      checkCallOptions(options, ['order', 'signal'], 'send');
      const signal = checkSignal(options.signal, 'send');
      const order = checkOrder(options.order);
      const payload = this.encode(value);
      return this.host.send(this.name, payload, order, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Multicast `value` if the runtime takes it now: true when accepted, false when it is full or
   * earlier sends are still waiting (taking this one first would reorder them). Throws where
   * send() would reject.
   */
  trySend(value: T, options: TrySendOptions = {}): boolean {
    this.checkSendable('trySend');
    checkCallOptions(options, ['order'], 'trySend');
    const order = checkOrder(options.order);
    const payload = this.encode(value);
    return this.host.trySend(this.name, payload, order);
  }

  /**
   * Leave the group. Resolves once this node's leave is delivered: every message delivered here
   * before it has been dispatched, the iterators of this group end, and `members` no longer lists
   * this node. Sends made after this call reject with TOTEM_ERR_NOT_JOINED; sends made before it
   * are sent first. Calling it again returns the same outcome.
   */
  leave(options: LeaveOptions = {}): Promise<void> {
    try {
      checkCallOptions(options, ['signal'], 'leave');
      const signal = checkSignal(options.signal, 'leave');
      if (this.groupState === 'left') return Promise.resolve();
      return this.host.leave(this as Group<unknown>, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The group's messages, from now on, in delivery order. Ends after this node's leave is
   * delivered or when the node closes; throws the node's fatal error after the messages delivered
   * before it. Unread messages are buffered up to deliveryBufferBytesMax bytes of payload; past
   * that the node leaves the ring with TOTEM_ERR_SLOW_CONSUMER (see docs/api.md).
   */
  messages(options: IterateOptions = {}): AsyncIterableIterator<GroupMessage<T>> {
    checkCallOptions(options, ['signal'], 'messages');
    const signal = checkSignal(options.signal, 'messages');
    return this.iterate('message', signal, `messages of group '${this.name}'`);
  }

  /** The group's membership changes, from now on; ends and fails as messages() does. */
  memberships(options: IterateOptions = {}): AsyncIterableIterator<GroupMembershipEvent> {
    checkCallOptions(options, ['signal'], 'memberships');
    const signal = checkSignal(options.signal, 'memberships');
    return this.iterate('membership', signal, `memberships of group '${this.name}'`);
  }

  /** @internal */
  [kDispatchMessage](message: GroupMessage<T>): void {
    this.relay.dispatch('message', message);
  }

  /** @internal */
  [kDispatchMembership](event: GroupMembershipEvent): void {
    this.memberList = event.members;
    this.relay.dispatch('membership', event);
  }

  /** @internal */
  [kSetState](state: GroupState): void {
    this.groupState = state;
  }

  /** @internal The group's stream is over: held items go out, then iterators end. */
  [kEnd](): void {
    this.groupState = 'left';
    this.relay.flush();
    this.relay.endAll();
  }

  /** @internal The node failed: held items go out, then iterators throw `error`. */
  [kFail](error: unknown): void {
    this.groupState = 'left';
    this.relay.flush();
    this.relay.failAll(error);
  }

  /** @internal Decode a delivery into the message the application sees. */
  toMessage(d: {
    sender: NodeId;
    incarnation: number;
    counter: number;
    order: Order;
    payload: Uint8Array;
    ringId: RingId;
    transitional: boolean;
  }): GroupMessage<T> {
    return new DeliveredMessage<T>(
      this.name,
      d.sender,
      d.incarnation,
      d.counter,
      d.order,
      d.ringId,
      d.transitional,
      d.payload,
      this.encoding,
    );
  }

  private iterate<K extends 'message' | 'membership'>(
    name: K,
    signal: AbortSignal | undefined,
    label: string,
  ): AsyncIterableIterator<GroupEvents<T>[K][0]> {
    const it = this.relay.iterate(name, signal, label, name === 'message' ? this.host.iteratorBound : undefined);
    // A group that is over gives an iterator that ends at once, as the node's do after close.
    if (this.groupState === 'left') it.end();
    return it;
  }

  private checkSendable(what: string): void {
    this.host.checkOpen(what);
    if (this.groupState !== 'joined') {
      throw new TotemError('TOTEM_ERR_NOT_JOINED', `${what}: this node has left group '${this.name}'`, {
        details: { group: this.name },
      });
    }
  }

  private encode(value: T): Uint8Array {
    let payload: Uint8Array;
    if (this.encoding === 'binary') {
      if (!(value instanceof Uint8Array)) {
        throw invalidArgument(
          `the payload of a binary group must be a Uint8Array (join with { encoding: 'msgpack' } to send values)`,
        );
      }
      payload = value;
    } else {
      try {
        payload = packr.pack(value);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        const error = invalidArgument(`the value cannot be encoded as MessagePack: ${why}`, 'ERR_INVALID_ARG_VALUE');
        throw Object.assign(error, { cause: err });
      }
    }
    const bytesMax = this.host.messageBytesMax;
    if (payload.byteLength > bytesMax) {
      const encoded = this.encoding === 'msgpack' ? ' encoded' : '';
      throw new TotemError(
        'TOTEM_ERR_PAYLOAD_TOO_LARGE',
        `the${encoded} payload is ${payload.byteLength} bytes, more than messageBytesMax ${bytesMax}`,
        { details: { bytes: payload.byteLength, bytesMax, group: this.name } },
      );
    }
    return payload;
  }
}

/** The last ring id turned into a string: every message of a ring shares its RingId object. */
let lastRing: RingId | null = null;
let lastRingString = '';

function ringIdString(ring: RingId): string {
  if (ring !== lastRing) {
    lastRingString = ringIdToString(ring);
    lastRing = ring;
  }
  return lastRingString;
}

/** A message whose msgpack value is decoded on first read, once, whichever consumer reads it. */
class DeliveredMessage<T> implements GroupMessage<T> {
  private decoded = false;
  private decodedValue: unknown = undefined;

  constructor(
    readonly group: string,
    readonly sender: NodeId,
    readonly incarnation: number,
    readonly counter: number,
    readonly order: Order,
    readonly ring: RingId,
    readonly transitional: boolean,
    readonly payload: Uint8Array,
    private readonly encoding: Encoding,
  ) {}

  // id and ringId are made on first read: most consumers never read them, and as strings made at
  // delivery they were a good part of what the main thread allocated per message.
  get id(): string {
    return `${this.sender}:${this.incarnation}:${this.counter}`;
  }

  get ringId(): string {
    return ringIdString(this.ring);
  }

  get value(): T {
    if (this.encoding === 'binary') return this.payload as T;
    if (!this.decoded) {
      this.decodedValue = packr.unpack(this.payload);
      this.decoded = true;
    }
    return this.decodedValue as T;
  }

  // JSON.stringify gives the identifying fields, not a key per payload byte nor the private state.
  toJSON(): Record<string, unknown> {
    const { group, sender, incarnation, counter, id, order, ringId, transitional } = this;
    const payloadBytes = this.payload.byteLength;
    return { group, sender, incarnation, counter, id, order, ringId, transitional, payloadBytes };
  }
}

/** The public form of a group event of the runtime. */
export function toMembershipEvent(e: GroupEvent): GroupMembershipEvent {
  return {
    group: e.group,
    kind: e.kind,
    ringId: ringIdToString(e.ringId),
    ring: e.ringId,
    members: e.members,
    joined: e.joined,
    left: e.left,
    cause: e.cause,
  };
}

const orders = ['agreed', 'safe'] as const satisfies readonly Order[];

function checkOrder(order: unknown): Order {
  return checkChoice(order, 'order', orders, 'agreed');
}
