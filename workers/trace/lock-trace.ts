/**
 * The lock manager's lines in a real node's trace file (docs/trace-contract.md, "Lock manager
 * lines"): the lock manager runs on the main thread and appends its lines, formatted by the
 * engine's `LockLines`, to the same `<node>.<incarnation>.jsonl` the node's workers write
 * (O_APPEND: each line lands whole). Each line is written before the application learns of the
 * event (a grant resolves, a signal aborts), as the contract asks.
 *
 * Order against the workers' lines: the lock manager applies a delivery or a configuration after
 * the delivery worker wrote its `deliver` or `conf` line, so its lines always come after the line
 * of the event that caused them; but the worker may already have written lines of later events.
 * A lock line can therefore land after the `conf` line of the next configuration when the
 * configuration changes while lock messages are being applied (docs/locks.md says what that means
 * for `totem-evs check`).
 */
import { LockLines } from '../../engine/locks/trace-lines.js';
import type { LockTableEvent } from '../../engine/locks/lock-table.js';
import type { NodeId } from '../../engine/types.js';
import { FileTraceWriter } from './trace-writer.js';

export class LockTraceWriter {
  private readonly file: FileTraceWriter;
  private readonly lines: LockLines;

  constructor(dir: string, nodeId: NodeId, incarnation: number) {
    this.file = new FileTraceWriter(dir, nodeId, incarnation);
    this.lines = new LockLines(nodeId);
  }

  get filePath(): string {
    return this.file.filePath;
  }

  /** A configuration point of the lock manager's table (engine/locks/group-cuts.ts). */
  cut(ring: string, tableMembers: readonly NodeId[]): void {
    this.lines.cut(ring, tableMembers);
  }

  /**
   * Write the lines of one table event (LockLines: events the contract does not trace write
   * nothing; a `ready` line may come first). A real node's `conf` lines come from its delivery
   * worker, which cannot know whether the lock manager's configuration is primary; the ready line
   * says it where the lock checker needs it.
   */
  write(e: LockTableEvent, table: { hash(): string; readonly primary: boolean }, tMs: number = Date.now()): void {
    for (const line of this.lines.lines(e, tMs, table)) this.file.write(line);
  }

  close(): void {
    this.file.close();
  }
}
