/**
 * The parsed trace in compact form: every message id, ring, group and node id becomes a small
 * integer, and every event (conf, send or deliver line) a row of typed-array columns, about 13
 * bytes a line. trace-reader.ts appends to it line by line; the model (trace-model.ts) and the
 * property groups read it.
 *
 * A deliver line stores only its message, line number and flags: its sender, group and ring are
 * nearly always the id's sender, the message's group and the ring of the process's current
 * configuration, so only a line that differs keeps its own value, in a side table (`other*`). The
 * checks read the values through the accessors below and never see the difference.
 *
 * Duplicate deliveries (P4) are recognised here, while a process's lines arrive: every delivery
 * that is a process's first of its message is linked into that message's list of deliveries
 * (`head` → `link` → …, newest first), so "did this process deliver m, and where" is a walk of a
 * list about as long as the number of processes that delivered m.
 */
import type { ConfigurationKind, Order } from '../../engine/types.js';
import { Int32Column, Interner, Uint32Column, Uint8Column } from './columns.js';

export const EV_CONF = 0;
export const EV_SEND = 1;
export const EV_DELIVER = 2;
const EV_MASK = 3;
const FLAG_SAFE = 4;
/** A deliver line of a message its process delivered before; `link` is that first delivery. */
const FLAG_DUPLICATE = 8;
const FLAG_OTHER_GROUP = 16;
const FLAG_OTHER_SENDER = 32;
const FLAG_OTHER_RING = 64;

/** A conf line as read. */
export interface ConfRecord {
  kind: ConfigurationKind;
  ring: string;
  ringIndex: number;
  members: string[];
}

/** Load factor above which the message hash table doubles. */
const MESSAGE_TABLE_LOAD_MAX = 0.7;
/** Counters up to this many digits are below 2^31 and stored as numbers; longer ones as text. */
const COUNTER_DIGITS_FAST_MAX = 9;

/**
 * Message ids ("<sender>:<incarnation>:<counter>") numbered 0, 1, … in order of first appearance.
 * An id is stored as its stream (sender and incarnation, interned) and its counter; the hash table
 * holds only message numbers and compares against those columns.
 */
export class MessageTable {
  /** Sender → incarnation → stream number. */
  private readonly streams = new Map<string, Map<string, number>>();
  readonly streamSender: string[] = [];
  readonly streamIncarnation: string[] = [];
  private readonly stream = new Int32Column();
  /** The counter, or -1 when it has more digits than fit (the id is then in `longIds`). */
  private readonly counter = new Int32Column();
  private readonly longIds = new Map<string, number>();
  private readonly longText = new Map<number, string>();
  private slots = new Int32Array(1 << 10);
  private lastSender = '';
  private lastIncarnation = '';
  private lastStream = -1;

  get size(): number {
    return this.stream.length;
  }

