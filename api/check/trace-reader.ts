/**
 * Reads a trace directory (docs/trace-contract.md, "Files") or the simulator's in-memory trace and
 * turns it into processes, the unit evs-spec.md §5 reasons about, reporting every line that breaks
 * the format (property P0 `trace-format`). Lines arrive one at a time (`TraceParser.line`) and are
 * stored compactly (trace-store.ts) as they come, so a directory is checked in one streaming pass
 * over its files (line-reader.ts) and the parsed trace holds no line of text.
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
 * - harness.jsonl is read before the node files, and the node files in name order, so problems
 *   and warnings come out in the same order whether the trace is read from disk or from memory.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Order } from '../../engine/types.js';
import { HARNESS_FILE_NAME } from '../../workers/trace/trace-lines.js';
import type { TraceInput } from '../../workers/trace/trace-lines.js';
import { readLines } from './line-reader.js';
import { TraceStore } from './trace-store.js';

export type { TraceInput };

/** One incarnation of a node (or the part of its file after a crash line). */
export interface TraceProcess {
  /** "<node>.<incarnation>", or "<node>.<incarnation>#<part>" after an in-file crash line. */
  key: string;
  file: string;
  node: string;
  incarnation: string;
  /** 1 for the part of the file before any crash line. */
  part: number;
  /** Its events are the store's events eventStart .. eventEnd - 1, in its order. */
  eventStart: number;
  eventEnd: number;
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
  /** The events, messages and configurations of every process. */
  store: TraceStore;
  /** Number of crash lines per node in harness.jsonl. */
  harnessCrashes: Map<string, number>;
  formatProblems: FormatProblem[];
  warnings: string[];
}

/** Sees every node-file line that is a JSON object (the lock checker reads the same pass). */
export interface NodeLineObserver {
  beginFile(file: string): void;
  line(fields: Record<string, unknown>, line: number): void;
  endFile(): void;
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

/** What a directory holds, in the order it is read: harness.jsonl first, then node files. */
async function listTraceDir(dir: string): Promise<{ files: string[]; strays: string[] }> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  const strays: string[] = [];
  for (const entry of entries) {
    const isTraceName = entry.name === HARNESS_FILE_NAME || parseTraceFileName(entry.name) !== null;
    if (!entry.isFile() || !isTraceName) strays.push(entry.name);
    else if (entry.name === HARNESS_FILE_NAME) files.unshift(entry.name);
    else files.push(entry.name);
  }
  return { files, strays };
}

/**
 * Reads DIR into a TraceInput (file name → lines), for tests and small traces; `totem-evs check`
 * streams instead (streamTraceDir). Throws (with the path in the message) when DIR or one of its
 * trace files cannot be read.
 */
export async function readTraceDir(dir: string, chunkBytes?: number): Promise<TraceInput> {
  const { files: names, strays } = await listTraceDir(dir);
  const files = new Map<string, string[]>();
  let harness: string[] = [];
  const unterminated = new Set<string>();
  for (const name of names) {
    const lines: string[] = [];
    const read = await readLines(path.join(dir, name), (text) => lines.push(text), chunkBytes);
    if (read.unterminated) unterminated.add(name);
    if (name === HARNESS_FILE_NAME) harness = lines;
    else files.set(name, lines);
  }
  return { files, harness, unterminated, strays };
}

/**
 * Reads DIR line by line into `parser` (harness.jsonl first, then the node files in name order).
 * Returns how many trace files (harness.jsonl aside) and lines it read, and the entries that are
 * not trace files (each also a P0 problem). Throws (with the path in
 * the message) when DIR or one of its trace files cannot be read.
 */
export async function streamTraceDir(
  dir: string,
  parser: TraceParser,
  chunkBytes?: number,
): Promise<{ files: number; lines: number; strays: string[] }> {
  const { files, strays } = await listTraceDir(dir);
  for (const stray of strays) parser.stray(stray);
  let lines = 0;
  for (const name of files) {
    parser.beginFile(name);
    const read = await readLines(
      path.join(dir, name),
      (text, line, terminated) => parser.line(text, line, terminated),
      chunkBytes,
    );
    parser.endFile();
    lines += read.lines;
  }
  const nodeFiles = files.filter((name) => name !== HARNESS_FILE_NAME).length;
  return { files: nodeFiles, lines, strays };
}

