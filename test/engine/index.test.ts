/**
 * engine/index.ts is what package.json's `./engine` export promises: the names a host of the
 * engine needs exist and work from that one module.
 */
import { describe, expect, it } from 'vitest';
import * as engine from '../../engine/index.js';
import type { ConfigurationChange, TokenPacket } from '../../engine/index.js';

describe('engine public surface', () => {
  it('exports the node classes, the codec, the configuration and the constants', () => {
    for (const name of [
      'TotemNode',
      'RingNode',
      'encodePacket',
      'decodePacket',
      'peekHeader',
      'mcastPayloadBytesMax',
      'engineDefaults',
      'resolveEngineConfig',
      'validateEngineConfig',
      'deriveGatherSilenceMs',
      'deriveMaxMessages',
      'PacketType',
      'PROTOCOL_VERSION',
      'ringIdToString',
      'ringIdEquals',
      'AssertionError',
      'nodeCountMax',
      'sortQueueItemsMax',
      'windowSizeMax',
      'packetBytesMax',
    ]) {
      expect(engine, name).toHaveProperty(name);
      expect((engine as Record<string, unknown>)[name], name).toBeDefined();
    }
  });

  it('resolves a configuration with its derived timers', () => {
    const config = engine.resolveEngineConfig({ nodeId: 1 });
    expect(config.tokenTimeoutMs).toBe(engine.engineDefaults.tokenTimeoutMs);
    expect(config.gatherSilenceMs).toBe(engine.deriveGatherSilenceMs(config.tokenRetransmitMs, config.joinTimeoutMs));
    expect(config.maxMessages).toBe(engine.deriveMaxMessages(config.windowSize));
    expect(() => engine.resolveEngineConfig({ nodeId: 0 })).toThrow(/nodeId/);
  });

  it('encodes and decodes a packet round trip', () => {
    const token: TokenPacket = {
      type: 'token',
      sender: 3,
      ringId: { rep: 1, seq: 12n },
      tokenSeq: 7,
      seq: 40,
      aru: 38,
      aruAddr: 2,
      fcc: 5,
      backlog: 9,
      retransFlg: false,
      rtr: [{ ringId: { rep: 1, seq: 12n }, seq: 39 }],
    };
    const bytes = engine.encodePacket(token);
    expect(bytes[0]).toBe(engine.PROTOCOL_VERSION);
    expect(engine.peekHeader(bytes)).toEqual({ version: engine.PROTOCOL_VERSION, type: engine.PacketType.token, sender: 3 });
    expect(engine.decodePacket(bytes)).toEqual({ ok: true, packet: token });
    expect(engine.decodePacket(bytes.subarray(0, 5)).ok).toBe(false);
  });

  it('runs a TotemNode: a lone node forms its singleton ring', () => {
    let nowMs = 0;
    const loopback: Uint8Array[] = [];
    const confs: ConfigurationChange[] = [];
    const node = new engine.TotemNode(
      { nodeId: 1 },
      {
        send: (to, bytes, selfCopy) => {
          if (to === 1 || (to === 0 && selfCopy)) loopback.push(bytes);
        },
        storeRingSeq: () => {},
        deliver: () => {},
        configuration: (c) => confs.push(c),
      },
    );
    node.start(nowMs);
    for (; nowMs < 1000 && node.state !== 'operational'; nowMs++) {
      for (const bytes of loopback.splice(0)) node.onPacket(nowMs, bytes);
      if (node.nextTimerMs() <= nowMs) node.onTimer(nowMs);
      node.assertInvariants();
    }
    expect(node.state).toBe('operational');
    expect(node.members).toEqual([1]);
    expect(confs.map((c) => c.kind)).toEqual(['regular']);
    expect(engine.ringIdToString(node.ringId)).toBe(engine.ringIdToString(confs[0]?.ringId ?? { rep: 0, seq: 0n }));
  });
});
