/**
 * The lock table's state as bytes, for the sync after a merge (each member multicasts its table;
 * every member adopts the same winner) and as the canonical form the table hash is computed over.
 * Decoding validates everything (the bytes come from the network) and never throws.
 */
import type { NodeId } from '../types.js';
import { ByteReader, ByteWriter, LockDecodeError } from './bytes.js';
import { barrierMembersMax, barrierNameBytesMax, lockspaceNameBytesMax, resourceNameBytesMax, valueBlockBytesMax } from './codec.js';
import { lockModes, type LockMode } from './modes.js';

export interface LockRecord {
  /** "<node>:<incarnation>:<counter>", unique in the cluster forever. */
  readonly owner: string;
  readonly node: NodeId;
  readonly incarnation: number;
  readonly counter: number;
  /** Holder id for deadlock detection (0: the lock is its own holder). */
  readonly holder: number;
  readonly ls: string;
  readonly res: string;
  /** Mode held; null while the first request waits. */
  granted: LockMode | null;
  /** Mode asked for by the pending request (a new lock or a conversion); null when none. */
  requested: LockMode | null;
  noQueue: boolean;
  notifyOnNoQueue: boolean;
  failIfNotPrimary: boolean;
  /** Fencing token of the last grant or up-conversion (0 before the first grant). */
  fence: bigint;
  /** Table op number at which the pending request was queued (FIFO, ages, deadlock victim). */
  queuedAt: number;
  /** Table op number of the last grant or conversion. */
  grantedAt: number;
  /** Modes already announced to this holder by a blocking notice (bit per mode index). */
  bastMask: number;
  /** Set at a transitional configuration that is not primary: the holder was told. */
  suspect: boolean;
  /** Requested persistent: becomes an orphan instead of being purged when its node leaves. */
  persistent: boolean;
  /** An orphan: granted, its owner's node left, held by nobody until adopted or purged. */
  orphan: boolean;
  /** The pending request may be granted out of queue order when compatible (DLM NOORDER). */
  noOrder: boolean;
  /** Owner id of the first lock of the atomic request this waiting lock belongs to ('' when none). */
  group: string;
  /** Holds counted on this lock: 1, plus one per re-entry (reentrancy). */
  depth: number;
}

export interface Resource {
  readonly name: string;
  /** Every lock holding a mode (converting ones included), in grant order. */
  granted: LockRecord[];
  /** Granted locks waiting for an up-conversion, FIFO. */
  converting: LockRecord[];
  /** New locks waiting for their first grant, FIFO. */
  waiting: LockRecord[];
  lvb: Uint8Array;
  lvbValid: boolean;
}

export interface Barrier {
  readonly name: string;
  /** Number of the pending (else the last) instance of this name. */
  gen: number;
  /**
   * The highest instance number this name has had in this table or in any table a sync merged
   * into it (at least `gen`); a new instance takes the next one, so that a number never names two
   * instances, even when a member numbered some alone before adopting another member's table.
   */
  genHighest: number;
  /** Members expected in the pending instance; null when none is pending. */
  expected: NodeId[] | null;
  entered: NodeId[];
  /** Ring id of the configuration in which the pending instance began (names it across partitions). */
  since: string;
}

export interface Lockspace {
  readonly name: string;
  readonly lvbBytes: number;
  /** Holds one lock may count by re-entry (0: reentrancy off); fixed by the lockspace's first request. */
  readonly reentrancyMax: number;
  resources: Map<string, Resource>;
  barriers: Map<string, Barrier>;
}

export interface TableState {
  lockspaces: Map<string, Lockspace>;
  /** Ops applied: the table's logical clock. */
  opCount: number;
  /** Highest fencing token issued by this table's lineage. */
  lastFence: bigint;
  /** Ring seq of the last primary regular configuration this table was current in (0: none). */
  lastPrimarySeq: bigint;
}

const noMode = 255;

function modeByte(mode: LockMode | null): number {
  return mode === null ? noMode : lockModes.indexOf(mode);
}

function readModeOrNull(r: ByteReader): LockMode | null {
  const b = r.u8();
  if (b === noMode) return null;
  const mode = lockModes[b];
  if (mode === undefined) throw new LockDecodeError(`unknown mode ${b}`);
  return mode;
}

