import { describe, expect, it } from 'vitest';
import { Assembler } from '../../../engine/groups/assembler.js';
import {
  EntryKind,
  FrameReader,
  firstOverheadBytes,
  frameHeaderBytes,
  wholeOverheadBytes,
} from '../../../engine/groups/frame-format.js';
import { GroupNameDecoder } from '../../../engine/groups/group-names.js';
import { Packer, fragmentBytesMin } from '../../../engine/groups/packer.js';
import type { PackerOptions } from '../../../engine/groups/packer.js';
import type { AppDelivery, ConfigurationChange, Order, RingId } from '../../../engine/types.js';

const payloadBytesMax = 1400;
const group = 'bench';
const nameBytes = 5;

function packer(over: Partial<PackerOptions> = {}): Packer {
  return new Packer({
    nodeId: 1,
    incarnation: 1_732_312_331_000,
    payloadBytesMax,
    messageBytesMax: 2 * 1024 * 1024,
    sendQueueBytesMax: 8 * 1024 * 1024,
    ...over,
  });
}

function drain(p: Packer): { order: Order; payload: Uint8Array }[] {
  const frames = [];
  for (let f = p.nextFrame(); f !== null; f = p.nextFrame()) frames.push(f);
  return frames;
}

function decode(payload: Uint8Array): FrameReader {
  const r = new FrameReader(new GroupNameDecoder(), 64 * 1024 * 1024);
  expect(r.read(payload)).toBeNull();
  return r;
}

