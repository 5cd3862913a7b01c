/**
 * Virtual synchrony (evs-spec.md §5): which regular configuration a message belongs to and what
 * processes that move together deliver. P9 same-configuration, P10 sender-in-configuration,
 * P16 virtual-synchrony.
 *
 * Interpretation where §5 leaves room: P9 reports a delivery in a transitional configuration that
 * follows no regular one (the empty first transitional), as it can belong to no regular
 * configuration.
 */
import type { DeliverEvent } from './trace-reader.js';
import { describeConf, formatMembers, identityOf } from './trace-model.js';
import type { ConfInstance, SendRecord, TraceModel } from './trace-model.js';

/**
 * P9: every delivery of m belongs to one regular configuration C: made in C, or in a
 * transitional configuration that follows C.
 */
export function checkSameConfiguration(
  model: TraceModel,
  index: number,
  event: DeliverEvent,
  current: ConfInstance,
  send: SendRecord | undefined,
): void {
  const key = model.keyOf(index);
  const here = model.at(index, event.line);
  const base = current.kind === 'regular' ? current.ring : current.prevRegular?.ring;
  if (base === undefined) {
    model.log.add('same-configuration', () => ({
      message:
        `${key} delivers ${event.id} in a transitional configuration that follows ` +
        'no regular one',
      witness: {
        processes: [key],
        id: event.id,
        ring: event.ring,
        lines: [here, model.at(index, current.line)],
      },
    }));
    return;
  }
  const first = model.bases.get(event.id);
  if (first === undefined) {
    const sender = send?.node ?? event.sender;
    model.bases.set(event.id, { base, proc: index, line: event.line, sender });
  } else if (first.base !== base) {
    model.log.add('same-configuration', () => ({
      message:
        `${event.id} is delivered in regular ${first.base} (or its transitional) at ` +
        `${model.keyOf(first.proc)} but in ${describeConf(current)} at ${key}`,
      witness: {
        processes: [model.keyOf(first.proc), key],
        id: event.id,
        lines: [model.at(first.proc, first.line), here],
      },
    }));
  }
}

/** P10: the sender of m is a member of the regular configuration m is delivered in. */
export function checkSenderInConfiguration(model: TraceModel): void {
  for (const [id, base] of model.bases) {
    const members = model.identities.get(identityOf('regular', base.base, null))?.members;
    if (members === undefined || members.has(base.sender)) continue;
    model.log.add('sender-in-configuration', () => ({
      message:
        `${id} from node ${base.sender} is delivered in regular ${base.base} ` +
        `${formatMembers(members)}, which does not contain its sender`,
      witness: {
        processes: [model.keyOf(base.proc)],
        id,
        ring: base.base,
        lines: [model.at(base.proc, base.line)],
      },
    }));
  }
}

/** P16: processes that go from X to the same next configuration deliver the same set in X. */
export function checkVirtualSynchrony(model: TraceModel): void {
  const groups = new Map<string, ConfInstance[]>();
  for (const state of model.states) {
    state.confs.forEach((instance, i) => {
      const next = state.confs[i + 1];
      if (next === undefined) return;
      const key = `${instance.identity} → ${next.identity}`;
      const list = groups.get(key) ?? [];
      groups.set(key, list);
      list.push(instance);
    });
  }
  for (const instances of groups.values()) {
    const [reference, ...others] = instances;
    if (reference === undefined) continue;
    const referenceSet = new Set(reference.deliveries);
    for (const other of others) {
      const sameSize = other.deliveries.length === referenceSet.size;
      if (sameSize && other.deliveries.every((id) => referenceSet.has(id))) continue;
      model.log.add('virtual-synchrony', () => {
        const otherSet = new Set(other.deliveries);
        const onlyOther = other.deliveries.find((id) => !referenceSet.has(id));
        const onlyReference = reference.deliveries.find((id) => !otherSet.has(id));
        const [has, lacks, id] =
          onlyOther !== undefined
            ? [other, reference, onlyOther]
            : [reference, other, onlyReference ?? ''];
        const next = model.stateOf(other.proc).confs[other.index + 1];
        const hasLine = model.stateOf(has.proc).delivered.get(id)?.line ?? has.line;
        return {
          message:
            `${model.keyOf(has.proc)} and ${model.keyOf(lacks.proc)} both go from ` +
            `${describeConf(other)} ` +
            `to ${next === undefined ? '?' : describeConf(next)}, but only ` +
            `${model.keyOf(has.proc)} delivers ${id} in it`,
          witness: {
            processes: [model.keyOf(has.proc), model.keyOf(lacks.proc)],
            id,
            ring: other.ring,
            lines: [model.at(has.proc, hasLine), model.at(lacks.proc, lacks.line)],
          },
        };
      });
    }
  }
}
