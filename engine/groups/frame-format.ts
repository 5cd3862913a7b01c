/**
 * The group layer's frame payload: what the ordering layer carries as opaque bytes in one mcast
 * frame. One frame holds one sender's entries, all of one delivery guarantee (the frame's).
 *
 * All integers are big-endian. A 64-bit value travels as two uint32 halves (high, low) and must be
 * a safe integer (≤ 2^53 - 1): incarnations are start times in ms, counters count messages of one
 * incarnation, and neither comes near 2^53.
 *
 * Frame header (10 bytes):
 *
 *    0       1       2       3       4       5       6       7       8       9
 *   +-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+
 *   |     incarnation, high 32      |     incarnation, low 32       | entry count   |
 *   +-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+
 *   then `entry count` (≥ 1) entries back to back, and nothing after the last one.
 *
 * Message entries: a whole message, or one fragment of a message too large for the space left.
 *
 *   +------+-------+------------+--------------+--------------+- - - - - - - - - - - - - +
 *   | kind | name  | group name | counter high | counter low  | lengths (by kind), bytes |
 *   |  u8  | len u8| UTF-8      |     u32      |     u32      |                          |
 *   +------+-------+------------+--------------+--------------+- - - - - - - - - - - - - +
 *
 *   kind 1 whole   : length u32,                         then `length` bytes
 *   kind 2 first   : total length u32, fragment length u32, then `fragment length` bytes
 *   kind 3 middle  : fragment length u32,                then `fragment length` bytes
 *   kind 4 last    : fragment length u32,                then `fragment length` bytes
 *
 *   A fragmented message is first, middle*, last, in consecutive frames of its sender, with
 *   nothing of that sender in between; first.fragment < total; the fragments sum to total.
 *
 * Group control entries (always in agreed frames; no counter, not traced):
 *
 *   kind 5 join     : | kind u8 | name len u8 | name |
 *   kind 6 leave    : | kind u8 | name len u8 | name |
 *   kind 7 announce : | kind u8 | group count u16 | (name len u8 | name) × group count |
 *
 * A member's announce of a regular configuration is announce entries listing its groups, then
 * one with no name: the end (groups/assembler.ts, the announce barrier).
 *
 * Kind 0 is invalid so that a zeroed buffer never reads as entries. Name lengths are 1..255.
 */
import { assert } from '../assert.js';
import { groupNameBytesMax } from '../constants.js';
import type { GroupNameDecoder } from './group-names.js';

export const EntryKind = {
  whole: 1,
  first: 2,
  middle: 3,
  last: 4,
  join: 5,
  leave: 6,
  announce: 7,
} as const;
export type EntryKindValue = (typeof EntryKind)[keyof typeof EntryKind];

export const frameHeaderBytes = 10;
/** kind + name length + counter: the part every message entry has before its lengths. */
const messagePrefixBytes = 1 + 1 + 8;
/** Entry bytes besides the name and the message bytes, per kind. */
export const wholeOverheadBytes = messagePrefixBytes + 4;
export const firstOverheadBytes = messagePrefixBytes + 4 + 4;
export const fragmentOverheadBytes = messagePrefixBytes + 4;
export const controlOverheadBytes = 1 + 1;
export const announceOverheadBytes = 1 + 2;

/**
 * Smallest frame payload the packer accepts: a continuation fragment with the longest name must
 * still carry bytes, and an announce entry must hold the longest name.
 */
export const payloadBytesMin = 512;

/** Entries in one frame fit the u16 count: the smallest entry is 3 bytes. */
export const frameEntriesMax = 0xffff;

assert(
  payloadBytesMin > frameHeaderBytes + firstOverheadBytes + groupNameBytesMax,
  'a fragment with the longest group name fits the smallest frame',
);
assert(
  payloadBytesMin >= frameHeaderBytes + announceOverheadBytes + 1 + groupNameBytesMax,
  'an announce of the longest group name fits the smallest frame',
);
assert(65507 / (controlOverheadBytes + 1) < frameEntriesMax, 'the entry count fits a uint16');

const two32 = 0x1_0000_0000;

/** Write a safe non-negative integer as two big-endian uint32 halves. */
export function writeU64(view: DataView, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, 'u64 field holds a safe integer');
  view.setUint32(offset, Math.floor(value / two32));
  view.setUint32(offset + 4, value >>> 0);
}

/** Why a frame payload was refused. */
export type FrameError =
  | 'truncated'
  | 'no-entries'
  | 'trailing-bytes'
  | 'bad-incarnation'
  | 'bad-kind'
  | 'bad-name'
  | 'bad-counter'
  | 'bad-length';

export const frameErrors: readonly FrameError[] = [
  'truncated',
  'no-entries',
  'trailing-bytes',
  'bad-incarnation',
  'bad-kind',
  'bad-name',
  'bad-counter',
  'bad-length',
];

/**
 * Decodes one frame payload into reusable arrays, validating every bound first: the caller acts on
 * a frame only when read() returned null, so a malformed frame is skipped whole. Never throws on
 * input bytes; one instance per receiving thread.
 */
