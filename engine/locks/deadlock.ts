/**
 * Deadlock detection on the wait-for graph over holders: a queued request waits for every granted
 * lock it is incompatible with and every request queued before it that is incompatible. Searched
 * in table order (every replica has the same order), so every replica finds the same first cycle;
 * its victim is the request queued last.
 */
import { assert } from '../assert.js';
import { modesCompatible } from './modes.js';
import type { LockRecord, TableState } from './snapshot.js';

export function findDeadlockVictim(state: TableState): LockRecord | null {
  // Most calls find nothing queued (the table runs this after every operation): say so before building anything.
  if (!someQueued(state)) return null;
  const edges = new Map<string, Set<string>>();
  const queuedBy = new Map<string, LockRecord[]>();
  // Locks of one holder id wait together; so do the members of one atomic request.
  const holderOf = (l: LockRecord): string => (l.holder !== 0 ? `${l.node}:${l.incarnation}:h${l.holder}` : l.group !== '' ? `g${l.group}` : l.owner);
  let anyQueued = false;
  for (const ls of state.lockspaces.values()) {
    for (const res of ls.resources.values()) {
      const queue = [...res.converting, ...res.waiting];
      queue.forEach((q, index) => {
        anyQueued = true;
        const from = holderOf(q);
        const mode = q.requested;
        assert(mode !== null, 'queued lock without a mode');
        const list = queuedBy.get(from) ?? [];
        list.push(q);
        queuedBy.set(from, list);
        const out = edges.get(from) ?? new Set<string>();
        edges.set(from, out);
        for (const g of res.granted) {
          if (g !== q && g.granted !== null && !modesCompatible(g.granted, mode)) out.add(holderOf(g));
        }
        // NOORDER passes the queue: it waits for granted modes only.
        for (let i = 0; i < (q.noOrder ? 0 : index); i++) {
          const ahead = queue[i];
          if (ahead !== undefined && ahead.requested !== null && !modesCompatible(ahead.requested, mode)) out.add(holderOf(ahead));
        }
      });
    }
  }
  if (!anyQueued) return null;
  // Iterative DFS in table order; the first back edge closes a cycle.
  const color = new Map<string, 1 | 2>();
  for (const start of edges.keys()) {
    if (color.has(start)) continue;
    const stack: { node: string; next: string[] }[] = [{ node: start, next: [...(edges.get(start) ?? [])] }];
    color.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      assert(top !== undefined, 'empty dfs stack');
      const n = top.next.shift();
      if (n === undefined) {
        color.set(top.node, 2);
        stack.pop();
        continue;
      }
      const c = color.get(n);
      if (c === 1) {
        const cycle = stack.slice(stack.findIndex((f) => f.node === n)).map((f) => f.node);
        let victim: LockRecord | null = null;
        for (const h of cycle) for (const q of queuedBy.get(h) ?? []) if (victim === null || q.queuedAt > victim.queuedAt) victim = q;
        assert(victim !== null, 'a cycle without a queued request');
        return victim;
      }
      if (c === undefined) {
        color.set(n, 1);
        stack.push({ node: n, next: [...(edges.get(n) ?? [])] });
      }
    }
  }
  return null;
}

function someQueued(state: TableState): boolean {
  for (const ls of state.lockspaces.values()) {
    for (const res of ls.resources.values()) if (res.converting.length > 0 || res.waiting.length > 0) return true;
  }
  return false;
}
