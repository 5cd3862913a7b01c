/**
 * What concerns this node's own host rather than the ring: the key, the state and trace
 * directories, logging. Resolving them does no I/O: the key file is read by `loadKey`
 * (workers/net/key-file.ts; its errors are `TOTEM_ERR_KEY_FILE` and `TOTEM_ERR_BAD_KEY`) when the
 * node starts, and the directories are made by the runtime.
 */
import { resolve as resolvePath } from 'node:path';
import { TotemError } from '../../workers/errors.js';
import { defaultLogLevel, isLogger, isLogLevel, logLevels } from '../../workers/logger.js';
import type { LogLevel, Logger } from '../../workers/logger.js';
import type { ResolvedKey } from '../../workers/runtime-options.js';
import { checkKnownKeys, describe, invalid, isRecord } from './validation.js';

export const keyBytes = 32;

export function parseKey(v: unknown): ResolvedKey | null {
  if (v === undefined) return null;
  if (v instanceof Uint8Array) {
    if (v.byteLength !== keyBytes) {
      throw new TotemError('TOTEM_ERR_BAD_KEY', `key is ${v.byteLength} bytes; it must be exactly ${keyBytes}`, {
        details: { option: 'key', bytes: v.byteLength },
      });
    }
    // A copy, so that later changes to the caller's buffer do not change the node's key.
    return { kind: 'inline', bytes: Uint8Array.from(v) };
  }
  if (isRecord(v) && !(v instanceof ArrayBuffer)) {
    checkKnownKeys(v, ['file'], 'key.', 'key option');
    if (typeof v.file === 'string' && v.file.length > 0) return { kind: 'file', path: resolvePath(v.file) };
  }
  throw invalid('key', `key must be a ${keyBytes}-byte Uint8Array or { file: path }, got ${describe(v)}`);
}

export function parseDir(v: unknown, option: string): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || v.length === 0) {
    throw invalid(option, `${option} must be a non-empty directory path, got ${describe(v)}`);
  }
  return resolvePath(v);
}

export function parseLogLevel(v: unknown): LogLevel {
  if (v === undefined) return defaultLogLevel;
  if (!isLogLevel(v)) {
    throw invalid(
      'logLevel',
      `logLevel must be one of ${logLevels.map((l) => `'${l}'`).join(', ')}, got ${describe(v)}`,
    );
  }
  return v;
}

export function parseLogger(v: unknown): Logger | null {
  if (v === undefined) return null;
  if (!isLogger(v)) {
    throw invalid(
      'logger',
      'logger must be an object with error, warn, info and debug methods taking (message, fields)',
    );
  }
  return v;
}
