/**
 * The one error class of the public API. Callers match on `err.code`, never on the class or the
 * message: a `TotemError` made in a worker thread reaches the main thread through structured
 * cloning, which keeps neither the class, nor `code`, nor symbol-keyed properties (measured on
 * Node 20: a cloned error is a plain `Error` named "Error"). So a worker posts `err.toJSON()` and
 * the main thread rebuilds it with `TotemError.fromJSON()`. Two copies of totem-evs loaded in one
 * process (or in two vm realms) recognise each other's errors through a brand registered with
 * `Symbol.for`, which `instanceof` and `TotemError.isTotemError` both check.
 *
 * Codes, and when each is thrown:
 *
 * - `TOTEM_ERR_INVALID_OPTION`: the options of `createNode()` fail validation, before any thread
 *   starts; the message says what to change. details: `option` (e.g. `members[2].address`).
 * - `TOTEM_ERR_BIND`: the `bind` address cannot be bound (in use, not a local address, no
 *   permission). details: `address`, `errno`.
 * - `TOTEM_ERR_KEY_FILE`: the file of `key: { file }` cannot be read (missing, unreadable, a
 *   directory), or group or others may access it (details `mode`, octal: `chmod 600` fixes it).
 *   details: `path`.
 * - `TOTEM_ERR_BAD_KEY`: the key, inline or read from its file, is not exactly 32 bytes.
 *   details: `option`, `bytes`.
 * - `TOTEM_ERR_CLOSED`: a call on a node, or on a group of a node, that is closing or closed.
 * - `TOTEM_ERR_ABORTED`: an operation's `AbortSignal` fired before the operation completed.
 * - `TOTEM_ERR_PAYLOAD_TOO_LARGE`: a payload exceeds `messageBytesMax`. details: `bytes`,
 *   `bytesMax`.
 * - `TOTEM_ERR_NOT_JOINED`: a send to a group this node has not joined, or has left.
 *   details: `group`.
 * - `TOTEM_ERR_WORKER_DIED`: a worker thread of the node exited without being asked to.
 *   details: `thread`, `exitCode`.
 * - `TOTEM_ERR_ENGINE_FATAL`: the protocol engine broke an invariant and stopped the node.
 *   details: `thread`.
 * - `TOTEM_ERR_STATE_DIR`: the state directory cannot be created, read or written, or its
 *   ring-seq file is corrupt; also when persisting a ring seq fails at a membership change (the
 *   node must not announce a ring it could not record). details: `path`.
 * - `TOTEM_ERR_UNDELIVERED`: close() stopped the node before messages it had accepted were
 *   delivered here. details: `undelivered` (how many), `drainTimeoutMs`.
 * - `TOTEM_ERR_INSECURE`: no key is set and a member's address is not on loopback, so packets
 *   would travel unauthenticated on a real network; set a key (`totem-evs keygen FILE`) or
 *   `insecure: true` (`--insecure`). details: `option` ('key'), `addresses` (the non-loopback ones).
 * - `TOTEM_ERR_SLOW_CONSUMER`: the application did not take its deliveries (a blocked main thread,
 *   a listener that does not return, an iterator nobody reads) until more than
 *   `deliveryBufferBytesMax` waited for it; the node left the ring (announced, as close() does)
 *   and stopped. details: `bufferedBytes`, `bytesMax`, `notReadMs` (how long the application had
 *   not taken a delivery), `where` ('runtime' or 'iterator').
 *
 * `details` holds plain, cloneable data (strings, numbers, booleans, arrays and plain objects of
 * those), never key material.
 */

/** Every code, in the order of the list above. */
export const totemErrorCodes = [
  'TOTEM_ERR_INVALID_OPTION',
  'TOTEM_ERR_BIND',
  'TOTEM_ERR_KEY_FILE',
  'TOTEM_ERR_BAD_KEY',
  'TOTEM_ERR_CLOSED',
  'TOTEM_ERR_ABORTED',
  'TOTEM_ERR_PAYLOAD_TOO_LARGE',
  'TOTEM_ERR_NOT_JOINED',
  'TOTEM_ERR_WORKER_DIED',
  'TOTEM_ERR_ENGINE_FATAL',
  'TOTEM_ERR_STATE_DIR',
  'TOTEM_ERR_UNDELIVERED',
  'TOTEM_ERR_INSECURE',
  'TOTEM_ERR_SLOW_CONSUMER',
] as const;

