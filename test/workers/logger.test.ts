/**
 * A user's logger receives each event in its own calling convention: pino and bunyan take
 * `(fields, message)`, console-like loggers `(message, fields)`.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, isFieldsFirstLogger } from '../../workers/logger.js';

function pinoInto(lines: string[]) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

describe('a pino logger as the logger option', () => {
  it('gets the message as msg and the fields, node id included, as properties', async () => {
    const lines: string[] = [];
    const log = createLogger({ nodeId: 7, level: 'info', logger: pinoInto(lines) });
    log.warn('token lost, entering gather', { ring: '1:12', members: [1, 2, 3] });
    log.debug('filtered by the node level before pino sees it');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 40, msg: 'token lost, entering gather', nodeId: 7, ring: '1:12', members: [1, 2, 3] });
  });

  it('is told apart from console-like loggers', () => {
    expect(isFieldsFirstLogger(pinoInto([]))).toBe(true);
    expect(isFieldsFirstLogger(console)).toBe(false);
    expect(isFieldsFirstLogger({ error() {}, warn() {}, info() {}, debug() {} })).toBe(false);
    const bunyanLike = { child() {}, streams: [], error() {}, warn() {}, info() {}, debug() {} };
    expect(isFieldsFirstLogger(bunyanLike)).toBe(true);
  });

  it('a console-like logger still gets (message, fields)', () => {
    const got: unknown[][] = [];
    const user = { error: (...a: unknown[]) => got.push(a), warn: (...a: unknown[]) => got.push(a), info() {}, debug() {} };
    createLogger({ nodeId: 2, logger: user }).warn('m', { a: 1 });
    expect(got).toEqual([['m', { nodeId: 2, a: 1 }]]);
  });
});
