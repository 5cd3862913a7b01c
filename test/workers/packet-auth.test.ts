/**
 * Behaviours of the packet sealer and opener (workers/net/packet-auth.ts) and of the cluster key
 * file (workers/net/key-file.ts). The header offsets below are written out from the layout in
 * packet-auth.ts on purpose, so that a change to the wire layout shows up here.
 *
 * Measured seal + open rate (a note, not a test: timing on this host is too noisy to assert).
 * Node 20, one thread, 1 KiB packets, best of 7 runs of 100k packets, on 2 cores that other jobs
 * kept at a load average of 7-8, so these are floors; the spread between sessions was about 2x:
 *   PacketSealer.seal       7.9-16 us  (63-127k packets/s)
 *   PacketOpener.open       7.4-12 us  (83-135k packets/s)
 *   seal then open          17-35 us   (28-60k packets/s on one thread)
 *   createCipheriv alone    1.5-2.9 us, a fifth of a seal; a raw key instead of the cached
 *                           KeyObject made no measurable difference
 *   create+AAD+update+final+getAuthTag with no copy: 3.5-12 us; 64 B costs as much as 1 KiB,
 *   so node:crypto's per-call overhead dominates, not AES-GCM itself.
 * Loop used: for (i < n) opener.open(sealer.seal(plain)), timed with process.hrtime.bigint()
 * over the compiled dist/ build.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  PacketOpener,
  PacketSealer,
  replayWindowPackets,
  saltsPerSenderMax,
  sealedHeaderBytes,
  sealedOverheadBytes,
} from '../../workers/net/packet-auth.js';
import type { OpenResult } from '../../workers/net/packet-auth.js';
import { TotemError } from '../../workers/errors.js';
import { generateKeyFile, readKeyFile } from '../../workers/net/key-file.js';
import { Prng } from '../sim/prng.js';

// The documented header layout: version u8 | flags u8 | sender u32 | destination u32 | salt 16 |
// counter u64 (LE).
const senderAt = 2;
const destinationAt = 6;
const saltAt = 10;
const counterAt = 26;

/** A clock that moves on `stepMs` at every reading, so fresh-salt budgets refill between calls. */
function steppingClock(stepMs: number): () => number {
  let now = 0;
  return () => (now += stepMs);
}

function keyOf(seed: number): Uint8Array {
  const prng = new Prng(seed);
  return Uint8Array.from({ length: 32 }, () => prng.int(0, 255));
}

function bytesOf(lengthBytes: number, seed: number): Uint8Array {
  const prng = new Prng(seed);
  return Uint8Array.from({ length: lengthBytes }, () => prng.int(0, 255));
}

function counterOf(sealed: Uint8Array): bigint {
  return new DataView(sealed.buffer, sealed.byteOffset).getBigUint64(counterAt, true);
}

function saltOf(sealed: Uint8Array): string {
  return Buffer.from(sealed.subarray(saltAt, saltAt + 16)).toString('hex');
}

function expectPlain(result: OpenResult, plain: Uint8Array, sender: number): void {
  expect(result.ok).toBe(true);
  if (!result.ok) return;
  expect(Array.from(result.plain)).toEqual(Array.from(plain));
  expect(result.sender).toBe(sender);
}

function reasonOf(result: OpenResult): string {
  return result.ok ? 'ok' : result.reason;
}

const clusterKey = keyOf(1);

