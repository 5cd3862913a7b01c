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
import type { NetAddress, ResolvedKey, ResolvedMember } from '../../workers/runtime-options.js';
import { formatAddress } from '../../workers/runtime-options.js';
import { defaultClusterName } from '../../workers/net/packet-auth.js';
import { checkKnownKeys, describe, invalid, isRecord } from './validation.js';

export const keyBytes = 32;

export function parseKey(v: unknown): ResolvedKey | null {
  if (v === undefined) return null;
  if (v instanceof Uint8Array) {
    if (v.byteLength !== keyBytes) {
      throw new TotemError('TOTEM_ERR_BAD_KEY', `key is ${v.byteLength} bytes; it must be exactly ${keyBytes} (\`totem-evs keygen FILE\` writes one to a file)`, {
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
  throw invalid('key', `key must be a ${keyBytes}-byte Uint8Array or { file: path } (create one with \`totem-evs keygen FILE\`), got ${describe(v)}`);
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

export const clusterNameDefault = defaultClusterName;
const clusterNamePattern = /^[A-Za-z0-9._-]{1,64}$/;

export function parseCluster(v: unknown): string {
  if (v === undefined) return clusterNameDefault;
  if (typeof v !== 'string' || !clusterNamePattern.test(v)) {
    throw invalid('cluster', `cluster must be 1..64 characters of A-Z a-z 0-9 . _ - (the same on every node), got ${describe(v)}`);
  }
  return v;
}

export function parseInsecure(v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw invalid('insecure', `insecure must be true or false, got ${describe(v)}`);
  return v;
}

/** 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z): addresses no other host can send from. */
export function isLoopbackHost(host: string): boolean {
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  if (/^127\.\d+\.\d+\.\d+$/.test(v4)) return true;
  return host === '::1';
}

/**
 * Without a key, a node whose bind address or any member is off loopback would take packets from
 * a real network unauthenticated: refused unless the user says `insecure`. A wildcard bind counts
 * as off loopback (it receives on every interface).
 */
export function refuseInsecure(nodeId: number, bind: NetAddress, members: readonly ResolvedMember[]): void {
  const exposed = members.filter((m) => !isLoopbackHost(m.address.host)).map((m) => formatAddress(m.address));
  if (!isLoopbackHost(bind.host) && !exposed.includes(formatAddress(bind))) exposed.unshift(formatAddress(bind));
  if (exposed.length === 0) return;
  throw new TotemError(
    'TOTEM_ERR_INSECURE',
    `node ${nodeId} has no key and ${exposed.join(', ')} ${exposed.length === 1 ? 'is' : 'are'} not on loopback: ` +
      'anyone who can reach the node could forge or read its packets. Create a key with `totem-evs keygen FILE`, ' +
      'give every node that file (key: { file } or --key FILE), or pass insecure: true (--insecure) to run unauthenticated',
    { details: { option: 'key', addresses: exposed } },
  );
}
