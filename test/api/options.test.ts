import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { resolveEngineConfig } from '../../engine/config.js';
import { windowSizeMax } from '../../engine/constants.js';
import { TotemError, totemErrorCodes } from '../../workers/errors.js';
import type { TotemErrorCode } from '../../workers/errors.js';
import { createLogger, formatLogLine } from '../../workers/logger.js';
import type { LogFields, Logger } from '../../workers/logger.js';
import { resolveNodeOptions } from '../../api/options.js';
import { loadKey } from '../../workers/net/key-file.js';
import type { NodeOptions } from '../../api/options.js';

const base: NodeOptions = {
  nodeId: 2,
  bind: '10.0.0.2:5405',
  members: [
    { nodeId: 1, address: '10.0.0.1:5405' },
    { nodeId: 2, address: '10.0.0.2:5405' },
    { nodeId: 3, address: '10.0.0.3:5405' },
  ],
  // These addresses are off loopback: without a key the node must be told it is insecure.
  insecure: true,
};

const base6: NodeOptions = {
  nodeId: 1,
  bind: '[fd00::1]:5405',
  members: [
    { nodeId: 1, address: '[fd00::1]:5405' },
    { nodeId: 2, address: '[fd00::2]:5405' },
  ],
  insecure: true,
};

function with_(patch: Record<string, unknown>, from: NodeOptions = base): NodeOptions {
  return { ...from, ...patch } as NodeOptions;
}

function thrown(fn: () => unknown): TotemError {
  try {
    fn();
  } catch (err) {
    expect(TotemError.isTotemError(err)).toBe(true);
    return err as TotemError;
  }
  throw new Error('expected a TotemError, nothing was thrown');
}

function expectInvalid(input: NodeOptions, option: string, fragment: string, code: TotemErrorCode = 'TOTEM_ERR_INVALID_OPTION'): void {
  const err = thrown(() => resolveNodeOptions(input));
  expect(err.code).toBe(code);
  expect(err.details?.option).toBe(option);
  expect(err.message).toContain(fragment);
}

