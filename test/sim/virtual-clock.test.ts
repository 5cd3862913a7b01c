import { describe, expect, it } from 'vitest';
import { VirtualClock } from './virtual-clock.js';

describe('VirtualClock livelock guard', () => {
  it('lets a burst scheduled earlier for one instant run whole', () => {
    const clock = new VirtualClock();
    let ran = 0;
    // Every node's frames sent at 0 ms, all arriving at 1 ms: many events, one instant, finite.
    for (let i = 0; i < 5_000; i++) clock.after(1, () => ran++);
    expect(clock.runUntil(10, Infinity, 1_000)).toBe(true);
    expect(ran).toBe(5_000);
    expect(clock.nowMs).toBe(10);
  });

  it('stops a chain of zero-delay events at the bound', () => {
    const clock = new VirtualClock();
    let ran = 0;
    // A token passed to oneself without delay, forever.
    const pass = (): void => {
      ran++;
      clock.after(0, pass);
    };
    clock.after(1, pass);
    expect(clock.runUntil(10, Infinity, 1_000)).toBe(false);
    expect(clock.nowMs).toBe(1);
    expect(clock.eventsThisInstant).toBe(1_000);
    // The first pass was scheduled before its instant; the 1,000 after it were not.
    expect(ran).toBe(1_001);
  });

  it('counts the chain only at its own instant', () => {
    const clock = new VirtualClock();
    let chained = 0;
    const step = (): void => {
      chained++;
      if (chained % 500 !== 0) clock.after(0, step);
      else clock.after(1, step);
    };
    clock.after(0, step);
    // 500 zero-delay events per instant, then time moves on: never 1,000 in a row.
    expect(clock.runUntil(20, Infinity, 1_000)).toBe(true);
    expect(chained).toBeGreaterThan(9_000);
  });
});
