import { describe, expect, it } from 'vitest';
import { fccAllowance, fccTokenUpdate } from '../../engine/srp/flow-control.js';

describe('flow control arithmetic', () => {
  it('allows max_messages on an empty window', () => {
    expect(fccAllowance(50, 17, 0, 0, 0, { sentPrev: 0, backlogPrev: 0 })).toBe(17);
  });

  it('never exceeds what the window leaves, and clamps at zero when fcc overshoots', () => {
    expect(fccAllowance(50, 17, 40, 0, 0, { sentPrev: 0, backlogPrev: 0 })).toBe(10);
    expect(fccAllowance(50, 17, 50, 0, 0, { sentPrev: 0, backlogPrev: 0 })).toBe(0);
    expect(fccAllowance(50, 17, 70, 0, 0, { sentPrev: 0, backlogPrev: 0 })).toBe(0);
  });

  it('shares the window in proportion to my previous backlog when others wait', () => {
    // I had 10 waiting, the ring 90 in all (my 10 included) and I now have 10: 50 * 10 / 90 = 5.
    expect(fccAllowance(50, 17, 0, 90, 10, { sentPrev: 0, backlogPrev: 10 })).toBe(5);
    // A share of zero does not stop me (corosync applies it only when positive).
    expect(fccAllowance(50, 17, 0, 1000, 1, { sentPrev: 0, backlogPrev: 1 })).toBe(17);
  });

  it('replaces my previous contribution to fcc and backlog on the token', () => {
    const state = { sentPrev: 7, backlogPrev: 20 };
    const token = { fcc: 30, backlog: 50 };
    fccTokenUpdate(token, 12, 5, state);
    expect(token).toEqual({ fcc: 35, backlog: 35 });
    expect(state).toEqual({ sentPrev: 12, backlogPrev: 5 });
    // Never below zero, even when members that contributed have left.
    const t2 = { fcc: 2, backlog: 1 };
    fccTokenUpdate(t2, 0, 0, { sentPrev: 10, backlogPrev: 10 });
    expect(t2).toEqual({ fcc: 0, backlog: 0 });
  });
});
