/**
 * The verdict's vocabulary: the EVS properties P0–P18 by name (evs-spec.md §5), what a violation
 * and its witness hold, the checker's options and result, and the log that collects violations
 * while keeping at most `WITNESSES_PER_PROPERTY_MAX` witnesses per property.
 */
export const EVS_PROPERTIES = [
  { id: 'P0', name: 'trace-format' },
  { id: 'P1', name: 'no-creation' },
  { id: 'P2', name: 'unique-message-id' },
  { id: 'P3', name: 'message-integrity' },
  { id: 'P4', name: 'no-duplication' },
  { id: 'P5', name: 'self-delivery' },
  { id: 'P6', name: 'fifo' },
  { id: 'P7', name: 'total-order' },
  { id: 'P8', name: 'agreed-order-prefix' },
  { id: 'P9', name: 'same-configuration' },
  { id: 'P10', name: 'sender-in-configuration' },
  { id: 'P11', name: 'deliver-in-current-config' },
  { id: 'P12', name: 'configuration-agreement' },
  { id: 'P13', name: 'configuration-unique' },
  { id: 'P14', name: 'configuration-sequence' },
  { id: 'P15', name: 'transitional-rule' },
  { id: 'P16', name: 'virtual-synchrony' },
  { id: 'P17', name: 'safe-delivery' },
  { id: 'P18', name: 'liveness-settled' },
] as const;

export type PropertyName = (typeof EVS_PROPERTIES)[number]['name'];

/** Where to look: enough for an operator to open the files at the right lines. */
export interface Witness {
  /** Processes involved: "<node>.<incarnation>" (or "...#<part>" after an in-file crash line). */
  processes: string[];
  /** The message id concerned, if any. */
  id?: string;
  /** The ring concerned, if any. */
  ring?: string;
  /** Positions as "<file>:<line>" (1-based), or "<file>" for a problem with the file itself. */
  lines: string[];
}

export interface Violation {
  property: PropertyName;
  message: string;
  witness: Witness;
}

export interface CheckOptions {
  /** Check P18: the run has quiesced and every live node should agree (operator: --settled). */
  settled?: boolean;
  /** Relax P5 and P17 for traces read while nodes still run (operator: --allow-inflight). */
  allowInflight?: boolean;
}

export interface CheckCounts {
  processes: number;
  messagesSent: number;
  deliveries: number;
  configurationsInstalled: number;
}

export interface CheckResult {
  ok: boolean;
  /** At most `WITNESSES_PER_PROPERTY_MAX` per property; `violationCounts` counts all of them. */
  violations: Violation[];
  violationCounts: Record<PropertyName, number>;
  counts: CheckCounts;
  warnings: string[];
}

export const WITNESSES_PER_PROPERTY_MAX = 20;

export class ViolationLog {
  readonly counts = Object.fromEntries(EVS_PROPERTIES.map((p) => [p.name, 0])) as Record<
    PropertyName,
    number
  >;
  readonly stored: Violation[] = [];

  /** The message is built lazily: a badly broken trace may hold millions of violations. */
  add(property: PropertyName, build: () => { message: string; witness: Witness }): void {
    this.counts[property] += 1;
    if (this.counts[property] > WITNESSES_PER_PROPERTY_MAX) return;
    const { message, witness } = build();
    this.stored.push({ property, message, witness });
  }
}