function writeLock(w: ByteWriter, l: LockRecord): void {
  w.u32(l.node).int53(l.incarnation).u32(l.counter).u32(l.holder);
  w.u8(modeByte(l.granted)).u8(modeByte(l.requested));
  w.u8(
    (l.noQueue ? 1 : 0) | (l.notifyOnNoQueue ? 2 : 0) | (l.failIfNotPrimary ? 4 : 0) | (l.suspect ? 8 : 0) |
      (l.persistent ? 16 : 0) | (l.orphan ? 32 : 0) | (l.noOrder ? 64 : 0),
  );
  w.u64(l.fence).int53(l.queuedAt).int53(l.grantedAt).u8(l.bastMask).str(l.group).u16(l.depth);
}

function readLock(r: ByteReader, ls: string, res: string): LockRecord {
  const node = r.u32();
  const incarnation = r.int53();
  const counter = r.u32();
  const holder = r.u32();
  const granted = readModeOrNull(r);
  const requested = readModeOrNull(r);
  const flags = r.u8();
  const fence = r.u64();
  const queuedAt = r.int53();
  const grantedAt = r.int53();
  const bastMask = r.u8();
  const group = r.str(64);
  const depth = r.u16();
  if (node === 0) throw new LockDecodeError('node id 0');
  if (granted === null && requested === null) throw new LockDecodeError('a lock with neither a mode nor a request');
  if (depth < 1) throw new LockDecodeError('a lock with no hold');
  const orphan = (flags & 32) !== 0;
  if (orphan && (granted === null || requested !== null)) throw new LockDecodeError('an orphan must be granted with nothing pending');
  if (group !== '' && granted !== null) throw new LockDecodeError('a granted lock in an atomic group');
  return {
    owner: `${node}:${incarnation}:${counter}`,
    node,
    incarnation,
    counter,
    holder,
    ls,
    res,
    granted,
    requested,
    noQueue: (flags & 1) !== 0,
    notifyOnNoQueue: (flags & 2) !== 0,
    failIfNotPrimary: (flags & 4) !== 0,
    suspect: (flags & 8) !== 0,
    persistent: (flags & 16) !== 0,
    orphan,
    noOrder: (flags & 64) !== 0,
    group,
    depth,
    fence,
    queuedAt,
    grantedAt,
    bastMask: bastMask & 0x3f,
  };
}

/** Encodes in map order (the order every replica of one lineage shares). */
export function encodeSnapshot(state: TableState): Uint8Array {
  const w = new ByteWriter();
  w.int53(state.opCount).u64(state.lastFence).u64(state.lastPrimarySeq).u32(state.lockspaces.size);
  for (const ls of state.lockspaces.values()) {
    w.str(ls.name).u16(ls.lvbBytes).u16(ls.reentrancyMax).u32(ls.resources.size);
    for (const res of ls.resources.values()) {
      w.str(res.name).u8(res.lvbValid ? 1 : 0).bytes(res.lvb);
      w.u32(res.granted.length);
      for (const l of res.granted) writeLock(w, l);
      w.u32(res.converting.length);
      for (const l of res.converting) w.u32(res.granted.indexOf(l));
      w.u32(res.waiting.length);
      for (const l of res.waiting) writeLock(w, l);
    }
    w.u32(ls.barriers.size);
    for (const b of ls.barriers.values()) {
      w.str(b.name).str(b.since).u32(b.gen).u32(b.genHighest).u32(b.expected === null ? 0xffffffff : b.expected.length);
      for (const id of b.expected ?? []) w.u32(id);
      w.u32(b.entered.length);
      for (const id of b.entered) w.u32(id);
    }
  }
  return w.finish();
}

const lockBytesMin = 4 + 8 + 4 + 4 + 1 + 1 + 1 + 8 + 8 + 8 + 1 + 4 + 2;

