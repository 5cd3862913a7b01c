/**
 * Reads a trace directory (docs/trace-contract.md, "Files") or the simulator's in-memory trace and
 * turns it into processes, the unit evs-spec.md §5 reasons about, reporting every line that breaks
 * the format (property P0 `trace-format`).
 *
 * Decisions:
 * - The contract says the directory holds node files and harness.jsonl "and nothing else". Any
 *   other entry (another file, a subdirectory, a hidden file) is reported as a P0 problem: a
 *   stray file usually means traces of two runs were mixed, which would make every other verdict
 *   meaningless. A missing harness.jsonl is fine (nothing was stopped).
 * - A process is one incarnation (one file); a `crash` line inside a node's own file splits it, the
 *   lines after it forming a new process named "<node>.<incarnation>#<part>" (part counted from 2).
 * - A node file's `node` field must equal the node of its file name, and node ids, ring ids and
 *   message ids must have the contract's decimal shapes; a line breaking this is left out of the
 *   other checks so that one bad line does not cascade into unrelated violations.
 * - Only the last line of a file may be cut short by a crash; if it has no newline and does not
 *   parse it is a warning, not a violation. Anywhere else an unparseable line is a P0 violation.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ConfigurationKind, Order } from '../../engine/types.js';
import { HARNESS_FILE_NAME } from '../../workers/trace/trace-lines.js';
import type { TraceInput } from '../../workers/trace/trace-lines.js';

export type { TraceInput };

export interface ConfEvent {
  ev: 'conf';
  line: number;
  kind: ConfigurationKind;
  ring: string;
  members: string[];
}

export interface SendEvent {
  ev: 'send';
  line: number;
  id: string;
  order: Order;
  group: string;
}

export interface DeliverEvent {
  ev: 'deliver';
  line: number;
  id: string;
  sender: string;
  order: Order;
  group: string;
  ring: string;
}

export type TraceEvent = ConfEvent | SendEvent | DeliverEvent;

/** One incarnation of a node (or the part of its file after a crash line). */
export interface TraceProcess {
  /** "<node>.<incarnation>", or "<node>.<incarnation>#<part>" after an in-file crash line. */
  key: string;
  file: string;
  node: string;
  incarnation: string;
  /** 1 for the part of the file before any crash line. */
  part: number;
  events: TraceEvent[];
  /** Its stream ends with a crash line. */
  endsWithCrash: boolean;
  /** evs-spec §5: ends with a crash line, a later incarnation exists, or enough harness crashes. */
  crashed: boolean;
}

export interface FormatProblem {
  file: string;
  /** 1-based line number, or null when the problem is the file itself. */
  line: number | null;
  message: string;
}

export interface ParsedTrace {
  /** Sorted by node id, then incarnation, then part (numerically). */
  processes: TraceProcess[];
  /** Number of crash lines per node in harness.jsonl. */
  harnessCrashes: Map<string, number>;
  formatProblems: FormatProblem[];
  warnings: string[];
}

const decimalPattern = /^(0|[1-9][0-9]*)$/;
const ringPattern = /^(0|[1-9][0-9]*):(0|[1-9][0-9]*)$/;
const messageIdPattern = /^(0|[1-9][0-9]*):([1-9][0-9]*):(0|[1-9][0-9]*)$/;
const traceFilePattern = /^(0|[1-9][0-9]*)\.([1-9][0-9]*)\.jsonl$/;

/** Splits a node trace file name into node and incarnation, or null if it is not one. */
export function parseTraceFileName(name: string): { node: string; incarnation: string } | null {
  const match = traceFilePattern.exec(name);
  if (match === null) return null;
  return { node: match[1] ?? '', incarnation: match[2] ?? '' };
}

/** Splits a message id into its parts, or null if it does not have the contract's shape. */
export function parseMessageId(
  id: string,
): { sender: string; incarnation: string; counter: string } | null {
  const match = messageIdPattern.exec(id);
  if (match === null) return null;
  return { sender: match[1] ?? '', incarnation: match[2] ?? '', counter: match[3] ?? '' };
}

/**
 * Reads DIR into a TraceInput. Throws (with the path in the message) when DIR or one of its trace
 * files cannot be read; the check command turns that into a usage error.
 */