function bytesOf(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Content equality without a deep-equality walk over a megabyte. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const ring1: RingId = { rep: 1, seq: 4n };
const ring2: RingId = { rep: 1, seq: 8n };

function regular(ringId: RingId, members: number[]): ConfigurationChange {
  return { kind: 'regular', ringId, members, joined: [], left: [], cause: 'start', causeNodes: [] };
}

function transitional(ringId: RingId, members: number[]): ConfigurationChange {
  return { kind: 'transitional', ringId, members, joined: [], left: [], cause: 'join', causeNodes: [] };
}

/** An assembler of node 2 in ring1 {1, 2}, recording what it delivers. */
function receiver(): { a: Assembler; delivered: AppDelivery[] } {
  const delivered: AppDelivery[] = [];
  const a = new Assembler(
    { nodeId: 2, messageBytesMax: 2 * 1024 * 1024 },
    { deliver: (d) => delivered.push(d), groupEvent: () => {}, configuration: () => {} },
  );
  a.onConfiguration(regular(ring1, [1, 2]));
  return { a, delivered };
}

function feed(a: Assembler, frames: { order: Order; payload: Uint8Array }[], ringId: RingId): void {
  let seq = 0;
  for (const f of frames) {
    a.onFrame({ ringId, seq: ++seq, originator: 1, transitional: false, ...f });
  }
}

describe('Packer: submit', () => {
  it('numbers messages 1, 2, 3, … and a refused submit consumes no counter', () => {
    const p = packer({ sendQueueBytesMax: 300, messageBytesMax: 200 });
    expect(p.submit(group, new Uint8Array(64), 'agreed')).toBe(1);
    expect(p.submit(group, new Uint8Array(64), 'safe')).toBe(2);
    expect(p.submit(group, new Uint8Array(64), 'agreed')).toBe(3);
    expect(p.submit(group, new Uint8Array(64), 'agreed')).toBe(false);
    drain(p);
    expect(p.submit(group, new Uint8Array(64), 'agreed')).toBe(4);
    p.submitJoin(group);
    p.announceGroups([group]);
    expect(p.submit(group, new Uint8Array(0), 'agreed')).toBe(5);
  });

  it('throws RangeError on misuse: oversize payload, empty, too long or ill-formed group name', () => {
    const p = packer({ messageBytesMax: 1000 });
    expect(() => p.submit(group, new Uint8Array(1001), 'agreed')).toThrow(RangeError);
    expect(p.submit(group, new Uint8Array(1000), 'agreed')).toBe(1);
    expect(() => p.submit('', new Uint8Array(1), 'agreed')).toThrow(RangeError);
    expect(() => p.submit('x'.repeat(256), new Uint8Array(1), 'agreed')).toThrow(RangeError);
    expect(p.submit('x'.repeat(255), new Uint8Array(1), 'agreed')).toBe(2);
    expect(() => p.submit('é'.repeat(128), new Uint8Array(1), 'agreed')).toThrow(RangeError);
    expect(p.submit('é'.repeat(127), new Uint8Array(1), 'agreed')).toBe(3);
    expect(() => p.submit('a\uD800', new Uint8Array(1), 'agreed')).toThrow(RangeError);
    expect(() => p.submitJoin('')).toThrow(RangeError);
    expect(() => p.submitLeave('y'.repeat(300))).toThrow(RangeError);
    expect(() => p.announceGroups(['ok', ''])).toThrow(RangeError);
  });

  it('rejects options outside their bounds', () => {
    expect(() => packer({ payloadBytesMax: 100 })).toThrow(RangeError);
    expect(() => packer({ payloadBytesMax: 70_000 })).toThrow(RangeError);
    expect(() => packer({ sendQueueBytesMax: 10, messageBytesMax: 100 })).toThrow(RangeError);
    expect(() => packer({ incarnation: 0 })).toThrow(RangeError);
  });

  it('returns false past sendQueueBytesMax and accepts again once frames are taken', () => {
    const p = packer({ sendQueueBytesMax: 10_000, messageBytesMax: 5000 });
    const entryBytes = wholeOverheadBytes + nameBytes + 64;
    let accepted = 0;
    while (p.submit(group, new Uint8Array(64), 'agreed') !== false) accepted++;
    expect(accepted).toBe(Math.floor(10_000 / entryBytes));
    expect(p.submit(group, new Uint8Array(64), 'agreed')).toBe(false);
    expect(p.nextFrame()).not.toBeNull();
    expect(p.submit(group, new Uint8Array(64), 'agreed')).toBe(accepted + 1);
    drain(p);
    expect(p.backlogFrames()).toBe(0);
    // An empty queue takes one message of messageBytesMax even when the bound is that size.
    const tight = packer({ sendQueueBytesMax: 5000, messageBytesMax: 5000 });
    expect(tight.submit(group, new Uint8Array(5000), 'agreed')).toBe(1);
    expect(tight.submit(group, new Uint8Array(1), 'agreed')).toBe(false);
  });
});

describe('Packer: packing', () => {
  it('packs 64-byte messages into frames up to payloadBytesMax', () => {
    const p = packer();
    for (let i = 0; i < 100; i++) p.submit(group, bytesOf(64, i + 1), 'agreed');
    const entryBytes = wholeOverheadBytes + nameBytes + 64;
    const perFrame = Math.floor((payloadBytesMax - frameHeaderBytes) / entryBytes);
    expect(p.backlogFrames()).toBe(Math.ceil((100 * entryBytes) / (payloadBytesMax - frameHeaderBytes)));
    const frames = drain(p);
    expect(frames.length).toBe(Math.ceil(100 / perFrame));
    let counter = 0;
    for (const [i, f] of frames.entries()) {
      const r = decode(f.payload);
      const expected = i < frames.length - 1 ? perFrame : 100 - perFrame * (frames.length - 1);
      expect(r.count).toBe(expected);
      expect(f.payload.length).toBe(frameHeaderBytes + expected * entryBytes);
      if (i < frames.length - 1) expect(f.payload.length + entryBytes).toBeGreaterThan(payloadBytesMax);
      for (let e = 0; e < r.count; e++) {
        expect(r.kinds[e]).toBe(EntryKind.whole);
        expect(r.counters[e]).toBe(++counter);
        expect(r.groups[e]).toBe(group);
      }
    }
    expect(p.nextFrame()).toBeNull();
    expect(p.backlogFrames()).toBe(0);
  });

  it('starts a new frame at every order change; control entries travel as agreed', () => {
    const p = packer();
    const order: Order[] = ['agreed', 'agreed', 'safe', 'safe', 'agreed', 'safe'];
    for (const g of order) p.submit(group, new Uint8Array(10), g);
    p.submitJoin(group);
    p.submit(group, new Uint8Array(10), 'safe');
    const frames = drain(p);
    expect(frames.map((f) => f.order)).toEqual(['agreed', 'safe', 'agreed', 'safe', 'agreed', 'safe']);
    expect(frames.map((f) => decode(f.payload).count)).toEqual([2, 2, 1, 1, 1, 1]);
    expect(decode((frames[4] as { payload: Uint8Array }).payload).kinds[0]).toBe(EntryKind.join);
  });

  it('sends a message that exactly fills the rest of a partly filled frame whole', () => {
    const p = packer();
    p.submit(group, new Uint8Array(64), 'agreed');
    const used = frameHeaderBytes + wholeOverheadBytes + nameBytes + 64;
    const exact = payloadBytesMax - used - wholeOverheadBytes - nameBytes;
    p.submit(group, bytesOf(exact, 7), 'agreed');
    const frames = drain(p);
    expect(frames.length).toBe(1);
    expect((frames[0] as { payload: Uint8Array }).payload.length).toBe(payloadBytesMax);
    expect(decode((frames[0] as { payload: Uint8Array }).payload).kinds).toEqual([EntryKind.whole, EntryKind.whole]);
  });

  it('fragments into the rest of a frame only when fragmentBytesMin fits there', () => {
    const p = packer();
    p.submit(group, new Uint8Array(64), 'agreed');
    const used = frameHeaderBytes + wholeOverheadBytes + nameBytes + 64;
    p.submit(group, bytesOf(payloadBytesMax - used - wholeOverheadBytes - nameBytes + 1, 7), 'agreed');
    const frames = drain(p);
    expect(frames.length).toBe(2);
    const r0 = decode((frames[0] as { payload: Uint8Array }).payload);
    expect(r0.kinds.slice(0, r0.count)).toEqual([EntryKind.whole, EntryKind.first]);
    expect((frames[0] as { payload: Uint8Array }).payload.length).toBe(payloadBytesMax);

    // Leave less than fragmentBytesMin of room: the next message goes whole into a new frame.
    const q = packer();
    const fill = payloadBytesMax - frameHeaderBytes - wholeOverheadBytes - nameBytes;
    const small = fill - (firstOverheadBytes + nameBytes + fragmentBytesMin - 1);
    q.submit(group, new Uint8Array(small), 'agreed');
    q.submit(group, new Uint8Array(1000), 'agreed');
    const g = drain(q).map((f) => decode(f.payload));
    expect(g.map((r) => r.kinds.slice(0, r.count))).toEqual([[EntryKind.whole], [EntryKind.whole]]);

    // One byte more of room: the first fragment takes exactly fragmentBytesMin bytes.
    const r = packer();
    r.submit(group, new Uint8Array(small - 1), 'agreed');
    r.submit(group, new Uint8Array(1000), 'agreed');
    const h = drain(r).map((f) => decode(f.payload));
    expect(h.map((x) => x.kinds.slice(0, x.count))).toEqual([[EntryKind.whole, EntryKind.first], [EntryKind.last]]);
    expect(h[0]?.lengths[1]).toBe(fragmentBytesMin);
  });

  it('keeps frames of small messages below the budget with announce and control entries', () => {
    const p = packer();
    const names = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(3, '0')}${'g'.repeat(200)}`);
    p.announceGroups(names);
    p.submitLeave('x');
    const frames = drain(p);
    const listed: string[] = [];
    for (const f of frames) {
      expect(f.payload.length).toBeLessThanOrEqual(payloadBytesMax);
      expect(f.order).toBe('agreed');
      const r = decode(f.payload);
      for (let e = 0; e < r.count; e++) {
        if (r.kinds[e] !== EntryKind.announce) continue;
        const s = r.starts[e] as number;
        listed.push(...r.announced.slice(s, s + (r.lengths[e] as number)));
      }
    }
    expect(listed).toEqual(names);
    expect(frames.length).toBeGreaterThan(1);
  });

  it('tracks the groups this node asked for', () => {
    const p = packer();
    p.submitJoin('b');
    p.submitJoin('a');
    p.submitLeave('b');
    expect(p.ownGroups()).toEqual(['a']);
  });
});

describe('Packer → Assembler: fragmentation', () => {
  const whole = payloadBytesMax - frameHeaderBytes - wholeOverheadBytes - nameBytes;
  const sizes = [0, 1, 64, whole - 1, whole, whole + 1, payloadBytesMax - 1, payloadBytesMax,
    payloadBytesMax + 1, 2 * payloadBytesMax, 10_000, 1024 * 1024];

  it.each(sizes)('delivers a %i-byte message whole, between small ones, content intact', (size) => {
    const p = packer();
    const messages = [bytesOf(64, 1), bytesOf(size, size + 2), bytesOf(64, 3)];
    for (const m of messages) p.submit(group, m, 'safe');
    const frames = drain(p);
    for (const f of frames) {
      expect(f.payload.length).toBeLessThanOrEqual(payloadBytesMax);
      expect(f.order).toBe('safe');
    }
    // Every frame but the first carries at most one fragment header besides its own header.
    const perFrame = payloadBytesMax - frameHeaderBytes - wholeOverheadBytes - nameBytes;
    const minFrames = Math.ceil((size + 2 * 64) / perFrame);
    expect(frames.length).toBeGreaterThanOrEqual(minFrames);
    expect(frames.length).toBeLessThanOrEqual(minFrames + 2);
    const { a, delivered } = receiver();
    feed(a, frames, ring1);
    expect(delivered.map((d) => d.counter)).toEqual([1, 2, 3]);
    for (const [i, d] of delivered.entries()) {
      expect(equalBytes(d.payload, messages[i] as Uint8Array)).toBe(true);
      expect(d.sender).toBe(1);
      expect(d.incarnation).toBe(1_732_312_331_000);
      expect(d.order).toBe('safe');
      expect(d.group).toBe(group);
    }
    expect(a.stats.fragmentErrors).toBe(0);
    expect(a.stats.malformedFrames).toBe(0);
  });

  it('restarts a partly emitted message on a new ring; receivers get it once, whole', () => {
    const p = packer();
    const big = bytesOf(5000, 99);
    p.submit(group, bytesOf(64, 1), 'agreed');
    p.submit(group, big, 'agreed');
    p.submit(group, bytesOf(64, 3), 'agreed');
    const before = [p.nextFrame(), p.nextFrame()].filter((f) => f !== null);
    expect(before.length).toBe(2);
    const backlog = p.backlogFrames();
    p.onRegularConfiguration(ring2);
    expect(p.backlogFrames()).toBeGreaterThanOrEqual(backlog);
    const after = drain(p);
    const kinds = after.map((f) => decode(f.payload).kinds[0]);
    expect(kinds[0]).toBe(EntryKind.first);

    const { a, delivered } = receiver();
    feed(a, before, ring1);
    expect(delivered.map((d) => d.counter)).toEqual([1]);
    a.onConfiguration(transitional(ring2, [1, 2]));
    a.onConfiguration(regular(ring2, [1, 2]));
    feed(a, after, ring2);
    expect(delivered.map((d) => d.counter)).toEqual([1, 2, 3]);
    expect(equalBytes(delivered[1]?.payload ?? new Uint8Array(0), big)).toBe(true);
    expect(delivered[1]?.ringId).toEqual(ring2);
    expect(a.stats.partialsDropped).toBe(1);
    expect(a.stats.fragmentErrors).toBe(0);
  });

  it('does not restart a message whose last fragment was already emitted', () => {
    const p = packer();
    p.submit(group, bytesOf(3000, 5), 'agreed');
    const frames = drain(p);
    p.onRegularConfiguration(ring2);
    expect(p.nextFrame()).toBeNull();
    const { a, delivered } = receiver();
    feed(a, frames, ring1);
    expect(delivered.length).toBe(1);
  });
});
