/**
 * The lock manager's pending requests: settled once each, with their timeout and abort listener
 * undone, and their map renewed every mapRenewOps ends without losing a request still pending.
 */
import { describe, expect, it } from 'vitest';
import { mapRenewOps } from '../../engine/locks/table-core.js';
import { Pending, PendingRequests } from '../../api/locks/pending.js';
import type { Lockspace } from '../../api/locks/handles.js';

const ls = { name: 'ls' } as Lockspace;

function pending(): { p: Pending; resolved: number[] } {
  const resolved: number[] = [];
  const p = new Pending('lock', () => resolved.push(1), () => undefined, null, ls, 'r');
  return { p, resolved };
}

describe('PendingRequests', () => {
  it('settles a request once, undoing its timeout', async () => {
    const requests = new PendingRequests();
    const { p } = pending();
    let cancelled = 0;
    p.watch({ timeoutMs: 5 }, () => cancelled++);
    requests.add(1, p);
    expect(requests.has(1)).toBe(true);
    expect(requests.settle(1)).toBe(p);
    expect(requests.settle(1)).toBeUndefined();
    expect(requests.has(1)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cancelled).toBe(0);
  });

  it('renews its map once every mapRenewOps ends, keeping what is still pending', () => {
    const requests = new PendingRequests();
    const kept = pending().p;
    requests.add(0, kept);
    let renewals = 0;
    for (let c = 1; c <= 3 * mapRenewOps; c++) {
      requests.add(c, pending().p);
      requests.settle(c);
      if (requests.renewIfDue()) renewals++;
    }
    expect(renewals).toBe(3);
    expect(requests.renewIfDue()).toBe(false);
    expect(requests.get(0)).toBe(kept);
    expect(requests.settleAll()).toEqual([kept]);
    expect(requests.has(0)).toBe(false);
  });
});
