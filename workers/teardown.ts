/**
 * How a node ends, cleanly or not: close(drainTimeoutMs) (drain this node's own messages, announce
 * the leave to the ring, stop the workers in order, hand the rest of the delivery ring to the application), fail(err) (a
 * fatal error: terminate everything, then RuntimeEvents.fatal once), and the Lifecycle flags the
 * other rooms read to refuse work once the end has begun.
 *
 * A room of its own because both ends share one ordering problem: every worker must be gone and
 * the pump stopped before the application hears `fatal` or sees close() resolve, and a failure
 * during close must win over the close without a second teardown.
 */
import { TotemError } from './errors.js';
import type { Logger } from './logger.js';
import type { DeliveryPump } from './delivery-pump.js';
import { deliveryBatchMax } from './delivery-pump.js';
import type { RuntimeEvents } from './runtime-types.js';
import { deferred } from './deferred.js';
import type { Body, WorkerReports, Workers } from './spawn.js';
import type { Submission } from './submission.js';

/** How long a worker gets to answer 'stop' before it is terminated. */
const stopTimeoutMs = 5000;
/**
 * How long the token worker gets, beyond the drain wait it was given, to announce the leave: the
 * copies take a few ms, unless the thread is waiting for room in a full output ring.
 */
const leaveReplyMarginMs = 1000;
/**
 * How long a node that gave up on its application (slow consumer) waits for the token worker's
 * 'left' before it stops anyway: the token worker waits up to 2 s for its own frames
 * (token-worker.ts slowConsumerLeaveWaitMs), then sends the copies.
 */
const slowLeaveWaitMs = 3000;
/** How long the net worker gets to send what is left in the out ring (the leave copies). */
const netFlushWaitMs = 1000;

/** Where the node is in its life: written here (started: by startRuntime), read by the others. */
export class Lifecycle {
  /** Every worker was ready and the engine was told to start: a failure now is `fatal`. */
  started = false;
  /** No more submissions: close() was called or a fatal error happened. */
  closing = false;
  /** Teardown has begun: a worker exiting now was asked to. */
  finished = false;
  failure: TotemError | null = null;
}

function stoppedWithin<T>(p: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(null);
      },
    );
  });
}

export class Shutdown implements WorkerReports {
  /** Rejects with the first fatal error: ends the wait for start-up. */
  readonly startFailed = deferred<never>();
  private readonly drainedReply = deferred<Body>();
  private readonly leftReply = deferred<Body>();
  private ownDelivered = 0;
  private slowConsumerSeen = false;
  private closePromise: Promise<{ undelivered: number }> | null = null;

  constructor(
    private readonly lifecycle: Lifecycle,
    private readonly workers: Workers,
    private readonly pump: DeliveryPump,
    private readonly submission: Submission,
    private readonly events: RuntimeEvents,
    private readonly logger: Logger,
  ) {}

  /** A fatal error: every worker is stopped, then (if the node had started) events.fatal. */
  fail(err: TotemError): void {
    const lifecycle = this.lifecycle;
    if (lifecycle.failure !== null || lifecycle.finished) return;
    lifecycle.failure = err;
    lifecycle.closing = true;
    this.startFailed.reject(err);
    this.drainedReply.reject(err);
    this.leftReply.reject(err);
    this.workers.rejectRequests(err);
    void this.teardown().then(() => {
      if (lifecycle.started) {
        try {
          this.events.fatal(err);
        } catch (e) {
          this.logger.error('the fatal callback threw', { err: e });
        }
      }
    });
  }

  drained(body: Body): void {
    this.noteOwnDelivered(body);
    this.drainedReply.resolve(body);
  }

  left(body: Body): void {
    this.leftReply.resolve(body);
  }

  deliveryStopped(body: Body): void {
    this.noteOwnDelivered(body);
  }