describe('resolveNodeOptions: valid configurations', () => {
  it('round-trips a full IPv4 configuration', () => {
    const key = new Uint8Array(32).fill(7);
    const logger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
    const r = resolveNodeOptions(
      with_({
        key, stateDir: 'state', trace: '/tmp/trace', netMtu: 9000, tokenTimeoutMs: 2000, tokenRetransmitMs: 400,
        holdMs: 300, joinTimeoutMs: 60, consensusTimeoutMs: 2400, mergeTimeoutMs: 250, windowSize: 100,
        maxMessages: 20, messageBytesMax: 65536, sendQueueBytesMax: 1 << 20, transport: 'multicast',
        multicastAddress: '239.192.0.1:5405', logLevel: 'debug', logger,
        members: [...base.members].reverse(),
      }),
      40,
    );
    expect(r.nodeId).toBe(2);
    expect(r.bind).toEqual({ host: '10.0.0.2', port: 5405, family: 'IPv4' });
    expect(r.family).toBe('IPv4');
    expect(r.members.map((m) => m.nodeId)).toEqual([1, 2, 3]);
    expect(r.members[0]?.address).toEqual({ host: '10.0.0.1', port: 5405, family: 'IPv4' });
    expect(r.transport).toBe('multicast');
    expect(r.multicastAddress).toEqual({ host: '239.192.0.1', port: 5405, family: 'IPv4' });
    expect(r.key).toEqual({ kind: 'inline', bytes: key });
    expect(r.stateDir !== null && isAbsolute(r.stateDir)).toBe(true);
    expect(r.traceDir).toBe('/tmp/trace');
    expect(r.netMtu).toBe(9000);
    expect(r.authOverheadBytes).toBe(40);
    expect(r.logLevel).toBe('debug');
    expect(r.logger).toBe(logger);
    expect(r.engine).toMatchObject({
      nodeId: 2, tokenTimeoutMs: 2000, tokenRetransmitMs: 400, holdMs: 300, joinTimeoutMs: 60,
      consensusTimeoutMs: 2400, mergeTimeoutMs: 250, windowSize: 100, maxMessages: 20,
      messageBytesMax: 65536, sendQueueBytesMax: 1 << 20, frameBytesMax: 9000 - 28 - 40,
    });
    expect(r.engine).not.toHaveProperty('incarnation');
    expect(r.engine).not.toHaveProperty('ringSeqInitial');
  });

  it('round-trips an IPv6 configuration, canonicalising addresses and keeping zones', () => {
    const r = resolveNodeOptions(
      with_(
        {
          bind: '[::]:5405',
          members: [
            { nodeId: 1, address: '[FD00:0:0:0:0:0:0:1]:5405' },
            { nodeId: 2, address: '[fe80::2%eth0]:5406' },
          ],
          transport: 'multicast',
          multicastAddress: '[ff12::1234]:5405',
        },
        base6,
      ),
    );
    expect(r.family).toBe('IPv6');
    expect(r.bind).toEqual({ host: '::', port: 5405, family: 'IPv6' });
    expect(r.members[0]?.address).toEqual({ host: 'fd00::1', port: 5405, family: 'IPv6' });
    expect(r.members[1]?.address).toEqual({ host: 'fe80::2%eth0', port: 5406, family: 'IPv6' });
    expect(r.multicastAddress?.host).toBe('ff12::1234');
  });

  it('applies the same defaults and derived timers as the engine', () => {
    const r = resolveNodeOptions(base);
    const engine = resolveEngineConfig({ nodeId: 2 });
    for (const k of ['tokenTimeoutMs', 'tokenRetransmitMs', 'holdMs', 'joinTimeoutMs', 'consensusTimeoutMs', 'gatherSilenceMs', 'mergeTimeoutMs', 'windowSize', 'maxMessages', 'messageBytesMax', 'sendQueueBytesMax'] as const) {
      expect(r.engine[k], k).toBe(engine[k]);
    }
    const derived = resolveNodeOptions(with_({ tokenTimeoutMs: 3000 })).engine;
    const engineDerived = resolveEngineConfig({ nodeId: 2, tokenTimeoutMs: 3000 });
    expect([derived.tokenRetransmitMs, derived.holdMs, derived.consensusTimeoutMs, derived.gatherSilenceMs]).toEqual([
      engineDerived.tokenRetransmitMs, engineDerived.holdMs, engineDerived.consensusTimeoutMs, engineDerived.gatherSilenceMs,
    ]);
    expect(r.transport).toBe('udpu');
    expect(r.multicastAddress).toBeNull();
    expect(r.key).toBeNull();
    expect(r.stateDir).toBeNull();
    expect(r.traceDir).toBeNull();
    expect(r.logLevel).toBe('warn');
    expect(r.logger).toBeNull();
  });

  it('accepts a single-node cluster and a wildcard bind', () => {
    const r = resolveNodeOptions({ nodeId: 9, bind: '0.0.0.0:5405', members: [{ nodeId: 9, address: '127.0.0.1:5405' }], insecure: true });
    expect(r.members).toHaveLength(1);
  });

  it('accepts a bind on another host than the member address with another port (NAT, port mapping)', () => {
    expect(() => resolveNodeOptions(with_({ bind: '172.17.0.2:5405', members: [{ nodeId: 2, address: '10.0.0.2:6000' }] }))).not.toThrow();
    expect(() => resolveNodeOptions(with_({ bind: '0.0.0.0:5405', members: [{ nodeId: 2, address: '10.0.0.2:6000' }] }))).not.toThrow();
  });

  it('copies an inline key so that later changes to the caller buffer do not reach the node', () => {
    const key = new Uint8Array(32).fill(1);
    const r = resolveNodeOptions(with_({ key }));
    key.fill(2);
    expect(r.key?.kind === 'inline' && r.key.bytes[0]).toBe(1);
  });

  it('passes stateDir and trace as absolute paths', () => {
    const r = resolveNodeOptions(with_({ stateDir: 'rel/state', trace: 'rel/trace' }));
    expect(r.stateDir !== null && isAbsolute(r.stateDir)).toBe(true);
    expect(r.traceDir?.endsWith(join('rel', 'trace'))).toBe(true);
  });
});

