/**
 * The lock manager's lines in a real node's trace file (docs/trace-contract.md, "Lock manager
 * lines"): the lock manager runs on the main thread and appends its lines, formatted by the
 * engine's `lockTraceLine`, to the same `<node>.<incarnation>.jsonl` the node's workers write
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
import { lockTraceLine } from '../../engine/locks/trace-lines.js';
import type { LockTableEvent } from '../../engine/locks/lock-table.js';
import type { NodeId } from '../../engine/types.js';
import { FileTraceWriter } from './trace-writer.js';

export class LockTraceWriter {
  private readonly file: FileTraceWriter;

  constructor(
    dir: string,
    private readonly nodeId: NodeId,
    incarnation: number,
  ) {
    this.file = new FileTraceWriter(dir, nodeId, incarnation);
  }

  get filePath(): string {
    return this.file.filePath;
  }

  /**
   * Write the line of one table event (events the contract does not trace write nothing).
   * `tableMembers`: the members of the lock manager's configuration the table is in. The lock
   * manager's configurations are its group's: besides those of the ring, a member's ordered join or
   * leave of the group is a configuration point of its own, inside one ring configuration. So an
   * `lkstate` line carries its own `members` (the ring's `conf` line before it may list others),
   * and the lock checker keys table hashes by them.
   */
  write(e: LockTableEvent, tableMembers: readonly NodeId[], tMs: number = Date.now()): void {
    const line = lockTraceLine(this.nodeId, e, tMs);
    if (line === null) return;
    if (e.ev !== 'lkstate') {
      this.file.write(line);
      return;
    }
    const o = JSON.parse(line) as Record<string, unknown>;
    const t = o['t'];
    delete o['t'];
    o['members'] = tableMembers.map(String);
    o['t'] = t;
    this.file.write(JSON.stringify(o));
  }

  /**
   * `{"ev":"lkstate","point":"ready",...}`: written before the first grant or conversion after a
   * configuration point of the lock manager, with the table's hash as it starts granting and
   * `primary`. A real node's `conf` lines come from its delivery worker, which cannot know whether
   * the lock manager's configuration is primary (the contract's `primary` field); this line says it
   * at the point where the lock checker needs it.
   */
  writeReady(ring: string, hash: string, primary: boolean, tableMembers: readonly NodeId[], tMs: number = Date.now()): void {
    this.file.write(JSON.stringify({ ev: 'lkstate', node: String(this.nodeId), point: 'ready', ring, hash, primary, members: tableMembers.map(String), t: tMs }));
  }

  close(): void {
    this.file.close();
  }
}