export class FrameReader {
  incarnation = 0;
  count = 0;
  /** Per entry i < count. */
  readonly kinds: EntryKindValue[] = [];
  /** Group name of a message, join or leave entry; '' for announce. */
  readonly groups: string[] = [];
  readonly counters: number[] = [];
  /** Total message length (whole, first); 0 otherwise. */
  readonly totals: number[] = [];
  /** Offset of the entry's message bytes in the payload; for announce, index into announced. */
  readonly starts: number[] = [];
  /** Byte count of the entry's message bytes; for announce, the number of names. */
  readonly lengths: number[] = [];
  /** Names listed by announce entries, in order. */
  readonly announced: string[] = [];
  /** The name readNameAt() last decoded. */
  private name = '';

  constructor(
    private readonly names: GroupNameDecoder,
    private readonly messageBytesMax: number,
  ) {}

  /** Decode `payload`; null on success, else why it is malformed. */
  read(payload: Uint8Array): FrameError | null {
    this.count = 0;
    this.announced.length = 0;
    if (payload.length < frameHeaderBytes) return 'truncated';
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const incarnation = readU64(view, 0);
    if (incarnation === null || incarnation < 1) return 'bad-incarnation';
    const count = view.getUint16(8);
    if (count === 0) return 'no-entries';
    let offset = frameHeaderBytes;
    for (let i = 0; i < count; i++) {
      const next = this.readEntry(payload, view, offset, i);
      if (typeof next === 'string') return next;
      offset = next;
    }
    if (offset !== payload.length) return 'trailing-bytes';
    this.incarnation = incarnation;
    this.count = count;
    return null;
  }

  /** Decode entry i at `offset`; returns the offset after it, or the error. */
  private readEntry(p: Uint8Array, view: DataView, offset: number, i: number): number | FrameError {
    if (offset + 1 > p.length) return 'truncated';
    const kind = p[offset] as number;
    if (kind === EntryKind.announce) return this.readAnnounce(p, view, offset + 1, i);
    if (kind < EntryKind.whole || kind > EntryKind.leave) return 'bad-kind';
    const afterName = this.readName(p, offset + 1, i);
    if (typeof afterName === 'string') return afterName;
    this.kinds[i] = kind as EntryKindValue;
    this.counters[i] = 0;
    this.totals[i] = 0;
    this.starts[i] = afterName;
    this.lengths[i] = 0;
    if (kind === EntryKind.join || kind === EntryKind.leave) return afterName;
    return this.readMessage(p, view, afterName, i, kind);
  }

  private readMessage(
    p: Uint8Array,
    view: DataView,
    offset: number,
    i: number,
    kind: number,
  ): number | FrameError {
    const lengthsBytes = kind === EntryKind.first ? 8 : 4;
    if (offset + 8 + lengthsBytes > p.length) return 'truncated';
    const counter = readU64(view, offset);
    if (counter === null || counter < 1) return 'bad-counter';
    let at = offset + 8;
    let total = 0;
    if (kind === EntryKind.whole || kind === EntryKind.first) {
      total = view.getUint32(at);
      at += 4;
      if (total > this.messageBytesMax) return 'bad-length';
    }
    const length = kind === EntryKind.whole ? total : view.getUint32(at);
    if (kind !== EntryKind.whole) at += 4;
    if (kind !== EntryKind.whole && length === 0) return 'bad-length';
    if (kind === EntryKind.first && length >= total) return 'bad-length';
    if (length > p.length - at) return 'truncated';
    this.counters[i] = counter;
    this.totals[i] = total;
    this.starts[i] = at;
    this.lengths[i] = length;
    return at + length;
  }

  /** Reads `name len, name` at offset into groups[i]; returns the offset after the name. */
  private readName(p: Uint8Array, offset: number, i: number): number | FrameError {
    const after = this.readNameAt(p, offset);
    if (typeof after === 'number') this.groups[i] = this.name;
    return after;
  }

  /** Reads `name len, name` at offset into this.name; returns the offset after it, or the error. */
  private readNameAt(p: Uint8Array, offset: number): number | FrameError {
    if (offset + 1 > p.length) return 'truncated';
    const length = p[offset] as number;
    if (length === 0) return 'bad-name';
    if (offset + 1 + length > p.length) return 'truncated';
    const name = this.names.decode(p, offset + 1, length);
    if (name === null) return 'bad-name';
    this.name = name;
    return offset + 1 + length;
  }

  private readAnnounce(
    p: Uint8Array,
    view: DataView,
    offset: number,
    i: number,
  ): number | FrameError {
    if (offset + 2 > p.length) return 'truncated';
    const names = view.getUint16(offset);
    this.kinds[i] = EntryKind.announce;
    this.groups[i] = '';
    this.counters[i] = 0;
    this.totals[i] = 0;
    this.starts[i] = this.announced.length;
    this.lengths[i] = names;
    let at = offset + 2;
    for (let n = 0; n < names; n++) {
      const after = this.readNameAt(p, at);
      if (typeof after !== 'number') return after;
      this.announced.push(this.name);
      at = after;
    }
    return at;
  }
}

/** A u64 as two uint32 halves; null when it exceeds 2^53 - 1. */
function readU64(view: DataView, offset: number): number | null {
  const high = view.getUint32(offset);
  if (high >= 0x20_0000) return null;
  return high * two32 + view.getUint32(offset + 4);
}
