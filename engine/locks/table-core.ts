/**
 * The lock table's queues and grants: records, FIFO and flag-aware queueing, grant passes (atomic
 * requests included), blocking notices, fencing tokens, removals and deadlock resolution.
 * LockTableOps (table-ops.ts) applies the lock messages with these, and LockTable (lock-table.ts)
 * the configurations and syncs; docs/locks.md states the rules.
 */
import { assert } from '../assert.js';
import type { NodeId } from '../types.js';
import type { LockFlags } from './codec.js';
import { modeIndex, modesCompatible, writesValueBlock, type LockMode } from './modes.js';
import type { BarrierContext } from './barriers.js';
import type { LockRecord, Lockspace, Resource, TableState } from './snapshot.js';
import { findDeadlockVictim } from './deadlock.js';
import type { LkOp, LockTableCounters, LockTableEvent, LockTableHost, LockTableOptions } from './lock-types.js';


export const valueBlockBytesDefault = 32;
/** Grants one primary configuration may issue before its tokens reach the next ring's base. */
export const fenceRingShift = 20n;
const fenceMax = (1n << 64n) - 1n;
/**
 * The highest ring base a fencing token takes: 2^40 tokens below the 64-bit limit. A ring seq
 * above it (2^44 rings: only a forged or corrupt one, at 4 per ring change) adds nothing to the
 * token, so that the tokens after it still have room to grow.
 */
const fenceBaseMax = fenceMax - (1n << 40n);

/** A lock's owner id, as the trace writes it: "<node>:<incarnation>:<counter>". */
export function ownerId(node: NodeId, incarnation: number, counter: number): string {
  return `${node}:${incarnation}:${counter}`;
}

/** Takes `l` out of `queue` if it is there. */
function removeFrom(queue: LockRecord[], l: LockRecord): void {
  const i = queue.indexOf(l);
  if (i < 0) return;
  // The last one (a resource's only holder, the common case) without splice's array of removed items.
  if (i === queue.length - 1) queue.pop();
  else queue.splice(i, 1);
}

/**
 * Operations between renewals of the owners and resources maps (LockTableCore.renewMapsNow).
 * A Map that grows and shrinks in place links each hash table it replaces to the next one; once
 * one of those tables has been promoted to V8's old space, every later table and every record in
 * them survive the young collections until the next full one. The lock table's maps churn with
 * every lock: on one replica applying the uncontended bench's batches, 3.6-7.1 MB were promoted
 * per young collection; with the maps copied afresh every 256 operations, about 0.15 MB, and
 * `npm run bench:micro -- --only locks` went from 1.07-1.22 M to 2.19-2.75 M operations/s.
 */
export const mapRenewOps = 256;

const zeroValueBlocks = new Map<number, Uint8Array>();

/**
 * The value block of a resource nobody has written yet: one all-zero block per size, shared. A
 * resource's block is replaced when written (writeValueBlock), never changed in place, and read
 * only by copying it (the held event, the snapshot), so sharing it is safe; a new resource is
 * made for every lock in the uncontended case, where a block of its own was an allocation per
 * lock on every replica.
 */
function zeroValueBlock(bytes: number): Uint8Array {
  let block = zeroValueBlocks.get(bytes);
  if (block === undefined) {
    block = new Uint8Array(bytes);
    zeroValueBlocks.set(bytes, block);
  }
  return block;
}

export abstract class LockTableCore {
  readonly counters: LockTableCounters = {
    opsApplied: 0,
    malformed: 0,
    foreignSender: 0,
    unknownLock: 0,
    duplicateLock: 0,
    lateCancel: 0,
    badValueBlock: 0,
    barrierOutsider: 0,
    syncs: 0,
    deadlocks: 0,
    droppedInSync: 0,
    orphanOp: 0,
  };
  protected state: TableState = { lockspaces: new Map(), opCount: 0, lastFence: 0n, lastPrimarySeq: 0n };
  protected owners = new Map<string, LockRecord>();
  /** Waiting locks of each atomic request, by ls \0 group, in counter order. */
  protected groups = new Map<string, LockRecord[]>();
  protected members: NodeId[];
  protected regular = false;
  protected primaryNow = false;
  protected ringSeq = 0n;
  protected ring = '';
  protected diverged = false;
  /** ringSeq << fenceRingShift, for the ringSeq in fenceBaseOf (nextFence). */
  private fenceBase = 0n;
  private fenceBaseOf = 0n;
  /**
   * Every resource with a queued lock is in here (it may hold others, whose queues have emptied
   * since): deadlock detection runs after every operation and, when nothing waits, the common
   * case, finds that out from this set instead of from every resource of the table. Null: not
   * known (the table was replaced by a sync's snapshot); rebuilt from the table on the next look.
   */
  private queuedHint: Set<Resource> | null = null;
  private opsSinceMapRenew = 0;

