/**
 * Virtual synchrony (evs-spec.md §5): which regular configuration a message belongs to and what
 * processes that move together deliver. P9 same-configuration, P10 sender-in-configuration,
 * P16 virtual-synchrony.
 *
 * Interpretation where §5 leaves room: P9 reports a delivery in a transitional configuration that
 * follows no regular one (the empty first transitional), as it can belong to no regular
 * configuration.
 */
import { describeConf, formatMembers, identityOf } from './trace-model.js';
import type { ConfInstance, TraceModel } from './trace-model.js';

/**
 * P9: every delivery of m belongs to one regular configuration C: made in C, or in a
 * transitional configuration that follows C.
 */
export function checkSameConfiguration(
  model: TraceModel,
  index: number,
  event: number,
  current: ConfInstance,
): void {
  const key = model.keyOf(index);
  const message = model.store.messageOf(event);
  const base = current.kind === 'regular' ? current.ringIndex : current.prevRegular?.ringIndex;
  if (base === undefined) {
    model.log.add('same-configuration', () => ({
      message:
        `${key} delivers ${model.id(message)} in a transitional configuration that follows ` +
        'no regular one',
      witness: {
        processes: [key],
        id: model.id(message),
        ring: model.ringText(model.store.ring(event)),
        lines: [model.atEvent(index, event), model.at(index, current.line)],
      },
    }));
    return;
  }
  const first = model.baseRing[message] ?? -1;
  if (first === -1) {
    model.baseRing[message] = base;
    model.baseEvent[message] = event;
    model.baseOrder.push(message);
  } else if (first !== base) {
    const firstEvent = model.baseEvent[message] ?? -1;
    const firstProc = model.procOfEvent(firstEvent);
    model.log.add('same-configuration', () => ({
      message:
        `${model.id(message)} is delivered in regular ${model.ringText(first)} (or its ` +
        `transitional) at ${model.keyOf(firstProc)} but in ${describeConf(current)} at ${key}`,
      witness: {
        processes: [model.keyOf(firstProc), key],
        id: model.id(message),
        lines: [model.atEvent(firstProc, firstEvent), model.atEvent(index, event)],
      },
    }));
  }
}

/** P10: the sender of m is a member of the regular configuration m is delivered in. */
export function checkSenderInConfiguration(model: TraceModel): void {
  const membersByRing = new Map<number, Set<string> | undefined>();
  for (let i = 0; i < model.baseOrder.length; i += 1) {
    const message = model.baseOrder.get(i);
    const ringIndex = model.baseRing[message] ?? -1;
    const ring = model.ringText(ringIndex);
    let members = membersByRing.get(ringIndex);
    if (!membersByRing.has(ringIndex)) {
      members = model.identities.get(identityOf('regular', ring, null))?.members;
      membersByRing.set(ringIndex, members);
    }
    if (members === undefined) continue;
    const event = model.baseEvent[message] ?? -1;
    // The sender as the first delivery in its configuration saw it: its send line's node, else
    // the deliver line's sender.
    const sender = model.sendNode(message) ?? model.store.sender(event);
    if (members.has(sender)) continue;
    const proc = model.procOfEvent(event);
    model.log.add('sender-in-configuration', () => ({
      message:
        `${model.id(message)} from node ${sender} is delivered in regular ${ring} ` +
        `${formatMembers(members)}, which does not contain its sender`,
      witness: {
        processes: [model.keyOf(proc)],
        id: model.id(message),
        ring,
        lines: [model.atEvent(proc, event)],
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
  // mark[m] === stamp: m is delivered in the current reference instance.
  const mark = new Int32Array(model.store.messages.size);
  let stamp = 0;
  for (const instances of groups.values()) {
    const [reference, ...others] = instances;
    if (reference === undefined || others.length === 0) continue;
    stamp += 1;
    const referenceDeliveries = model.deliveriesOf(reference);
    for (const message of referenceDeliveries) mark[message] = stamp;
    for (const other of others) {
      const deliveries = model.deliveriesOf(other);
      const sameSize = deliveries.length === referenceDeliveries.length;
      if (sameSize && deliveries.every((message) => mark[message] === stamp)) continue;
      model.log.add('virtual-synchrony', () =>
        describeDifference(model, reference, referenceDeliveries, other, deliveries),
      );
    }
  }
}

function describeDifference(
  model: TraceModel,
  reference: ConfInstance,
  referenceDeliveries: Int32Array,
  other: ConfInstance,
  otherDeliveries: Int32Array,
): { message: string; witness: { processes: string[]; id: string; ring: string; lines: string[] } } {
  const referenceSet = new Set(referenceDeliveries);
  const otherSet = new Set(otherDeliveries);
  const onlyOther = otherDeliveries.find((message) => !referenceSet.has(message));
  const onlyReference = referenceDeliveries.find((message) => !otherSet.has(message));
  const [has, lacks, message] =
    onlyOther !== undefined
      ? [other, reference, onlyOther]
      : [reference, other, onlyReference ?? -1];
  const id = message === -1 ? '' : model.id(message);
  const next = model.stateOf(other.proc).confs[other.index + 1];
  const hasEvent = message === -1 ? -1 : model.deliveryOf(has.proc, message);
  const hasLine = hasEvent === -1 ? has.line : model.store.line(hasEvent);
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
}
