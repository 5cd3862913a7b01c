/**
 * A sanity check that the checker stays near-linear: 5 processes each delivering 50,000 messages
 * (with a membership change in the middle and one message in ten safe) check in one go. No
 * timing is asserted; a quadratic pass would make this test time out.
 */
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../api/check/evs-checker.js';
import { confLine, deliverLine, sendLine } from '../../workers/trace/trace-lines.js';
import type { Order } from '../../engine/types.js';

const nodes = [1, 2, 3, 4, 5];
const perSender = 10_000;
const incarnation = 1000;

function syntheticRun(): Map<string, string[]> {
  const files = new Map<string, string[]>();
  const firstRing = { rep: 1, seq: 4n };
  const secondRing = { rep: 1, seq: 8n };
  const orderOf = (counter: number): Order => (counter % 10 === 0 ? 'safe' : 'agreed');
  for (const node of nodes) {
    const lines: string[] = [];
    let tMs = 0;
    const conf = (
      kind: 'regular' | 'transitional',
      ring: typeof firstRing,
      members: number[],
    ): void => {
      lines.push(confLine({ node, kind, ring, members, tMs: (tMs += 1) }));
    };
    conf('transitional', firstRing, []);
    conf('regular', firstRing, nodes);
    for (let counter = 1; counter <= perSender; counter += 1) {
      const ring = counter <= perSender / 2 ? firstRing : secondRing;
      if (counter === perSender / 2 + 1) {
        conf('transitional', secondRing, nodes);
        conf('regular', secondRing, nodes);
      }
      const order = orderOf(counter);
      lines.push(sendLine({ node, incarnation, counter, order, group: 'g', tMs: (tMs += 1) }));
      for (const sender of nodes) {
        lines.push(
          deliverLine({
            node,
            sender,
            incarnation,
            counter,
            order,
            group: 'g',
            ring,
            tMs: (tMs += 1),
          }),
        );
      }
    }
    files.set(`${node}.${incarnation}.jsonl`, lines);
  }
  return files;
}

describe('checker on a large trace', () => {
  it('checks 5 processes x 50k deliveries as valid', () => {
    const result = checkTrace({ files: syntheticRun(), harness: [] }, { settled: true });
    expect(result.violations).toEqual([]);
    expect(result.counts).toEqual({
      processes: 5,
      messagesSent: 5 * perSender,
      deliveries: 5 * 5 * perSender,
      configurationsInstalled: 5 * 4,
    });
  });

  it('still finds one inversion in it', () => {
    const files = syntheticRun();
    const lines = files.get('3.1000.jsonl') ?? [];
    // Swap two deliveries deep in node 3's second ring.
    const i = lines.length - 100;
    const a = lines[i] ?? '';
    lines[i] = lines[i + 1] ?? '';
    lines[i + 1] = a;
    const result = checkTrace({ files, harness: [] }, {});
    expect(result.violationCounts['total-order']).toBe(1);
  });
});