  constructor(
    protected readonly options: LockTableOptions,
    protected readonly host: LockTableHost,
  ) {
    this.members = [options.nodeId];
  }

  /** True when this replica may grant: primary regular configuration, table in sync. */
  get canGrant(): boolean {
    return this.regular && this.primaryNow && !this.diverged;
  }

  protected isOwn(l: LockRecord): boolean {
    return l.node === this.options.nodeId && l.incarnation === this.options.incarnation;
  }

  protected lockspace(name: string, lvbBytes: number, reentrancyMax = 0): Lockspace {
    let ls = this.state.lockspaces.get(name);
    if (ls === undefined) {
      ls = { name, lvbBytes, reentrancyMax, resources: new Map(), barriers: new Map() };
      this.state.lockspaces.set(name, ls);
    }
    return ls;
  }

  protected resourceOf(l: LockRecord): { ls: Lockspace; res: Resource } {
    const ls = this.state.lockspaces.get(l.ls);
    const res = ls?.resources.get(l.res);
    assert(ls !== undefined && res !== undefined, `lock ${l.owner} has no resource`);
    return { ls, res };
  }

  protected resource(ls: Lockspace, name: string): Resource {
    let res = ls.resources.get(name);
    if (res === undefined) {
      res = { name, granted: [], converting: [], waiting: [], lvb: zeroValueBlock(ls.lvbBytes), lvbValid: false };
      ls.resources.set(name, res);
    }
    return res;
  }

  protected newRecord(
    owner: string,
    sender: NodeId,
    incarnation: number,
    counter: number,
    holder: number,
    ls: string,
    res: string,
    mode: LockMode,
    flags: LockFlags,
    group: string,
  ): LockRecord & { headQueue: boolean } {
    return {
      owner,
      node: sender,
      incarnation,
      counter,
      holder,
      ls,
      res,
      granted: null,
      requested: mode,
      noQueue: flags.noQueue === true,
      notifyOnNoQueue: flags.notifyOnNoQueue === true,
      failIfNotPrimary: flags.failIfNotPrimary === true,
      fence: 0n,
      queuedAt: this.state.opCount,
      grantedAt: 0,
      bastMask: 0,
      suspect: false,
      persistent: flags.persistent === true,
      orphan: false,
      noOrder: flags.noOrder === true,
      group,
      depth: 1,
      // Only where it is queued: the queue's order carries it from then on.
      headQueue: flags.headQueue === true,
    };
  }

  /** HEADQUE: at the head of res's wait (or conversion) queue; else at the tail. */
  protected enqueue(res: Resource, which: 'waiting' | 'converting', l: LockRecord & { headQueue?: boolean }, head = l.headQueue === true): void {
    const queue = res[which];
    if (head) queue.unshift(l);
    else queue.push(l);
    this.queuedHint?.add(res);
  }

  /**
   * Every mapRenewOps operations, the owners map and each lockspace's resources map are copied
   * into fresh Maps (same entries, same order): see mapRenewOps. Called between operations, when
   * no iteration over them is under way.
   */
  protected renewMapsNow(): void {
    if (++this.opsSinceMapRenew < mapRenewOps) return;
    this.opsSinceMapRenew = 0;
    this.owners = new Map(this.owners);
    for (const ls of this.state.lockspaces.values()) ls.resources = new Map(ls.resources);
  }

  /** The table state was replaced wholesale (a sync): which resources have queues is not known. */
  protected forgetQueuedHint(): void {
    this.queuedHint = null;
  }

