/**
 * The control channel between the main thread and each worker: one MessagePort pair per worker
 * (port1 stays on the main thread, port2 goes to the worker through workerData and transferList),
 * carrying small objects with a string `code`. Data never goes this way; it goes through the rings.
 *
 * main → worker codes:
 *   start   token worker only: start the engine (sent once every worker is ready)
 *   stats   reply with counters ({ id } comes back in the reply)
 *   drain   delivery worker only: reply 'drained' once `count` own messages were delivered here
 *   leave   token worker only: let own frames drain for at most `waitMs`, announce the leave to
 *           the ring (engine/srp/leave.ts), reply 'left' once the last copy is in the out ring
 *   stop    finish cleanly, reply 'stopped', and end the thread
 *   crash   end the thread abruptly with exit code 1 (tests: a worker dying unexpectedly)
 * worker → main codes:
 *   ready   the worker is set up (net: the socket is bound; details of the socket come with it)
 *   stats   the reply to stats
 *   drained the reply to drain
 *   left    the reply to leave
 *   stopped the reply to stop (final counters)
 *   log     one diagnostic line for the main thread's logger (loggers hold functions: they stay
 *           on the main thread)
 *   fatal   the worker failed; `error` is TotemError#toJSON(); the thread ends after posting it
 *   slowConsumer  delivery worker only: its buffer passed deliveryBufferBytesMax; the token worker
 *           was told (wake-flags.ts) and announces the leave; `body` says why (teardown.ts)
 *
 * Any other code on either side is fatal: both ends come from this file, so an unknown code means
 * a corrupted message or mismatched builds, and continuing would hide it.
 *
 * Workers blocked in Atomics.wait run no event loop: they take messages with receiveMessageOnPort
 * after every wake-up, and the main thread rings the worker's doorbell after each post. The
 * doorbell re-check (W2 in ring/doorbell.ts) also looks at the port, so a message posted while
 * the worker was between its last poll and its sleep is not left waiting.
 */
import { receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { AssertionError } from '../engine/assert.js';
import { TotemError } from './errors.js';
import type { TotemErrorJSON } from './errors.js';
import type { LogLevel } from './logger.js';

export type ThreadName = 'net' | 'token' | 'delivery';

export const mainCodes = ['start', 'stats', 'drain', 'leave', 'stop', 'crash'] as const;
export type MainCode = (typeof mainCodes)[number];
export const workerCodes = ['ready', 'stats', 'drained', 'left', 'stopped', 'log', 'fatal', 'slowConsumer'] as const;
export type WorkerCode = (typeof workerCodes)[number];

export interface MainMessage {
  code: MainCode;
  /** stats: echoed in the reply. */
  id?: number;
  /** stats: include the token hop stamps (token-hops.ts), for the benchmark. */
  tokenHops?: boolean;
  /** drain: own messages to wait for. */
  count?: number;
  /** leave: longest wait for own frames to be held by every member before the announce. */
  waitMs?: number;
}

export interface WorkerMessage {
  code: WorkerCode;
  id?: number;
  /** fatal */
  error?: TotemErrorJSON;
  /** log */
  level?: LogLevel;
  message?: string;
  fields?: Record<string, unknown>;
  /** ready, stats, stopped: the worker's counters and facts; slowConsumer: why. */
  body?: Record<string, unknown>;
}

const mainCodeSet: ReadonlySet<string> = new Set(mainCodes);
const workerCodeSet: ReadonlySet<string> = new Set(workerCodes);

export function isMainMessage(v: unknown): v is MainMessage {
  return typeof v === 'object' && v !== null && mainCodeSet.has((v as { code?: unknown }).code as string);
}

export function isWorkerMessage(v: unknown): v is WorkerMessage {
  return typeof v === 'object' && v !== null && workerCodeSet.has((v as { code?: unknown }).code as string);
}

export function describeCode(v: unknown): string {
  const code = typeof v === 'object' && v !== null ? (v as { code?: unknown }).code : v;
  return JSON.stringify(String(code));
}

/**
 * The TotemError a worker reports for an error it caught: an engine invariant → ENGINE_FATAL, a
 * TotemError (a state-store write, a bind) as it is, anything else → WORKER_DIED with the cause.
 */
export function toTotemError(err: unknown, thread: ThreadName): TotemError {
  if (err instanceof TotemError) return err;
  if (err instanceof AssertionError) {
    return new TotemError('TOTEM_ERR_ENGINE_FATAL', `the ${thread} worker stopped the node: ${err.message}`, {
      details: { thread },
      cause: err,
    });
  }
  const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const e = new TotemError('TOTEM_ERR_WORKER_DIED', `the ${thread} worker failed: ${why}`, {
    details: { thread },
    cause: err,
  });
  if (err instanceof Error && err.stack !== undefined) e.stack = err.stack;
  return e;
}

/**
 * Worker side of the channel for a worker that blocks in Atomics.wait: messages are pulled with
 * receiveMessageOnPort and kept in order until the loop handles them.
 */
export class SyncControl {
  private readonly queue: MainMessage[] = [];

  constructor(
    private readonly port: MessagePort,
    private readonly thread: ThreadName,
  ) {}

  /**
   * Moves every message waiting on the port into the queue. Returns true when the queue holds any.
   * Cheap enough for the doorbell's re-check: one native call when the port is empty.
   */
  poll(): boolean {
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (m === undefined) break;
      if (!isMainMessage(m.message)) {
        throw new Error(`${this.thread} worker: unknown control code ${describeCode(m.message)}`);
      }
      this.queue.push(m.message);
    }
    return this.queue.length > 0;
  }

  /** The next queued message, or undefined. */
  take(): MainMessage | undefined {
    return this.queue.shift();
  }

  post(m: WorkerMessage): void {
    this.port.postMessage(m);
  }

  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    this.post({ code: 'log', level, message, ...(fields === undefined ? {} : { fields }) });
  }

  fatal(err: unknown): void {
    this.post({ code: 'fatal', error: toTotemError(err, this.thread).toJSON() });
  }
}
