/**
 * Checks a run's traces against the EVS properties of evs-spec.md §5 (P0–P18), which paraphrase
 * the specifications of [EVS] §3 in terms a trace can show. This is the room's entry point: it
 * parses the trace (trace-reader.ts, P0), builds the model (trace-model.ts, model-scan.ts), runs
 * the property groups over it and returns the verdict (violation-log.ts). README.md in this folder
 * maps each property to the file that checks it.
 *
 * Cost: every property is checked in time near-linear in the number of lines; the only global
 * structure is the P7 order graph (one vertex per message and configuration, one edge per pair of
 * consecutive events of a process), whose cycles are found with an iterative Tarjan SCC pass
 * (order-graph.ts). Memory: a few bytes per line and a few dozen per message, in typed arrays
 * (trace-store.ts, trace-model.ts); no line's text is kept.
 *
 * Interpretations where §5 leaves room (each is also stated where it is checked):
 * - P2 also requires a send line's id to carry the sending node and incarnation, which is what
 *   makes ids unique across restarts.
 * - P6 orders one node's messages by its send lines across incarnations; a skip between two
 *   deliveries of one sender is allowed only across a regular configuration or a transitional one
 *   without that sender. A skip before a configuration's first delivery is not detectable: a send
 *   line does not say which ring the message was broadcast on.
 * - P9: a delivery in a transitional configuration that follows no regular one (the empty first
 *   transitional) can belong to no regular configuration and is reported.
 * - P14 also requires a transitional configuration's ring to equal the next regular one's, as the
 *   contract says it carries "the ring id of the regular configuration it leads to".
 * - P17 requires every member of C to have installed C (a safe delivery needs the token to have
 *   visited every member in C, and conf lines are written before they take effect); the crash and
 *   inflight exemptions apply to delivering m.
 * - P18 checks messages only once the live nodes agree on their final configuration; otherwise it
 *   reports the disagreement alone.
 */
import { checkTransitionalRule } from './configuration-properties.js';
import { checkSelfDelivery } from './message-properties.js';
import { indexSends, scanProcess } from './model-scan.js';
import { checkPrefixOrder, checkTotalOrder } from './order-properties.js';
import { checkSafeDelivery } from './safe-delivery.js';
import { checkSettled } from './settled-state.js';
import { TraceModel } from './trace-model.js';
import { parseTrace } from './trace-reader.js';
import type { FormatProblem, ParsedTrace, TraceInput } from './trace-reader.js';
import { ViolationLog } from './violation-log.js';
import type { CheckOptions, CheckResult } from './violation-log.js';
import { checkSenderInConfiguration, checkVirtualSynchrony } from './virtual-synchrony.js';

export { EVS_PROPERTIES, WITNESSES_PER_PROPERTY_MAX } from './violation-log.js';
export type {
  CheckCounts,
  CheckOptions,
  CheckResult,
  PropertyName,
  Violation,
  Witness,
} from './violation-log.js';

/** Checks a whole trace. Synchronous and pure: the same input always gives the same result. */
export function checkTrace(input: TraceInput, options: CheckOptions = {}): CheckResult {
  return checkParsedTrace(parseTrace(input), options);
}

/**
 * Checks a trace already parsed, e.g. streamed from a directory (trace-reader.ts,
 * `streamTraceDir`). Synchronous and pure like `checkTrace`.
 */
export function checkParsedTrace(parsed: ParsedTrace, options: CheckOptions = {}): CheckResult {
  const log = new ViolationLog();
  const warnings = [...parsed.warnings];
  reportFormat(parsed.formatProblems, log);
  const model = new TraceModel(parsed, log, options);
  runChecks(model);
  const total = Object.values(log.counts).reduce((sum, count) => sum + count, 0);
  return {
    ok: total === 0,
    violations: log.stored,
    violationCounts: log.counts,
    counts: model.counts,
    warnings,
  };
}

/** P0: the reader's format problems, as violations. */
function reportFormat(problems: readonly FormatProblem[], log: ViolationLog): void {
  for (const problem of problems) {
    log.add('trace-format', () => ({
      message: problem.message,
      witness: {
        processes: [],
        lines: [problem.line === null ? problem.file : `${problem.file}:${problem.line}`],
      },
    }));
  }
}

/**
 * The passes that fill the model (checking P1–P4, P6, P9, P11–P14 on the way), then the
 * properties over the whole model. The order is part of the result: violations are listed in
 * the order they are found.
 */
function runChecks(model: TraceModel): void {
  indexSends(model);
  model.states.forEach((_, index) => scanProcess(model, index));
  checkSenderInConfiguration(model);
  checkPrefixOrder(model);
  checkVirtualSynchrony(model);
  checkTransitionalRule(model);
  checkSafeDelivery(model);
  checkSelfDelivery(model);
  if (model.options.settled === true) checkSettled(model);
  checkTotalOrder(model);
}