  /** Whether any resource has a queued lock (a request or a conversion). */
  protected anyQueued(): boolean {
    let hint = this.queuedHint;
    if (hint === null) {
      hint = new Set();
      for (const ls of this.state.lockspaces.values()) {
        for (const res of ls.resources.values()) if (res.converting.length > 0 || res.waiting.length > 0) hint.add(res);
      }
      this.queuedHint = hint;
    }
    for (const res of hint) {
      if (res.converting.length > 0 || res.waiting.length > 0) return true;
      // Deleting the entry being visited is safe in a Set's iteration.
      hint.delete(res);
    }
    return false;
  }

  protected groupOf(l: LockRecord): LockRecord[] {
    if (l.group === '' || l.granted !== null) return [l];
    return this.groups.get(`${l.ls}\u0000${l.group}`) ?? [l];
  }

  /** Ready: compatible with every granted mode, and first in line (or NOORDER). */
  protected ready(res: Resource, l: LockRecord): boolean {
    assert(l.requested !== null, 'ready without a request');
    if (!this.compatibleWithGranted(res, l.requested, l)) return false;
    return l.noOrder || (res.converting.length === 0 && res.waiting[0] === l);
  }

  /** Grant every member of l's group at this one point when all are ready; their resources go to `work`. */
  protected tryGrantGroup(l: LockRecord, work: Resource[]): boolean {
    const members = this.groupOf(l);
    const placed = members.map((x) => ({ x, ...this.resourceOf(x) }));
    if (!placed.every(({ x, res }) => this.ready(res, x))) return false;
    this.groups.delete(`${l.ls}\u0000${l.group}`);
    for (const { x, ls, res } of placed) {
      res.waiting.splice(res.waiting.indexOf(x), 1);
      x.group = '';
      this.grant(ls, res, x);
      work.push(res);
    }
    return true;
  }

  /** End every member of an atomic request (or one lock) that waits, one line after the other, then re-run the grant passes. */
  protected endGroup(members: LockRecord[], op: 'deny' | 'cancel' | 'purge', reason: string | undefined): void {
    const first = members[0];
    if (first !== undefined) this.groups.delete(`${first.ls}\u0000${first.group}`);
    const touched: { ls: Lockspace; res: Resource }[] = [];
    for (const l of members) {
      const { ls, res } = this.resourceOf(l);
      const i = res.waiting.indexOf(l);
      if (i >= 0) res.waiting.splice(i, 1);
      this.owners.delete(l.owner);
      this.lk(l, op, { reason });
      touched.push({ ls, res });
    }
    for (const { ls, res } of touched) {
      this.grantPass(ls, res);
      this.dropIfEmpty(ls, res);
    }
  }

  protected barrierContext(): BarrierContext {
    return { members: this.members, ring: this.ring, nodeId: this.options.nodeId, emit: (e) => this.host.event(e), counters: this.counters };
  }

  protected writeValueBlock(ls: Lockspace, res: Resource, lvb: Uint8Array): void {
    if (lvb.length !== ls.lvbBytes) {
      this.counters.badValueBlock++;
      return;
    }
    res.lvb = lvb.slice();
    res.lvbValid = true;
  }

  protected nextFence(): bigint {
    // The ring's base is computed once per ring: each BigInt operation allocates, and this runs
    // for every grant on every replica.
    if (this.fenceBaseOf !== this.ringSeq) {
      this.fenceBaseOf = this.ringSeq;
      const base = this.ringSeq << fenceRingShift;
      this.fenceBase = base > fenceBaseMax ? 0n : base;
    }
    const base = this.fenceBase;
    let fence = this.state.lastFence + 1n;
    if (base > fence) fence = base;
    assert(fence <= fenceMax, 'fencing token beyond 64 bits (more than 2^40 grants above the highest ring base)');
    this.state.lastFence = fence;
    return fence;
  }

  protected compatibleWithGranted(res: Resource, mode: LockMode, self: LockRecord): boolean {
    for (const g of res.granted) {
      if (g === self) continue;
      assert(g.granted !== null, 'granted list holds a lock without a mode');
      if (!modesCompatible(g.granted, mode)) return false;
    }
    return true;
  }

