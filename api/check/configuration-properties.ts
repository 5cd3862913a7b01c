/**
 * The properties of configurations (evs-spec.md §5): P11 deliver-in-current-config,
 * P12 configuration-agreement, P13 configuration-unique, P14 configuration-sequence,
 * P15 transitional-rule. P11–P14 are checked line by line as model-scan.ts walks a process;
 * P15 over the whole model.
 *
 * Interpretation where §5 leaves room: P14 also requires a transitional configuration's ring to
 * equal the next regular one's, as the contract says it carries "the ring id of the regular
 * configuration it leads to".
 */
import { describeConf, formatMembers, sameMembers } from './trace-model.js';
import type { ConfInstance, TraceModel } from './trace-model.js';
import type { Witness } from './violation-log.js';

/** A regular installation that followed another regular one, with the transitional between. */
interface Transition {
  instance: ConfInstance;
  transitional: ConfInstance | null;
}

/** P11: a delivery carries the ring of the process's current configuration. */
export function checkCurrentConfig(
  model: TraceModel,
  index: number,
  event: number,
  current: ConfInstance | null,
): void {
  const { store } = model;
  // The store flags a delivery whose ring differs from its process's current configuration's.
  if (!store.isOtherRing(event)) return;
  const key = model.keyOf(index);
  const here = model.atEvent(index, event);
  const id = model.id(store.messageOf(event));
  const ring = model.ringText(store.ring(event));
  if (current === null) {
    model.log.add('deliver-in-current-config', () => ({
      message: `${key} delivers ${id} before installing any configuration`,
      witness: { processes: [key], id, ring, lines: [here] },
    }));
  } else {
    model.log.add('deliver-in-current-config', () => ({
      message: `${key} delivers ${id} with ring ${ring} while in ${describeConf(current)}`,
      witness: { processes: [key], id, ring, lines: [here, model.at(index, current.line)] },
    }));
  }
}

/**
 * P12: the installer is a member (except in the empty transitional configuration before a
 * process's first regular one), and all installers of one identity agree on its members.
 */
export function checkAgreement(model: TraceModel, instance: ConfInstance): void {
  const { proc: index, line } = instance;
  const { proc } = model.stateOf(index);
  const emptyFirst =
    instance.kind === 'transitional' && instance.index === 0 && instance.members.length === 0;
  if (!instance.memberSet.has(proc.node) && !emptyFirst) {
    model.log.add('configuration-agreement', () => ({
      message:
        `${proc.key} installs ${describeConf(instance)} without being a member ` +
        `${formatMembers(instance.members)}`,
      witness: { processes: [proc.key], ring: instance.ring, lines: [model.at(index, line)] },
    }));
  }
  const known = model.identities.get(instance.identity);
  if (known === undefined) {
    model.identities.set(instance.identity, { members: instance.memberSet, proc: index, line });
  } else if (!sameMembers(instance.members, known.members)) {
    model.log.add('configuration-agreement', () => ({
      message:
        `${describeConf(instance)} has members ${formatMembers(known.members)} at ` +
        `${model.keyOf(known.proc)} but ${formatMembers(instance.members)} at ${proc.key}`,
      witness: {
        processes: [model.keyOf(known.proc), proc.key],
        ring: instance.ring,
        lines: [model.at(known.proc, known.line), model.at(index, line)],
      },
    }));
  }
}

/** P13: ring ids are never reused, so a node installs a regular ring once, across restarts. */
export function checkUnique(model: TraceModel, instance: ConfInstance): void {
  const { proc } = model.stateOf(instance.proc);
  const key = `${proc.node} ${instance.ring}`;
  const earlier = model.regularInstalls.get(key);
  if (earlier === undefined) {
    model.regularInstalls.set(key, instance);
    return;
  }
  model.log.add('configuration-unique', () => ({
    message: `node ${proc.node} installs regular ${instance.ring} twice`,
    witness: {
      processes: [...new Set([model.keyOf(earlier.proc), proc.key])],
      ring: instance.ring,
      lines: [model.at(earlier.proc, earlier.line), model.at(instance.proc, instance.line)],
    },
  }));
}

/**
 * P14: after the first configuration, transitional and regular alternate, and a transitional
 * configuration carries the ring of the regular configuration it leads to.
 */
