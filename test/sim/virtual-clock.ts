/**
 * Virtual time for one simulated run. Everything that happens — a packet arriving, a node timer
 * firing, a fault, an application send — is a callback scheduled at a virtual millisecond. Nothing
 * reads the wall clock, so a run's outcome depends on its seed alone.
 */
import { EventQueue } from './event-queue.js';

export class VirtualClock {
  /** Each event with the instant it was scheduled at, to tell a zero-delay chain from a burst. */
  private readonly queue = new EventQueue<{ fn: () => void; scheduledAtMs: number }>();
  private now = 0;
  /** Events run so far; bounds a run that livelocks at one virtual instant. */
  eventsRun = 0;

  get nowMs(): number {
    return this.now;
  }

  get pending(): number {
    return this.queue.size;
  }

  /** Run `fn` at `timeMs` (not before now: an event in the past runs at the current instant). */
  at(timeMs: number, fn: () => void): void {
    this.queue.push(Math.max(timeMs, this.now), { fn, scheduledAtMs: this.now });
  }

  after(delayMs: number, fn: () => void): void {
    this.at(this.now + Math.max(0, delayMs), fn);
  }

  /** Time of the next event; Infinity when none. */
  nextMs(): number {
    return this.queue.peekTimeMs();
  }

  /**
   * Events run at the current virtual instant that were scheduled at that same instant: a chain
   * of zero-delay events (a singleton's token to itself, a timer re-armed in the past). One that
   * never ends keeps time from advancing, a livelock. Events scheduled earlier for this instant
   * do not count: a burst (every node's frames sent at one instant and arriving together a link
   * delay later) is finite, and at 32 nodes and more it alone can exceed any fixed bound.
   */
  eventsThisInstant = 0;

  /**
   * Run events in (time, scheduling) order up to and including `endMs`, then leave the clock at
   * `endMs`. Stops early, returning false, once `eventsMax` events have run in total or
   * `instantEventsMax` at one virtual instant.
   */
  runUntil(endMs: number, eventsMax = Infinity, instantEventsMax = Infinity): boolean {
    while (this.queue.peekTimeMs() <= endMs) {
      if (this.eventsRun >= eventsMax || this.eventsThisInstant >= instantEventsMax) return false;
      const event = this.queue.pop();
      if (event === undefined) break;
      if (event.timeMs !== this.now) this.eventsThisInstant = 0;
      if (event.value.scheduledAtMs === event.timeMs) this.eventsThisInstant++;
      this.now = event.timeMs;
      this.eventsRun++;
      event.value.fn();
    }
    if (endMs > this.now) this.eventsThisInstant = 0;
    this.now = Math.max(this.now, endMs);
    return true;
  }
}

/**
 * One engine's timer on the virtual clock. The engine names one earliest deadline at a time and
 * the queue cannot take an event back, so arming again leaves the earlier event in the queue but
 * stale: it runs and does nothing.
 */
export class DeadlineTimer {
  private armedMs = Infinity;
  private generation = 0;

  constructor(private readonly clock: VirtualClock) {}

  /** Run `fire` at `deadlineMs` (Infinity: never) instead of at the deadline armed before. */
  arm(deadlineMs: number, fire: () => void): void {
    if (deadlineMs === this.armedMs) return;
    this.armedMs = deadlineMs;
    const generation = ++this.generation;
    if (!Number.isFinite(deadlineMs)) return;
    this.clock.at(deadlineMs, () => {
      if (generation !== this.generation) return;
      this.armedMs = Infinity;
      fire();
    });
  }

  /** The armed event (if any) does nothing: its engine crashed, left or was replaced. */
  cancel(): void {
    this.generation++;
    this.armedMs = Infinity;
  }
}