  protected grant(ls: Lockspace, res: Resource, l: LockRecord): void {
    assert(l.requested !== null, 'grant without a request');
    void ls;
    l.granted = l.requested;
    l.requested = null;
    l.fence = this.nextFence();
    l.bastMask = 0;
    l.grantedAt = this.state.opCount;
    res.granted.push(l);
    if (this.reportsLk(l)) this.lk(l, 'grant', { mode: l.granted, fence: l.fence });
    this.held(l, res);
  }

  /**
   * DLM grant order: conversions first (each when compatible), then new locks strictly FIFO (an
   * atomic request's member at the head waits there until all its members are ready), then NOORDER
   * requests anywhere in the wait queue that are compatible. Resources whose queues an atomic grant
   * changed are passed over too.
   */
  protected grantPass(ls: Lockspace, first: Resource): void {
    if (!this.canGrant) return;
    const work: Resource[] = [first];
    for (let i = 0; i < work.length; i++) {
      const res = work[i];
      assert(res !== undefined, 'grant pass work list hole');
      const more: Resource[] = [];
      this.grantPassOne(ls, res, more);
      for (const r of more) if (!work.slice(i + 1).includes(r)) work.push(r);
    }
  }

  protected grantPassOne(ls: Lockspace, res: Resource, work: Resource[]): void {
    // Nothing queued: nothing to grant and nobody to notify (the common case after a release).
    if (res.converting.length === 0 && res.waiting.length === 0) return;
    for (const c of [...res.converting]) {
      assert(c.requested !== null, 'queued conversion without a mode');
      if (!this.compatibleWithGranted(res, c.requested, c)) continue;
      res.converting.splice(res.converting.indexOf(c), 1);
      c.granted = c.requested;
      c.requested = null;
      c.fence = this.nextFence();
      c.bastMask = 0;
      c.grantedAt = this.state.opCount;
      this.lk(c, 'grant', { mode: c.granted, fence: c.fence });
      this.held(c, res);
    }
    while (res.converting.length === 0) {
      const head = res.waiting[0];
      if (head === undefined) break;
      assert(head.requested !== null, 'waiting lock without a mode');
      if (!this.compatibleWithGranted(res, head.requested, head)) break;
      if (head.group !== '') {
        if (!this.tryGrantGroup(head, work)) break;
        continue;
      }
      res.waiting.shift();
      this.grant(ls, res, head);
    }
    for (const q of [...res.waiting]) {
      if (!q.noOrder || !res.waiting.includes(q)) continue;
      assert(q.requested !== null, 'waiting lock without a mode');
      if (!this.compatibleWithGranted(res, q.requested, q)) continue;
      if (q.group !== '') this.tryGrantGroup(q, work);
      else {
        res.waiting.splice(res.waiting.indexOf(q), 1);
        this.grant(ls, res, q);
      }
    }
    for (const q of [...res.converting, ...res.waiting]) {
      assert(q.requested !== null, 'queued lock without a mode');
      this.notifyBlockers(res, q, q.requested);
    }
  }

  /** Blocking notices: each holder in the way of `mode` learns it once per mode. */
  protected notifyBlockers(res: Resource, waiter: LockRecord, mode: LockMode): void {
    const bit = 1 << modeIndex(mode);
    for (const g of res.granted) {
      if (g === waiter || g.granted === null || g.orphan || modesCompatible(g.granted, mode)) continue;
      if ((g.bastMask & bit) !== 0) continue;
      g.bastMask |= bit;
      this.lk(g, 'bast', { mode });
    }
  }

  protected held(l: LockRecord, res: Resource): void {
    if (!this.isOwn(l) || l.granted === null) return;
    this.host.event({ ev: 'held', ls: l.ls, res: l.res, owner: l.owner, mode: l.granted, fence: l.fence, lvb: res.lvbValid ? res.lvb.slice() : null });
  }

  /**
   * Whether lk lines of `l` are reported (ownLkEventsOnly). lk() checks it too; the callers on
   * every operation's path (request, grant, release) check first, so that the line's fields are
   * not even gathered for a line nobody reads.
   */
  protected reportsLk(l: LockRecord): boolean {
    return this.options.ownLkEventsOnly !== true || this.isOwn(l);
  }

