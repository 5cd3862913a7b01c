import { describe, it, expect } from 'vitest';
import { AssertionError } from '../../engine/assert.js';
import { nodeCountMax, packetBytesMax, rtrEntriesMax } from '../../engine/constants.js';
import { PROTOCOL_VERSION, PacketType } from '../../engine/types.js';
import type {
  CommitTokenPacket,
  DecodeResult,
  JoinPacket,
  McastPacket,
  Packet,
  TokenPacket,
} from '../../engine/types.js';
import {
  decodePacket,
  encodeMcast,
  encodeMcastEncapsulated,
  encodePacket,
  headerBytes,
  mcastEncapsulationBytes,
  mcastHeaderBytes,
  mcastInnerBytes,
  mcastPayloadBytesMax,
  peekHeader,
} from '../../engine/wire/codec.js';
import {
  commitFixedBytes,
  commitMemberBytes,
  commitMemberCountOffset,
  commitMemberFlagsOffset,
  commitMembIndexOffset,
  joinProcCountOffset,
  mcastOrderOffset,
  mcastOriginatorOffset,
  mcastPayloadLengthOffset,
  tokenFixedBytes,
  tokenRtrCountOffset,
} from '../../engine/wire/layout.js';

const seqMax = 0xffffffff;
const ringSeqBig = 2n ** 63n - 1n;
const u64Max = 2n ** 64n - 1n;

function bytesOf(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function payloadOf(length: number, salt = 7): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt) & 0xff;
  return out;
}

function tokenFull(): TokenPacket {
  return {
    type: 'token',
    sender: seqMax,
    ringId: { rep: 1, seq: ringSeqBig },
    tokenSeq: seqMax,
    seq: seqMax,
    aru: seqMax,
    aruAddr: seqMax,
    fcc: 0x12345678,
    backlog: seqMax,
    retransFlg: true,
    rtr: Array.from({ length: rtrEntriesMax }, (_, i) => ({
      ringId: { rep: 1000 + i, seq: BigInt(i) * 0x1_0000_0001n },
      seq: seqMax - i,
    })),
  };
}

function tokenMinimal(): TokenPacket {
  return {
    type: 'token',
    sender: 2,
    ringId: { rep: 2, seq: 0n },
    tokenSeq: 0,
    seq: 0,
    aru: seqMax,
    aruAddr: 0,
    fcc: 0,
    backlog: 0,
    retransFlg: false,
    rtr: [],
  };
}

function mcastPlain(payload = payloadOf(64)): McastPacket {
  return {
    type: 'mcast',
    sender: 3,
    ringId: { rep: 1, seq: 42n },
    seq: seqMax,
    originator: 5,
    order: 'safe',
    payload,
  };
}

function mcastEncapsulated(): McastPacket {
  return {
    type: 'mcast',
    sender: 9,
    ringId: { rep: 2, seq: 43n },
    seq: 17,
    originator: 9,
    order: 'agreed',
    payload: new Uint8Array(0),
    inner: { ...mcastPlain(payloadOf(10)), order: 'agreed' },
  };
}

function ids(count: number, first = 1, step = 1): number[] {
  return Array.from({ length: count }, (_, i) => first + i * step);
}

function joinFull(): JoinPacket {
  return {
    type: 'join',
    sender: 1,
    procSet: ids(nodeCountMax, 1),
    failSet: ids(nodeCountMax, 0xffffffff - nodeCountMax + 1),
    ringSeq: u64Max,
  };
}

function joinEmpty(): JoinPacket {
  return { type: 'join', sender: 4, procSet: [], failSet: [], ringSeq: 0n };
}

function commitFull(): CommitTokenPacket {
  return {
    type: 'commitToken',
    sender: 1,
    ringId: { rep: 1, seq: ringSeqBig },
    membIndex: nodeCountMax,
    members: ids(nodeCountMax, 1, 3).map((nodeId, i) => ({
      nodeId,
      oldRingId: { rep: i % 5 === 0 ? 0 : nodeId, seq: BigInt(i) * 1_000_000_007n },
      aru: seqMax - i,
      highDelivered: i,
      receivedFlg: i % 2 === 0,
      filled: i % 3 !== 0,
    })),
  };
}

