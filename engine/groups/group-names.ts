/**
 * Group names on the wire: UTF-8, 1..groupNameBytesMax bytes, behind a one-byte length.
 *
 * Every entry of a frame carries its group's name, so both directions are cached: the sender
 * encodes a name once and reuses the bytes for every message to that group; the receiver maps the
 * name bytes back to the same string without a decoder call or a string allocation per entry.
 * Both caches are bounded (cleared when full): a node talks to few groups, and a peer that sends
 * many distinct names costs decoder calls, not memory.
 */
import { assert } from '../assert.js';
import { groupNameBytesMax } from '../constants.js';

/** Names kept by each cache before it is cleared. */
const groupNameCacheEntriesMax = 4096;

const utf8Encoder = new TextEncoder();
// fatal: malformed UTF-8 is a malformed frame, not a name with U+FFFD in it.
// ignoreBOM: a leading U+FEFF is part of the name; stripping it would change the name in transit.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Sender side: validated, cached UTF-8 bytes of a group name. */
export class GroupNameEncoder {
  private readonly cache = new Map<string, Uint8Array>();
  // Senders mostly repeat one group: compare with the last name before hashing it into the map.
  private lastName: string | null = null;
  private lastBytes: Uint8Array = new Uint8Array(0);

  /** The name's UTF-8 bytes. Throws RangeError for an empty, too long or ill-formed name. */
  encode(name: string): Uint8Array {
    if (name === this.lastName) return this.lastBytes;
    const bytes = this.cache.get(name) ?? this.encodeNew(name);
    this.lastName = name;
    this.lastBytes = bytes;
    return bytes;
  }

  private encodeNew(name: string): Uint8Array {
    if (typeof name !== 'string' || name.length === 0) {
      throw new RangeError('group name must be a non-empty string');
    }
    const bytes = utf8Encoder.encode(name);
    if (bytes.length > groupNameBytesMax) {
      const max = groupNameBytesMax;
      throw new RangeError(`group name is ${bytes.length} UTF-8 bytes, more than ${max}`);
    }
    // A lone surrogate encodes as U+FFFD: receivers would see another name than the sender traced.
    if (utf8Decoder.decode(bytes) !== name) {
      throw new RangeError('group name is not well-formed Unicode (lone surrogate)');
    }
    if (this.cache.size >= groupNameCacheEntriesMax) this.cache.clear();
    this.cache.set(name, bytes);
    assert(bytes.length >= 1, 'encoded group name is not empty');
    assert(bytes.length <= groupNameBytesMax, 'encoded group name fits its length byte');
    return bytes;
  }
}

interface CachedName {
  readonly bytes: Uint8Array;
  readonly name: string;
}

/** Receiver side: name bytes inside a frame → string, cached by a hash of the bytes. */
export class GroupNameDecoder {
  private readonly cache = new Map<number, CachedName>();
  /** Receivers mostly see one group: the last name found is compared before hashing. */
  private last: CachedName | null = null;

  /** The name at bytes[start, start + length), or null when it is not valid UTF-8. */
  decode(bytes: Uint8Array, start: number, length: number): string | null {
    assert(length >= 1 && length <= groupNameBytesMax, 'name length was checked by the reader');
    assert(start + length <= bytes.length, 'name bounds were checked by the reader');
    const last = this.last;
    if (last !== null && sameBytes(last.bytes, bytes, start, length)) return last.name;
    return this.lookup(bytes, start, length);
  }

  private lookup(bytes: Uint8Array, start: number, length: number): string | null {
    // FNV-1a, 32 bits: cheap over at most 255 bytes; a collision only costs a miss.
    let hash = 0x811c9dc5;
    for (let i = start; i < start + length; i++) {
      hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193);
    }
    hash = (hash ^ length) >>> 0;
    const hit = this.cache.get(hash);
    if (hit !== undefined && sameBytes(hit.bytes, bytes, start, length)) {
      this.last = hit;
      return hit.name;
    }
    const copy = bytes.slice(start, start + length);
    let name: string;
    try {
      name = utf8Decoder.decode(copy);
    } catch {
      return null;
    }
    if (this.cache.size >= groupNameCacheEntriesMax) this.cache.clear();
    const entry = { bytes: copy, name };
    this.cache.set(hash, entry);
    this.last = entry;
    return name;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array, start: number, length: number): boolean {
  if (a.length !== length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}
