/**
 * The long run of the engine-input fuzzer: `npm run fuzz`.
 *
 *   FUZZ_SECONDS=600 npm run fuzz      # rounds over every state until the time is up (default 60)
 *   FUZZ_RUNS=5000 npm run fuzz        # this many runs per state per round, one round (default 500 per round)
 *   FUZZ_SEED=42 npm run fuzz          # the first round's seed (default: from the clock); printed
 *
 * Each round runs every state once with its own seed (FUZZ_SEED + round). A failure prints the
 * counterexample, its seed and path (fast-check replays it with `{ seed, path }`), and exits 1.
 */
import fc from 'fast-check';
import { engineInputProperty, fuzzStates } from './engine-input.js';

function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`fuzz: ${name} must be a non-negative integer, got "${text}"\n`);
    process.exit(2);
  }
  return value;
}

const runsGiven = envNumber('FUZZ_RUNS');
const secondsMax = envNumber('FUZZ_SECONDS') ?? (runsGiven === undefined ? 60 : Infinity);
const runsPerRound = runsGiven ?? 500;
const seedStart = envNumber('FUZZ_SEED') ?? Date.now() % 0x7fffffff;
const startedMs = performance.now();
let runs = 0;

process.stdout.write(`fuzz: seed ${seedStart}, ${runsPerRound} runs per state per round, ${Number.isFinite(secondsMax) ? `${secondsMax} s` : 'one round'}\n`);
for (let round = 0; ; round++) {
  for (const state of fuzzStates) {
    const seed = seedStart + round;
    const result = fc.check(engineInputProperty(state), { numRuns: runsPerRound, seed });
    runs += result.numRuns;
    if (result.failed) {
      process.stdout.write(`${fc.defaultReportMessage(result) ?? 'failed'}\n`);
      const error = result.errorInstance;
      process.stdout.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.stdout.write(`fuzz: FAILED in state ${state}; replay with FUZZ_SEED=${seed} (path ${result.counterexamplePath ?? '?'})\n`);
      process.exit(1);
    }
  }
  const elapsedS = (performance.now() - startedMs) / 1000;
  process.stdout.write(`fuzz: round ${round + 1} passed, ${runs} runs in ${elapsedS.toFixed(1)} s\n`);
  if (runsGiven !== undefined && !Number.isFinite(secondsMax)) break;
  if (elapsedS >= secondsMax) break;
}
process.stdout.write(`fuzz: ${runs} runs passed in ${((performance.now() - startedMs) / 1000).toFixed(1)} s\n`);
