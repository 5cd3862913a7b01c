/**
 * Packet authentication and encryption for every UDP datagram the net worker sends or receives.
 * The engine never sees a byte that has not passed the tag check here.
 *
 * Cipher: AES-256-GCM (node:crypto), 16-byte tag. The header travels in clear, because a receiver
 * needs it to find the key and to reject what is not for it before any crypto (ingress-gate.ts);
 * it is authenticated as additional data (AAD) together with the cluster name. Tampering with any
 * byte of the header, the ciphertext or the tag fails the tag check, and so does a packet sealed
 * for another cluster that shares the key.
 *
 * Sealed packet, version 2 (little-endian like engine/wire/layout.ts; 34-byte header + ciphertext
 * + 16-byte tag; sealedOverheadBytes = 50):
 *
 *    0       1       2            6                 10               26          34
 *   +-------+-------+------------+-----------------+----------------+-----------+------------+-----+
 *   |version| flags | sender u32 | destination u32 |   salt (16)    |counter u64| ciphertext | tag |
 *   +-------+-------+------------+-----------------+----------------+-----------+------------+-----+
 *
 *   version      2. Checked before the tag, since another version may lay the header out
 *                differently. Version 1 (no destination, no cluster) is refused as 'version'.
 *   flags        0. It is covered by the tag and not otherwise interpreted.
 *   sender       the node id that sealed this datagram (for a retransmitted frame, the node that
 *                retransmits it, not the frame's originator).
 *   destination  the node id this datagram was sealed for, or broadcastDestination (0) for a
 *                datagram every member receives. A copy delivered to another node is refused by
 *                the ingress gate; changing the field fails the tag.
 *   salt         16 random bytes drawn once per sealer, i.e. once per incarnation of the node.
 *   counter      the packet number within the incarnation, starting at 0.
 *
 * AAD = the 34 header bytes || the cluster name (UTF-8). The header has a fixed length, so the
 * concatenation is unambiguous; the name itself never travels.
 *
 * Why nonces never repeat under one key: each incarnation derives its own sending key
 *   key = HKDF-SHA256(ikm = cluster key, salt = salt, info = "totem-evs packet v2" || sender u32)
 * and numbers its packets with a counter, so the 96-bit GCM nonce 0x00000000 || counter u64 is
 * unique per key. Two incarnations would share a key only if they drew the same 128-bit salt for
 * the same sender. The sealer stops (asserts) before the counter passes 2^53 - 1, which at 10^6
 * packets/s would take 285 years, so the counter never wraps.
 *
 * Receiving, in this order (the ingress gate has already checked length, version, that the sender
 * is another member, its source address and the destination):
 *   1. length >= sealedOverheadBytes, else 'truncated'; version == 2, else 'version';
 *   2. counter <= 2^53 - 1, else 'auth' (no sealer writes one, so it cannot be authentic);
 *   3. find the (sender, salt) entry; if it exists and the counter is a replay, 'replay' (this
 *      saves the decryption; the window is not changed yet);
 *   4. a salt not known for this sender costs an HKDF derivation before the decryption: it is
 *      paid from the sender's fresh-salt budget (freshSaltBurst attempts, refilled at
 *      freshSaltPerSecond), else 'budget' without any crypto. A real incarnation needs one
 *      attempt; a flood of forged salts in the name of a member buys a few derivations a second;
 *   5. decrypt and check the tag, else 'auth'. No key derived for a new salt and no plaintext
 *      leaves this function before this succeeds;
 *   6. only then record the counter in the replay window, and cache the key of a new salt.
 *
 * Replay window: per (sender, salt), the highest counter accepted plus a 1024-bit bitmap of the
 * counters below it (the sliding-window scheme of RFC 6479). A counter more than 1023 below the
 * highest is dropped as a replay, even if it was never seen: by then it is stale anyway.
 *
 * Memory bound: per sender, at most 4 salts (incarnations), least recently used evicted, and an
 * incarnation silent for incarnationIdleMs (10 min) is forgotten. Entries are created only for
 * packets whose tag verified. Budgets exist for at most sendersMax sender ids (the ingress gate
 * lets only configured members through, so in the runtime there are as many as members).
 *
 * Limit: the replay window lives in memory. After a receiver restarts, or once it has forgotten
 * an old incarnation of a sender, a recorded packet of that incarnation is accepted once more.
 * The engine drops those: they carry an old ring id or a sequence number it has delivered.
 */
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hkdfSync,
  randomBytes,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { assert } from '../../engine/assert.js';

