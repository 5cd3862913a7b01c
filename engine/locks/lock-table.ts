/**
 * The lock table: one replica per member, applied to the lock manager's agreed messages in
 * delivery order and to configuration changes as cut points. Every member holds the whole table,
 * so a request is granted where and when it is delivered: no master, no reply, no directory.
 *
 * Rules, stated in full in docs/locks.md ("Semantics"): grants only in a primary regular
 * configuration whose table is in sync; DLM grant order (convert queue, then the wait queue FIFO);
 * departed members purged at the transitional cut, holders told at once when the cut leaves them
 * outside a primary; a regular configuration that brings another table syncs (every member
 * multicasts its table, all adopt the one of the most recent primary, the rest is revoked with
 * notice); suspect locks revoked on entering a primary; fence = max(lastFence + 1, ringSeq * 2^20);
 * deadlock victim = the request queued last in the first cycle found in table order.
 * Atomic requests (lockMany) wait as a group and are granted together or ended together;
 * persistent locks become orphans when their node leaves (adopt, purge); re-entries are counted
 * on the holder's lock up to the lockspace's limit; HEADQUE and NOORDER change queue order.
 */
import { assert } from '../assert.js';
import type { ConfigurationChange, NodeId } from '../types.js';
import { ringIdToString } from '../types.js';
import { decodeLockMessage, encodeLockMessage, type LockFlags, type LockMessage } from './codec.js';
import { isUpConversion, modeIndex, modesCompatible, writesValueBlock, type LockMode } from './modes.js';
import { isPrimaryComponent } from './primary.js';
import { enterBarrier, failBarrier, type BarrierContext } from './barriers.js';
import { pickSyncWinner } from './sync-winner.js';
import {
  encodeSnapshot,
  hashTable,
  type LockRecord,
  type Lockspace,
  type Resource,
  type TableState,
} from './snapshot.js';
import { findDeadlockVictim } from './deadlock.js';
import { dumpLockspace } from './dump.js';
import type { LkOp, LockspaceDump, LockTableCounters, LockTableEvent, LockTableHost, LockTableOptions } from './lock-types.js';

export type { LkOp, LockDumpRow, LockspaceDump, LockTableCounters, LockTableEvent, LockTableHost, LockTableOptions } from './lock-types.js';

export const valueBlockBytesDefault = 32;
/** Grants one primary configuration may issue before its tokens reach the next ring's base. */
export const fenceRingShift = 20n;
const fenceMax = (1n << 64n) - 1n;

interface SyncRound {
  ring: string;
  ringRep: NodeId;
  ringSeq: bigint;
  received: Map<NodeId, { lastPrimarySeq: bigint; snapshot: Uint8Array }>;
  pending: { sender: NodeId; incarnation: number; message: LockMessage }[];
}

export class LockTable {
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
  private state: TableState = { lockspaces: new Map(), opCount: 0, lastFence: 0n, lastPrimarySeq: 0n };
  private owners = new Map<string, LockRecord>();
  /** Waiting locks of each atomic request, by ls \0 group, in counter order. */
  private groups = new Map<string, LockRecord[]>();
  private members: NodeId[];
  private lastTransitionalMembers: NodeId[];
  private regular = false;
  private primaryNow = false;
  private ringSeq = 0n;
  private ring = '';
  /** Set from a regular configuration that brought members of another table until the sync completes. */
  private sync: SyncRound | null = null;
  private diverged = false;

  constructor(
    private readonly options: LockTableOptions,
    private readonly host: LockTableHost,
  ) {
    this.members = [options.nodeId];
    this.lastTransitionalMembers = [options.nodeId];
  }

  /** True when this replica may grant: primary regular configuration, table in sync. */
  get canGrant(): boolean {
    return this.regular && this.primaryNow && !this.diverged;
  }

  get primary(): boolean {
    return this.primaryNow;
  }

  get inSync(): boolean {
    return !this.diverged;
  }

  hash(): string {
    return hashTable(this.state);
  }

  /** A configuration at its place in the delivery stream (before the deliveries made in it). */
  onConfiguration(change: ConfigurationChange): void {
    this.members = change.members.slice();
    this.ring = ringIdToString(change.ringId);
    this.primaryNow = isPrimaryComponent(this.options.primaryRule, change.members);
    if (change.kind === 'transitional') this.onTransitional(change);
    else this.onRegular(change);
  }

