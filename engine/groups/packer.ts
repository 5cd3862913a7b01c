/**
 * Sender side of the group layer: queues application messages and group control entries, and packs
 * them into frame payloads (engine/groups/frame-format.ts) when the ordering layer holds the token.
 * Runs in the token worker (threaded runtime) or beside the SRP (simulator); shares nothing with
 * the Assembler.
 *
 * PACKING AND FRAGMENTATION (nextFrame)
 *
 *   if the queue is empty: return null
 *   g := guarantee of the head entry (control entries travel as agreed)
 *   frame := header; then, while the queue is not empty:
 *     e := head entry
 *     if guarantee(e) ≠ g: stop                      -- a frame has one guarantee
 *     space := payloadBytesMax − bytes written
 *     join / leave / announce:
 *       if it does not fit in space: stop; else write it, pop
 *     message, nothing of it emitted yet:
 *       if the whole entry fits in space: write "whole", pop, continue
 *       room := space − first-fragment overhead
 *       if the frame already holds entries and room < fragmentBytesMin: stop
 *                                                    -- next frame; see below
 *       write "first" with room bytes; remember how much is emitted; stop (frame full)
 *     message, partly emitted (always at the start of a frame: the previous one filled up):
 *       if the rest fits in space as "last": write it, pop, continue
 *       else write "middle" filling the frame; stop (frame full)
 *   write the entry count; return the frame
 *
 * A fragmented message occupies consecutive frames of this sender and is emitted whole before any
 * later entry, so a receiver keeps at most one partial message per sender. A message is split into
 * a partly filled frame only when that frame still has fragmentBytesMin bytes of room: small
 * messages that do not fit go whole into the next frame (no reassembly copy for them), while large
 * ones fill frames, since the network's cost is per datagram. Each frame always carries at least
 * one entry: any entry fits in an empty frame (whole, first fragment, or a pre-split announce).
 *
 * onRegularConfiguration: a message partly emitted on the old ring restarts from its first
 * fragment on the new ring with the same counter. Receivers drop every partial message at a regular
 * configuration, so each message is delivered whole, once, in one configuration.
 *
 * Payloads are queued by reference, not copied: copying would cost an allocation per 64-byte
 * message on the hot path, and the callers (the node facade, the token worker reading a ring)
 * already hold a buffer of their own per message. The caller hands the payload over and must not
 * modify it after submit(): the bytes are read when the frame is packed, possibly several token
 * visits later, and again if a fragmented message restarts.
 */
import { assert } from '../assert.js';
import { messageBytesMaxLimit, packetBytesMax } from '../constants.js';
import type { FrameSource, Order, NodeId, RingId } from '../types.js';
import {
  EntryKind,
  controlOverheadBytes,
  firstOverheadBytes,
  fragmentOverheadBytes,
  frameHeaderBytes,
  payloadBytesMin,
  wholeOverheadBytes,
  writeU64,
} from './frame-format.js';
import { GroupNameEncoder } from './group-names.js';

export interface PackerOptions {
  nodeId: NodeId;
  /** This incarnation (start time in ms); part of every message id. */
  incarnation: number;
  /** Largest frame payload the ordering layer carries. */
  payloadBytesMax: number;
  /** Largest application message. */
  messageBytesMax: number;
  /** Queued bytes (messages and control entries, with entry headers) before submit() refuses. */
  sendQueueBytesMax: number;
}

/** Smallest first fragment started in a frame that already holds entries. */
export const fragmentBytesMin = 256;

/** Queue entry kinds (not wire kinds). */
const QueuedKind = { message: 0, join: 1, leave: 2, announce: 3 } as const;
const orderAgreed = 0;
const orderSafe = 1;
const queueCapacityInitial = 64;
const slabBytesMin = 64 * 1024;

export class Packer implements FrameSource {
  private readonly incarnation: number;
  private readonly payloadBytesMax: number;
  private readonly messageBytesMax: number;
  private readonly sendQueueBytesMax: number;
  private readonly names = new GroupNameEncoder();

  // The queue: a growable circular buffer of parallel arrays, so that submit() allocates nothing.
  private capacity = queueCapacityInitial;
  private head = 0;
  private size = 0;
  private kinds = new Uint8Array(queueCapacityInitial);
  private orders = new Uint8Array(queueCapacityInitial);
  private counters = new Float64Array(queueCapacityInitial);
  /** Group name bytes (message, join, leave). */
  private groupBytes: (Uint8Array | undefined)[] = new Array(queueCapacityInitial);
  /** Payload (message) or the encoded body of an announce entry (count and names). */
  private data: (Uint8Array | undefined)[] = new Array(queueCapacityInitial);