export const sealedVersion = 2;
export const clusterKeyBytes = 32;
export const saltBytes = 16;
export const tagBytes = 16;
/** version u8 + flags u8 + sender u32 + destination u32 + salt 16 + counter u64. */
export const sealedHeaderBytes = 34;
/** Header + tag: the net worker subtracts this from the datagram budget. */
export const sealedOverheadBytes = sealedHeaderBytes + tagBytes;
export const replayWindowPackets = 1024;
export const saltsPerSenderMax = 4;
/** The destination of a datagram every member receives (node ids start at 1). */
export const broadcastDestination = 0;
/** The cluster name when none is configured. */
export const defaultClusterName = 'totem-evs';
/** An incarnation with no packet accepted for this long is forgotten. */
export const incarnationIdleMs = 10 * 60 * 1000;
/** Fresh-salt attempts a sender may make at once, and how fast the allowance refills. */
export const freshSaltBurst = 8;
export const freshSaltPerSecond = 2;
/** Sender ids with a fresh-salt budget or incarnations at once; the oldest is forgotten beyond. */
export const sendersMax = 1024;

export const sealedVersionOffset = 0;
const flagsOffset = 1;
export const sealedSenderOffset = 2;
export const sealedDestinationOffset = 6;
const saltOffset = 10;
const counterOffset = 26;
const nonceBytes = 12;
/** The nonce is 4 zero bytes followed by the counter exactly as it appears in the header. */
const nonceCounterOffset = 4;
const counterMax = Number.MAX_SAFE_INTEGER;
const cipherName = 'aes-256-gcm';
const hkdfInfoLabel = 'totem-evs packet v2';
const windowWords = replayWindowPackets / 32;

assert(counterOffset + 8 === sealedHeaderBytes, 'the counter ends the header');
assert(saltOffset + saltBytes === counterOffset, 'the salt sits just before the counter');
assert(sealedDestinationOffset + 4 === saltOffset, 'the destination sits just before the salt');
assert(sealedSenderOffset + 4 === sealedDestinationOffset, 'the sender sits just before the destination');
assert(nonceCounterOffset + 8 === nonceBytes, 'a u64 counter fills the nonce after the prefix');
assert(Number.isInteger(windowWords) && windowWords > 0, 'the window is whole 32-bit words');

export type OpenFailure = 'truncated' | 'version' | 'auth' | 'replay' | 'budget';

export type OpenResult =
  | { ok: true; plain: Uint8Array; sender: number }
  | { ok: false; reason: OpenFailure };

export interface OpenerStats {
  accepted: number;
  truncated: number;
  version: number;
  auth: number;
  replay: number;
  /** Fresh-salt attempts refused because the sender's budget was spent (no crypto done). */
  budget: number;
}

export interface OpenerOptions {
  /** The cluster name bound into every tag; default defaultClusterName. */
  cluster?: string;
  /** Monotonic milliseconds; default performance.now. */
  nowMs?: () => number;
}

function checkClusterKey(clusterKey: Uint8Array): void {
  if (!(clusterKey instanceof Uint8Array)) {
    throw new TypeError('key must be a Uint8Array of 32 bytes');
  }
  if (clusterKey.length !== clusterKeyBytes) {
    throw new RangeError(`key must be ${clusterKeyBytes} bytes, got ${clusterKey.length}`);
  }
}

function checkNodeId(nodeId: number, what: string): void {
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 0xffff_ffff) {
    throw new RangeError(`${what} must be an integer in [0, 2^32 - 1], got ${nodeId}`);
  }
}

/** AAD buffer: room for the header, then the cluster name that follows it in every AAD. */
function aadBuffer(cluster: string): Buffer {
  if (typeof cluster !== 'string' || cluster.length === 0) {
    throw new TypeError('cluster must be a non-empty string');
  }
  const name = Buffer.from(cluster, 'utf8');
  const aad = Buffer.alloc(sealedHeaderBytes + name.length);
  aad.set(name, sealedHeaderBytes);
  return aad;
}

