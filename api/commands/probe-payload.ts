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

export function writeProbe(buffer: Uint8Array, sender: number, seq: bigint, intendedNs: bigint): void {
  if (buffer.length < probeBytesMin) throw new RangeError(`a probe needs at least ${probeBytesMin} bytes`);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  view.setUint32(0, probeMagic, true);
  view.setUint32(4, sender, true);
  view.setBigUint64(8, seq, true);
  view.setBigUint64(16, intendedNs, true);
  view.setUint32(28, buffer.length, true);
  const fill = Number(seq & 0xffn);
  for (let i = probeBytesMin; i < buffer.length; i++) buffer[i] = (fill + i) & 0xff;
  view.setUint32(24, fnv1a(buffer, 24, 28), true);
}

export interface Probe {
  sender: number;
  seq: bigint;
  intendedNs: bigint;
}

/** The probe in `bytes`, or null when it is not one or its checksum fails (corrupt). */
export function readProbe(bytes: Uint8Array): Probe | null {
  if (bytes.length < probeBytesMin) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== probeMagic) return null;
  if (view.getUint32(28, true) !== bytes.length) return null;
  if (view.getUint32(24, true) !== fnv1a(bytes, 24, 28)) return null;
  return { sender: view.getUint32(4, true), seq: view.getBigUint64(8, true), intendedNs: view.getBigUint64(16, true) };
}

/** Per-sender-incarnation order check: counts what a correct ring never produces. */
export class IntegrityCheck {
  corrupt = 0;
  missing = 0;
  duplicated = 0;
  reordered = 0;
  private readonly next = new Map<string, bigint>();

  /**
   * A transitional configuration: a sender outside it may have messages this node will never
   * deliver (EVS is partitionable), so its next message starts a fresh expectation. Senders in it
   * must continue without a gap.
   */
  onTransitional(members: readonly number[]): void {
    for (const source of [...this.next.keys()]) {
      const sender = Number(source.slice(0, source.indexOf(':')));
      if (!members.includes(sender)) this.next.delete(source);
    }
  }

  /** `source` identifies a sender incarnation ("<sender>:<incarnation>"). */
  observe(source: string, probe: Probe | null): void {
    if (probe === null) {
      this.corrupt += 1;
      return;
    }
    const expected = this.next.get(source);
    if (expected === undefined || probe.seq === expected) {
      this.next.set(source, probe.seq + 1n);
      return;
    }
    if (probe.seq > expected) {
      // A gap inside a configuration: a message the ring should have delivered here.
      this.missing += Number(probe.seq - expected);
      this.next.set(source, probe.seq + 1n);
    } else if (probe.seq === expected - 1n) {
      this.duplicated += 1;
    } else {
      this.reordered += 1;
    }
  }
}
