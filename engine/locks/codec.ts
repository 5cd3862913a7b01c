/**
 * The lock manager's messages: each lock operation is one agreed multicast (barrier entries and
 * table syncs go safe), applied by every member to its own copy of the table in delivery order.
 * A manager hands the operations it makes in one event-loop turn to the ring as one batch: one
 * agreed multicast whose operations every member applies in their order, one after the other,
 * exactly as if each had been delivered alone (barrier entries and syncs are never batched).
 *
 * Layout: byte 0 the format version, byte 1 the type, then the type's fields (big-endian;
 * strings and byte fields as u32 length + bytes). A batch: version, type 10, a u16 count
 * (1..lockBatchMessagesMax), then each operation as its type byte and fields (no version).
 * decodeLockMessage and decodeLockMessages never throw: a malformed message (a batch with one
 * malformed operation included) is reported as such and the table drops and counts it.
 */
import type { NodeId } from '../types.js';
import { assert } from '../assert.js';
import { ByteReader, ByteWriter, LockDecodeError } from './bytes.js';
import { lockModes, type LockMode } from './modes.js';

/**
 * 2: lock requests carry the reentrancy limit; lockMany, adopt and purgeOrphans; snapshot lock
 * records carry group, depth and orphan state. 3: batches (type 10). 4: snapshot barrier records
 * carry the highest instance number of their name.
 */
export const lockMessageVersion = 4;
/** Bounds on received fields (a name longer than this is refused, not stored). */
export const lockspaceNameBytesMax = 256;
export const resourceNameBytesMax = 1024;
export const valueBlockBytesMax = 4096;
export const barrierNameBytesMax = 256;
export const barrierMembersMax = 1024;
export const snapshotBytesMax = 64 * 1024 * 1024;
/** Resources one atomic request may name. */
export const multiResourcesMax = 64;
/** Re-entries one lock may count (the per-lockspace limit is at most this). */
export const reentrancyLimitMax = 0xffff;

/** Operations one batch carries at most (bounds the work one received message asks for). */
export const lockBatchMessagesMax = 256;
/** Bytes a batch grows to before the next operation starts another (a single operation may be larger). */
export const lockBatchBytesMax = 64 * 1024;

export const LockMessageType = { lock: 1, convert: 2, unlock: 3, cancel: 4, barrier: 5, sync: 6, lockMany: 7, adopt: 8, purgeOrphans: 9, batch: 10 } as const;

export interface LockFlags {
  /** Try: deny with "would-block" instead of queueing. */
  noQueue?: boolean;
  /** With noQueue: send blocking notices to the holders in the way before denying. */
  notifyOnNoQueue?: boolean;
  /** Deny with "not-primary" when the configuration cannot grant, instead of waiting. */
  failIfNotPrimary?: boolean;
  /** Persistent: when the owner's node leaves, the granted lock stays as an orphan held by nobody. */
  persistent?: boolean;
  /** DLM HEADQUE: queue at the head of the wait (or convert) queue instead of the tail. */
  headQueue?: boolean;
  /** DLM NOORDER: grant as soon as compatible with the granted modes, regardless of the queues. */
  noOrder?: boolean;
}

const flagBits = { noQueue: 1, notifyOnNoQueue: 2, failIfNotPrimary: 4, persistent: 8, headQueue: 16, noOrder: 32 } as const;
const flagMask = 63;

export type LockMessage =
  | {
      type: 'lock';
      /** Lock id counter of the sending incarnation: owner = "<sender>:<incarnation>:<counter>". */
      counter: number;
      /** Holder for deadlock detection (0: the lock is its own holder). */
      holder: number;
      ls: string;
      res: string;
      mode: LockMode;
      flags: LockFlags;
      /** Value block size the requester expects for the lockspace. */
      lvbBytes: number;
      /** Holds one lock may count by re-entry in this lockspace (0: no reentrancy); fixed by its first request. */
      reentrancyMax?: number;
    }
  | {
      type: 'lockMany';
      /** Counter of the first resource's lock; resource i gets counter + i. */
      counter: number;
      holder: number;
      ls: string;
      /** Distinct resource names, each with its mode: granted all together or none. */
      items: { res: string; mode: LockMode }[];
      flags: LockFlags;
      lvbBytes: number;
      reentrancyMax?: number;
    }
  /** Take over an orphan of `mode` on `res` as a new lock of the sender (counter); `orphan` names one ('' = the first). */
  | { type: 'adopt'; counter: number; holder: number; ls: string; res: string; mode: LockMode; orphan: string }
  /** Remove the orphans of `res` ('' = every resource of the lockspace); `orphan` names one ('' = all). */
  | { type: 'purgeOrphans'; ls: string; res: string; orphan: string }
  | { type: 'convert'; counter: number; mode: LockMode; flags: LockFlags; lvb: Uint8Array | null }
  | { type: 'unlock'; counter: number; lvb: Uint8Array | null }
  | { type: 'cancel'; counter: number; reason: 'cancel' | 'timeout' }
  | { type: 'barrier'; ls: string; name: string; members: NodeId[] | null }
  | { type: 'sync'; ringRep: NodeId; ringSeq: bigint; lastPrimarySeq: bigint; snapshot: Uint8Array };

