/**
 * Each EVS property of evs-spec §5 against a hand-written trace that breaks exactly it, and the
 * nearest trace that keeps it. Traces are tiny: node ids 1–4, incarnation 100 unless a restart is
 * the point, message ids "<node>:<incarnation>:<counter>".
 */
import { describe, expect, it } from 'vitest';
import { checkTrace, WITNESSES_PER_PROPERTY_MAX } from '../../api/check/evs-checker.js';
import type { CheckResult, PropertyName, Violation } from '../../api/check/evs-checker.js';
import { TraceBuilder, violated } from './trace-builder.js';

function only(result: CheckResult, property: PropertyName): Violation {
  expect(violated(result)).toEqual([property]);
  expect(result.ok).toBe(false);
  const first = result.violations[0];
  if (first === undefined) throw new Error('no violation stored');
  expect(first.property).toBe(property);
  return first;
}

function holds(result: CheckResult): void {
  expect(result.violations).toEqual([]);
  expect(result.ok).toBe(true);
}

/**
 * A run with every kind of membership change: 1, 2, 3 form ring 1:4; 3 crashes; 1 and 2 go
 * through transitional 1:8 (delivering an old-ring message in it) to regular 1:8; 3 restarts as
 * incarnation 500 alone in 3:12, then merges with them into 1:16.
 */
function realisticRun(): TraceBuilder {
  const b = new TraceBuilder();
  const [p1, p2, p3] = b.start([1, 2, 3], '1:4');
  if (p1 === undefined || p2 === undefined || p3 === undefined) throw new Error('start');
  p1.send(1).send(2, 'safe');
  p2.send(1);
  for (const p of [p1, p2, p3]) p.deliverAll('1:100:1', '2:100:1', '1:100:2');
  p1.send(3, 'safe');
  // 3 is killed before delivering the safe 1:100:3: exempt from P17 (it crashed in 1:4).
  p1.deliver('1:100:3');
  p2.deliver('1:100:3');
  b.harnessCrash(3);
  p2.send(2);
  for (const p of [p1, p2]) p.trans('1:8', [1, 2]).deliver('2:100:2').reg('1:8', [1, 2]);
  p1.send(4);
  p1.deliver('1:100:4');
  p2.deliver('1:100:4');
  const q3 = b.proc(3, 500).trans('3:12', []).reg('3:12', [3]).send(1).deliver('3:500:1');
  q3.trans('1:16', [3]).reg('1:16', [1, 2, 3]);
  for (const p of [p1, p2]) p.trans('1:16', [1, 2]).reg('1:16', [1, 2, 3]);
  q3.send(2);
  p2.send(3, 'safe');
  for (const p of [p1, p2, q3]) p.deliverAll('3:500:2', '2:100:3');
  return b;
}

describe('a realistic multi-node run', () => {
  it('holds every property, settled included', () => {
    const result = realisticRun().check({ settled: true });
    holds(result);
    expect(result.counts).toEqual({
      processes: 4,
      messagesSent: 9,
      deliveries: 3 * 3 + 2 + 2 + 2 + 1 + 3 * 2,
      configurationsInstalled: 3 * 2 + 2 * 2 + 2 + 2 + 2 * 2,
    });
  });

  it('is broken by a restarted node delivering an old-ring message in the final ring', () => {
    const b = realisticRun();
    b.proc(3, 500).deliver('2:100:2');
    expect(violated(b.check())).toContain('same-configuration');
  });
});

