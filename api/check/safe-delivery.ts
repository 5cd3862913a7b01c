/**
 * P17 safe-delivery (evs-spec.md §5): a safe message delivered in a regular configuration C is
 * delivered by every member of C, in C or in the transitional configuration right after it.
 *
 * Interpretation where §5 leaves room: P17 requires every member of C to have installed C (a safe
 * delivery needs the token to have visited every member in C, and conf lines are written before
 * they take effect); the crash and inflight exemptions apply to delivering m.
 */
import { identityOf } from './trace-model.js';
import type { ConfInstance, TraceModel } from './trace-model.js';

function installsLaterRegular(model: TraceModel, instance: ConfInstance): boolean {
  const confs = model.stateOf(instance.proc).confs;
  for (let i = instance.index + 1; i < confs.length; i += 1) {
    if (confs[i]?.kind === 'regular') return true;
  }
  return false;
}

/**
 * P17: safe m delivered in regular C ⇒ every member of C installed C and delivered m in C or in
 * the transitional configuration right after it, unless that incarnation crashed before
 * installing a later regular configuration (allowInflight: unless it installed none yet).
 */
export function checkSafeDelivery(model: TraceModel): void {
  for (const [ring, ids] of model.safeByRing) {
    const members = model.identities.get(identityOf('regular', ring, null))?.members;
    if (members === undefined) continue;
    for (const member of members) {
      const instance = model.regularInstalls.get(`${member} ${ring}`);
      if (instance === undefined) {
        const [id, first] = ids.entries().next().value ?? ['', { proc: 0, line: 0 }];
        model.log.add('safe-delivery', () => ({
          message:
            `safe ${id} is delivered in regular ${ring}, but member ${member} never ` +
            `installed ${ring}`,
          witness: {
            processes: [model.keyOf(first.proc)],
            id,
            ring,
            lines: [model.at(first.proc, first.line)],
          },
        }));
        continue;
      }
      const state = model.stateOf(instance.proc);
      const mayStop = model.options.allowInflight === true || state.proc.crashed;
      if (mayStop && !installsLaterRegular(model, instance)) continue;
      const following = state.confs[instance.index + 1];
      for (const [id, first] of ids) {
        const delivered = state.delivered.get(id);
        const inC = delivered?.confIndex === instance.index;
        const inT =
          delivered !== undefined &&
          following?.kind === 'transitional' &&
          delivered.confIndex === following.index;
        if (inC || inT) continue;
        model.log.add('safe-delivery', () => ({
          message:
            `safe ${id} is delivered in regular ${ring} at ${model.keyOf(first.proc)}, but ` +
            `member ` +
            `${state.proc.key} ` +
            `${delivered === undefined ? 'never delivers it' : 'delivers it elsewhere'}` +
            (state.proc.crashed ? ' although it installed a later regular configuration' : ''),
          witness: {
            processes: [model.keyOf(first.proc), state.proc.key],
            id,
            ring,
            lines: [
              model.at(first.proc, first.line),
              model.at(instance.proc, delivered?.line ?? instance.line),
            ],
          },
        }));
      }
    }
  }
}