  /**
   * The delivery worker's buffer passed deliveryBufferBytesMax (the application stopped taking
   * deliveries) and the token worker is announcing the leave. Says why in one line, lets the
   * leave copies go out (the token worker's 'left', then the net worker sends what the out ring
   * holds), then fails the node with TOTEM_ERR_SLOW_CONSUMER. The application hears it as soon as
   * its thread runs again; the others reconfigure with cause 'leave' whether or not it does.
   */
  slowConsumer(body: Body): void {
    const lifecycle = this.lifecycle;
    if (this.slowConsumerSeen || lifecycle.failure !== null || lifecycle.finished) return;
    this.slowConsumerSeen = true;
    lifecycle.closing = true;
    const where = body.where === 'iterator' ? 'iterator' : 'runtime';
    const details = {
      bufferedBytes: Number(body.bufferedBytes ?? 0),
      bytesMax: Number(body.bytesMax ?? 0),
      notReadMs: Number(body.notReadMs ?? 0),
      where,
      ...(typeof body.of === 'string' ? { of: body.of } : {}),
    };
    const waiting =
      where === 'iterator'
        ? `an iterator of ${String(body.of)} was not read for ${details.notReadMs} ms: ${details.bufferedBytes} bytes wait in it`
        : `the application did not take its deliveries for ${details.notReadMs} ms: ${details.bufferedBytes} bytes wait for it`;
    const why = `${waiting}, more than deliveryBufferBytesMax (${details.bytesMax}); the node leaves the ring`;
    this.logger.error(why, details);
    const err = new TotemError('TOTEM_ERR_SLOW_CONSUMER', why, { details });
    void (async () => {
      await stoppedWithin(this.leftReply.promise, slowLeaveWaitMs);
      if (lifecycle.failure !== null || lifecycle.finished) return;
      const net = this.workers.handle('net');
      net.stopRequested = true;
      net.post({ code: 'stop' });
      await stoppedWithin(net.stopped.promise, netFlushWaitMs);
      this.fail(err);
    })();
  }

  /** Terminates every worker still running and stops the pump; resolves once all have exited. */
  async teardown(): Promise<void> {
    this.lifecycle.finished = true;
    this.pump.stop();
    await this.workers.terminateAll();
    await this.pump.finished;
  }

  close(drainTimeoutMs: number): Promise<{ undelivered: number }> {
    this.closePromise ??= this.runClose(drainTimeoutMs);
    return this.closePromise;
  }

  private noteOwnDelivered(body: Body): void {
    const n = body.ownDelivered;
    if (typeof n === 'number' && n > this.ownDelivered) this.ownDelivered = n;
  }

  private undelivered(): { undelivered: number } {
    return { undelivered: Math.max(0, this.submission.submitted - this.ownDelivered) };
  }

  private async runClose(drainTimeoutMs: number): Promise<{ undelivered: number }> {
    const lifecycle = this.lifecycle;
    lifecycle.closing = true;
    if (lifecycle.failure !== null || lifecycle.finished) {
      await this.teardown();
      return this.undelivered();
    }
    try {
      const deadlineMs = performance.now() + drainTimeoutMs;
      // 1. Wait until this node has delivered every message it took (or the time is up).
      const submitted = this.submission.submitted;
      if (submitted > this.ownDelivered) {
        this.workers.handle('delivery').post({ code: 'drain', count: submitted });
        await stoppedWithin(this.drainedReply.promise, drainTimeoutMs);
      }
      // 1b. Announce the leave (engine/srp/leave.ts): the others reconfigure at once instead of
      // after a token timeout. The engine first waits, within what is left of the drain time,
      // until every member holds this node's frames, so they are delivered everywhere first.
      if (lifecycle.failure === null) {
        const waitMs = Math.max(0, Math.ceil(deadlineMs - performance.now()));
        this.workers.handle('token').post({ code: 'leave', waitMs });
        const left = await stoppedWithin(this.leftReply.promise, waitMs + leaveReplyMarginMs);
        if (left === null && lifecycle.failure === null) {
          this.logger.warn(`the leave was not announced within ${waitMs + leaveReplyMarginMs} ms; the others will notice the token loss instead`);
        }
      }
      // 2. Token worker: no more packets, deliveries or ring seqs after this.
      // 3. Delivery worker: forwards what the frame ring still holds, then stops.
      // 4. Net worker: closes the socket(s).
      for (const thread of ['token', 'delivery', 'net'] as const) {
        if (lifecycle.failure !== null) break;
        const h = this.workers.handle(thread);
        h.stopRequested = true;
        h.post({ code: 'stop' });
        const body = await stoppedWithin(h.stopped.promise, stopTimeoutMs);
        if (body === null && !h.hasExited) {
          this.logger.warn(`the ${thread} worker did not stop within ${stopTimeoutMs} ms; terminating it`);
        }
      }
      // 5. What the delivery worker forwarded before stopping goes to the application.
      if (lifecycle.failure === null) while (this.pump.drain(deliveryBatchMax) > 0);
    } finally {
      await this.teardown();
    }
    return this.undelivered();
  }
}