  /** Bytes of the head message already emitted (0: none; it starts with a first fragment). */
  private headEmittedBytes = 0;
  /** Sum of the encoded sizes of the queued entries (whole-entry sizes, fragments aside). */
  private queuedBytes = 0;
  private counterLast = 0;
  /** Groups this node has asked to be in, after every queued join and leave. */
  private readonly intended = new Set<string>();

  // Frames are encoded straight into a slab and handed out as views of it: one ArrayBuffer per
  // many frames, since allocating a backing store per frame costs more than packing its messages.
  // A slab lives as long as the ordering layer keeps any frame of it.
  private readonly slabBytes: number;
  private slab: Uint8Array;
  private slabView: DataView;
  /** Bytes of the slab already handed out. */
  private slabUsed = 0;
  /** End of the frame being packed (slab offset). */
  private frameEnd = 0;

  constructor(opts: PackerOptions) {
    if (!Number.isSafeInteger(opts.incarnation) || opts.incarnation < 1) {
      throw new RangeError('incarnation must be a positive safe integer');
    }
    const p = opts.payloadBytesMax;
    if (!Number.isInteger(p) || p < payloadBytesMin || p > packetBytesMax) {
      const range = `${payloadBytesMin}..${packetBytesMax}`;
      throw new RangeError(`payloadBytesMax must be an integer in ${range}`);
    }
    const m = opts.messageBytesMax;
    if (!Number.isInteger(m) || m < 0 || m > messageBytesMaxLimit) {
      throw new RangeError(`messageBytesMax must be an integer in 0..${messageBytesMaxLimit}`);
    }
    if (!Number.isInteger(opts.sendQueueBytesMax) || opts.sendQueueBytesMax < m) {
      throw new RangeError('sendQueueBytesMax must be at least messageBytesMax');
    }
    this.incarnation = opts.incarnation;
    this.payloadBytesMax = p;
    this.messageBytesMax = m;
    this.sendQueueBytesMax = opts.sendQueueBytesMax;
    this.slabBytes = Math.max(slabBytesMin, p * 8);
    this.slab = new Uint8Array(this.slabBytes);
    this.slabView = new DataView(this.slab.buffer);
  }

  /**
   * Queue an application message. Returns its counter (1, 2, 3, … per incarnation), or false when
   * the queue is full (backpressure: retry after frames were taken). The payload is kept by
   * reference until sent: do not modify it afterwards. Throws RangeError for a payload above
   * messageBytesMax or a bad group name.
   */
  submit(group: string, payload: Uint8Array, order: Order): number | false {
    if (payload.length > this.messageBytesMax) {
      const max = this.messageBytesMax;
      throw new RangeError(`message of ${payload.length} bytes exceeds messageBytesMax ${max}`);
    }
    const name = this.names.encode(group);
    const bytes = wholeOverheadBytes + name.length + payload.length;
    // An empty queue takes any message, so that one of messageBytesMax is never refused forever.
    if (this.size > 0 && this.queuedBytes + bytes > this.sendQueueBytesMax) return false;
    const counter = this.counterLast + 1;
    assert(Number.isSafeInteger(counter), 'the counter stays a safe integer');
    this.counterLast = counter;
    const g = order === 'safe' ? orderSafe : orderAgreed;
    this.push(QueuedKind.message, g, counter, name, payload, bytes);
    return counter;
  }

  /** Queue a join of this node to `group` (ordered with the messages; no counter, not traced). */
  submitJoin(group: string): void {
    const name = this.names.encode(group);
    this.intended.add(group);
    const bytes = controlOverheadBytes + name.length;
    this.push(QueuedKind.join, orderAgreed, 0, name, undefined, bytes);
  }

  /** Queue a leave of this node from `group`. */
  submitLeave(group: string): void {
    const name = this.names.encode(group);
    this.intended.delete(group);
    const bytes = controlOverheadBytes + name.length;
    this.push(QueuedKind.leave, orderAgreed, 0, name, undefined, bytes);
  }

  /**
   * Queue announce entries listing `groups` as this node's groups, so that nodes that merged in
   * learn them, and the empty entry that ends the announce (the barrier the others wait for, even
   * from a node in no group). Pass ownGroups(): an announce is applied after every join and leave
   * queued before it, so the list must be the membership as it stands after them (a group whose
   * leave is still queued must not be listed, or the announce would re-add this node after the
   * leave).
   */
  announceGroups(groups: readonly string[]): void {
    const encoded = groups.map((g) => this.names.encode(g));
    // Split so that each announce entry fits an empty frame.
    const bodyBytesMax = this.payloadBytesMax - frameHeaderBytes - 1;
    let first = 0;
    while (first < encoded.length) {
      let bodyBytes = 2;
      let end = first;
      while (end < encoded.length && end - first < 0xffff) {
        const nameBytes = 1 + (encoded[end] as Uint8Array).length;
        if (bodyBytes + nameBytes > bodyBytesMax) break;
        bodyBytes += nameBytes;
        end++;
      }
      assert(end > first, 'one name always fits an announce entry');
      const body = encodeAnnounceBody(encoded, first, end, bodyBytes);
      this.push(QueuedKind.announce, orderAgreed, 0, undefined, body, 1 + bodyBytes);
      first = end;
    }
    const endBody = encodeAnnounceBody(encoded, 0, 0, 2);
    this.push(QueuedKind.announce, orderAgreed, 0, undefined, endBody, 1 + endBody.length);
  }