/** What a batch may carry: every operation but barrier entries (safe order, sent alone) and syncs (the table's own). */
export type BatchableLockMessage = Exclude<LockMessage, { type: 'barrier' | 'sync' }>;

export function isBatchable(m: LockMessage): m is BatchableLockMessage {
  return m.type !== 'barrier' && m.type !== 'sync';
}

export type LockDecodeResult = { ok: true; message: LockMessage } | { ok: false; reason: string };
/** A single message as a list of one; a batch as its operations in order. */
export type LockBatchDecodeResult = { ok: true; messages: LockMessage[] } | { ok: false; reason: string };

// Spelled out bit by bit: flags are encoded and decoded once per operation on every member.
function flagsByte(flags: LockFlags): number {
  return (
    (flags.noQueue === true ? flagBits.noQueue : 0) |
    (flags.notifyOnNoQueue === true ? flagBits.notifyOnNoQueue : 0) |
    (flags.failIfNotPrimary === true ? flagBits.failIfNotPrimary : 0) |
    (flags.persistent === true ? flagBits.persistent : 0) |
    (flags.headQueue === true ? flagBits.headQueue : 0) |
    (flags.noOrder === true ? flagBits.noOrder : 0)
  );
}

function flagsOfByte(b: number): Readonly<LockFlags> {
  return Object.freeze({
    noQueue: (b & flagBits.noQueue) !== 0,
    notifyOnNoQueue: (b & flagBits.notifyOnNoQueue) !== 0,
    failIfNotPrimary: (b & flagBits.failIfNotPrimary) !== 0,
    persistent: (b & flagBits.persistent) !== 0,
    headQueue: (b & flagBits.headQueue) !== 0,
    noOrder: (b & flagBits.noOrder) !== 0,
  });
}

/** Every valid flags byte decoded once, frozen and shared: a decode per operation allocated one. */
const decodedFlags: readonly Readonly<LockFlags>[] = Array.from({ length: flagMask + 1 }, (_, b) => flagsOfByte(b));

function readFlags(r: ByteReader): LockFlags {
  const b = r.u8();
  if ((b & ~flagMask) !== 0) throw new LockDecodeError(`unknown flag bits ${b}`);
  return decodedFlags[b] as LockFlags;
}

/** An owner id as the trace writes it: "<node>:<incarnation>:<counter>", or '' for none. */
const ownerPattern = /^$|^[1-9][0-9]{0,9}:[0-9]{1,16}:[0-9]{1,10}$/;

function readMode(r: ByteReader): LockMode {
  const i = r.u8();
  const mode = lockModes[i];
  if (mode === undefined) throw new LockDecodeError(`unknown mode ${i}`);
  return mode;
}

function writeOptionalBytes(w: ByteWriter, value: Uint8Array | null): void {
  w.u8(value === null ? 0 : 1);
  if (value !== null) w.bytes(value);
}

function readOptionalBytes(r: ByteReader, bytesMax: number): Uint8Array | null {
  const present = r.u8();
  if (present > 1) throw new LockDecodeError('bad presence byte');
  return present === 1 ? r.bytes(bytesMax) : null;
}

export function encodeLockMessage(m: LockMessage): Uint8Array {
  const w = new ByteWriter().u8(lockMessageVersion);
  writeBody(w, m);
  return w.finish();
}

