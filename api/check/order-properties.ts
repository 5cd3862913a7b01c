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
  const { componentCount, cycles } = model.graph.findCycles(WITNESSES_PER_PROPERTY_MAX, (edge) =>
    model.forEachOrderEdge(edge),
  );
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
    const { from, to, toEvent } = graph.edgeAt(edge);
    const proc = model.procOfEvent(toEvent);
    const key = model.keyOf(proc);
    processes.add(key);
    if (id === undefined && graph.isMessage(from)) id = graph.label(from);
    if (i >= CYCLE_EDGES_SHOWN_MAX) return;
    steps.push(`${key} has ${graph.label(from)} before ${graph.label(to)}`);
    lines.push(model.atEvent(proc, model.previousOrderEvent(toEvent)), model.atEvent(proc, toEvent));
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
      if (longest === undefined || instance.deliveryCount > longest.deliveryCount)
        longest = instance;
    }
    if (longest === undefined || instances.length < 2) continue;
    const reference = longest;
    const theirDeliveries = model.deliveriesOf(reference);
    for (const instance of instances) {
      if (instance === reference) continue;
      const myDeliveries = model.deliveriesOf(instance);
      const at = myDeliveries.findIndex((message, i) => theirDeliveries[i] !== message);
      if (at === -1) continue;
      model.log.add('agreed-order-prefix', () => {
        const mine = myDeliveries[at] ?? -1;
        const theirs = theirDeliveries[at] ?? -1;
        return {
          message:
            `in regular ${ring}, delivery #${at + 1} is ${idOrEmpty(model, mine)} at ` +
            `${model.keyOf(instance.proc)} ` +
            `but ${idOrEmpty(model, theirs)} at ${model.keyOf(reference.proc)}`,
          witness: {
            processes: [model.keyOf(instance.proc), model.keyOf(reference.proc)],
            id: idOrEmpty(model, mine),
            ring,
            lines: [deliveryAt(model, instance, mine), deliveryAt(model, reference, theirs)],
          },
        };
      });
    }
  }
}

function idOrEmpty(model: TraceModel, message: number): string {
  return message === -1 ? '' : model.id(message);
}

/** Where the process of `instance` delivered `message`, or its conf line if it did not. */
function deliveryAt(model: TraceModel, instance: ConfInstance, message: number): string {
  const event = message === -1 ? -1 : model.deliveryOf(instance.proc, message);
  return model.at(instance.proc, event === -1 ? instance.line : model.store.line(event));
}
