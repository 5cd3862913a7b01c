/**
 * The loop both blocking workers (token, delivery) run, and how it ends. Each worker supplies its
 * own steps (WorkerSteps); this file says the order they run in:
 *
 *   post 'ready'
 *   loop:
 *     take control messages (receiveMessageOnPort)   steps.takeControl()  true: stop now
 *     read the input rings and do the work           steps.turn()         true: found some
 *     may it end here?                               steps.mayStop(busy)
 *     found work: turn again at once
 *     else park on the doorbell until the next deadline (steps.parkMs(), at most parkMsMax),
 *       unless steps.ready() already holds (W2 in ring/doorbell.ts)
 *   post 'stopped' with steps.finish()               (what is owed, then the final counters)
 *   on a throw: post 'fatal'
 *   either way: steps.release(), then close the port
 *
 * A room of its own because the two workers differ only in their steps; the shape (when control
 * is read, when the thread may park, what a stop and a failure post) is one contract with the
 * main thread (control.ts), and is kept in one place. The steps are plain calls on one object per
 * thread: nothing is allocated per turn and the thread wakes only as its doorbell says.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SyncControl } from './control.js';
import type { Doorbell } from './ring/doorbell.js';

/**
 * Longest single park, in ms: the thread also looks at its control port on the way out of each
 * park, so a lost wake-up would cost at most this long (bounded staleness), never a hang.
 */
export const parkMsMax = 1000;

/** What a blocking worker does at each point of the loop. */
export interface WorkerSteps {
  /**
   * Handles the control messages queued by control.poll(). Returns true when the loop must end
   * now, without another turn (the token worker on 'stop').
   */
  takeControl(): boolean;
  /** Reads the input rings and does the work they bring. Returns whether it found any. */
  turn(): boolean;
  /**
   * Whether the loop ends after this turn (`busy`: the turn found work). The token worker ends as
   * soon as it is stopping; the delivery worker only once a turn finds its frame ring empty.
   */
  mayStop(busy: boolean): boolean;
  /** How long the thread may park, in ms: until its next deadline (Infinity: none). <= 0: turn again. */
  parkMs(): number;
  /** The doorbell re-check (W2): work or a control message arrived since the last turn. */
  readonly ready: () => boolean;
  /** After the loop, before 'stopped' is posted: settles what is owed; returns the final counters. */
  finish(): Record<string, unknown>;
  /** After 'stopped' or 'fatal', before the port closes: releases what the worker holds (files). */
  release(): void;
}

/**
 * Runs the loop on this thread until it ends, then reports and releases (see above). Returns once
 * the port is closed: the thread then has nothing left to run and exits.
 */
export function runWorkerLoop(control: SyncControl, port: MessagePort, bell: Doorbell, steps: WorkerSteps): void {
  try {
    control.post({ code: 'ready' });
    for (;;) {
      if (control.poll() && steps.takeControl()) break;
      const busy = steps.turn();
      if (steps.mayStop(busy)) break;
      if (busy) continue;
      const parkMs = steps.parkMs();
      if (parkMs > 0) bell.waitSync(Math.min(parkMs, parkMsMax), steps.ready);
    }
    control.post({ code: 'stopped', body: steps.finish() });
  } catch (err) {
    control.fatal(err);
  } finally {
    steps.release();
    port.close();
  }
}