  /** The number of the id with these (validated) parts, created if new. */
  intern(sender: string, incarnation: string, counter: string): number {
    const stream = this.streamOf(sender, incarnation);
    if (counter.length > COUNTER_DIGITS_FAST_MAX) {
      const text = `${sender}:${incarnation}:${counter}`;
      let message = this.longIds.get(text);
      if (message === undefined) {
        message = this.add(stream, -1);
        this.longIds.set(text, message);
        this.longText.set(message, text);
      }
      return message;
    }
    const value = Number(counter);
    const mask = this.slots.length - 1;
    let slot = hash(stream, value) & mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry === 0) break;
      const message = entry - 1;
      if (this.counter.get(message) === value && this.stream.get(message) === stream) return message;
      slot = (slot + 1) & mask;
    }
    const message = this.add(stream, value);
    this.slots[slot] = message + 1;
    if (this.size > this.slots.length * MESSAGE_TABLE_LOAD_MAX) this.grow();
    return message;
  }

  /** The id as the trace writes it. */
  text(message: number): string {
    const counter = this.counter.get(message);
    if (counter === -1) return this.longText.get(message) ?? '';
    const stream = this.stream.get(message);
    return `${this.streamSender[stream]}:${this.streamIncarnation[stream]}:${counter}`;
  }

  /** The sender node id its id carries. */
  sender(message: number): string {
    return this.streamSender[this.stream.get(message)] ?? '';
  }

  /** The sender incarnation its id carries. */
  incarnation(message: number): string {
    return this.streamIncarnation[this.stream.get(message)] ?? '';
  }

  private streamOf(sender: string, incarnation: string): number {
    if (sender === this.lastSender && incarnation === this.lastIncarnation) return this.lastStream;
    let incarnations = this.streams.get(sender);
    if (incarnations === undefined) {
      incarnations = new Map();
      this.streams.set(sender, incarnations);
    }
    let stream = incarnations.get(incarnation);
    if (stream === undefined) {
      stream = this.streamSender.length;
      incarnations.set(incarnation, stream);
      this.streamSender.push(sender);
      this.streamIncarnation.push(incarnation);
    }
    this.lastSender = sender;
    this.lastIncarnation = incarnation;
    this.lastStream = stream;
    return stream;
  }

  private add(stream: number, counter: number): number {
    this.counter.push(counter);
    return this.stream.push(stream);
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let message = 0; message < this.size; message += 1) {
      const counter = this.counter.get(message);
      if (counter === -1) continue;
      let slot = hash(this.stream.get(message), counter) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = message + 1;
    }
    this.slots = slots;
  }
}