/** Parses every file, splits them into processes and marks which processes crashed. */
export function parseTrace(input: TraceInput): ParsedTrace {
  const parser = new TraceParser();
  for (const stray of input.strays ?? []) parser.stray(stray);
  const unterminated = input.unterminated ?? new Set<string>();
  const feed = (file: string, lines: readonly string[]): void => {
    parser.beginFile(file);
    const last = lines.length - 1;
    lines.forEach((text, index) => {
      parser.line(text, index + 1, index !== last || !unterminated.has(file));
    });
    parser.endFile();
  };
  feed(HARNESS_FILE_NAME, input.harness);
  for (const [file, lines] of input.files) feed(file, lines);
  return parser.finish();
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

/** Lock manager lines (trace contract, "Lock manager lines"): the lock checker reads them. */
const lockManagerEvs = new Set(['lk', 'held', 'lost', 'barrier', 'lkstate']);

/** Where the parser is: which file, and for a node file which process its lines go to. */
interface FileState {
  file: string;
  /** Node and incarnation of a node file; null for harness.jsonl and a badly named file. */
  name: { node: string; incarnation: string } | null;
  current: TraceProcess | null;
}

/**
 * Takes a trace one line at a time: `stray` for each entry that is not a trace file, then for
 * harness.jsonl and each node file `beginFile`, its lines in order, `endFile`; then `finish`.
 */
export class TraceParser {
  readonly formatProblems: FormatProblem[] = [];
  readonly warnings: string[] = [];
  private readonly store = new TraceStore();
  private readonly processes: TraceProcess[] = [];
  private readonly crashes = new Map<string, number>();
  private state: FileState | null = null;

  constructor(private readonly observer: NodeLineObserver | null = null) {}

  stray(name: string): void {
    this.problem(
      name,
      null,
      'not a trace file: the directory must hold only <node>.<incarnation>.jsonl files ' +
        'and harness.jsonl',
    );
  }

  beginFile(file: string): void {
    const name = file === HARNESS_FILE_NAME ? null : parseTraceFileName(file);
    if (file !== HARNESS_FILE_NAME && name === null) {
      this.problem(file, null, 'not a trace file name: expected <node>.<incarnation>.jsonl');
    }
    this.state = { file, name, current: null };
    if (name !== null) {
      this.newProcess(1);
      this.observer?.beginFile(file);
    }
  }

  /** One line; `terminated` is false only for a last line without a newline. */
  line(text: string, line: number, terminated: boolean): void {
    const state = this.state;
    if (state === null) throw new Error('a trace line outside a file');
    if (state.file !== HARNESS_FILE_NAME && state.name === null) return;
    const fields = parseObject(text);
    if (fields === null) {
      // A cut-short last line is a warning, as a kill can interrupt a write.
      if (!terminated) {
        this.warnings.push(`${state.file}:${line}: unterminated last line does not parse; ignored`);
      } else {
        this.problem(state.file, line, 'not a JSON object');
      }
      return;
    }
    if (state.name === null) this.harnessLine(fields, line);
    else {
      this.nodeLine(state, state.name.node, fields, line);
      this.observer?.line(fields, line);
    }
  }

  endFile(): void {
    const state = this.state;
    if (state === null) throw new Error('endFile without beginFile');
    if (state.current !== null) state.current.eventEnd = this.store.eventCount;
    if (state.name !== null) this.observer?.endFile();
    this.state = null;
  }

  /** The parsed trace: processes sorted and marked crashed. */
  finish(): ParsedTrace {
    const processes = this.processes;
    processes.sort(
      (a, b) =>
        compareDecimal(a.node, b.node) ||
        compareDecimal(a.incarnation, b.incarnation) ||
        a.part - b.part,
    );
    markCrashed(processes, this.crashes, this.warnings);
    return {
      processes,
      store: this.store,
      harnessCrashes: this.crashes,
      formatProblems: this.formatProblems,
      warnings: this.warnings,
    };
  }

  private problem(file: string, line: number | null, message: string): void {
    this.formatProblems.push({ file, line, message });
  }

  /** Counts harness.jsonl crash lines per node. */
  private harnessLine(fields: Fields, line: number): void {
    const node = fields['node'];
    if (fields['ev'] !== 'crash' || !isDecimal(node)) {
      const message = 'harness.jsonl lines must be {"ev":"crash","node":"<nodeId>"}';
      this.problem(HARNESS_FILE_NAME, line, message);
      return;
    }
    this.crashes.set(node, (this.crashes.get(node) ?? 0) + 1);
  }

  private newProcess(part: number): TraceProcess {
    const state = this.state;
    const name = state?.name;
    if (state === null || name === null || name === undefined) throw new Error('no node file');
    const start = this.store.eventCount;
    if (state.current !== null) state.current.eventEnd = start;
    const base = `${name.node}.${name.incarnation}`;
    const process: TraceProcess = {
      key: part === 1 ? base : `${base}#${part}`,
      file: state.file,
      node: name.node,
      incarnation: name.incarnation,
      part,
      eventStart: start,
      eventEnd: start,
      endsWithCrash: false,
      crashed: false,
    };
    this.store.beginProcess();
    this.processes.push(process);
    state.current = process;
    return process;
  }

  /**
   * Validates one node-file line (required fields, their shapes, the writing node) and stores its
   * event; a line after a crash line starts a new process.
   */
  private nodeLine(state: FileState, fileNode: string, fields: Fields, line: number): void {
    const ev = fields['ev'];
    const node = fields['node'];
    if (!isDecimal(node)) return this.problem(state.file, line, '"node" must be a decimal node id');
    if (node !== fileNode) {
      return this.problem(state.file, line, `"node" is ${node} in a file of node ${fileNode}`);
    }
    let current = state.current as TraceProcess;
    if (ev === 'crash') {
      current.endsWithCrash = true;
      return;
    }
    if (typeof ev === 'string' && lockManagerEvs.has(ev)) return;
    if (ev !== 'conf' && ev !== 'send' && ev !== 'deliver') {
      return this.problem(state.file, line, `unknown "ev" ${JSON.stringify(ev)}`);
    }
    const problem = checkTime(fields) ?? (ev === 'conf' ? checkConf(fields) : checkMessage(fields, ev));
    if (problem !== null) return this.problem(state.file, line, problem);
    if (current.endsWithCrash) current = this.newProcess(current.part + 1);
    if (ev === 'conf') {
      const { kind, ring, members } = fields as { kind: 'regular' | 'transitional'; ring: string; members: string[] };
      this.store.addConf(line, kind, ring, members);
      return;
    }
    const { id, order, group } = fields as { id: string; order: Order; group: string };
    const parts = messageIdPattern.exec(id) as RegExpExecArray;
    const message = this.store.message(parts[1] ?? '', parts[2] ?? '', parts[3] ?? '');
    if (ev === 'send') return this.store.addSend(line, message, order, group);
    const { sender, ring } = fields as { sender: string; ring: string };
    this.store.addDeliver(line, message, sender, order, group, ring);
  }
}

/** The shape of a conf line's own fields, or what is wrong with it. */
function checkConf(fields: Fields): string | null {
  const { kind, ring, members } = fields;
  if (kind !== 'regular' && kind !== 'transitional') {
    return '"kind" must be "regular" or "transitional"';
  }
  if (typeof ring !== 'string' || !ringPattern.test(ring)) return '"ring" must be "<rep>:<seq>"';
  return checkMembers(members);
}

/** The shape of a send or deliver line's own fields, or what is wrong with it. */
function checkMessage(fields: Fields, ev: 'send' | 'deliver'): string | null {
  const { id, order, group } = fields;
  if (typeof id !== 'string' || !messageIdPattern.test(id)) {
    return '"id" must be "<sender>:<incarnation>:<counter>"';
  }
  if (!isOrder(order)) return '"order" must be "agreed" or "safe"';
  if (typeof group !== 'string') return '"group" must be a string';
  if (ev === 'send') return null;
  const { sender, ring } = fields;
  if (!isDecimal(sender)) return '"sender" must be a node id';
  if (typeof ring !== 'string' || !ringPattern.test(ring)) return '"ring" must be "<rep>:<seq>"';
  return null;
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
