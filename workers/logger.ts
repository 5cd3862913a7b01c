/**
 * Diagnostics of a node: one line per protocol event (a membership change, a dropped packet's
 * reason, a misconfiguration), never one per message, so logging costs nothing on the data path.
 *
 * Levels from the most to the least severe: error < warn < info < debug. A node logs events at its
 * level and above in severity; the default is `warn`, so a healthy cluster prints nothing.
 *
 * Without a `logger` option, each event is one line on stderr:
 *
 *     totem-evs[3] warn: token lost, entering gather ring=1:12 members=[1,2,3]
 *
 * Values that are not bare words are JSON-quoted, and newlines are escaped, so that one event is
 * always one line that `grep` and line-oriented collectors can handle. A `logger` option receives
 * each event with `nodeId` added to its fields (several nodes may share one logger); the level
 * filter applies before it is called. Two calling conventions are served:
 *   - message first, `(message, fields)`: console, winston and the Logger interface below;
 *   - fields first, `(fields, message)`: pino and bunyan. Such a logger is recognised by its
 *     `child` method together with pino's `bindings()` or bunyan's `streams` array, so that
 *     passing one just works instead of turning every event into an object with no message.
 */

import type { LogLevel } from '../engine/types.js';

/** The engine's levels: one LogLevel for the protocol's own lines and the runtime's. */
export type { LogLevel };
export const logLevels = ['error', 'warn', 'info', 'debug'] as const satisfies readonly LogLevel[];
export const defaultLogLevel: LogLevel = 'warn';

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
}

/** The logger a node uses internally: a level-filtered Logger with the helpers below. */
export interface NodeLogger extends Logger {
  readonly level: LogLevel;
  /** Whether events at `level` are written; lets callers skip building costly fields. */
  enabled(level: LogLevel): boolean;
  /**
   * A Logger that lets through only the first event logged under `key` by this NodeLogger (at
   * whatever level, filtered or not); later ones are dropped. For conditions that hold for the
   * node's whole life, e.g. `log.once('no-key').warn('running without a key: ...')`.
   */
  once(key: string): Logger;
}

export interface CreateLoggerOptions {
  nodeId: number;
  level?: LogLevel;
  /** Receives the events instead of stderr. */
  logger?: Logger;
  /** Where default-format lines go (without their newline); stderr unless given. For tests. */
  write?: (line: string) => void;
}

const severity: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(severity, value);
}

/** True when `value` has the four methods of a Logger. */
export function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return logLevels.every((l) => typeof v[l] === 'function');
}

/** A pino or bunyan logger: its level methods take the fields first and the message second. */
export function isFieldsFirstLogger(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.child === 'function' && (typeof v.bindings === 'function' || Array.isArray(v.streams));
}

export function createLogger(options: CreateLoggerOptions): NodeLogger {
  const level = options.level ?? defaultLogLevel;
  if (!isLogLevel(level)) throw new TypeError(`log level must be one of ${logLevels.join(', ')}`);
  const nodeId = options.nodeId;
  const write = options.write ?? writeStderr;
  const user = options.logger;
  const fieldsFirst = isFieldsFirstLogger(user);
  const threshold = severity[level];
  const onceKeys = new Set<string>();
  let userFailureReported = false;

  const emit = (at: LogLevel, message: string, fields: LogFields | undefined): void => {
    if (severity[at] > threshold) return;
    if (user === undefined) {
      write(formatLogLine(nodeId, at, message, fields));
      return;
    }
    try {
      if (fieldsFirst) (user[at] as unknown as (fields: LogFields, message: string) => void)({ nodeId, ...fields }, message);
      else user[at](message, { nodeId, ...fields });
    } catch (err) {
      // A throwing logger must not take the node down from inside a protocol step: fall back to
      // stderr for this event and say once why.
      if (!userFailureReported) {
        userFailureReported = true;
        write(formatLogLine(nodeId, 'error', 'the logger option threw; writing this event to stderr', { err }));
      }
      write(formatLogLine(nodeId, at, message, fields));
    }
  };

  const logger: NodeLogger = {
    level,
    enabled: (at) => severity[at] <= threshold,
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    once(key: string): Logger {
      const gate = (at: LogLevel) => (m: string, f?: LogFields) => {
        if (onceKeys.has(key)) return;
        onceKeys.add(key);
        emit(at, m, f);
      };
      return { error: gate('error'), warn: gate('warn'), info: gate('info'), debug: gate('debug') };
    },
  };
  return logger;
}

/** `totem-evs[<nodeId>] <level>: <message> key=value ...`, always a single line. */
export function formatLogLine(nodeId: number, level: LogLevel, message: string, fields?: LogFields): string {
  let line = `totem-evs[${nodeId}] ${level}: ${oneLine(message)}`;
  if (fields !== undefined) {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      line += ` ${oneLine(k)}=${formatValue(v)}`;
    }
  }
  return line;
}

const bareWord = /^[^\s"=\\]+$/;

function formatValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return bareWord.test(v) ? v : JSON.stringify(v);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(v);
    case 'symbol':
    case 'function':
      return JSON.stringify(String(v));
    default:
      break;
  }
  if (v === null) return 'null';
  if (v instanceof Error) {
    const code = (v as { code?: unknown }).code;
    return JSON.stringify(typeof code === 'string' ? `${v.name} ${code}: ${v.message}` : `${v.name}: ${v.message}`);
  }
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? 'undefined';
  } catch {
    return '"[unserialisable]"';
  }
}

function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '\\n');
}

function writeStderr(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // stderr closed (EPIPE): there is nowhere left to report to.
  }
}
