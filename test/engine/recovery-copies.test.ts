import { describe, expect, it } from 'vitest';
import { decodePacket } from '../../engine/wire/codec.js';
import { PacketType } from '../../engine/types.js';
import { MiniCluster } from './mini-cluster.js';

const payload = (n: number): Uint8Array => new Uint8Array(900).fill(n & 0xff);

describe('Recovery re-broadcast (deviation 29)', () => {
  it('each old-ring frame goes on the new ring about once, not once per member holding it', () => {
    const ids = [1, 2, 3, 4, 5];
    const c = new MiniCluster(ids);
    c.startAll();
    c.run(3000);
    for (const id of ids) expect(c.lastRegular(id)?.members).toEqual(ids);
    for (const id of ids) c.node(id).joinGroup('g');
    c.run(200);

    // Node 4 hears no multicast for a while: 1, 2 and 3 hold frames above its aru.
    let deaf = true;
    const copies: string[] = [];
    c.filter = (p) => {
      if (p.type === PacketType.mcast) {
        const decoded = decodePacket(p.bytes);
        if (decoded.ok && decoded.packet.type === 'mcast' && decoded.packet.inner !== undefined && p.to === 1) {
          // One receiver's view counts each copy once.
          copies.push(`${decoded.packet.inner.ringId.rep}:${decoded.packet.inner.ringId.seq}:${decoded.packet.inner.seq}`);
        }
        if (deaf && p.to === 4) return false;
      }
      return true;
    };
    for (let i = 0; i < 60; i++) c.node(1).submit('g', payload(i), 'agreed');
    c.run(30);
    // Node 5 crashes: the change to [1,2,3,4] recovers the old ring's frames for node 4.
    deaf = false;
    c.crash(5);
    c.run(5000);

    for (const id of [1, 2, 3, 4]) expect(c.lastRegular(id)?.members).toEqual([1, 2, 3, 4]);
    const distinct = new Set(copies);
    expect(distinct.size).toBeGreaterThan(20);
    // Three members hold every frame; without the rule each sends all of them (3×).
    expect(copies.length).toBeLessThan(distinct.size * 1.5);
    // Node 4 delivered everything the others did, in the same order.
    const order = (id: number): string[] => c.deliveries(id).map((d) => `${d.sender}:${d.counter}`);
    expect(order(1)).toHaveLength(60);
    for (const id of [2, 3, 4]) expect(order(id)).toEqual(order(1));
  });
});