  /** The groups this node asked to be in, after all joins and leaves submitted so far (sorted). */
  ownGroups(): string[] {
    return [...this.intended].sort();
  }

  /** Frames the queue needs: queued bytes over the frame's entry space, rounded up. */
  backlogFrames(): number {
    const bytes = this.queuedBytes - this.headEmittedBytes;
    assert(bytes >= 0, 'queued bytes cover the emitted part of the head message');
    return Math.ceil(bytes / (this.payloadBytesMax - frameHeaderBytes));
  }

  /** Entries waiting (a partly emitted message counts as one). */
  queuedEntries(): number {
    return this.size;
  }

  onRegularConfiguration(ringId: RingId): void {
    void ringId;
    // Frames already returned are on the old ring; receivers drop the partial message at this
    // configuration, so it starts over (same counter) on the new ring.
    this.headEmittedBytes = 0;
  }

  /**
   * The next frame (algorithm above), or null when nothing waits. The payload is a view into a
   * slab shared with other frames: read or copy it, never transfer or detach its buffer.
   */
  nextFrame(): { order: Order; payload: Uint8Array } | null {
    if (this.size === 0) return null;
    const g = this.orders[this.head] as number;
    if (this.slab.length - this.slabUsed < this.payloadBytesMax) {
      this.slab = new Uint8Array(this.slabBytes);
      this.slabView = new DataView(this.slab.buffer);
      this.slabUsed = 0;
    }
    const start = this.slabUsed;
    this.frameEnd = start + this.payloadBytesMax;
    let offset = start + frameHeaderBytes;
    let count = 0;
    while (this.size > 0 && this.orders[this.head] === g) {
      const kind = this.kinds[this.head] as number;
      const next =
        kind === QueuedKind.message
          ? this.packMessage(offset, count)
          : this.packControl(kind, offset);
      if (next === offset) break;
      assert(next > offset, 'an entry advances the frame');
      assert(next <= this.frameEnd, 'an entry stays inside the frame');
      offset = next;
      count++;
      if (this.headEmittedBytes > 0) break; // a fragment filled the frame
    }
    assert(count >= 1, 'every frame carries an entry');
    assert(count <= 0xffff, 'the entry count fits its field');
    writeU64(this.slabView, start, this.incarnation);
    this.slabView.setUint16(start + 8, count);
    this.slabUsed = offset;
    const payload = this.slab.subarray(start, offset);
    return { order: g === orderSafe ? 'safe' : 'agreed', payload };
  }

  /** Write the head join/leave/announce at offset if it fits; returns the new offset. */
  private packControl(kind: number, offset: number): number {
    const space = this.frameEnd - offset;
    const buf = this.slab;
    if (kind === QueuedKind.announce) {
      const body = this.data[this.head] as Uint8Array;
      if (1 + body.length > space) return offset;
      buf[offset] = EntryKind.announce;
      buf.set(body, offset + 1);
      this.pop();
      return offset + 1 + body.length;
    }
    const name = this.groupBytes[this.head] as Uint8Array;
    if (controlOverheadBytes + name.length > space) return offset;
    buf[offset] = kind === QueuedKind.join ? EntryKind.join : EntryKind.leave;
    const at = writeName(buf, offset + 1, name);
    this.pop();
    return at;
  }

