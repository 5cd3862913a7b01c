/**
 * The lock manager on a node: every member that opens it joins one group (`totem-locks` by
 * default) and keeps a replica of the lock table (engine/locks), applied to that group's messages
 * in delivery order and to its membership changes as cut points. A request is an agreed
 * multicast (the operations of one burst of callbacks travel as one batch, lock-outbox.ts); it is
 * granted (or queued, or denied) where and when it is delivered, on every member alike.
 * docs/locks.md describes the API and the guarantees.
 *
 * The table's members are the group's members, and its configurations are cut where the group's
 * views change (engine/locks/group-cuts.ts): a member's ordered join starts a table sync at the
 * same point of the stream everywhere, a member that leaves or fails is purged at its cut, and a
 * merge syncs the replicas.
 */
import { EventEmitter } from 'node:events';
import type { EvsNode } from '../node.js';
import type { Group } from '../group.js';
import type { GroupMembershipEvent, GroupMessage, NodeId } from '../events.js';
import { cutConfiguration, groupCuts } from '../../engine/locks/group-cuts.js';
import { encodeLockMessage, isBatchable, lockBatchBytesMax, multiResourcesMax, resourceNameBytesMax, type LockMessage } from '../../engine/locks/codec.js';
import { LockTable, type LockspaceDump, type LockTableEvent } from '../../engine/locks/lock-table.js';
import type { LockMode } from '../../engine/locks/modes.js';
import type { PrimaryRule } from '../../engine/locks/primary.js';
import { denyError, LockError } from './errors.js';
import { LockLatencyRecorder, type LockLatencies, type LockLatencyName } from './lock-latency.js';
import { LockTraceWriter } from '../../workers/trace/lock-trace.js';
import { kAdopt, kBarrier, kConvert, kDepth, kHeld, kLockMany, kLost, kPurgeOrphans, kRequest, kUnlock } from './internal.js';
import { LockHandle, Lockspace } from './handles.js';
import { flagsOf, lockspaceOptionsOf, modeError, primaryRuleOf, resourceNameTooLong, type LockManagerEvents, type LockManagerOptions, type LockOptions, type LockspaceOptions } from './lock-options.js';
import { kAddMetrics, kBeforeClose, kTraceDir } from '../node/evs-node.js';
import { LockOutbox } from './lock-outbox.js';
import { Pending, PendingRequests } from './pending.js';
import type { LatencyHistogram } from '../commands/latency.js';

export { LockHandle, Lockspace } from './handles.js';
export type { LockManagerEvents, LockManagerOptions, LockOptions, LockspaceOptions } from './lock-options.js';

export const lockGroupDefault = 'totem-locks';

export class LockManager extends EventEmitter<LockManagerEvents> {
  private readonly table: LockTable;
  private readonly pending = new PendingRequests();
  private handles = new Map<number, LockHandle>();
  private readonly barriers = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  private readonly lockspaces = new Map<string, Lockspace>();
  private counterNext = 1;
  private groupMembers: readonly NodeId[] = [];
  private primaryNow = false;
  private closed = false;
  private readonly latency: LockLatencyRecorder;
  /** Own locks with a blocking notice since their grant: counter -> when the first notice came. */
  private readonly blockedSinceMs = new Map<number, number>();
  /** When the configuration change that stopped grants began; null while granting. */
  private recoveryStartMs: number | null = null;
  private readonly trace: LockTraceWriter | null;
  private readonly removeMetrics: () => void;
  private readonly removeBeforeClose: () => void;
  private readonly outbox: LockOutbox;
  /**
   * Between a ring change's cut (the group's transitional event) and its regular event, what no
   * replica would apply there (engine/locks/lock-table.ts): operations wait here, in order, and
   * go out at the regular event, after the table's sync.
   */
  private cutOpen = false;
  private held: LockMessage[] = [];
  /** "<node>:<incarnation>:": the owner ids of this node's locks start with it. */
  private readonly ownPrefix: string;

