import { describe, expect, it } from 'vitest';
import { groupCuts } from '../../../engine/locks/group-cuts.js';

describe('groupCuts: the lock table configurations of group events', () => {
  it('cuts at the own join, at a transitional event, at a regular one, and syncs at a merge', () => {
    // Node 2's own join: its empty table comes along alone, then the group's members.
    expect(groupCuts(2, [], { kind: 'regular', members: [1, 2], cause: 'join' })).toEqual([
      { kind: 'transitional', members: [2], resync: false },
      { kind: 'regular', members: [1, 2], resync: false },
    ]);
    // A ring change: the cut, then the regular event (node 3 came, node 1 went).
    expect(groupCuts(2, [1, 2], { kind: 'transitional', members: [2], cause: 'configuration' })).toEqual([
      { kind: 'transitional', members: [2], resync: false },
    ]);
    expect(groupCuts(2, [2], { kind: 'regular', members: [2, 3], cause: 'configuration' })).toEqual([
      { kind: 'transitional', members: [2], resync: false },
      { kind: 'regular', members: [2, 3], resync: false },
    ]);
    // A merge syncs even when the regular event lists nobody new.
    expect(groupCuts(2, [2, 3], { kind: 'regular', members: [2, 3], cause: 'merge' })?.map((c) => c.resync)).toEqual([false, true]);
  });

  it('says the table is done at this node\'s own leave', () => {
    expect(groupCuts(2, [1, 2], { kind: 'regular', members: [1], cause: 'leave' })).toBeNull();
    expect(groupCuts(2, [1, 2], { kind: 'transitional', members: [1], cause: 'configuration' })).toBeNull();
  });
});
