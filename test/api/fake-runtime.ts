/**
 * An in-memory stand-in for the threaded runtime (workers/runtime.ts), for testing the API
 * without threads or sockets. One FakeCluster holds any number of fake nodes and plays the ring:
 *
 * - Each node has a submit ring of `submitCapacity` entries (messages, joins and leaves alike).
 *   submit/join/leave return false when it is full, and `writable` follows once the ring has
 *   taken entries from it: the contract of NodeRuntime.
 * - A step is one token rotation: it visits the live nodes in id order and takes every waiting
 *   entry of each, giving one total order, and applies each entry at every live node in that
 *   order (messages to the nodes in the group, joins and leaves as group events to all).
 * - Membership follows the engine's shapes: a node that starts installs a singleton regular
 *   configuration (cause 'start'), then every node installs a transitional and a regular one for
 *   the merged ring; the newcomer learns the existing groups as 'join' events (the announce after
 *   a merge). A node that closes or crashes leaves the others with a transitional and a regular
 *   configuration (cause 'token-loss'), and group events for the groups that lost it.
 * - Everything is reported asynchronously (on setImmediate), never from inside a submit, as the
 *   real runtime reports from its ring reader. `pause()` stops the ring (submit rings fill up),
 *   `resume()` restarts it; `step()` runs one rotation by hand.
 * - close(drainTimeoutMs) takes no more submissions, rotates until this node's entries are
 *   delivered (unless paused: then what is still in its submit ring counts as undelivered), stops.
 */
import type {
  AppDelivery,
  ConfigurationCause,
  ConfigurationChange,
  Order,
  NodeId,
  RingId,
} from '../../engine/types.js';
import { TotemError } from '../../workers/errors.js';
import type { ResolvedNodeOptions } from '../../api/options.js';
import type { NodeRuntime, RuntimeEvents, RuntimeStats } from '../../workers/runtime-types.js';

export interface FakeClusterOptions {
  /** Entries a node's submit ring holds; default 64. */
  submitCapacity?: number;
  /** Start with the ring stopped. */
  paused?: boolean;
}

type Entry =
  | {
      kind: 'message';
      sender: NodeId;
      incarnation: number;
      counter: number;
      group: string;
      order: Order;
      payload: Uint8Array;
    }
  | { kind: 'join' | 'leave'; sender: NodeId; group: string };

/** Membership changes waiting for the next step, in the order they happened. */
type Change = { kind: 'start' | 'stop'; node: FakeNode; cause: ConfigurationCause };

export class FakeNode implements NodeRuntime {
  readonly nodeId: NodeId;
  readonly incarnation: number;
  /** Every delivery made to this node, in order (for assertions). */
  readonly delivered: AppDelivery[] = [];
  /** Every configuration installed here, in order. */
  readonly configurations: ConfigurationChange[] = [];
  readonly queue: Entry[] = [];
  live = true;
  accepting = true;
  wantWritable = false;
  counterLast = 0;
  /** Has installed its first configuration (before that it is not in the ring). */
  inRing = false;
  closeResult: Promise<{ undelivered: number }> | null = null;

  constructor(
    private readonly cluster: FakeCluster,
    readonly options: ResolvedNodeOptions,
    readonly events: RuntimeEvents,
    incarnation: number,
  ) {
    this.nodeId = options.nodeId;
    this.incarnation = incarnation;
  }

  submit(group: string, payload: Uint8Array, order: Order): boolean {
    if (!this.room()) return false;
    this.counterLast += 1;
    // The real runtime copies the payload into its ring.
    const copy = Uint8Array.from(payload);
    this.queue.push({
      kind: 'message',
      sender: this.nodeId,
      incarnation: this.incarnation,
      counter: this.counterLast,
      group,
      order,
      payload: copy,
    });
    this.cluster.schedule();
    return true;
  }

  join(group: string): boolean {
    if (!this.room()) return false;
    this.queue.push({ kind: 'join', sender: this.nodeId, group });
    this.cluster.schedule();
    return true;
  }

  leave(group: string): boolean {
    if (!this.room()) return false;
    this.queue.push({ kind: 'leave', sender: this.nodeId, group });
    this.cluster.schedule();
    return true;
  }

  stats(): Promise<RuntimeStats> {
    return Promise.resolve(this.cluster.statsOf(this));
  }

  close(drainTimeoutMs: number): Promise<{ undelivered: number }> {
    if (this.closeResult === null) this.closeResult = this.cluster.closeNode(this, drainTimeoutMs);
    return this.closeResult;
  }

  private room(): boolean {
    if (!this.live || !this.accepting) return false;
    if (this.queue.length >= this.cluster.submitCapacity) {
      this.wantWritable = true;
      return false;
    }
    return true;
  }
}

export class FakeCluster {
  readonly submitCapacity: number;
  readonly nodes = new Map<NodeId, FakeNode>();
  /** Runtime starts, in order; `startRuntime` calls made (for assertions on option errors). */
  startCalls = 0;
  private paused: boolean;
  private scheduled = false;
  private ringSeq = 0n;
  private ringId: RingId = { rep: 0, seq: 0n };
  /** group → sorted members, as every node of the ring knows it. */
  private readonly groups = new Map<string, NodeId[]>();
  private readonly changes: Change[] = [];
  private incarnationLast = 1_700_000_000_000;

