/**
 * The ring-seq store: what keeps ring ids from ever being reused across restarts (trace-contract
 * "ring", evs-spec §1; corosync's memb_ring_id_store / memb_ring_id_create_or_load). The engine
 * reads the stored seq once at start (`loadRingSeq`, which becomes EngineConfig.ringSeqInitial) and
 * writes the seq of every ring it commits to (`storeRingSeq`) before any packet announcing that
 * ring leaves the node. Both calls are synchronous: the engine calls the store inside a protocol
 * step, and only at membership changes, so a blocking fsync there is affordable.
 *
 * With a state directory, the seq lives in `<stateDir>/ring-seq-<nodeId>`: one file per node id, so
 * several nodes of a test cluster can share a directory. It holds the seq in decimal ASCII and a
 * newline (readable and editable by an operator; corosync's binary file is not). Each write goes to
 * `ring-seq-<nodeId>.tmp`, is fsynced, renamed over the file, and the directory is fsynced, so that
 * after a crash at any point the file holds either the old or the new seq, never a torn one.
 *
 * Monotonic: a store of a seq lower than (or equal to) the one held is ignored, not an error. The
 * file is a floor for future ring seqs, and a lower value carries no information; the engine only
 * commits to rings above its own seq, so a lower store does not happen in practice, and refusing
 * it would stop a node for no gain in safety.
 *
 * When there is no seq to read (no state directory, or its file does not exist yet: a first start,
 * or a directory that was wiped), the node starts above a floor derived from the clock, so that it
 * still cannot reuse a ring id of an earlier incarnation; see `clockRingSeqFloor`. It says so once
 * in the log. With a directory, that floor is written to the file at once, which also proves the
 * directory writable before the node starts.
 */
import { ringSeqMax, ringSeqStartMax, storedRingSeqProblem } from '../engine/index.js';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TotemError } from './errors.js';
import type { Logger } from './logger.js';

export interface StateStore {
  /** The ring-seq file, or null for an in-memory store. */
  readonly path: string | null;
  /** The highest ring seq this node may have used: the engine's ringSeqInitial. */
  loadRingSeq(): bigint;
  /**
   * Record that the node is about to announce a ring with this seq. Durable when it returns (with a
   * state directory); throws TotemError TOTEM_ERR_STATE_DIR when it cannot be made so, and the
   * node must then not announce the ring. Lower or equal seqs are ignored (see file comment).
   */
  storeRingSeq(seq: bigint): void;
}

/**
 * Ring seqs per millisecond of the clock-derived floor. Every ring a node forms or joins raises its
 * ring seq by 4 (evs-spec §1: the representative takes the largest seq it knows + 4), and a ring
 * formation takes a Gather round and two rotations of the commit token, each bounded below by
 * network round trips and worker hand-offs. An incarnation started at time t0 (floor 4·t0) that
 * formed R rings before a restart at t1 used seqs up to about 4·t0 + 4·R + 1, which is below the new
 * floor 4·t1 unless it formed more than one ring per millisecond of its whole life. A restart itself
 * (thread start, socket bind, a first Gather) takes far longer than the milliseconds a singleton ring
 * needs, so even an incarnation that lived only to form its first rings stays below. The factor is
 * this small so that seqs stay readable in traces; 2^62 (the engine's bound) is reached in the year
 * 36 million at this rate.
 */
export const ringSeqPerMs = 4n;

/** Largest seq the store accepts, and the largest a node starts from: the engine's bounds. */
export const ringSeqStoredMax = ringSeqMax;
export { ringSeqStartMax };

/**
 * The floor a node without a stored seq starts above: `nowMs` × ringSeqPerMs.
 *
 * Failure modes, which only a state directory removes:
 * - the clock steps back by more than the previous incarnation's lifetime (NTP step, a VM restored
 *   from a snapshot, an RTC reset): the new floor may lie below seqs the node already used, and a
 *   ring id may repeat;
 * - the node learnt larger seqs from peers whose clocks are ahead of its own (a join raises every
 *   receiver's seq to the sender's): after a restart it may start below a ring it had joined. A
 *   repeat needs the same representative and exactly the same seq, so it is unlikely, not excluded.
 */
export function clockRingSeqFloor(nowMs: number): bigint {
  if (!Number.isFinite(nowMs) || nowMs < 0) {
    throw new RangeError(`nowMs must be a finite non-negative number, got ${nowMs}`);
  }
  return BigInt(Math.floor(nowMs)) * ringSeqPerMs;
}

export function ringSeqFileName(nodeId: number): string {
  return `ring-seq-${nodeId}`;
}

/**
 * Open the ring-seq store of node `nodeId`. With `stateDir`, creates the directory if missing and
 * reads (or creates) its file; throws TotemError TOTEM_ERR_STATE_DIR when the directory or file
 * cannot be used or the file is corrupt. Without, returns an in-memory store starting at the clock
 * floor and logs once (at warn) that restarts rely on the clock.
 */