describe('resolveNodeOptions: frameBytesMax', () => {
  it('is 1472 for netMtu 1500, IPv4, no key', () => {
    expect(resolveNodeOptions(base).engine.frameBytesMax).toBe(1472);
    expect(resolveNodeOptions(with_({ netMtu: 1500 })).engine.frameBytesMax).toBe(1472);
  });

  it('subtracts 48 bytes of headers for IPv6', () => {
    expect(resolveNodeOptions(base6).engine.frameBytesMax).toBe(1452);
  });

  it('subtracts the authentication overhead when a key is set', () => {
    const r = resolveNodeOptions(with_({ key: new Uint8Array(32) }), 28);
    expect(r.engine.frameBytesMax).toBe(1500 - 28 - 28);
    expect(r.authOverheadBytes).toBe(28);
    expect(resolveNodeOptions(with_({ key: { file: '/k' } }, base6), 28).engine.frameBytesMax).toBe(1500 - 48 - 28);
  });

  it('ignores the authentication overhead without a key', () => {
    const r = resolveNodeOptions(base, 28);
    expect(r.engine.frameBytesMax).toBe(1472);
    expect(r.authOverheadBytes).toBe(0);
  });

  it('spans netMtu 1280..65535', () => {
    expect(resolveNodeOptions(with_({ netMtu: 1280 })).engine.frameBytesMax).toBe(1252);
    expect(resolveNodeOptions(with_({ netMtu: 65535 })).engine.frameBytesMax).toBe(65507);
  });

  it('refuses an authentication overhead that leaves too small a frame', () => {
    expectInvalidWithOverhead(with_({ key: new Uint8Array(32), netMtu: 1280 }), 1100, 'netMtu', 'raise netMtu');
  });

  it('throws a RangeError for a negative overhead (a caller bug, not an option)', () => {
    expect(() => resolveNodeOptions(base, -1)).toThrow(RangeError);
  });
});

function expectInvalidWithOverhead(input: NodeOptions, overhead: number, option: string, fragment: string): void {
  const err = thrown(() => resolveNodeOptions(input, overhead));
  expect(err.code).toBe('TOTEM_ERR_INVALID_OPTION');
  expect(err.details?.option).toBe(option);
  expect(err.message).toContain(fragment);
}

