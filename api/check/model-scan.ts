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
import type { ConfEvent, DeliverEvent } from './trace-reader.js';
import { identityOf } from './trace-model.js';
import type { ConfInstance, FifoState, TraceModel } from './trace-model.js';
import { checkSameConfiguration } from './virtual-synchrony.js';

/** Pass 1: every send line, so that deliveries anywhere can be matched to it (P2). */
export function indexSends(model: TraceModel): void {
  model.states.forEach(({ proc }, index) => {
    for (const event of proc.events) {
      if (event.ev !== 'send') continue;
      model.counts.messagesSent += 1;
      if (!checkUniqueId(model, index, event)) continue;
      const ids = model.nodeSends.get(proc.node) ?? [];
      model.nodeSends.set(proc.node, ids);
      model.sends.set(event.id, {
        proc: index,
        line: event.line,
        node: proc.node,
        ordinal: ids.length,
        order: event.order,
        group: event.group,
      });
      ids.push(event.id);
    }
  });
}

/** Pass 2: one process's configurations and deliveries, in its order. */
export function scanProcess(model: TraceModel, index: number): void {
  const state = model.stateOf(index);
  const fifo: FifoState = new Map();
  let current: ConfInstance | null = null;
  let prevRegular: ConfInstance | null = null;
  let previousVertex = -1;
  let previousLine = 0;
  for (const event of state.proc.events) {
    if (event.ev === 'send') continue;
    let vertex: number;
    if (event.ev === 'conf') {
      model.counts.configurationsInstalled += 1;
      const instance = installConf(model, index, event, current, prevRegular);
      current = instance;
      if (instance.kind === 'regular') prevRegular = instance;
      vertex = model.graph.vertex(`c ${instance.identity}`);
    } else {
      model.counts.deliveries += 1;
      if (!deliver(model, index, event, current, fifo)) continue;
      vertex = model.graph.vertex(`m ${event.id}`);
    }
    if (previousVertex !== -1)
      model.graph.edge(previousVertex, vertex, index, previousLine, event.line);
    previousVertex = vertex;
    previousLine = event.line;
  }
}

function installConf(
  model: TraceModel,
  index: number,
  event: ConfEvent,
  current: ConfInstance | null,
  prevRegular: ConfInstance | null,
): ConfInstance {
  const state = model.stateOf(index);
  const instance: ConfInstance = {
    proc: index,
    index: state.confs.length,
    kind: event.kind,
    ring: event.ring,
    members: event.members,
    memberSet: new Set(event.members),
    line: event.line,
    identity: identityOf(event.kind, event.ring, prevRegular?.ring ?? null),
    prevRegular,
    deliveries: [],
  };
  state.confs.push(instance);
  if (current !== null) checkSequence(model, current, instance);
  checkAgreement(model, instance);
  if (instance.kind === 'regular') checkUnique(model, instance);
  return instance;
}

/** Checks one deliver line; returns false for a duplicate, which takes no further part. */
function deliver(
  model: TraceModel,
  index: number,
  event: DeliverEvent,
  current: ConfInstance | null,
  fifo: FifoState,
): boolean {
  const state = model.stateOf(index);
  checkCurrentConfig(model, index, event, current);
  if (reportDuplicate(model, index, event)) return false;
  state.delivered.set(event.id, { line: event.line, confIndex: current?.index ?? -1 });
  current?.deliveries.push(event.id);

  const send = model.sends.get(event.id);
  checkCreation(model, index, event, send);
  checkIntegrity(model, index, event, send);
  if (send !== undefined) checkFifo(model, index, event, send, current, fifo);
  if (current !== null) checkSameConfiguration(model, index, event, current, send);
  if (current?.kind === 'regular' && event.order === 'safe') {
    const ids =
      model.safeByRing.get(current.ring) ?? new Map<string, { proc: number; line: number }>();
    model.safeByRing.set(current.ring, ids);
    if (!ids.has(event.id)) ids.set(event.id, { proc: index, line: event.line });
  }
  return true;
}
