/**
 * The payload the `node` command and the bench send: enough to measure latency from the
 * intended send time (no coordinated omission), and to detect corrupt, missing, duplicated and
 * reordered messages per sender incarnation.
 *
 *   0        4        8                16               24       28       32
 *   +--------+--------+----------------+----------------+--------+--------+---------------+
 *   | magic  | sender | seq (u64)      | intended send  | check- | size   | fill bytes     |
 *   | u32    | u32    | per sender     | time, ns (u64) | sum    | u32    | (seq-derived)  |
 *   +--------+--------+----------------+----------------+--------+--------+---------------+
 *
 * Times are process.hrtime.bigint() nanoseconds: CLOCK_MONOTONIC, shared by every process on
 * one host, so a receiver on the same machine can subtract them. The checksum (FNV-1a, 32 bit)
 * covers every byte but its own four.
 */
export const probeMagic = 0x7e5b0b0e;
export const probeBytesMin = 32;

function fnv1a(bytes: Uint8Array, skipFrom: number, skipTo: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    if (i >= skipFrom && i < skipTo) continue;
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function writeProbe(buffer: Uint8Array, sender: number, seq: number, intendedNs: bigint): void {
  if (buffer.length < probeBytesMin) throw new RangeError(`a probe needs at least ${probeBytesMin} bytes`);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  view.setUint32(0, probeMagic, true);
  view.setUint32(4, sender, true);
  // seq as two u32 halves: a per-sender count stays far below 2^53, and no BigInt per message.
  view.setUint32(8, seq >>> 0, true);
  view.setUint32(12, Math.floor(seq / two32), true);
  view.setBigUint64(16, intendedNs, true);
  view.setUint32(28, buffer.length, true);
  const fill = seq & 0xff;
  for (let i = probeBytesMin; i < buffer.length; i++) buffer[i] = (fill + i) & 0xff;
  view.setUint32(24, fnv1a(buffer, 24, 28), true);
}

const two32 = 2 ** 32;

export interface Probe {
  sender: number;
  seq: number;
  intendedNs: bigint;
}

/** The probe in `bytes`, or null when it is not one or its checksum fails (corrupt). */
export function readProbe(bytes: Uint8Array): Probe | null {
  if (bytes.length < probeBytesMin) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== probeMagic) return null;
  if (view.getUint32(28, true) !== bytes.length) return null;
  if (view.getUint32(24, true) !== fnv1a(bytes, 24, 28)) return null;
  return { sender: view.getUint32(4, true), seq: view.getUint32(8, true) + view.getUint32(12, true) * two32, intendedNs: view.getBigUint64(16, true) };
}

/** Per-sender-incarnation order check: counts what a correct ring never produces. */
export class IntegrityCheck {
  corrupt = 0;
  missing = 0;
  duplicated = 0;
  reordered = 0;
  /** sender → incarnation → the seq expected next (no string key built per message). */
  private readonly next = new Map<number, Map<number, number>>();

  /**
   * A transitional configuration: a sender outside it may have messages this node will never
   * deliver (EVS is partitionable), so its next message starts a fresh expectation. Senders in it
   * must continue without a gap.
   */
  onTransitional(members: readonly number[]): void {
    for (const sender of [...this.next.keys()]) if (!members.includes(sender)) this.next.delete(sender);
  }

  observe(sender: number, incarnation: number, probe: Probe | null): void {
    if (probe === null) {
      this.corrupt += 1;
      return;
    }
    let bySender = this.next.get(sender);
    if (bySender === undefined) {
      bySender = new Map();
      this.next.set(sender, bySender);
    }
    const expected = bySender.get(incarnation);
    if (expected === undefined || probe.seq === expected) {
      bySender.set(incarnation, probe.seq + 1);
      return;
    }
    if (probe.seq > expected) {
      // A gap inside a configuration: a message the ring should have delivered here.
      this.missing += probe.seq - expected;
      bySender.set(incarnation, probe.seq + 1);
    } else if (probe.seq === expected - 1) {
      this.duplicated += 1;
    } else {
      this.reordered += 1;
    }
  }
}