  /** Write the head message, whole or one fragment of it, at offset; returns the new offset. */
  private packMessage(offset: number, count: number): number {
    const space = this.frameEnd - offset;
    const name = this.groupBytes[this.head] as Uint8Array;
    const payload = this.data[this.head] as Uint8Array;
    const emitted = this.headEmittedBytes;
    if (emitted === 0) {
      if (wholeOverheadBytes + name.length + payload.length <= space) {
        const at = this.writeMessageHeader(EntryKind.whole, offset, name);
        this.slabView.setUint32(at, payload.length);
        this.slab.set(payload, at + 4);
        this.pop();
        return at + 4 + payload.length;
      }
      const room = space - firstOverheadBytes - name.length;
      if (count > 0 && room < fragmentBytesMin) return offset;
      assert(room >= 1, 'a first fragment fits an empty frame');
      assert(room < payload.length, 'a message that fits is sent whole');
      const at = this.writeMessageHeader(EntryKind.first, offset, name);
      this.slabView.setUint32(at, payload.length);
      this.slabView.setUint32(at + 4, room);
      this.slab.set(payload.subarray(0, room), at + 8);
      this.headEmittedBytes = room;
      return at + 8 + room;
    }
    // A continuation always opens a frame: the frame before it was filled by the previous fragment.
    assert(count === 0, 'a continuation fragment starts its frame');
    const rest = payload.length - emitted;
    const room = space - fragmentOverheadBytes - name.length;
    assert(room >= 1, 'a continuation fragment carries bytes');
    const kind = rest <= room ? EntryKind.last : EntryKind.middle;
    const length = Math.min(rest, room);
    const at = this.writeMessageHeader(kind, offset, name);
    this.slabView.setUint32(at, length);
    this.slab.set(payload.subarray(emitted, emitted + length), at + 4);
    if (kind === EntryKind.last) {
      this.headEmittedBytes = 0;
      this.pop();
    } else {
      this.headEmittedBytes = emitted + length;
    }
    return at + 4 + length;
  }

  /** kind, name, counter of the head message; returns the offset of its length fields. */
  private writeMessageHeader(kind: number, offset: number, name: Uint8Array): number {
    this.slab[offset] = kind;
    const at = writeName(this.slab, offset + 1, name);
    writeU64(this.slabView, at, this.counters[this.head] as number);
    return at + 8;
  }

  private push(
    kind: number,
    order: number,
    counter: number,
    name: Uint8Array | undefined,
    data: Uint8Array | undefined,
    bytes: number,
  ): void {
    if (this.size === this.capacity) this.grow();
    const slot = (this.head + this.size) % this.capacity;
    this.kinds[slot] = kind;
    this.orders[slot] = order;
    this.counters[slot] = counter;
    this.groupBytes[slot] = name;
    this.data[slot] = data;
    this.size++;
    this.queuedBytes += bytes;
  }

  private pop(): void {
    assert(this.size > 0, 'pop from a non-empty queue');
    const slot = this.head;
    this.queuedBytes -= this.entryBytes(slot);
    assert(this.queuedBytes >= 0, 'queued bytes never go negative');
    this.groupBytes[slot] = undefined; // release the payload for the collector
    this.data[slot] = undefined;
    this.head = (slot + 1) % this.capacity;
    this.size--;
  }

  /** Encoded size of the entry in `slot`, as charged by push(). */
  private entryBytes(slot: number): number {
    const kind = this.kinds[slot] as number;
    const data = this.data[slot];
    const nameBytes = this.groupBytes[slot]?.length ?? 0;
    if (kind === QueuedKind.message) {
      return wholeOverheadBytes + nameBytes + (data as Uint8Array).length;
    }
    if (kind === QueuedKind.announce) return 1 + (data as Uint8Array).length;
    return controlOverheadBytes + nameBytes;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const kinds = new Uint8Array(capacity);
    const orders = new Uint8Array(capacity);
    const counters = new Float64Array(capacity);
    const groupBytes: (Uint8Array | undefined)[] = new Array(capacity);
    const data: (Uint8Array | undefined)[] = new Array(capacity);
    for (let i = 0; i < this.size; i++) {
      const from = (this.head + i) % this.capacity;
      kinds[i] = this.kinds[from] as number;
      orders[i] = this.orders[from] as number;
      counters[i] = this.counters[from] as number;
      groupBytes[i] = this.groupBytes[from];
      data[i] = this.data[from];
    }
    this.kinds = kinds;
    this.orders = orders;
    this.counters = counters;
    this.groupBytes = groupBytes;
    this.data = data;
    this.head = 0;
    this.capacity = capacity;
  }
}

function writeName(buf: Uint8Array, offset: number, name: Uint8Array): number {
  buf[offset] = name.length;
  // Names are short: a loop beats TypedArray.prototype.set's call overhead.
  for (let i = 0; i < name.length; i++) buf[offset + 1 + i] = name[i] as number;
  return offset + 1 + name.length;
}

function encodeAnnounceBody(
  names: Uint8Array[],
  first: number,
  end: number,
  bytes: number,
): Uint8Array {
  const body = new Uint8Array(bytes);
  body[0] = (end - first) >>> 8;
  body[1] = (end - first) & 0xff;
  let at = 2;
  for (let i = first; i < end; i++) at = writeName(body, at, names[i] as Uint8Array);
  assert(at === bytes, 'announce body filled exactly');
  return body;
}