describe('sealed packet layout', () => {
  it('is a 34-byte header, the ciphertext and a 16-byte tag', () => {
    expect(sealedHeaderBytes).toBe(34);
    expect(sealedOverheadBytes).toBe(50);
    const sealer = new PacketSealer(clusterKey, 0xa1b2c3d4);
    const plain = bytesOf(100, 2);
    const first = sealer.seal(plain);
    const second = sealer.seal(plain);
    expect(first.length).toBe(plain.length + sealedOverheadBytes);
    expect(first[0]).toBe(2);
    expect(first[1]).toBe(0);
    expect(new DataView(first.buffer).getUint32(senderAt, true)).toBe(0xa1b2c3d4);
    // Sealed for every member unless a destination is given.
    expect(new DataView(first.buffer).getUint32(destinationAt, true)).toBe(0);
    expect(new DataView(sealer.seal(plain, 77).buffer).getUint32(destinationAt, true)).toBe(77);
    expect(counterOf(first)).toBe(0n);
    expect(counterOf(second)).toBe(1n);
    expect(saltOf(second)).toBe(saltOf(first));
    // Encrypted, not only signed: the plaintext does not appear, and one plaintext seals two ways.
    const body = (s: Uint8Array): string => Buffer.from(s.subarray(34, 134)).toString('hex');
    expect(body(first)).not.toBe(Buffer.from(plain).toString('hex'));
    expect(body(second)).not.toBe(body(first));
  });

  it('draws a new salt for every sealer, even for the same node', () => {
    const salts = new Set<string>();
    for (let i = 0; i < 20; i++) {
      salts.add(saltOf(new PacketSealer(clusterKey, 7).seal(new Uint8Array(0))));
    }
    expect(salts.size).toBe(20);
  });

  it('gives 10k packets of one sealer 10k distinct nonces (one salt, distinct counters)', () => {
    const sealer = new PacketSealer(clusterKey, 3);
    const plain = new Uint8Array(8);
    const nonces = new Set<bigint>();
    const salts = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const sealed = sealer.seal(plain);
      // The GCM nonce is 4 zero bytes then the counter: distinct counters are distinct nonces.
      nonces.add(counterOf(sealed));
      salts.add(saltOf(sealed));
    }
    expect(nonces.size).toBe(10_000);
    expect(salts.size).toBe(1);
  });
});

