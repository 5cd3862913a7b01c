/**
 * Behaviours of one SPSC ring and its doorbell, on one thread: the producer and the consumer are
 * two SpscRing views of the same SharedArrayBuffer, so the interleavings below are exact, not
 * timed.
 * Races across real threads are in spsc-ring-stress.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Doorbell } from '../../workers/ring/doorbell.js';
import {
  headCacheOffset,
  headerBytes,
  headOffset,
  paddingTypeId,
  tailOffset,
} from '../../workers/ring/layout.js';
import { SpscRing } from '../../workers/ring/spsc-ring.js';

interface Seen {
  type: number;
  bytes: number[];
  offset: number;
}

function pair(capacityBytes: number): { producer: SpscRing; consumer: SpscRing } {
  const producer = SpscRing.create(capacityBytes);
  return { producer, consumer: new SpscRing(producer.sab) };
}

function payload(lengthBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(lengthBytes);
  for (let i = 0; i < lengthBytes; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

/** Reads up to countMax records, copying each (the view is only valid inside the handler). */
function readAll(ring: SpscRing, countMax?: number): Seen[] {
  const seen: Seen[] = [];
  ring.read((type, buffer, offset, length) => {
    seen.push({ type, bytes: Array.from(buffer.subarray(offset, offset + length)), offset });
  }, countMax);
  return seen;
}

/** Trailer words as the other thread would see them (positions are Int32, wrapping). */
function trailerWord(ring: SpscRing, offsetBytes: number): number {
  return new Int32Array(ring.sab)[(ring.capacityBytes + offsetBytes) / 4] ?? Number.NaN;
}

