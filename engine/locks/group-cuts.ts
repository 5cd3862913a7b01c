/**
 * The lock table's configurations from its group's membership events. The lock manager's members
 * are its group's (every node that opened it), so the table is cut where the group's views change
 * (engine/groups/assembler.ts reports them at the same point of the stream on every member):
 *
 *   transitional event → a transitional configuration of its members;
 *   regular event      → a transitional configuration of the members that came along (the
 *                        members before it that are still there; this node alone at its own
 *                        join), then the regular one; a sync when it brought anyone, or always
 *                        at a merge (cause 'merge': the sides' views, so their cuts, may have
 *                        differed before it).
 *
 * One function for the lock manager (api/locks/lock-manager.ts) and the simulator's lock workload,
 * so that the simulator checks the cuts the lock manager makes.
 */
import type { ConfigurationChange, GroupEventCause, NodeId, RingId } from '../types.js';

export interface GroupCut {
  kind: 'transitional' | 'regular';
  members: readonly NodeId[];
  /** Sync the replicas even if the configuration brought nobody new (LockTable.onConfiguration). */
  resync: boolean;
}

/**
 * The cuts `e` stands for, given the group's members before it (empty before this node's own
 * join); null when `e` is this node's own leave (the table is done).
 */
export function groupCuts(
  self: NodeId,
  before: readonly NodeId[],
  e: { kind: 'transitional' | 'regular'; members: readonly NodeId[]; cause: GroupEventCause },
): GroupCut[] | null {
  if (before.length > 0 && !e.members.includes(self)) return null;
  if (e.kind === 'transitional') return [{ kind: 'transitional', members: e.members, resync: false }];
  const came = before.length === 0 ? [self] : before.filter((id) => e.members.includes(id));
  return [
    { kind: 'transitional', members: came, resync: false },
    { kind: 'regular', members: e.members, resync: e.cause === 'merge' },
  ];
}

/** `cut` as the table takes it, in the ring `ringId` (the group's joined/left/cause are not used). */
export function cutConfiguration(cut: GroupCut, ringId: RingId): ConfigurationChange {
  return { kind: cut.kind, ringId, members: [...cut.members], joined: [], left: [], cause: 'join', causeNodes: [] };
}