/** The type byte and the fields of one message (what follows the version, alone or in a batch). */
function writeBody(w: ByteWriter, m: LockMessage): void {
  w.u8(LockMessageType[m.type]);
  switch (m.type) {
    case 'lock':
      w.u32(m.counter).u32(m.holder).str(m.ls).str(m.res).u8(lockModes.indexOf(m.mode)).u8(flagsByte(m.flags)).u16(m.lvbBytes).u16(m.reentrancyMax ?? 0);
      break;
    case 'lockMany':
      w.u32(m.counter).u32(m.holder).str(m.ls).u8(flagsByte(m.flags)).u16(m.lvbBytes).u16(m.reentrancyMax ?? 0).u32(m.items.length);
      for (const it of m.items) w.str(it.res).u8(lockModes.indexOf(it.mode));
      break;
    case 'adopt':
      w.u32(m.counter).u32(m.holder).str(m.ls).str(m.res).u8(lockModes.indexOf(m.mode)).str(m.orphan);
      break;
    case 'purgeOrphans':
      w.str(m.ls).str(m.res).str(m.orphan);
      break;
    case 'convert':
      w.u32(m.counter).u8(lockModes.indexOf(m.mode)).u8(flagsByte(m.flags));
      writeOptionalBytes(w, m.lvb);
      break;
    case 'unlock':
      w.u32(m.counter);
      writeOptionalBytes(w, m.lvb);
      break;
    case 'cancel':
      w.u32(m.counter).u8(m.reason === 'timeout' ? 1 : 0);
      break;
    case 'barrier':
      w.str(m.ls).str(m.name).u32(m.members === null ? 0xffffffff : m.members.length);
      for (const id of m.members ?? []) w.u32(id);
      break;
    case 'sync':
      w.u32(m.ringRep).u64(m.ringSeq).u64(m.lastPrimarySeq).bytes(m.snapshot);
      break;
  }
}

/**
 * The operations of one batch, encoded as they are added. A batch of one is finished as that
 * message alone (the same bytes encodeLockMessage gives).
 */
export class LockBatchWriter {
  private readonly w = new ByteWriter().u8(lockMessageVersion).u8(LockMessageType.batch).u16(0);
  private n = 0;

  get count(): number {
    return this.n;
  }

  /**
   * Append `m` unless the batch is full: it holds lockBatchMessagesMax operations, or `m` would
   * take it past `bytesMax` (the first operation is always taken, whatever its size).
   */
  add(m: BatchableLockMessage, bytesMax: number): boolean {
    assert(isBatchable(m), 'a barrier entry or a sync added to a batch');
    if (this.n >= lockBatchMessagesMax) return false;
    const before = this.w.byteLength;
    writeBody(this.w, m);
    if (this.n > 0 && this.w.byteLength > bytesMax) {
      this.w.truncate(before);
      return false;
    }
    this.n++;
    return true;
  }

  finish(): Uint8Array {
    assert(this.n > 0, 'an empty batch');
    // One operation: its version byte goes right before its type byte, where the count ends.
    if (this.n === 1) return this.w.setU8(3, lockMessageVersion).finish(3);
    return this.w.setU16(2, this.n).finish();
  }
}

export function decodeLockMessage(bytes: Uint8Array): LockDecodeResult {
  const decoded = decodeLockMessages(bytes);
  if (!decoded.ok) return decoded;
  const [message] = decoded.messages;
  if (decoded.messages.length !== 1 || message === undefined) return { ok: false, reason: `a batch of ${decoded.messages.length} where one message was expected` };
  return { ok: true, message };
}

/** One message, or a batch's operations in their order; all or nothing (one malformed operation refuses the batch). */
export function decodeLockMessages(bytes: Uint8Array): LockBatchDecodeResult {
  try {
    const r = new ByteReader(bytes);
    const version = r.u8();
    if (version !== lockMessageVersion) return { ok: false, reason: `version ${version}` };
    const type = r.u8();
    const messages: LockMessage[] = [];
    if (type === LockMessageType.batch) {
      const n = r.u16();
      if (n < 1 || n > lockBatchMessagesMax) throw new LockDecodeError(`${n} operations in one batch`);
      for (let i = 0; i < n; i++) {
        const inner = r.u8();
        if (inner === LockMessageType.barrier || inner === LockMessageType.sync || inner === LockMessageType.batch) throw new LockDecodeError(`type ${inner} inside a batch`);
        messages.push(readBody(r, inner));
      }
    } else messages.push(readBody(r, type));
    r.end();
    return { ok: true, messages };
  } catch (error) {
    if (error instanceof LockDecodeError) return { ok: false, reason: error.message };
    throw error;
  }
}

