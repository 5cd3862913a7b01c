/**
 * Where trace lines go (docs/trace-contract.md, "Files" and "Order and durability").
 *
 * A real node writes each line with one synchronous appending write before the event takes
 * effect: once `write` returns the line is in the kernel's page cache, so a SIGKILL right after
 * cannot lose it (only a machine crash could, and the contract does not ask for fsync). The
 * simulator keeps lines in memory and hands them to the checker without touching disk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NodeId } from '../../engine/types.js';
import { crashLine, HARNESS_FILE_NAME, traceFileName } from './trace-lines.js';
import type { TraceInput } from './trace-lines.js';

/** Receives one trace line at a time, without its newline. */
export interface TraceSink {
  write(line: string): void;
}

function assertOneLine(line: string): void {
  // A newline inside a line would split one event into two unparseable halves.
  if (line.includes('\n')) throw new Error('trace line must not contain a newline');
}

/** The trace file of one node incarnation, `DIR/<nodeId>.<incarnation>.jsonl`, in append mode. */
export class FileTraceWriter implements TraceSink {
  readonly filePath: string;
  private fd: number | null;

  constructor(dir: string, nodeId: NodeId, incarnation: number) {
    if (!Number.isSafeInteger(incarnation) || incarnation <= 0) {
      throw new Error(`trace incarnation must be a positive integer, got ${incarnation}`);
    }
    this.filePath = path.join(dir, traceFileName(nodeId, incarnation));
    // 'a' is O_APPEND: every write lands at the current end, in one piece.
    this.fd = fs.openSync(this.filePath, 'a');
  }

  write(line: string): void {
    assertOneLine(line);
    if (this.fd === null) throw new Error(`trace file ${this.filePath} is closed`);
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    // One write per line: a second write for a remainder could be lost to a SIGKILL in between.
    // A short write on a regular file means the disk is full; the event must not take effect
    // untraced, so it is an error for the caller.
    const written = fs.writeSync(this.fd, bytes);
    if (written !== bytes.length) {
      throw new Error(`short write to ${this.filePath}: ${written} of ${bytes.length} bytes`);
    }
  }

  close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Record one stop of a node: append `{"ev":"crash","node":"<nodeId>"}` to DIR/harness.jsonl. */
export function appendHarnessCrash(dir: string, nodeId: NodeId | string): void {
  fs.appendFileSync(path.join(dir, HARNESS_FILE_NAME), `${crashLine(nodeId)}\n`);
}

const traceFilePattern = /^(0|[1-9][0-9]*)\.([1-9][0-9]*)\.jsonl$/;

/**
 * The incarnation for a node starting now: its start time in ms, raised above the highest
 * incarnation of that node already in DIR so that it strictly grows even if the clock stepped back.
 * A missing DIR has no incarnations yet.
 */
export function pickIncarnation(dir: string, nodeId: NodeId, nowMs: number): number {
  let highest = 0;
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const name of names) {
    const match = traceFilePattern.exec(name);
    if (match === null || match[1] !== String(nodeId)) continue;
    highest = Math.max(highest, Number(match[2]));
  }
  return Math.max(Math.floor(nowMs), highest + 1, 1);
}

/** One incarnation's trace kept in memory (the simulator). */
export class MemoryTraceWriter implements TraceSink {
  readonly lines: string[] = [];
  readonly fileName: string;

  constructor(nodeId: NodeId, incarnation: number) {
    this.fileName = traceFileName(nodeId, incarnation);
  }

  write(line: string): void {
    assertOneLine(line);
    this.lines.push(line);
  }
}

/**
 * A whole run's trace in memory: one MemoryTraceWriter per incarnation plus the harness file.
 * `toInput()` is what `checkTrace` accepts.
 */
export class MemoryTraceStore {
  private readonly files = new Map<string, string[]>();
  private readonly harness: string[] = [];

  /** The writer of a new incarnation; opening the same incarnation twice is a caller bug. */
  open(nodeId: NodeId, incarnation: number): MemoryTraceWriter {
    const writer = new MemoryTraceWriter(nodeId, incarnation);
    if (this.files.has(writer.fileName)) {
      throw new Error(`trace ${writer.fileName} is already open: incarnations must grow`);
    }
    this.files.set(writer.fileName, writer.lines);
    return writer;
  }

  appendHarnessCrash(nodeId: NodeId | string): void {
    this.harness.push(crashLine(nodeId));
  }

  toInput(): TraceInput {
    return { files: this.files, harness: this.harness };
  }
}
