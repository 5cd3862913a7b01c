/** A lockspace as the operator sees it: holders, converters, waiters with ages, pending barriers. */
import type { LockDumpRow, LockspaceDump } from './lock-types.js';
import type { LockRecord, TableState } from './snapshot.js';

/** Holders, converters and waiters of every resource of a lockspace, with their ages in table ops. */
export function dumpLockspace(state: TableState, lsName: string, inSync: boolean, canGrant: boolean): LockspaceDump | null {
  const ls = state.lockspaces.get(lsName);
  if (ls === undefined) return null;
  const now = state.opCount;
  const row = (l: LockRecord): LockDumpRow => ({
    owner: l.owner,
    granted: l.granted,
    requested: l.requested,
    fence: l.fence,
    suspect: l.suspect,
    orphan: l.orphan,
    depth: l.depth,
    group: l.group,
    ageOps: now - (l.granted === null ? l.queuedAt : l.grantedAt),
  });
  return {
    name: ls.name,
    lvbBytes: ls.lvbBytes,
    reentrancyMax: ls.reentrancyMax,
    inSync,
    canGrant,
    resources: [...ls.resources.values()].map((res) => ({
      name: res.name,
      lvbValid: res.lvbValid,
      holders: res.granted.map(row),
      converters: res.converting.map(row),
      waiters: res.waiting.map(row),
    })),
    barriers: [...ls.barriers.values()].filter((b) => b.expected !== null).map((b) => ({ name: b.name, gen: b.gen, expected: b.expected ?? [], entered: b.entered.slice() })),
  };
}
