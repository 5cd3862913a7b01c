/**
 * `--workload locks`: the lock manager (engine/locks) on every simulated node, driven by a few
 * seeded clients per node: contended and uncontended resources, all six modes, conversions up and
 * down, try-locks, fail-fast requests outside a primary, wait timeouts (a multicast cancel),
 * explicit cancels, value block writes, deadlock-prone pairs (holder ids), barriers, atomic
 * requests on several resources, persistent locks (orphans when their node crashes or leaves,
 * adopted or purged by the survivors), counted re-entry, and the HEADQUE / NOORDER flags. Every
 * table event is written to the node's trace as the trace contract's lock lines, and the lock
 * checker (api/check/locks-checker.ts) runs beside the EVS checker on every seed.
 *
 * As the lock manager does, every node joins the lock group and its table is cut where the group's
 * views change (engine/locks/group-cuts.ts), and a node's operations made at one instant are
 * submitted as one batch (api/locks/lock-outbox.ts); barrier entries and syncs go alone, in their
 * place.
 */
import type { AppDelivery, ConfigurationChange, GroupEvent, Order } from '../../engine/types.js';
import { ringIdToString } from '../../engine/types.js';
import { cutConfiguration, groupCuts } from '../../engine/locks/group-cuts.js';
import { encodeLockMessage, isBatchable, LockBatchWriter, type BatchableLockMessage, type LockMessage } from '../../engine/locks/codec.js';
import { LockTable, type LockTableEvent } from '../../engine/locks/lock-table.js';
import { lockModes, type LockMode } from '../../engine/locks/modes.js';
import { majorityOf } from '../../engine/locks/primary.js';
import { LockLines } from '../../engine/locks/trace-lines.js';
import { checkLocks } from '../../api/check/locks-checker.js';
import type { SimApp, SimAppNode } from './cluster.js';
import type { CheckFn } from './checker.js';
import { evsCheck } from './checker.js';
import type { Prng } from './prng.js';
import type { VirtualClock } from './virtual-clock.js';

export const lockGroup = 'locks';
const lockspace = 'sim';
const clientsPerNode = 2;
const retryMs = 25;
/** Bytes of a batch: small, so that batches are also cut on size (a lock request is ~30 bytes). */
const batchBytesMax = 96;

type ClientState = 'idle' | 'waiting' | 'holding' | 'converting' | 'reentering' | 'releasing';

interface Client {
  state: ClientState;
  counter: number;
  mode: LockMode | null;
  timer: number;
  res: string;
  holder: number;
  /** Counters of an atomic request's locks (the first is `counter`); empty for a single lock. */
  group: number[];
  /** Counters this client holds granted. */
  held: Set<number>;
  /** Holds counted on `counter` (re-entries + 1). */
  depth: number;
  /** Counter of a pending re-entry request. */
  reentry: number;
}

/** Holds a lock may count by re-entry in the simulated lockspace. */
const reentrancyMax = 3;

interface NodeRun {
  node: SimAppNode;
  table: LockTable;
  clients: Client[];
  /** Owner counter -> client. */
  byCounter: Map<number, Client>;
  counterNext: number;
  /** Messages not yet submitted or refused by a full send queue, in order: batchable operations, or encoded messages that go alone. */
  outbox: ({ payload: Uint8Array; order: Order } | { op: BatchableLockMessage })[];
  flushScheduled: boolean;
  /** The lock group's members as last reported (empty before this node's own join). */
  groupMembers: readonly number[];
  /** The node's lock lines (as a real node's lock manager writes them). */
  lines: LockLines;
  /** Between a ring change's cut and the group's regular event: operations are held, in order. */
  cutOpen: boolean;
  held: LockMessage[];
  /** Counters whose cancel was sent (a dropped request of one is ended, not sent again). */
  cancelSent: Set<number>;
}

