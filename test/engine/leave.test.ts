/**
 * Graceful leave in the engine (engine/srp/leave.ts, engine/README.md deviation 28), by hand on
 * the mini cluster: the announce, its copies, the leaver going quiet, the receivers' rules (a
 * leave fails its sender at once; a late copy after the sender restarted changes nothing), and
 * a leaver that drains its own queued messages first.
 */
import { describe, expect, it } from 'vitest';
import { decodePacket } from '../../engine/wire/codec.js';
import { PacketType } from '../../engine/types.js';
import { MiniCluster, type Sent } from './mini-cluster.js';

function formed(): MiniCluster {
  const c = new MiniCluster([1, 2, 3]);
  c.startAll();
  c.run(3000);
  for (const id of [1, 2, 3]) expect(c.lastRegular(id)?.members).toEqual([1, 2, 3]);
  return c;
}

function joinsFrom(sent: Sent[], from: number): Sent[] {
  return sent.filter((p) => p.type === PacketType.join && p.from === from && p.to === from);
}

describe('graceful leave', () => {
  it('announces a join with itself failed, three copies, then takes no input; the others reconfigure with cause leave at once', () => {
    const c = formed();
    const sent: Sent[] = [];
    c.filter = (p) => {
      sent.push(p);
      return true;
    };
    const leftAtMs = c.nowMs;
    c.node(3).leaveRing(c.nowMs, 1000);
    c.run(20);
    expect(c.node(3).hasLeftRing).toBe(true);
    // One copy per destination and copy; the mini cluster sends every broadcast to every id.
    const copies = joinsFrom(sent, 3);
    expect(copies).toHaveLength(3);
    for (const copy of copies) {
      const r = decodePacket(copy.bytes);
      expect(r.ok && r.packet.type === 'join' && r.packet.failSet).toEqual([3]);
    }
    expect(c.node(3).nextTimerMs()).toBe(Infinity);
    const packetsBefore = sent.filter((p) => p.from === 3).length;
    c.run(2000);
    expect(sent.filter((p) => p.from === 3).length).toBe(packetsBefore);

    for (const id of [1, 2]) {
      const regular = c.lastRegular(id);
      expect(regular?.members).toEqual([1, 2]);
      expect(regular?.cause).toBe('leave');
      expect(regular?.causeNodes).toEqual([3]);
      const at = c.events.find((e) => e.kind === 'conf' && e.node === id && e.c.kind === 'regular' && e.c.members.length === 2)?.atMs ?? Infinity;
      expect(at - leftAtMs).toBeLessThan(100);
    }
  });

  it('a late copy of the leave, after the leaver restarted and rejoined, changes nothing', () => {
    const c = formed();
    const copies: Sent[] = [];
    c.filter = (p) => {
      if (p.type === PacketType.join && p.from === 3) copies.push(p);
      return true;
    };
    c.node(3).leaveRing(c.nowMs, 1000);
    c.run(500);
    c.crash(3);
    c.filter = () => true;
    c.startNode(3);
    c.run(3000);
    for (const id of [1, 2, 3]) expect(c.lastRegular(id)?.members).toEqual([1, 2, 3]);
    const confsBefore = c.confs(1).length;
    const late = copies[0] as Sent;
    c.node(1).onPacket(c.nowMs, late.bytes);
    c.node(2).onPacket(c.nowMs, late.bytes);
    c.run(2000);
    expect(c.confs(1).length).toBe(confsBefore);
    expect(c.node(1).state).toBe('operational');
  });

  it('drains first: messages queued at the leave are delivered at every member before the configuration without it', () => {
    const c = formed();
    const payload = new Uint8Array(1000);
    for (let i = 0; i < 300; i++) expect(c.node(3).submit('g', payload, i % 2 === 0 ? 'safe' : 'agreed')).not.toBe(false);
    c.node(3).leaveRing(c.nowMs, 1000);
    c.run(2000);
    expect(c.node(3).hasLeftRing).toBe(true);
    for (const id of [1, 2]) {
      expect(c.lastRegular(id)?.cause).toBe('leave');
      // Every one of the 300 from node 3, in its ring, before the configuration without it.
      const own: number[] = [];
      for (const e of c.events) {
        if (e.node !== id) continue;
        if (e.kind === 'conf' && e.c.kind === 'regular' && e.c.members.length === 2) break;
        if (e.kind === 'deliver' && e.d.sender === 3) own.push(e.d.counter);
      }
      expect(own).toHaveLength(300);
    }
  });

  it('a drain that cannot finish does not hold the leave back: announced when the wait runs out', () => {
    const c = formed();
    // No frame of node 3 reaches anyone else (retransmissions neither): never held everywhere.
    c.filter = (p) => !(p.from === 3 && p.to !== 3 && p.type === PacketType.mcast);
    for (let i = 0; i < 10; i++) c.node(3).submit('g', new Uint8Array(10), 'agreed');
    c.node(3).leaveRing(c.nowMs, 200);
    c.run(150);
    expect(c.node(3).hasLeftRing).toBe(false);
    c.run(100);
    expect(c.node(3).hasLeftRing).toBe(true);
  });
});
