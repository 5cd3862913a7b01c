/**
 * `totem-evs check DIR [--settled] [--allow-inflight] [--json]`: the operator's verdict on a trace
 * directory. Exit code 0 when every property holds, 1 when one is violated, 2 on a usage error
 * (bad flag, missing or unreadable DIR), so scripts can tell "the run broke EVS" from "the check
 * could not run".
 */
import { checkParsedTrace, EVS_PROPERTIES, WITNESSES_PER_PROPERTY_MAX } from './evs-checker.js';
import type { CheckResult } from './evs-checker.js';
import { formatLockReport, LockChecker } from './locks-checker.js';
import { streamTraceDir, TraceParser } from './trace-reader.js';

/** Where the command writes; `process` itself fits (its stdout and stderr have `write`). */
export interface CommandOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export const CHECK_USAGE = `Usage: totem-evs check DIR [--settled] [--allow-inflight] [--json]

Reads the trace of a run from DIR (one <node>.<incarnation>.jsonl per node incarnation, plus
harness.jsonl with one crash line per node stop) and checks the extended virtual synchrony
properties P0-P18 (evs-spec section 5) on all of it together.

Options:
  --settled         also check P18 (liveness-settled): the run has quiesced, so the live nodes
                    must end in one regular configuration of exactly the live nodes, all having
                    delivered the same final messages
  --allow-inflight  the trace was read while nodes still run: a sender need only have delivered
                    its message once it installed two later regular configurations (P5), and a
                    member that has installed no later regular configuration need not have
                    delivered a safe message yet (P17)
  --json            print the full result as JSON instead of text
  --help            print this help

Every violated property is printed with its total count and up to ${WITNESSES_PER_PROPERTY_MAX}
witnesses (file:line positions to look at), then a summary.

Exit status: 0 every checked property holds (P18 only with --settled); 1 some property is
violated; 2 usage error (bad flag, DIR missing or unreadable).
`;

interface ParsedArgs {
  dir: string;
  settled: boolean;
  allowInflight: boolean;
  json: boolean;
}

function parseArgs(argv: readonly string[]): ParsedArgs | 'help' | string {
  let dir: string | null = null;
  const flags = { settled: false, allowInflight: false, json: false };
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--settled') flags.settled = true;
    else if (arg === '--allow-inflight') flags.allowInflight = true;
    else if (arg === '--json') flags.json = true;
    else if (arg.startsWith('-')) return `unknown option ${arg}`;
    else if (dir !== null) return `unexpected argument ${arg} (one DIR only)`;
    else dir = arg;
  }
  if (dir === null) return 'missing DIR';
  return { dir, ...flags };
}

/** Runs the command; resolves to the exit code. Never throws for a bad DIR (exit code 2). */
export async function runCheckCommand(argv: string[], out: CommandOutput): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') {
    out.stdout.write(CHECK_USAGE);
    return 0;
  }
  if (typeof args === 'string') {
    out.stderr.write(`totem-evs check: ${args} (see totem-evs check --help)\n`);
    return 2;
  }
  // One streaming pass feeds both checkers; no file is ever held whole (line-reader.ts).
  const lockChecker = new LockChecker();
  const parser = new TraceParser(lockChecker);
  let streamed: { files: number; lines: number; strays: string[] };
  try {
    streamed = await streamTraceDir(args.dir, parser);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    out.stderr.write(`totem-evs check: cannot read trace directory ${args.dir}: ${reason}\n`);
    return 2;
  }
  const { strays, ...read } = streamed;
  // A check of nothing proves nothing: a mistyped or empty directory is an error, not a pass.
  if (read.files === 0) {
    const seen = strays.length === 0 ? 'it is empty' : `it holds ${strays.length} other entr${strays.length === 1 ? 'y' : 'ies'} (${strays.slice(0, 3).join(', ')}${strays.length > 3 ? ', ...' : ''})`;
    out.stderr.write(`totem-evs check: no trace files (<node>.<incarnation>.jsonl) in ${args.dir}: ${seen}\n`);
    return 2;
  }
  const result = checkParsedTrace(parser.finish(), { settled: args.settled, allowInflight: args.allowInflight });
  // The lock checker runs when the trace holds lock manager lines (docs/trace-contract.md).
  const locks = lockChecker.result();
  const lockPart = locks.lockLines > 0 ? { locks } : {};
  out.stdout.write(
    args.json
      ? `${JSON.stringify({ ...result, ...lockPart, read }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`
      : formatReport(result, args, read) + (locks.lockLines > 0 ? formatLockReport(locks) : ''),
  );
  return result.ok && locks.ok ? 0 : 1;
}

/** The human-readable report: violated properties with witnesses, warnings, then a summary. */
export function formatReport(
  result: CheckResult,
  args: { settled: boolean; dir?: string },
  read?: { files: number; lines: number },
): string {
  const out: string[] = [];
  const violated: string[] = [];
  for (const property of EVS_PROPERTIES) {
    const count = result.violationCounts[property.name];
    if (count === 0) continue;
    violated.push(`${property.id} ${property.name}`);
    out.push(`${property.id} ${property.name}: ${count} violation${count === 1 ? '' : 's'}`);
    const shown = result.violations.filter((v) => v.property === property.name);
    for (const violation of shown) {
      out.push(`  - ${violation.message}`);
      const { witness } = violation;
      const about = [
        witness.processes.length > 0 ? `processes ${witness.processes.join(', ')}` : '',
        witness.id === undefined ? '' : `id ${witness.id}`,
        witness.ring === undefined ? '' : `ring ${witness.ring}`,
      ].filter((part) => part !== '');
      if (about.length > 0) out.push(`    ${about.join('; ')}`);
      if (witness.lines.length > 0) out.push(`    at ${witness.lines.join(' ')}`);
    }
    if (count > shown.length) out.push(`  … and ${count - shown.length} more`);
  }
  for (const warning of result.warnings) out.push(`warning: ${warning}`);
  const { counts } = result;
  const checked = EVS_PROPERTIES.length - (args.settled ? 0 : 1);
  out.push(
    (read === undefined ? '' : `read ${read.files} trace file${read.files === 1 ? '' : 's'}, ${read.lines} lines; `) +
      `checked ${counts.processes} processes, ${counts.messagesSent} messages sent, ` +
      `${counts.deliveries} deliveries, ${counts.configurationsInstalled} configurations ` +
      `installed` +
      (args.settled ? '' : ' (P18 not checked: no --settled)'),
  );
  out.push(
    result.ok
      ? `OK: all ${checked} properties hold`
      : `FAILED: ${violated.length} of ${checked} properties violated (${violated.join(', ')})`,
  );
  return `${out.join('\n')}\n`;
}