describe('open', () => {
  it('returns the plaintext and sender of packets of any size, including empty', () => {
    const sealer = new PacketSealer(clusterKey, 42);
    const opener = new PacketOpener(clusterKey);
    const sizes = [0, 1, 15, 16, 17, 1024, 1400, 65_000];
    for (const [i, size] of sizes.entries()) {
      const plain = bytesOf(size, 100 + i);
      expectPlain(opener.open(sealer.seal(plain)), plain, 42);
    }
    const refusals = { truncated: 0, version: 0, auth: 0, replay: 0, budget: 0 };
    expect(opener.stats).toEqual({ accepted: sizes.length, ...refusals });
  });

  it('opens a packet that is a view into a larger buffer', () => {
    const sealed = new PacketSealer(clusterKey, 5).seal(bytesOf(64, 3));
    const datagram = new Uint8Array(sealed.length + 11);
    datagram.set(sealed, 7);
    const opened = new PacketOpener(clusterKey).open(datagram.subarray(7, 7 + sealed.length));
    expectPlain(opened, bytesOf(64, 3), 5);
  });

  it('refuses a packet sealed under another cluster key as auth', () => {
    const sealed = new PacketSealer(keyOf(2), 1).seal(bytesOf(32, 4));
    const opener = new PacketOpener(clusterKey);
    expect(reasonOf(opener.open(sealed))).toBe('auth');
    expect(opener.stats.auth).toBe(1);
    expect(opener.stats.accepted).toBe(0);
  });

  it('refuses a packet with any one bit flipped: header, ciphertext or tag', () => {
    const sealer = new PacketSealer(clusterKey, 9);
    const plain = bytesOf(40, 5);
    const sealed = sealer.seal(plain);
    // A flipped salt bit is a fresh salt: let the budget refill so that each one reaches the tag.
    const opener = new PacketOpener(clusterKey, { nowMs: steppingClock(1000) });
    for (let at = 0; at < sealed.length; at++) {
      for (const bit of [0x01, 0x80]) {
        const tampered = Uint8Array.from(sealed);
        tampered[at] = (tampered[at] ?? 0) ^ bit;
        // Byte 0 is the version, checked before the tag; every other byte is covered by the tag.
        const expected = at === 0 ? 'version' : 'auth';
        expect(reasonOf(opener.open(tampered)), `byte ${at} bit ${bit}`).toBe(expected);
      }
    }
    expect(opener.stats.auth).toBe(2 * (sealed.length - 1));
    expect(opener.stats.version).toBe(2);
    // The forgeries used the real packet's sender, salt and counter, yet did not burn its counter.
    expectPlain(opener.open(sealed), plain, 9);
  });

  it('refuses a packet moved to another sender id', () => {
    const sealed = new PacketSealer(clusterKey, 1).seal(bytesOf(20, 6));
    new DataView(sealed.buffer).setUint32(senderAt, 2, true);
    expect(reasonOf(new PacketOpener(clusterKey).open(sealed))).toBe('auth');
  });

  it('refuses an unknown version (1, the format without destination and cluster) before anything else, and counts it', () => {
    const sealed = new PacketSealer(clusterKey, 1).seal(bytesOf(20, 6));
    sealed[0] = 1;
    const opener = new PacketOpener(clusterKey);
    expect(reasonOf(opener.open(sealed))).toBe('version');
    expect(opener.stats.version).toBe(1);
  });

  it('refuses a counter above 2^53 - 1, which no sealer writes, as auth', () => {
    const sealed = new PacketSealer(clusterKey, 1).seal(bytesOf(20, 6));
    new DataView(sealed.buffer).setBigUint64(counterAt, 1n << 53n, true);
    expect(reasonOf(new PacketOpener(clusterKey).open(sealed))).toBe('auth');
  });

  it('refuses every length below the overhead as truncated, without throwing', () => {
    const sealed = new PacketSealer(clusterKey, 1).seal(new Uint8Array(0));
    expect(sealed.length).toBe(sealedOverheadBytes);
    const opener = new PacketOpener(clusterKey);
    for (let length = 0; length < sealedOverheadBytes; length++) {
      expect(reasonOf(opener.open(sealed.subarray(0, length)))).toBe('truncated');
      expect(reasonOf(opener.open(new Uint8Array(length)))).toBe('truncated');
    }
    expect(opener.stats.truncated).toBe(2 * sealedOverheadBytes);
    // The shortest real packet is exactly the overhead, and opens.
    expectPlain(opener.open(sealed), new Uint8Array(0), 1);
  });

  it('survives a seeded fuzz of random and mutated inputs without throwing or accepting', () => {
    const prng = new Prng(20_240_611);
    const sealer = new PacketSealer(clusterKey, 11);
    const opener = new PacketOpener(clusterKey, { nowMs: steppingClock(1000) });
    const reasons = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      let input: Uint8Array;
      if (prng.chance(0.5)) {
        input = bytesOf(prng.int(0, 200), prng.nextU32());
        if (prng.chance(0.5) && input.length > 0) input[0] = 2; // Get past the version check.
      } else {
        input = sealer.seal(bytesOf(prng.int(0, 100), i));
        const flips = prng.int(1, 4);
        for (let f = 0; f < flips; f++) {
          const at = prng.int(1, input.length - 1);
          input[at] = (input[at] ?? 0) ^ prng.int(1, 255);
        }
        if (prng.chance(0.2)) input = input.subarray(0, prng.int(0, input.length - 1));
      }
      const result = opener.open(input);
      expect(result.ok).toBe(false);
      reasons.add(reasonOf(result));
    }
    // The fuzz reached every refusal, not only the first check.
    expect([...reasons].sort()).toEqual(['auth', 'truncated', 'version']);
    const { accepted, truncated, version, auth, replay } = opener.stats;
    expect(accepted).toBe(0);
    expect(replay).toBe(0);
    expect(truncated + version + auth).toBe(3000);
  });
});