  /** @internal use openLockManager() */
  constructor(
    readonly node: EvsNode,
    private readonly group: Group<Uint8Array>,
    rule: PrimaryRule,
    private readonly onTableEvent: ((e: LockTableEvent) => void) | undefined,
  ) {
    super();
    this.latency = new LockLatencyRecorder(node.nodeId);
    const traceDir = node[kTraceDir];
    this.trace = traceDir === null ? null : new LockTraceWriter(traceDir, node.nodeId, node.incarnation);
    this.removeMetrics = node[kAddMetrics](() => this.latency.prometheusText());
    this.ownPrefix = `${node.nodeId}:${node.incarnation}:`;
    this.outbox = new LockOutbox(Math.min(node.messageBytesMax, lockBatchBytesMax), (payload, ops) =>
      this.send(payload, 'agreed', (error) => {
        for (const m of ops) this.refused(m, error);
      }),
    );
    // Operations asked before node.close() go out before the node's leaves, as they would unbatched.
    this.removeBeforeClose = node[kBeforeClose](() => this.sendAll());
    const ownLkEventsOnly = this.trace === null && onTableEvent === undefined;
    this.table = new LockTable({ nodeId: node.nodeId, incarnation: node.incarnation, primaryRule: rule, ownLkEventsOnly }, {
      event: (e) => this.onEvent(e),
      send: (payload) => {
        // A sync comes after the operations asked before it.
        this.outbox.flush();
        this.send(payload, 'agreed');
      },
    });
    group.on('membership', (e) => this.onMembership(e));
    // A node closed under the lock manager: nothing it waits for can come any more.
    node.once('close', () => void this.close());
    group.on('message', (m) => this.onMessage(m));
  }

  /** Whether this node's configuration may grant (a primary component, table in sync). */
  get primary(): boolean {
    return this.primaryNow;
  }

  /** The lock manager's members (the group's), ascending. */
  get members(): readonly NodeId[] {
    return this.groupMembers;
  }

  /** Wait until the ring has `n` members or all of `ids` (the node's waitForMembers). */
  waitForMembers(target: number | readonly NodeId[], options: { signal?: AbortSignal } = {}): Promise<readonly NodeId[]> {
    return this.node.waitForMembers(target, options);
  }

  /**
   * A lockspace. `lvbBytes` (value block size) and `reentrancyMax` (holds one lock may count by
   * re-entry; 0, the default, turns reentrancy off) are fixed cluster-wide by its first request.
   */
  lockspace(name: string, options: LockspaceOptions = {}): Lockspace {
    const { lvbBytes, reentrancyMax } = lockspaceOptionsOf(options);
    let ls = this.lockspaces.get(name);
    if (ls === undefined) {
      ls = new Lockspace(this, name, lvbBytes, reentrancyMax);
      this.lockspaces.set(name, ls);
    }
    return ls;
  }

  /** Holders, converters, waiters (ages in table operations) and pending barriers of a lockspace. */
  dump(lockspace: string): LockspaceDump | null {
    return this.table.dump(lockspace);
  }

  get counters(): LockTable['counters'] {
    return this.table.counters;
  }

  /**
   * Latency percentiles in µs measured on this node (api/locks/lock-latency.ts): acquire (lock()
   * to grant), blockingToRelease (a blocking notice on an own lock to its release), recovery (a
   * configuration change to granting again). `reset` empties them after reading.
   */
  latencies(options: { reset?: boolean } = {}): LockLatencies {
    const summary = this.latency.summary();
    if (options.reset === true) this.latency.reset();
    return summary;
  }

  /** The hdr histogram behind one of `latencies()` (to merge across nodes). */
  latencyHistogram(name: LockLatencyName): LatencyHistogram {
    return this.latency.histogram(name);
  }

  /** Release nothing, leave the group: the other members purge this node's locks at the leave. */
  async close(): Promise<void> {
    if (this.closed) return;
    // What was asked before close() is sent before the leave, as it would have been unbatched.
    this.sendAll();
    this.removeBeforeClose();
    this.closed = true;
    const closedError = new LockError('TOTEM_ERR_LOCK_CLOSED', 'the lock manager is closed');
    for (const p of this.pending.settleAll()) p.reject(closedError);
    for (const h of this.handles.values()) h[kLost]('closed');
    for (const b of this.barriers.values()) b.reject(closedError);
    this.barriers.clear();
    this.removeMetrics();
    await this.group.leave().catch(() => undefined);
    this.trace?.close();
  }

  // ----------------------------------------------------------------------------------------------

  /** @internal */
  [kRequest](ls: Lockspace, res: string, mode: LockMode, options: LockOptions): Promise<LockHandle> {
    this.checkOpen();
    const invalid = modeError(mode) ?? (resourceNameTooLong(res) ? new LockError('TOTEM_ERR_LOCK_INVALID', `resource names are at most ${resourceNameBytesMax} bytes`) : null);
    if (invalid !== null) return Promise.reject(invalid);
    if (options.signal?.aborted === true) return Promise.reject(new LockError('TOTEM_ERR_LOCK_CANCELLED', 'aborted before the request was sent'));
    const counter = this.counterNext++;
    const holder = options.holder ?? 0;
    return new Promise<LockHandle>((resolve, reject) => {
      const p = this.track(counter, 'lock', ls, res, null, resolve, reject, options);
      void p;
      this.message({ type: 'lock', counter, holder, ls: ls.name, res, mode, flags: flagsOf(options), lvbBytes: ls.lvbBytes, reentrancyMax: ls.reentrancyMax });
    });
  }