export async function readTraceDir(dir: string): Promise<TraceInput> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const files = new Map<string, string[]>();
  let harness: string[] = [];
  const unterminated = new Set<string>();
  const strays: string[] = [];
  const names = entries.map((entry) => entry.name).sort();
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  for (const name of names) {
    const entry = byName.get(name);
    const isTraceName = name === HARNESS_FILE_NAME || parseTraceFileName(name) !== null;
    if (entry === undefined || !entry.isFile() || !isTraceName) {
      strays.push(name);
      continue;
    }
    const text = await fs.readFile(path.join(dir, name), 'utf8');
    const lines = text.split('\n');
    // A terminated file ends with "\n", which leaves one empty string after the split.
    if (lines[lines.length - 1] === '') lines.pop();
    else unterminated.add(name);
    if (name === HARNESS_FILE_NAME) harness = lines;
    else files.set(name, lines);
  }
  return { files, harness, unterminated, strays };
}

type Fields = Record<string, unknown>;

function isDecimal(value: unknown): value is string {
  return typeof value === 'string' && decimalPattern.test(value);
}

function isOrder(value: unknown): value is Order {
  return value === 'agreed' || value === 'safe';
}

function checkTime(fields: Fields): string | null {
  const t = fields['t'];
  return typeof t === 'number' && Number.isFinite(t) ? null : '"t" must be a number (ms)';
}

function checkMembers(members: unknown): string | null {
  if (!Array.isArray(members)) return '"members" must be an array of node ids';
  const seen = new Set<string>();
  for (const member of members) {
    if (!isDecimal(member)) return `"members" holds ${JSON.stringify(member)}, not a node id`;
    if (seen.has(member)) return `"members" lists node ${member} twice`;
    seen.add(member);
  }
  return null;
}

type LineResult =
  | { kind: 'event'; event: TraceEvent }
  | { kind: 'crash'; node: string }
  | { kind: 'problem'; message: string }
  | { kind: 'skip' };

/** Lock manager lines (trace contract, "Lock manager lines"): the lock checker reads them. */
const lockManagerEvs = new Set(['lk', 'held', 'lost', 'barrier', 'lkstate']);

/** Validates one parsed node-file line: required fields, their shapes, the writing node. */
function validateNodeLine(fields: Fields, fileNode: string, line: number): LineResult {
  const ev = fields['ev'];
  const node = fields['node'];
  if (!isDecimal(node)) return { kind: 'problem', message: '"node" must be a decimal node id' };
  if (node !== fileNode) {
    return { kind: 'problem', message: `"node" is ${node} in a file of node ${fileNode}` };
  }
  if (ev === 'crash') return { kind: 'crash', node };
  if (typeof ev === 'string' && lockManagerEvs.has(ev)) return { kind: 'skip' };
  const timeProblem = ev === 'conf' || ev === 'send' || ev === 'deliver' ? checkTime(fields) : null;
  if (timeProblem !== null) return { kind: 'problem', message: timeProblem };
  if (ev === 'conf') {
    const { kind, ring, members } = fields;
    if (kind !== 'regular' && kind !== 'transitional') {
      return { kind: 'problem', message: '"kind" must be "regular" or "transitional"' };
    }
    if (typeof ring !== 'string' || !ringPattern.test(ring)) {
      return { kind: 'problem', message: '"ring" must be "<rep>:<seq>"' };
    }
    const membersProblem = checkMembers(members);
    if (membersProblem !== null) return { kind: 'problem', message: membersProblem };
    const event: ConfEvent = { ev, line, kind, ring, members: members as string[] };
    return { kind: 'event', event };
  }
  if (ev === 'send' || ev === 'deliver') {
    const { id, order, group } = fields;
    if (typeof id !== 'string' || parseMessageId(id) === null) {
      return { kind: 'problem', message: '"id" must be "<sender>:<incarnation>:<counter>"' };
    }
    if (!isOrder(order)) return { kind: 'problem', message: '"order" must be "agreed" or "safe"' };
    if (typeof group !== 'string') return { kind: 'problem', message: '"group" must be a string' };
    if (ev === 'send') return { kind: 'event', event: { ev, line, id, order, group } };
    const { sender, ring } = fields;
    if (!isDecimal(sender)) return { kind: 'problem', message: '"sender" must be a node id' };
    if (typeof ring !== 'string' || !ringPattern.test(ring)) {
      return { kind: 'problem', message: '"ring" must be "<rep>:<seq>"' };
    }
    return { kind: 'event', event: { ev, line, id, sender, order, group, ring } };
  }
  return { kind: 'problem', message: `unknown "ev" ${JSON.stringify(ev)}` };
}

/** JSON.parse that yields a plain object or null (arrays and scalars are not trace lines). */
function parseObject(text: string): Fields | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return value as Fields;
}

