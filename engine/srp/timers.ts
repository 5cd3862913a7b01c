/**
 * The engine's timers as absolute deadlines on the host's clock. Nothing here reads a clock: the
 * host passes `now` with every input and asks `nextDeadlineMs()` when to call back.
 */
export const timerNames = ['tokenLoss', 'tokenRetransmit', 'join', 'consensus', 'merge', 'hold', 'silence', 'leave'] as const;
export type TimerName = (typeof timerNames)[number];

export class Timers {
  private readonly deadlineMs: Record<TimerName, number> = {
    tokenLoss: Infinity,
    tokenRetransmit: Infinity,
    join: Infinity,
    consensus: Infinity,
    merge: Infinity,
    hold: Infinity,
    silence: Infinity,
    leave: Infinity,
  };

  arm(name: TimerName, nowMs: number, afterMs: number): void {
    this.deadlineMs[name] = nowMs + afterMs;
  }

  cancel(name: TimerName): void {
    this.deadlineMs[name] = Infinity;
  }

  /** Every timer off (a node that announced its leave runs none of the protocol's). */
  cancelAll(): void {
    for (const name of timerNames) this.deadlineMs[name] = Infinity;
  }

  isArmed(name: TimerName): boolean {
    return this.deadlineMs[name] !== Infinity;
  }

  nextDeadlineMs(): number {
    let next = Infinity;
    for (const name of timerNames) next = Math.min(next, this.deadlineMs[name]);
    return next;
  }

  /** The first expired timer in a fixed order (so that runs are deterministic), disarmed; or null. */
  takeExpired(nowMs: number): TimerName | null {
    for (const name of timerNames) {
      if (this.deadlineMs[name] <= nowMs) {
        this.deadlineMs[name] = Infinity;
        return name;
      }
    }
    return null;
  }
}