describe('P0 trace-format', () => {
  it('reports a non-JSON line, a missing field and a wrong node, with file and line', () => {
    const b = new TraceBuilder();
    b.start([1], '1:4');
    b.proc(1).raw('this is not json').raw('{"ev":"send","node":"1","t":5}');
    b.proc(1).raw('{"ev":"conf","node":"2","kind":"regular","ring":"1:4","members":["2"],"t":6}');
    const result = b.check();
    only(result, 'trace-format');
    expect(result.violationCounts['trace-format']).toBe(3);
    expect(result.violations.map((v) => v.witness.lines[0])).toEqual([
      '1.100.jsonl:3',
      '1.100.jsonl:4',
      '1.100.jsonl:5',
    ]);
    expect(result.violations[1]?.message).toContain('"id"');
  });

  it('reports stray files and bad file names, and bad harness lines', () => {
    const input = new TraceBuilder().input();
    const files = new Map(input.files);
    files.set('node-1.jsonl', []);
    const result = checkTrace(
      { files, harness: ['{"ev":"stop","node":"1"}'], strays: ['notes.txt'] },
      {},
    );
    only(result, 'trace-format');
    expect(result.violationCounts['trace-format']).toBe(3);
    const where = result.violations.flatMap((v) => v.witness.lines);
    expect(where).toEqual(expect.arrayContaining(['notes.txt', 'node-1.jsonl', 'harness.jsonl:1']));
  });

  it('only warns about an unterminated unparseable last line', () => {
    const b = new TraceBuilder();
    b.start([1], '1:4');
    b.proc(1).raw('{"ev":"send","node":"1","id":"1:1');
    const input = { ...b.input(), unterminated: new Set(['1.100.jsonl']) };
    const result = checkTrace(input, {});
    holds(result);
    expect(result.warnings).toEqual([expect.stringContaining('1.100.jsonl:3')]);
    // The same line terminated is a violation: something wrote garbage, not a cut-short write.
    only(checkTrace(b.input(), {}), 'trace-format');
  });

  it('holds for well-formed lines with extra fields', () => {
    const b = new TraceBuilder();
    b.start([1], '1:4');
    b.proc(1).raw('{"ev":"send","node":"1","id":"1:100:1","order":"safe","group":"g","t":9,"x":1}');
    b.proc(1).deliver('1:100:1', { order: 'safe' });
    holds(b.check());
  });
});

describe('P1 no-creation', () => {
  it('reports a delivery of a message nobody sent', () => {
    const b = new TraceBuilder();
    const [p1] = b.start([1, 2, 3], '1:4');
    p1?.deliver('3:100:7');
    const violation = only(b.check(), 'no-creation');
    expect(violation.witness).toMatchObject({
      id: '3:100:7',
      processes: ['1.100'],
      lines: ['1.100.jsonl:3'],
    });
  });

  it('reports a sender delivering its own message before its send line', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.deliver('1:100:1').send(1);
    p2?.deliver('1:100:1');
    const violation = only(b.check(), 'no-creation');
    expect(violation.witness.lines).toEqual(['1.100.jsonl:3', '1.100.jsonl:4']);
  });

  it('holds when every delivery follows its send', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1).deliver('1:100:1');
    p2?.deliver('1:100:1');
    holds(b.check());
  });
});

describe('P2 unique-message-id', () => {
  it('reports an id sent twice', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1).send(1).deliver('1:100:1');
    p2?.deliver('1:100:1');
    const violation = only(b.check(), 'unique-message-id');
    expect(violation.witness.lines).toEqual(['1.100.jsonl:3', '1.100.jsonl:4']);
  });

  it('reports an id that does not carry the sending incarnation', () => {
    const b = new TraceBuilder();
    const [p1] = b.start([1], '1:4');
    p1?.raw('{"ev":"send","node":"1","id":"1:99:1","order":"agreed","group":"g","t":1}');
    p1?.deliver('1:99:1');
    expect(only(b.check(), 'unique-message-id').witness.id).toBe('1:99:1');
  });

  it('holds across restarts, the incarnation keeping ids apart', () => {
    const b = new TraceBuilder();
    b.proc(1, 100).trans('1:4', []).reg('1:4', [1]).send(1).deliver('1:100:1');
    b.harnessCrash(1);
    b.proc(1, 200).trans('1:8', []).reg('1:8', [1]).send(1).deliver('1:200:1');
    holds(b.check());
  });
});

describe('P3 message-integrity', () => {
  it('reports a delivery whose group differs from the send line', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1).deliver('1:100:1');
    p2?.deliver('1:100:1', { group: 'other' });
    const violation = only(b.check(), 'message-integrity');
    expect(violation.message).toContain('group');
    expect(violation.witness.lines).toEqual(['2.100.jsonl:3', '1.100.jsonl:3']);
  });

  it('reports a delivery whose order or sender differs', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1).deliver('1:100:1');
    p2?.deliver('1:100:1', { order: 'safe', sender: 2 });
    const violation = only(b.check(), 'message-integrity');
    expect(violation.message).toMatch(/sender 2.*order safe/);
  });
});

