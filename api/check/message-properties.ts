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
import { parseMessageId } from './trace-reader.js';
import type { DeliverEvent, SendEvent } from './trace-reader.js';
import { describeConf } from './trace-model.js';
import type { ConfInstance, FifoState, SendRecord, TraceModel } from './trace-model.js';

/** P1: only sent messages are delivered, and never by their sender before it sent them. */
export function checkCreation(
  model: TraceModel,
  index: number,
  event: DeliverEvent,
  send: SendRecord | undefined,
): void {
  const state = model.stateOf(index);
  const here = model.at(index, event.line);
  if (send === undefined) {
    model.log.add('no-creation', () => ({
      message: `${state.proc.key} delivers ${event.id}, which no process sent`,
      witness: { processes: [state.proc.key], id: event.id, lines: [here] },
    }));
    return;
  }
  if (send.node !== state.proc.node) return;
  const sender = model.stateOf(send.proc);
  const before =
    state.nodePosition < sender.nodePosition || (send.proc === index && event.line < send.line);
  if (before) {
    model.log.add('no-creation', () => ({
      message: `${state.proc.key} delivers its own ${event.id} before sending it`,
      witness: {
        processes: [...new Set([state.proc.key, sender.proc.key])],
        id: event.id,
        lines: [here, model.at(send.proc, send.line)],
      },
    }));
  }
}

/**
 * P2: an id is sent once cluster-wide, and carries its sender's node and incarnation. Returns
 * false for an id sent before, which takes no further part.
 */
export function checkUniqueId(model: TraceModel, index: number, event: SendEvent): boolean {
  const { proc } = model.stateOf(index);
  const parts = parseMessageId(event.id);
  // Ids are unique by construction only if they carry the sender's node and incarnation.
  if (
    parts !== null &&
    (parts.sender !== proc.node || parts.incarnation !== proc.incarnation)
  ) {
    model.log.add('unique-message-id', () => ({
      message:
        `${proc.key} sends ${event.id}, whose id does not carry its node and incarnation ` +
        `(${proc.node}:${proc.incarnation}), so it is not unique across restarts`,
      witness: { processes: [proc.key], id: event.id, lines: [model.at(index, event.line)] },
    }));
  }
  const earlier = model.sends.get(event.id);
  if (earlier === undefined) return true;
  model.log.add('unique-message-id', () => ({
    message: `${event.id} is sent twice: by ${model.keyOf(earlier.proc)} and ${proc.key}`,
    witness: {
      processes: [model.keyOf(earlier.proc), proc.key],
      id: event.id,
      lines: [model.at(earlier.proc, earlier.line), model.at(index, event.line)],
    },
  }));
  return false;
}

/** P3: a delivery's sender, order and group are those of the send line. */
export function checkIntegrity(
  model: TraceModel,
  index: number,
  event: DeliverEvent,
  send: SendRecord | undefined,
): void {
  const key = model.keyOf(index);
  const here = model.at(index, event.line);
  const mismatches: string[] = [];
  if (send === undefined) {
    const parts = parseMessageId(event.id);
    if (parts !== null && parts.sender !== event.sender)
      mismatches.push(`sender ${event.sender} ≠ id's ${parts.sender}`);
  } else {
    if (event.sender !== send.node) mismatches.push(`sender ${event.sender} ≠ ${send.node}`);
    if (event.order !== send.order) mismatches.push(`order ${event.order} ≠ ${send.order}`);
    if (event.group !== send.group)
      mismatches.push(`group ${JSON.stringify(event.group)} ≠ ${JSON.stringify(send.group)}`);
  }
  if (mismatches.length === 0) return;
  model.log.add('message-integrity', () => ({
    message: `${key} delivers ${event.id} with ${mismatches.join(', ')} (as sent)`,
    witness: {
      processes: send === undefined ? [key] : [key, model.keyOf(send.proc)],
      id: event.id,
      lines: send === undefined ? [here] : [here, model.at(send.proc, send.line)],
    },
  }));
}

/** P4: a process delivers an id at most once. Returns true for a duplicate (reported). */
export function reportDuplicate(model: TraceModel, index: number, event: DeliverEvent): boolean {
  const state = model.stateOf(index);
  const { proc } = state;
  const earlier = state.delivered.get(event.id);
  if (earlier !== undefined) {
    model.log.add('no-duplication', () => ({
      message: `${proc.key} delivers ${event.id} twice`,
      witness: {
        processes: [proc.key],
        id: event.id,
        ring: event.ring,
        lines: [model.at(index, event.line), model.at(index, earlier.line)],
      },
    }));
    return true;
  }
  return false;
}

/**
 * P5: a process that did not crash delivers every message it sent; with allowInflight only once
 * it has installed at least two regular configurations after the send line.
 */
export function checkSelfDelivery(model: TraceModel): void {
  model.states.forEach((state, index) => {
    if (state.proc.crashed) return;
    let regularCount = 0;
    const regularTotal = state.confs.filter((c) => c.kind === 'regular').length;
    for (const event of state.proc.events) {
      if (event.ev === 'conf' && event.kind === 'regular') regularCount += 1;
      if (event.ev !== 'send' || state.delivered.has(event.id)) continue;
      if (model.sends.get(event.id)?.proc !== index) continue; // a duplicate id: P2
      const laterRegular = regularTotal - regularCount;
      if (model.options.allowInflight === true && laterRegular < 2) continue;
      model.log.add('self-delivery', () => ({
        message:
          `${state.proc.key} sent ${event.id} and did not crash, but never delivers it` +
          (model.options.allowInflight === true
            ? ` (${laterRegular} regular configurations later)`
            : ''),
        witness: {
          processes: [state.proc.key],
          id: event.id,
          lines: [model.at(index, event.line)],
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
  event: DeliverEvent,
  send: SendRecord,
  current: ConfInstance | null,
  fifo: FifoState,
): void {
  const state = model.stateOf(index);
  const last = fifo.get(send.node);
  const confIndex = current?.index ?? -1;
  const here = model.at(index, event.line);
  if (last === undefined || send.ordinal > last.ordinal) {
    fifo.set(send.node, { ordinal: send.ordinal, line: event.line, id: event.id, confIndex });
  }
  if (last === undefined) return;
  if (send.ordinal < last.ordinal) {
    model.log.add('fifo', () => ({
      message:
        `${state.proc.key} delivers ${event.id} after ${last.id}, which node ` +
        `${send.node} sent later`,
      witness: {
        processes: [state.proc.key],
        id: event.id,
        lines: [model.at(index, last.line), here],
      },
    }));
    return;
  }
  if (send.ordinal === last.ordinal + 1 || last.confIndex === -1) return;
  for (let i = last.confIndex + 1; i <= confIndex; i += 1) {
    const crossed = state.confs[i];
    if (
      crossed !== undefined &&
      (crossed.kind === 'regular' || !crossed.memberSet.has(send.node))
    )
      return;
  }
  const skipped = model.nodeSends.get(send.node)?.[last.ordinal + 1] ?? '?';
  const skippedSend = model.sends.get(skipped);
  model.log.add('fifo', () => ({
    message:
      `${state.proc.key} delivers ${last.id} then ${event.id} in ` +
      `${describeConf(current as ConfInstance)}, ` +
      `skipping ${skipped} sent between them by node ${send.node}`,
    witness: {
      processes: [state.proc.key],
      id: skipped,
      ring: event.ring,
      lines: [
        model.at(index, last.line),
        here,
        ...(skippedSend === undefined ? [] : [model.at(skippedSend.proc, skippedSend.line)]),
      ],
    },
  }));
}