describe('resolveNodeOptions: each rule', () => {
  it('options not an object', () => {
    expectInvalid(null as unknown as NodeOptions, '(options)', 'options object');
    expectInvalid('x' as unknown as NodeOptions, '(options)', 'options object');
  });

  it('unknown option with a close known name', () => {
    expectInvalid(with_({ tokenTimeout: 1000 }), 'tokenTimeout', "unknown option 'tokenTimeout' — did you mean 'tokenTimeoutMs'?");
    expectInvalid(with_({ nodeID: 1 }), 'nodeID', "did you mean 'nodeId'?");
    expectInvalid(with_({ mtu: 1500 }), 'mtu', "did you mean 'netMtu'?");
    expectInvalid(with_({ statedir: '/x' }), 'statedir', "did you mean 'stateDir'?");
  });

  it('unknown option with nothing close lists the known ones', () => {
    expectInvalid(with_({ frobnicate: true }), 'frobnicate', "unknown option 'frobnicate'; known options: nodeId, bind, members");
  });

  it('unknown option set to undefined is still refused', () => {
    expectInvalid(with_({ holdMS: undefined }), 'holdMS', "did you mean 'holdMs'?");
  });

  it('unknown key in a member', () => {
    expectInvalid(with_({ members: [{ nodeId: 2, addr: '10.0.0.2:5405' }] }), 'members[0].addr', "unknown member key 'members[0].addr' — did you mean 'members[0].address'?");
  });

  it.each([
    ['0', 0],
    ['a fraction', 1.5],
    ['2^32', 2 ** 32],
    ['negative', -1],
    ['a string', '2'],
    ['missing', undefined],
  ])('node id %s', (_name, nodeId) => {
    expectInvalid(with_({ nodeId }), 'nodeId', 'nodeId must be an integer in 1..4294967295');
  });

  it('member node id out of range', () => {
    expectInvalid(with_({ members: [...base.members, { nodeId: 0, address: '10.0.0.9:5405' }] }), 'members[3].nodeId', 'members[3].nodeId must be an integer');
  });

  it('accepts the largest uint32 node id', () => {
    const max = 0xffffffff;
    expect(resolveNodeOptions({ nodeId: max, bind: '10.0.0.1:1', members: [{ nodeId: max, address: '10.0.0.1:1' }], insecure: true }).nodeId).toBe(max);
  });

  it('own id missing from members', () => {
    expectInvalid(with_({ nodeId: 4 }), 'members', 'does not list this node (nodeId 4)');
  });

  it('members empty or not an array', () => {
    expectInvalid(with_({ members: [] }), 'members', 'non-empty array');
    expectInvalid(with_({ members: { nodeId: 2, address: '10.0.0.2:5405' } }), 'members', 'non-empty array');
    expectInvalid(with_({ members: [null] }), 'members[0]', 'must be an object');
  });

  it('duplicate member ids', () => {
    expectInvalid(with_({ members: [...base.members, { nodeId: 1, address: '10.0.0.9:5405' }] }), 'members[3].nodeId', 'also the id of members[0]');
  });

  it('duplicate member addresses, also when written differently', () => {
    expectInvalid(with_({ members: [...base.members, { nodeId: 4, address: '10.0.0.1:5405' }] }), 'members[3].address', 'also the address of members[0]');
    expectInvalid(
      with_({ members: [...base6.members, { nodeId: 3, address: '[fd00:0::1]:5405' }] }, base6),
      'members[2].address',
      'also the address of members[0]',
    );
  });

  it('same host with different ports is two members', () => {
    const r = resolveNodeOptions({
      nodeId: 1, bind: '127.0.0.1:5405',
      members: [{ nodeId: 1, address: '127.0.0.1:5405' }, { nodeId: 2, address: '127.0.0.1:5406' }],
    });
    expect(r.members).toHaveLength(2);
  });

  it.each([
    ['no port', '10.0.0.2', 'the port is missing'],
    ['a host name', 'node2.example:5405', 'is not an IPv4 address (host names are not resolved'],
    ['a bad dotted quad', '10.0.0.256:5405', 'is not an IPv4 address'],
    ['a non-numeric port', '10.0.0.2:ssh', 'is not a port number'],
    ['port 0', '10.0.0.2:0', 'port 0 is not allowed'],
    ['a port above 65535', '10.0.0.2:65536', 'above 65535'],
    ['IPv6 without brackets', 'fd00::2:5405', 'in brackets'],
    ['an unclosed bracket', '[fd00::2:5405', 'as [address]:port'],
    ['a bracketed IPv4', '[10.0.0.2]:5405', 'is not an IPv6 address'],
    ['not a string', 5405, 'must be a "host:port" string'],
  ])('malformed bind: %s', (_name, bind, fragment) => {
    expectInvalid(with_({ bind }), 'bind', fragment);
  });

  it('malformed member address names the member', () => {
    expectInvalid(with_({ members: [base.members[0], { nodeId: 2, address: '10.0.0.2:0' }] }), 'members[1].address', 'port 0 is not allowed');
  });

  it('wildcard or multicast member address', () => {
    expectInvalid(with_({ members: [{ nodeId: 2, address: '0.0.0.0:5405' }] }), 'members[0].address', 'is a wildcard');
    expectInvalid(with_({ members: [{ nodeId: 2, address: '239.1.1.1:5405' }] }), 'members[0].address', 'is a multicast address');
  });

  it('bind family differs from the members', () => {
    expectInvalid(with_({ bind: '[::]:5405' }), 'members[0].address', 'is IPv4 but bind is IPv6; use one address family');
    expectInvalid(
      with_({ members: [...base.members, { nodeId: 4, address: '[fd00::4]:5405' }] }),
      'members[3].address',
      'is IPv6 but bind is IPv4',
    );
  });

  it('bind on the member host with another port', () => {
    expectInvalid(with_({ bind: '10.0.0.2:5406' }), 'bind', 'same host with different ports');
  });

  it.each([
    ['negative', -5],
    ['zero', 0],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a fraction', 10.5],
    ['above 2^31-1', 2 ** 31],
    ['a string', '1000'],
  ])('timer %s', (_name, value) => {
    for (const k of ['tokenTimeoutMs', 'tokenRetransmitMs', 'holdMs', 'joinTimeoutMs', 'consensusTimeoutMs', 'mergeTimeoutMs']) {
      expectInvalid(with_({ [k]: value }), k, `${k} must be a whole number of milliseconds in 1..2147483647`);
    }
  });

  it('consensus timeout below the join timeout', () => {
    expectInvalid(with_({ joinTimeoutMs: 100, consensusTimeoutMs: 99 }), 'consensusTimeoutMs', 'consensusTimeoutMs 99 must be at least joinTimeoutMs 100');
    expect(() => resolveNodeOptions(with_({ joinTimeoutMs: 100, consensusTimeoutMs: 100 }))).not.toThrow();
  });

  it('consensus timeout derived from a small token timeout, blamed on the option set', () => {
    expectInvalid(with_({ tokenTimeoutMs: 40 }), 'tokenTimeoutMs', 'consensusTimeoutMs 48 (derived: tokenTimeoutMs × 1.2) must be at least joinTimeoutMs 50 (default)');
  });

  it('token timeout not above the token retransmit period', () => {
    expectInvalid(with_({ tokenTimeoutMs: 200, tokenRetransmitMs: 200 }), 'tokenRetransmitMs', 'tokenRetransmitMs 200 must be below tokenTimeoutMs 200');
    expectInvalid(with_({ tokenRetransmitMs: 1000 }), 'tokenRetransmitMs', 'tokenRetransmitMs 1000 must be below tokenTimeoutMs 1000 (default)');
  });

  it('hold not below the token retransmit period', () => {
    expectInvalid(with_({ tokenRetransmitMs: 100, holdMs: 100 }), 'holdMs', 'holdMs 100 must be below tokenRetransmitMs 100');
    expectInvalid(with_({ holdMs: 500 }), 'holdMs', 'holdMs 500 must be below tokenRetransmitMs 238 (derived: tokenTimeoutMs / 4.2)');
  });

  it('a token timeout so small that a derived timer falls below 1 ms', () => {
    expectInvalid(with_({ tokenTimeoutMs: 4, joinTimeoutMs: 1 }), 'tokenTimeoutMs', 'tokenRetransmitMs 0 (derived: tokenTimeoutMs / 4.2) is below 1 ms');
  });

  it('netMtu outside 1280..65535 or not an integer', () => {
    expectInvalid(with_({ netMtu: 1279 }), 'netMtu', 'netMtu must be a whole number of bytes in 1280..65535, got 1279');
    expectInvalid(with_({ netMtu: 576 }), 'netMtu', 'in 1280..65535');
    expectInvalid(with_({ netMtu: 65536 }), 'netMtu', 'in 1280..65535');
    expectInvalid(with_({ netMtu: 1500.5 }), 'netMtu', 'in 1280..65535');
  });

  it('windowSize bounds', () => {
    expectInvalid(with_({ windowSize: 0 }), 'windowSize', `windowSize must be a whole number of frames in 1..${windowSizeMax}`);
    expectInvalid(with_({ windowSize: windowSizeMax + 1 }), 'windowSize', `in 1..${windowSizeMax}`);
    expect(resolveNodeOptions(with_({ windowSize: windowSizeMax })).engine.windowSize).toBe(windowSizeMax);
  });

  it('maxMessages bounds and relation to windowSize', () => {
    expectInvalid(with_({ maxMessages: 0 }), 'maxMessages', 'maxMessages must be a whole number of frames');
    expectInvalid(with_({ maxMessages: 201 }), 'maxMessages', 'must not exceed the default windowSize 200');
    // Not given: half the window, whatever the window.
    expect(resolveNodeOptions(with_({ windowSize: 50 })).engine.maxMessages).toBe(25);
    expect(resolveNodeOptions(base).engine.maxMessages).toBe(100);
    expectInvalid(with_({ windowSize: 10, maxMessages: 11 }), 'maxMessages', 'must not exceed windowSize 10');
    expect(resolveNodeOptions(with_({ windowSize: 10, maxMessages: 10 })).engine.maxMessages).toBe(10);
  });

  it('messageBytesMax and sendQueueBytesMax', () => {
    expectInvalid(with_({ messageBytesMax: 0 }), 'messageBytesMax', 'messageBytesMax must be a whole number of bytes in 1..');
    expectInvalid(with_({ messageBytesMax: 64 * 1024 * 1024 + 1 }), 'messageBytesMax', 'in 1..67108864');
    expectInvalid(with_({ messageBytesMax: 4096, sendQueueBytesMax: 4095 }), 'sendQueueBytesMax', 'must be at least messageBytesMax 4096');
    // A large message limit raises the default send queue so that one such message fits.
    expect(resolveNodeOptions(with_({ messageBytesMax: 16 << 20 })).engine.sendQueueBytesMax).toBe(16 << 20);
  });

  it('transport values and the multicast address', () => {
    expectInvalid(with_({ transport: 'udp' }), 'transport', "transport must be 'udpu' or 'multicast'");
    expectInvalid(with_({ transport: 'multicast' }), 'multicastAddress', "transport 'multicast' needs multicastAddress");
    expectInvalid(with_({ multicastAddress: '239.1.1.1:5405' }), 'multicastAddress', "used only with transport 'multicast'");
    expectInvalid(with_({ transport: 'multicast', multicastAddress: '10.0.0.9:5405' }), 'multicastAddress', 'is not a multicast group');
    expectInvalid(with_({ transport: 'multicast', multicastAddress: '[ff02::1]:5405' }), 'multicastAddress', 'is IPv6 but bind is IPv4');
    expectInvalid(with_({ transport: 'multicast', multicastAddress: '239.1.1.1:0' }), 'multicastAddress', 'port 0 is not allowed');
  });

  it('key of the wrong length is TOTEM_ERR_BAD_KEY', () => {
    expectInvalid(with_({ key: new Uint8Array(31) }), 'key', 'key is 31 bytes; it must be exactly 32', 'TOTEM_ERR_BAD_KEY');
  });

  it('key of the wrong type', () => {
    expectInvalid(with_({ key: 'secret' }), 'key', 'key must be a 32-byte Uint8Array or { file: path }');
    expectInvalid(with_({ key: new ArrayBuffer(32) }), 'key', 'key must be a 32-byte Uint8Array');
    expectInvalid(with_({ key: { file: '' } }), 'key', '{ file: path }');
    expectInvalid(with_({ key: { path: '/k' } }), 'key.path', "did you mean 'key.file'?");
  });

  it('stateDir and trace must be non-empty paths', () => {
    expectInvalid(with_({ stateDir: '' }), 'stateDir', 'stateDir must be a non-empty directory path');
    expectInvalid(with_({ trace: true }), 'trace', 'trace must be a non-empty directory path');
  });

  it('logLevel and logger', () => {
    expectInvalid(with_({ logLevel: 'verbose' }), 'logLevel', "logLevel must be one of 'error', 'warn', 'info', 'debug'");
    expectInvalid(with_({ logger: { warn() {} } }), 'logger', 'logger must be an object with error, warn, info and debug');
  });
});

