/**
 * The simulator's trace lines, built with api/tracing/trace-types.ts so that they are exactly the
 * lines of docs/trace-contract.md (field order fixed: one seed gives byte-identical files).
 * `t` is virtual time.
 */
import { confLine as buildConfLine, deliverLine as buildDeliverLine, formatMessageId, sendLine as buildSendLine } from '../../api/tracing/trace-types.js';
import type { AppDelivery, ConfigurationChange, Guarantee } from '../../engine/types.js';

export { crashLine, HARNESS_FILE_NAME, traceFileName } from '../../api/tracing/trace-types.js';

export function messageId(sender: number, incarnation: number, counter: number): string {
  return formatMessageId(sender, incarnation, counter);
}

export function sendLine(nodeId: number, incarnation: number, counter: number, order: Guarantee, group: string, tMs: number): string {
  return buildSendLine({ node: nodeId, incarnation, counter, order, group, tMs });
}

export function deliverLine(nodeId: number, d: AppDelivery, tMs: number): string {
  return buildDeliverLine({
    node: nodeId,
    sender: d.sender,
    incarnation: d.incarnation,
    counter: d.counter,
    order: d.guarantee,
    group: d.group,
    ring: d.ringId,
    tMs,
  });
}

export function confLine(nodeId: number, c: ConfigurationChange, tMs: number): string {
  return buildConfLine({ node: nodeId, kind: c.kind, ring: c.ringId, members: c.members, tMs });
}
