import { describe, expect, it } from 'vitest';
import { Assembler } from '../../../engine/groups/assembler.js';
import { EntryKind, FrameReader, frameHeaderBytes } from '../../../engine/groups/frame-format.js';
import type { FrameError } from '../../../engine/groups/frame-format.js';
import { GroupNameDecoder } from '../../../engine/groups/group-names.js';
import { Packer } from '../../../engine/groups/packer.js';
import type { DeliveredFrame, Order, RingId } from '../../../engine/types.js';

const ring: RingId = { rep: 1, seq: 4n };
const messageBytesMax = 4096;

function packer(): Packer {
  return new Packer({
    nodeId: 1,
    incarnation: 2 ** 40 + 5,
    payloadBytesMax: 600,
    messageBytesMax,
    sendQueueBytesMax: 1 << 20,
  });
}

function frames(p: Packer): { order: Order; payload: Uint8Array }[] {
  const out = [];
  for (let f = p.nextFrame(); f !== null; f = p.nextFrame()) out.push(f);
  return out;
}

/** One frame of every entry kind: join, whole, announce, leave, then a first fragment. */
function mixedFrames(): { order: Order; payload: Uint8Array }[] {
  const p = packer();
  p.submitJoin('grp');
  p.submit('grp', new Uint8Array([1, 2, 3]), 'agreed');
  p.announceGroups(['a', 'grp', 'ü']);
  p.submitLeave('grp');
  p.submit('grp', new Uint8Array(1500).fill(5), 'agreed');
  const out = frames(p);
  expect(out.length).toBe(3);
  return out;
}

function assembler(): { a: Assembler; calls: () => number } {
  let n = 0;
  const a = new Assembler(
    { nodeId: 2, messageBytesMax },
    { deliver: () => n++, groupEvent: () => n++, configuration: () => {} },
  );
  a.onConfiguration({ kind: 'regular', ringId: ring, members: [1, 2], joined: [], left: [], cause: 'start', causeNodes: [] });
  return { a, calls: () => n };
}

function frame(payload: Uint8Array): DeliveredFrame {
  return { ringId: ring, seq: 1, originator: 1, order: 'agreed', payload, transitional: false };
}

function readError(payload: Uint8Array): FrameError | null {
  return new FrameReader(new GroupNameDecoder(), messageBytesMax).read(payload);
}

/** A copy of `payload` with `edit` applied. */
function edited(payload: Uint8Array, edit: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = payload.slice();
  edit(b, new DataView(b.buffer));
  return b;
}

describe('frame format: round trip', () => {
  it('decodes every entry kind with its fields', () => {
    const [f0, f1, f2] = mixedFrames();
    const r = new FrameReader(new GroupNameDecoder(), messageBytesMax);
    expect(r.read((f0 as { payload: Uint8Array }).payload)).toBeNull();
    expect(r.incarnation).toBe(2 ** 40 + 5);
    expect(r.kinds.slice(0, r.count)).toEqual([
      EntryKind.join,
      EntryKind.whole,
      EntryKind.announce,
      EntryKind.announce,
      EntryKind.leave,
      EntryKind.first,
    ]);
    expect(r.counters.slice(1, 2)).toEqual([1]);
    expect(r.announced).toEqual(['a', 'grp', 'ü']);
    // The announce lists three names; the empty one after it ends the announce.
    expect(r.lengths.slice(2, 4)).toEqual([3, 0]);
    expect(r.totals[5]).toBe(1500);
    expect(r.read((f1 as { payload: Uint8Array }).payload)).toBeNull();
    expect(r.kinds[0]).toBe(EntryKind.middle);
    expect(r.read((f2 as { payload: Uint8Array }).payload)).toBeNull();
    expect(r.kinds[0]).toBe(EntryKind.last);
    expect(r.counters[0]).toBe(2);
  });
});

