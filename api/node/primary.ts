/**
 * The node's primary-component rule (createNode's `primary` option): which configurations form the
 * primary component. At most one of any set of disjoint configurations may be primary, or two
 * sides of a partition could both act as "the cluster" (two holders of one lock); a majority of
 * configured votes gives that, because two disjoint member sets cannot both hold more than half.
 *
 * - default: every configured member (the `members` option) has one vote; primary = more than
 *   half of them present;
 * - `{ votes: { [nodeId]: n } }` (or `{ votes: [ids] }`, one vote each): per-node votes; a node not
 *   listed has none; a node with 0 votes counts for nothing;
 * - `(members) => boolean`: the application's own rule (it then owns "at most one primary").
 *
 * The rule is evaluated at every configuration installed, transitional ones included, on that
 * configuration's members; the lock manager applies the same rule to its group's members.
 */
import { isPrimaryComponent, type PrimaryRule } from '../../engine/locks/primary.js';
import type { NodeId } from '../../engine/types.js';
import { TotemError } from '../../workers/errors.js';

export type { PrimaryRule };

/** What createNode's `primary` option takes. */
export type PrimaryOption =
  | { votes: readonly NodeId[] | Readonly<Record<number, number>> }
  | ((members: readonly NodeId[]) => boolean);

function bad(why: string): TotemError {
  return new TotemError('TOTEM_ERR_INVALID_OPTION', `primary ${why}`, { details: { option: 'primary' } });
}

/** Check the option and resolve it against the configured members (TOTEM_ERR_INVALID_OPTION). */
export function resolvePrimaryRule(option: unknown, configured: readonly NodeId[]): PrimaryRule {
  if (option === undefined) return { kind: 'majority', votes: new Map(configured.map((id) => [id, 1])) };
  if (typeof option === 'function') {
    const fn = option as (members: readonly NodeId[]) => boolean;
    return { kind: 'function', isPrimary: fn };
  }
  if (typeof option !== 'object' || option === null || Array.isArray(option)) {
    throw bad('must be { votes } or a function (members) => boolean');
  }
  const o = option as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'votes') throw bad(`has an unknown key '${k}' (it takes votes)`);
  const votes = new Map<NodeId, number>();
  const v = o['votes'];
  if (Array.isArray(v)) {
    for (const id of v as unknown[]) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw bad(`.votes lists node ids (whole numbers >= 1), got ${String(id)}`);
      votes.set(id, 1);
    }
  } else if (typeof v === 'object' && v !== null) {
    for (const [key, n] of Object.entries(v as Record<string, unknown>)) {
      const id = Number(key);
      if (!Number.isSafeInteger(id) || id < 1) throw bad(`.votes: '${key}' is not a node id`);
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(`.votes[${key}] must be a whole number >= 0, got ${String(n)}`);
      votes.set(id, n);
    }
  } else {
    throw bad('.votes must be an array of node ids or an object { [nodeId]: votes }');
  }
  let total = 0;
  for (const n of votes.values()) total += n;
  if (total === 0) throw bad('.votes gives no votes at all: no configuration could ever be primary');
  return { kind: 'majority', votes };
}

/**
 * Whether `members` form a primary component under `rule`. A function rule that throws counts as
 * "not primary": a broken rule must not make two sides primary.
 */
export function evaluatePrimary(rule: PrimaryRule, members: readonly NodeId[]): boolean {
  try {
    return isPrimaryComponent(rule, members);
  } catch {
    return false;
  }
}
