/**
 * The trace lines of docs/trace-contract.md: what every node writes (conf, send, deliver) and what
 * whoever stops a node appends to harness.jsonl (crash). Traces from all nodes of a run, read
 * together, are checked against the EVS properties of evs-spec.md §5 (see evs-checker.ts).
 *
 * The builders below produce the exact JSON of the contract, field order fixed (ev, node, then the
 * rest in the contract's order), so one simulator seed gives byte-identical trace files.
 */
import type { AppDelivery, ConfigurationChange, ConfigurationKind, Order, NodeId, RingId } from '../../engine/types.js';

/** `{"ev":"conf",...}`: a configuration installed, at its exact place in the delivery stream. */
export interface ConfTraceLine {
  ev: 'conf';
  node: string;
  kind: ConfigurationKind;
  /** "<rep>:<seq>". A transitional configuration carries the ring of the regular one after it. */
  ring: string;
  members: string[];
  t: number;
}

/** `{"ev":"send",...}`: an application message, when the application hands it to the node. */
export interface SendTraceLine {
  ev: 'send';
  node: string;
  /** "<sender>:<incarnation>:<counter>". */
  id: string;
  order: Order;
  group: string;
  t: number;
}

/** `{"ev":"deliver",...}`: an application message the ring delivered at this node. */
export interface DeliverTraceLine {
  ev: 'deliver';
  node: string;
  id: string;
  sender: string;
  order: Order;
  group: string;
  ring: string;
  t: number;
}

/** `{"ev":"crash","node":"3"}`: the node was stopped or killed (appended after it is gone). */
export interface CrashTraceLine {
  ev: 'crash';
  node: string;
}

export type TraceLine = ConfTraceLine | SendTraceLine | DeliverTraceLine | CrashTraceLine;

/** The file a node incarnation writes: `<nodeId>.<incarnation>.jsonl`. */
export function traceFileName(nodeId: NodeId | string, incarnation: number): string {
  return `${nodeId}.${incarnation}.jsonl`;
}

/** The file every stop of a node is recorded in. */
export const HARNESS_FILE_NAME = 'harness.jsonl';

/** A message id as the contract writes it: "<sender nodeId>:<sender incarnation>:<counter>". */
export function formatMessageId(sender: NodeId, incarnation: number, counter: number): string {
  return `${sender}:${incarnation}:${counter}`;
}

/** A ring id as the contract writes it: "<representative nodeId>:<ring seq>". */
export function formatRing(ring: RingId): string {
  return `${ring.rep}:${ring.seq}`;
}

export interface ConfLineInput {
  node: NodeId;
  kind: ConfigurationKind;
  ring: RingId;
  members: readonly NodeId[];
  tMs: number;
}

export interface SendLineInput {
  node: NodeId;
  /** The sender's own incarnation: the message id's middle part. */
  incarnation: number;
  counter: number;
  order: Order;
  group: string;
  tMs: number;
}

export interface DeliverLineInput {
  node: NodeId;
  sender: NodeId;
  /** The sender's incarnation, as carried in the message header. */
  incarnation: number;
  counter: number;
  order: Order;
  group: string;
  ring: RingId;
  tMs: number;
}

// Object literals keep insertion order in JSON.stringify, which is what fixes the field order.

export function confLine(input: ConfLineInput): string {
  const line: ConfTraceLine = {
    ev: 'conf',
    node: String(input.node),
    kind: input.kind,
    ring: formatRing(input.ring),
    members: input.members.map(String),
    t: input.tMs,
  };
  return JSON.stringify(line);
}

export function sendLine(input: SendLineInput): string {
  const line: SendTraceLine = {
    ev: 'send',
    node: String(input.node),
    id: formatMessageId(input.node, input.incarnation, input.counter),
    order: input.order,
    group: input.group,
    t: input.tMs,
  };
  return JSON.stringify(line);
}

export function deliverLine(input: DeliverLineInput): string {
  const line: DeliverTraceLine = {
    ev: 'deliver',
    node: String(input.node),
    id: formatMessageId(input.sender, input.incarnation, input.counter),
    sender: String(input.sender),
    order: input.order,
    group: input.group,
    ring: formatRing(input.ring),
    t: input.tMs,
  };
  return JSON.stringify(line);
}

/**
 * The deliver line of an engine delivery: the one mapping from the engine's event to the
 * contract's fields, used by the runtime's delivery worker and by the simulator alike.
 */
export function deliveryTraceLine(node: NodeId, d: AppDelivery, tMs: number): string {
  return deliverLine({
    node,
    sender: d.sender,
    incarnation: d.incarnation,
    counter: d.counter,
    order: d.order,
    group: d.group,
    ring: d.ringId,
    tMs,
  });
}

/** The conf line of an engine configuration change (the runtime's and the simulator's). */
export function configurationTraceLine(node: NodeId, c: Pick<ConfigurationChange, 'kind' | 'ringId' | 'members'>, tMs: number): string {
  return confLine({ node, kind: c.kind, ring: c.ringId, members: c.members, tMs });
}

export function crashLine(node: NodeId | string): string {
  const line: CrashTraceLine = { ev: 'crash', node: String(node) };
  return JSON.stringify(line);
}

/**
 * A trace to check. The simulator passes `{ files, harness }` straight from memory (file names as
 * keys, e.g. "3.1000.jsonl", lines without newlines); `readTraceDir` adds what only disk can tell.
 */
export interface TraceInput {
  files: ReadonlyMap<string, readonly string[]>;
  harness: readonly string[];
  /** Files (node files or harness.jsonl) whose last line had no terminating newline. */
  unterminated?: ReadonlySet<string>;
  /** Directory entries that are neither node trace files nor harness.jsonl. */
  strays?: readonly string[];
}
