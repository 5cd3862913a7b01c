/**
 * The lock manager's trace lines (docs/trace-contract.md, "Lock manager lines"), built from the
 * table's events with a fixed field order so that one simulator seed gives byte-identical files.
 * Returns null for events that are not traced (dropped operations).
 */
import type { NodeId } from '../types.js';
import type { LockTableEvent } from './lock-table.js';

/**
 * `tableMembers`: the members of the configuration the table is in, written on `lkstate` lines
 * when given. A lock manager's configurations are its group's (group-cuts.ts): besides those of
 * the ring, a member's ordered join or leave of the group is a configuration point of its own,
 * inside one ring configuration, so the ring's `conf` line before it may list others, and the lock
 * checker keys table hashes by these members.
 */
export function lockTraceLine(node: NodeId, e: LockTableEvent, tMs: number, tableMembers?: readonly NodeId[]): string | null {
  const n = String(node);
  switch (e.ev) {
    case 'lk': {
      const o: Record<string, unknown> = { ev: 'lk', node: n, ls: e.ls, res: e.res, op: e.op, owner: e.owner };
      if (e.mode !== undefined) o['mode'] = e.mode;
      if (e.fence !== undefined) o['fence'] = e.fence.toString();
      if (e.reason !== undefined) o['reason'] = e.reason;
      if (e.group !== undefined) o['group'] = e.group;
      if (e.orphan !== undefined) o['orphan'] = e.orphan;
      if (e.of !== undefined) o['of'] = e.of;
      if (e.depth !== undefined) o['depth'] = e.depth;
      o['t'] = tMs;
      return JSON.stringify(o);
    }
    case 'held':
      return JSON.stringify({ ev: 'held', node: n, ls: e.ls, res: e.res, owner: e.owner, mode: e.mode, fence: e.fence.toString(), t: tMs });
    case 'lost':
      return JSON.stringify({ ev: 'lost', node: n, ls: e.ls, res: e.res, owner: e.owner, reason: e.reason, t: tMs });
    case 'barrier': {
      const o: Record<string, unknown> = { ev: 'barrier', node: n, ls: e.ls, name: e.name, op: e.op, ring: e.ring, gen: e.gen, since: e.since };
      if (e.op === 'enter') o['member'] = String(e.node);
      if (e.reason !== undefined) o['reason'] = e.reason;
      o['t'] = tMs;
      return JSON.stringify(o);
    }
    case 'lkstate': {
      const o: Record<string, unknown> = { ev: 'lkstate', node: n, point: e.point, ring: e.ring, hash: e.hash, primary: e.primary };
      if (tableMembers !== undefined) o['members'] = tableMembers.map(String);
      o['t'] = tMs;
      return JSON.stringify(o);
    }
    case 'dropped':
      return null;
  }
}

/**
 * The lock lines of one replica, in the order it applies its events. Besides each event's line:
 * the members of the table's configuration ride on its `lkstate` lines, and a `ready` line
 * (`{"ev":"lkstate","point":"ready",...}`) comes before the first grant or conversion after a
 * configuration point, with the table's hash as it starts granting and whether it is primary (the
 * contract's `primary` field, where the lock checker needs it: the table's own `lkstate` line of
 * a sync or regular point comes after the grants that point makes).
 */
export class LockLines {
  private members: readonly NodeId[] = [];
  private ring = '';
  private readyDue = false;

  constructor(private readonly node: NodeId) {}

  /** A configuration point of the table in ring `ring` ("rep:seq"), with its members. */
  cut(ring: string, members: readonly NodeId[]): void {
    this.ring = ring;
    this.members = members;
    this.readyDue = true;
  }

  /** The lines of `e` (none, one, or the ready line and then e's); `table` as it stands now. */
  lines(e: LockTableEvent, tMs: number, table: { hash(): string; readonly primary: boolean }): string[] {
    const out: string[] = [];
    if (this.readyDue && e.ev === 'lk' && (e.op === 'grant' || e.op === 'convert')) {
      const members = this.members.map(String);
      out.push(JSON.stringify({ ev: 'lkstate', node: String(this.node), point: 'ready', ring: this.ring, hash: table.hash(), primary: table.primary, members, t: tMs }));
      this.readyDue = false;
    }
    if (e.ev === 'lkstate' && e.primary) this.readyDue = false;
    const line = lockTraceLine(this.node, e, tMs, this.members);
    if (line !== null) out.push(line);
    return out;
  }
}
