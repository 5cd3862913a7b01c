/**
 * A brief run of the engine-input fuzzer (engine-input.ts) in `npm test`: per membership state, a
 * few dozen random packet sequences from a fixed seed. The long run is `npm run fuzz`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { engineInputProperty, fuzzStates, scenario } from './engine-input.js';

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
