/**
 * A node's states and what closing and failing need.
 *
 * open → closing (close() called) → closed. A runtime fatal error goes to closed from either: the
 * 'error' event carries it (not while closing: close() rejects with it instead), every pending
 * promise rejects with it and every iterator throws it after its buffered items. close() leaves
 * every group (so the others see ordered leaves rather than a ring failure), waits up to
 * `drainTimeoutMs` for those leaves, then lets the runtime drain and stop; it rejects with
 * TOTEM_ERR_UNDELIVERED when the runtime reports accepted messages it could not deliver.
 */
import { TotemError, totemErrorCodes } from '../../workers/errors.js';
import type { TotemErrorCode } from '../../workers/errors.js';
import { timerMsMax } from '../options.js';

export type NodeState = 'open' | 'closing' | 'closed';

export interface CloseOptions {
  /** How long close() waits for this node's leaves and accepted messages to be delivered. */
  drainTimeoutMs?: number;
}

export const drainTimeoutMsDefault = 5000;

export function checkDrainTimeout(value: unknown): number {
  if (value === undefined) return drainTimeoutMsDefault;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > timerMsMax) {
    const why = `drainTimeoutMs must be a whole number of milliseconds in 0..${timerMsMax}`;
    throw Object.assign(new RangeError(why), { code: 'ERR_OUT_OF_RANGE' });
  }
  return value;
}

const codeSet: ReadonlySet<string> = new Set(totemErrorCodes);

/** The runtime reports TotemErrors; anything else still reaches the user with a stable code. */
export function toTotemError(error: unknown): TotemError {
  if (TotemError.isTotemError(error)) return error;
  if (TotemError.isTotemErrorJSON(error)) return TotemError.fromJSON(error);
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && codeSet.has(code)) {
    return new TotemError(code as TotemErrorCode, message, { cause: error });
  }
  return new TotemError('TOTEM_ERR_ENGINE_FATAL', `the runtime failed: ${message}`, { cause: error });
}
