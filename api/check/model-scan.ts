/**
 * Fills the model (trace-model.ts) in two passes over the parsed trace, and runs on the way the
 * checks that look at one line in the context of the lines before it:
 * - pass 1 indexes every send line, so that a delivery anywhere can be matched to it (P2);
 * - pass 2 walks each process in order: each conf line is checked against the process's previous
 *   configuration and the other installers of its identity (P12–P14), each deliver line against
 *   the current configuration, the send line and the earlier deliveries (P1, P3, P4, P6, P9,
 *   P11); both add a vertex to the P7 order graph.
 * The properties over the whole model run afterwards (evs-checker.ts).
 */
import { Int32Column } from './columns.js';
import {
  checkAgreement,
  checkCurrentConfig,
  checkSequence,
  checkUnique,
} from './configuration-properties.js';
import {
  checkCreation,
  checkFifo,
  checkIntegrity,
  checkUniqueId,
  reportDuplicate,
} from './message-properties.js';
import { EV_CONF, EV_SEND } from './trace-store.js';
import { identityOf } from './trace-model.js';
import type { ConfInstance, FifoState, TraceModel } from './trace-model.js';
import { checkSameConfiguration } from './virtual-synchrony.js';

/** Pass 1: every send line, so that deliveries anywhere can be matched to it (P2). */
export function indexSends(model: TraceModel): void {
  const { store } = model;
  model.states.forEach(({ proc }, index) => {
    for (let event = proc.eventStart; event < proc.eventEnd; event += 1) {
      if (store.kind(event) !== EV_SEND) continue;
      model.counts.messagesSent += 1;
      if (!checkUniqueId(model, index, event)) continue;
      let sends = model.nodeSends.get(proc.node);
      if (sends === undefined) {
        sends = new Int32Column();
        model.nodeSends.set(proc.node, sends);
      }
      const message = store.messageOf(event);
      model.sendEvent[message] = event;
      model.sendProc[message] = index;
      model.ordinal[message] = sends.push(message);
    }
  });
}

/** Pass 2: one process's configurations and deliveries, in its order. */
export function scanProcess(model: TraceModel, index: number): void {
  const state = model.stateOf(index);
  const { store } = model;
  const fifo: FifoState = new Map();
  let current: ConfInstance | null = null;
  let prevRegular: ConfInstance | null = null;
  for (let event = state.proc.eventStart; event < state.proc.eventEnd; event += 1) {
    const kind = store.kind(event);
    if (kind === EV_SEND) continue;
    if (kind === EV_CONF) {
      model.counts.configurationsInstalled += 1;
      const instance = installConf(model, index, event, current, prevRegular);
      if (current !== null) current.endEvent = event;
      current = instance;
      if (instance.kind === 'regular') prevRegular = instance;
    } else {
      model.counts.deliveries += 1;
      deliver(model, index, event, current, fifo);
    }
  }
}

function installConf(
  model: TraceModel,
  index: number,
  event: number,
  current: ConfInstance | null,
  prevRegular: ConfInstance | null,
): ConfInstance {
  const state = model.stateOf(index);
  const conf = model.store.confOf(event);
  const identity = identityOf(conf.kind, conf.ring, prevRegular?.ring ?? null);
  const instance: ConfInstance = {
    proc: index,
    index: state.confs.length,
    kind: conf.kind,
    ring: conf.ring,
    ringIndex: conf.ringIndex,
    members: conf.members,
    memberSet: new Set(conf.members),
    line: model.store.line(event),
    event,
    endEvent: state.proc.eventEnd,
    identity,
    prevRegular,
    deliveryCount: 0,
    vertex: model.graph.confVertex(identity),
  };
  state.confs.push(instance);
  if (current !== null) checkSequence(model, current, instance);
  checkAgreement(model, instance);
  if (instance.kind === 'regular') checkUnique(model, instance);
  return instance;
}

/** Checks one deliver line; a duplicate takes no further part. */
function deliver(
  model: TraceModel,
  index: number,
  event: number,
  current: ConfInstance | null,
  fifo: FifoState,
): void {
  const { store } = model;
  checkCurrentConfig(model, index, event, current);
  if (reportDuplicate(model, index, event)) return;
  const message = store.messageOf(event);
  if (current !== null) current.deliveryCount += 1;
  model.graph.addMessage(message);

  checkCreation(model, index, event);
  checkIntegrity(model, index, event);
  if (model.sendProc[message] !== -1) checkFifo(model, index, event, current, fifo);
  if (current !== null) checkSameConfiguration(model, index, event, current);
  if (current?.kind === 'regular' && store.order(event) === 'safe') {
    const ring = current.ringIndex;
    let events = model.safeByRing.get(ring);
    if (events === undefined) {
      events = new Int32Column();
      model.safeByRing.set(ring, events);
    }
    const listed = model.safeRing[message];
    if (listed === -1) {
      model.safeRing[message] = ring;
      events.push(event);
    } else if (listed !== ring && !model.safeMore.has(`${ring} ${message}`)) {
      model.safeMore.add(`${ring} ${message}`);
      events.push(event);
    }
  }
}