describe('replay window', () => {
  it('refuses the same packet the second time as replay', () => {
    const sealed = new PacketSealer(clusterKey, 1).seal(bytesOf(10, 1));
    const opener = new PacketOpener(clusterKey);
    expect(reasonOf(opener.open(sealed))).toBe('ok');
    expect(reasonOf(opener.open(sealed))).toBe('replay');
    expect(reasonOf(opener.open(Uint8Array.from(sealed)))).toBe('replay');
    expect(opener.stats).toEqual({ accepted: 1, truncated: 0, version: 0, auth: 0, replay: 2, budget: 0 });
  });

  it('accepts reordered packets within the window once each', () => {
    const prng = new Prng(7);
    const sealer = new PacketSealer(clusterKey, 1);
    const packets = Array.from({ length: 500 }, (_, i) => sealer.seal(bytesOf(4, i)));
    const order = packets.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = prng.int(0, i);
      [order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0];
    }
    const opener = new PacketOpener(clusterKey);
    for (const i of order) expectPlain(opener.open(packets[i] as Uint8Array), bytesOf(4, i), 1);
    for (const i of order) expect(reasonOf(opener.open(packets[i] as Uint8Array))).toBe('replay');
    expect(opener.stats.accepted).toBe(500);
    expect(opener.stats.replay).toBe(500);
  });

  it('accepts the oldest counter still in the window and refuses the one below as replay', () => {
    expect(replayWindowPackets).toBe(1024);
    const sealer = new PacketSealer(clusterKey, 1);
    const packets = Array.from({ length: 1101 }, () => sealer.seal(new Uint8Array(1)));
    const opener = new PacketOpener(clusterKey);
    const at = (counter: number): Uint8Array => packets[counter] as Uint8Array;
    expect(reasonOf(opener.open(at(1100)))).toBe('ok');
    // Never seen, but older than the window: refused all the same.
    expect(reasonOf(opener.open(at(1100 - replayWindowPackets)))).toBe('replay');
    expect(reasonOf(opener.open(at(1100 - replayWindowPackets + 1)))).toBe('ok');
    expect(reasonOf(opener.open(at(0)))).toBe('replay');
  });

  it('forgets a slot as the window slides past it, so a new counter there is accepted', () => {
    const sealer = new PacketSealer(clusterKey, 1);
    const packets = Array.from({ length: 1030 }, () => sealer.seal(new Uint8Array(1)));
    const opener = new PacketOpener(clusterKey);
    const open = (counter: number): string => reasonOf(opener.open(packets[counter] as Uint8Array));
    // 4 and 1028 share a bitmap slot; the slide from 1000 to 1029 must clear what 4 left in it.
    expect(open(4)).toBe('ok');
    expect(open(1000)).toBe('ok');
    expect(open(1029)).toBe('ok');
    expect(open(1028)).toBe('ok');
    expect(open(1028)).toBe('replay');
    expect(open(4)).toBe('replay');
  });

  it('is moved by no forgery for a known incarnation', () => {
    const sealer = new PacketSealer(clusterKey, 1);
    const packets = Array.from({ length: 3 }, (_, i) => sealer.seal(bytesOf(8, i)));
    const opener = new PacketOpener(clusterKey);
    expect(reasonOf(opener.open(packets[0] as Uint8Array))).toBe('ok');
    const tampered = Uint8Array.from(packets[1] as Uint8Array);
    tampered[sealedHeaderBytes] = (tampered[sealedHeaderBytes] ?? 0) ^ 1;
    expect(reasonOf(opener.open(tampered))).toBe('auth');
    // A forged counter far ahead would slide the window past the real packets if it were recorded.
    const ahead = Uint8Array.from(packets[2] as Uint8Array);
    new DataView(ahead.buffer).setBigUint64(counterAt, 5000n, true);
    expect(reasonOf(opener.open(ahead))).toBe('auth');
    expectPlain(opener.open(packets[1] as Uint8Array), bytesOf(8, 1), 1);
    expectPlain(opener.open(packets[2] as Uint8Array), bytesOf(8, 2), 1);
  });

  it('keeps one window per sender', () => {
    const one = new PacketSealer(clusterKey, 1);
    const two = new PacketSealer(clusterKey, 2);
    const opener = new PacketOpener(clusterKey);
    for (let i = 0; i < 5; i++) {
      expectPlain(opener.open(one.seal(bytesOf(3, i))), bytesOf(3, i), 1);
      expectPlain(opener.open(two.seal(bytesOf(3, i))), bytesOf(3, i), 2);
    }
    expect(opener.stats.accepted).toBe(10);
  });
});