describe('P4 no-duplication', () => {
  it('reports a message delivered twice by one process', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1).send(2).deliverAll('1:100:1', '1:100:2');
    p2?.deliverAll('1:100:1', '1:100:2', '1:100:1');
    const violation = only(b.check(), 'no-duplication');
    expect(violation.witness).toMatchObject({ processes: ['2.100'], id: '1:100:1' });
    expect(violation.witness.lines).toEqual(['2.100.jsonl:5', '2.100.jsonl:3']);
  });

  it('holds when the two deliveries are by two incarnations of the node', () => {
    const b = new TraceBuilder();
    b.proc(2, 100).trans('2:4', []).reg('2:4', [2]).send(1).deliver('2:100:1');
    const p3 = b.proc(3, 100).trans('2:8', []).reg('2:8', [2, 3]);
    void p3;
    holds(b.check());
  });
});

describe('P5 self-delivery', () => {
  function unsent(): TraceBuilder {
    const b = new TraceBuilder();
    const [p1] = b.start([1, 2], '1:4');
    p1?.send(1);
    return b;
  }

  it('reports a live sender that never delivers its message', () => {
    const violation = only(unsent().check(), 'self-delivery');
    expect(violation.witness).toMatchObject({ id: '1:100:1', lines: ['1.100.jsonl:3'] });
  });

  it('exempts a crashed sender', () => {
    holds(unsent().harnessCrash(1).check());
  });

  it('exempts an in-flight message with allowInflight until two later regular rings', () => {
    const b = unsent();
    holds(b.check({ allowInflight: true }));
    for (const p of [b.proc(1), b.proc(2)]) p.trans('1:8', [1, 2]).reg('1:8', [1, 2]);
    holds(b.check({ allowInflight: true }));
    for (const p of [b.proc(1), b.proc(2)]) p.trans('1:12', [1, 2]).reg('1:12', [1, 2]);
    only(b.check({ allowInflight: true }), 'self-delivery');
  });
});

describe('P6 fifo', () => {
  /** 1 sends three messages and crashes; 2 is the only one to deliver any. */
  function twoNodes(): TraceBuilder {
    const b = new TraceBuilder();
    const [p1] = b.start([1, 2], '1:4');
    p1?.send(1).send(2).send(3);
    b.harnessCrash(1);
    return b;
  }

  it('reports messages of one sender delivered out of send order', () => {
    const b = twoNodes();
    b.proc(2).deliverAll('1:100:2', '1:100:1');
    const violation = only(b.check(), 'fifo');
    expect(violation.witness).toMatchObject({
      id: '1:100:1',
      lines: ['2.100.jsonl:3', '2.100.jsonl:4'],
    });
  });

  it('reports a message skipped within one regular configuration', () => {
    const b = twoNodes();
    b.proc(2).deliverAll('1:100:1', '1:100:3');
    const violation = only(b.check(), 'fifo');
    expect(violation.witness.id).toBe('1:100:2');
    expect(violation.witness.lines).toContain('1.100.jsonl:4');
  });

  it('reports a skip into a transitional configuration that contains the sender', () => {
    const b = twoNodes();
    b.proc(2).deliver('1:100:1').trans('1:8', [1, 2]).deliver('1:100:3').reg('1:8', [1, 2]);
    only(b.check(), 'fifo');
  });

  it('allows a hole in a transitional configuration without the sender', () => {
    const b = twoNodes();
    b.proc(2).deliver('1:100:1').trans('2:8', [2]).deliver('1:100:3').reg('2:8', [2]);
    holds(b.check());
  });
});

