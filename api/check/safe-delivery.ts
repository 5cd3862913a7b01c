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
  for (const [ringIndex, events] of model.safeByRing) {
    const ring = model.ringText(ringIndex);
    const members = model.identities.get(identityOf('regular', ring, null))?.members;
    if (members === undefined) continue;
    for (const member of members) {
      const instance = model.regularInstalls.get(`${member} ${ring}`);
      if (instance === undefined) {
        const firstEvent = events.get(0);
        const firstProc = model.procOfEvent(firstEvent);
        const id = model.id(model.store.messageOf(firstEvent));
        model.log.add('safe-delivery', () => ({
          message:
            `safe ${id} is delivered in regular ${ring}, but member ${member} never ` +
            `installed ${ring}`,
          witness: {
            processes: [model.keyOf(firstProc)],
            id,
            ring,
            lines: [model.atEvent(firstProc, firstEvent)],
          },
        }));
        continue;
      }
      const state = model.stateOf(instance.proc);
      const mayStop = model.options.allowInflight === true || state.proc.crashed;
      if (mayStop && !installsLaterRegular(model, instance)) continue;
      const following = state.confs[instance.index + 1];
      // Where a delivery counts: in C's stay, or in the transitional stay right after it.
      const countsEnd = following?.kind === 'transitional' ? following.endEvent : instance.endEvent;
      for (let i = 0; i < events.length; i += 1) {
        const firstEvent = events.get(i);
        const message = model.store.messageOf(firstEvent);
        const delivered = model.deliveryOf(instance.proc, message);
        if (delivered > instance.event && delivered < countsEnd) continue;
        const firstProc = model.procOfEvent(firstEvent);
        model.log.add('safe-delivery', () => ({
          message:
            `safe ${model.id(message)} is delivered in regular ${ring} at ` +
            `${model.keyOf(firstProc)}, but member ` +
            `${state.proc.key} ` +
            `${delivered === -1 ? 'never delivers it' : 'delivers it elsewhere'}` +
            (state.proc.crashed ? ' although it installed a later regular configuration' : ''),
          witness: {
            processes: [model.keyOf(firstProc), state.proc.key],
            id: model.id(message),
            ring,
            lines: [
              model.atEvent(firstProc, firstEvent),
              model.at(instance.proc, delivered === -1 ? instance.line : model.store.line(delivered)),
            ],
          },
        }));
      }
    }
  }
}
