/**
 * The house rules that keep the layers readable, checked on the source text:
 * - layers run one way: engine ← workers ← api. engine/ imports only engine/; workers/ imports
 *   engine/ and workers/; api/ imports engine/, workers/ and api/. perf/ and test/ stand outside:
 *   nothing in the library imports them, with one stated exception (below);
 * - engine/ is a pure state machine: no node:* module or package, and no clock, timer, randomness or process
 *   state of its own (time and packets come in as inputs; the simulator depends on it to replay a
 *   seed byte for byte).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function importsIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'/g)) found.push(m[1] as string);
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) found.push(m[1] as string);
  return found;
}

/** Strip comments so that prose may mention what code may not do. */
function code(file: string): string {
  return readFileSync(join(root, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

type Layer = 'engine' | 'workers' | 'api' | 'perf' | 'test';

/** What each library layer may import, besides itself and packages. */
const allowed: Record<'engine' | 'workers' | 'api', readonly Layer[]> = {
  engine: ['engine'],
  workers: ['engine', 'workers'],
  api: ['engine', 'workers', 'api'],
};

/**
 * The one stated exception: `totem-evs bench` is the command a newcomer runs first, and the bench
 * lives with the other measuring tools in perf/. The CLI loads it with a dynamic import only when
 * that command is asked for, so nothing of perf/ loads with the library.
 */
const exceptions = new Set(['api/cli.ts -> perf/bench.ts']);

/** Every import (file, specifier) that breaks the layering; `files` maps a path to its text. */
export function layerViolations(files: ReadonlyMap<string, string>): string[] {
  const bad: string[] = [];
  for (const [file, text] of files) {
    const layer = file.split('/')[0] as Layer;
    if (layer !== 'engine' && layer !== 'workers' && layer !== 'api') continue;
    for (const spec of importsIn(text)) {
      if (layer === 'engine' && !spec.startsWith('.')) {
        bad.push(`${file} imports ${spec} (engine/ uses no Node module or package)`);
        continue;
      }
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), spec)).replace(/\.js$/, '.ts');
      const targetLayer = target.split('/')[0] as Layer;
      if (allowed[layer].includes(targetLayer) || exceptions.has(`${file} -> ${target}`)) continue;
      bad.push(`${file} imports ${spec} (${layer}/ may import ${allowed[layer].join(', ')})`);
    }
  }
  return bad;
}

function library(): Map<string, string> {
  const files = new Map<string, string>();
  for (const dir of ['engine', 'workers', 'api']) for (const file of sources(dir)) files.set(file, readFileSync(join(root, file), 'utf8'));
  return files;
}

describe('layering', () => {
  const engineFiles = sources('engine');

  it('finds the sources of every layer', () => {
    expect(engineFiles.length).toBeGreaterThan(10);
    expect(sources('workers').length).toBeGreaterThan(10);
    expect(sources('api').length).toBeGreaterThan(5);
  });

  it('engine ← workers ← api: each layer imports only itself and the layers below; nothing imports perf/ or test/', () => {
    expect(layerViolations(library())).toEqual([]);
  });

  it('the rule catches an import that runs up, one into perf/ or test/, and node:* in the engine', () => {
    const broken = new Map([
      ['engine/a.ts', "import { x } from '../workers/b.js';\nimport { y } from 'node:fs';"],
      ['workers/c.ts', "import type { Z } from '../api/node.js';"],
      ['workers/d.ts', "export { W } from '../engine/types.js';"],
      ['api/e.ts', "const m = await import('../test/sim/cli.js');"],
      ['api/f.ts', "import { runBench } from '../perf/bench.js';"],
      ['api/cli.ts', "const { runBench } = await import('../perf/bench.js');"],
    ]);
    expect(layerViolations(broken)).toEqual([
      'engine/a.ts imports ../workers/b.js (engine/ may import engine)',
      'engine/a.ts imports node:fs (engine/ uses no Node module or package)',
      'workers/c.ts imports ../api/node.js (workers/ may import engine, workers)',
      'api/e.ts imports ../test/sim/cli.js (api/ may import engine, workers, api)',
      'api/f.ts imports ../perf/bench.js (api/ may import engine, workers, api)',
    ]);
  });

  it('no source file of engine/, workers/ or api/ is above 600 lines: a room a reader can hold', () => {
    const linesMax = 600;
    const long = [...library()]
      .map(([file, text]) => [file, text.split('\n').length] as const)
      .filter(([, lines]) => lines > linesMax)
      .map(([file, lines]) => `${file}: ${lines} lines`);
    expect(long).toEqual([]);
  });

  it('engine/ reads no clock, timer, randomness or process state of its own', () => {
    const forbidden = /\b(Date\.now|new Date|performance\.|Math\.random|setTimeout|setInterval|setImmediate|queueMicrotask|process\.|crypto\.|require\()/;
    const bad = engineFiles.filter((file) => forbidden.test(code(file))).map((file) => `${file}: ${forbidden.exec(code(file))?.[0]}`);
    expect(bad).toEqual([]);
  });
});