/** The per-incarnation key; the sender id in the info keeps two senders' keys apart. */
function deriveKey(clusterKey: KeyObject, sender: number, salt: Uint8Array): KeyObject {
  const label = Buffer.from(hkdfInfoLabel, 'latin1');
  const info = Buffer.alloc(label.length + 4);
  info.set(label, 0);
  info.writeUInt32LE(sender, label.length);
  const keyBytes = new Uint8Array(hkdfSync('sha256', clusterKey, salt, info, clusterKeyBytes));
  return createSecretKey(keyBytes);
}

/**
 * Seals the packets of one node for one incarnation. Construct a new sealer on every start: that
 * draws a new salt, hence a new key, so counters restarting at 0 never reuse a nonce.
 */
export class PacketSealer {
  private readonly key: KeyObject;
  /** The header of the next packet followed by the cluster name: the AAD of every packet. */
  private readonly aad: Buffer;
  private readonly header: Buffer;
  private readonly nonce: Buffer;
  private counter = 0;

  constructor(clusterKey: Uint8Array, nodeId: number, cluster: string = defaultClusterName) {
    checkClusterKey(clusterKey);
    checkNodeId(nodeId, 'nodeId');
    const salt = randomBytes(saltBytes);
    this.key = deriveKey(createSecretKey(clusterKey), nodeId, salt);
    this.aad = aadBuffer(cluster);
    this.header = this.aad.subarray(0, sealedHeaderBytes);
    this.header.writeUInt8(sealedVersion, sealedVersionOffset);
    this.header.writeUInt8(0, flagsOffset);
    this.header.writeUInt32LE(nodeId, sealedSenderOffset);
    this.header.set(salt, saltOffset);
    this.nonce = Buffer.alloc(nonceBytes);
  }

  /**
   * Returns a new array: header, ciphertext of plain, tag, sealed for `destination` (a node id,
   * or broadcastDestination). plain may be empty. Each call uses the next counter, so sealing the
   * same bytes twice gives two different packets.
   */
  seal(plain: Uint8Array, destination: number = broadcastDestination): Uint8Array {
    checkNodeId(destination, 'destination');
    const counter = this.counter;
    assert(counter <= counterMax, 'packet counter exhausted: restart the node for a new salt');
    this.counter = counter + 1;
    this.header.writeUInt32LE(destination, sealedDestinationOffset);
    // The nonce is copied from the header bytes, so the two cannot disagree.
    this.header.writeUInt32LE(counter % 0x1_0000_0000, counterOffset);
    this.header.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), counterOffset + 4);
    this.nonce.set(this.header.subarray(counterOffset, sealedHeaderBytes), nonceCounterOffset);

    // A GCM cipher object cannot take a new nonce, so node:crypto needs one per packet.
    const options = { authTagLength: tagBytes };
    const cipher = createCipheriv(cipherName, this.key, this.nonce, options);
    cipher.setAAD(this.aad);
    const body = cipher.update(plain);
    const tail = cipher.final();
    const tag = cipher.getAuthTag();
    assert(body.length + tail.length === plain.length, 'GCM ciphertext is plaintext-sized');
    assert(tag.length === tagBytes, 'GCM tag has the requested length');

    const sealed = new Uint8Array(sealedOverheadBytes + plain.length);
    sealed.set(this.header, 0);
    sealed.set(body, sealedHeaderBytes);
    sealed.set(tail, sealedHeaderBytes + body.length);
    sealed.set(tag, sealedHeaderBytes + plain.length);
    return sealed;
  }
}

/** One incarnation of one sender: its key and its replay window. */
interface Incarnation {
  readonly salt: Uint8Array;
  readonly key: KeyObject;
  /** Highest counter accepted; -1 before the first. */
  highest: number;
  /** Bit (c mod replayWindowPackets) is set when counter c, within the window, was accepted. */
  readonly seen: Uint32Array;
  /** When a packet of this incarnation was last accepted (nowMs). */
  lastAcceptedMs: number;
}

/** What a receiver keeps per sender id: its incarnations and its fresh-salt budget. */
interface SenderState {
  /** Most recently used first; at most saltsPerSenderMax. */
  readonly incarnations: Incarnation[];
  /** Fresh-salt attempts left (fractional while refilling), at most freshSaltBurst. */
  tokens: number;
  refilledMs: number;
}

