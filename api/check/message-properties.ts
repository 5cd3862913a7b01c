/**
 * The properties of single messages and of one sender's stream (evs-spec.md §5): P1 no-creation,
 * P2 unique-message-id, P3 message-integrity, P4 no-duplication, P5 self-delivery, P6 fifo.
 *
 * Interpretations where §5 leaves room:
 * - P2 also requires a send line's id to carry the sending node and incarnation, which is what
 *   makes ids unique across restarts.
 * - P6 orders one node's messages by its send lines across incarnations; a skip between two
 *   deliveries of one sender is allowed only across a regular configuration or a transitional one
 *   without that sender. A skip before a configuration's first delivery is not detectable: a send
 *   line does not say which ring the message was broadcast on.
 */
import { EV_CONF, EV_SEND } from './trace-store.js';
import { describeConf } from './trace-model.js';
import type { ConfInstance, FifoState, TraceModel } from './trace-model.js';

/** P1: only sent messages are delivered, and never by their sender before it sent them. */
export function checkCreation(model: TraceModel, index: number, event: number): void {
  const state = model.stateOf(index);
  const message = model.store.messageOf(event);
  const here = model.atEvent(index, event);
  const sendProc = model.sendProc[message] ?? -1;
  if (sendProc === -1) {
    model.log.add('no-creation', () => ({
      message: `${state.proc.key} delivers ${model.id(message)}, which no process sent`,
      witness: { processes: [state.proc.key], id: model.id(message), lines: [here] },
    }));
    return;
  }
  const sender = model.stateOf(sendProc);
  if (sender.proc.node !== state.proc.node) return;
  const sendEvent = model.sendEvent[message] ?? -1;
  const before =
    state.nodePosition < sender.nodePosition ||
    (sendProc === index && model.store.line(event) < model.store.line(sendEvent));
  if (before) {
    model.log.add('no-creation', () => ({
      message: `${state.proc.key} delivers its own ${model.id(message)} before sending it`,
      witness: {
        processes: [...new Set([state.proc.key, sender.proc.key])],
        id: model.id(message),
        lines: [here, model.atEvent(sendProc, sendEvent)],
      },
    }));
  }
}

/**
 * P2: an id is sent once cluster-wide, and carries its sender's node and incarnation. Returns
 * false for an id sent before, which takes no further part.
 */
export function checkUniqueId(model: TraceModel, index: number, event: number): boolean {
  const { proc } = model.stateOf(index);
  const message = model.store.messageOf(event);
  const { messages } = model.store;
  // Ids are unique by construction only if they carry the sender's node and incarnation.
  if (messages.sender(message) !== proc.node || messages.incarnation(message) !== proc.incarnation) {
    model.log.add('unique-message-id', () => ({
      message:
        `${proc.key} sends ${model.id(message)}, whose id does not carry its node and incarnation ` +
        `(${proc.node}:${proc.incarnation}), so it is not unique across restarts`,
      witness: { processes: [proc.key], id: model.id(message), lines: [model.atEvent(index, event)] },
    }));
  }
  const earlierProc = model.sendProc[message] ?? -1;
  if (earlierProc === -1) return true;
  const earlierEvent = model.sendEvent[message] ?? -1;
  model.log.add('unique-message-id', () => ({
    message: `${model.id(message)} is sent twice: by ${model.keyOf(earlierProc)} and ${proc.key}`,
    witness: {
      processes: [model.keyOf(earlierProc), proc.key],
      id: model.id(message),
      lines: [model.atEvent(earlierProc, earlierEvent), model.atEvent(index, event)],
    },
  }));
  return false;
}

/** P3: a delivery's sender, order and group are those of the send line. */
export function checkIntegrity(model: TraceModel, index: number, event: number): void {
  const { store } = model;
  const message = store.messageOf(event);
  const sendProc = model.sendProc[message] ?? -1;
  const sendEvent = model.sendEvent[message] ?? -1;
  const sender = store.sender(event);
  const mismatches: string[] = [];
  if (sendProc === -1) {
    const idSender = store.messages.sender(message);
    if (idSender !== sender) mismatches.push(`sender ${sender} ≠ id's ${idSender}`);
  } else {
    const sendNode = model.stateOf(sendProc).proc.node;
    if (sender !== sendNode) mismatches.push(`sender ${sender} ≠ ${sendNode}`);
    const order = store.order(event);
    const sentOrder = store.order(sendEvent);
    if (order !== sentOrder) mismatches.push(`order ${order} ≠ ${sentOrder}`);
    const group = store.group(event);
    const sentGroup = store.group(sendEvent);
    if (group !== sentGroup) {
      const [mine, sent] = [store.groups.text(group), store.groups.text(sentGroup)];
      mismatches.push(`group ${JSON.stringify(mine)} ≠ ${JSON.stringify(sent)}`);
    }
  }
  if (mismatches.length === 0) return;
  const key = model.keyOf(index);
  const here = model.atEvent(index, event);
  model.log.add('message-integrity', () => ({
    message: `${key} delivers ${model.id(message)} with ${mismatches.join(', ')} (as sent)`,
    witness: {
      processes: sendProc === -1 ? [key] : [key, model.keyOf(sendProc)],
      id: model.id(message),
      lines: sendProc === -1 ? [here] : [here, model.atEvent(sendProc, sendEvent)],
    },
  }));
}

