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

export const lockMessageVersion = 1;
/** Bounds on received fields (a name longer than this is refused, not stored). */
export const lockspaceNameBytesMax = 256;
export const resourceNameBytesMax = 1024;
export const valueBlockBytesMax = 4096;
export const barrierNameBytesMax = 256;
export const barrierMembersMax = 1024;
export const snapshotBytesMax = 64 * 1024 * 1024;

export const LockMessageType = { lock: 1, convert: 2, unlock: 3, cancel: 4, barrier: 5, sync: 6 } as const;

export interface LockFlags {
  /** Try: deny with "would-block" instead of queueing. */
  noQueue?: boolean;
  /** With noQueue: send blocking notices to the holders in the way before denying. */
  notifyOnNoQueue?: boolean;
  /** Deny with "not-primary" when the configuration cannot grant, instead of waiting. */
  failIfNotPrimary?: boolean;
}

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
    }
  | { type: 'convert'; counter: number; mode: LockMode; flags: LockFlags; lvb: Uint8Array | null }
  | { type: 'unlock'; counter: number; lvb: Uint8Array | null }
  | { type: 'cancel'; counter: number; reason: 'cancel' | 'timeout' }
  | { type: 'barrier'; ls: string; name: string; members: NodeId[] | null }
  | { type: 'sync'; ringRep: NodeId; ringSeq: bigint; lastPrimarySeq: bigint; snapshot: Uint8Array };

export type LockDecodeResult = { ok: true; message: LockMessage } | { ok: false; reason: string };

function flagsByte(flags: LockFlags): number {
  return (flags.noQueue === true ? 1 : 0) | (flags.notifyOnNoQueue === true ? 2 : 0) | (flags.failIfNotPrimary === true ? 4 : 0);
}

function readFlags(r: ByteReader): LockFlags {
  const b = r.u8();
  if ((b & ~7) !== 0) throw new LockDecodeError(`unknown flag bits ${b}`);
  return { noQueue: (b & 1) !== 0, notifyOnNoQueue: (b & 2) !== 0, failIfNotPrimary: (b & 4) !== 0 };
}

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
      w.u32(m.counter).u32(m.holder).str(m.ls).str(m.res).u8(lockModes.indexOf(m.mode)).u8(flagsByte(m.flags)).u16(m.lvbBytes);
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
        message = { type: 'lock', counter, holder, ls, res, mode, flags, lvbBytes };
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