  private onTransitional(change: ConfigurationChange): void {
    this.regular = false;
    this.lastTransitionalMembers = change.members.slice();
    if (this.sync !== null) {
      // The sync did not finish: its queued operations are dropped (replicas from different
      // tables may have queued different ones), and the next regular configuration syncs again.
      for (const p of this.sync.pending) this.dropOwn(p.sender, p.message, 'reconfigured');
      this.sync = null;
    }
    this.departAll(change.members);
    if (!this.primaryNow) {
      // Orphans too: a primary elsewhere may purge or re-grant them meanwhile.
      for (const l of this.owners.values()) {
        if (l.granted === null || l.suspect) continue;
        l.suspect = true;
        if (this.isOwn(l) && !l.orphan) this.host.event({ ev: 'lost', ls: l.ls, res: l.res, owner: l.owner, reason: 'transitional' });
      }
    }
    if (!this.diverged) this.host.event({ ev: 'lkstate', point: 'transitional', ring: this.ring, hash: this.hash(), primary: false });
  }

  private onRegular(change: ConfigurationChange): void {
    this.regular = true;
    this.ringSeq = change.ringId.seq;
    const previous = new Set(this.lastTransitionalMembers);
    // A barrier fails at the regular configuration after the cut that removed one of its members,
    // not at the cut itself: an entry delivered in the transitional configuration still counts,
    // as it does on the members that delivered it in the old regular configuration.
    for (const ls of this.state.lockspaces.values()) {
      for (const b of ls.barriers.values()) {
        if (b.expected !== null && !b.expected.every((id) => previous.has(id))) failBarrier(ls, b, 'configuration', this.barrierContext());
      }
    }
    const needSync = this.diverged || change.members.some((id) => !previous.has(id));
    if (needSync) {
      this.diverged = true;
      this.sync = { ring: this.ring, ringRep: change.ringId.rep, ringSeq: change.ringId.seq, received: new Map(), pending: [] };
      this.host.send(
        encodeLockMessage({
          type: 'sync',
          ringRep: change.ringId.rep,
          ringSeq: change.ringId.seq,
          lastPrimarySeq: this.state.lastPrimarySeq,
          snapshot: encodeSnapshot(this.state),
        }),
      );
      return;
    }
    this.enterReady();
    this.host.event({ ev: 'lkstate', point: 'regular', ring: this.ring, hash: this.hash(), primary: this.primaryNow });
  }

  /** The table is in sync in a regular configuration: revoke suspects if primary, grant what can be. */
  private enterReady(): void {
    if (!this.primaryNow) return;
    this.state.lastPrimarySeq = this.ringSeq;
    for (const l of [...this.owners.values()]) {
      if (l.suspect) this.removeLock(l, 'revoke', 'suspect');
    }
    for (const ls of this.state.lockspaces.values()) for (const res of [...ls.resources.values()]) this.grantPass(ls, res);
    this.detectDeadlocks();
  }

  /** One delivered message of the lock manager's group. */
  onDelivery(sender: NodeId, incarnation: number, payload: Uint8Array, transitional: boolean): void {
    const decoded = decodeLockMessage(payload);
    if (!decoded.ok) {
      this.counters.malformed++;
      return;
    }
    const message = decoded.message;
    if (!this.members.includes(sender)) {
      this.counters.foreignSender++;
      return;
    }
    if (message.type === 'sync') {
      this.onSync(sender, message, transitional);
      return;
    }
    if (message.type === 'lockMany' && this.groupDuplicate(sender, incarnation, message)) {
      this.counters.duplicateLock++;
      return;
    }
    if (this.diverged) {
      if (this.sync === null || transitional) this.dropOwn(sender, message, 'reconfigured');
      else this.sync.pending.push({ sender, incarnation, message });
      return;
    }
    this.apply(sender, incarnation, message);
  }

  private dropOwn(sender: NodeId, message: LockMessage, reason: string): void {
    this.counters.droppedInSync++;
    if (sender === this.options.nodeId) this.host.event({ ev: 'dropped', message, reason });
  }