  /** @internal */
  async [kLockMany](ls: Lockspace, items: readonly { resource: string; mode: LockMode }[], options: LockOptions): Promise<LockHandle[]> {
    this.checkOpen();
    if (!Array.isArray(items) || items.length < 1 || items.length > multiResourcesMax) {
      throw new LockError('TOTEM_ERR_LOCK_INVALID', `an atomic request names 1..${multiResourcesMax} resources`);
    }
    if (new Set(items.map((it) => it.resource)).size !== items.length) throw new LockError('TOTEM_ERR_LOCK_INVALID', 'a resource is named twice');
    for (const it of items) {
      const invalid = modeError(it.mode);
      if (invalid !== null) throw invalid;
      if (typeof it.resource !== 'string' || resourceNameTooLong(it.resource)) {
        throw new LockError('TOTEM_ERR_LOCK_INVALID', `resource names are strings of at most ${resourceNameBytesMax} bytes`);
      }
    }
    if (options.signal?.aborted === true) throw new LockError('TOTEM_ERR_LOCK_CANCELLED', 'aborted before the request was sent');
    const counter = this.counterNext;
    this.counterNext += items.length;
    // One pending entry per lock; the timeout and the signal cancel through the first (the table ends all together).
    const grants = items.map(
      (it, i) => new Promise<LockHandle>((resolve, reject) => void this.track(counter + i, 'lock', ls, it.resource, null, resolve, reject, i === 0 ? options : {})),
    );
    this.message({
      type: 'lockMany',
      counter,
      holder: options.holder ?? 0,
      ls: ls.name,
      items: items.map((it) => ({ res: it.resource, mode: it.mode })),
      flags: flagsOf(options),
      lvbBytes: ls.lvbBytes,
      reentrancyMax: ls.reentrancyMax,
    });
    const settled = await Promise.allSettled(grants);
    const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed === undefined) return settled.map((x) => (x as PromiseFulfilledResult<LockHandle>).value);
    // Granted together and then given up (the caller aborted after the grant): release every lock.
    for (const x of settled) if (x.status === 'fulfilled') void x.value.unlock().catch(() => undefined);
    throw failed.reason;
  }

  /** @internal */
  [kAdopt](ls: Lockspace, res: string, mode: LockMode, options: { orphan?: string; holder?: number }): Promise<LockHandle> {
    this.checkOpen();
    const invalid = modeError(mode);
    if (invalid !== null) return Promise.reject(invalid);
    const orphan = options.orphan ?? '';
    if (!/^$|^[1-9][0-9]{0,9}:[0-9]{1,16}:[0-9]{1,10}$/.test(orphan)) return Promise.reject(new LockError('TOTEM_ERR_LOCK_INVALID', `orphan must be a lock id "<node>:<incarnation>:<counter>"`));
    const counter = this.counterNext++;
    return new Promise<LockHandle>((resolve, reject) => {
      this.track(counter, 'lock', ls, res, null, resolve, reject, {});
      this.message({ type: 'adopt', counter, holder: options.holder ?? 0, ls: ls.name, res, mode, orphan });
    });
  }

  /** @internal */
  [kPurgeOrphans](ls: Lockspace, options: { resource?: string; orphan?: string }): void {
    this.checkOpen();
    this.message({ type: 'purgeOrphans', ls: ls.name, res: options.resource ?? '', orphan: options.orphan ?? '' });
  }

  /** @internal */
  [kConvert](h: LockHandle, mode: LockMode, options: LockOptions & { valueBlock?: Uint8Array }): Promise<LockHandle> {
    this.checkOpen();
    const invalid = modeError(mode);
    if (invalid !== null) return Promise.reject(invalid);
    if (this.pending.has(h.counter)) return Promise.reject(new LockError('TOTEM_ERR_LOCK_IN_PROGRESS', 'another request of this lock is pending'));
    return new Promise<LockHandle>((resolve, reject) => {
      this.track(h.counter, 'convert', h.lockspace, h.resource, h, resolve, reject, options);
      this.message({
        type: 'convert',
        counter: h.counter,
        mode,
        flags: flagsOf(options),
        lvb: options.valueBlock ?? null,
      });
    });
  }

  /** @internal */
  [kUnlock](h: LockHandle, valueBlock: Uint8Array | null): Promise<void> {
    this.checkOpen();
    const converting = this.pending.settle(h.counter);
    if (converting !== undefined) {
      // The table cancels the conversion as it releases the lock: that conversion ends here.
      converting.reject(new LockError('TOTEM_ERR_LOCK_RELEASED', `convert ${h.lockspace.name}/${h.resource}: the lock was unlocked meanwhile`));
    }
    return new Promise<void>((resolve, reject) => {
      this.track(h.counter, 'unlock', h.lockspace, h.resource, h, () => resolve(), reject, {});
      this.message({ type: 'unlock', counter: h.counter, lvb: valueBlock });
    });
  }

  /** @internal */
  [kBarrier](ls: Lockspace, name: string, members: readonly NodeId[] | null, signal: AbortSignal | undefined): Promise<void> {
    this.checkOpen();
    const key = `${ls.name}\u0000${name}`;
    if (this.barriers.has(key)) return Promise.reject(new LockError('TOTEM_ERR_LOCK_IN_PROGRESS', `barrier ${name} is already entered here`));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.barriers.delete(key);
        reject(new LockError('TOTEM_ERR_LOCK_CANCELLED', `barrier ${name}: aborted here (the other members still wait for this one)`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.barriers.set(key, {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      this.message({ type: 'barrier', ls: ls.name, name, members: members === null ? null : [...members] });
    });
  }

  private track(
    counter: number,
    kind: Pending['kind'],
    ls: Lockspace,
    res: string,
    handle: LockHandle | null,
    resolve: (h: LockHandle) => void,
    reject: (e: unknown) => void,
    options: LockOptions,
  ): Pending {
    const p = new Pending(kind, resolve, reject, handle, ls, res);
    if (options.timeoutMs !== undefined || options.signal !== undefined) p.watch(options, (reason) => this.message({ type: 'cancel', counter, reason }));
    this.pending.add(counter, p);
    return p;
  }

  private checkOpen(): void {
    if (this.closed || this.node.state !== 'open') throw new LockError('TOTEM_ERR_LOCK_CLOSED', 'the lock manager is closed');
  }

  /** Send what waits (held at a cut, or for the end of a burst) now. */
  private sendAll(): void {
    this.cutOpen = false;
    const held = this.held;
    this.held = [];
    for (const m of held) this.message(m);
    this.outbox.flush();
  }

  private message(m: LockMessage): void {
    if (this.cutOpen) {
      this.held.push(m);
      return;
    }
    if (isBatchable(m)) {
      this.outbox.push(m);
      return;
    }
    // A barrier entry goes alone in safe order, after the operations asked before it.
    this.outbox.flush();
    this.send(encodeLockMessage(m), m.type === 'barrier' ? 'safe' : 'agreed', (error) => this.refused(m, error));
  }

  /** The node refused the message carrying `m` (closed, left the group): what waits on it ends with that error. */
  private refused(m: LockMessage, error: unknown): void {
    if (m.type === 'lock' || m.type === 'convert' || m.type === 'unlock' || m.type === 'adopt' || m.type === 'lockMany') {
      for (let i = 0; i < (m.type === 'lockMany' ? m.items.length : 1); i++) {
        this.pending.settle(m.counter + i)?.reject(error);
      }
    } else if (m.type === 'barrier') {
      const key = `${m.ls}\u0000${m.name}`;
      this.barriers.get(key)?.reject(error);
      this.barriers.delete(key);
    }
  }

  private send(payload: Uint8Array, order: 'agreed' | 'safe', onError: (error: unknown) => void = () => undefined): void {
    if (this.closed) return;
    // Sends of one node are accepted in order (one FIFO): a cancel never overtakes its request.
    this.group.send(payload, { order }).catch(onError);
  }

  private onMembership(e: GroupMembershipEvent): void {
    if (this.closed) return;
    this.recoveryStartMs ??= performance.now();
    const cuts = groupCuts(this.node.nodeId, this.groupMembers, e);
    if (cuts === null) {
      // This node's own leave (close() of the manager or of the node): what waits ends as closed.
      void this.close();
      return;
    }
    if (e.kind === 'transitional' && !this.cutOpen) {
      this.cutOpen = true;
      this.held.push(...this.outbox.take());
    }
    for (const cut of cuts) {
      this.trace?.cut(e.ringId, cut.members);
      this.table.onConfiguration(cutConfiguration(cut, e.ring), cut.resync);
    }
    this.groupMembers = e.members;
    this.updatePrimary();
    // After the regular configuration's sync went out: what was held is applied after the sync.
    if (e.kind === 'regular' && this.cutOpen) this.sendAll();
  }

  private onMessage(m: GroupMessage<Uint8Array>): void {
    if (this.closed) return;
    this.table.onDelivery(m.sender, m.incarnation, m.payload, m.transitional);
    this.updatePrimary();
    // The handles churn as the pending requests do (pending.ts PendingRequests).
    if (this.pending.renewIfDue()) this.handles = new Map(this.handles);
  }

  private updatePrimary(): void {
    const now = this.table.canGrant;
    if (now && this.recoveryStartMs !== null) {
      this.latency.record('recovery', (performance.now() - this.recoveryStartMs) * 1000);
      this.recoveryStartMs = null;
    }
    if (now === this.primaryNow) return;
    this.primaryNow = now;
    this.emit('primary', now);
  }

  private ownCounter(owner: string): number | null {
    return owner.startsWith(this.ownPrefix) ? Number(owner.slice(this.ownPrefix.length)) : null;
  }

  private onEvent(e: LockTableEvent): void {
    // The trace line first: it must be written before the application learns of the event.
    this.trace?.write(e, this.table);
    this.onTableEvent?.(e);
    if (e.ev === 'barrier') {
      if (e.op === 'enter') return;
      const key = `${e.ls}\u0000${e.name}`;
      const b = this.barriers.get(key);
      if (b === undefined) return;
      this.barriers.delete(key);
      if (e.op === 'complete') b.resolve();
      else b.reject(new LockError('TOTEM_ERR_LOCK_BARRIER_FAILED', `barrier ${e.name} failed (${e.reason ?? 'configuration'})`, { reason: e.reason, ring: e.ring }));
      return;
    }
    if (e.ev === 'dropped') return this.onDropped(e.message);
    if (e.ev === 'lkstate') return;
    // A request, grant, conversion or adoption line changes nothing here: the 'held' event that
    // follows a grant is what ends a request. Two of the four events of every own lock.
    if (e.ev === 'lk' && (e.op === 'request' || e.op === 'grant' || e.op === 'convert' || e.op === 'adopt')) return;
    const counter = this.ownCounter(e.owner);
    if (counter === null) return;
    if (e.ev === 'held') {
      let h = this.handles.get(counter);
      if (h === undefined) {
        const ls = this.pending.get(counter)?.ls ?? this.lockspace(e.ls);
        h = new LockHandle(this, ls, e.res, counter, e.owner);
        this.handles.set(counter, h);
      }
      h[kHeld](e.mode, e.fence, e.lvb);
      const done = this.pending.settle(counter);
      const blockedAtMs = this.blockedSinceMs.get(counter);
      if (blockedAtMs !== undefined) {
        // A new grant starts over; a conversion (down, to let a waiter in) ends the blocking wait.
        this.blockedSinceMs.delete(counter);
        if (done?.kind === 'convert') this.latency.record('blockingToRelease', (performance.now() - blockedAtMs) * 1000);
      }
      if (done !== undefined && done.kind === 'lock') this.latency.record('acquire', (performance.now() - done.startMs) * 1000);
      if (done !== undefined && done.kind !== 'unlock') {
        if (done.abortedByCaller && done.kind === 'lock') {
          // Granted before the cancel arrived: the caller gave up, so release it.
          void h.unlock().catch(() => undefined);
          done.reject(new LockError('TOTEM_ERR_LOCK_CANCELLED', 'aborted; the grant that came first was released'));
        } else done.resolve(h);
      }
      return;
    }
    const h = this.handles.get(counter);
    if (e.ev === 'lost') {
      if (h !== undefined) {
        if (e.reason !== 'transitional') {
          this.handles.delete(counter);
          this.blockedSinceMs.delete(counter);
        }
        h[kLost](e.reason);
        this.emit('lost', h, e.reason);
      }
      return;
    }
    switch (e.op) {
      case 'reenter': {
        // Counted on a lock this node holds: the caller gets that lock's handle, one more hold.
        const done = this.pending.settle(counter);
        const base = e.of === undefined ? null : this.ownCounter(e.of);
        const held = base === null ? undefined : this.handles.get(base);
        if (held !== undefined && e.depth !== undefined) held[kDepth](e.depth);
        if (done !== undefined) {
          if (held !== undefined) done.resolve(held);
          else done.reject(new LockError('TOTEM_ERR_LOCK_RELEASED', `${e.ls}/${e.res}: re-entered a lock this process no longer tracks`));
        }
        return;
      }
      case 'bast':
        if (h !== undefined && e.mode !== undefined) {
          if (!this.blockedSinceMs.has(counter)) this.blockedSinceMs.set(counter, performance.now());
          h.emit('blocking', e.mode);
          this.emit('blocking', h, e.mode);
        }
        return;
      case 'deny':
      case 'cancel': {
        const done = this.pending.settle(counter);
        if (done === undefined) return;
        const what = `${done.kind} ${e.ls}/${e.res}`;
        if (done.kind === 'unlock') return done.resolve(h as LockHandle); // unlock of a waiting lock cancels it
        done.reject(e.op === 'cancel' && done.abortedByCaller ? new LockError('TOTEM_ERR_LOCK_CANCELLED', `${what}: cancelled`) : denyError(e.op === 'cancel' ? 'cancel' : e.reason, what));
        return;
      }
      case 'release': {
        if (e.depth !== undefined) {
          // One hold of a re-entered lock: the lock stays.
          h?.[kDepth](e.depth);
          this.pending.settle(counter)?.resolve(h as LockHandle);
          return;
        }
        const blockedAtMs = this.blockedSinceMs.get(counter);
        if (blockedAtMs !== undefined) {
          this.blockedSinceMs.delete(counter);
          this.latency.record('blockingToRelease', (performance.now() - blockedAtMs) * 1000);
        }
        this.handles.delete(counter);
        h?.[kLost]('released');
        const done = this.pending.settle(counter);
        done?.resolve(h as LockHandle);
        return;
      }
      case 'purge':
      case 'revoke':
      case 'orphan': {
        // A held lock (it has a handle): the table's 'lost' event follows at once; the handle ends
        // there, after that event's trace line, and the application hears it exactly once.
        const done = this.pending.settle(counter);
        done?.reject(new LockError('TOTEM_ERR_LOCK_REVOKED', `${e.ls}/${e.res}: ${e.op} (${e.reason ?? ''})`, { reason: e.reason }));
        return;
      }
      default:
        return;
    }
  }

  private onDropped(m: LockMessage): void {
    if (m.type === 'sync') return;
    if (m.type === 'barrier') {
      const key = `${m.ls}\u0000${m.name}`;
      const b = this.barriers.get(key);
      this.barriers.delete(key);
      b?.reject(new LockError('TOTEM_ERR_LOCK_RECONFIGURED', `barrier ${m.name}: cut by a configuration change; enter again`));
      return;
    }
    // No replica applied it (every one drops what it drops at the same point): an unlock, a cancel
    // or a purge must not be lost, and a request that still waits goes again (a table refuses a
    // second lock of one owner id, so a request is never applied twice).
    if (m.type === 'unlock' || m.type === 'cancel' || m.type === 'purgeOrphans') {
      this.message(m);
      return;
    }
    const counters = m.type === 'lockMany' ? m.items.map((_, i) => m.counter + i) : [m.counter];
    const waiting = counters.flatMap((counter) => this.pending.get(counter) ?? []);
    if (waiting.length === 0) return;
    if (waiting.every((p) => p.cancelSent === null)) {
      this.message(m);
      return;
    }
    // Its timeout or abort already sent a cancel, which finds nothing on any replica: sent again,
    // the request would come after that cancel and could be granted. It ends here, as the cancel
    // would have ended it.
    for (const counter of counters) {
      const p = this.pending.settle(counter);
      if (p === undefined) continue;
      const what = `${p.kind} ${p.ls.name}/${p.res}`;
      p.reject(p.cancelSent === 'cancel' ? new LockError('TOTEM_ERR_LOCK_CANCELLED', `${what}: cancelled`) : denyError('timeout', what));
    }
  }
}

/**
 * Open the lock manager on a node: joins its group and returns once joined. Every node that
 * takes part opens it; grants need a primary component of those nodes (docs/locks.md).
 */
export async function openLockManager(node: EvsNode, options: LockManagerOptions = {}): Promise<LockManager> {
  const rule = primaryRuleOf(options, node.primaryRule);
  const group = (await node.join(options.group ?? lockGroupDefault)) as Group<Uint8Array>;
  return new LockManager(node, group, rule, options.onTableEvent);
}
