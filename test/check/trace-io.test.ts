/**
 * Trace lines as the contract spells them, the file writer's durability-relevant behaviour
 * (append, one line per write, incarnations that grow), and reading a directory back.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkParsedTrace, checkTrace } from '../../api/check/evs-checker.js';
import { parseTrace, readTraceDir, streamTraceDir, TraceParser } from '../../api/check/trace-reader.js';
import { confLine, crashLine, deliverLine, sendLine } from '../../workers/trace/trace-lines.js';
import {
  appendHarnessCrash,
  FileTraceWriter,
  MemoryTraceStore,
  pickIncarnation,
} from '../../workers/trace/trace-writer.js';

describe('trace line builders', () => {
  it('write the exact JSON of the contract, fields in a fixed order', () => {
    const ring = { rep: 1, seq: 12n };
    expect(confLine({ node: 3, kind: 'regular', ring, members: [1, 2, 3], tMs: 7 })).toBe(
      '{"ev":"conf","node":"3","kind":"regular","ring":"1:12","members":["1","2","3"],"t":7}',
    );
    expect(
      sendLine({
        node: 3,
        incarnation: 1732312331000,
        counter: 17,
        order: 'safe',
        group: 'bench',
        tMs: 8,
      }),
    ).toBe(
      '{"ev":"send","node":"3","id":"3:1732312331000:17","order":"safe","group":"bench","t":8}',
    );
    expect(
      deliverLine({
        node: 1,
        sender: 3,
        incarnation: 1732312331000,
        counter: 17,
        order: 'safe',
        group: 'bench',
        ring,
        tMs: 9,
      }),
    ).toBe(
      '{"ev":"deliver","node":"1","id":"3:1732312331000:17","sender":"3","order":"safe",' +
        '"group":"bench","ring":"1:12","t":9}',
    );
    expect(crashLine(3)).toBe('{"ev":"crash","node":"3"}');
  });

  it('keep a 64-bit ring seq exact and escape group names', () => {
    const ring = { rep: 2, seq: 2n ** 63n + 5n };
    const line = confLine({ node: 2, kind: 'transitional', ring, members: [], tMs: 0 });
    expect(JSON.parse(line).ring).toBe('2:9223372036854775813');
    const send = sendLine({
      node: 2,
      incarnation: 1,
      counter: 1,
      order: 'agreed',
      group: 'a"b\n',
      tMs: 0,
    });
    expect(send).not.toContain('\n');
    expect(JSON.parse(send).group).toBe('a"b\n');
  });
});

describe('FileTraceWriter and readTraceDir', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'totem-evs-trace-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips a two-incarnation run through disk and checks it', async () => {
    const ring = { rep: 1, seq: 4n };
    const first = new FileTraceWriter(dir, 1, 1000);
    first.write(confLine({ node: 1, kind: 'transitional', ring, members: [], tMs: 1000 }));
    first.write(confLine({ node: 1, kind: 'regular', ring, members: [1], tMs: 1001 }));
    first.write(
      sendLine({ node: 1, incarnation: 1000, counter: 1, order: 'safe', group: 'g', tMs: 1002 }),
    );
    first.write(
      deliverLine({
        node: 1,
        sender: 1,
        incarnation: 1000,
        counter: 1,
        order: 'safe',
        group: 'g',
        ring,
        tMs: 1003,
      }),
    );
    first.close();
    appendHarnessCrash(dir, 1);
    const incarnation = pickIncarnation(dir, 1, 500);
    expect(incarnation).toBe(1001);
    const second = new FileTraceWriter(dir, 1, incarnation);
    const ring2 = { rep: 1, seq: 8n };
    second.write(confLine({ node: 1, kind: 'transitional', ring: ring2, members: [], tMs: 1001 }));
    second.write(confLine({ node: 1, kind: 'regular', ring: ring2, members: [1], tMs: 1002 }));
    second.close();

    expect(fs.readdirSync(dir).sort()).toEqual(['1.1000.jsonl', '1.1001.jsonl', 'harness.jsonl']);
    expect(fs.readFileSync(path.join(dir, 'harness.jsonl'), 'utf8')).toBe(
      '{"ev":"crash","node":"1"}\n',
    );
    const input = await readTraceDir(dir);
    expect(input.files.get('1.1000.jsonl')).toHaveLength(4);
    expect(input.strays).toEqual([]);
    const parsed = parseTrace(input);
    expect(parsed.processes.map((p) => [p.key, p.crashed])).toEqual([
      ['1.1000', true],
      ['1.1001', false],
    ]);
    const result = checkTrace(input, { settled: true });
    expect(result.violations).toEqual([]);
    expect(result.counts.processes).toBe(2);
  });

  it('appends to an existing file rather than truncating it', () => {
    const a = new FileTraceWriter(dir, 2, 5);
    a.write('{"ev":"crash","node":"2"}');
    a.close();
    const b = new FileTraceWriter(dir, 2, 5);
    b.write('{"ev":"crash","node":"2"}');
    b.close();
    expect(fs.readFileSync(b.filePath, 'utf8').split('\n')).toHaveLength(3);
  });

  it('refuses a line with a newline in it and a write after close', () => {
    const writer = new FileTraceWriter(dir, 2, 5);
    expect(() => writer.write('a\nb')).toThrow(/newline/);
    writer.close();
    expect(() => writer.write('{}')).toThrow(/closed/);
  });

  it('raises the incarnation above existing ones only for the same node', () => {
    fs.writeFileSync(path.join(dir, '3.9000.jsonl'), '');
    fs.writeFileSync(path.join(dir, '30.99999.jsonl'), '');
    expect(pickIncarnation(dir, 3, 5000)).toBe(9001);
    expect(pickIncarnation(dir, 3, 12000)).toBe(12000);
    expect(pickIncarnation(dir, 4, 5000)).toBe(5000);
    expect(pickIncarnation(path.join(dir, 'missing'), 3, 5000)).toBe(5000);
  });

  it('flags an unterminated last line only as a warning, and stray entries as P0', async () => {
    fs.writeFileSync(
      path.join(dir, '1.7.jsonl'),
      '{"ev":"conf","node":"1","kind":"regular","ring":"1:4","members":["1"],"t":1}\n{"ev":"deliv',
    );
    let result = checkTrace(await readTraceDir(dir), {});
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([expect.stringContaining('1.7.jsonl:2')]);
    fs.mkdirSync(path.join(dir, 'old-run'));
    result = checkTrace(await readTraceDir(dir), {});
    expect(result.violations).toEqual([
      expect.objectContaining({
        property: 'trace-format',
        witness: { processes: [], lines: ['old-run'] },
      }),
    ]);
  });

  it('splits a file at an in-file crash line into two processes', async () => {
    const lines = [
      '{"ev":"conf","node":"1","kind":"regular","ring":"1:4","members":["1"],"t":1}',
      '{"ev":"crash","node":"1"}',
      '{"ev":"conf","node":"1","kind":"regular","ring":"1:8","members":["1"],"t":2}',
    ];
    fs.writeFileSync(path.join(dir, '1.7.jsonl'), `${lines.join('\n')}\n`);
    const parsed = parseTrace(await readTraceDir(dir));
    expect(parsed.processes.map((p) => [p.key, p.crashed, p.eventEnd - p.eventStart])).toEqual([
      ['1.7', true, 1],
      ['1.7#2', false, 1],
    ]);
  });

  it('streams a directory in chunks of any size to the verdict of the same trace in memory', async () => {
    // Every rule of the reader at once: a stray, harness.jsonl, an in-file crash line, a line that
    // does not parse in the middle (P0 with its line number), a multi-byte group name, a
    // duplicate delivery, and an unterminated last line (a warning).
    const conf = (node: string, kind: string, ring: string, members: string[]): string =>
      JSON.stringify({ ev: 'conf', node, kind, ring, members, t: 1 });
    const deliver = (node: string, id: string, ring: string): string =>
      JSON.stringify({ ev: 'deliver', node, id, sender: '1', order: 'safe', group: 'gé€😀', ring, t: 2 });
    const files: Record<string, string> = {
      '1.7.jsonl': [
        conf('1', 'regular', '1:4', ['1', '2']),
        JSON.stringify({ ev: 'send', node: '1', id: '1:7:1', order: 'safe', group: 'gé€😀', t: 2 }),
        deliver('1', '1:7:1', '1:4'),
        deliver('1', '1:7:1', '1:4'),
        '{"ev":"crash","node":"1"}',
        conf('1', 'regular', '1:8', ['1']),
        '',
      ].join('\n'),
      '2.9.jsonl': [conf('2', 'regular', '1:4', ['1', '2']), 'not json', deliver('2', '1:7:1', '1:4'), '{"ev":"deli'].join('\n'),
      'harness.jsonl': '{"ev":"crash","node":"1"}\n{"ev":"crash","node":"5"}\n',
      'notes.txt': 'x',
    };
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    const expected = checkTrace(await readTraceDir(dir), { settled: true });
    expect(expected.violationCounts).toMatchObject({ 'trace-format': 2, 'no-duplication': 1 });
    expect(expected.violations.filter((v) => v.property === 'trace-format').map((v) => v.witness.lines)).toEqual([
      ['notes.txt'],
      ['2.9.jsonl:2'],
    ]);
    expect(expected.warnings).toEqual([
      expect.stringContaining('2.9.jsonl:4: unterminated'),
      expect.stringContaining('node 5'),
    ]);
    // line-reader.test.ts tries every chunk size; here a spread of them, the whole file included.
    const bytes = Math.max(...Object.values(files).map((c) => Buffer.byteLength(c)));
    for (const chunkBytes of [1, 2, 3, 5, 7, 11, 13, 64, 127, bytes, bytes + 1]) {
      const parser = new TraceParser();
      const read = await streamTraceDir(dir, parser, chunkBytes);
      expect(read).toEqual({ files: 2, lines: 12, strays: ['notes.txt'] });
      expect(checkParsedTrace(parser.finish(), { settled: true }), `chunk of ${chunkBytes}`).toEqual(expected);
    }
  });
});

describe('MemoryTraceStore', () => {
  it('gives the checker the same input a directory would', () => {
    const store = new MemoryTraceStore();
    const writer = store.open(4, 10);
    writer.write(
      confLine({ node: 4, kind: 'regular', ring: { rep: 4, seq: 1n }, members: [4], tMs: 10 }),
    );
    store.appendHarnessCrash(4);
    const input = store.toInput();
    expect([...input.files.keys()]).toEqual(['4.10.jsonl']);
    expect(input.harness).toEqual(['{"ev":"crash","node":"4"}']);
    expect(() => store.open(4, 10)).toThrow(/already open/);
    expect(checkTrace(input, { settled: true }).ok).toBe(true);
  });
});
