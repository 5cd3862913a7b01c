/** Replicas of the lock table driven by hand: configurations and deliveries to chosen members. */
import type { ConfigurationChange, NodeId } from '../../../engine/types.js';
import { encodeLockMessage, type LockMessage } from '../../../engine/locks/codec.js';
import { LockTable, type LockTableEvent, type LockTableOptions } from '../../../engine/locks/lock-table.js';
import { isPrimaryComponent, majorityOf, type PrimaryRule } from '../../../engine/locks/primary.js';
import { lockTraceLine } from '../../../engine/locks/trace-lines.js';

export const incarnationOf = (id: NodeId): number => 1000 + id;

export class Replicas {
  readonly tables = new Map<NodeId, LockTable>();
  readonly events = new Map<NodeId, LockTableEvent[]>();
  /** Messages a table asked to send (syncs), per node, not yet delivered. */
  readonly outbox = new Map<NodeId, Uint8Array[]>();
  /** Trace lines per node, as the trace contract writes them (t = 0). */
  readonly lines = new Map<NodeId, string[]>();
  private ringSeq = 0n;
  private readonly rule: PrimaryRule;

  /** `extra`: options of a node's table beyond its id, incarnation and the primary rule. */
  constructor(ids: NodeId[], rule: PrimaryRule = majorityOf(ids), extra: (id: NodeId) => Partial<LockTableOptions> = () => ({})) {
    this.rule = rule;
    for (const id of ids) {
      this.lines.set(id, []);
      this.events.set(id, []);
      this.outbox.set(id, []);
      this.tables.set(
        id,
        new LockTable({ ...extra(id), nodeId: id, incarnation: incarnationOf(id), primaryRule: rule }, {
          event: (e) => {
            this.events.get(id)?.push(e);
            const line = lockTraceLine(id, e, 0);
            if (line !== null) this.lines.get(id)?.push(line);
          },
          send: (payload) => this.outbox.get(id)?.push(payload),
        }),
      );
    }
  }

  private install(id: NodeId, c: ConfigurationChange): void {
    const primary = c.kind === 'regular' && isPrimaryComponent(this.rule, c.members);
    this.lines.get(id)?.push(
      JSON.stringify({ ev: 'conf', node: String(id), kind: c.kind, ring: `${c.ringId.rep}:${c.ringId.seq}`, members: c.members.map(String), primary, t: 0 }),
    );
    this.table(id).onConfiguration(c);
  }

  /** The trace files of every node: `<id>.<incarnation>.jsonl`. */
  files(): Map<string, string[]> {
    return new Map([...this.lines].map(([id, lines]) => [`${id}.${incarnationOf(id)}.jsonl`, lines]));
  }

  table(id: NodeId): LockTable {
    const t = this.tables.get(id);
    if (t === undefined) throw new Error(`no table ${id}`);
    return t;
  }

  /** Transitional (members) then regular (members + joined) configuration on the given nodes. */
  configure(nodes: NodeId[], transitional: NodeId[] | null, regular: NodeId[]): void {
    this.ringSeq += 4n;
    const ringId = { rep: Math.min(...regular), seq: this.ringSeq };
    for (const id of nodes) {
      if (transitional !== null) this.install(id, conf('transitional', ringId, transitional));
    }
    for (const id of nodes) this.install(id, conf('regular', ringId, regular));
  }

  /**
   * One new ring formed from several sides: each side installs its own transitional, then all the
   * regular. `inTransitional` delivers what the sides deliver in their transitional configurations.
   */
  merge(sides: NodeId[][], regular: NodeId[], inTransitional?: () => void): void {
    this.ringSeq += 4n;
    const ringId = { rep: Math.min(...regular), seq: this.ringSeq };
    for (const side of sides) for (const id of side) this.install(id, conf('transitional', ringId, side));
    inTransitional?.();
    for (const side of sides) for (const id of side) this.install(id, conf('regular', ringId, regular));
  }

  transitional(nodes: NodeId[], members: NodeId[]): void {
    this.ringSeq += 4n;
    for (const id of nodes) this.install(id, conf('transitional', { rep: Math.min(...members), seq: this.ringSeq }, members));
  }

  regular(nodes: NodeId[], members: NodeId[]): void {
    for (const id of nodes) this.install(id, conf('regular', { rep: Math.min(...members), seq: this.ringSeq }, members));
  }

  /** Deliver one message from `sender` to each of `to`, in order. */
  deliver(sender: NodeId, message: LockMessage | Uint8Array, to: NodeId[], transitional = false): void {
    const payload = message instanceof Uint8Array ? message : encodeLockMessage(message);
    for (const id of to) this.table(id).onDelivery(sender, incarnationOf(sender), payload, transitional);
  }

  /** Deliver every queued sync of `from` (in node order) to `to`. */
  flushSyncs(from: NodeId[], to: NodeId[]): void {
    for (const id of from) {
      const box = this.outbox.get(id) ?? [];
      this.outbox.set(id, []);
      for (const payload of box) this.deliver(id, payload, to);
    }
  }

  lk(id: NodeId, op?: string): Extract<LockTableEvent, { ev: 'lk' }>[] {
    return (this.events.get(id) ?? []).filter((e): e is Extract<LockTableEvent, { ev: 'lk' }> => e.ev === 'lk' && (op === undefined || e.op === op));
  }

  of<K extends LockTableEvent['ev']>(id: NodeId, ev: K): Extract<LockTableEvent, { ev: K }>[] {
    return (this.events.get(id) ?? []).filter((e): e is Extract<LockTableEvent, { ev: K }> => e.ev === ev);
  }

  clearEvents(): void {
    for (const list of this.events.values()) list.length = 0;
  }
}

export function conf(kind: 'regular' | 'transitional', ringId: { rep: number; seq: bigint }, members: NodeId[]): ConfigurationChange {
  return { kind, ringId, members: [...members].sort((a, b) => a - b), joined: [], left: [], cause: 'join', causeNodes: [] };
}

export const owner = (node: NodeId, counter: number): string => `${node}:${incarnationOf(node)}:${counter}`;

export function lock(counter: number, res: string, mode: LockMessage extends infer M ? (M extends { type: 'lock'; mode: infer X } ? X : never) : never, extra: Partial<Extract<LockMessage, { type: 'lock' }>> = {}): Extract<LockMessage, { type: 'lock' }> {
  return { type: 'lock', counter, holder: 0, ls: 'ls', res, mode, flags: {}, lvbBytes: 32, ...extra };
}

/** A cluster of `ids` in one primary regular configuration, in sync. */
export function formed(ids: NodeId[], rule?: PrimaryRule, extra?: (id: NodeId) => Partial<LockTableOptions>): Replicas {
  const r = new Replicas(ids, rule, extra);
  r.configure(ids, null, ids);
  r.flushSyncs(ids, ids);
  r.clearEvents();
  return r;
}