export function checkSequence(model: TraceModel, current: ConfInstance, next: ConfInstance): void {
  const key = model.keyOf(next.proc);
  const lines = [model.at(current.proc, current.line), model.at(next.proc, next.line)];
  const witness: Witness = { processes: [key], ring: next.ring, lines };
  if (current.kind === next.kind) {
    model.log.add('configuration-sequence', () => ({
      message: `${key} installs ${next.kind} ${next.ring} right after ${describeConf(current)}`,
      witness,
    }));
  } else if (current.kind === 'transitional' && current.ring !== next.ring) {
    model.log.add('configuration-sequence', () => ({
      message:
        `${key} installs regular ${next.ring} after transitional ${current.ring}, ` +
        'which announced another ring',
      witness,
    }));
  }
}

/**
 * P15: T ⊆ the preceding regular C and ⊆ the following regular C'; processes going from C to C'
 * together are in each other's T; a member of T that installed C' came to it from C.
 */
export function checkTransitionalRule(model: TraceModel): void {
  const together = new Map<string, Transition[]>();
  for (const state of model.states) {
    state.confs.forEach((instance, i) => {
      if (instance.kind === 'transitional') {
        checkTransitionalMembers(model, instance, state.confs[i + 1]);
        return;
      }
      if (instance.prevRegular === null) return;
      const before = state.confs[i - 1];
      const transitional =
        before?.kind === 'transitional' && before.ring === instance.ring ? before : null;
      const key = `${instance.prevRegular.ring} → ${instance.ring}`;
      const list = together.get(key) ?? [];
      together.set(key, list);
      list.push({ instance, transitional });
    });
  }
  for (const [key, transitions] of together) checkTogether(model, key, transitions);
}

/** P15 for one transitional configuration T: T ⊆ C, T ⊆ C', and T's members came from C. */
function checkTransitionalMembers(
  model: TraceModel,
  instance: ConfInstance,
  next: ConfInstance | undefined,
): void {
  const key = model.keyOf(instance.proc);
  const node = model.stateOf(instance.proc).proc.node;
  const fail = (message: string, extraLines: string[]): void =>
    model.log.add('transitional-rule', () => ({
      message,
      witness: {
        processes: [key],
        ring: instance.ring,
        lines: [model.at(instance.proc, instance.line), ...extraLines],
      },
    }));
  const previous = instance.prevRegular;
  const outsidePrevious = instance.members.filter((m) => previous?.memberSet.has(m) !== true);
  if (outsidePrevious.length > 0) {
    fail(
      `${key}: ${describeConf(instance)} ${formatMembers(instance.members)} holds ` +
        `${formatMembers(outsidePrevious)}, not in the preceding regular configuration` +
        (previous === null ? ' (there is none)' : ` ${formatMembers(previous.members)}`),
      previous === null ? [] : [model.at(previous.proc, previous.line)],
    );
  }
  if (next?.kind === 'regular') {
    const outsideNext = instance.members.filter((m) => !next.memberSet.has(m));
    if (outsideNext.length > 0) {
      fail(
        `${key}: ${describeConf(instance)} holds ${formatMembers(outsideNext)}, ` +
          `not in the following regular ${next.ring} ${formatMembers(next.members)}`,
        [model.at(next.proc, next.line)],
      );
    }
  }
  if (previous === null) return;
  for (const member of instance.members) {
    if (member === node) continue;
    const theirs = model.regularInstalls.get(`${member} ${instance.ring}`);
    if (theirs === undefined || theirs.prevRegular?.ring === previous.ring) continue;
    fail(
      `${key}: node ${member} is in ${describeConf(instance)} but installed regular ` +
        `${instance.ring} coming from ` +
        `${theirs.prevRegular?.ring ?? 'no regular configuration'}`,
      [model.at(theirs.proc, theirs.line)],
    );
  }
}

/** P15: processes that went from C to C' together are in each other's T. */
function checkTogether(model: TraceModel, key: string, transitions: readonly Transition[]): void {
  for (const entry of transitions) {
    const { transitional } = entry;
    if (transitional === null) continue;
    const mine = model.keyOf(entry.instance.proc);
    for (const other of transitions) {
      // Being in one's own T is P12's "installer ∈ members".
      if (other === entry) continue;
      const otherNode = model.stateOf(other.instance.proc).proc.node;
      if (transitional.memberSet.has(otherNode)) continue;
      model.log.add('transitional-rule', () => ({
        message:
          `${mine} and ${model.keyOf(other.instance.proc)} both go ${key}, but node ` +
          `${otherNode} is not in ${mine}'s ${describeConf(transitional)} ` +
          `${formatMembers(transitional.members)}`,
        witness: {
          processes: [mine, model.keyOf(other.instance.proc)],
          ring: transitional.ring,
          lines: [
            model.at(transitional.proc, transitional.line),
            model.at(other.instance.proc, other.instance.line),
          ],
        },
      }));
    }
  }
}