  constructor(options: FakeClusterOptions = {}) {
    this.submitCapacity = options.submitCapacity ?? 64;
    this.paused = options.paused ?? false;
  }

  /** A StartRuntime: pass it to createNodeWith. */
  readonly start = (options: ResolvedNodeOptions, events: RuntimeEvents): Promise<NodeRuntime> => {
    this.startCalls += 1;
    if (this.nodes.get(options.nodeId)?.live === true) {
      return Promise.reject(new Error(`fake: node ${options.nodeId} is already running`));
    }
    this.incarnationLast += 1;
    const node = new FakeNode(this, options, events, this.incarnationLast);
    this.nodes.set(node.nodeId, node);
    this.changes.push({ kind: 'start', node, cause: 'start' });
    this.schedule();
    return Promise.resolve(node);
  };

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  /** A worker of `nodeId` died: it reports `error` as fatal and drops out of the ring. */
  crash(nodeId: NodeId, error?: Error): void {
    const node = this.nodes.get(nodeId);
    if (node === undefined || !node.live) throw new Error(`fake: node ${nodeId} is not running`);
    node.live = false;
    node.queue.length = 0;
    this.changes.push({ kind: 'stop', node, cause: 'token-loss' });
    const err = error ?? new TotemError('TOTEM_ERR_WORKER_DIED', 'the token worker exited with code 1', {
      details: { thread: 'token', exitCode: 1 },
    });
    setImmediate(() => node.events.fatal(err));
    this.schedule();
  }

  /** One token rotation: membership changes first, then every node's waiting entries. */
  step(): void {
    const changes = this.changes.splice(0);
    for (const change of changes) this.applyChange(change);
    const ring = this.ringMembers();
    const taken: Entry[] = [];
    for (const node of ring) taken.push(...node.queue.splice(0));
    for (const entry of taken) this.apply(entry);
    for (const node of ring) {
      if (node.wantWritable && node.live && node.queue.length < this.submitCapacity) {
        node.wantWritable = false;
        node.events.writable();
      }
    }
  }

  /** True when some entry or change waits. */
  busy(): boolean {
    return this.changes.length > 0 || this.ringMembers().some((n) => n.queue.length > 0);
  }

