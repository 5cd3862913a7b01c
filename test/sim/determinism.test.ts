import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TotemNode } from '../../engine/node.js';
import { FakeNode } from './fake-node.js';
import type { FaultMix } from './faults.js';
import { faultMixes } from './faults.js';
import type { SeedOptions } from './run-seed.js';
import { runSeed } from './run-seed.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'totem-sim-determinism-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** Every file of one seed's trace directory, name → content. */
function readTraces(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of fs.readdirSync(dir).sort()) out.set(name, fs.readFileSync(path.join(dir, name), 'utf8'));
  return out;
}

let runCount = 0;
function runToDir(options: Omit<SeedOptions, 'traceDir'>): { dir: string; traces: Map<string, string> } {
  const traceDir = path.join(tmpRoot, String(runCount++));
  const result = runSeed({ ...options, traceDir });
  expect(result.traceDir).toBe(path.join(traceDir, String(options.seed)));
  return { dir: result.traceDir as string, traces: readTraces(result.traceDir as string) };
}

const engineReady = ((): boolean => {
  try {
    new TotemNode({ nodeId: 1 }, { send() {}, storeRingSeq() {}, deliver() {}, configuration() {} });
    return true;
  } catch {
    return false;
  }
})();

describe('simulator determinism (harness, with a fake engine)', () => {
  const fake = { nodeFactory: (config: ConstructorParameters<typeof FakeNode>[0], host: ConstructorParameters<typeof FakeNode>[1]) => new FakeNode(config, host), check: null };

  it.each(faultMixes)('same seed, byte-identical traces (%s)', (faults: FaultMix) => {
    const options = { seed: 11, nodes: 4, faults, safetyMs: 3000, convergenceMsMax: 3000, ...fake };
    const a = runToDir(options);
    const b = runToDir(options);
    expect([...a.traces.keys()]).toEqual([...b.traces.keys()]);
    expect(a.traces).toEqual(b.traces);
    expect(a.traces.has('harness.jsonl')).toBe(true);
    // The fake delivers what its node sends: the harness's load did run.
    expect([...a.traces.values()].join('')).toMatch(/"ev":"deliver"/);
  });

  it('different seeds give different traces', () => {
    const a = runToDir({ seed: 1, nodes: 3, faults: 'mixed', safetyMs: 2000, convergenceMsMax: 2000, ...fake });
    const b = runToDir({ seed: 2, nodes: 3, faults: 'mixed', safetyMs: 2000, convergenceMsMax: 2000, ...fake });
    expect(a.traces).not.toEqual(b.traces);
  });

  it('crash mix: crashes land in harness.jsonl and restarts open new incarnation files', () => {
    const { traces } = runToDir({ seed: 5, nodes: 5, faults: 'crash', safetyMs: 15_000, convergenceMsMax: 3000, ...fake });
    const crashLines = (traces.get('harness.jsonl') ?? '').split('\n').filter((l) => l !== '');
    expect(crashLines.length).toBeGreaterThan(0);
    for (const line of crashLines) expect(line).toMatch(/^\{"ev":"crash","node":"[0-9]+"\}$/);
    const nodeFiles = [...traces.keys()].filter((n) => n !== 'harness.jsonl');
    expect(nodeFiles.length).toBeGreaterThan(5);
    for (const name of nodeFiles) expect(name).toMatch(/^[1-9][0-9]*\.[1-9][0-9]*\.jsonl$/);
    // Ring ids are never reused across restarts: the fake takes its ring seq from the simulated disk.
    const rings = new Map<string, Set<string>>();
    for (const [name, text] of traces) {
      if (name === 'harness.jsonl') continue;
      for (const line of text.split('\n')) {
        if (line === '') continue;
        const parsed = JSON.parse(line) as { ev: string; node: string; ring?: string; kind?: string };
        if (parsed.ev !== 'conf' || parsed.kind !== 'regular') continue;
        const seen = rings.get(parsed.node) ?? new Set<string>();
        expect(seen.has(parsed.ring as string)).toBe(false);
        seen.add(parsed.ring as string);
        rings.set(parsed.node, seen);
      }
    }
  });

  it('a send line precedes the deliveries of its message, with the id the engine assigned; refused submits leave no line', () => {
    // A load far above what the fake accepts: submit() refuses often and the application retries.
    const options = { seed: 3, nodes: 1, faults: 'none' as const, safetyMs: 2000, convergenceMsMax: 3000, workload: { sendIntervalMsMean: 1 }, ...fake };
    expect(runSeed(options).submitsRefused).toBeGreaterThan(0);
    const { traces } = runToDir(options);
    const [name, text] = [...traces].find(([n]) => n !== 'harness.jsonl') as [string, string];
    const [nodeId, incarnation] = name.split('.');
    const lines = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { ev: string; id?: string });
    const sent = new Set<string>();
    let counter = 0;
    for (const line of lines) {
      if (line.ev === 'send') {
        counter++;
        expect(line.id).toBe(`${nodeId}:${incarnation}:${counter}`);
        sent.add(line.id as string);
      }
      if (line.ev === 'deliver') expect(sent.has(line.id as string)).toBe(true);
    }
    expect(counter).toBeGreaterThan(10);
  });
});

describe.runIf(engineReady)('simulator determinism (TotemNode)', () => {
  it('same seed, byte-identical traces; another seed, other traces', () => {
    const options = { seed: 21, nodes: 4, faults: 'mixed' as const, safetyMs: 3000, convergenceMsMax: 20_000 };
    const a = runToDir(options);
    const b = runToDir(options);
    const c = runToDir({ ...options, seed: 22 });
    expect(a.traces).toEqual(b.traces);
    expect(a.traces).not.toEqual(c.traces);
  });
});