  private onSync(sender: NodeId, m: Extract<LockMessage, { type: 'sync' }>, transitional: boolean): void {
    const round = this.sync;
    if (round === null || transitional || m.ringRep !== round.ringRep || m.ringSeq !== round.ringSeq) return;
    if (round.received.has(sender)) return;
    round.received.set(sender, { lastPrimarySeq: m.lastPrimarySeq, snapshot: m.snapshot });
    if (!this.members.every((id) => round.received.has(id))) return;
    this.completeSync(round);
  }

  private completeSync(round: SyncRound): void {
    this.counters.syncs++;
    const adopted = pickSyncWinner(round.received, this.state.lastFence);
    const oldOwners = this.owners;
    const oldBarriers = this.state.lockspaces;
    this.state = adopted;
    this.owners = new Map();
    this.groups = new Map();
    for (const ls of adopted.lockspaces.values()) {
      for (const res of ls.resources.values()) {
        for (const l of [...res.granted, ...res.waiting]) {
          this.owners.set(l.owner, l);
          if (l.group !== '') {
            const k = `${l.ls}\u0000${l.group}`;
            const list = this.groups.get(k) ?? [];
            list.push(l);
            this.groups.set(k, list);
          }
        }
      }
    }
    for (const list of this.groups.values()) list.sort((a, b) => a.counter - b.counter);
    // Members of one atomic request are revoked one after the other (the checker's atomicity).
    const revoked = new Set<string>();
    const revoke = (owner: string, l: LockRecord): void => {
      if (this.owners.has(owner) || revoked.has(owner)) return;
      revoked.add(owner);
      this.host.event({ ev: 'lk', ls: l.ls, res: l.res, op: 'revoke', owner, reason: 'merge' });
      if (this.isOwn(l) && l.granted !== null && !l.orphan) this.host.event({ ev: 'lost', ls: l.ls, res: l.res, owner, reason: 'revoked' });
    };
    for (const [owner, l] of oldOwners) {
      if (l.group !== '' && l.granted === null) {
        for (const m of [...oldOwners.values()].filter((x) => x.group === l.group && x.ls === l.ls && x.granted === null).sort((a, b) => a.counter - b.counter)) revoke(m.owner, m);
      } else revoke(owner, l);
    }
    for (const [owner, l] of this.owners) {
      const old = oldOwners.get(owner);
      if (old !== undefined) {
        // Same lock, another state in the adopted table (its owner's side went on without this
        // replica, or this side made it an orphan): say so where the checker must follow.
        if (l.orphan && !old.orphan) {
          assert(l.granted !== null, 'orphan without a mode');
          this.host.event({ ev: 'lk', ls: l.ls, res: l.res, op: 'orphan', owner, mode: l.granted, reason: 'merge' });
          if (this.isOwn(old) && old.granted !== null) this.host.event({ ev: 'lost', ls: l.ls, res: l.res, owner, reason: 'purged' });
        } else if (l.granted !== old.granted || l.requested !== old.requested || l.orphan !== old.orphan || l.depth !== old.depth) {
          const mode = l.granted ?? l.requested;
          assert(mode !== null, 'adopted lock without a mode');
          this.host.event({
            ev: 'lk',
            ls: l.ls,
            res: l.res,
            op: 'adopt',
            owner,
            mode,
            fence: l.fence,
            ...(l.granted === null ? { reason: 'queued' } : l.requested !== null ? { reason: 'converting' } : l.orphan ? { reason: 'orphan' } : {}),
            ...(l.group !== '' ? { group: l.group } : {}),
            ...(l.depth > 1 ? { depth: l.depth } : {}),
          });
        }
        continue;
      }
      const mode = l.granted ?? l.requested;
      assert(mode !== null, 'adopted lock without a mode');
      this.host.event({
        ev: 'lk',
        ls: l.ls,
        res: l.res,
        op: 'adopt',
        owner,
        mode,
        fence: l.fence,
        ...(l.granted === null ? { reason: 'queued' } : l.requested !== null ? { reason: 'converting' } : l.orphan ? { reason: 'orphan' } : {}),
        ...(l.group !== '' ? { group: l.group } : {}),
        ...(l.depth > 1 ? { depth: l.depth } : {}),
      });
    }
    for (const old of oldBarriers.values()) {
      for (const b of old.barriers.values()) {
        if (b.expected === null) continue;
        const now = adopted.lockspaces.get(old.name)?.barriers.get(b.name);
        if (now === undefined || now.gen !== b.gen || now.expected === null) {
          this.host.event({ ev: 'barrier', ls: old.name, name: b.name, op: 'fail', ring: this.ring, gen: b.gen, since: b.since, node: this.options.nodeId, reason: 'merge' });
        }
      }
    }
    this.diverged = false;
    this.sync = null;
    // A snapshot taken before a cut may still hold locks of members gone since: purge them here,
    // at the same point on every replica.
    this.departAll(this.members);
    this.enterReady();
    this.host.event({ ev: 'lkstate', point: 'sync', ring: this.ring, hash: this.hash(), primary: this.primaryNow });
    for (const p of round.pending) this.apply(p.sender, p.incarnation, p.message);
  }

