import { describe, expect, it } from 'vitest';
import { resolveEngineConfig } from '../../engine/config.js';

describe('engine configuration: the silence in Gather', () => {
  it('defaults to a commit-token retransmission plus three join periods, at least four join periods', () => {
    expect(resolveEngineConfig({ nodeId: 1 }).gatherSilenceMs).toBe(238 + 150);
    expect(resolveEngineConfig({ nodeId: 1, tokenTimeoutMs: 300 }).gatherSilenceMs).toBe(71 + 150);
    expect(resolveEngineConfig({ nodeId: 1, tokenTimeoutMs: 2000 }).gatherSilenceMs).toBe(476 + 150);
    expect(resolveEngineConfig({ nodeId: 1, tokenRetransmitMs: 20 }).gatherSilenceMs).toBe(200);
    expect(resolveEngineConfig({ nodeId: 1, joinTimeoutMs: 100 }).gatherSilenceMs).toBe(238 + 300);
    expect(resolveEngineConfig({ nodeId: 1, gatherSilenceMs: 600 }).gatherSilenceMs).toBe(600);
  });

  it('is a timer of at least 1 ms', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => resolveEngineConfig({ nodeId: 1, gatherSilenceMs: bad })).toThrow(/gatherSilenceMs/);
    }
  });
});