describe('sender incarnations', () => {
  it('accepts a restarted sender, whose counter starts again at 0 under a new salt', () => {
    const opener = new PacketOpener(clusterKey);
    const before = new PacketSealer(clusterKey, 8);
    for (let i = 0; i < 10; i++) {
      expect(reasonOf(opener.open(before.seal(bytesOf(5, i))))).toBe('ok');
    }
    const late = before.seal(bytesOf(5, 99));
    const after = new PacketSealer(clusterKey, 8);
    const first = after.seal(bytesOf(5, 50));
    expect(counterOf(first)).toBe(0n);
    expectPlain(opener.open(first), bytesOf(5, 50), 8);
    expect(reasonOf(opener.open(first))).toBe('replay');
    // A packet of the previous incarnation still in flight opens too: its window is kept.
    expectPlain(opener.open(late), bytesOf(5, 99), 8);
  });

  it(`remembers the last ${saltsPerSenderMax} incarnations of a sender`, () => {
    const opener = new PacketOpener(clusterKey);
    const seen: Uint8Array[] = [];
    for (let i = 0; i < saltsPerSenderMax + 1; i++) {
      const sealed = new PacketSealer(clusterKey, 4).seal(bytesOf(5, i));
      expect(reasonOf(opener.open(sealed))).toBe('ok');
      seen.push(sealed);
    }
    // The newest ones are still known, so their packets are replays.
    for (const sealed of seen.slice(1)) expect(reasonOf(opener.open(sealed))).toBe('replay');
    // The oldest was evicted: its window is gone, and the engine is left to drop this one (see the
    // limit in packet-auth.ts). That it opens shows the cache is bounded.
    expect(reasonOf(opener.open(seen[0] as Uint8Array))).toBe('ok');
  });

  it('lets no forged salt evict a real incarnation or its window', () => {
    const opener = new PacketOpener(clusterKey);
    const real = new PacketSealer(clusterKey, 6).seal(bytesOf(5, 1));
    expect(reasonOf(opener.open(real))).toBe('ok');
    const prng = new Prng(3);
    for (let i = 0; i < 100; i++) {
      // Real sender and counter, random salt: no cluster key, so the tag cannot verify.
      const forged = Uint8Array.from(real);
      for (let b = 0; b < 16; b++) forged[saltAt + b] = prng.int(0, 255);
      expect(['auth', 'budget']).toContain(reasonOf(opener.open(forged)));
    }
    expect(reasonOf(opener.open(real))).toBe('replay');
  });
});

describe('validation', () => {
  it('refuses a cluster key that is not 32 bytes with a RangeError saying so', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      const key = new Uint8Array(length);
      expect(() => new PacketSealer(key, 1)).toThrow(RangeError);
      expect(() => new PacketSealer(key, 1)).toThrow(`key must be 32 bytes, got ${length}`);
      expect(() => new PacketOpener(key)).toThrow(`key must be 32 bytes, got ${length}`);
    }
  });

  it('refuses a node id outside u32', () => {
    for (const nodeId of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(() => new PacketSealer(clusterKey, nodeId)).toThrow(RangeError);
    }
    expect(() => new PacketSealer(clusterKey, 2 ** 32 - 1)).not.toThrow();
  });

  it('copies the cluster key, so a caller reusing its array does not change it', () => {
    const key = Uint8Array.from(clusterKey);
    const sealer = new PacketSealer(key, 1);
    const opener = new PacketOpener(key);
    key.fill(0);
    expectPlain(opener.open(sealer.seal(bytesOf(9, 9))), bytesOf(9, 9), 1);
  });
});