describe('frame format: malformed payloads are counted, never thrown', () => {
  it('refuses every truncation of every frame', () => {
    const { a, calls } = assembler();
    let expected = 0;
    for (const f of mixedFrames()) {
      for (let length = 0; length < f.payload.length; length++) {
        expect(() => a.onFrame(frame(f.payload.slice(0, length)))).not.toThrow();
        expected++;
        expect(a.stats.malformedFrames).toBe(expected);
      }
    }
    expect(calls()).toBe(0);
    expect(a.stats.malformedReasons.truncated).toBeGreaterThan(0);
  });

  // Offsets in the first mixed frame: header 10; join 'grp' at 10..15; whole at 15.
  const join = frameHeaderBytes;
  const whole = join + 5;
  const wholeCounter = whole + 5;
  const wholeLength = wholeCounter + 8;
  const cases: [string, (b: Uint8Array, v: DataView) => void, FrameError][] = [
    ['kind 0', (b) => (b[join] = 0), 'bad-kind'],
    ['kind 8', (b) => (b[join] = 8), 'bad-kind'],
    ['kind 255', (b) => (b[whole] = 255), 'bad-kind'],
    ['no entries', (_b, v) => v.setUint16(8, 0), 'no-entries'],
    ['one entry too many', (_b, v) => v.setUint16(8, (v.getUint16(8) + 1) & 0xffff), 'truncated'],
    ['one entry too few', (_b, v) => v.setUint16(8, v.getUint16(8) - 1), 'trailing-bytes'],
    ['incarnation 0', (_b, v) => v.setBigUint64(0, 0n), 'bad-incarnation'],
    ['incarnation above 2^53', (_b, v) => v.setUint32(0, 0x20_0000), 'bad-incarnation'],
    ['empty group name', (b) => (b[join + 1] = 0), 'bad-name'],
    ['invalid UTF-8 name', (b) => (b[join + 2] = 0xff), 'bad-name'],
    ['counter 0', (_b, v) => v.setBigUint64(wholeCounter, 0n), 'bad-counter'],
    ['counter above 2^53', (_b, v) => v.setUint32(wholeCounter, 0xffff_ffff), 'bad-counter'],
    ['whole length past the end', (_b, v) => v.setUint32(wholeLength, messageBytesMax), 'truncated'],
    ['whole length one byte long', (_b, v) => v.setUint32(wholeLength, 4), 'bad-kind'],
    ['whole length above messageBytesMax', (_b, v) => v.setUint32(wholeLength, messageBytesMax + 1), 'bad-length'],
    ['whole length 2^32 - 1', (_b, v) => v.setUint32(wholeLength, 0xffff_ffff), 'bad-length'],
  ];

  it.each(cases)('%s', (_name, edit, reason) => {
    const [f0] = mixedFrames();
    const bad = edited((f0 as { payload: Uint8Array }).payload, edit);
    expect(readError(bad)).toBe(reason);
    const { a, calls } = assembler();
    a.onFrame(frame(bad));
    expect(a.stats.malformedFrames).toBe(1);
    expect(a.stats.malformedReasons[reason]).toBe(1);
    expect(calls()).toBe(0);
  });

  it('checks fragment and announce lengths', () => {
    const p = packer();
    p.submit('g', new Uint8Array(1200), 'agreed');
    const [first, middle] = frames(p);
    // first: header 10, kind, len, 'g', counter 8 → total at 21, fragment length at 25.
    const f = (first as { payload: Uint8Array }).payload;
    expect(readError(edited(f, (_b, v) => v.setUint32(25, 1200)))).toBe('bad-length');
    expect(readError(edited(f, (_b, v) => v.setUint32(25, 0)))).toBe('bad-length');
    expect(readError(edited(f, (_b, v) => v.setUint32(21, messageBytesMax + 1)))).toBe('bad-length');
    expect(readError(edited(f, (_b, v) => v.setUint32(25, 2000)))).toBe('bad-length');
    expect(readError(edited(f, (_b, v) => v.setUint32(21, 5000)))).toBe('bad-length');
    const m = (middle as { payload: Uint8Array }).payload;
    expect(readError(edited(m, (_b, v) => v.setUint32(21, 0)))).toBe('bad-length');
    expect(readError(edited(m, (_b, v) => v.setUint32(21, 1)))).toBe('trailing-bytes');
    expect(readError(new Uint8Array([...m, 0]))).toBe('trailing-bytes');

    const j = packer();
    j.submitJoin('g');
    const [joinFrame] = frames(j);
    const jf = (joinFrame as { payload: Uint8Array }).payload;
    expect(readError(edited(jf, (b) => (b[11] = 2)))).toBe('truncated');
    expect(readError(edited(jf, (b) => (b[11] = 255)))).toBe('truncated');

    const q = packer();
    q.announceGroups(['abc']);
    const [ann] = frames(q);
    const an = (ann as { payload: Uint8Array }).payload;
    expect(readError(an)).toBeNull();
    // With no name, the announce's name bytes read as the next entry: not a valid one.
    expect(readError(edited(an, (_b, v) => v.setUint16(11, 0)))).toBe('truncated');
    expect(readError(edited(an, (_b, v) => v.setUint16(11, 2)))).toBe('truncated');
    expect(readError(edited(an, (b) => (b[13] = 0)))).toBe('bad-name');
  });

  it('survives random corruption of valid frames (seeded), skipping or applying each whole', () => {
    const { a } = assembler();
    const valid = mixedFrames();
    let x = 0x9e3779b9;
    const next = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    for (let round = 0; round < 20_000; round++) {
      const f = valid[next() % valid.length] as { payload: Uint8Array };
      const bad = f.payload.slice();
      const flips = 1 + (next() % 3);
      for (let i = 0; i < flips; i++) bad[next() % bad.length] = next() & 0xff;
      expect(() => a.onFrame(frame(bad))).not.toThrow();
    }
    expect(a.stats.malformedFrames).toBeGreaterThan(0);
    // The assembler still works afterwards.
    const p = packer();
    p.submit('grp', new Uint8Array([42]), 'agreed');
    let got: Uint8Array | null = null;
    const b = new Assembler(
      { nodeId: 2, messageBytesMax },
      { deliver: (d) => (got = d.payload), groupEvent: () => {}, configuration: () => {} },
    );
    b.onConfiguration({ kind: 'regular', ringId: ring, members: [1, 2], joined: [], left: [], cause: 'start', causeNodes: [] });
    for (const f of frames(p)) b.onFrame(frame(f.payload));
    expect(got).toEqual(new Uint8Array([42]));
  });
});