describe('P7 total-order', () => {
  function transitionalPair(secondOrder: string[]): TraceBuilder {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1);
    p2?.send(1);
    p1?.trans('1:8', [1, 2]).deliverAll('1:100:1', '2:100:1').reg('1:8', [1, 2]);
    p2?.trans('1:8', [1, 2])
      .deliverAll(...secondOrder)
      .reg('1:8', [1, 2]);
    return b;
  }

  it('reports two processes delivering common messages in opposite orders', () => {
    const violation = only(transitionalPair(['2:100:1', '1:100:1']).check(), 'total-order');
    expect(violation.witness.processes.sort()).toEqual(['1.100', '2.100']);
    expect(violation.witness.lines).toEqual(
      expect.arrayContaining(['1.100.jsonl:5', '1.100.jsonl:6', '2.100.jsonl:5', '2.100.jsonl:6']),
    );
  });

  it('holds when they agree', () => {
    holds(transitionalPair(['1:100:1', '2:100:1']).check());
  });

  it('finds a cycle spread over three processes through configurations', () => {
    const b = new TraceBuilder();
    // Each process alone has a consistent order; together regular rings 1:4 → 1:8 → 1:12 → 1:4.
    b.proc(1).reg('1:4', [1]).trans('1:8', [1]).reg('1:8', [1]);
    b.proc(2).reg('1:8', [2]).trans('1:12', [2]).reg('1:12', [2]);
    b.proc(3).reg('1:12', [3]).trans('1:4', [3]).reg('1:4', [3]);
    const result = b.check();
    expect(violated(result)).toContain('total-order');
    expect(result.violationCounts['total-order']).toBe(1);
    const cycle = result.violations.find((v) => v.property === 'total-order');
    expect(cycle?.witness.processes.sort()).toEqual(['1.100', '2.100', '3.100']);
  });
});

describe('P8 agreed-order-prefix', () => {
  it('reports two deliveries sequences in one regular configuration that diverge', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1).send(2);
    p2?.send(1);
    p1?.deliverAll('1:100:1', '1:100:2');
    p2?.deliverAll('1:100:1', '2:100:1');
    const violation = only(b.check(), 'agreed-order-prefix');
    expect(violation.message).toContain('delivery #2');
    expect(violation.witness.ring).toBe('1:4');
  });

  it('holds for a process that delivered a prefix of the others', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1).send(2).deliverAll('1:100:1', '1:100:2');
    p2?.deliver('1:100:1');
    holds(b.check());
  });
});

describe('P9 same-configuration', () => {
  it('reports a message delivered in two different regular configurations', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p2?.send(1);
    p1?.deliver('2:100:1');
    b.harnessCrash(1);
    p2?.trans('1:8', [2]).reg('1:8', [2]).deliver('2:100:1');
    const violation = only(b.check(), 'same-configuration');
    expect(violation.witness).toMatchObject({
      id: '2:100:1',
      lines: ['1.100.jsonl:3', '2.100.jsonl:6'],
    });
  });

  it('holds for a delivery in the transitional configuration after the same regular one', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p2?.send(1);
    p1?.deliver('2:100:1');
    b.harnessCrash(1);
    p2?.trans('1:8', [2]).deliver('2:100:1').reg('1:8', [2]);
    holds(b.check());
  });
});

describe('P10 sender-in-configuration', () => {
  it('reports a message delivered in a configuration without its sender', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    b.proc(3).trans('3:4', []).reg('3:4', [3]).send(1);
    b.harnessCrash(3);
    p1?.deliver('3:100:1');
    p2?.deliver('3:100:1');
    const violation = only(b.check(), 'sender-in-configuration');
    expect(violation.witness).toMatchObject({ id: '3:100:1', ring: '1:4' });
  });
});

describe('P11 deliver-in-current-config', () => {
  it('reports a delivery whose ring is not the current configuration', () => {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1).deliver('1:100:1');
    p2?.deliver('1:100:1', { ring: '1:8' });
    const violation = only(b.check(), 'deliver-in-current-config');
    expect(violation.witness.lines).toEqual(['2.100.jsonl:3', '2.100.jsonl:2']);
  });

  it('reports a delivery before the first configuration', () => {
    const b = new TraceBuilder();
    const [p1] = b.start([1], '1:4');
    p1?.send(1).deliver('1:100:1');
    b.proc(4).deliver('1:100:1', { ring: '1:4' });
    only(b.check(), 'deliver-in-current-config');
  });
});

describe('P12 configuration-agreement', () => {
  it('reports members that differ between installers of one configuration', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1, 2]);
    b.proc(2).trans('1:4', []).reg('1:4', [1, 2, 3]);
    const violation = only(b.check(), 'configuration-agreement');
    expect(violation.witness.lines).toEqual(['1.100.jsonl:2', '2.100.jsonl:2']);
  });

  it('reports an installer that is not a member', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [2]);
    only(b.check(), 'configuration-agreement');
  });

  it('tolerates the empty first transitional configuration, but no later empty one', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1]);
    holds(b.check());
    b.proc(1).trans('1:8', []).reg('1:8', [1]);
    only(b.check(), 'configuration-agreement');
  });
});