export function openStateStore(
  stateDir: string | undefined,
  nodeId: number,
  nowMs: number,
  logger: Logger,
): StateStore {
  const floor = clockRingSeqFloor(nowMs);
  if (stateDir === undefined) {
    logger.warn(
      'no stateDir: ring seqs start above a clock-derived floor; ' +
        'ring ids stay unique across restarts only while the clock does not step back',
      { ringSeqFloor: floor },
    );
    return new MemoryStateStore(floor);
  }
  return FileStateStore.open(stateDir, nodeId, floor, logger);
}

class MemoryStateStore implements StateStore {
  readonly path = null;
  constructor(private seq: bigint) {}

  loadRingSeq(): bigint {
    return this.seq;
  }

  storeRingSeq(seq: bigint): void {
    checkSeq(seq);
    if (seq > this.seq) this.seq = seq;
  }
}

class FileStateStore implements StateStore {
  private readonly tmpPath: string;

  private constructor(
    private readonly dir: string,
    readonly path: string,
    private seq: bigint,
  ) {
    this.tmpPath = `${path}.tmp`;
  }

  static open(dir: string, nodeId: number, floor: bigint, logger: Logger): FileStateStore {
    try {
      makeDirectory(dir);
    } catch (cause) {
      throw stateDirError(`cannot create the state directory ${dir}: ${errText(cause)}`, dir, cause);
    }
    if (!isDirectory(dir)) throw stateDirError(`the state directory ${dir} is not a directory`, dir);
    const path = join(dir, ringSeqFileName(nodeId));
    const stored = readSeqFile(path);
    const store = new FileStateStore(dir, path, stored ?? floor);
    if (stored === null) {
      logger.info('no stored ring seq: starting above a clock-derived floor', { path, ringSeqFloor: floor });
      // Record the floor now: it proves the directory writable before any thread starts, and it
      // keeps this floor even if the clock later steps back.
      store.write(floor);
    }
    return store;
  }

  loadRingSeq(): bigint {
    return this.seq;
  }

  storeRingSeq(seq: bigint): void {
    checkSeq(seq);
    if (seq <= this.seq) return;
    this.write(seq);
    this.seq = seq;
  }

  private write(seq: bigint): void {
    try {
      const fd = openSync(this.tmpPath, 'w', 0o644);
      try {
        writeSync(fd, `${seq}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(this.tmpPath, this.path);
      fsyncDirectory(this.dir);
    } catch (cause) {
      const why = `cannot persist ring seq ${seq} to ${this.path}: ${errText(cause)}`;
      throw stateDirError(why, this.path, cause);
    }
  }
}

const seqText = /^(0|[1-9][0-9]{0,18})\n?$/;

/** The stored seq, or null if the file does not exist; throws on anything else. */
function readSeqFile(path: string): bigint | null {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw stateDirError(`cannot read ${path}: ${errText(cause)}`, path, cause);
  }
  const m = seqText.exec(text);
  const seq = m?.[1] === undefined ? null : BigInt(m[1]);
  if (seq === null || seq > ringSeqStoredMax) {
    throw stateDirError(
      `${path} is corrupt: expected a ring seq in decimal (0..2^62-1), found ${JSON.stringify(text.slice(0, 40))}; ` +
        'restore it, or delete it to start above a clock-derived ring seq',
      path,
    );
  }
  const problem = storedRingSeqProblem(seq);
  if (problem !== null) {
    // A seq in the engine's headroom came from a forged or corrupt packet: refused at start with
    // the fix, rather than the node stopping later (engine/config.ts storedRingSeqProblem).
    throw stateDirError(`${path}: ${problem}; give the cluster a key (\`totem-evs keygen FILE\`) if it has none`, path);
  }
  return seq;
}

function checkSeq(seq: bigint): void {
  if (typeof seq !== 'bigint' || seq < 0n || seq > ringSeqStoredMax) {
    throw new RangeError(`ring seq must be a bigint in 0..2^62-1, got ${String(seq)}`);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function fsyncDirectory(dir: string): void {
  // The rename is durable only once the directory entry is; Windows cannot open a directory for
  // this, and NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function stateDirError(message: string, path: string, cause?: unknown): TotemError {
  return new TotemError('TOTEM_ERR_STATE_DIR', message, { details: { path }, cause });
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * mkdir -p, one level at a time. Node's own `mkdirSync(dir, { recursive: true })` never returns
 * for some paths (under /proc it retries an ENOENT forever at 100% CPU, Node 20), which turned a
 * mistyped stateDir into a hung process. Here each missing parent is made once, at most one try
 * per path component, and any other error is thrown as it is.
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    try {
      mkdirSync(at);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') break;
      if (code === 'ENOENT' && dirname(at) !== at) {
        missing.push(at);
        continue;
      }
      throw error;
    }
    break;
  }
  // Parents first: each was missing a moment ago; one that still cannot be made is the error.
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i] as string);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