function sameSalt(salt: Uint8Array, sealed: Uint8Array): boolean {
  for (let i = 0; i < saltBytes; i++) {
    if (salt[i] !== sealed[saltOffset + i]) return false;
  }
  return true;
}

function isReplay(entry: Incarnation, counter: number): boolean {
  if (counter > entry.highest) return false;
  if (entry.highest - counter >= replayWindowPackets) return true;
  const bit = counter % replayWindowPackets;
  return ((entry.seen[bit >>> 5] ?? 0) & (1 << (bit & 31))) !== 0;
}

/** Records an accepted counter; the caller has checked that isReplay(entry, counter) is false. */
function markAccepted(entry: Incarnation, counter: number): void {
  if (counter > entry.highest) {
    const advance = counter - entry.highest;
    if (advance >= replayWindowPackets) {
      entry.seen.fill(0);
    } else {
      // The slots the window slides onto still hold counters a full window older: clear them.
      for (let c = entry.highest + 1; c < counter; c++) {
        const bit = c % replayWindowPackets;
        entry.seen[bit >>> 5] = (entry.seen[bit >>> 5] ?? 0) & ~(1 << (bit & 31));
      }
    }
    entry.highest = counter;
  }
  const bit = counter % replayWindowPackets;
  entry.seen[bit >>> 5] = (entry.seen[bit >>> 5] ?? 0) | (1 << (bit & 31));
  assert(entry.highest >= counter, 'the window covers the counter it accepted');
}

/**
 * Opens packets sealed by any node's PacketSealer under the same cluster key and cluster name.
 * Never throws for any input: every refusal is a result with a reason, and is counted in stats.
 */
export class PacketOpener {
  readonly stats: OpenerStats = { accepted: 0, truncated: 0, version: 0, auth: 0, replay: 0, budget: 0 };
  private readonly clusterKey: KeyObject;
  private readonly senders = new Map<number, SenderState>();
  private readonly nonce = Buffer.alloc(nonceBytes);
  private readonly aad: Buffer;
  private readonly nowMs: () => number;

