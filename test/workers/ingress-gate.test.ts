/**
 * The receive path's checks before and after the AEAD (workers/net/ingress-gate.ts), the sealed
 * format v2's binding of destination and cluster (packet-auth.ts), the fresh-salt budget, the
 * forgetting of idle incarnations, and the warn limiter (net/warn-limiter.ts).
 */
import { describe, expect, it } from 'vitest';
import { encodePacket } from '../../engine/wire/encode.js';
import type { Packet } from '../../engine/types.js';
import { IngressGate } from '../../workers/net/ingress-gate.js';
import {
  freshSaltBurst,
  incarnationIdleMs,
  PacketOpener,
  PacketSealer,
  sealedOverheadBytes,
} from '../../workers/net/packet-auth.js';
import type { ResolvedMember } from '../../workers/runtime-options.js';
import { WarnLimiter } from '../../workers/net/warn-limiter.js';

const key = new Uint8Array(32).fill(5);
const members: ResolvedMember[] = [1, 2, 3].map((nodeId) => ({
  nodeId,
  address: { host: '127.0.0.1', port: 40_000 + nodeId, family: 'IPv4' as const },
}));
const from = (nodeId: number): [string, number] => ['127.0.0.1', 40_000 + nodeId];
const mergeDetect = (sender: number): Uint8Array =>
  encodePacket({ type: 'mergeDetect', sender, ringId: { rep: sender, seq: 4n } } as Packet);
const frame = (sender: number, originator: number): Uint8Array =>
  encodePacket({
    type: 'mcast', sender, ringId: { rep: 1, seq: 4n }, seq: 7, originator, order: 'agreed', payload: new Uint8Array(3),
  } as Packet);

function gateOf(self: number, keyed = true, transport: 'udpu' | 'multicast' = 'udpu'): IngressGate {
  return new IngressGate({ self, members, transport, keyed });
}

describe('ingress gate, keyed', () => {
  it('passes a datagram sealed for this node or for every member, from the sender\'s own address', () => {
    const sealer = new PacketSealer(key, 2);
    const gate = gateOf(1);
    expect(gate.check(sealer.seal(mergeDetect(2), 1), ...from(2))).toBeNull();
    expect(gate.check(sealer.seal(mergeDetect(2)), ...from(2))).toBeNull();
  });

  it('refuses, before any crypto, a unicast copied to another member (not_for_me)', () => {
    const tokenFor3 = new PacketSealer(key, 2).seal(mergeDetect(2), 3);
    expect(gateOf(3).check(tokenFor3, ...from(2))).toBeNull();
    const gate = gateOf(1);
    expect(gate.check(tokenFor3, ...from(2))).toBe('not_for_me');
    expect(gate.counts.not_for_me).toBe(1);
  });

  it('refuses this node\'s own datagrams sent back to it, on every transport (own_packet)', () => {
    const own = new PacketSealer(key, 1).seal(mergeDetect(1), 2);
    expect(gateOf(1).check(own, ...from(2))).toBe('own_packet');
    // On multicast every broadcast comes back from the group: counted apart, as the normal echo.
    expect(gateOf(1, true, 'multicast').check(own, ...from(1))).toBe('own_echo');
    const ownPlain = mergeDetect(1);
    expect(gateOf(1, false).check(ownPlain, ...from(2))).toBe('own_packet');
  });

  it('refuses a sealer outside the member list even with the key (unlisted), and a wrong source (address_mismatch)', () => {
    const gate = gateOf(1);
    expect(gate.check(new PacketSealer(key, 99).seal(mergeDetect(99)), ...from(2))).toBe('unlisted');
    expect(gate.check(new PacketSealer(key, 2).seal(mergeDetect(2)), ...from(3))).toBe('address_mismatch');
    expect(gate.check(new PacketSealer(key, 2).seal(mergeDetect(2)), '127.0.0.1', 40_009)).toBe('address_mismatch');
    // Multicast checks no source address (a wildcard bind sends from any interface address).
    expect(gateOf(1, true, 'multicast').check(new PacketSealer(key, 2).seal(mergeDetect(2)), ...from(3))).toBeNull();
    expect(gate.counts.unlisted).toBe(1);
    expect(gate.counts.address_mismatch).toBe(2);
  });

  it('refuses runts and sealed version 1 before anything else', () => {
    const gate = gateOf(1);
    expect(gate.check(new Uint8Array(sealedOverheadBytes - 1), ...from(2))).toBe('runt');
    const v1 = new PacketSealer(key, 2).seal(mergeDetect(2));
    v1[0] = 1;
    expect(gate.check(v1, ...from(2))).toBe('version');
  });

  it('accepts a data frame retransmitted by a member other than its originator; refuses other packets naming another sender', () => {
    const gate = gateOf(1);
    // Node 3 retransmits node 2's frame: sealed by 3, header sender 2.
    expect(gate.checkOpened(frame(2, 2), 3)).toBeNull();
    expect(gate.checkOpened(frame(1, 1), 3)).toBeNull();
    expect(gate.checkOpened(frame(99, 99), 3)).toBe('unlisted');
    expect(gate.checkOpened(mergeDetect(2), 3)).toBe('sender_mismatch');
    expect(gate.checkOpened(mergeDetect(3), 3)).toBeNull();
  });
});

