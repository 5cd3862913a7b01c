/**
 * Messages of messageBytesMax (1 MiB by default) through the public API on the real threaded
 * runtime, three nodes over loopback UDP. The submit and delivery rings are about as large as one
 * such message (workers/runtime.ts), so each crosses both rings as parts (workers/ring/chunks.ts):
 * every node must deliver every message intact, in one order, with the small messages sent around
 * them in their places. Several 1 MiB sends issued at once also exercise backpressure: a send
 * waits while the one before it is still being written into the submit ring.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { GroupMessage } from '../../api/index.js';
import { useRealNodes } from './real-nodes.js';
import { seededBytes, waitFor } from '../workers/fixtures/runtime-cluster.js';

const real = useRealNodes();

function digest(bytes: Uint8Array): string {
  return `${bytes.length}:${createHash('sha256').update(bytes).digest('hex')}`;
}

describe('createNode on real workers: messages of messageBytesMax', () => {
  it('delivers 1 MiB messages intact and in one order at every node, small ones in their places', { timeout: 120_000 }, async () => {
    const nodes = await real.startRing(3);
    const mebibyte = 1024 * 1024;
    expect(nodes[0]?.messageBytesMax).toBe(mebibyte);
    const groups = await Promise.all(nodes.map((n) => n.join('big')));
    await waitFor(() => groups.every((g) => g.members.length === 3), 'every member in the group', 20_000);

    const seen = nodes.map(() => [] as string[]);
    groups.forEach((g, i) => g.on('message', (m: GroupMessage) => {
      seen[i]?.push(`${m.sender}/${digest(m.payload as Uint8Array)}`);
    }));

    // Node 1: small, 1 MiB, 1 MiB, small, 64 KiB + 1 (one part and one byte), 1 MiB, all sent
    // at once: all but the first wait in its FIFO while the one ahead is written. Node 2 at the
    // same time: 1 MiB and a small one. Node 3 only listens.
    const plan: [number, number[]][] = [
      [0, [16, mebibyte, mebibyte, 1, 64 * 1024 + 1, mebibyte]],
      [1, [mebibyte, 100]],
    ];
    const expected = new Map<string, number>();
    const sends: Promise<void>[] = [];
    for (const [index, sizes] of plan) {
      sizes.forEach((size, k) => {
        const bytes = seededBytes(size, (index + 1) * 100 + k);
        expected.set(`${index + 1}/${digest(bytes)}`, (index + 1) * 100 + k);
        sends.push((groups[index] as (typeof groups)[number]).send(bytes));
      });
    }
    await Promise.all(sends);
    const total = expected.size;
    await waitFor(() => seen.every((s) => s.length >= total), `${total} messages at every node`, 90_000);

    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    expect(seen[0]?.length).toBe(total);
    // Every message intact (the digest of what was sent), each sender's in the order it sent them.
    expect(new Set(seen[0])).toEqual(new Set(expected.keys()));
    for (const sender of [1, 2]) {
      const order = (seen[0] ?? []).filter((id) => id.startsWith(`${sender}/`)).map((id) => expected.get(id));
      expect(order).toEqual([...order].sort((a, b) => (a as number) - (b as number)));
    }

    const stats = await nodes[0]!.stats();
    const ring = (name: string): number => stats.rings.find((r) => r.name === name)?.capacityBytes ?? 0;
    // The rings stay small whatever messageBytesMax is: a message crosses them in parts.
    expect(ring('submit')).toBeLessThan(2 * mebibyte);
    expect(ring('delivery')).toBeLessThanOrEqual(2 * mebibyte);

    for (const n of nodes) await n.close({ drainTimeoutMs: 10_000 });
  });
});
