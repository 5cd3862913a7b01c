/**
 * A small language for hand-written traces in tests: each process appends lines in call order,
 * with the contract's exact JSON (through the real line builders and MemoryTraceStore).
 */
import { checkTrace } from '../../api/check/evs-checker.js';
import type { CheckOptions, CheckResult, PropertyName } from '../../api/check/evs-checker.js';
import type { TraceInput } from '../../api/check/trace-reader.js';
import { confLine, deliverLine, sendLine } from '../../workers/trace/trace-lines.js';
import { MemoryTraceStore } from '../../workers/trace/trace-writer.js';
import type { MemoryTraceWriter } from '../../workers/trace/trace-writer.js';
import type { Order } from '../../engine/types.js';

function parseRing(ring: string): { rep: number; seq: bigint } {
  const [rep, seq] = ring.split(':');
  return { rep: Number(rep), seq: BigInt(seq ?? '0') };
}

export class TraceBuilder {
  readonly store = new MemoryTraceStore();
  readonly sent = new Map<string, { order: Order; group: string }>();
  private readonly procs = new Map<string, ProcBuilder>();
  tMs = 0;

  /** The process of node `node`, incarnation `incarnation` (created on first use). */
  proc(node: number, incarnation = 100): ProcBuilder {
    const key = `${node}.${incarnation}`;
    let proc = this.procs.get(key);
    if (proc === undefined) {
      proc = new ProcBuilder(this, node, incarnation, this.store.open(node, incarnation));
      this.procs.set(key, proc);
    }
    return proc;
  }

  /** Processes that each start with an empty transitional then the regular `ring` of them all. */
  start(nodes: number[], ring: string, incarnation = 100): ProcBuilder[] {
    return nodes.map((node) => this.proc(node, incarnation).trans(ring, []).reg(ring, nodes));
  }

  /** A crash line in harness.jsonl. */
  harnessCrash(node: number): this {
    this.store.appendHarnessCrash(node);
    return this;
  }

  input(): TraceInput {
    return this.store.toInput();
  }

  check(options: CheckOptions = {}): CheckResult {
    return checkTrace(this.input(), options);
  }
}

export class ProcBuilder {
  ring = '';

  constructor(
    private readonly trace: TraceBuilder,
    readonly node: number,
    readonly incarnation: number,
    readonly writer: MemoryTraceWriter,
  ) {}

  private tick(): number {
    this.trace.tMs += 1;
    return this.trace.tMs;
  }

  conf(kind: 'regular' | 'transitional', ring: string, members: number[]): this {
    this.ring = ring;
    this.writer.write(
      confLine({ node: this.node, kind, ring: parseRing(ring), members, tMs: this.tick() }),
    );
    return this;
  }

  reg(ring: string, members: number[]): this {
    return this.conf('regular', ring, members);
  }

  trans(ring: string, members: number[]): this {
    return this.conf('transitional', ring, members);
  }

  /** Sends message `<node>:<incarnation>:<counter>`; returns its id through `ids` if given. */
  send(counter: number, order: Order = 'agreed', group = 'g'): this {
    const id = `${this.node}:${this.incarnation}:${counter}`;
    this.trace.sent.set(id, { order, group });
    this.writer.write(
      sendLine({
        node: this.node,
        incarnation: this.incarnation,
        counter,
        order,
        group,
        tMs: this.tick(),
      }),
    );
    return this;
  }

  /** Delivers `id` in the current ring, with the order and group it was sent with by default. */
  deliver(
    id: string,
    overrides: Partial<{ sender: number; order: Order; group: string; ring: string }> = {},
  ): this {
    const [sender, incarnation, counter] = id.split(':').map(Number);
    const sent = this.trace.sent.get(id);
    const line = deliverLine({
      node: this.node,
      sender: sender ?? 0,
      incarnation: incarnation ?? 0,
      counter: counter ?? 0,
      order: overrides.order ?? sent?.order ?? 'agreed',
      group: overrides.group ?? sent?.group ?? 'g',
      ring: parseRing(overrides.ring ?? this.ring),
      tMs: this.tick(),
    });
    if (overrides.sender === undefined) {
      this.writer.write(line);
    } else {
      // A sender field that contradicts the id: only a broken node writes this.
      this.writer.write(line.replace(/"sender":"[0-9]+"/, `"sender":"${overrides.sender}"`));
    }
    return this;
  }

  deliverAll(...ids: string[]): this {
    for (const id of ids) this.deliver(id);
    return this;
  }

  raw(line: string): this {
    this.writer.write(line);
    return this;
  }
}

/** The names of the properties a result reports as violated, in table order. */
export function violated(result: CheckResult): PropertyName[] {
  return (Object.keys(result.violationCounts) as PropertyName[]).filter(
    (name) => result.violationCounts[name] > 0,
  );
}