/** P4: a process delivers an id at most once. Returns true for a duplicate (reported). */
export function reportDuplicate(model: TraceModel, index: number, event: number): boolean {
  const { store } = model;
  if (!store.isDuplicate(event)) return false;
  const { proc } = model.stateOf(index);
  const message = store.messageOf(event);
  model.log.add('no-duplication', () => ({
    message: `${proc.key} delivers ${model.id(message)} twice`,
    witness: {
      processes: [proc.key],
      id: model.id(message),
      ring: model.ringText(store.ring(event)),
      lines: [model.atEvent(index, event), model.atEvent(index, store.firstDelivery(event))],
    },
  }));
  return true;
}

/**
 * P5: a process that did not crash delivers every message it sent; with allowInflight only once
 * it has installed at least two regular configurations after the send line.
 */
export function checkSelfDelivery(model: TraceModel): void {
  const { store } = model;
  model.states.forEach((state, index) => {
    if (state.proc.crashed) return;
    let regularCount = 0;
    const regularTotal = state.confs.filter((c) => c.kind === 'regular').length;
    for (let event = state.proc.eventStart; event < state.proc.eventEnd; event += 1) {
      const kind = store.kind(event);
      if (kind === EV_CONF && store.confOf(event).kind === 'regular') regularCount += 1;
      if (kind !== EV_SEND) continue;
      const message = store.messageOf(event);
      if (model.deliveryOf(index, message) !== -1) continue;
      if (model.sendProc[message] !== index) continue; // a duplicate id: P2
      const laterRegular = regularTotal - regularCount;
      if (model.options.allowInflight === true && laterRegular < 2) continue;
      model.log.add('self-delivery', () => ({
        message:
          `${state.proc.key} sent ${model.id(message)} and did not crash, but never delivers it` +
          (model.options.allowInflight === true
            ? ` (${laterRegular} regular configurations later)`
            : ''),
        witness: {
          processes: [state.proc.key],
          id: model.id(message),
          lines: [model.atEvent(index, event)],
        },
      }));
    }
  });
}

/**
 * P6: one sender's messages arrive in send order, and between two of them no message of that
 * sender is skipped unless the process crossed a regular configuration or a transitional one
 * without the sender (where holes for absent senders are allowed) in between.
 */
export function checkFifo(
  model: TraceModel,
  index: number,
  event: number,
  current: ConfInstance | null,
  fifo: FifoState,
): void {
  const state = model.stateOf(index);
  const { store } = model;
  const message = store.messageOf(event);
  const node = model.sendNode(message) ?? '';
  const ordinal = model.ordinal[message] ?? 0;
  const last = fifo.get(node);
  const confIndex = current?.index ?? -1;
  if (last === undefined) {
    fifo.set(node, { ordinal, event, confIndex });
    return;
  }
  const lastOrdinal = last.ordinal;
  const lastEvent = last.event;
  const lastConfIndex = last.confIndex;
  if (ordinal > lastOrdinal) {
    last.ordinal = ordinal;
    last.event = event;
    last.confIndex = confIndex;
  }
  if (ordinal < lastOrdinal) {
    model.log.add('fifo', () => ({
      message:
        `${state.proc.key} delivers ${model.id(message)} after ` +
        `${model.id(store.messageOf(lastEvent))}, which node ${node} sent later`,
      witness: {
        processes: [state.proc.key],
        id: model.id(message),
        lines: [model.atEvent(index, lastEvent), model.atEvent(index, event)],
      },
    }));
    return;
  }
  if (ordinal === lastOrdinal + 1 || lastConfIndex === -1) return;
  for (let i = lastConfIndex + 1; i <= confIndex; i += 1) {
    const crossed = state.confs[i];
    if (crossed !== undefined && (crossed.kind === 'regular' || !crossed.memberSet.has(node)))
      return;
  }
  const skipped = model.nodeSends.get(node)?.get(lastOrdinal + 1) ?? -1;
  model.log.add('fifo', () => {
    const skippedProc = model.sendProc[skipped] ?? -1;
    return {
      message:
        `${state.proc.key} delivers ${model.id(store.messageOf(lastEvent))} then ` +
        `${model.id(message)} in ${describeConf(current as ConfInstance)}, ` +
        `skipping ${model.id(skipped)} sent between them by node ${node}`,
      witness: {
        processes: [state.proc.key],
        id: model.id(skipped),
        ring: model.ringText(store.ring(event)),
        lines: [
          model.atEvent(index, lastEvent),
          model.atEvent(index, event),
          ...(skippedProc === -1 ? [] : [model.atEvent(skippedProc, model.sendEvent[skipped] ?? -1)]),
        ],
      },
    };
  });
}