  private isOwn(l: LockRecord): boolean {
    return l.node === this.options.nodeId && l.incarnation === this.options.incarnation;
  }

  private lockspace(name: string, lvbBytes: number, reentrancyMax = 0): Lockspace {
    let ls = this.state.lockspaces.get(name);
    if (ls === undefined) {
      ls = { name, lvbBytes, reentrancyMax, resources: new Map(), barriers: new Map() };
      this.state.lockspaces.set(name, ls);
    }
    return ls;
  }

  private resourceOf(l: LockRecord): { ls: Lockspace; res: Resource } {
    const ls = this.state.lockspaces.get(l.ls);
    const res = ls?.resources.get(l.res);
    assert(ls !== undefined && res !== undefined, `lock ${l.owner} has no resource`);
    return { ls, res };
  }

  private apply(sender: NodeId, incarnation: number, m: LockMessage): void {
    this.counters.opsApplied++;
    this.state.opCount++;
    switch (m.type) {
      case 'lock':
        this.applyLock(sender, incarnation, m);
        break;
      case 'lockMany':
        this.applyLockMany(sender, incarnation, m);
        break;
      case 'adopt':
        this.applyAdopt(sender, incarnation, m);
        break;
      case 'purgeOrphans':
        this.applyPurgeOrphans(m);
        break;
      case 'convert':
      case 'unlock':
      case 'cancel': {
        const l = this.owners.get(`${sender}:${incarnation}:${m.counter}`);
        if (l === undefined) {
          this.counters.unknownLock++;
          return;
        }
        if (l.orphan) {
          // Held by nobody: only adopt and purge apply to an orphan.
          this.counters.orphanOp++;
          return;
        }
        if (m.type === 'convert') this.applyConvert(l, m);
        else if (m.type === 'unlock') this.applyUnlock(l, m.lvb);
        else this.applyCancel(l, m.reason);
        break;
      }
      case 'barrier':
        enterBarrier(this.lockspace(m.ls, valueBlockBytesDefault), sender, m.name, m.members, this.barrierContext());
        break;
      case 'sync':
        assert(false, 'sync messages are handled before apply');
    }
    this.detectDeadlocks();
  }

  private applyLock(sender: NodeId, incarnation: number, m: Extract<LockMessage, { type: 'lock' }>): void {
    const owner = `${sender}:${incarnation}:${m.counter}`;
    if (this.owners.has(owner)) {
      this.counters.duplicateLock++;
      return;
    }
    const ls = this.lockspace(m.ls, m.lvbBytes, m.reentrancyMax ?? 0);
    const res = this.resource(ls, m.res);
    const l = this.newRecord(sender, incarnation, m.counter, m.holder, m.ls, m.res, m.mode, m.flags, '');
    const again = this.reentryTarget(ls, res, l);
    this.owners.set(owner, l);
    this.lk(l, 'request', { mode: m.mode });
    if (again !== null) {
      // Reentrancy: the holder holds the resource in a mode that covers this one; count a hold.
      this.owners.delete(owner);
      if (again.suspect) return this.lk(l, 'deny', { reason: 'suspect' });
      if (again.depth >= ls.reentrancyMax) return this.lk(l, 'deny', { reason: 'reentrancy-limit' });
      again.depth++;
      this.lk(l, 'reenter', { mode: again.granted ?? m.mode, fence: again.fence, of: again.owner, depth: again.depth });
      return;
    }
    if (!this.canGrant) {
      if (l.failIfNotPrimary) return this.endRequest(l, res, 'deny', 'not-primary');
      this.enqueue(res.waiting, l);
      return;
    }
    const ahead = l.noOrder || (res.converting.length === 0 && (res.waiting.length === 0 || l.headQueue));
    if (ahead && this.compatibleWithGranted(res, m.mode, l)) {
      this.grant(ls, res, l);
      return;
    }
    if (l.noQueue) {
      if (l.notifyOnNoQueue) this.notifyBlockers(res, l, m.mode);
      return this.endRequest(l, res, 'deny', 'would-block');
    }
    this.enqueue(res.waiting, l);
    this.notifyBlockers(res, l, m.mode);
  }