describe('loadKey', () => {
  it('reads a key file of 32 raw bytes or 64 hex digits, and refuses anything else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'totem-key-'));
    try {
      const path = join(dir, 'key');
      writeFileSync(path, new Uint8Array(32).fill(9), { mode: 0o600 });
      const r = resolveNodeOptions(with_({ key: { file: path } }));
      expect(r.key).toEqual({ kind: 'file', path });
      expect(r.key !== null && loadKey(r.key)).toEqual(new Uint8Array(32).fill(9));

      writeFileSync(path, `${'ab'.repeat(32)}\n`);
      expect(loadKey({ kind: 'file', path })).toEqual(new Uint8Array(32).fill(0xab));

      writeFileSync(path, 'a'.repeat(40));
      const bad = thrown(() => loadKey({ kind: 'file', path }));
      expect(bad.code).toBe('TOTEM_ERR_BAD_KEY');
      expect(bad.message).toContain(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws TOTEM_ERR_KEY_FILE for a missing file', () => {
    const err = thrown(() => loadKey({ kind: 'file', path: '/nonexistent/totem-evs/key' }));
    expect(err.code).toBe('TOTEM_ERR_KEY_FILE');
    expect(err.details?.path).toBe('/nonexistent/totem-evs/key');
    expect(err.message).toContain('/nonexistent/totem-evs/key');
  });

  it('returns a copy of an inline key', () => {
    const bytes = new Uint8Array(32).fill(3);
    const loaded = loadKey({ kind: 'inline', bytes });
    expect(loaded).toEqual(bytes);
    expect(loaded).not.toBe(bytes);
  });
});

describe('TotemError', () => {
  it('carries a stable code, details and the brand', () => {
    const err = new TotemError('TOTEM_ERR_NOT_JOINED', 'not joined to group a', { details: { group: 'a' } });
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(TotemError);
    expect(err.name).toBe('TotemError');
    expect(err.code).toBe('TOTEM_ERR_NOT_JOINED');
    expect(err.details).toEqual({ group: 'a' });
    expect(TotemError.isTotemError(err)).toBe(true);
    expect(TotemError.isTotemError(new Error('x'))).toBe(false);
    expect(TotemError.isTotemError({ code: 'TOTEM_ERR_CLOSED' })).toBe(false);
  });

  it('is recognised across copies of the library through the Symbol.for brand', () => {
    const foreign = Object.defineProperty(new Error('from another copy'), Symbol.for('totem-evs.error'), { value: true });
    expect(TotemError.isTotemError(foreign)).toBe(true);
    expect(foreign instanceof TotemError).toBe(true);
  });

  it('survives a trip through a MessagePort as JSON, keeping code, details, cause and stack', () => {
    const cause = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const err = new TotemError('TOTEM_ERR_STATE_DIR', 'cannot persist', { details: { path: '/s' }, cause });
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(err.toJSON());
    const received = receiveMessageOnPort(port2)?.message;
    port1.close();
    expect(TotemError.isTotemError(received)).toBe(false);
    expect(TotemError.isTotemErrorJSON(received)).toBe(true);
    const back = TotemError.fromJSON(received);
    expect(TotemError.isTotemError(back)).toBe(true);
    expect(back.code).toBe('TOTEM_ERR_STATE_DIR');
    expect(back.message).toBe('cannot persist');
    expect(back.details).toEqual({ path: '/s' });
    expect(back.stack).toBe(err.stack);
    expect((back.cause as Error).message).toBe('EACCES: permission denied');
    expect((back.cause as { code?: string }).code).toBe('EACCES');
    expect(TotemError.fromJSON(JSON.parse(JSON.stringify(err))).code).toBe('TOTEM_ERR_STATE_DIR');
  });

  it('fromJSON refuses what toJSON did not produce', () => {
    expect(() => TotemError.fromJSON(new Error('x'))).toThrow(TypeError);
    expect(() => TotemError.fromJSON({ brand: 'totem-evs.error', code: 'TOTEM_ERR_NOPE', message: 'x' })).toThrow(TypeError);
  });

  it('lists every code the API documents', () => {
    expect(totemErrorCodes).toEqual(expect.arrayContaining([
      'TOTEM_ERR_INVALID_OPTION', 'TOTEM_ERR_BIND', 'TOTEM_ERR_KEY_FILE', 'TOTEM_ERR_BAD_KEY', 'TOTEM_ERR_CLOSED',
      'TOTEM_ERR_ABORTED', 'TOTEM_ERR_PAYLOAD_TOO_LARGE', 'TOTEM_ERR_NOT_JOINED', 'TOTEM_ERR_WORKER_DIED',
      'TOTEM_ERR_ENGINE_FATAL', 'TOTEM_ERR_STATE_DIR', 'TOTEM_ERR_UNDELIVERED',
    ]));
  });
});

describe('logger', () => {
  function capture(level?: 'error' | 'warn' | 'info' | 'debug') {
    const lines: string[] = [];
    return { lines, log: createLogger({ nodeId: 3, ...(level === undefined ? {} : { level }), write: (l) => lines.push(l) }) };
  }

  it('writes one line per event in the default format', () => {
    const { lines, log } = capture();
    log.warn('token lost', { ring: '1:12', members: [1, 2, 3], reason: 'no token\nfor 1 s', seq: 12n });
    expect(lines).toEqual(['totem-evs[3] warn: token lost ring=1:12 members=[1,2,3] reason="no token\\nfor 1 s" seq=12']);
  });

  it('defaults to warn and filters by level', () => {
    const { lines, log } = capture();
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines).toEqual(['totem-evs[3] warn: w', 'totem-evs[3] error: e']);
    expect(log.level).toBe('warn');
    expect(log.enabled('info')).toBe(false);
    expect(log.enabled('error')).toBe(true);
    const debug = capture('debug');
    debug.log.debug('d');
    expect(debug.lines).toEqual(['totem-evs[3] debug: d']);
  });

  it('filters a user-supplied logger by level and adds the node id', () => {
    const got: [string, string, LogFields | undefined][] = [];
    const user: Logger = {
      error: (m, f) => got.push(['error', m, f]),
      warn: (m, f) => got.push(['warn', m, f]),
      info: (m, f) => got.push(['info', m, f]),
      debug: (m, f) => got.push(['debug', m, f]),
    };
    const log = createLogger({ nodeId: 5, level: 'info', logger: user });
    log.debug('hidden');
    log.info('shown', { a: 1 });
    expect(got).toEqual([['info', 'shown', { nodeId: 5, a: 1 }]]);
  });

  it('falls back to the default line when the user logger throws', () => {
    const lines: string[] = [];
    const bad: Logger = { error() { throw new Error('boom'); }, warn() { throw new Error('boom'); }, info() {}, debug() {} };
    const log = createLogger({ nodeId: 1, logger: bad, write: (l) => lines.push(l) });
    log.warn('a');
    log.warn('b');
    expect(lines.filter((l) => l.includes('the logger option threw'))).toHaveLength(1);
    expect(lines).toContain('totem-evs[1] warn: a');
    expect(lines).toContain('totem-evs[1] warn: b');
  });

  it('once(key) lets the first event under a key through and drops the rest', () => {
    const { lines, log } = capture();
    for (let i = 0; i < 3; i += 1) log.once('no-key').warn('running without a key: packets are neither authenticated nor encrypted');
    log.once('other').warn('another condition');
    expect(lines).toEqual([
      'totem-evs[3] warn: running without a key: packets are neither authenticated nor encrypted',
      'totem-evs[3] warn: another condition',
    ]);
  });

  it('formats errors, nulls and quoted strings on one line', () => {
    const line = formatLogLine(1, 'error', 'state\nfailed', {
      err: new TotemError('TOTEM_ERR_STATE_DIR', 'disk full'), path: '/a b', none: null, skipped: undefined,
    });
    expect(line).toBe('totem-evs[1] error: state\\nfailed err="TotemError TOTEM_ERR_STATE_DIR: disk full" path="/a b" none=null');
  });
});

