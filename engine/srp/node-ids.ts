/** Node id lists and sets as the membership protocol compares them: sorted ascending, no repeats. */
import type { NodeId } from '../types.js';

export function sortedIds(set: Iterable<NodeId>): NodeId[] {
  return [...set].sort((a, b) => a - b);
}

export function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isSubset(a: readonly NodeId[], b: ReadonlySet<NodeId>): boolean {
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