  constructor(clusterKey: Uint8Array, options: OpenerOptions = {}) {
    checkClusterKey(clusterKey);
    this.clusterKey = createSecretKey(clusterKey);
    this.aad = aadBuffer(options.cluster ?? defaultClusterName);
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  /** Sender ids with state (incarnations or a budget being refilled): at most sendersMax. */
  get senderCount(): number {
    return this.senders.size;
  }

  /** Incarnations held for `sender` (tests and stats). */
  incarnationCount(sender: number): number {
    return this.senders.get(sender)?.incarnations.length ?? 0;
  }

  /**
   * Forgets incarnations silent for incarnationIdleMs and senders left with nothing to remember
   * (no incarnation, a full budget). The net worker calls it now and then; open() also forgets a
   * sender's idle incarnations when the sender sends.
   */
  sweep(): void {
    const now = this.nowMs();
    for (const [sender, state] of this.senders) {
      forgetIdle(state, now);
      refill(state, now);
      if (state.incarnations.length === 0 && state.tokens >= freshSaltBurst) this.senders.delete(sender);
    }
  }

  open(sealed: Uint8Array): OpenResult {
    if (sealed.length < sealedOverheadBytes) {
      this.stats.truncated++;
      return { ok: false, reason: 'truncated' };
    }
    if (sealed[sealedVersionOffset] !== sealedVersion) {
      this.stats.version++;
      return { ok: false, reason: 'version' };
    }
    const view = new DataView(sealed.buffer, sealed.byteOffset, sealedHeaderBytes);
    const sender = view.getUint32(sealedSenderOffset, true);
    const counterLow = view.getUint32(counterOffset, true);
    const counterHigh = view.getUint32(counterOffset + 4, true);
    if (counterHigh > Math.floor(counterMax / 0x1_0000_0000)) {
      this.stats.auth++;
      return { ok: false, reason: 'auth' };
    }
    const counter = counterHigh * 0x1_0000_0000 + counterLow;
    const now = this.nowMs();

    const state = this.senders.get(sender);
    const incarnations = state?.incarnations;
    let index = -1;
    if (incarnations !== undefined) {
      forgetIdle(state as SenderState, now);
      for (let i = 0; i < incarnations.length; i++) {
        const candidate = incarnations[i];
        if (candidate !== undefined && sameSalt(candidate.salt, sealed)) {
          index = i;
          break;
        }
      }
    }
    const known = index >= 0 ? incarnations?.[index] : undefined;
    if (known !== undefined && isReplay(known, counter)) {
      this.stats.replay++;
      return { ok: false, reason: 'replay' };
    }

    let senderState = state;
    if (known === undefined) {
      // A salt not seen for this sender: the HKDF and the decryption are paid from its budget.
      senderState ??= this.newSender(sender, now);
      refill(senderState, now);
      if (senderState.tokens < 1) {
        this.stats.budget++;
        return { ok: false, reason: 'budget' };
      }
      senderState.tokens -= 1;
    }

    const salt = known?.salt ?? sealed.subarray(saltOffset, saltOffset + saltBytes);
    const key = known?.key ?? deriveKey(this.clusterKey, sender, salt);
    const plain = this.decrypt(key, sealed);
    if (plain === null) {
      this.stats.auth++;
      return { ok: false, reason: 'auth' };
    }

    // Authentic from here on: only now may the packet change any state.
    assert(senderState !== undefined, 'a sender with a known or a paid-for salt has state');
    const list = senderState.incarnations;
    if (known !== undefined) {
      markAccepted(known, counter);
      known.lastAcceptedMs = now;
      if (index > 0) {
        list.splice(index, 1);
        list.unshift(known);
      }
    } else {
      // A salt not seen before: the sender has restarted, or this receiver has.
      const entry: Incarnation = {
        salt: Uint8Array.from(salt),
        key,
        highest: -1,
        seen: new Uint32Array(windowWords),
        lastAcceptedMs: now,
      };
      markAccepted(entry, counter);
      list.unshift(entry);
      if (list.length > saltsPerSenderMax) list.pop();
      assert(list.length <= saltsPerSenderMax, 'incarnations per sender are bounded');
    }
    this.stats.accepted++;
    return { ok: true, plain, sender };
  }

  private newSender(sender: number, now: number): SenderState {
    if (this.senders.size >= sendersMax) {
      // Map iteration is insertion order: forget the sender whose state is oldest.
      const oldest = this.senders.keys().next();
      if (oldest.done !== true) this.senders.delete(oldest.value);
    }
    const state: SenderState = { incarnations: [], tokens: freshSaltBurst, refilledMs: now };
    this.senders.set(sender, state);
    assert(this.senders.size <= sendersMax, 'sender states are bounded');
    return state;
  }

  /** The plaintext if the tag verifies, else null. */
  private decrypt(key: KeyObject, sealed: Uint8Array): Uint8Array | null {
    const body = sealed.subarray(sealedHeaderBytes, sealed.length - tagBytes);
    const tag = sealed.subarray(sealed.length - tagBytes);
    this.aad.set(sealed.subarray(0, sealedHeaderBytes), 0);
    this.nonce.set(sealed.subarray(counterOffset, sealedHeaderBytes), nonceCounterOffset);
    const options = { authTagLength: tagBytes };
    const decipher = createDecipheriv(cipherName, key, this.nonce, options);
    decipher.setAAD(this.aad);
    decipher.setAuthTag(tag);
    // update() returns plaintext before the tag is checked; it is released only if final() passes.
    const plain = decipher.update(body);
    let tail: Buffer;
    try {
      tail = decipher.final();
    } catch {
      return null;
    }
    assert(tail.length === 0, 'GCM holds back no plaintext at final');
    assert(plain.length === body.length, 'GCM plaintext is as long as the ciphertext');
    return plain;
  }
}

function forgetIdle(state: SenderState, now: number): void {
  const list = state.incarnations;
  // Most recently used first: the idle ones are at the end.
  while (list.length > 0 && now - (list[list.length - 1] as Incarnation).lastAcceptedMs >= incarnationIdleMs) {
    list.pop();
  }
}

function refill(state: SenderState, now: number): void {
  const elapsedMs = Math.max(0, now - state.refilledMs);
  state.tokens = Math.min(freshSaltBurst, state.tokens + (elapsedMs * freshSaltPerSecond) / 1000);
  state.refilledMs = now;
}
