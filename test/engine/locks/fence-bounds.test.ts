import { describe, expect, it } from 'vitest';
import { encodeLockMessage } from '../../../engine/locks/codec.js';
import { LockTable, type LockTableEvent } from '../../../engine/locks/lock-table.js';
import { majorityOf } from '../../../engine/locks/primary.js';
import { lock } from './harness.js';

describe('fencing tokens under a ring seq from a forged packet', () => {
  it('a ring seq beyond 2^44 adds nothing to the token: grants go on, tokens grow within 64 bits', () => {
    const events: LockTableEvent[] = [];
    const t = new LockTable({ nodeId: 1, incarnation: 11, primaryRule: majorityOf([1]) }, { event: (e) => events.push(e), send: () => undefined });
    const configure = (seq: bigint): void => {
      const ringId = { rep: 1, seq };
      for (const kind of ['transitional', 'regular'] as const) {
        t.onConfiguration({ kind, ringId, members: [1], joined: [], left: [], cause: 'join', causeNodes: [] });
      }
    };
    const fences = (): bigint[] => events.flatMap((e) => (e.ev === 'lk' && e.op === 'grant' && e.fence !== undefined ? [e.fence] : []));
    configure(8n);
    t.onDelivery(1, 11, encodeLockMessage(lock(1, 'a', 'EX')), false);
    configure((1n << 64n) - 4n);
    t.onDelivery(1, 11, encodeLockMessage(lock(2, 'b', 'EX')), false);
    t.onDelivery(1, 11, encodeLockMessage(lock(3, 'c', 'EX')), false);
    const [f1, f2, f3] = fences();
    expect(f1).toBe(8n << 20n);
    expect(f2).toBe((f1 as bigint) + 1n);
    expect(f3).toBe((f2 as bigint) + 1n);
  });
});
