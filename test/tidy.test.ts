/**
 * The layering rules that keep the protocol testable, checked on the source text:
 * - engine/ is a pure state machine: it imports nothing outside engine/, no node:* module, and
 *   reads no clock, timer, randomness or process state of its own (time and packets come in as
 *   inputs; the simulator depends on it to replay a seed byte for byte);
 * - workers/ never imports the public API's main-thread classes, and engine/ never imports
 *   workers/, api/, perf/ or test/.
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

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
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

describe('layering', () => {
  const engineFiles = sources('engine');

  it('finds the engine sources', () => {
    expect(engineFiles.length).toBeGreaterThan(10);
  });

  it('engine/ imports only engine/ modules, and no node:* module', () => {
    const bad: string[] = [];
    for (const file of engineFiles) {
      for (const spec of importsOf(file)) {
        const target = spec.startsWith('.') ? relative(root, resolve(root, dirname(file), spec)) : spec;
        if (!target.startsWith('engine/')) bad.push(`${file} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('engine/ reads no clock, timer, randomness or process state of its own', () => {
    const forbidden = /\b(Date\.now|new Date|performance\.|Math\.random|setTimeout|setInterval|setImmediate|queueMicrotask|process\.|crypto\.|require\()/;
    const bad = engineFiles.filter((file) => forbidden.test(code(file))).map((file) => `${file}: ${forbidden.exec(code(file))?.[0]}`);
    expect(bad).toEqual([]);
  });

  it('workers/ does not import the main-thread API classes', () => {
    const bad: string[] = [];
    for (const file of sources('workers')) {
      for (const spec of importsOf(file)) {
        if (/\/api\/(node|group|events|index)\.js$/.test(spec)) bad.push(`${file} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