function hash(stream: number, counter: number): number {
  let h = Math.imul(counter ^ Math.imul(stream + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Every event of every process, in the order the lines were read. */
export class TraceStore {
  readonly nodes = new Interner();
  readonly rings = new Interner();
  readonly groups = new Interner();
  readonly messages = new MessageTable();
  readonly confs: ConfRecord[] = [];
  private readonly flags = new Uint8Column();
  private readonly lines = new Uint32Column();
  /** The message of a send or deliver line, the conf record of a conf line. */
  private readonly refs = new Int32Column();
  /** Deliver lines: the next older first delivery of the message; for a duplicate, the first. */
  private readonly links = new Int32Column();
  /** Per message: the group of the first line that names it. */
  private readonly messageGroup = new Int32Column();
  /** Per message: the newest first delivery of it by a process, or -1. */
  private readonly head = new Int32Column();
  private readonly otherGroup = new Map<number, number>();
  private readonly otherSender = new Map<number, number>();
  private readonly otherRing = new Map<number, number>();
  private processStart = 0;
  private currentRing = -1;

  get eventCount(): number {
    return this.flags.length;
  }

  /** The events appended from now on belong to a new process. */
  beginProcess(): void {
    this.processStart = this.eventCount;
    this.currentRing = -1;
  }

  addConf(line: number, kind: ConfigurationKind, ring: string, members: string[]): void {
    const ringIndex = this.rings.intern(ring);
    this.currentRing = ringIndex;
    this.append(EV_CONF, line, this.confs.length, -1);
    this.confs.push({ kind, ring, ringIndex, members });
  }

  addSend(line: number, message: number, order: Order, group: string): void {
    const flags = EV_SEND | this.groupFlags(message, group) | orderFlag(order);
    const event = this.append(flags, line, message, -1);
    if ((flags & FLAG_OTHER_GROUP) !== 0) this.otherGroup.set(event, this.groups.intern(group));
  }

  addDeliver(
    line: number,
    message: number,
    sender: string,
    order: Order,
    group: string,
    ring: string,
  ): void {
    let flags = EV_DELIVER | this.groupFlags(message, group) | orderFlag(order);
    const senderIndex = this.nodes.intern(sender);
    const ringIndex = this.rings.intern(ring);
    if (sender !== this.messages.sender(message)) flags |= FLAG_OTHER_SENDER;
    if (ringIndex !== this.currentRing) flags |= FLAG_OTHER_RING;
    const first = this.head.get(message);
    const duplicate = first >= this.processStart;
    if (duplicate) flags |= FLAG_DUPLICATE;
    const event = this.append(flags, line, message, first);
    if (!duplicate) this.head.set(message, event);
    if ((flags & FLAG_OTHER_GROUP) !== 0) this.otherGroup.set(event, this.groups.intern(group));
    if ((flags & FLAG_OTHER_SENDER) !== 0) this.otherSender.set(event, senderIndex);
    if ((flags & FLAG_OTHER_RING) !== 0) this.otherRing.set(event, ringIndex);
  }

  /** The number of a message id, created (with its per-message columns) if new. */
  message(sender: string, incarnation: string, counter: string): number {
    const message = this.messages.intern(sender, incarnation, counter);
    if (message === this.head.length) {
      this.head.push(-1);
      this.messageGroup.push(-1);
    }
    return message;
  }

  kind(event: number): number {
    return this.flags.get(event) & EV_MASK;
  }

  isDuplicate(event: number): boolean {
    return (this.flags.get(event) & FLAG_DUPLICATE) !== 0;
  }

  line(event: number): number {
    return this.lines.get(event);
  }

  /** The message of a send or deliver event. */
  messageOf(event: number): number {
    return this.refs.get(event);
  }

  confOf(event: number): ConfRecord {
    const conf = this.confs[this.refs.get(event)];
    if (conf === undefined) throw new Error(`event ${event} is not a conf line`);
    return conf;
  }

  order(event: number): Order {
    return (this.flags.get(event) & FLAG_SAFE) !== 0 ? 'safe' : 'agreed';
  }

  /** Group of a send or deliver event, as an interned index. */
  group(event: number): number {
    if ((this.flags.get(event) & FLAG_OTHER_GROUP) !== 0) return this.otherGroup.get(event) ?? -1;
    return this.messageGroup.get(this.refs.get(event));
  }

  /** Sender node id of a deliver event. */
  sender(event: number): string {
    if ((this.flags.get(event) & FLAG_OTHER_SENDER) !== 0)
      return this.nodes.text(this.otherSender.get(event) ?? -1);
    return this.messages.sender(this.refs.get(event));
  }

  /** A deliver event whose ring is not that of its process's current configuration (P11). */
  isOtherRing(event: number): boolean {
    return (this.flags.get(event) & FLAG_OTHER_RING) !== 0;
  }

  /** Ring of a deliver event, as an interned index. */
  ring(event: number): number {
    if ((this.flags.get(event) & FLAG_OTHER_RING) !== 0) return this.otherRing.get(event) ?? -1;
    return this.confs[this.refs.get(this.currentConfEvent(event))]?.ringIndex ?? -1;
  }

  /** For a duplicate deliver event: the process's first delivery of the message. */
  firstDelivery(event: number): number {
    return this.links.get(event);
  }

  /** The newest first delivery of `message` by any process, or -1 (then follow `olderDelivery`). */
  newestDelivery(message: number): number {
    return this.head.get(message);
  }

  olderDelivery(event: number): number {
    return this.links.get(event);
  }

  private append(flags: number, line: number, ref: number, link: number): number {
    this.lines.push(line);
    this.refs.push(ref);
    this.links.push(link);
    return this.flags.push(flags);
  }

  private groupFlags(message: number, group: string): number {
    const known = this.messageGroup.get(message);
    if (known === -1) {
      this.messageGroup.set(message, this.groups.intern(group));
      return 0;
    }
    return this.groups.text(known) === group ? 0 : FLAG_OTHER_GROUP;
  }

  /**
   * The conf event a deliver event was read under (it has no FLAG_OTHER_RING, so one exists):
   * the nearest conf event before it. Only witnesses and P11 ask, through `ring`.
   */
  private currentConfEvent(event: number): number {
    let at = event - 1;
    while (at >= 0 && this.kind(at) !== EV_CONF) at -= 1;
    return at;
  }
}

function orderFlag(order: Order): number {
  return order === 'safe' ? FLAG_SAFE : 0;
}