  protected lk(
    l: LockRecord,
    op: LkOp,
    extra: { mode?: LockMode | undefined; fence?: bigint; reason?: string | undefined; group?: string; orphan?: string; of?: string; depth?: number },
  ): void {
    if (!this.reportsLk(l)) return;
    const e: LockTableEvent = { ev: 'lk', ls: l.ls, res: l.res, op, owner: l.owner };
    if (extra.mode !== undefined) e.mode = extra.mode;
    if (extra.fence !== undefined) e.fence = extra.fence;
    if (extra.reason !== undefined) e.reason = extra.reason;
    if (extra.group !== undefined) e.group = extra.group;
    if (extra.orphan !== undefined) e.orphan = extra.orphan;
    if (extra.of !== undefined) e.of = extra.of;
    if (extra.depth !== undefined) e.depth = extra.depth;
    this.host.event(e);
  }

  /** A new lock's request ends without a grant: the lock is gone. */
  protected endRequest(l: LockRecord, res: Resource, op: 'deny' | 'cancel', reason: string | undefined): void {
    const i = res.waiting.indexOf(l);
    if (i >= 0) res.waiting.splice(i, 1);
    this.owners.delete(l.owner);
    this.lk(l, op, { reason });
  }

  /** A conversion ends without a grant: the lock keeps its granted mode. */
  protected endConversion(l: LockRecord, res: Resource, op: 'deny' | 'cancel', reason: string | undefined): void {
    const i = res.converting.indexOf(l);
    if (i >= 0) res.converting.splice(i, 1);
    l.requested = null;
    this.lk(l, op, { reason });
  }

  protected detach(l: LockRecord, res: Resource): void {
    removeFrom(res.granted, l);
    removeFrom(res.converting, l);
    removeFrom(res.waiting, l);
    this.owners.delete(l.owner);
  }

  protected dropIfEmpty(ls: Lockspace, res: Resource): void {
    // The value block lives while the resource has a lock (hold NL to keep it, as with the DLM).
    if (res.granted.length === 0 && res.waiting.length === 0) ls.resources.delete(res.name);
  }

  /** Purge (a member left) or revoke (a merge, a suspect lock entering a primary): the lock is gone. */
  protected removeLock(l: LockRecord, op: 'purge' | 'revoke', reason: string): void {
    const { ls, res } = this.resourceOf(l);
    if (op === 'purge' && l.granted !== null && writesValueBlock(l.granted)) res.lvbValid = false;
    this.detach(l, res);
    this.lk(l, op, { reason });
    if (this.isOwn(l) && l.granted !== null && !l.orphan) this.host.event({ ev: 'lost', ls: l.ls, res: l.res, owner: l.owner, reason: op === 'purge' ? 'purged' : 'revoked' });
    this.grantPass(ls, res);
    this.dropIfEmpty(ls, res);
  }

  /**
   * The wait-for graph over holders: a queued request waits for every granted lock it is
   * incompatible with and every request queued before it that is incompatible. A cycle's victim
   * is its request queued last; repeat until no cycle is left.
   */
  protected detectDeadlocks(): void {
    // Without a queued lock there is no wait-for edge, so no cycle.
    if (!this.anyQueued()) return;
    for (let round = 0; round < 1000; round++) {
      const victim = this.findDeadlockVictim();
      if (victim === null) return;
      this.counters.deadlocks++;
      const { ls, res } = this.resourceOf(victim);
      if (victim.granted === null && victim.group !== '') {
        this.endGroup(this.groupOf(victim), 'deny', 'deadlock');
        continue;
      }
      if (victim.granted === null) this.endRequest(victim, res, 'deny', 'deadlock');
      else this.endConversion(victim, res, 'deny', 'deadlock');
      this.grantPass(ls, res);
      this.dropIfEmpty(ls, res);
    }
    assert(false, 'deadlock resolution did not converge');
  }

  protected findDeadlockVictim(): LockRecord | null {
    return findDeadlockVictim(this.state);
  }
}
