/**
 * The cluster key file: 32 secret bytes that every node of a cluster shares (see packet-auth.ts).
 *
 * Accepted formats, decided by the file's content alone:
 *   - raw: exactly 32 bytes;
 *   - hex: 64 hex digits, optionally followed by one newline (\n or \r\n);
 *   - base64: the standard base64 of 32 bytes (44 characters with its '=' pad, or 43 without),
 *     optionally followed by one newline.
 * A raw file is tried first, so a 32-byte file is taken as raw even if it happens to be text.
 *
 * Errors are TotemErrors with `details.path`, and every message names `totem-evs keygen`:
 *   TOTEM_ERR_KEY_FILE  the file cannot be read (or, for generateKeyFile, written), or group or
 *                       others may read, write or execute it (details.mode, octal);
 *   TOTEM_ERR_BAD_KEY   the file was read but holds none of the formats above.
 *
 * A key file open to group or others is refused, not warned about (like ssh with a private key):
 * whoever can read it can forge every packet of the cluster, a warning in a log is easily missed,
 * and the fix (`chmod 600 FILE`) takes a second. Ownership is not checked: a service account may
 * legitimately read a file that root owns. Windows has no such modes; there nothing is checked.
 * This is the one reader of key files, so createNode, the runtime and `totem-evs node --key`
 * accept the same formats and say the same things.
 */
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { TotemError } from '../errors.js';
import type { ResolvedKey } from '../runtime-options.js';

export const keyFileKeyBytes = 32;
/** Longest accepted file (hex plus \r\n); a larger file is refused without reading all of it. */
const keyFileBytesMax = 66;
const acceptedFormats =
  'raw 32 bytes, 64 hex digits, or base64 of 32 bytes (each optionally ending in a newline, ' +
  'except raw); create one with `totem-evs keygen FILE`';
const hexPattern = /^[0-9a-fA-F]{64}$/;
const base64Pattern = /^[A-Za-z0-9+/]{43}=?$/;

/**
 * Reads at most keyFileBytesMax + 1 bytes: enough to tell an over-long file, and a mistaken path
 * such as /dev/urandom or a large file cannot make startup read without end.
 */
function readBounded(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw unreadable(path, 'read', cause);
  }
  try {
    checkMode(fd, path);
    const buffer = new Uint8Array(keyFileBytesMax + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const count = readSync(fd, buffer, filled, buffer.length - filled, null);
      if (count === 0) break;
      filled += count;
    }
    return buffer.subarray(0, filled);
  } catch (cause) {
    if (cause instanceof TotemError) throw cause;
    throw unreadable(path, 'read', cause);
  } finally {
    closeSync(fd);
  }
}

/** Refuses a key file that group or others may access (see the file comment). */
function checkMode(fd: number, path: string): void {
  if (process.platform === 'win32') return;
  const mode = fstatSync(fd).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  const octal = `0${mode.toString(8).padStart(3, '0')}`;
  throw new TotemError(
    'TOTEM_ERR_KEY_FILE',
    `key file ${path} has mode ${octal}: group or others may access it, and whoever reads it can forge ` +
      `every packet of the cluster; run \`chmod 600 ${path}\` (\`totem-evs keygen FILE\` creates keys with mode 0600)`,
    { details: { path, mode: octal } },
  );
}

function unreadable(path: string, verb: 'read' | 'create', cause: unknown): TotemError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const hint = verb === 'read' ? '; create a key with `totem-evs keygen FILE`' : '';
  const message = `cannot ${verb} key file ${path}: ${reason}${hint}`;
  return new TotemError('TOTEM_ERR_KEY_FILE', message, { details: { path }, cause });
}

function withoutNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

/** The key, or null if content is in none of the accepted formats. */
function decodeKey(content: Uint8Array): Uint8Array | null {
  if (content.length === keyFileKeyBytes) return Uint8Array.from(content);
  if (content.length > keyFileBytesMax) return null;
  const text = withoutNewline(Buffer.from(content).toString('latin1'));
  if (hexPattern.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (base64Pattern.test(text)) {
    const key = Buffer.from(text, 'base64');
    // The last character of base64 for 32 bytes holds 2 unused bits; demanding that they be zero
    // (the canonical encoding) keeps one key from having several accepted spellings.
    const canonical = key.toString('base64');
    if (key.length === keyFileKeyBytes && (canonical === text || canonical === `${text}=`)) {
      return new Uint8Array(key);
    }
  }
  return null;
}

/**
 * Returns the 32-byte key held in the file at path. Throws TotemError: code TOTEM_ERR_KEY_FILE
 * if the file cannot be read, TOTEM_ERR_BAD_KEY if it holds no key in an accepted format.
 */
export function readKeyFile(path: string): Uint8Array {
  const content = readBounded(path);
  const key = decodeKey(content);
  if (key === null) {
    const size =
      content.length > keyFileBytesMax ? `more than ${keyFileBytesMax}` : `${content.length}`;
    throw new TotemError('TOTEM_ERR_BAD_KEY', `key file ${path} (${size} bytes) holds no key: expected ${acceptedFormats}`, {
      details: { path },
    });
  }
  return key;
}

/**
 * Writes a new random key to path as 64 hex digits and a newline, readable by the owner only
 * (mode 0o600), and returns it. Refuses to overwrite an existing file: replacing the key of a
 * running cluster would cut this node off from the others.
 */
export function generateKeyFile(path: string): Uint8Array {
  const key = new Uint8Array(randomBytes(keyFileKeyBytes));
  try {
    writeFileSync(path, `${Buffer.from(key).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    throw unreadable(path, 'create', cause);
  }
  return key;
}

/** The key's 32 bytes, reading its file if it has one: a copy, never the caller's buffer. */
export function loadKey(key: ResolvedKey): Uint8Array {
  if (key.kind === 'inline') return Uint8Array.from(key.bytes);
  return readKeyFile(key.path);
}
