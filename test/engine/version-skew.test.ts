import { describe, expect, it } from 'vitest';
import { TotemNode } from '../../engine/node.js';
import { PROTOCOL_VERSION } from '../../engine/types.js';
import { encodePacket } from '../../engine/wire/codec.js';

describe('protocol version skew', () => {
  it('drops packets of another version, counts them, and says so once per peer with both versions', () => {
    const logs: string[] = [];
    const node = new TotemNode(
      { nodeId: 1 },
      {
        send: () => {},
        storeRingSeq: () => {},
        deliver: () => {},
        configuration: () => {},
        log: (level, message) => {
          if (level === 'warn') logs.push(message);
        },
      },
    );
    node.start(0);
    const foreign = encodePacket({ type: 'mergeDetect', sender: 7, ringId: { rep: 7, seq: 8n } });
    foreign[0] = PROTOCOL_VERSION + 1;
    node.onPacket(1, foreign);
    node.onPacket(2, foreign);
    expect(node.stats().packetsDropped.version).toBe(2);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain(`node 7 speaks protocol version ${PROTOCOL_VERSION + 1}`);
    expect(logs[0]).toContain(`this node speaks ${PROTOCOL_VERSION}`);
  });
});
