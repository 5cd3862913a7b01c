/**
 * The deliveryBufferBytesMax option: its default (sized in workers/runtime-sizing.ts), its range,
 * and the rule that it holds at least one largest message.
 */
import { describe, expect, it } from 'vitest';
import { resolveNodeOptions } from '../../api/options.js';
import type { NodeOptions } from '../../api/options.js';
import { deliveryBufferBytesDefault } from '../../workers/runtime-sizing.js';

const base: NodeOptions = {
  nodeId: 1,
  bind: '127.0.0.1:5405',
  members: [{ nodeId: 1, address: '127.0.0.1:5405' }],
};

function refusal(extra: Partial<NodeOptions>): { code?: string; details?: { option?: string }; message?: string } {
  try {
    resolveNodeOptions({ ...base, ...extra });
  } catch (err) {
    return err as { code?: string; details?: { option?: string }; message?: string };
  }
  throw new Error('accepted');
}

describe('deliveryBufferBytesMax', () => {
  it('defaults to 128 MiB (above the largest messageBytesMax allowed, 64 MiB)', () => {
    expect(deliveryBufferBytesDefault).toBe(128 * 1024 * 1024);
    expect(resolveNodeOptions(base).deliveryBufferBytesMax).toBe(deliveryBufferBytesDefault);
    expect(resolveNodeOptions({ ...base, messageBytesMax: 64 * 1024 * 1024 }).deliveryBufferBytesMax).toBe(deliveryBufferBytesDefault);
  });

  it('takes a whole number of bytes of at least messageBytesMax', () => {
    expect(resolveNodeOptions({ ...base, deliveryBufferBytesMax: 1 << 20 }).deliveryBufferBytesMax).toBe(1 << 20);
    for (const bad of [0, -1, 1.5, Number.NaN, '1000' as unknown as number]) {
      const err = refusal({ deliveryBufferBytesMax: bad });
      expect(err.code).toBe('TOTEM_ERR_INVALID_OPTION');
      expect(err.details?.option).toBe('deliveryBufferBytesMax');
    }
    const err = refusal({ deliveryBufferBytesMax: 1000, messageBytesMax: 4096 });
    expect(err.code).toBe('TOTEM_ERR_INVALID_OPTION');
    expect(err.message).toMatch(/at least messageBytesMax 4096/);
  });

  it('a misspelling is refused with the name meant', () => {
    const err = refusal({ deliveryBufferByteMax: 1 } as unknown as Partial<NodeOptions>);
    expect(err.code).toBe('TOTEM_ERR_INVALID_OPTION');
    expect(err.message).toMatch(/deliveryBufferBytesMax/);
  });
});