describe('SpscRing', () => {
  it('delivers a written record with its type and payload, without copying', () => {
    const { producer, consumer } = pair(1024);
    expect(producer.write(7, payload(13, 1))).toBe(true);
    let views = 0;
    const count = consumer.read((type, buffer, offset, length) => {
      expect(buffer.buffer).toBe(consumer.sab);
      expect(type).toBe(7);
      expect(offset).toBe(headerBytes);
      const bytes = Array.from(buffer.subarray(offset, offset + length));
      expect(bytes).toEqual(Array.from(payload(13, 1)));
      views++;
    });
    expect(count).toBe(1);
    expect(views).toBe(1);
    expect(consumer.usedBytes()).toBe(0);
  });

  it('wraps with a padding record the reader skips', () => {
    const { producer, consumer } = pair(1024);
    // 8 records of 120 aligned bytes take the tail to index 960; read them to free room.
    for (let i = 0; i < 8; i++) expect(producer.write(1, payload(112, i))).toBe(true);
    expect(readAll(consumer)).toHaveLength(8);
    expect(trailerWord(producer, tailOffset)).toBe(960);

    // An aligned 128-byte record does not fit in the 64 bytes left before the end.
    expect(producer.write(2, payload(120, 9))).toBe(true);
    const headers = new Int32Array(producer.sab, 0, producer.capacityBytes / 4);
    expect(headers[960 / 4]).toBe(64);
    expect(headers[960 / 4 + 1]).toBe(paddingTypeId);
    expect(trailerWord(producer, tailOffset)).toBe(1024 + 128);
    expect(consumer.usedBytes()).toBe(64 + 128);

    const seen = readAll(consumer);
    expect(seen).toEqual([{ type: 2, bytes: Array.from(payload(120, 9)), offset: headerBytes }]);
    expect(consumer.usedBytes()).toBe(0);
  });

  it('places a record that fits exactly at the end of the buffer without padding', () => {
    const { producer, consumer } = pair(1024);
    for (let i = 0; i < 8; i++) producer.write(1, payload(112, i));
    readAll(consumer);
    // 64 bytes left before the end: a 56-byte payload plus the header fills them exactly.
    expect(producer.write(3, payload(56, 3))).toBe(true);
    expect(trailerWord(producer, tailOffset)).toBe(1024);
    expect(producer.write(4, payload(8, 4))).toBe(true);

    const seen = readAll(consumer);
    expect(seen.map((r) => [r.type, r.offset])).toEqual([
      [3, 960 + headerBytes],
      [4, headerBytes],
    ]);
    expect(seen[0]?.bytes).toEqual(Array.from(payload(56, 3)));
    expect(consumer.usedBytes()).toBe(0);
  });

  it('rejects a write when full and accepts it after the reader frees space', () => {
    const { producer, consumer } = pair(1024);
    // 8 records of 120 aligned bytes take 960 bytes; the ninth needs 64 of padding plus 120.
    for (let i = 0; i < 8; i++) expect(producer.write(1, payload(112, i))).toBe(true);
    expect(producer.write(1, payload(112, 8))).toBe(false);
    expect(producer.tryClaim(1, 112)).toBeNull();
    expect(producer.canClaim(112)).toBe(false);
    expect(producer.usedBytes()).toBe(960);

    // One record read frees 120 bytes: 184 free, exactly padding plus record.
    expect(readAll(consumer, 1)).toHaveLength(1);
    expect(producer.canClaim(112)).toBe(true);
    expect(producer.write(1, payload(112, 8))).toBe(true);
    const seen = readAll(consumer);
    const firstBytes = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => payload(1, i)[0]);
    expect(seen.map((r) => r.bytes[0])).toEqual(firstBytes);
  });

  it('never shows a claimed, uncommitted record to the reader', () => {
    const { producer, consumer } = pair(1024);
    producer.write(1, payload(8, 1));
    const offset = producer.tryClaim(2, 16);
    expect(offset).not.toBeNull();
    producer.buffer.set(payload(16, 2), offset ?? 0);

    // Reader before the commit: the committed record before the claim, nothing of the claim.
    expect(readAll(consumer).map((r) => r.type)).toEqual([1]);
    expect(consumer.hasReadable()).toBe(false);
    expect(readAll(consumer)).toEqual([]);

    // Reader after the commit: the whole record.
    producer.commit();
    expect(consumer.hasReadable()).toBe(true);
    const whole = { type: 2, bytes: Array.from(payload(16, 2)), offset: offset ?? 0 };
    expect(readAll(consumer)).toEqual([whole]);
  });

  it('skips an aborted claim and reuses its room', () => {
    const { producer, consumer } = pair(256);
    expect(producer.tryClaim(5, 24)).not.toBeNull();
    producer.abort();
    expect(producer.write(6, payload(4, 6))).toBe(true);

    expect(readAll(consumer).map((r) => r.type)).toEqual([6]);
    expect(consumer.usedBytes()).toBe(0);
    expect(() => producer.commit()).toThrow(/without a claim/);
    expect(() => producer.abort()).toThrow(/without a claim/);
  });

  it('refuses a second claim or a write while a claim is open', () => {
    const { producer } = pair(256);
    expect(producer.tryClaim(1, 8)).not.toBeNull();
    expect(() => producer.tryClaim(1, 8)).toThrow(/claim is open/);
    expect(() => producer.write(1, payload(8, 1))).toThrow(/claim is open/);
    producer.commit();
    expect(producer.write(1, payload(8, 1))).toBe(true);
  });

  it('bounds a read by countMax and advances head once per batch', () => {
    const { producer, consumer } = pair(1024);
    for (let i = 0; i < 10; i++) producer.write(1 + i, payload(8, i));
    const usedBefore = producer.usedBytes();
    const usedDuringBatch: number[] = [];
    const types: number[] = [];
    const count = consumer.read((type) => {
      types.push(type);
      usedDuringBatch.push(producer.usedBytes());
    }, 3);

    expect(count).toBe(3);
    expect(types).toEqual([1, 2, 3]);
    // The producer sees no room freed while the batch runs, then all of it at once.
    expect(usedDuringBatch).toEqual([usedBefore, usedBefore, usedBefore]);
    expect(producer.usedBytes()).toBe(usedBefore - 3 * 16);
    expect(readAll(consumer).map((r) => r.type)).toEqual([4, 5, 6, 7, 8, 9, 10]);
  });

  it('consumes the records a throwing handler processed, including the one that threw', () => {
    const { producer, consumer } = pair(1024);
    for (let i = 1; i <= 5; i++) producer.write(i, payload(8, i));
    const types: number[] = [];
    expect(() =>
      consumer.read((type) => {
        types.push(type);
        if (type === 3) throw new Error('handler failed');
      }),
    ).toThrow('handler failed');
    expect(types).toEqual([1, 2, 3]);
    expect(readAll(consumer).map((r) => r.type)).toEqual([4, 5]);
  });

  it('rejects oversize records and bad type ids with a RangeError', () => {
    const { producer, consumer } = pair(1024);
    expect(producer.payloadBytesMax).toBe(128);
    expect(() => producer.write(1, new Uint8Array(129))).toThrow(RangeError);
    expect(() => producer.tryClaim(1, 129)).toThrow(RangeError);
    expect(() => producer.tryClaim(1, -1)).toThrow(RangeError);
    for (const type of [0, paddingTypeId, -7, 1.5, 2 ** 31]) {
      expect(() => producer.write(type, payload(8, 0))).toThrow(RangeError);
    }
    // Nothing was claimed by the rejected calls; the limits themselves are accepted.
    expect(producer.usedBytes()).toBe(0);
    expect(producer.write(2 ** 31 - 1, new Uint8Array(128))).toBe(true);
    expect(producer.write(1, new Uint8Array(0))).toBe(true);
    expect(readAll(consumer).map((r) => [r.type, r.bytes.length])).toEqual([
      [2 ** 31 - 1, 128],
      [1, 0],
    ]);
  });

  it('rejects a capacity that is not a power of two within bounds', () => {
    expect(() => SpscRing.create(1000)).toThrow(RangeError);
    expect(() => SpscRing.create(32)).toThrow(RangeError);
    expect(() => SpscRing.create(2 ** 31)).toThrow(RangeError);
    expect(() => new SpscRing(new SharedArrayBuffer(1024))).toThrow(RangeError);
    expect(SpscRing.create(64).payloadBytesMax).toBe(8);
  });

  it('lets a view attached to the same buffer see the same data and positions', () => {
    const producer = SpscRing.create(4096);
    producer.write(9, payload(40, 9));
    const attached = new SpscRing(producer.sab);
    expect(attached.capacityBytes).toBe(4096);
    expect(attached.usedBytes()).toBe(producer.usedBytes());
    expect(readAll(attached)).toEqual([{ type: 9, bytes: Array.from(payload(40, 9)), offset: 8 }]);
    expect(producer.usedBytes()).toBe(0);
  });

  it('keeps order and free space right when positions wrap past 2^32', () => {
    const { producer, consumer } = pair(256);
    // Start every position 48 bytes before 2^32 (as Int32: -48), i.e. at index 208.
    const words = new Int32Array(producer.sab);
    for (const offset of [tailOffset, headCacheOffset, headOffset]) words[(256 + offset) / 4] = -48;
    const types: number[] = [];
    for (let round = 0; round < 20; round++) {
      expect(producer.write(1 + round, payload(20, round))).toBe(true);
      expect(producer.write(100 + round, payload(28, round))).toBe(true);
      for (const record of readAll(consumer)) types.push(record.type);
      expect(producer.usedBytes()).toBe(0);
    }
    expect(types).toEqual(Array.from({ length: 20 }, (_, r) => [1 + r, 100 + r]).flat());
    expect(trailerWord(producer, tailOffset)).toBeGreaterThan(0);
  });
});

