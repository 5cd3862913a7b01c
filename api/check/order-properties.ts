/**
 * The order properties (evs-spec.md §5): P7 total-order, over the order graph that model-scan.ts
 * builds (order-graph.ts), and P8 agreed-order-prefix, per regular configuration.
 */
import type { ConfInstance, TraceModel } from './trace-model.js';
import { WITNESSES_PER_PROPERTY_MAX } from './violation-log.js';
import type { Witness } from './violation-log.js';

/** Most edges of a P7 cycle spelled out in its message; longer cycles are elided. */
const CYCLE_EDGES_SHOWN_MAX = 8;

/**
 * P7: one total order on messages and configuration changes is consistent with every process's
 * order, i.e. the union of the per-process orders is acyclic (a pairwise inversion is a cycle of
 * two edges). Each non-trivial strongly connected component of the order graph is one
 * violation, reported with one of its cycles.
 */
export function checkTotalOrder(model: TraceModel): void {
  const { componentCount, cycles } = model.graph.findCycles(WITNESSES_PER_PROPERTY_MAX);
  for (let i = 0; i < componentCount; i += 1) {
    model.log.add('total-order', () => describeCycle(model, cycles[i] ?? []));
  }
}

function describeCycle(
  model: TraceModel,
  cycle: readonly number[],
): { message: string; witness: Witness } {
  const graph = model.graph;
  const steps: string[] = [];
  const lines: string[] = [];
  const processes = new Set<string>();
  let id: string | undefined;
  cycle.forEach((edge, i) => {
    const { from, to, proc, fromLine, toLine } = graph.edgeAt(edge);
    const key = model.keyOf(proc);
    processes.add(key);
    if (id === undefined && graph.isMessage(from)) id = graph.label(from);
    if (i >= CYCLE_EDGES_SHOWN_MAX) return;
    steps.push(`${key} has ${graph.label(from)} before ${graph.label(to)}`);
    lines.push(model.at(proc, fromLine), model.at(proc, toLine));
  });
  if (cycle.length > CYCLE_EDGES_SHOWN_MAX)
    steps.push(`… ${cycle.length - CYCLE_EDGES_SHOWN_MAX} more`);
  return {
    message: `no total order of deliveries and configurations: ${steps.join('; ')}`,
    witness: { processes: [...processes], ...(id === undefined ? {} : { id }), lines },
  };
}

/** P8: in each regular configuration, every process's deliveries are a prefix of one sequence. */
export function checkPrefixOrder(model: TraceModel): void {
  const byRing = new Map<string, ConfInstance[]>();
  for (const state of model.states) {
    for (const instance of state.confs) {
      if (instance.kind !== 'regular') continue;
      const list = byRing.get(instance.ring) ?? [];
      byRing.set(instance.ring, list);
      list.push(instance);
    }
  }
  for (const [ring, instances] of byRing) {
    let longest = instances[0];
    for (const instance of instances) {
      if (longest === undefined || instance.deliveries.length > longest.deliveries.length)
        longest = instance;
    }
    if (longest === undefined) continue;
    const reference = longest;
    for (const instance of instances) {
      if (instance === reference) continue;
      const at = instance.deliveries.findIndex((id, i) => reference.deliveries[i] !== id);
      if (at === -1) continue;
      model.log.add('agreed-order-prefix', () => {
        const mine = instance.deliveries[at] ?? '';
        const theirs = reference.deliveries[at] ?? '';
        const myLine = model.stateOf(instance.proc).delivered.get(mine)?.line ?? instance.line;
        const theirLine =
          model.stateOf(reference.proc).delivered.get(theirs)?.line ?? reference.line;
        return {
          message:
            `in regular ${ring}, delivery #${at + 1} is ${mine} at ` +
            `${model.keyOf(instance.proc)} ` +
            `but ${theirs} at ${model.keyOf(reference.proc)}`,
          witness: {
            processes: [model.keyOf(instance.proc), model.keyOf(reference.proc)],
            id: mine,
            ring,
            lines: [model.at(instance.proc, myLine), model.at(reference.proc, theirLine)],
          },
        };
      });
    }
  }
}