function commitOne(): CommitTokenPacket {
  return {
    type: 'commitToken',
    sender: 6,
    ringId: { rep: 6, seq: 1n },
    membIndex: 0,
    members: [
      { nodeId: 6, oldRingId: { rep: 0, seq: 0n }, aru: 0, highDelivered: 0, receivedFlg: false, filled: false },
    ],
  };
}

/** One sample of every packet type, extremes included, by name. */
function samples(): Record<string, Packet> {
  return {
    'token (full: 30 rtr, all uint32 at max, ring seq 2^63-1)': tokenFull(),
    'token (minimal: no rtr, aruAddr 0)': tokenMinimal(),
    'mcast (64-byte payload)': mcastPlain(),
    'mcast (empty payload)': mcastPlain(new Uint8Array(0)),
    'mcast (payload of mcastPayloadBytesMax(1472))': mcastPlain(payloadOf(mcastPayloadBytesMax(1472))),
    'mcast (encapsulated)': mcastEncapsulated(),
    'join (nodeCountMax in both sets, ring seq 2^64-1)': joinFull(),
    'join (empty sets)': joinEmpty(),
    'commitToken (nodeCountMax members)': commitFull(),
    'commitToken (one unfilled member)': commitOne(),
    mergeDetect: { type: 'mergeDetect', sender: 7, ringId: { rep: 3, seq: ringSeqBig } },
    tokenHoldCancel: { type: 'tokenHoldCancel', sender: seqMax, ringId: { rep: seqMax, seq: u64Max } },
  };
}

function decodeOk(bytes: Uint8Array): Packet {
  const result = decodePacket(bytes);
  if (!result.ok) throw new Error(`expected a packet, got drop '${result.reason}'`);
  return result.packet;
}

function reason(result: DecodeResult): string {
  return result.ok ? 'ok' : result.reason;
}