/** The fields of a message of `type` (its type byte read). */
function readBody(r: ByteReader, type: number): LockMessage {
  switch (type) {
    case LockMessageType.lock: {
      const counter = r.u32();
      const holder = r.u32();
      const ls = r.str(lockspaceNameBytesMax);
      const res = r.str(resourceNameBytesMax);
      const mode = readMode(r);
      const flags = readFlags(r);
      const lvbBytes = r.u16();
      if (lvbBytes > valueBlockBytesMax) throw new LockDecodeError(`value block of ${lvbBytes} bytes`);
      const reentrancyMax = r.u16();
      return { type: 'lock', counter, holder, ls, res, mode, flags, lvbBytes, reentrancyMax };
    }
    case LockMessageType.lockMany: {
      const counter = r.u32();
      const holder = r.u32();
      const ls = r.str(lockspaceNameBytesMax);
      const flags = readFlags(r);
      const lvbBytes = r.u16();
      if (lvbBytes > valueBlockBytesMax) throw new LockDecodeError(`value block of ${lvbBytes} bytes`);
      const reentrancyMax = r.u16();
      const n = r.u32();
      if (n < 1 || n > multiResourcesMax) throw new LockDecodeError(`${n} resources in one request`);
      if (counter + n - 1 > 0xffffffff) throw new LockDecodeError('lock counters beyond 32 bits');
      const items: { res: string; mode: LockMode }[] = [];
      const names = new Set<string>();
      for (let i = 0; i < n; i++) {
        const res = r.str(resourceNameBytesMax);
        if (names.has(res)) throw new LockDecodeError('a resource named twice in one request');
        names.add(res);
        items.push({ res, mode: readMode(r) });
      }
      return { type: 'lockMany', counter, holder, ls, items, flags, lvbBytes, reentrancyMax };
    }
    case LockMessageType.adopt: {
      const counter = r.u32();
      const holder = r.u32();
      const ls = r.str(lockspaceNameBytesMax);
      const res = r.str(resourceNameBytesMax);
      const mode = readMode(r);
      const orphan = r.str(64);
      if (!ownerPattern.test(orphan)) throw new LockDecodeError('bad orphan id');
      return { type: 'adopt', counter, holder, ls, res, mode, orphan };
    }
    case LockMessageType.purgeOrphans: {
      const ls = r.str(lockspaceNameBytesMax);
      const res = r.str(resourceNameBytesMax);
      const orphan = r.str(64);
      if (!ownerPattern.test(orphan)) throw new LockDecodeError('bad orphan id');
      return { type: 'purgeOrphans', ls, res, orphan };
    }
    case LockMessageType.convert: {
      const counter = r.u32();
      const mode = readMode(r);
      const flags = readFlags(r);
      return { type: 'convert', counter, mode, flags, lvb: readOptionalBytes(r, valueBlockBytesMax) };
    }
    case LockMessageType.unlock:
      return { type: 'unlock', counter: r.u32(), lvb: readOptionalBytes(r, valueBlockBytesMax) };
    case LockMessageType.cancel: {
      const counter = r.u32();
      const reason = r.u8();
      if (reason > 1) throw new LockDecodeError(`unknown cancel reason ${reason}`);
      return { type: 'cancel', counter, reason: reason === 1 ? 'timeout' : 'cancel' };
    }
    case LockMessageType.barrier: {
      const ls = r.str(lockspaceNameBytesMax);
      const name = r.str(barrierNameBytesMax);
      const n = r.u32();
      let members: NodeId[] | null = null;
      if (n !== 0xffffffff) {
        if (n > barrierMembersMax) throw new LockDecodeError(`${n} barrier members`);
        members = [];
        for (let i = 0; i < n; i++) {
          const id = r.u32();
          if (id === 0) throw new LockDecodeError('node id 0');
          members.push(id);
        }
      }
      return { type: 'barrier', ls, name, members };
    }
    case LockMessageType.sync:
      return { type: 'sync', ringRep: r.u32(), ringSeq: r.u64(), lastPrimarySeq: r.u64(), snapshot: r.bytes(snapshotBytesMax) };
    default:
      throw new LockDecodeError(`unknown type ${type}`);
  }
}