describe('key file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'totem-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const key = keyOf(77);
  const hex = Buffer.from(key).toString('hex');
  const base64 = Buffer.from(key).toString('base64');
  let fileCount = 0;
  const fileWith = (content: string | Uint8Array): string => {
    const path = join(dir, `key-${fileCount++}`);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  const errorOf = (path: string): TotemError => {
    try {
      readKeyFile(path);
    } catch (error) {
      expect(error).toBeInstanceOf(TotemError);
      return error as TotemError;
    }
    throw new Error(`readKeyFile(${path}) did not throw`);
  };

  it('reads raw, hex and base64 keys, with or without a trailing newline', () => {
    const accepted: (string | Uint8Array)[] = [
      key,
      hex,
      `${hex}\n`,
      `${hex}\r\n`,
      hex.toUpperCase(),
      base64,
      `${base64}\n`,
      base64.replace(/=$/, ''),
    ];
    for (const content of accepted) {
      expect(Array.from(readKeyFile(fileWith(content)))).toEqual(Array.from(key));
    }
  });

  it('refuses any other content with TOTEM_ERR_BAD_KEY, naming the file and the formats', () => {
    const refused: (string | Uint8Array)[] = [
      '',
      key.subarray(0, 31),
      new Uint8Array(33),
      hex.slice(0, 63),
      `${hex}0`,
      `${hex.slice(0, 63)}g`,
      `${hex}\n\n`,
      ` ${hex}`,
      Buffer.from(key.subarray(0, 31)).toString('base64'),
      `${base64}=`,
      // The same key with the unused low bits of the last base64 character set: not canonical.
      `${base64.slice(0, 42)}${String.fromCharCode(base64.charCodeAt(42) + 1)}=`,
      new Uint8Array(100_000),
    ];
    for (const content of refused) {
      const path = fileWith(content);
      const error = errorOf(path);
      expect(error.code).toBe('TOTEM_ERR_BAD_KEY');
      expect(error.details?.path).toBe(path);
      expect(error.message).toContain(path);
      expect(error.message).toContain('64 hex digits');
      expect(error.message).toContain('base64');
    }
  });

  it('refuses an unreadable path with TOTEM_ERR_KEY_FILE', () => {
    const missing = join(dir, 'missing');
    expect(errorOf(missing).code).toBe('TOTEM_ERR_KEY_FILE');
    expect(errorOf(missing).message).toContain(missing);
    const directory = join(dir, 'a-directory');
    mkdirSync(directory);
    expect(errorOf(directory).code).toBe('TOTEM_ERR_KEY_FILE');
  });

  it('generates a hex key readable by its owner only, and will not overwrite one', () => {
    const path = join(dir, 'generated.key');
    const generated = generateKeyFile(path);
    expect(generated.length).toBe(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Array.from(readKeyFile(path))).toEqual(Array.from(generated));
    const unreadable = expect.objectContaining({ code: 'TOTEM_ERR_KEY_FILE' });
    expect(() => generateKeyFile(path)).toThrow(unreadable);
    expect(Array.from(readKeyFile(path))).toEqual(Array.from(generated));
    const other = generateKeyFile(join(dir, 'other.key'));
    expect(Buffer.from(other).equals(Buffer.from(generated))).toBe(false);
  });

  it('gives a key that seals and opens', () => {
    const path = join(dir, 'cluster.key');
    generateKeyFile(path);
    const sealer = new PacketSealer(readKeyFile(path), 1);
    const opener = new PacketOpener(readKeyFile(path));
    expectPlain(opener.open(sealer.seal(bytesOf(30, 1))), bytesOf(30, 1), 1);
  });
});