function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Parses every file, splits them into processes and marks which processes crashed. */
export function parseTrace(input: TraceInput): ParsedTrace {
  const parser = new TraceParser(input.unterminated ?? new Set<string>());
  for (const stray of input.strays ?? []) {
    parser.problem(
      stray,
      null,
      'not a trace file: the directory must hold only <node>.<incarnation>.jsonl files ' +
        'and harness.jsonl',
    );
  }
  const harnessCrashes = parser.harnessCrashes(input.harness);
  const processes: TraceProcess[] = [];
  for (const [file, lines] of input.files) processes.push(...parser.nodeFile(file, lines));
  processes.sort(
    (a, b) =>
      compareDecimal(a.node, b.node) ||
      compareDecimal(a.incarnation, b.incarnation) ||
      a.part - b.part,
  );
  markCrashed(processes, harnessCrashes, parser.warnings);
  const { formatProblems, warnings } = parser;
  return { processes, harnessCrashes, formatProblems, warnings };
}

class TraceParser {
  readonly formatProblems: FormatProblem[] = [];
  readonly warnings: string[] = [];

  constructor(private readonly unterminated: ReadonlySet<string>) {}

  problem(file: string, line: number | null, message: string): void {
    this.formatProblems.push({ file, line, message });
  }

  /** A line's fields; a cut-short last line is a warning, as a kill can interrupt a write. */
  private line(file: string, lines: readonly string[], index: number): Fields | null {
    const fields = parseObject(lines[index] ?? '');
    if (fields !== null) return fields;
    if (index === lines.length - 1 && this.unterminated.has(file)) {
      this.warnings.push(`${file}:${index + 1}: unterminated last line does not parse; ignored`);
    } else {
      this.problem(file, index + 1, 'not a JSON object');
    }
    return null;
  }

  /** Counts harness.jsonl crash lines per node. */
  harnessCrashes(lines: readonly string[]): Map<string, number> {
    const crashes = new Map<string, number>();
    lines.forEach((_, index) => {
      const fields = this.line(HARNESS_FILE_NAME, lines, index);
      if (fields === null) return;
      const node = fields['node'];
      if (fields['ev'] !== 'crash' || !isDecimal(node)) {
        const message = 'harness.jsonl lines must be {"ev":"crash","node":"<nodeId>"}';
        this.problem(HARNESS_FILE_NAME, index + 1, message);
        return;
      }
      crashes.set(node, (crashes.get(node) ?? 0) + 1);
    });
    return crashes;
  }

  /** One node file as processes: a new one starts after each crash line that has lines after it. */
  nodeFile(file: string, lines: readonly string[]): TraceProcess[] {
    const name = parseTraceFileName(file);
    if (name === null) {
      this.problem(file, null, 'not a trace file name: expected <node>.<incarnation>.jsonl');
      return [];
    }
    const base = `${name.node}.${name.incarnation}`;
    const newProcess = (part: number): TraceProcess => ({
      key: part === 1 ? base : `${base}#${part}`,
      file,
      node: name.node,
      incarnation: name.incarnation,
      part,
      events: [],
      endsWithCrash: false,
      crashed: false,
    });
    let current = newProcess(1);
    const processes = [current];
    for (let index = 0; index < lines.length; index += 1) {
      const fields = this.line(file, lines, index);
      if (fields === null) continue;
      const result = validateNodeLine(fields, name.node, index + 1);
      if (result.kind === 'problem') {
        this.problem(file, index + 1, result.message);
      } else if (result.kind === 'skip') {
        continue;
      } else if (result.kind === 'crash') {
        current.endsWithCrash = true;
      } else {
        if (current.endsWithCrash) {
          current = newProcess(current.part + 1);
          processes.push(current);
        }
        current.events.push(result.event);
      }
    }
    return processes;
  }
}

/**
 * evs-spec §5: a process is crashed if its stream ends with a crash line, if a later process of the
 * node exists, or if the harness recorded at least as many crashes of the node as it has
 * incarnations (trace files; the parts of one file split at crash lines are one incarnation).
 */
function markCrashed(
  processes: TraceProcess[],
  harnessCrashes: ReadonlyMap<string, number>,
  warnings: string[],
): void {
  const incarnations = new Map<string, Set<string>>();
  for (const process of processes) {
    const set = incarnations.get(process.node) ?? new Set<string>();
    set.add(process.incarnation);
    incarnations.set(process.node, set);
  }
  for (let index = 0; index < processes.length; index += 1) {
    const process = processes[index];
    if (process === undefined) continue;
    const next = processes[index + 1];
    const laterExists = next !== undefined && next.node === process.node;
    const crashes = harnessCrashes.get(process.node) ?? 0;
    const count = incarnations.get(process.node)?.size ?? 0;
    process.crashed = process.endsWithCrash || laterExists || crashes >= count;
  }
  for (const node of harnessCrashes.keys()) {
    if (!incarnations.has(node)) {
      warnings.push(`harness.jsonl records crashes of node ${node}, which has no trace file`);
    }
  }
}