export function decodeSnapshot(bytes: Uint8Array): TableState | null {
  try {
    const r = new ByteReader(bytes);
    const state: TableState = { lockspaces: new Map(), opCount: r.int53(), lastFence: r.u64(), lastPrimarySeq: r.u64() };
    const owners = new Set<string>();
    const nLs = r.count(8);
    for (let i = 0; i < nLs; i++) {
      const name = r.str(lockspaceNameBytesMax);
      const lvbBytes = r.u16();
      const reentrancyMax = r.u16();
      if (lvbBytes > valueBlockBytesMax || state.lockspaces.has(name)) throw new LockDecodeError('bad lockspace');
      const ls: Lockspace = { name, lvbBytes, reentrancyMax, resources: new Map(), barriers: new Map() };
      state.lockspaces.set(name, ls);
      const nRes = r.count(17);
      for (let j = 0; j < nRes; j++) {
        const resName = r.str(resourceNameBytesMax);
        const lvbValid = r.u8() === 1;
        const lvb = r.bytes(valueBlockBytesMax);
        if (lvb.length !== lvbBytes || ls.resources.has(resName)) throw new LockDecodeError('bad resource');
        const res: Resource = { name: resName, granted: [], converting: [], waiting: [], lvb, lvbValid };
        const nGranted = r.count(lockBytesMin);
        for (let k = 0; k < nGranted; k++) {
          const l = readLock(r, name, resName);
          if (l.granted === null || owners.has(l.owner)) throw new LockDecodeError('bad granted lock');
          owners.add(l.owner);
          res.granted.push(l);
        }
        const nConv = r.count(4);
        for (let k = 0; k < nConv; k++) {
          const l = res.granted[r.u32()];
          if (l === undefined || l.requested === null || res.converting.includes(l)) throw new LockDecodeError('bad conversion');
          res.converting.push(l);
        }
        if (res.granted.some((l) => l.requested !== null && !res.converting.includes(l))) throw new LockDecodeError('conversion not queued');
        const nWait = r.count(lockBytesMin);
        for (let k = 0; k < nWait; k++) {
          const l = readLock(r, name, resName);
          if (l.granted !== null || owners.has(l.owner)) throw new LockDecodeError('bad waiting lock');
          owners.add(l.owner);
          res.waiting.push(l);
        }
        ls.resources.set(resName, res);
      }
      const nBarriers = r.count(24);
      for (let j = 0; j < nBarriers; j++) {
        const bName = r.str(barrierNameBytesMax);
        const since = r.str(64);
        const gen = r.u32();
        const genHighest = r.u32();
        if (genHighest < gen) throw new LockDecodeError('barrier instance above the highest');
        const n = r.u32();
        let expected: NodeId[] | null = null;
        if (n !== 0xffffffff) {
          if (n > barrierMembersMax) throw new LockDecodeError('barrier members');
          expected = [];
          for (let k = 0; k < n; k++) expected.push(r.u32());
        }
        const nEntered = r.count(4);
        if (nEntered > barrierMembersMax) throw new LockDecodeError('barrier entries');
        const entered: NodeId[] = [];
        for (let k = 0; k < nEntered; k++) entered.push(r.u32());
        if (ls.barriers.has(bName)) throw new LockDecodeError('barrier named twice');
        ls.barriers.set(bName, { name: bName, gen, genHighest, expected, entered, since });
      }
    }
    r.end();
    return state;
  } catch (error) {
    if (error instanceof LockDecodeError) return null;
    throw error;
  }
}

/**
 * A 64-bit FNV-1a hash (as 16 hex digits) of the table's canonical form: lockspaces and
 * resources sorted by name, queues in order. Replicas that applied the same stream agree on it.
 */
export function hashTable(state: TableState): string {
  const sorted: TableState = {
    opCount: state.opCount,
    lastFence: state.lastFence,
    lastPrimarySeq: state.lastPrimarySeq,
    lockspaces: new Map(
      [...state.lockspaces.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((ls) => [
          ls.name,
          {
            ...ls,
            resources: new Map([...ls.resources].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))),
            barriers: new Map([...ls.barriers].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))),
          },
        ]),
    ),
  };
  const bytes = encodeSnapshot(sorted);
  // Two 32-bit FNV-1a lanes with different offsets: cheap, and no BigInt per byte.
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    h1 = Math.imul(h1 ^ b, 0x01000193);
    h2 = Math.imul(h2 ^ b, 0x01000193) ^ (h1 >>> 7);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}
