/**
 * The anatomy stamps in the ring records (workers/anatomy.ts, records.ts): a frame record carries
 * its two stamps beside the frame, a stamped delivery record carries the message's stamps after
 * the payload without changing the payload, an unstamped one carries none, and the main thread's
 * read adds its own stamp.
 */
import { describe, expect, it } from 'vitest';
import type { AppDelivery, DeliveredFrame } from '../../engine/types.js';
import { clockMs, isSampledCounter } from '../../workers/anatomy.js';
import {
  decodeDelivery,
  decodeFrame,
  deliveryRecordBytes,
  deliveryRecordBytesMax,
  encodeDelivery,
  encodeDeliveryHead,
  deliveryStampsBytes,
  encodeFrame,
  frameHeaderBytes,
  frameRecordEngineMs,
  frameRecordFrameMs,
  ringView,
} from '../../workers/records.js';

const name = new TextEncoder().encode('g1');
const groupOf = (b: Uint8Array, s: number, l: number): string => new TextDecoder().decode(b.subarray(s, s + l));

function delivery(counter: number, payload: Uint8Array): AppDelivery {
  return {
    sender: 3, incarnation: 1_700_000_000_123, counter, group: 'g1', order: 'agreed', payload,
    ringId: { rep: 1, seq: 12n }, transitional: false, local: true,
  };
}

describe('anatomy stamps in records', () => {
  it('samples one counter in 64', () => {
    expect([1, 63, 64, 65, 128].map(isSampledCounter)).toEqual([false, false, true, false, true]);
  });

  it('a frame record keeps its frame and engine stamps beside the frame', () => {
    const payload = Uint8Array.from([9, 8, 7, 6, 5]);
    const frame: DeliveredFrame = { ringId: { rep: 2, seq: 5n }, seq: 77, originator: 2, order: 'safe', transitional: true, payload };
    const buffer = new Uint8Array(8 + frameHeaderBytes + payload.length);
    const view = ringView(buffer);
    encodeFrame(view, buffer, 8, frame, 1234.5, 1236.25);
    expect(frameRecordFrameMs(view, 8)).toBe(1234.5);
    expect(frameRecordEngineMs(view, 8)).toBe(1236.25);
    const back = decodeFrame(view, buffer, 8, frameHeaderBytes + payload.length);
    expect({ ...back, payload: [...back.payload] }).toEqual({ ...frame, payload: [...payload] });
  });

  it('a stamped delivery record ends with the stamps; the payload is unchanged; the reader stamps pump', () => {
    const payload = Uint8Array.from({ length: 100 }, (_, i) => i);
    const d = delivery(128, payload);
    const stamps = { takenMs: 10.5, frameMs: 11.25, engineMs: 12, workerMs: 13.75, pumpMs: NaN };
    const length = deliveryRecordBytes(name, payload, true);
    expect(length).toBe(deliveryRecordBytes(name, payload) + 32);
    expect(length).toBeLessThanOrEqual(deliveryRecordBytesMax(payload.length));
    const buffer = new Uint8Array(16 + length);
    const view = ringView(buffer);
    encodeDelivery(view, buffer, 16, d, name, stamps);
    const before = clockMs();
    const back = decodeDelivery(view, buffer, 16, length, groupOf);
    const after = clockMs();
    expect([...back.payload]).toEqual([...payload]);
    expect(back.counter).toBe(128);
    expect(back.stamps?.takenMs).toBe(10.5);
    expect(back.stamps?.frameMs).toBe(11.25);
    expect(back.stamps?.engineMs).toBe(12);
    expect(back.stamps?.workerMs).toBe(13.75);
    expect(back.stamps?.pumpMs).toBeGreaterThanOrEqual(before);
    expect(back.stamps?.pumpMs).toBeLessThanOrEqual(after);
  });

  it('NaN stamps (a stage that does not apply) cross as NaN', () => {
    const payload = new Uint8Array(3);
    const length = deliveryRecordBytes(name, payload, true);
    const buffer = new Uint8Array(length);
    const view = ringView(buffer);
    encodeDelivery(view, buffer, 0, delivery(64, payload), name, { takenMs: NaN, frameMs: NaN, engineMs: 1, workerMs: 2, pumpMs: NaN });
    const back = decodeDelivery(view, buffer, 0, length, groupOf);
    expect(Number.isNaN(back.stamps?.takenMs)).toBe(true);
    expect(Number.isNaN(back.stamps?.frameMs)).toBe(true);
    expect(back.stamps?.workerMs).toBe(2);
  });

  it('an unstamped delivery record has no stamps and all of its bytes after the name are payload', () => {
    const payload = Uint8Array.from({ length: 40 }, (_, i) => 255 - i);
    const length = deliveryRecordBytes(name, payload);
    const buffer = new Uint8Array(length);
    const view = ringView(buffer);
    encodeDelivery(view, buffer, 0, delivery(65, payload), name);
    const back = decodeDelivery(view, buffer, 0, length, groupOf);
    expect(back.stamps).toBeUndefined();
    expect([...back.payload]).toEqual([...payload]);
  });

  it('a stamped record written as segments (head, payload, stamps) reads back as the single record does', () => {
    const payload = Uint8Array.from({ length: 50 }, (_, i) => i * 3);
    const stamps = { takenMs: 1, frameMs: 2, engineMs: 3, workerMs: 4, pumpMs: NaN };
    const d = delivery(192, payload);
    const joined = Uint8Array.from([...encodeDeliveryHead(d, name, true), ...payload, ...deliveryStampsBytes(stamps)]);
    const back = decodeDelivery(ringView(joined), joined, 0, joined.length, groupOf, true);
    expect([...back.payload]).toEqual([...payload]);
    expect(back.stamps?.engineMs).toBe(3);
  });
});