  /** @internal */
  schedule(): void {
    if (this.scheduled || this.paused) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // One rotation per macrotask, so that promise continuations of the API run in between.
      if (this.paused || !this.busy()) return;
      this.step();
      if (this.busy()) this.schedule();
    });
  }

  /** @internal */
  async closeNode(node: FakeNode, _drainTimeoutMs: number): Promise<{ undelivered: number }> {
    node.accepting = false;
    while (!this.paused && node.live && node.queue.length > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!this.paused && node.queue.length > 0) this.step();
    }
    const undelivered = node.queue.filter((e) => e.kind === 'message').length;
    node.queue.length = 0;
    if (node.live) {
      node.live = false;
      this.changes.push({ kind: 'stop', node, cause: 'token-loss' });
      this.schedule();
    }
    return { undelivered };
  }

  /** @internal */
  statsOf(node: FakeNode): RuntimeStats {
    return {
      engine: {
        tokenRotations: 0,
        tokensReceived: 0,
        framesBroadcast: 0,
        framesDelivered: 0,
        retransmitsSent: 0,
        retransmitsRequested: 0,
        tokenRetransmits: 0,
        packetsDropped: {
          truncated: 0, malformed: 0, oversized: 0, version: 0, 'unknown-type': 0,
          'foreign-ring': 0, duplicate: 0, state: 0,
          'ring-seq-bound': 0, 'not-member': 0, 'bad-set': 0, 'bad-commit-token': 0, 'bad-token': 0, 'not-predecessor': 0, 'conflicting-frame': 0,
        },
        gatherEntries: 0,
        commitEntries: 0,
        recoveryEntries: 0,
        configurationsInstalled: node.configurations.length,
        state: 'operational',
        ringId: this.ringId,
        members: this.ringMembers().map((n) => n.nodeId),
      },
      net: {
        datagramsIn: 0, datagramsOut: 0, bytesIn: 0, bytesOut: 0, authFailures: 0, replays: 0,
        sendErrors: 0, receiveBufferBytes: 0,
      },
      messagesSubmitted: node.counterLast,
      messagesDelivered: node.delivered.length,
      rings: [{ name: 'submit', usedBytes: node.queue.length, capacityBytes: this.submitCapacity }],
    };
  }

  private ringMembers(): FakeNode[] {
    return [...this.nodes.values()]
      .filter((n) => n.live && n.inRing)
      .sort((a, b) => a.nodeId - b.nodeId);
  }

  private nextRing(rep: NodeId): RingId {
    this.ringSeq += 4n;
    this.ringId = { rep, seq: this.ringSeq };
    return this.ringId;
  }

  private applyChange(change: Change): void {
    const before = this.ringMembers();
    const node = change.node;
    if (change.kind === 'start') {
      if (!node.live) return;
      const single = { rep: node.nodeId, seq: this.ringSeq + 1n };
      this.configure(node, {
        kind: 'regular', ringId: single, members: [node.nodeId], joined: [node.nodeId], left: [],
        cause: 'start', causeNodes: [],
      });
      node.inRing = true;
      if (before.length === 0) {
        this.ringId = single;
        this.ringSeq += 1n;
        return;
      }
      const after = this.ringMembers();
      const ids = after.map((n) => n.nodeId);
      const ringId = this.nextRing(ids[0] as NodeId);
      for (const n of after) {
        const old = n === node ? [node.nodeId] : before.map((b) => b.nodeId);
        this.configure(n, {
          kind: 'transitional', ringId, members: old, joined: [], left: [], cause: 'merge', causeNodes: [node.nodeId],
        });
        this.configure(n, {
          kind: 'regular', ringId, members: ids, joined: ids.filter((i) => !old.includes(i)), left: [],
          cause: 'merge', causeNodes: [node.nodeId],
        });
      }
      // The group layer's rule at a merge (engine/groups/assembler.ts): the cut for every group of
      // the old members, then, once every member has announced, the views, cause 'merge' (the
      // newcomer learns every existing group; it is in none yet).
      const groups = [...this.groups].sort(([a], [b]) => a.localeCompare(b));
      for (const n of after) {
        for (const [group, members] of groups) {
          if (members.includes(n.nodeId)) n.events.groupEvent({ group, kind: 'transitional', ringId, members, joined: [], left: [], cause: 'configuration' });
        }
      }
      for (const n of after) {
        for (const [group, members] of groups) {
          const joined = n === node ? members : [];
          if (joined.length > 0 || members.includes(n.nodeId)) n.events.groupEvent({ group, kind: 'regular', ringId, members, joined, left: [], cause: 'merge' });
        }
      }
      return;
    }
    // A node stopped: it is already not live, so it is not in `after`.
    node.inRing = false;
    const after = this.ringMembers();
    const ids = after.map((n) => n.nodeId);
    if (after.length === 0) return;
    const ringId = this.nextRing(ids[0] as NodeId);
    const left = before.map((b) => b.nodeId).filter((i) => !ids.includes(i));
    for (const n of after) {
      this.configure(n, {
        kind: 'transitional', ringId, members: ids, joined: [], left, cause: change.cause, causeNodes: left,
      });
    }
    this.restrictGroups(after, 'transitional', ringId, ids);
    for (const n of after) {
      this.configure(n, {
        kind: 'regular', ringId, members: ids, joined: [], left: [], cause: change.cause, causeNodes: left,
      });
    }
    this.restrictGroups(after, 'regular', ringId, ids);
  }

  private configure(node: FakeNode, change: ConfigurationChange): void {
    node.configurations.push(change);
    node.events.configuration(change);
  }

  /** The assembler's rule: events for groups that lost members, and for this node's own groups. */
  private restrictGroups(
    nodes: FakeNode[],
    kind: 'regular' | 'transitional',
    ringId: RingId,
    ids: NodeId[],
  ): void {
    const lost = new Map<string, NodeId[]>();
    for (const [group, members] of this.groups) {
      const left = members.filter((m) => !ids.includes(m));
      const kept = members.filter((m) => ids.includes(m));
      if (kept.length === 0) this.groups.delete(group);
      else this.groups.set(group, kept);
      lost.set(group, left);
    }
    for (const n of nodes) {
      for (const [group, left] of lost) {
        const members = this.groups.get(group) ?? [];
        if (left.length > 0 || members.includes(n.nodeId)) {
          n.events.groupEvent({ group, kind, ringId, members, joined: [], left, cause: 'configuration' });
        }
      }
    }
  }

  private apply(entry: Entry): void {
    const ring = this.ringMembers();
    const ringId = this.ringId;
    const members = this.groups.get(entry.group) ?? [];
    if (entry.kind === 'message') {
      for (const n of ring) {
        if (!members.includes(n.nodeId)) continue;
        const d: AppDelivery = {
          sender: entry.sender,
          incarnation: entry.incarnation,
          counter: entry.counter,
          group: entry.group,
          order: entry.order,
          payload: Uint8Array.from(entry.payload),
          ringId,
          transitional: false,
          local: true,
        };
        n.delivered.push(d);
        n.events.deliver(d);
      }
      return;
    }
    const present = members.includes(entry.sender);
    if (entry.kind === 'join' ? present : !present) return;
    const after = entry.kind === 'join'
      ? [...members, entry.sender].sort((a, b) => a - b)
      : members.filter((m) => m !== entry.sender);
    if (after.length === 0) this.groups.delete(entry.group);
    else this.groups.set(entry.group, after);
    const joined = entry.kind === 'join' ? [entry.sender] : [];
    const left = entry.kind === 'leave' ? [entry.sender] : [];
    for (const n of ring) {
      n.events.groupEvent({
        group: entry.group, kind: 'regular', ringId, members: after, joined, left, cause: entry.kind,
      });
    }
  }
}
