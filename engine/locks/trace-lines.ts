/**
 * The lock manager's trace lines (docs/trace-contract.md, "Lock manager lines"), built from the
 * table's events with a fixed field order so that one simulator seed gives byte-identical files.
 * Returns null for events that are not traced (dropped operations).
 */
import type { NodeId } from '../types.js';
import type { LockTableEvent } from './lock-table.js';

export function lockTraceLine(node: NodeId, e: LockTableEvent, tMs: number): string | null {
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
    case 'lkstate':
      return JSON.stringify({ ev: 'lkstate', node: n, point: e.point, ring: e.ring, hash: e.hash, primary: e.primary, t: tMs });
    case 'dropped':
      return null;
  }
}
