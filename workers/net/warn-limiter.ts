/**
 * Rate limit and bound the warnings the net worker writes about received datagrams, so that a
 * flood of forged datagrams cannot flood the log or grow memory.
 *
 * Per window of windowMs (10 s): at most linesPerWindow (16) warning lines in all, and at most
 * one line per source (an address, or a reason and an address); state for at most sourcesMax (64)
 * sources. A source's first event of a window is written (budget allowing) with how many events
 * it had since its last line; later ones are only counted. What was held back is said in one
 * summary line at the next window boundary ("held back N warnings ..."), and counted
 * in `heldBack` (totem_net_warnings_held_back_total). So a peer that keeps failing
 * authentication is named at warn once per window with its count, and 5,000 forged sources cost
 * at most 16 lines, one summary and 64 entries per window.
 *
 * The clock is passed in (milliseconds), so the limiter is a pure function of its calls.
 */

export interface WarnLimiterOptions {
  windowMs?: number;
  linesPerWindow?: number;
  sourcesMax?: number;
}

export type WarnSink = (message: string, fields: Record<string, unknown>) => void;

interface SourceState {
  /** Events since this source's last written line. */
  pending: number;
  /** Whether a line for this source was written in the current window. */
  writtenThisWindow: boolean;
  /** Whether it had an event in the current window: sources silent for a whole window go. */
  seenThisWindow: boolean;
}

export class WarnLimiter {
  readonly windowMs: number;
  readonly linesPerWindow: number;
  readonly sourcesMax: number;
  /** Warnings not written as lines of their own (over budget, repeated, or beyond sourcesMax). */
  heldBack = 0;
  private windowStartMs = -Infinity;
  private linesThisWindow = 0;
  private heldThisWindow = 0;
  private readonly heldSources = new Set<string>();
  private untrackedEvents = 0;
  private readonly sources = new Map<string, SourceState>();

  constructor(
    private readonly sink: WarnSink,
    o: WarnLimiterOptions = {},
  ) {
    this.windowMs = o.windowMs ?? 10_000;
    this.linesPerWindow = o.linesPerWindow ?? 16;
    this.sourcesMax = o.sourcesMax ?? 64;
  }

  /** Sources with state right now (at most sourcesMax). */
  get sourceCount(): number {
    return this.sources.size;
  }

  /**
   * One event from `source`: written as `message` with `fields` (plus `events`, how many this
   * source had since its last line) if the window's budget allows, else counted.
   */
  warn(nowMs: number, source: string, message: string, fields: Record<string, unknown> = {}): void {
    this.tick(nowMs);
    let s = this.sources.get(source);
    if (s === undefined) {
      if (this.sources.size >= this.sourcesMax) {
        this.holdBack(source, false);
        return;
      }
      s = { pending: 0, writtenThisWindow: false, seenThisWindow: false };
      this.sources.set(source, s);
    }
    s.pending++;
    s.seenThisWindow = true;
    if (s.writtenThisWindow || this.linesThisWindow >= this.linesPerWindow) {
      this.holdBack(source, true);
      return;
    }
    this.linesThisWindow++;
    s.writtenThisWindow = true;
    this.sink(message, { ...fields, source, events: s.pending });
    s.pending = 0;
  }

  /**
   * Ends the window if windowMs has passed: writes the summary of what was held back, forgets
   * sources with nothing pending. The net worker also calls this from a timer, so the summary
   * comes even when the flood has stopped.
   */
  tick(nowMs: number): void {
    if (nowMs - this.windowStartMs < this.windowMs) return;
    if (this.heldThisWindow > 0) {
      const sources = this.heldSources.size;
      const beyond = this.untrackedEvents;
      const more = beyond === 0 ? '' : ` and ${beyond} from sources beyond the ${this.sourcesMax} tracked`;
      this.sink(`held back ${this.heldThisWindow} warnings in the last ${this.windowMs / 1000} s: ` +
        `${this.heldThisWindow - beyond} from ${sources} tracked sources${more}`, {
        heldBack: this.heldThisWindow,
        sources,
        untrackedEvents: beyond,
      });
    }
    this.windowStartMs = nowMs;
    this.linesThisWindow = 0;
    this.heldThisWindow = 0;
    this.heldSources.clear();
    this.untrackedEvents = 0;
    for (const [key, s] of this.sources) {
      // A source active in the window that ended keeps its count of unwritten events for its next
      // line; one silent for a whole window is forgotten (its events are in the summary above).
      if (!s.seenThisWindow) this.sources.delete(key);
      else {
        s.writtenThisWindow = false;
        s.seenThisWindow = false;
      }
    }
  }

  private holdBack(source: string, tracked: boolean): void {
    this.heldBack++;
    this.heldThisWindow++;
    if (tracked) this.heldSources.add(source);
    else this.untrackedEvents++;
  }
}
