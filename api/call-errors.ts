/**
 * The errors a call of the API throws or rejects with instead of doing what was asked, and the
 * argument checks that throw them. Bad arguments are TypeErrors carrying Node's codes
 * (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE), as Node's own APIs throw: they are programming
 * errors. An aborted wait and a closed node are TotemErrors (TOTEM_ERR_ABORTED, TOTEM_ERR_CLOSED):
 * correct programs meet them too, and handle them by code.
 */
import { TotemError } from '../workers/errors.js';
import { suggest } from './options/validation.js';

export function abortedError(what: string, signal: AbortSignal): TotemError {
  return new TotemError('TOTEM_ERR_ABORTED', `${what} was aborted`, { cause: signal.reason });
}

export function closedError(what: string): TotemError {
  return new TotemError('TOTEM_ERR_CLOSED', `${what}: the node is closed`);
}

/** Throw a TypeError carrying Node's code for a bad argument. */
export function invalidArgument(message: string, code = 'ERR_INVALID_ARG_TYPE'): TypeError {
  return Object.assign(new TypeError(message), { code });
}

/**
 * `value` when it is one of `choices`, `fallback` when left out; otherwise ERR_INVALID_ARG_VALUE
 * listing the choices ("order must be 'agreed' or 'safe', got fifo").
 */
export function checkChoice<C extends string>(value: unknown, name: string, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback;
  if (!(choices as readonly unknown[]).includes(value)) {
    const listed = choices.map((c) => `'${c}'`).join(' or ');
    throw invalidArgument(`${name} must be ${listed}, got ${String(value)}`, 'ERR_INVALID_ARG_VALUE');
  }
  return value as C;
}

/** Reject early when `signal` is not an AbortSignal (a typo there would silently never abort). */
export function checkSignal(signal: unknown, where: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw invalidArgument(`${where}: signal must be an AbortSignal`);
  }
  return signal;
}

/**
 * Refuse an options object with a key the call does not know (`encodng` would otherwise silently
 * give the default): ERR_INVALID_ARG_VALUE naming the key and the nearest known one.
 */
export function checkCallOptions(options: unknown, known: readonly string[], where: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument(`${where}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  // for-in rather than Object.keys: no array per call (send() checks its options every time).
  for (const key in options) {
    if (!Object.hasOwn(options, key) || known.includes(key)) continue;
    const near = suggest(key, known);
    const hint = near === null ? `known options: ${known.join(', ') || 'none'}` : `did you mean '${near}'?`;
    throw invalidArgument(`${where}: unknown option '${key}' (${hint})`, 'ERR_INVALID_ARG_VALUE');
  }
}
