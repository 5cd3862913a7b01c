/**
 * P18 liveness-settled (evs-spec.md §5), checked only for a settled run (`--settled`): once the
 * run has quiesced, the live nodes end in one regular configuration of exactly the live nodes and
 * have all delivered the same final messages.
 *
 * Interpretation where §5 leaves room: P18 checks messages only once the live nodes agree on
 * their final configuration; otherwise it reports the disagreement alone.
 */
import { describeConf, formatMembers, sameMembers } from './trace-model.js';
import type { ConfInstance, ProcState, TraceModel } from './trace-model.js';
import { EV_SEND } from './trace-store.js';

/**
 * P18 (settled runs): the live nodes end in one regular configuration whose members are exactly
 * the live nodes, and every message delivered in it, sent in it by a live node, or sent by a
 * live node and never delivered, is delivered by every live node.
 */
export function checkSettled(model: TraceModel): void {
  const live: ProcState[] = [];
  model.states.forEach((state, index) => {
    const next = model.states[index + 1];
    const last = next === undefined || next.proc.node !== state.proc.node;
    if (last && !state.proc.crashed) live.push(state);
  });
  const finals = settledConfiguration(model, live);
  if (finals !== null) checkSettledMessages(model, live, finals);
}

/**
 * P18, first half: every live process ends in the same regular configuration, whose members
 * are the live nodes. Returns the live processes' instances of it, or null if they do not.
 */
function settledConfiguration(
  model: TraceModel,
  live: readonly ProcState[],
): ConfInstance[] | null {
  if (live.length === 0) return null;
  const liveNodes = new Set(live.map((s) => s.proc.node));
  const finals: ConfInstance[] = [];
  for (const state of live) {
    const last = state.confs[state.confs.length - 1];
    if (last?.kind === 'regular') {
      finals.push(last);
      continue;
    }
    model.log.add('liveness-settled', () => ({
      message:
        `live ${state.proc.key} ends ` +
        (last === undefined
          ? 'without any configuration'
          : `in ${describeConf(last)}, not a regular configuration`),
      witness: {
        processes: [state.proc.key],
        lines: [last === undefined ? state.proc.file : model.at(last.proc, last.line)],
      },
    }));
  }
  const [first] = finals;
  if (first === undefined || finals.length !== live.length) return null;
  const split = finals.find((f) => f.ring !== first.ring);
  if (split !== undefined) {
    model.log.add('liveness-settled', () => ({
      message:
        `live nodes end in different regular configurations: ${first.ring} at ` +
        `${model.keyOf(first.proc)}, ` +
        `${split.ring} at ${model.keyOf(split.proc)}`,
      witness: {
        processes: [model.keyOf(first.proc), model.keyOf(split.proc)],
        lines: [model.at(first.proc, first.line), model.at(split.proc, split.line)],
      },
    }));
    return null;
  }
  if (!sameMembers(first.members, liveNodes)) {
    model.log.add('liveness-settled', () => ({
      message:
        `the final regular configuration ${first.ring} has members ` +
        `${formatMembers(first.members)}, ` +
        `but the live nodes are ${formatMembers([...liveNodes])}`,
      witness: {
        processes: [model.keyOf(first.proc)],
        ring: first.ring,
        lines: [model.at(first.proc, first.line)],
      },
    }));
    return null;
  }
  return finals;
}

/**
 * P18, second half: every message delivered in the final configuration, sent in it by a live
 * node, or sent by a live node and never delivered anywhere, is delivered by every live node.
 */
function checkSettledMessages(
  model: TraceModel,
  live: readonly ProcState[],
  finals: readonly ConfInstance[],
): void {
  const ring = finals[0]?.ring ?? '';
  const { store } = model;
  const required = new Map<number, { why: string; proc: number; line: number }>();
  const require = (message: number, why: string, proc: number, line: number): void => {
    if (!required.has(message)) required.set(message, { why, proc, line });
  };
  const inFinal = `the final regular configuration ${ring}`;
  for (const instance of finals) {
    const state = model.stateOf(instance.proc);
    for (const message of model.deliveriesOf(instance)) {
      const event = model.deliveryOf(instance.proc, message);
      const line = event === -1 ? instance.line : store.line(event);
      require(message, `delivered in ${inFinal}`, instance.proc, line);
    }
    for (let event = state.proc.eventStart; event < state.proc.eventEnd; event += 1) {
      if (store.kind(event) !== EV_SEND) continue;
      const message = store.messageOf(event);
      const line = store.line(event);
      if (line > instance.line) {
        require(message, `sent in ${inFinal}`, instance.proc, line);
      } else if (!model.deliveredAnywhere(message)) {
        require(message, 'sent by a live node and never delivered', instance.proc, line);
      }
    }
  }
  const liveIndexes = live.map((state) => model.states.indexOf(state));
  for (const [message, reason] of required) {
    for (const [i, state] of live.entries()) {
      if (model.deliveryOf(liveIndexes[i] ?? -1, message) !== -1) continue;
      model.log.add('liveness-settled', () => ({
        message: `${model.id(message)} (${reason.why}) is never delivered by live ${state.proc.key}`,
        witness: {
          processes: [model.keyOf(reason.proc), state.proc.key],
          id: model.id(message),
          ring: ring,
          lines: [model.at(reason.proc, reason.line), state.proc.file],
        },
      }));
    }
  }
}