/** A copy of `bytes` with `edit` applied through a DataView. */
function patched(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

function withTrailing(bytes: Uint8Array, extra: number): Uint8Array {
  const out = new Uint8Array(bytes.length + extra);
  out.set(bytes);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('constants', () => {
  it('have the documented sizes', () => {
    expect(headerBytes).toBe(8);
    expect(mcastHeaderBytes).toBe(33);
    expect(mcastEncapsulationBytes).toBe(33);
    expect(mcastPayloadBytesMax(1472)).toBe(1472 - 66);
  });

  it('size the payload so that the frame and its re-broadcast both fit', () => {
    const payload = payloadOf(mcastPayloadBytesMax(1472));
    const frame = encodeMcast(1, { rep: 1, seq: 1n }, 0, 1, 'agreed', payload);
    const rebroadcast = encodeMcastEncapsulated(2, { rep: 2, seq: 2n }, 0, frame);
    expect(frame.length).toBe(1472 - mcastEncapsulationBytes);
    expect(rebroadcast.length).toBe(1472);
    const oneMore = encodeMcast(1, { rep: 1, seq: 1n }, 0, 1, 'agreed', payloadOf(payload.length + 1));
    expect(encodeMcastEncapsulated(2, { rep: 2, seq: 2n }, 0, oneMore).length).toBe(1473);
  });
});

describe('golden bytes', () => {
  it('lays out a merge-detect little-endian: header then ring id', () => {
    const bytes = encodePacket({
      type: 'mergeDetect',
      sender: 0x04030201,
      ringId: { rep: 0x0d0c0b0a, seq: 0x1817161514131211n },
    });
    expect(Array.from(bytes)).toEqual([
      PROTOCOL_VERSION, PacketType.mergeDetect, 0, 0, 0x01, 0x02, 0x03, 0x04,
      0x0a, 0x0b, 0x0c, 0x0d, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    ]);
  });

  it('lays out an mcast header: ring id, seq, originator, order, payload length, payload', () => {
    const bytes = encodeMcast(2, { rep: 3, seq: 4n }, 5, 6, 'safe', bytesOf(0xaa, 0xbb));
    expect(Array.from(bytes)).toEqual([
      PROTOCOL_VERSION, PacketType.mcast, 0, 0, 2, 0, 0, 0,
      3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0,
      5, 0, 0, 0,
      6, 0, 0, 0,
      1,
      2, 0, 0, 0,
      0xaa, 0xbb,
    ]);
  });

  it('carries retransFlg and encapsulation in header flag bit 0', () => {
    expect(encodePacket(tokenFull())[2]).toBe(1);
    expect(encodePacket(tokenMinimal())[2]).toBe(0);
    expect(encodePacket(mcastEncapsulated())[2]).toBe(1);
    expect(encodePacket(mcastPlain())[2]).toBe(0);
  });
});

describe('round trip', () => {
  for (const [name, packet] of Object.entries(samples())) {
    it(name, () => {
      const bytes = encodePacket(packet);
      const decoded = decodeOk(bytes);
      expect(decoded).toEqual(packet);
      expect(sameBytes(encodePacket(decoded), bytes)).toBe(true);
    });
  }

  it('encodes to exactly the computed length', () => {
    expect(encodePacket(tokenFull()).length).toBe(tokenFixedBytes + rtrEntriesMax * 16);
    expect(encodePacket(tokenMinimal()).length).toBe(tokenFixedBytes);
    expect(encodePacket(mcastPlain()).length).toBe(mcastHeaderBytes + 64);
    expect(encodePacket(joinFull()).length).toBe(20 + 2 * nodeCountMax * 4);
    expect(encodePacket(commitFull()).length).toBe(commitFixedBytes + nodeCountMax * commitMemberBytes);
    expect(encodePacket({ type: 'tokenHoldCancel', sender: 1, ringId: { rep: 1, seq: 0n } }).length).toBe(20);
    const bytes = encodePacket(mcastPlain());
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
  });

  it('encodeMcast writes the same bytes as encodePacket', () => {
    const p = mcastPlain();
    expect(sameBytes(encodeMcast(p.sender, p.ringId, p.seq, p.originator, p.order, p.payload), encodePacket(p))).toBe(
      true,
    );
  });

  it('hands out the mcast payload as a view into the received bytes', () => {
    const bytes = encodePacket(mcastPlain());
    const decoded = decodeOk(bytes) as McastPacket;
    expect(decoded.payload.buffer).toBe(bytes.buffer);
    expect(decoded.payload.byteOffset).toBe(mcastHeaderBytes);
    bytes[mcastHeaderBytes] = 0x5a;
    expect(decoded.payload[0]).toBe(0x5a);
  });

  it('decodes packets at any offset of a shared buffer, switching buffers between calls', () => {
    const shared = new Uint8Array(4096);
    let at = 3;
    const placed: { view: Uint8Array; packet: Packet }[] = [];
    for (const packet of [tokenFull(), mcastPlain(), joinEmpty(), commitOne(), mcastEncapsulated()]) {
      const bytes = encodePacket(packet);
      shared.set(bytes, at);
      placed.push({ view: shared.subarray(at, at + bytes.length), packet });
      at += bytes.length + 5;
    }
    for (const { view, packet } of placed) {
      expect(decodeOk(view)).toEqual(packet);
      // A fresh buffer in between forces the cached view to be rebuilt.
      expect(decodeOk(encodePacket(tokenMinimal()))).toEqual(tokenMinimal());
    }
    const mcast = decodeOk(placed[1]!.view) as McastPacket;
    expect(mcast.payload.buffer).toBe(shared.buffer);
    expect(mcast.payload.byteOffset).toBe(placed[1]!.view.byteOffset + mcastHeaderBytes);
  });
});

describe('encapsulated mcast', () => {
  it('wraps the old-ring frame byte for byte under the new header', () => {
    const innerPacket = mcastPlain(payloadOf(100));
    const inner = encodePacket(innerPacket);
    const outer = encodeMcastEncapsulated(11, { rep: 4, seq: 99n }, 1234, inner);
    expect(outer.length).toBe(inner.length + mcastEncapsulationBytes);
    const decoded = decodeOk(outer) as McastPacket;
    expect(decoded).toEqual({
      type: 'mcast',
      sender: 11,
      ringId: { rep: 4, seq: 99n },
      seq: 1234,
      originator: 11,
      order: innerPacket.order,
      payload: new Uint8Array(0),
      inner: innerPacket,
    });
    expect(decoded.payload.length).toBe(0);
    expect(sameBytes(encodePacket(decoded), outer)).toBe(true);
  });

  it('copies the inner order into the outer header', () => {
    const agreed = encodePacket({ ...mcastPlain(), order: 'agreed' });
    const safe = encodePacket({ ...mcastPlain(), order: 'safe' });
    expect((decodeOk(encodeMcastEncapsulated(1, { rep: 1, seq: 1n }, 0, agreed)) as McastPacket).order).toBe('agreed');
    expect((decodeOk(encodeMcastEncapsulated(1, { rep: 1, seq: 1n }, 0, safe)) as McastPacket).order).toBe('safe');
  });

  it('mcastInnerBytes returns the inner frame as a view, or null', () => {
    const inner = encodePacket(mcastPlain(payloadOf(20)));
    const outer = encodeMcastEncapsulated(2, { rep: 2, seq: 5n }, 1, inner);
    const innerView = mcastInnerBytes(outer);
    expect(innerView).not.toBeNull();
    expect(sameBytes(innerView!, inner)).toBe(true);
    expect(innerView!.buffer).toBe(outer.buffer);
    expect(innerView!.byteOffset).toBe(mcastHeaderBytes);
    expect(mcastInnerBytes(inner)).toBeNull();
    expect(mcastInnerBytes(encodePacket(tokenFull()))).toBeNull();
    expect(mcastInnerBytes(outer.subarray(0, outer.length - 1))).toBeNull();
    expect(mcastInnerBytes(new Uint8Array(0))).toBeNull();
  });

  it('refuses to encapsulate anything but a plain mcast frame', () => {
    const ring = { rep: 1, seq: 1n };
    const plain = encodePacket(mcastPlain());
    const outer = encodeMcastEncapsulated(1, ring, 0, plain);
    expect(() => encodeMcastEncapsulated(1, ring, 0, outer)).toThrow(AssertionError);
    expect(() => encodeMcastEncapsulated(1, ring, 0, encodePacket(tokenMinimal()))).toThrow(AssertionError);
    expect(() => encodeMcastEncapsulated(1, ring, 0, plain.subarray(0, plain.length - 1))).toThrow(AssertionError);
    expect(() => encodePacket({ ...mcastEncapsulated(), inner: mcastEncapsulated() })).toThrow(AssertionError);
    expect(() => encodePacket({ ...mcastEncapsulated(), payload: bytesOf(1) })).toThrow(AssertionError);
  });

  it('drops an encapsulated frame whose inner frame is not one plain mcast', () => {
    const ring = { rep: 1, seq: 1n };
    const inner = encodePacket(mcastPlain(payloadOf(8)));
    const outer = encodeMcastEncapsulated(1, ring, 0, inner);
    const innerAt = mcastHeaderBytes;
    // Nested twice: the inner frame is itself flagged encapsulated.
    const nested = patched(outer, (v) => v.setUint16(innerAt + 2, 1, true));
    expect(reason(decodePacket(nested))).toBe('malformed');
    // An honest two-level nesting (outer around an encapsulated frame) is refused too.
    const twoLevels = patched(withTrailing(new Uint8Array(mcastHeaderBytes), outer.length), (v) => {
      new Uint8Array(v.buffer).set(outer.subarray(0, mcastHeaderBytes));
      new Uint8Array(v.buffer).set(outer, mcastHeaderBytes);
      v.setUint32(mcastPayloadLengthOffset, outer.length, true);
    });
    expect(reason(decodePacket(twoLevels))).toBe('malformed');
    // The inner frame is shorter than its own header claims, though the outer is complete.
    const innerShort = patched(outer, (v) => v.setUint32(innerAt + mcastPayloadLengthOffset, 9, true));
    expect(reason(decodePacket(innerShort))).toBe('malformed');
    const innerLong = patched(outer, (v) => v.setUint32(innerAt + mcastPayloadLengthOffset, 7, true));
    expect(reason(decodePacket(innerLong))).toBe('malformed');
    expect(reason(decodePacket(patched(outer, (v) => v.setUint8(innerAt, PROTOCOL_VERSION + 1))))).toBe('malformed');
    expect(reason(decodePacket(patched(outer, (v) => v.setUint8(innerAt + 1, PacketType.token))))).toBe('malformed');
    expect(reason(decodePacket(patched(outer, (v) => v.setUint32(innerAt + 4, 0, true))))).toBe('malformed');
    expect(reason(decodePacket(patched(outer, (v) => v.setUint8(innerAt + mcastOrderOffset, 2))))).toBe(
      'malformed',
    );
    // An outer whose payload is too short to hold any inner header.
    const tiny = encodeMcast(1, ring, 0, 1, 'agreed', bytesOf(PROTOCOL_VERSION, PacketType.mcast, 0, 0));
    expect(reason(decodePacket(patched(tiny, (v) => v.setUint16(2, 1, true))))).toBe('malformed');
  });
});

describe('malformed input', () => {
  const named = Object.entries(samples()).map(([name, packet]) => [name, encodePacket(packet)] as const);

  it('truncated at every byte offset of every type: truncated, never a throw', () => {
    let checked = 0;
    for (const [name, bytes] of named) {
      for (let length = 0; length < bytes.length; length++) {
        // A view into the full encoding: the bytes past the cut are there in the buffer and
        // must not be read. A fresh copy: reading past the end would throw.
        const view = bytes.subarray(0, length);
        const copy = bytes.slice(0, length);
        for (const input of [view, copy]) {
          let result: DecodeResult | undefined;
          expect(() => (result = decodePacket(input)), `${name} at ${length}`).not.toThrow();
          expect(reason(result!), `${name} at ${length}`).toBe('truncated');
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(2 * 8000);
  });

  it('a trailing byte after the last field: malformed', () => {
    for (const [name, bytes] of named) {
      expect(reason(decodePacket(withTrailing(bytes, 1))), name).toBe('malformed');
      // Also when the extra byte is only in the array, not past the buffer's end.
      const shared = withTrailing(bytes, 1);
      expect(reason(decodePacket(shared.subarray(0, bytes.length))), name).toBe('ok');
    }
  });

  it('version skew: reports the version and the sender', () => {
    const bytes = patched(encodePacket(mcastPlain()), (v) => v.setUint8(0, PROTOCOL_VERSION + 1));
    expect(decodePacket(bytes)).toEqual({ ok: false, reason: 'version', version: PROTOCOL_VERSION + 1, sender: 3 });
    const zero = patched(encodePacket(tokenFull()), (v) => v.setUint8(0, 0));
    expect(decodePacket(zero)).toEqual({ ok: false, reason: 'version', version: 0, sender: seqMax });
    // Too short for a sender: the version alone.
    expect(decodePacket(bytesOf(9, 1, 0))).toEqual({ ok: false, reason: 'version', version: 9 });
    // Even an unknown type or a truncated body is reported as version skew first.
    expect(decodePacket(bytesOf(PROTOCOL_VERSION + 1, 99, 0, 0, 5, 0, 0, 0))).toEqual({
      ok: false,
      reason: 'version',
      version: PROTOCOL_VERSION + 1,
      sender: 5,
    });
  });

  it('unknown type', () => {
    for (const type of [0, 7, 0x80, 0xff]) {
      const bytes = patched(encodePacket(tokenMinimal()), (v) => v.setUint8(1, type));
      expect(reason(decodePacket(bytes)), `type ${type}`).toBe('unknown-type');
    }
    expect(reason(decodePacket(bytesOf(PROTOCOL_VERSION, 0, 0, 0, 1, 0, 0, 0)))).toBe('unknown-type');
  });

  it('oversized: a packet longer than packetBytesMax', () => {
    const big = new Uint8Array(packetBytesMax + 1);
    big.set(encodeMcast(1, { rep: 1, seq: 1n }, 0, 1, 'agreed', new Uint8Array(0)));
    expect(reason(decodePacket(big))).toBe('oversized');
    // The largest mcast that fits is accepted.
    const largest = encodeMcast(1, { rep: 1, seq: 1n }, 0, 1, 'agreed', new Uint8Array(packetBytesMax - mcastHeaderBytes));
    expect(reason(decodePacket(largest))).toBe('ok');
  });

  it('oversized: rtr count above rtrEntriesMax', () => {
    const bytes = encodePacket(tokenFull());
    const tooMany = withTrailing(bytes, 16);
    new DataView(tooMany.buffer).setUint16(tokenRtrCountOffset, rtrEntriesMax + 1, true);
    tooMany.set(bytes.subarray(tokenFixedBytes, tokenFixedBytes + 16), bytes.length);
    expect(reason(decodePacket(tooMany))).toBe('oversized');
    // Reported from the count alone, before the entries' bytes.
    expect(reason(decodePacket(patched(bytes, (v) => v.setUint16(tokenRtrCountOffset, 0xffff, true))))).toBe('oversized');
  });

  it('oversized: join sets and commit members above nodeCountMax', () => {
    const join = encodePacket(joinEmpty());
    const procCountAt = joinProcCountOffset;
    expect(reason(decodePacket(patched(join, (v) => v.setUint16(procCountAt, nodeCountMax + 1, true))))).toBe(
      'oversized',
    );
    expect(reason(decodePacket(patched(join, (v) => v.setUint16(procCountAt + 2, nodeCountMax + 1, true))))).toBe(
      'oversized',
    );
    const commit = encodePacket(commitOne());
    expect(reason(decodePacket(patched(commit, (v) => v.setUint16(commitMemberCountOffset, nodeCountMax + 1, true))))).toBe(
      'oversized',
    );
    // At exactly nodeCountMax a short packet is merely truncated.
    expect(reason(decodePacket(patched(join, (v) => v.setUint16(procCountAt, nodeCountMax, true))))).toBe('truncated');
  });

  it('unsorted or duplicate sets and members', () => {
    const cases: [string, Packet][] = [
      ['join procSet unsorted', { ...joinEmpty(), procSet: [1, 3, 2] }],
      ['join procSet duplicate', { ...joinEmpty(), procSet: [1, 2, 2] }],
      ['join failSet unsorted', { ...joinEmpty(), procSet: [1], failSet: [5, 4] }],
      ['join failSet duplicate', { ...joinEmpty(), failSet: [7, 7] }],
    ];
    for (const [name, packet] of cases) {
      expect(() => encodePacket(packet), name).toThrow(AssertionError);
    }
    // The decoder sees them by editing valid encodings.
    const join = encodePacket({ ...joinEmpty(), procSet: [1, 2, 3], failSet: [4, 5] });
    const procAt = joinProcCountOffset + 2;
    const failAt = procAt + 3 * 4 + 2;
    expect(reason(decodePacket(patched(join, (v) => v.setUint32(procAt + 4, 3, true))))).toBe('malformed');
    expect(reason(decodePacket(patched(join, (v) => v.setUint32(procAt + 4, 1, true))))).toBe('malformed');
    expect(reason(decodePacket(patched(join, (v) => v.setUint32(failAt, 6, true))))).toBe('malformed');
    expect(reason(decodePacket(patched(join, (v) => v.setUint32(failAt, 5, true))))).toBe('malformed');
    // Sets are independent: the same id in procSet and failSet is fine.
    expect(reason(decodePacket(encodePacket({ ...joinEmpty(), procSet: [1, 2], failSet: [2] })))).toBe('ok');

    const members = commitFull().members.slice(0, 3);
    const commit = encodePacket({ ...commitFull(), membIndex: 1, members });
    const secondId = commitFixedBytes + commitMemberBytes;
    expect(reason(decodePacket(patched(commit, (v) => v.setUint32(secondId, members[0]!.nodeId, true))))).toBe(
      'malformed',
    );
    expect(
      reason(decodePacket(patched(commit, (v) => v.setUint32(secondId, members[2]!.nodeId + 1, true)))),
    ).toBe('malformed');
    expect(() => encodePacket({ ...commitFull(), membIndex: 0, members: [members[1]!, members[0]!] })).toThrow(
      AssertionError,
    );
  });

  it('zero node id where a node is named', () => {
    const zeroSender = (packet: Packet): Uint8Array => patched(encodePacket(packet), (v) => v.setUint32(4, 0, true));
    for (const [name, packet] of Object.entries(samples())) {
      expect(reason(decodePacket(zeroSender(packet))), name).toBe('malformed');
    }
    const zeroRep = (packet: Packet): Uint8Array => patched(encodePacket(packet), (v) => v.setUint32(8, 0, true));
    for (const packet of [tokenMinimal(), mcastPlain(), commitOne()] as Packet[]) {
      expect(reason(decodePacket(zeroRep(packet))), packet.type).toBe('malformed');
    }
    expect(reason(decodePacket(zeroRep({ type: 'mergeDetect', sender: 1, ringId: { rep: 1, seq: 1n } })))).toBe(
      'malformed',
    );
    expect(
      reason(decodePacket(zeroRep({ type: 'tokenHoldCancel', sender: 1, ringId: { rep: 1, seq: 1n } }))),
    ).toBe('malformed');
    const token = encodePacket(tokenFull());
    expect(reason(decodePacket(patched(token, (v) => v.setUint32(tokenFixedBytes + 16 * 5, 0, true))))).toBe(
      'malformed',
    );
    expect(reason(decodePacket(patched(encodePacket(mcastPlain()), (v) => v.setUint32(mcastOriginatorOffset, 0, true))))).toBe(
      'malformed',
    );
    const join = encodePacket({ ...joinEmpty(), procSet: [3] });
    expect(reason(decodePacket(patched(join, (v) => v.setUint32(joinProcCountOffset + 2, 0, true))))).toBe('malformed');
    const commit = encodePacket(commitOne());
    expect(reason(decodePacket(patched(commit, (v) => v.setUint32(commitFixedBytes, 0, true))))).toBe('malformed');

    // Allowed zeros: aruAddr, and the old ring of an unfilled commit entry.
    expect((decodeOk(encodePacket(tokenMinimal())) as TokenPacket).aruAddr).toBe(0);
    expect((decodeOk(encodePacket(commitOne())) as CommitTokenPacket).members[0]!.oldRingId.rep).toBe(0);
  });

  it('bad order', () => {
    const bytes = encodePacket(mcastPlain());
    for (const value of [2, 3, 0x80, 0xff]) {
      expect(reason(decodePacket(patched(bytes, (v) => v.setUint8(mcastOrderOffset, value)))), `${value}`).toBe(
        'malformed',
      );
    }
    expect(reason(decodePacket(patched(bytes, (v) => v.setUint8(mcastOrderOffset, 0))))).toBe('ok');
  });

  it('reserved flag bits set', () => {
    const cases: [string, Uint8Array, number][] = [
      ['token', encodePacket(tokenMinimal()), 0x0002],
      ['token', encodePacket(tokenFull()), 0x8001],
      ['mcast', encodePacket(mcastPlain()), 0x0002],
      ['mcast', encodePacket(mcastPlain()), 0x0100],
      ['join', encodePacket(joinEmpty()), 0x0001],
      ['commitToken', encodePacket(commitOne()), 0x0001],
      ['mergeDetect', encodePacket({ type: 'mergeDetect', sender: 1, ringId: { rep: 1, seq: 0n } }), 0x0001],
      ['tokenHoldCancel', encodePacket({ type: 'tokenHoldCancel', sender: 1, ringId: { rep: 1, seq: 0n } }), 0x4000],
    ];
    for (const [name, bytes, flags] of cases) {
      expect(reason(decodePacket(patched(bytes, (v) => v.setUint16(2, flags, true)))), `${name} ${flags}`).toBe(
        'malformed',
      );
    }
    const commit = encodePacket(commitOne());
    const memberFlagsAt = commitFixedBytes + commitMemberFlagsOffset;
    expect(reason(decodePacket(patched(commit, (v) => v.setUint8(memberFlagsAt, 0x04))))).toBe('malformed');
    expect(reason(decodePacket(patched(commit, (v) => v.setUint8(memberFlagsAt, 0x03))))).toBe('ok');
  });

  it('membIndex above the member count, or no member at all', () => {
    const commit = encodePacket({ ...commitOne(), membIndex: 1 });
    expect(reason(decodePacket(commit))).toBe('ok');
    expect(reason(decodePacket(patched(commit, (v) => v.setUint16(commitMembIndexOffset, 2, true))))).toBe('malformed');
    const empty = patched(commit.subarray(0, commitFixedBytes), (v) => {
      v.setUint16(commitMembIndexOffset, 0, true);
      v.setUint16(commitMemberCountOffset, 0, true);
    });
    expect(reason(decodePacket(empty))).toBe('malformed');
    expect(() => encodePacket({ ...commitOne(), membIndex: 2 })).toThrow(AssertionError);
    expect(() => encodePacket({ ...commitOne(), members: [] })).toThrow(AssertionError);
  });

  it('mcast payload length disagreeing with the packet length', () => {
    const bytes = encodePacket(mcastPlain(payloadOf(10)));
    expect(reason(decodePacket(patched(bytes, (v) => v.setUint32(mcastPayloadLengthOffset, 11, true))))).toBe('truncated');
    expect(reason(decodePacket(patched(bytes, (v) => v.setUint32(mcastPayloadLengthOffset, 0xffffffff, true))))).toBe(
      'truncated',
    );
    expect(reason(decodePacket(patched(bytes, (v) => v.setUint32(mcastPayloadLengthOffset, 9, true))))).toBe('malformed');
  });
});

describe('encoder assertions', () => {
  it('refuses packets that break the format', () => {
    const bad: [string, () => unknown][] = [
      ['zero sender', () => encodePacket({ ...tokenMinimal(), sender: 0 })],
      ['fractional sender', () => encodePacket({ ...tokenMinimal(), sender: 1.5 })],
      ['zero rep', () => encodePacket({ ...tokenMinimal(), ringId: { rep: 0, seq: 1n } })],
      ['seq above uint32', () => encodePacket({ ...tokenMinimal(), seq: 2 ** 32 })],
      ['negative aru', () => encodePacket({ ...tokenMinimal(), aru: -1 })],
      ['too many rtr', () => encodePacket({ ...tokenFull(), rtr: [...tokenFull().rtr, tokenFull().rtr[0]!] })],
      ['negative ring seq', () => encodePacket({ ...joinEmpty(), ringSeq: -1n })],
      ['ring seq above uint64', () => encodePacket({ ...joinEmpty(), ringSeq: 2n ** 64n })],
      ['set above nodeCountMax', () => encodePacket({ ...joinEmpty(), procSet: ids(nodeCountMax + 1) })],
      ['zero in a set', () => encodePacket({ ...joinEmpty(), failSet: [0, 1] })],
      ['zero originator', () => encodeMcast(1, { rep: 1, seq: 1n }, 0, 0, 'agreed', new Uint8Array(0))],
      ['bad order', () => encodePacket({ ...mcastPlain(), order: 'fast' as never })],
      [
        'payload beyond a packet',
        () => encodeMcast(1, { rep: 1, seq: 1n }, 0, 1, 'agreed', new Uint8Array(packetBytesMax - mcastHeaderBytes + 1)),
      ],
    ];
    for (const [name, encode] of bad) expect(encode, name).toThrow(AssertionError);
  });
});

describe('peekHeader', () => {
  it('reads version, type and sender without decoding', () => {
    expect(peekHeader(encodePacket(tokenFull()))).toEqual({
      version: PROTOCOL_VERSION,
      type: PacketType.token,
      sender: seqMax,
    });
    expect(peekHeader(bytesOf(9, 200, 0xff, 0xff, 1, 2, 0, 0))).toEqual({ version: 9, type: 200, sender: 0x0201 });
    expect(peekHeader(bytesOf(1, 1, 0, 0, 1, 0, 0))).toBeNull();
  });
});

/** xorshift32: a tiny deterministic PRNG so that a failing input can be replayed from the seed. */
function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

describe('fuzz', () => {
  it('never throws on 20k random and bit-flipped inputs; whatever decodes re-encodes to the same bytes', () => {
    const seed = 0x7073e5;
    const next = xorshift32(seed);
    const below = (n: number): number => next() % n;
    const bases = Object.values(samples())
      .map((p) => encodePacket(p))
      .filter((b) => b.length < 4096);
    const counts = { ok: 0, dropped: 0 };
    for (let i = 0; i < 20_000; i++) {
      let input: Uint8Array;
      if (i % 2 === 0) {
        // Random bytes, usually behind a plausible header so the body parsers are reached.
        input = new Uint8Array(below(120));
        for (let j = 0; j < input.length; j++) input[j] = next() & 0xff;
        if (input.length >= 2 && below(4) !== 0) {
          input[0] = PROTOCOL_VERSION;
          input[1] = 1 + below(6);
        }
      } else {
        const base = bases[below(bases.length)]!;
        input = base.slice();
        const flips = 1 + below(4);
        for (let f = 0; f < flips; f++) {
          const bit = below(input.length * 8);
          input[bit >>> 3]! ^= 1 << (bit & 7);
        }
        const cut = below(8);
        if (cut === 0) input = input.subarray(0, below(input.length + 1));
        if (cut === 1) input = withTrailing(input, 1 + below(3));
      }
      let result: DecodeResult;
      try {
        result = decodePacket(input);
      } catch (err) {
        throw new Error(`seed ${seed}, input ${i}: decodePacket threw ${String(err)}`);
      }
      if (result.ok) {
        counts.ok++;
        const again = encodePacket(result.packet);
        if (!sameBytes(again, input)) throw new Error(`seed ${seed}, input ${i}: re-encoding differs`);
      } else {
        counts.dropped++;
      }
    }
    // Both sides must be exercised for the property to mean anything.
    expect(counts.ok).toBeGreaterThan(500);
    expect(counts.dropped).toBeGreaterThan(5000);
  });
});
