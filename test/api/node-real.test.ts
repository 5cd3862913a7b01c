/**
 * The public API on the real threaded runtime over loopback UDP: three nodes in this process
 * join a group, exchange agreed and safe messages in one total order, see a member leave, and
 * close with messages still in flight without losing them.
 */
import { describe, expect, it } from 'vitest';
import type { GroupMessage } from '../../api/index.js';
import { TotemError } from '../../workers/errors.js';
import { useRealNodes } from './real-nodes.js';
import { waitFor } from '../workers/fixtures/runtime-cluster.js';

const real = useRealNodes();

describe('createNode on real workers', () => {
  it('joins, orders agreed and safe messages identically everywhere, leaves and closes without loss', { timeout: 60_000 }, async () => {
    const nodes = await real.startRing(3);
    const groups = await Promise.all(nodes.map((n) => n.join('g')));
    await waitFor(() => groups.every((g) => g.members.length === 3), 'every member in the group', 20_000);

    const seen = nodes.map(() => [] as string[]);
    groups.forEach((g, i) => g.on('message', (m: GroupMessage) => seen[i]?.push(`${m.id}/${m.order}`)));
    const perNode = 50;
    await Promise.all(
      groups.map(async (g, i) => {
        for (let k = 0; k < perNode; k++) {
          await g.send(new Uint8Array([i, k]), { order: k % 2 === 0 ? 'agreed' : 'safe' });
        }
      }),
    );
    await waitFor(() => seen.every((s) => s.length === 3 * perNode), 'every message everywhere', 20_000);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    expect(new Set(seen[0]).size).toBe(3 * perNode);

    await groups[2]?.leave();
    await waitFor(() => (groups[0]?.members.length ?? 0) === 2, 'the leave seen by node 1', 20_000);
    await expect(groups[2]?.send(new Uint8Array([9]))).rejects.toMatchObject({ code: 'TOTEM_ERR_NOT_JOINED' });

    // Close node 1 with its own messages still in flight: they are delivered before it goes.
    const own: string[] = [];
    groups[0]?.on('message', (m: GroupMessage) => {
      if (m.sender === 1) own.push(m.id);
    });
    const sends = Array.from({ length: 100 }, (_, k) => groups[0]?.send(new Uint8Array([k])));
    await Promise.all(sends);
    await nodes[0]?.close({ drainTimeoutMs: 10_000 });
    expect(own).toHaveLength(100);
    await expect(groups[0]?.send(new Uint8Array([1]))).rejects.toSatisfy((e: unknown) => TotemError.isTotemError(e) && e.code === 'TOTEM_ERR_CLOSED');
  });
});
