/**
 * Reading trace files in chunks: every chunk size from one byte up cuts lines and multi-byte
 * characters at every possible place, and the lines must come out exactly as a whole-file split
 * would give them, with the contract's rules for the last line.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readLines } from '../../api/check/line-reader.js';

interface Line {
  text: string;
  line: number;
  terminated: boolean;
}

/** What a whole-file split gives: lines, and whether the last one lacks its newline. */
function expectedLines(content: string): Line[] {
  const texts = content.split('\n');
  const terminated = texts[texts.length - 1] === '';
  if (terminated) texts.pop();
  return texts.map((text, index) => ({
    text,
    line: index + 1,
    terminated: terminated || index < texts.length - 1,
  }));
}

async function read(file: string, chunkBytes: number): Promise<{ lines: Line[]; count: number; unterminated: boolean }> {
  const lines: Line[] = [];
  const result = await readLines(file, (text, line, terminated) => lines.push({ text, line, terminated }), chunkBytes);
  return { lines, count: result.lines, unterminated: result.unterminated };
}

const contents: Record<string, string> = {
  'empty file': '',
  'one newline': '\n',
  'two newlines': '\n\n',
  'no final newline': '{"ev":"crash","node":"1"}\n{"ev":"deliv',
  'one line without newline': 'abc',
  'ascii lines': 'a\nbb\nccc\n\ndddd\n',
  // 2-, 3- and 4-byte characters, so that some chunk size ends inside each of them.
  'multi-byte characters': '{"group":"é"}\n{"group":"€€"}\n😀\n{"group":"a😀b€c"}\n',
  'multi-byte last line without newline': 'x\n€😀é',
  'carriage returns kept': 'a\r\nb\r\n',
};

describe('readLines', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'totem-evs-lines-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, content] of Object.entries(contents)) {
    it(`gives the lines of a whole-file split at every chunk size: ${name}`, async () => {
      const file = path.join(dir, 'f.jsonl');
      fs.writeFileSync(file, content);
      const bytes = Buffer.byteLength(content);
      const expected = expectedLines(content);
      for (let chunkBytes = 1; chunkBytes <= bytes + 2; chunkBytes += 1) {
        const got = await read(file, chunkBytes);
        expect(got.lines, `chunk of ${chunkBytes} bytes`).toEqual(expected);
        expect(got.count).toBe(expected.length);
        expect(got.unterminated).toBe(expected.length > 0 && expected[expected.length - 1]?.terminated === false);
      }
    });
  }

  it('carries a line longer than many chunks across all of them', async () => {
    const long = `{"group":"${'€'.repeat(5000)}"}`;
    const file = path.join(dir, 'f.jsonl');
    fs.writeFileSync(file, `a\n${long}\nb`);
    for (const chunkBytes of [7, 64, 4096]) {
      const got = await read(file, chunkBytes);
      expect(got.lines.map((l) => l.text)).toEqual(['a', long, 'b']);
      expect(got.unterminated).toBe(true);
    }
  });

  it('never decodes more than one line into a string', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `{"ev":"crash","node":"${i}"}`);
    const file = path.join(dir, 'f.jsonl');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const longest = Math.max(...lines.map((l) => l.length));
    const toString = Buffer.prototype.toString;
    let decodedMax = 0;
    Buffer.prototype.toString = function (this: Buffer, ...args: Parameters<Buffer['toString']>) {
      const text = toString.apply(this, args);
      decodedMax = Math.max(decodedMax, text.length);
      return text;
    } as Buffer['toString'];
    try {
      const got = await read(file, 1024);
      expect(got.count).toBe(200);
    } finally {
      Buffer.prototype.toString = toString;
    }
    expect(decodedMax).toBeGreaterThan(0);
    expect(decodedMax).toBeLessThanOrEqual(longest);
  });

  it('refuses a chunk size below one byte', async () => {
    const file = path.join(dir, 'f.jsonl');
    fs.writeFileSync(file, 'a\n');
    await expect(readLines(file, () => undefined, 0)).rejects.toThrow(/chunk/);
  });
});