describe('P13 configuration-unique', () => {
  it('reports a node installing the same regular ring again after a restart', () => {
    const b = new TraceBuilder();
    b.proc(1, 100).trans('1:4', []).reg('1:4', [1]);
    b.harnessCrash(1);
    b.proc(1, 200).trans('1:4', []).reg('1:4', [1]);
    const violation = only(b.check(), 'configuration-unique');
    expect(violation.witness).toMatchObject({
      processes: ['1.100', '1.200'],
      ring: '1:4',
      lines: ['1.100.jsonl:2', '1.200.jsonl:2'],
    });
  });

  it('holds when the restarted node forms a new ring', () => {
    const b = new TraceBuilder();
    b.proc(1, 100).trans('1:4', []).reg('1:4', [1]);
    b.harnessCrash(1);
    b.proc(1, 200).trans('1:8', []).reg('1:8', [1]);
    holds(b.check());
  });
});

describe('P14 configuration-sequence', () => {
  it('reports two regular configurations in a row', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1]).reg('1:8', [1]);
    const violation = only(b.check(), 'configuration-sequence');
    expect(violation.witness.lines).toEqual(['1.100.jsonl:2', '1.100.jsonl:3']);
  });

  it('reports two transitional configurations in a row', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1]).trans('1:8', [1]).trans('1:8', [1]);
    expect(violated(b.check())).toContain('configuration-sequence');
  });

  it('reports a transitional configuration announcing another ring than the next one', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1]).trans('1:8', [1]).reg('1:12', [1]);
    only(b.check(), 'configuration-sequence');
  });

  it('holds for a first regular configuration without a transitional one before it', () => {
    const b = new TraceBuilder();
    b.proc(1).reg('1:4', [1]).trans('1:8', [1]).reg('1:8', [1]);
    holds(b.check());
  });
});

describe('P15 transitional-rule', () => {
  it('reports a transitional member that was not in the preceding regular configuration', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1]).trans('1:8', [1, 3]).reg('1:8', [1, 3]);
    const violation = only(b.check(), 'transitional-rule');
    expect(violation.message).toContain('[3]');
  });

  it('reports a transitional member missing from the following regular configuration', () => {
    const b = new TraceBuilder();
    b.start([1, 2], '1:4');
    b.proc(1).trans('1:8', [1, 2]).reg('1:8', [1]);
    b.harnessCrash(2);
    only(b.check(), 'transitional-rule');
  });

  it('reports a transitional member that came to the new ring from elsewhere', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1, 2]).trans('1:8', [1, 2]).reg('1:8', [1, 2]);
    b.proc(2).trans('2:4', []).reg('2:4', [2]).trans('1:8', [2]).reg('1:8', [1, 2]);
    const violation = only(b.check(), 'transitional-rule');
    expect(violation.message).toContain('coming from 2:4');
    expect(violation.witness.lines).toEqual(['1.100.jsonl:3', '2.100.jsonl:4']);
  });

  it('reports processes going from C to C\u2032 together missing from each other\u2019s T', () => {
    const b = new TraceBuilder();
    b.start([1, 2], '1:4');
    b.proc(1).trans('1:8', [1]).reg('1:8', [1, 2]);
    b.proc(2).trans('1:8', [1, 2]).reg('1:8', [1, 2]);
    // One identity with two member sets is also a P12 violation: both are reported.
    expect(violated(b.check())).toEqual(['configuration-agreement', 'transitional-rule']);
  });

  it('holds for a merge of two rings, each side with its own transitional configuration', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1]).trans('1:8', [1]).reg('1:8', [1, 2]);
    b.proc(2).trans('2:4', []).reg('2:4', [2]).trans('1:8', [2]).reg('1:8', [1, 2]);
    holds(b.check());
  });
});

