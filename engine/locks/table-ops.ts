/**
 * The lock messages applied to the table (lock, lockMany, adopt, purgeOrphans, convert, unlock,
 * cancel) and departures at a cut (purge, or orphan for persistent locks), on LockTableCore's
 * queues and grants. docs/locks.md states the rules.
 */
import { assert } from '../assert.js';
import type { NodeId } from '../types.js';
import type { LockMessage } from './codec.js';
import { isUpConversion, writesValueBlock, type LockMode } from './modes.js';
import type { LockRecord, Lockspace, Resource } from './snapshot.js';

import { LockTableCore, ownerId } from './table-core.js';

export abstract class LockTableOps extends LockTableCore {
  protected applyLock(sender: NodeId, incarnation: number, m: Extract<LockMessage, { type: 'lock' }>): void {
    const owner = ownerId(sender, incarnation, m.counter);
    if (this.owners.has(owner)) {
      this.counters.duplicateLock++;
      return;
    }
    const ls = this.lockspace(m.ls, m.lvbBytes, m.reentrancyMax ?? 0);
    const res = this.resource(ls, m.res);
    const l = this.newRecord(owner, sender, incarnation, m.counter, m.holder, m.ls, m.res, m.mode, m.flags, '');
    const again = this.reentryTarget(ls, res, l);
    this.owners.set(owner, l);
    if (this.reportsLk(l)) this.lk(l, 'request', { mode: m.mode });
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
      this.enqueue(res, 'waiting', l);
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
    this.enqueue(res, 'waiting', l);
    this.notifyBlockers(res, l, m.mode);
  }

  /**
   * The lock a request re-enters: reentrancy on in the lockspace, a holder id, and a granted lock
   * of the same holder (same node and incarnation) on the resource whose mode covers the one
   * asked for, with nothing pending. Null: an ordinary request.
   */
  protected reentryTarget(ls: Lockspace, res: Resource, l: LockRecord): LockRecord | null {
    if (ls.reentrancyMax === 0 || l.holder === 0 || l.requested === null) return null;
    for (const g of res.granted) {
      if (g.node !== l.node || g.incarnation !== l.incarnation || g.holder !== l.holder || g.orphan || g.requested !== null) continue;
      if (g.granted !== null && !isUpConversion(g.granted, l.requested)) return g;
    }
    return null;
  }

  /** A lockMany whose owner ids are (partly) taken: refused whole, before anything is applied. */
  protected groupDuplicate(sender: NodeId, incarnation: number, m: Extract<LockMessage, { type: 'lockMany' }>): boolean {
    return m.items.some((_, i) => this.owners.has(ownerId(sender, incarnation, m.counter + i)));
  }

  /**
   * Atomic acquisition: every resource's lock is queued (tail, or head with HEADQUE) and the group
   * is granted at one point when every member is ready: at the head of its wait queue with no
   * conversion queued (or NOORDER) and compatible with the granted modes. Until then a member at
   * the head of its queue holds that queue (FIFO). Ended together: deny, cancel, purge, revoke.
   */
  protected applyLockMany(sender: NodeId, incarnation: number, m: Extract<LockMessage, { type: 'lockMany' }>): void {
    const ls = this.lockspace(m.ls, m.lvbBytes, m.reentrancyMax ?? 0);
    const group = ownerId(sender, incarnation, m.counter);
    const members = m.items.map((it, i) => this.newRecord(ownerId(sender, incarnation, m.counter + i), sender, incarnation, m.counter + i, m.holder, m.ls, it.res, it.mode, m.flags, group));
    for (const l of members) {
      this.owners.set(l.owner, l);
      this.lk(l, 'request', { mode: l.requested ?? undefined, group });
    }
    if (!this.canGrant && members[0]?.failIfNotPrimary === true) {
      for (const l of members) this.resource(ls, l.res);
      this.endGroup(members, 'deny', 'not-primary');
      return;
    }
    for (const l of members) {
      const res = this.resource(ls, l.res);
      this.enqueue(res, 'waiting', l);
    }
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

  /** Take over an orphan: the adopter's new lock holds the orphan's mode in its place, with a new fencing token. */
  protected applyAdopt(sender: NodeId, incarnation: number, m: Extract<LockMessage, { type: 'adopt' }>): void {
    const owner = ownerId(sender, incarnation, m.counter);
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
    const l = this.newRecord(owner, sender, incarnation, m.counter, m.holder, m.ls, m.res, m.mode, { persistent: true }, '');
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
  protected applyPurgeOrphans(m: Extract<LockMessage, { type: 'purgeOrphans' }>): void {
    const ls = this.state.lockspaces.get(m.ls);
    if (ls === undefined) return;
    const resources = m.res === '' ? [...ls.resources.values()] : [ls.resources.get(m.res)].filter((r): r is Resource => r !== undefined);
    for (const res of resources) {
      for (const o of res.granted.filter((g) => g.orphan && (m.orphan === '' || g.owner === m.orphan))) this.removeLock(o, 'purge', 'orphan');
    }
  }

  /** At a cut: the locks of nodes outside `members` are purged; granted persistent ones become orphans. */
  protected departAll(members: readonly NodeId[]): void {
    const inConf = new Set(members);
    for (const l of [...this.owners.values()]) {
      if (inConf.has(l.node) || l.orphan || !this.owners.has(l.owner)) continue;
      if (l.persistent && l.granted !== null) this.orphanize(l);
      else if (l.granted === null && l.group !== '') this.endGroup(this.groupOf(l), 'purge', 'left');
      else this.removeLock(l, 'purge', 'left');
    }
  }

  protected orphanize(l: LockRecord): void {
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

  protected applyConvert(l: LockRecord, m: Extract<LockMessage, { type: 'convert' }>): void {
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
      this.enqueue(res, 'converting', l, head);
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
    this.enqueue(res, 'converting', l, head);
    this.notifyBlockers(res, l, m.mode);
  }

  protected applyUnlock(l: LockRecord, lvb: Uint8Array | null): void {
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
      if (this.reportsLk(l)) this.lk(l, 'release', {});
    }
    this.grantPass(ls, res);
    this.dropIfEmpty(ls, res);
  }

  protected applyCancel(l: LockRecord, reason: 'cancel' | 'timeout'): void {
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

}
