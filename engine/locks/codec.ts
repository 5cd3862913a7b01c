/**
 * The lock manager's messages: each lock operation is one agreed multicast (barrier entries and
 * table syncs go safe), applied by every member to its own copy of the table in delivery order.
 *
 * Layout: byte 0 the format version, byte 1 the type, then the type's fields (big-endian;
 * strings and byte fields as u32 length + bytes). decodeLockMessage never throws: a malformed
 * message is reported as such and the table drops and counts it.
 */
import type { NodeId } from '../types.js';
import { ByteReader, ByteWriter, LockDecodeError } from './bytes.js';
import { lockModes, type LockMode } from './modes.js';

/** 2: lock requests carry the reentrancy limit; lockMany, adopt and purgeOrphans; snapshot lock records carry group, depth and orphan state. */
export const lockMessageVersion = 2;
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

export const LockMessageType = { lock: 1, convert: 2, unlock: 3, cancel: 4, barrier: 5, sync: 6, lockMany: 7, adopt: 8, purgeOrphans: 9 } as const;

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

export type LockDecodeResult = { ok: true; message: LockMessage } | { ok: false; reason: string };

function flagsByte(flags: LockFlags): number {
  let b = 0;
  for (const [name, bit] of Object.entries(flagBits)) if (flags[name as keyof LockFlags] === true) b |= bit;
  return b;
}

function readFlags(r: ByteReader): LockFlags {
  const b = r.u8();
  if ((b & ~flagMask) !== 0) throw new LockDecodeError(`unknown flag bits ${b}`);
  const flags: LockFlags = {};
  for (const [name, bit] of Object.entries(flagBits)) flags[name as keyof LockFlags] = (b & bit) !== 0;
  return flags;
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
  const w = new ByteWriter().u8(lockMessageVersion).u8(LockMessageType[m.type]);
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
  return w.finish();
}

export function decodeLockMessage(bytes: Uint8Array): LockDecodeResult {
  try {
    const r = new ByteReader(bytes);
    const version = r.u8();
    if (version !== lockMessageVersion) return { ok: false, reason: `version ${version}` };
    const type = r.u8();
    let message: LockMessage;
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
        message = { type: 'lock', counter, holder, ls, res, mode, flags, lvbBytes, reentrancyMax };
        break;
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
        message = { type: 'lockMany', counter, holder, ls, items, flags, lvbBytes, reentrancyMax };
        break;
      }
      case LockMessageType.adopt: {
        const counter = r.u32();
        const holder = r.u32();
        const ls = r.str(lockspaceNameBytesMax);
        const res = r.str(resourceNameBytesMax);
        const mode = readMode(r);
        const orphan = r.str(64);
        if (!ownerPattern.test(orphan)) throw new LockDecodeError('bad orphan id');
        message = { type: 'adopt', counter, holder, ls, res, mode, orphan };
        break;
      }
      case LockMessageType.purgeOrphans: {
        const ls = r.str(lockspaceNameBytesMax);
        const res = r.str(resourceNameBytesMax);
        const orphan = r.str(64);
        if (!ownerPattern.test(orphan)) throw new LockDecodeError('bad orphan id');
        message = { type: 'purgeOrphans', ls, res, orphan };
        break;
      }
      case LockMessageType.convert: {
        const counter = r.u32();
        const mode = readMode(r);
        const flags = readFlags(r);
        message = { type: 'convert', counter, mode, flags, lvb: readOptionalBytes(r, valueBlockBytesMax) };
        break;
      }
      case LockMessageType.unlock:
        message = { type: 'unlock', counter: r.u32(), lvb: readOptionalBytes(r, valueBlockBytesMax) };
        break;
      case LockMessageType.cancel: {
        const counter = r.u32();
        const reason = r.u8();
        if (reason > 1) throw new LockDecodeError(`unknown cancel reason ${reason}`);
        message = { type: 'cancel', counter, reason: reason === 1 ? 'timeout' : 'cancel' };
        break;
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
        message = { type: 'barrier', ls, name, members };
        break;
      }
      case LockMessageType.sync:
        message = { type: 'sync', ringRep: r.u32(), ringSeq: r.u64(), lastPrimarySeq: r.u64(), snapshot: r.bytes(snapshotBytesMax) };
        break;
      default:
        return { ok: false, reason: `unknown type ${type}` };
    }
    r.end();
    return { ok: true, message };
  } catch (error) {
    if (error instanceof LockDecodeError) return { ok: false, reason: error.message };
    throw error;
  }
}