describe('P16 virtual-synchrony', () => {
  function change(secondDelivers: boolean): TraceBuilder {
    const b = new TraceBuilder();
    const [p1, p2] = b.start([1, 2], '1:4');
    p1?.send(1);
    p1?.trans('1:8', [1, 2]).deliver('1:100:1').reg('1:8', [1, 2]);
    p2?.trans('1:8', [1, 2]);
    if (secondDelivers) p2?.deliver('1:100:1');
    p2?.reg('1:8', [1, 2]);
    return b;
  }

  it('reports processes going from T to one next configuration with different sets in T', () => {
    const violation = only(change(false).check(), 'virtual-synchrony');
    expect(violation.witness).toMatchObject({
      processes: ['1.100', '2.100'],
      id: '1:100:1',
      ring: '1:8',
    });
    expect(violation.witness.lines).toEqual(['1.100.jsonl:5', '2.100.jsonl:3']);
  });

  it('holds when they deliver the same set', () => {
    holds(change(true).check());
  });
});

describe('P17 safe-delivery', () => {
  /** 1 delivers safe 1:100:1 in 1:4 and crashes; 2 never delivers it. */
  function safeUndelivered(): TraceBuilder {
    const b = new TraceBuilder();
    const [p1] = b.start([1, 2], '1:4');
    p1?.send(1, 'safe').deliver('1:100:1');
    b.harnessCrash(1);
    return b;
  }

  it('reports a member that moves on to a later regular configuration without the message', () => {
    const b = safeUndelivered();
    b.proc(2).trans('2:8', [2]).reg('2:8', [2]);
    const violation = only(b.check(), 'safe-delivery');
    expect(violation.witness).toMatchObject({
      processes: ['1.100', '2.100'],
      id: '1:100:1',
      ring: '1:4',
    });
  });

  it('reports a live member still in C, unless --allow-inflight', () => {
    const b = safeUndelivered();
    only(b.check(), 'safe-delivery');
    holds(b.check({ allowInflight: true }));
  });

  it('exempts a member that crashed before installing a later regular configuration', () => {
    holds(safeUndelivered().harnessCrash(2).check());
  });

  it('does not exempt a crashed member that had installed a later regular configuration', () => {
    const b = safeUndelivered();
    b.proc(2).trans('2:8', [2]).reg('2:8', [2]);
    b.harnessCrash(2);
    only(b.check({ allowInflight: true }), 'safe-delivery');
  });

  it('reports a member of C that never installed C', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1, 2]).send(1, 'safe').deliver('1:100:1');
    const violation = only(b.check({ allowInflight: true }), 'safe-delivery');
    expect(violation.message).toContain('never installed');
  });

  it('holds when the member delivers it in the transitional configuration after C', () => {
    const b = safeUndelivered();
    b.proc(2).trans('2:8', [2]).deliver('1:100:1').reg('2:8', [2]);
    holds(b.check());
  });
});

describe('P18 liveness-settled', () => {
  function unevenFinalRing(): TraceBuilder {
    const b = new TraceBuilder();
    const [p1] = b.start([1, 2], '1:4');
    p1?.send(1).deliver('1:100:1');
    return b;
  }

  it('is only checked with settled', () => {
    holds(unevenFinalRing().check());
  });

  it('reports a live node missing a message delivered in the final configuration', () => {
    const violation = only(unevenFinalRing().check({ settled: true }), 'liveness-settled');
    expect(violation.witness).toMatchObject({
      processes: ['1.100', '2.100'],
      id: '1:100:1',
      ring: '1:4',
    });
  });

  it('reports a final configuration whose members are not exactly the live nodes', () => {
    const b = new TraceBuilder();
    b.start([1, 2], '1:4');
    b.harnessCrash(2);
    const violation = only(b.check({ settled: true }), 'liveness-settled');
    expect(violation.message).toContain('live nodes are [1]');
  });

  it('reports a live node that ends in a transitional configuration', () => {
    const b = new TraceBuilder();
    b.proc(1).trans('1:4', []).reg('1:4', [1]).trans('1:8', [1]);
    only(b.check({ settled: true }), 'liveness-settled');
  });
});

describe('witness storage', () => {
  it('stores at most the cap of witnesses per property but counts every violation', () => {
    const b = new TraceBuilder();
    const [p1] = b.start([1], '1:4');
    for (let i = 0; i < WITNESSES_PER_PROPERTY_MAX + 5; i += 1) p1?.deliver(`1:100:${i + 1}`);
    const result = b.check();
    expect(result.violationCounts['no-creation']).toBe(WITNESSES_PER_PROPERTY_MAX + 5);
    expect(result.violations.filter((v) => v.property === 'no-creation')).toHaveLength(
      WITNESSES_PER_PROPERTY_MAX,
    );
  });
});