describe('secure by default (TOTEM_ERR_INSECURE) and the cluster name', () => {
  const { insecure: _omit, ...keyless } = base;
  it('refuses a keyless node whose members are off loopback, naming the addresses and both fixes', () => {
    const err = thrown(() => resolveNodeOptions(keyless));
    expect(err.code).toBe('TOTEM_ERR_INSECURE');
    expect(err.message).toContain('10.0.0.1:5405');
    expect(err.message).toContain('totem-evs keygen FILE');
    expect(err.message).toContain('insecure: true');
    expect(err.details).toEqual({ option: 'key', addresses: ['10.0.0.1:5405', '10.0.0.2:5405', '10.0.0.3:5405'] });
  });

  it('refuses a keyless wildcard bind even with loopback members, and IPv6 off loopback', () => {
    const wildcard = { nodeId: 9, bind: '0.0.0.0:5405', members: [{ nodeId: 9, address: '127.0.0.1:5405' }] };
    expect(thrown(() => resolveNodeOptions(wildcard)).details).toEqual({ option: 'key', addresses: ['0.0.0.0:5405'] });
    const { insecure: _i, ...keyless6 } = base6;
    expect(thrown(() => resolveNodeOptions(keyless6)).code).toBe('TOTEM_ERR_INSECURE');
  });

  it('accepts keyless loopback (127.0.0.0/8, ::1), a key, or insecure: true', () => {
    const lo = { nodeId: 1, bind: '127.0.0.1:5405', members: [{ nodeId: 1, address: '127.0.0.1:5405' }, { nodeId: 2, address: '127.1.2.3:5405' }] };
    expect(resolveNodeOptions(lo).insecure).toBe(false);
    const lo6 = { nodeId: 1, bind: '[::1]:5405', members: [{ nodeId: 1, address: '[::1]:5405' }, { nodeId: 2, address: '[::1]:5406' }] };
    expect(() => resolveNodeOptions(lo6)).not.toThrow();
    expect(() => resolveNodeOptions({ ...keyless, key: new Uint8Array(32) })).not.toThrow();
    expect(resolveNodeOptions({ ...keyless, insecure: true }).insecure).toBe(true);
    expectInvalid(with_({ insecure: 'yes' }), 'insecure', 'true or false');
  });

  it('defaults the cluster name, and refuses names that are empty, too long or of other characters', () => {
    expect(resolveNodeOptions(base).cluster).toBe('totem-evs');
    expect(resolveNodeOptions(with_({ cluster: 'prod-eu.1_a' })).cluster).toBe('prod-eu.1_a');
    expect(resolveNodeOptions(with_({ cluster: 'x'.repeat(64) })).cluster).toBe('x'.repeat(64));
    for (const bad of ['', 'x'.repeat(65), 'a b', 'é', 7, null]) expectInvalid(with_({ cluster: bad }), 'cluster', '1..64 characters');
  });
});
