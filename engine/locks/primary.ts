/**
 * The primary-component rule: which configurations may grant locks. At most one of any set of
 * disjoint configurations may be primary, or two holders could be granted the same lock; a
 * majority of configured votes gives that, because two disjoint member sets cannot both hold
 * more than half of the votes.
 *
 * - `{ kind: 'majority', votes }`: primary when the members hold more than half of all configured
 *   votes. `votes` maps every configured node id to its votes (1 each by default); a node that is
 *   not configured has no vote.
 * - `{ kind: 'function', isPrimary }`: the application decides (it then owns the "at most one" rule).
 */
import type { NodeId } from '../types.js';

export type PrimaryRule =
  | { kind: 'majority'; votes: ReadonlyMap<NodeId, number> }
  | { kind: 'function'; isPrimary: (members: readonly NodeId[]) => boolean };

/** A majority rule where each listed node has one vote. */
export function majorityOf(nodeIds: readonly NodeId[]): PrimaryRule {
  return { kind: 'majority', votes: new Map(nodeIds.map((id) => [id, 1])) };
}

export function isPrimaryComponent(rule: PrimaryRule, members: readonly NodeId[]): boolean {
  if (rule.kind === 'function') return rule.isPrimary(members) === true;
  let total = 0;
  for (const votes of rule.votes.values()) total += votes;
  if (total <= 0) return false;
  let present = 0;
  for (const id of new Set(members)) present += rule.votes.get(id) ?? 0;
  return present * 2 > total;
}