describe('Doorbell', () => {
  it('returns ready without parking when a watched ring already holds a record', () => {
    const { producer, consumer } = pair(256);
    const bell = Doorbell.ofRing(consumer).watch(consumer);
    producer.write(1, payload(8, 1));
    expect(bell.waitSync(10_000)).toBe('ready');
    expect(bell.isSleeping()).toBe(false);
  });

  it('sees a commit that lands between the sleeping flag and the re-check', () => {
    const { producer, consumer } = pair(256);
    const bell = Doorbell.ofRing(consumer);
    let wakeNotified: boolean | undefined;
    const outcome = bell.waitSync(10_000, () => {
      producer.write(1, payload(8, 1));
      // The producer's wake() sees the flag: it notifies, though the re-check will find the record.
      wakeNotified = new Doorbell(producer.sab, bell.byteOffset).wake();
      return consumer.hasReadable();
    });
    expect(outcome).toBe('ready');
    expect(wakeNotified).toBe(true);
  });

  it('does not park when a waker rings between the re-check and the wait', () => {
    const { producer, consumer } = pair(256);
    const bell = Doorbell.ofRing(consumer);
    const outcome = bell.waitSync(10_000, () => {
      const found = consumer.hasReadable();
      producer.write(1, payload(8, 1));
      new Doorbell(producer.sab, bell.byteOffset).wake();
      return found;
    });
    // Without the flip in wake() this would park for the whole timeout and report 'timed-out'.
    expect(outcome).toBe('woken');
    expect(bell.isSleeping()).toBe(false);
    expect(readAll(consumer).map((r) => r.type)).toEqual([1]);
  });

  it('does the same for waitAsync', async () => {
    const { producer, consumer } = pair(256);
    const bell = Doorbell.ofRing(consumer);
    const outcome = await bell.waitAsync(10_000, () => {
      const found = consumer.hasReadable();
      producer.write(1, payload(8, 1));
      new Doorbell(producer.sab, bell.byteOffset).wake();
      return found;
    });
    expect(outcome).toBe('woken');
    expect(await Doorbell.ofRing(consumer).watch(consumer).waitAsync(10_000)).toBe('ready');
  });

  it('does not count an open claim as work, and times out when nobody rings', async () => {
    const { producer, consumer } = pair(256);
    const bell = Doorbell.ofRing(consumer).watch(consumer);
    expect(producer.tryClaim(1, 8)).not.toBeNull();
    expect(bell.waitSync(1)).toBe('timed-out');
    expect(await bell.waitAsync(1)).toBe('timed-out');
    expect(bell.isSleeping()).toBe(false);
    producer.commit();
    expect(bell.waitSync(10_000)).toBe('ready');
  });

  it('does not notify when the waiter is awake', () => {
    const bell = Doorbell.create();
    expect(bell.wake()).toBe(false);
    expect(new Doorbell(bell.sab, bell.byteOffset).isSleeping()).toBe(false);
  });

  it('refuses to wait with nothing to re-check', () => {
    const bell = Doorbell.create();
    expect(() => bell.waitSync(1)).toThrow(/no watched ring/);
    expect(() => new Doorbell(bell.sab, 2)).toThrow(RangeError);
    expect(() => new Doorbell(bell.sab, 128)).toThrow(RangeError);
  });
});