export type TotemErrorCode = (typeof totemErrorCodes)[number];

export type TotemErrorDetails = Readonly<Record<string, unknown>>;

/** The serialised form: what `toJSON()` returns and `fromJSON()` accepts. */
export interface TotemErrorJSON {
  /** Marks the object as a serialised TotemError; `fromJSON` refuses anything without it. */
  readonly brand: typeof serialBrand;
  readonly name: 'TotemError';
  readonly code: TotemErrorCode;
  readonly message: string;
  readonly details?: TotemErrorDetails;
  readonly stack?: string;
  /** The cause's name and message (and code, for a TotemError cause); its class does not survive. */
  readonly cause?: { readonly name: string; readonly message: string; readonly code?: string };
}

export interface TotemErrorOptions {
  details?: TotemErrorDetails;
  cause?: unknown;
}

const brand = Symbol.for('totem-evs.error');
const serialBrand = 'totem-evs.error';
const codeSet: ReadonlySet<string> = new Set(totemErrorCodes);

export class TotemError extends Error {
  override readonly name = 'TotemError';
  readonly code: TotemErrorCode;
  readonly details: TotemErrorDetails | undefined;

  constructor(code: TotemErrorCode, message: string, options: TotemErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    // Non-enumerable so that the brand does not show in util.inspect or JSON, only to the check.
    Object.defineProperty(this, brand, { value: true });
  }

  /**
   * True for a TotemError from any copy of totem-evs in any realm of this process. A structured
   * clone is not one (see the file comment): rebuild it with `fromJSON` first.
   */
  static isTotemError(value: unknown): value is TotemError {
    return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true;
  }

  // `instanceof TotemError` agrees with isTotemError, so it works across copies of the library too.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return TotemError.isTotemError(value);
  }

  /** True for an object `toJSON()` produced, after any number of clones or JSON round trips. */
  static isTotemErrorJSON(value: unknown): value is TotemErrorJSON {
    if (typeof value !== 'object' || value === null) return false;
    const v = value as Record<string, unknown>;
    return (
      v.brand === serialBrand && typeof v.code === 'string' && codeSet.has(v.code) && typeof v.message === 'string'
    );
  }

  /** Rebuild an error from `toJSON()` output; throws a TypeError for anything else. */
  static fromJSON(value: unknown): TotemError {
    if (!TotemError.isTotemErrorJSON(value)) {
      throw new TypeError('TotemError.fromJSON: not the output of TotemError#toJSON()');
    }
    const details = isPlainObject(value.details) ? value.details : undefined;
    let cause: Error | undefined;
    if (value.cause !== undefined && isPlainObject(value.cause)) {
      cause = new Error(String(value.cause.message));
      cause.name = String(value.cause.name);
      if (typeof value.cause.code === 'string') Object.assign(cause, { code: value.cause.code });
    }
    const err = new TotemError(value.code, value.message, { details, cause });
    // The stack of the thread that threw says where the failure is; the rebuilding site does not.
    if (typeof value.stack === 'string') err.stack = value.stack;
    return err;
  }

  toJSON(): TotemErrorJSON {
    const out: { -readonly [K in keyof TotemErrorJSON]: TotemErrorJSON[K] } = {
      brand: serialBrand,
      name: 'TotemError',
      code: this.code,
      message: this.message,
    };
    if (this.details !== undefined) out.details = this.details;
    if (this.stack !== undefined) out.stack = this.stack;
    if (this.cause !== undefined) out.cause = describeCause(this.cause);
    return out;
  }
}

function describeCause(cause: unknown): NonNullable<TotemErrorJSON['cause']> {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string'
      ? { name: cause.name, message: cause.message, code }
      : { name: cause.name, message: cause.message };
  }
  return { name: typeof cause, message: String(cause) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