describe('ingress gate, unkeyed', () => {
  it('checks the header sender against the member list and its address; a frame may come from any member', () => {
    const gate = gateOf(1, false);
    expect(gate.check(mergeDetect(2), ...from(2))).toBeNull();
    expect(gate.check(mergeDetect(99), ...from(2))).toBe('unlisted');
    expect(gate.check(mergeDetect(2), ...from(3))).toBe('address_mismatch');
    expect(gate.check(frame(2, 2), ...from(3))).toBeNull();
    expect(gate.check(frame(2, 2), '127.0.0.1', 40_009)).toBe('address_mismatch');
    expect(gate.check(new Uint8Array(3), ...from(2))).toBe('runt');
  });
});

describe('sealed format v2 binds the cluster name', () => {
  it('refuses a datagram of another cluster that shares the key, as auth', () => {
    const other = new PacketSealer(key, 2, 'other');
    expect(new PacketOpener(key, { cluster: 'other' }).open(other.seal(mergeDetect(2))).ok).toBe(true);
    const r = new PacketOpener(key).open(other.seal(mergeDetect(2)));
    expect(r.ok ? 'ok' : r.reason).toBe('auth');
  });

  it('refuses a datagram whose destination was rewritten, as auth (the field is in the tag)', () => {
    const sealed = new PacketSealer(key, 2).seal(mergeDetect(2), 3);
    new DataView(sealed.buffer).setUint32(6, 1, true);
    const r = new PacketOpener(key).open(sealed);
    expect(r.ok ? 'ok' : r.reason).toBe('auth');
  });
});

describe('fresh-salt budget and bounded incarnations', () => {
  it(`lets a sender try ${freshSaltBurst} new salts at once, then 2 a second, without crypto beyond`, () => {
    let now = 0;
    const opener = new PacketOpener(key, { nowMs: () => now });
    const forged = (): Uint8Array => {
      const d = new PacketSealer(new Uint8Array(32).fill(9), 2).seal(mergeDetect(2));
      return d;
    };
    const reasons: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = opener.open(forged());
      reasons.push(r.ok ? 'ok' : r.reason);
    }
    expect(reasons.filter((r) => r === 'auth')).toHaveLength(freshSaltBurst);
    expect(reasons.filter((r) => r === 'budget')).toHaveLength(50 - freshSaltBurst);
    now += 1000;
    const after = [forged(), forged(), forged()].map((d) => opener.open(d)).map((r) => (r.ok ? 'ok' : r.reason));
    expect(after).toEqual(['auth', 'auth', 'budget']);
    // A real restart of node 2 gets through once the flood pauses for half a second.
    now += 500;
    expect(opener.open(new PacketSealer(key, 2).seal(mergeDetect(2))).ok).toBe(true);
    // Another sender's budget is its own.
    expect(opener.open(new PacketSealer(key, 3).seal(mergeDetect(3))).ok).toBe(true);
  });

  it('forgets an incarnation silent for 10 minutes, and a sender with nothing left', () => {
    let now = 0;
    const opener = new PacketOpener(key, { nowMs: () => now });
    const sealer = new PacketSealer(key, 2);
    expect(opener.open(sealer.seal(mergeDetect(2))).ok).toBe(true);
    expect(opener.incarnationCount(2)).toBe(1);
    now += incarnationIdleMs - 1;
    opener.sweep();
    expect(opener.incarnationCount(2)).toBe(1);
    now += 1;
    opener.sweep();
    expect(opener.incarnationCount(2)).toBe(0);
    expect(opener.senderCount).toBe(0);
  });
});

describe('warn limiter', () => {
  it('writes at most 16 lines per 10 s from 5,000 sources, keeps at most 64, and summarises the rest', () => {
    const lines: { message: string; fields: Record<string, unknown> }[] = [];
    const limiter = new WarnLimiter((message, fields) => lines.push({ message, fields }));
    for (let i = 0; i < 5000; i++) limiter.warn(i, `unlisted 10.0.${i >> 8}.${i & 255}:5405`, 'unlisted');
    expect(lines).toHaveLength(16);
    expect(limiter.sourceCount).toBeLessThanOrEqual(64);
    expect(limiter.heldBack).toBe(5000 - 16);
    limiter.tick(10_000);
    expect(lines).toHaveLength(17);
    expect(lines[16]?.message).toContain('held back 4984 warnings');
  });

  it('names a peer that keeps failing authentication once per window, with its count', () => {
    const lines: Record<string, unknown>[] = [];
    const limiter = new WarnLimiter((_m, fields) => lines.push(fields));
    for (let t = 0; t < 30_000; t += 100) limiter.warn(t, 'auth_failed 10.0.0.7:5405', 'auth failed', { address: '10.0.0.7:5405' });
    const named = lines.filter((f) => f.address === '10.0.0.7:5405');
    expect(named).toHaveLength(3);
    expect(named[0]?.events).toBe(1);
    // The next window's line carries what was held back in the previous one.
    expect(named[1]?.events).toBe(100);
  });
});
