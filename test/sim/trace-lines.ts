/**
 * The simulator's trace lines, built with workers/trace/trace-lines.ts so that they are exactly the
 * lines of docs/trace-contract.md (field order fixed: one seed gives byte-identical files).
 * `t` is virtual time.
 */
import { formatMessageId, sendLine as buildSendLine } from '../../workers/trace/trace-lines.js';
import type { Order } from '../../engine/types.js';

export {
  configurationTraceLine as confLine,
  crashLine,
  deliveryTraceLine as deliverLine,
  HARNESS_FILE_NAME,
  traceFileName,
} from '../../workers/trace/trace-lines.js';

export function messageId(sender: number, incarnation: number, counter: number): string {
  return formatMessageId(sender, incarnation, counter);
}

export function sendLine(nodeId: number, incarnation: number, counter: number, order: Order, group: string, tMs: number): string {
  return buildSendLine({ node: nodeId, incarnation, counter, order, group, tMs });
}
