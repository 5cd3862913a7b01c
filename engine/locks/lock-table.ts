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
 * notice, an atomic request some member holds waiting is kept or revoked whole); suspect locks
 * revoked on entering a primary; fence = max(lastFence + 1, ringSeq * 2^20);
 * deadlock victim = the request queued last in the first cycle found in table order.
 * Atomic requests (lockMany) wait as a group and are granted together or ended together;
 * persistent locks become orphans when their node leaves (adopt, purge); re-entries are counted
 * on the holder's lock up to the lockspace's limit; HEADQUE and NOORDER change queue order.
 */
import { assert } from '../assert.js';
import type { ConfigurationChange, NodeId } from '../types.js';
import { ringIdToString } from '../types.js';
import { decodeLockMessages, encodeLockMessage, type LockMessage } from './codec.js';
import { isPrimaryComponent } from './primary.js';
import { enterBarrier, failBarrier } from './barriers.js';
import { pickSyncWinner } from './sync-winner.js';
import { encodeSnapshot, hashTable, type LockRecord } from './snapshot.js';
import { dumpLockspace } from './dump.js';
import type { LockspaceDump, LockTableHost, LockTableOptions } from './lock-types.js';
import { ownerId, valueBlockBytesDefault } from './table-core.js';

import { LockTableOps } from './table-ops.js';
export type { LkOp, LockDumpRow, LockspaceDump, LockTableCounters, LockTableEvent, LockTableHost, LockTableOptions } from './lock-types.js';

export { fenceRingShift, valueBlockBytesDefault } from './table-core.js';

interface SyncRound {
  ring: string;
  ringRep: NodeId;
  ringSeq: bigint;
  received: Map<NodeId, { lastPrimarySeq: bigint; snapshot: Uint8Array }>;
  pending: { sender: NodeId; incarnation: number; message: LockMessage }[];
}
export class LockTable extends LockTableOps {
  private lastTransitionalMembers: NodeId[];
  /** Set from a regular configuration that brought members of another table until the sync completes. */
  private sync: SyncRound | null = null;
  constructor(options: LockTableOptions, host: LockTableHost) {
    super(options, host);
    this.lastTransitionalMembers = [options.nodeId];
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

  /**
   * A configuration at its place in the delivery stream (before the deliveries made in it).
   * `resync`: a regular configuration syncs the replicas even if it brought nobody new; the host
   * asks it where the replicas may have cut their streams at different points before it (the lock
   * manager does at every ring change, api/locks/lock-manager.ts). Every member must pass the same.
   */
  onConfiguration(change: ConfigurationChange, resync = false): void {
    this.members = change.members.slice();
    this.ring = ringIdToString(change.ringId);
    this.primaryNow = isPrimaryComponent(this.options.primaryRule, change.members);
    if (change.kind === 'transitional') this.onTransitional(change);
    else this.onRegular(change, resync);
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

  private onRegular(change: ConfigurationChange, resync: boolean): void {
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
    const needSync = resync || this.diverged || change.members.some((id) => !previous.has(id));
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

  /**
   * One delivered message of the lock manager's group: one operation, or a batch whose operations
   * are taken one after the other exactly as if each had been delivered alone, at this point.
   */
  onDelivery(sender: NodeId, incarnation: number, payload: Uint8Array, transitional: boolean): void {
    const decoded = decodeLockMessages(payload);
    if (!decoded.ok) {
      this.counters.malformed++;
      return;
    }
    for (const message of decoded.messages) this.onOperation(sender, incarnation, message, transitional);
  }

  private onOperation(sender: NodeId, incarnation: number, message: LockMessage, transitional: boolean): void {
    if (!this.members.includes(sender)) {
      this.counters.foreignSender++;
      return;
    }
    if (message.type === 'sync') {
      this.onSync(sender, message, transitional);
      return;
    }
    if (!this.regular && !transitional) {
      // Delivered in a new ring before the table's regular configuration (the group reports it
      // once every member has announced its groups): the sides of a merge hold different tables
      // and members here, and a member that joins the group meanwhile holds none. No replica
      // applies it; its sender's lock manager ends or resends it.
      this.dropOwn(sender, message, 'reconfigured');
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
    this.forgetQueuedHint();
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
          this.adoptLine(l, owner);
        }
        continue;
      }
      this.adoptLine(l, owner);
    }
    for (const old of oldBarriers.values()) {
      for (const b of old.barriers.values()) {
        if (b.expected === null) continue;
        const now = adopted.lockspaces.get(old.name)?.barriers.get(b.name);
        // The same instance only if the adopted table holds it pending under the same number and ring.
        if (now === undefined || now.gen !== b.gen || now.since !== b.since || now.expected === null) {
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

  /** The `adopt` line of a lock as the adopted table holds it (a sync brought it, or changed it). */
  private adoptLine(l: LockRecord, owner: string): void {
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
        const l = this.owners.get(ownerId(sender, incarnation, m.counter));
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
    this.renewMapsNow();
  }

  /** Holders, converters and waiters of every resource of a lockspace, with their ages in table ops. */
  dump(lsName: string): LockspaceDump | null {
    return dumpLockspace(this.state, lsName, !this.diverged, this.canGrant);
  }}
