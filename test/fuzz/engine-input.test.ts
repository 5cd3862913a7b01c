/**
 * A brief run of the engine-input fuzzer (engine-input.ts) in `npm test`: per membership state, a
 * few dozen random packet sequences from a fixed seed. The long run is `npm run fuzz`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket } from '../../engine/wire/codec.js';
import { engineInputProperty, engineState, fuzzStates, packetPick, resolvePacket, scenario } from './engine-input.js';

const runsPerState = Number(process.env['FUZZ_RUNS'] ?? 40);
const seed = Number(process.env['FUZZ_SEED'] ?? 20261204);

describe('engine input fuzzer (brief)', () => {
  for (const state of fuzzStates) {
    it(`an engine in ${state} takes any packets without throwing and within its bounds`, { timeout: 120_000 }, () => {
      // The scenario must reach the state, or the property would pass vacuously.
      expect(scenario(state, true)).not.toBeNull();
      fc.assert(engineInputProperty(state), { numRuns: runsPerState, seed });
    });
  }
});

describe('codec fuzzer (brief)', () => {
  it('whatever the decoder accepts, the encoder takes without an assertion and writes back byte for byte', () => {
    // Valid packets of every type, mutated ones and raw bytes (the engine fuzzer's generator).
    const state = engineState(scenario('fresh', false)!.node(2));
    let accepted = 0;
    fc.assert(
      fc.property(packetPick, (pick) => {
        const input = resolvePacket(state, pick);
        const result = decodePacket(input);
        if (!result.ok) return;
        accepted++;
        expect(encodePacket(result.packet)).toEqual(input);
      }),
      { numRuns: 20 * runsPerState, seed },
    );
    expect(accepted).toBeGreaterThan(10 * runsPerState);
  });
});