  private resource(ls: Lockspace, name: string): Resource {
    let res = ls.resources.get(name);
    if (res === undefined) {
      res = { name, granted: [], converting: [], waiting: [], lvb: new Uint8Array(ls.lvbBytes), lvbValid: false };
      ls.resources.set(name, res);
    }
    return res;
  }

  private newRecord(
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
      owner: `${sender}:${incarnation}:${counter}`,
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

  /** HEADQUE: at the head of the queue; else at the tail. */
  private enqueue(queue: LockRecord[], l: LockRecord & { headQueue?: boolean }, head = l.headQueue === true): void {
    if (head) queue.unshift(l);
    else queue.push(l);
  }

  /**
   * The lock a request re-enters: reentrancy on in the lockspace, a holder id, and a granted lock
   * of the same holder (same node and incarnation) on the resource whose mode covers the one
   * asked for, with nothing pending. Null: an ordinary request.
   */
  private reentryTarget(ls: Lockspace, res: Resource, l: LockRecord): LockRecord | null {
    if (ls.reentrancyMax === 0 || l.holder === 0 || l.requested === null) return null;
    for (const g of res.granted) {
      if (g.node !== l.node || g.incarnation !== l.incarnation || g.holder !== l.holder || g.orphan || g.requested !== null) continue;
      if (g.granted !== null && !isUpConversion(g.granted, l.requested)) return g;
    }
    return null;
  }

  /** A lockMany whose owner ids are (partly) taken: refused whole, before anything is applied. */
  private groupDuplicate(sender: NodeId, incarnation: number, m: Extract<LockMessage, { type: 'lockMany' }>): boolean {
    return m.items.some((_, i) => this.owners.has(`${sender}:${incarnation}:${m.counter + i}`));
  }

  /**
   * Atomic acquisition: every resource's lock is queued (tail, or head with HEADQUE) and the group
   * is granted at one point when every member is ready: at the head of its wait queue with no
   * conversion queued (or NOORDER) and compatible with the granted modes. Until then a member at
   * the head of its queue holds that queue (FIFO). Ended together: deny, cancel, purge, revoke.
   */
  private applyLockMany(sender: NodeId, incarnation: number, m: Extract<LockMessage, { type: 'lockMany' }>): void {
    const ls = this.lockspace(m.ls, m.lvbBytes, m.reentrancyMax ?? 0);
    const group = `${sender}:${incarnation}:${m.counter}`;
    const members = m.items.map((it, i) => this.newRecord(sender, incarnation, m.counter + i, m.holder, m.ls, it.res, it.mode, m.flags, group));
    for (const l of members) {
      this.owners.set(l.owner, l);
      this.lk(l, 'request', { mode: l.requested ?? undefined, group });
    }
    if (!this.canGrant && members[0]?.failIfNotPrimary === true) {
      for (const l of members) this.resource(ls, l.res);
      this.endGroup(members, 'deny', 'not-primary');
      return;
    }
    for (const l of members) this.enqueue(this.resource(ls, l.res).waiting, l);
    this.groups.set(`${m.ls}\u0000${group}`, members);
    if (!this.canGrant) return;
    const work: Resource[] = [];
    if (this.tryGrantGroup(members[0] as LockRecord, work)) {
      for (const r of work) this.grantPass(ls, r);
      return;
    }
    if (members[0]?.noQueue === true) {
      if (members[0].notifyOnNoQueue) for (const l of members) this.notifyBlockers(this.resourceOf(l).res, l, l.requested as LockMode);
      this.endGroup(members, 'deny', 'would-block');
      return;
    }
    for (const l of members) this.notifyBlockers(this.resourceOf(l).res, l, l.requested as LockMode);
  }

  private groupOf(l: LockRecord): LockRecord[] {
    if (l.group === '' || l.granted !== null) return [l];
    return this.groups.get(`${l.ls}\u0000${l.group}`) ?? [l];
  }

  /** Ready: compatible with every granted mode, and first in line (or NOORDER). */
  private ready(res: Resource, l: LockRecord): boolean {
    assert(l.requested !== null, 'ready without a request');
    if (!this.compatibleWithGranted(res, l.requested, l)) return false;
    return l.noOrder || (res.converting.length === 0 && res.waiting[0] === l);
  }

  /** Grant every member of l's group at this one point when all are ready; their resources go to `work`. */
  private tryGrantGroup(l: LockRecord, work: Resource[]): boolean {
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
  private endGroup(members: LockRecord[], op: 'deny' | 'cancel' | 'purge', reason: string | undefined): void {
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

  /** Take over an orphan: the adopter's new lock holds the orphan's mode in its place, with a new fencing token. */
  private applyAdopt(sender: NodeId, incarnation: number, m: Extract<LockMessage, { type: 'adopt' }>): void {
    const owner = `${sender}:${incarnation}:${m.counter}`;
    if (this.owners.has(owner)) {
      this.counters.duplicateLock++;
      return;
    }
    const event = { ev: 'lk' as const, ls: m.ls, res: m.res, owner };
    this.host.event({ ...event, op: 'request', mode: m.mode, reason: 'adopt' });
    const ls = this.state.lockspaces.get(m.ls);
    const res = ls?.resources.get(m.res);
    const orphan = res?.granted.find((g) => g.orphan && g.granted === m.mode && (m.orphan === '' || g.owner === m.orphan));
    if (ls === undefined || res === undefined || orphan === undefined) return this.host.event({ ...event, op: 'deny', reason: 'no-orphan' });
    // Adoption is a grant: only where grants are made.
    if (!this.canGrant) return this.host.event({ ...event, op: 'deny', reason: 'not-primary' });
    const l = this.newRecord(sender, incarnation, m.counter, m.holder, m.ls, m.res, m.mode, { persistent: true }, '');
    l.granted = m.mode;
    l.requested = null;
    l.fence = this.nextFence();
    l.grantedAt = this.state.opCount;
    res.granted[res.granted.indexOf(orphan)] = l;
    this.owners.delete(orphan.owner);
    this.owners.set(owner, l);
    this.lk(l, 'grant', { mode: m.mode, fence: l.fence, orphan: orphan.owner });
    this.held(l, res);
  }

  /** Remove orphans (all of a resource, of every resource of the lockspace, or one by id). */
  private applyPurgeOrphans(m: Extract<LockMessage, { type: 'purgeOrphans' }>): void {
    const ls = this.state.lockspaces.get(m.ls);
    if (ls === undefined) return;
    const resources = m.res === '' ? [...ls.resources.values()] : [ls.resources.get(m.res)].filter((r): r is Resource => r !== undefined);
    for (const res of resources) {
      for (const o of res.granted.filter((g) => g.orphan && (m.orphan === '' || g.owner === m.orphan))) this.removeLock(o, 'purge', 'orphan');
    }
  }

  /** At a cut: the locks of nodes outside `members` are purged; granted persistent ones become orphans. */
  private departAll(members: readonly NodeId[]): void {
    const inConf = new Set(members);
    for (const l of [...this.owners.values()]) {
      if (inConf.has(l.node) || l.orphan || !this.owners.has(l.owner)) continue;
      if (l.persistent && l.granted !== null) this.orphanize(l);
      else if (l.granted === null && l.group !== '') this.endGroup(this.groupOf(l), 'purge', 'left');
      else this.removeLock(l, 'purge', 'left');
    }
  }

  private orphanize(l: LockRecord): void {
    const { ls, res } = this.resourceOf(l);
    if (l.requested !== null) this.endConversion(l, res, 'deny', 'left');
    assert(l.granted !== null, 'orphan without a mode');
    l.orphan = true;
    l.depth = 1;
    l.bastMask = 0;
    this.lk(l, 'orphan', { mode: l.granted, reason: 'left' });
    if (this.isOwn(l)) this.host.event({ ev: 'lost', ls: l.ls, res: l.res, owner: l.owner, reason: 'purged' });
    this.grantPass(ls, res);
  }

  private applyConvert(l: LockRecord, m: Extract<LockMessage, { type: 'convert' }>): void {
    const { ls, res } = this.resourceOf(l);
    if (l.granted === null || l.requested !== null) {
      // A conversion while a request of this lock is pending is refused at once; it never
      // entered the table, so it has no request line (the checker knows "in-progress").
      this.lk(l, 'deny', { mode: m.mode, reason: 'in-progress' });
      return;
    }
    this.lk(l, 'request', { mode: m.mode });
    const from = l.granted;
    if (!isUpConversion(from, m.mode)) {
      if (writesValueBlock(from) && m.lvb !== null) this.writeValueBlock(ls, res, m.lvb);
      l.granted = m.mode;
      l.bastMask = 0;
      l.grantedAt = this.state.opCount;
      this.lk(l, 'convert', { mode: m.mode });
      this.held(l, res);
      this.grantPass(ls, res);
      return;
    }
    l.noQueue = m.flags.noQueue === true;
    l.notifyOnNoQueue = m.flags.notifyOnNoQueue === true;
    l.failIfNotPrimary = m.flags.failIfNotPrimary === true;
    l.noOrder = m.flags.noOrder === true;
    const head = m.flags.headQueue === true;
    if (!this.canGrant) {
      if (l.failIfNotPrimary) {
        this.lk(l, 'deny', { reason: 'not-primary' });
        return;
      }
      l.requested = m.mode;
      l.queuedAt = this.state.opCount;
      this.enqueue(res.converting, l, head);
      return;
    }
    // First come first served among conversions (the DLM's QUECVT behaviour); NOORDER, or HEADQUE
    // (it would be first), lets a compatible conversion pass the queued ones.
    if ((res.converting.length === 0 || l.noOrder || head) && this.compatibleWithGranted(res, m.mode, l)) {
      l.granted = m.mode;
      l.fence = this.nextFence();
      l.bastMask = 0;
      l.grantedAt = this.state.opCount;
      this.lk(l, 'convert', { mode: m.mode, fence: l.fence });
      this.held(l, res);
      return;
    }
    if (l.noQueue) {
      if (l.notifyOnNoQueue) this.notifyBlockers(res, l, m.mode);
      this.lk(l, 'deny', { reason: 'would-block' });
      return;
    }
    l.requested = m.mode;
    l.queuedAt = this.state.opCount;
    this.enqueue(res.converting, l, head);
    this.notifyBlockers(res, l, m.mode);
  }

  private applyUnlock(l: LockRecord, lvb: Uint8Array | null): void {
    const { ls, res } = this.resourceOf(l);
    if (l.granted === null && l.group !== '') {
      this.endGroup(this.groupOf(l), 'cancel', undefined);
      return;
    }
    if (l.granted === null) {
      this.endRequest(l, res, 'cancel', undefined);
    } else {
      if (l.requested !== null) this.endConversion(l, res, 'cancel', undefined);
      if (l.depth > 1) {
        // One hold of a re-entered lock: the lock stays until its last hold is released.
        l.depth--;
        this.lk(l, 'release', { depth: l.depth });
        this.grantPass(ls, res);
        return;
      }
      if (writesValueBlock(l.granted) && lvb !== null) this.writeValueBlock(ls, res, lvb);
      this.detach(l, res);
      this.lk(l, 'release', {});
    }
    this.grantPass(ls, res);
    this.dropIfEmpty(ls, res);
  }

  private applyCancel(l: LockRecord, reason: 'cancel' | 'timeout'): void {
    const { ls, res } = this.resourceOf(l);
    if (l.requested === null) {
      this.counters.lateCancel++;
      return;
    }
    const op = reason === 'timeout' ? 'deny' : 'cancel';
    const why = reason === 'timeout' ? 'timeout' : undefined;
    if (l.granted === null && l.group !== '') return this.endGroup(this.groupOf(l), op, why);
    if (l.granted === null) this.endRequest(l, res, op, why);
    else this.endConversion(l, res, op, why);
    this.grantPass(ls, res);
    this.dropIfEmpty(ls, res);
  }

  private barrierContext(): BarrierContext {
    return { members: this.members, ring: this.ring, nodeId: this.options.nodeId, emit: (e) => this.host.event(e), counters: this.counters };
  }

  private writeValueBlock(ls: Lockspace, res: Resource, lvb: Uint8Array): void {
    if (lvb.length !== ls.lvbBytes) {
      this.counters.badValueBlock++;
      return;
    }
    res.lvb = lvb.slice();
    res.lvbValid = true;
  }

  private nextFence(): bigint {
    const base = this.ringSeq << fenceRingShift;
    let fence = this.state.lastFence + 1n;
    if (base > fence) fence = base;
    assert(fence <= fenceMax, 'fencing token beyond 64 bits');
    this.state.lastFence = fence;
    return fence;
  }

  private compatibleWithGranted(res: Resource, mode: LockMode, self: LockRecord): boolean {
    for (const g of res.granted) {
      if (g === self) continue;
      assert(g.granted !== null, 'granted list holds a lock without a mode');
      if (!modesCompatible(g.granted, mode)) return false;
    }
    return true;
  }

  private grant(ls: Lockspace, res: Resource, l: LockRecord): void {
    assert(l.requested !== null, 'grant without a request');
    void ls;
    l.granted = l.requested;
    l.requested = null;
    l.fence = this.nextFence();
    l.bastMask = 0;
    l.grantedAt = this.state.opCount;
    res.granted.push(l);
    this.lk(l, 'grant', { mode: l.granted, fence: l.fence });
    this.held(l, res);
  }

  /**
   * DLM grant order: conversions first (each when compatible), then new locks strictly FIFO (an
   * atomic request's member at the head waits there until all its members are ready), then NOORDER
   * requests anywhere in the wait queue that are compatible. Resources whose queues an atomic grant
   * changed are passed over too.
   */
  private grantPass(ls: Lockspace, first: Resource): void {
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

  private grantPassOne(ls: Lockspace, res: Resource, work: Resource[]): void {
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
  private notifyBlockers(res: Resource, waiter: LockRecord, mode: LockMode): void {
    const bit = 1 << modeIndex(mode);
    for (const g of res.granted) {
      if (g === waiter || g.granted === null || g.orphan || modesCompatible(g.granted, mode)) continue;
      if ((g.bastMask & bit) !== 0) continue;
      g.bastMask |= bit;
      this.lk(g, 'bast', { mode });
    }
  }

  private held(l: LockRecord, res: Resource): void {
    if (!this.isOwn(l) || l.granted === null) return;
    this.host.event({ ev: 'held', ls: l.ls, res: l.res, owner: l.owner, mode: l.granted, fence: l.fence, lvb: res.lvbValid ? res.lvb.slice() : null });
  }

  private lk(
    l: LockRecord,
    op: LkOp,
    extra: { mode?: LockMode | undefined; fence?: bigint; reason?: string | undefined; group?: string; orphan?: string; of?: string; depth?: number },
  ): void {
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
  private endRequest(l: LockRecord, res: Resource, op: 'deny' | 'cancel', reason: string | undefined): void {
    const i = res.waiting.indexOf(l);
    if (i >= 0) res.waiting.splice(i, 1);
    this.owners.delete(l.owner);
    this.lk(l, op, { reason });
  }

  /** A conversion ends without a grant: the lock keeps its granted mode. */
  private endConversion(l: LockRecord, res: Resource, op: 'deny' | 'cancel', reason: string | undefined): void {
    const i = res.converting.indexOf(l);
    if (i >= 0) res.converting.splice(i, 1);
    l.requested = null;
    this.lk(l, op, { reason });
  }

  private detach(l: LockRecord, res: Resource): void {
    for (const q of [res.granted, res.converting, res.waiting]) {
      const i = q.indexOf(l);
      if (i >= 0) q.splice(i, 1);
    }
    this.owners.delete(l.owner);
  }

  private dropIfEmpty(ls: Lockspace, res: Resource): void {
    // The value block lives while the resource has a lock (hold NL to keep it, as with the DLM).
    if (res.granted.length === 0 && res.waiting.length === 0) ls.resources.delete(res.name);
  }

  /** Purge (a member left) or revoke (a merge, a suspect lock entering a primary): the lock is gone. */
  private removeLock(l: LockRecord, op: 'purge' | 'revoke', reason: string): void {
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
  private detectDeadlocks(): void {
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

  private findDeadlockVictim(): LockRecord | null {
    return findDeadlockVictim(this.state);
  }

  /** Holders, converters and waiters of every resource of a lockspace, with their ages in table ops. */
  dump(lsName: string): LockspaceDump | null {
    return dumpLockspace(this.state, lsName, !this.diverged, this.canGrant);
  }
}
