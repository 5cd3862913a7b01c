import { describe, expect, it } from 'vitest';
import { MiniCluster } from './mini-cluster.js';

const payload = (n: number): Uint8Array => new Uint8Array([n & 0xff, (n >> 8) & 0xff]);

describe('ring formation', () => {
  it('a lone node forms a singleton ring and delivers its own messages', () => {
    const c = new MiniCluster([1]);
    c.startAll();
    c.run(500);
    const reg = c.lastRegular(1);
    expect(reg?.members).toEqual([1]);
    expect(c.confs(1, 'transitional')).toHaveLength(0);
    c.node(1).joinGroup('g');
    c.node(1).submit('g', payload(7), 'agreed');
    c.node(1).submit('g', payload(8), 'safe');
    c.run(1000);
    expect(c.deliveries(1).map((d) => [d.counter, d.guarantee, d.local])).toEqual([
      [1, 'agreed', true],
      [2, 'safe', true],
    ]);
  });

  it('three nodes started together settle into one ring', () => {
    const c = new MiniCluster([1, 2, 3]);
    c.startAll();
    c.run(5000);
    for (const id of [1, 2, 3]) {
      expect(c.lastRegular(id)?.members).toEqual([1, 2, 3]);
      expect(c.node(id).state).toBe('operational');
    }
    const rings = [1, 2, 3].map((id) => c.lastRegular(id)?.ringId);
    expect(new Set(rings.map((r) => `${r?.rep}:${r?.seq}`)).size).toBe(1);
  });
});