export class LockWorkload implements SimApp {
  readonly randomLoad = false;
  readonly groups = [lockGroup];
  private readonly runs = new Map<number, NodeRun>();
  private running = true;
  grants = 0;
  denies = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly prng: Prng,
    private readonly nodeIds: readonly number[],
  ) {}

  onStart(node: SimAppNode): void {
    const run: NodeRun = {
      node,
      clients: [],
      byCounter: new Map(),
      counterNext: 1,
      outbox: [],
      flushScheduled: false,
      groupMembers: [],
      lines: new LockLines(node.nodeId),
      cutOpen: false,
      held: [],
      cancelSent: new Set(),
      table: new LockTable(
        { nodeId: node.nodeId, incarnation: node.incarnation, primaryRule: majorityOf(this.nodeIds) },
        {
          event: (e) => this.onEvent(run, e),
          send: (payload) => this.send(run, payload, 'agreed'),
        },
      ),
    };
    this.runs.set(node.nodeId, run);
    for (let i = 0; i < clientsPerNode; i++) {
      const client: Client = { state: 'idle', counter: 0, mode: null, timer: 0, res: '', holder: 0, group: [], held: new Set(), depth: 1, reentry: 0 };
      run.clients.push(client);
      this.think(run, client);
    }
  }

  onCrash(nodeId: number): void {
    this.runs.delete(nodeId);
  }

  stop(): void {
    this.running = false;
  }

  idle(nodeId: number): boolean {
    const run = this.runs.get(nodeId);
    return run === undefined || run.outbox.length === 0;
  }

  onDeliver(nodeId: number, d: AppDelivery): void {
    if (d.group !== lockGroup) return;
    this.runs.get(nodeId)?.table.onDelivery(d.sender, d.incarnation, d.payload, d.transitional);
  }

  onConfiguration(nodeId: number, change: ConfigurationChange): Record<string, boolean> | null {
    const run = this.runs.get(nodeId);
    if (run === undefined) return null;
    // The table is cut where the lock group's views change, as the lock manager's is: at a ring's
    // regular configuration it waits for the group's regular event, and its lkstate lines say when
    // it may grant again.
    return { primary: change.kind === 'regular' && run.table.canGrant };
  }

  onGroupEvent(nodeId: number, e: GroupEvent): void {
    const run = this.runs.get(nodeId);
    if (run === undefined) return;
    const cuts = groupCuts(nodeId, run.groupMembers, e);
    if (cuts === null) return;
    // As the lock manager does: what is asked between the cut and the regular event is held (no
    // replica would apply it there) and goes out after the regular event's sync.
    if (e.kind === 'transitional') run.cutOpen = true;
    for (const cut of cuts) {
      run.lines.cut(ringIdToString(e.ringId), cut.members);
      run.table.onConfiguration(cutConfiguration(cut, e.ringId), cut.resync);
    }
    run.groupMembers = e.members;
    if (e.kind === 'regular' && run.cutOpen) {
      run.cutOpen = false;
      const held = run.held;
      run.held = [];
      for (const m of held) this.message(run, m);
    }
  }

  private current(run: NodeRun): boolean {
    return this.runs.get(run.node.nodeId) === run && run.node.live();
  }

  private send(run: NodeRun, payload: Uint8Array, order: Order): void {
    this.enqueue(run, { payload, order });
  }

  private enqueue(run: NodeRun, entry: NodeRun['outbox'][number]): void {
    run.outbox.push(entry);
    // Never call into the engine from inside one of its callbacks: flush at the same instant, later.
    if (!run.flushScheduled) {
      run.flushScheduled = true;
      this.clock.after(0, () => this.flush(run));
    }
  }

  private flush(run: NodeRun): void {
    run.flushScheduled = false;
    if (!this.current(run)) return;
    while (run.outbox.length > 0) {
      const next = run.outbox[0];
      if (next === undefined) break;
      if ('payload' in next) {
        if (!run.node.submit(lockGroup, next.payload, next.order)) break;
        run.outbox.shift();
        continue;
      }
      // The operations up to the next message that goes alone, as many as one batch takes.
      const batch = new LockBatchWriter();
      let n = 0;
      for (let e = run.outbox[n]; e !== undefined && 'op' in e && batch.add(e.op, batchBytesMax); e = run.outbox[n]) n++;
      if (!run.node.submit(lockGroup, batch.finish(), 'agreed')) break;
      run.outbox.splice(0, n);
    }
    if (run.outbox.length > 0 && !run.flushScheduled) {
      run.flushScheduled = true;
      this.clock.after(retryMs, () => this.flush(run));
    }
  }

  private message(run: NodeRun, m: LockMessage): void {
    if (run.cutOpen) {
      run.held.push(m);
      return;
    }
    if (isBatchable(m)) this.enqueue(run, { op: m });
    else this.send(run, encodeLockMessage(m), m.type === 'barrier' ? 'safe' : 'agreed');
  }

  private think(run: NodeRun, client: Client, meanMs = 30): void {
    const timer = ++client.timer;
    const delayMs = Math.max(1, Math.round(-Math.log(1 - this.prng.float()) * meanMs));
    this.clock.after(delayMs, () => {
      if (!this.current(run) || client.timer !== timer) return;
      this.step(run, client);
    });
  }

  /** The client's next action in its state. */
  private step(run: NodeRun, client: Client): void {
    const p = this.prng;
    if (client.state === 'idle') {
      if (!this.running) return;
      if (p.chance(0.03)) {
        this.message(run, { type: 'barrier', ls: lockspace, name: `b${p.int(0, 1)}`, members: null });
        this.think(run, client, 200);
        return;
      }
      if (p.chance(0.06) && this.orphanAction(run)) {
        this.think(run, client, 100);
        return;
      }
      const counter = run.counterNext++;
      client.counter = counter;
      client.mode = null;
      client.state = 'waiting';
      client.group = [];
      client.held.clear();
      client.depth = 1;
      run.byCounter.set(counter, client);
      // Mostly a few hot resources; some private ones (uncontended).
      const pickRes = (): string => (p.chance(0.7) ? `hot${p.int(0, 2)}` : `own${run.node.nodeId}.${p.int(0, 3)}`);
      const res = pickRes();
      const mode = p.pick(['EX', 'EX', 'PR', 'PR', 'PW', 'CR', 'CW', 'NL'] as LockMode[]);
      const holder = p.chance(0.3) ? 1 : 0; // a shared holder id makes cross-resource deadlocks possible
      client.res = res;
      client.holder = holder;
      const flags = {
        noQueue: p.chance(0.15),
        notifyOnNoQueue: p.chance(0.5),
        failIfNotPrimary: p.chance(0.1),
        persistent: p.chance(0.3),
        headQueue: p.chance(0.08),
        noOrder: p.chance(0.08),
      };
      if (p.chance(0.12)) {
        // An atomic request on 2-3 distinct resources.
        const names = [...new Set([res, pickRes(), pickRes()])].slice(0, p.int(2, 3));
        if (names.length >= 2) {
          client.group = names.map((_, i) => counter + i);
          run.counterNext = counter + names.length;
          for (const c of client.group) run.byCounter.set(c, client);
          const items = names.map((n) => ({ res: n, mode: p.pick(['EX', 'PR', 'PW', 'CR'] as LockMode[]) }));
          this.message(run, { type: 'lockMany', counter, holder, ls: lockspace, items, flags, lvbBytes: 32, reentrancyMax });
          if (p.chance(0.3)) this.timeout(run, client, counter, p.chance(0.8) ? 'timeout' : 'cancel', p.int(5, 200));
          return;
        }
      }
      this.message(run, { type: 'lock', counter, holder, ls: lockspace, res, mode, flags, lvbBytes: 32, reentrancyMax });
      // A wait timeout (the cancel is multicast) or an explicit cancel, sometimes.
      if (p.chance(0.3)) this.timeout(run, client, counter, p.chance(0.8) ? 'timeout' : 'cancel', p.int(5, 200));
      return;
    }
    if (client.state === 'holding') {
      const held = client.mode ?? 'NL';
      if (client.group.length === 0 && client.holder !== 0 && p.chance(0.4)) {
        // Re-enter: the same holder asks again for a mode its lock covers (or not: then it waits on itself).
        const reentry = run.counterNext++;
        client.reentry = reentry;
        client.state = 'reentering';
        run.byCounter.set(reentry, client);
        const mode = p.chance(0.8) ? held : p.pick(lockModes);
        this.message(run, { type: 'lock', counter: reentry, holder: client.holder, ls: lockspace, res: client.res, mode, flags: {}, lvbBytes: 32, reentrancyMax });
        return;
      }
      if (client.group.length === 0 && p.chance(0.25)) {
        const to = p.pick(lockModes.filter((m) => m !== held));
        client.state = 'converting';
        this.message(run, {
          type: 'convert',
          counter: client.counter,
          mode: to,
          flags: { noQueue: p.chance(0.2), failIfNotPrimary: p.chance(0.1), headQueue: p.chance(0.1), noOrder: p.chance(0.1) },
          lvb: held === 'PW' || held === 'EX' ? this.value(p) : null,
        });
        if (p.chance(0.3)) this.timeout(run, client, client.counter, 'timeout', p.int(5, 200));
        return;
      }
      client.state = 'releasing';
      // Every hold of a re-entered lock, and every lock of an atomic request, is released.
      for (let i = 1; i < client.depth; i++) this.message(run, { type: 'unlock', counter: client.counter, lvb: null });
      for (const c of client.group.length > 0 ? client.group : [client.counter]) {
        this.message(run, { type: 'unlock', counter: c, lvb: held === 'PW' || held === 'EX' ? this.value(p) : null });
      }
    }
  }

  /** Adopt or purge an orphan this replica's table shows (as an application reading the dump would). */
  private orphanAction(run: NodeRun): boolean {
    const orphans = (run.table.dump(lockspace)?.resources ?? []).flatMap((r) => r.holders.filter((h) => h.orphan).map((h) => ({ res: r.name, h })));
    const o = orphans.length === 0 ? undefined : this.prng.pick(orphans);
    if (o === undefined || o.h.granted === null) return false;
    if (this.prng.chance(0.4)) {
      this.message(run, { type: 'purgeOrphans', ls: lockspace, res: this.prng.chance(0.5) ? o.res : '', orphan: this.prng.chance(0.5) ? o.h.owner : '' });
      return true;
    }
    const counter = run.counterNext++;
    const client = run.clients.find((c) => c.state === 'idle');
    if (client === undefined) return false;
    client.counter = counter;
    client.mode = null;
    client.state = 'waiting';
    client.group = [];
    client.held.clear();
    client.depth = 1;
    client.res = o.res;
    client.holder = 0;
    run.byCounter.set(counter, client);
    this.message(run, { type: 'adopt', counter, holder: 0, ls: lockspace, res: o.res, mode: o.h.granted, orphan: this.prng.chance(0.5) ? o.h.owner : '' });
    return true;
  }

  private value(p: Prng): Uint8Array {
    const v = new Uint8Array(32);
    v[0] = p.int(0, 255);
    return v;
  }

  private timeout(run: NodeRun, client: Client, counter: number, reason: 'timeout' | 'cancel', afterMs: number): void {
    this.clock.after(afterMs, () => {
      if (!this.current(run) || client.counter !== counter) return;
      if (client.state !== 'waiting' && client.state !== 'converting') return;
      run.cancelSent.add(counter);
      this.message(run, { type: 'cancel', counter, reason });
    });
  }

  private onEvent(run: NodeRun, e: LockTableEvent): void {
    for (const line of run.lines.lines(e, this.clock.nowMs, run.table)) run.node.line(line);
    const ownPrefix = `${run.node.nodeId}:${run.node.incarnation}:`;
    if (e.ev === 'dropped') {
      const m = e.message;
      if (m.type === 'barrier' || m.type === 'sync' || m.type === 'purgeOrphans') return;
      const client = run.byCounter.get(m.counter);
      if (client === undefined) return;
      // As the lock manager does: no replica applied it, so a request that still waits goes again
      // (a table refuses a second lock of one owner id), unless its cancel went out already.
      if ((m.type === 'lock' || m.type === 'lockMany' || m.type === 'adopt' || m.type === 'convert') && !run.cancelSent.has(m.counter)) {
        this.message(run, m);
        return;
      }
      if (m.type === 'lock' && client.state === 'reentering' && m.counter === client.reentry) {
        client.state = 'holding';
        this.think(run, client);
      } else if (m.type === 'lock' || m.type === 'lockMany' || m.type === 'adopt') this.finish(run, client, m.counter);
      else if (m.type === 'unlock' || m.type === 'convert') {
        client.state = 'holding';
        this.think(run, client);
      }
      return;
    }
    if (e.ev !== 'lk' || !e.owner.startsWith(ownPrefix)) return;
    const counter = Number(e.owner.slice(ownPrefix.length));
    const client = run.byCounter.get(counter);
    if (client === undefined) return;
    if (client.state === 'reentering' && counter === client.reentry) {
      // The re-entry request's own lines: counted, or denied (or, not covered, it waits on itself until denied as a deadlock).
      if (e.op === 'reenter') client.depth++;
      if (e.op === 'reenter' || e.op === 'deny' || e.op === 'cancel' || e.op === 'purge' || e.op === 'revoke' || e.op === 'grant') {
        run.byCounter.delete(counter);
        if (e.op === 'grant') this.message(run, { type: 'unlock', counter, lvb: null });
        client.state = 'holding';
        this.think(run, client);
      }
      return;
    }
    if (counter === client.reentry && counter !== client.counter) {
      // A re-entry whose lock went away meanwhile: release it if granted, forget it once ended.
      if (e.op === 'grant') this.message(run, { type: 'unlock', counter, lvb: null });
      if (e.op !== 'request' && e.op !== 'bast') run.byCounter.delete(counter);
      return;
    }
    switch (e.op) {
      case 'grant':
      case 'convert':
        this.grants++;
        client.held.add(counter);
        if (counter !== client.counter) return;
        client.mode = e.mode ?? client.mode;
        client.state = 'holding';
        this.think(run, client, 40);
        return;
      case 'deny':
      case 'cancel':
        this.denies++;
        if (counter !== client.counter) return;
        if (client.state === 'waiting') this.finish(run, client, counter);
        else if (client.state === 'converting') {
          client.state = 'holding';
          this.think(run, client);
        } else if (client.state === 'releasing' && e.op === 'cancel' && client.mode === null) this.finish(run, client, counter);
        return;
      case 'release':
        if (e.depth !== undefined) return; // one hold of a re-entered lock
        client.held.delete(counter);
        this.finish(run, client, counter);
        return;
      case 'purge':
      case 'revoke':
      case 'orphan':
        client.held.delete(counter);
        this.finish(run, client, counter);
        return;
      default:
        return;
    }
  }

  private finish(run: NodeRun, client: Client, counter: number): void {
    run.byCounter.delete(counter);
    if (client.counter !== counter && !client.group.includes(counter)) return;
    // The other locks of an atomic request that are still held (one was revoked or purged): release them.
    if (client.state !== 'releasing') for (const c of client.held) if (c !== counter) this.message(run, { type: 'unlock', counter: c, lvb: null });
    for (const c of client.group) if (c !== counter) run.byCounter.delete(c);
    client.held.clear();
    client.group = [];
    client.state = 'idle';
    client.mode = null;
    this.think(run, client);
  }
}

/** The EVS checker and the lock checker on one seed's traces. */
export const evsAndLockCheck: CheckFn = (input, options) => {
  const evs = evsCheck(input, options);
  const locks = checkLocks(input.files);
  const violations = [...evs.violations, ...locks.violations.map((v) => ({ property: `lock-${v.property}`, message: `${v.message} at ${v.lines.join(' ')}` }))];
  return { ok: violations.length === 0, violations, warnings: evs.warnings ?? [] };
};
