/**
 * The lock checker: reads the lock manager lines of docs/trace-contract.md ("Lock manager lines")
 * with the `conf` lines of every node file and verifies, independently of the lock table's code:
 *
 * - L1 lock-compatible: on every replica, every grant, up-conversion and adoption is compatible
 *   with every mode that replica's table holds for the resource at that point of its stream;
 * - L2 grant-in-primary: grants and up-conversions only in a regular configuration marked primary;
 * - L3 fence-growing: per replica and resource, fencing tokens strictly grow; across replicas, one
 *   token value names one grant (owner and mode) only;
 * - L4 replicas-agree: every replica that wrote a table hash at the same point (ring, point,
 *   members of the configuration) wrote the same hash;
 * - L5 purged-at-cut: after a transitional configuration's cut, no lock of a node outside it is left;
 * - L6 request-ended-once: every request line is ended at most once (grant, convert, deny, cancel,
 *   purge, revoke) and nothing ends a request that is not pending;
 * - L7 barrier-agree: the members that entered one barrier instance all complete it or all fail it;
 * - L8 revoke-once: a lock its owner held and the owner's replica revoked gets exactly one
 *   `lost` "revoked" line at its owner.
 * - L9 atomic-request: the locks of one atomic request (request lines with one `group`) end
 *   together on every replica: one after the other (only `held` lines between) and all alike
 *   (all granted, or all denied, cancelled, purged or revoked);
 * - L10 orphan-once: an orphan (op `orphan`) keeps its mode until it is adopted or purged; a grant
 *   that adopts (field `orphan`) names an orphan of that replica, and an orphan is adopted once,
 *   by the same owner on every replica; orphans are exempt from L5;
 * - L11 reentrancy-count: a re-entry (op `reenter`) is counted on a lock its own holder's node
 *   holds, with `depth` one more than before; a release with `depth` leaves that many holds and
 *   keeps the lock, a release without it ends the last hold.
 */
import { isLockMode, isUpConversion, modesCompatible, type LockMode } from '../../engine/locks/modes.js';
import type { NodeLineObserver } from './trace-reader.js';

export const LOCK_PROPERTIES = [
  { id: 'L1', name: 'lock-compatible' },
  { id: 'L2', name: 'grant-in-primary' },
  { id: 'L3', name: 'fence-growing' },
  { id: 'L4', name: 'replicas-agree' },
  { id: 'L5', name: 'purged-at-cut' },
  { id: 'L6', name: 'request-ended-once' },
  { id: 'L7', name: 'barrier-agree' },
  { id: 'L8', name: 'revoke-once' },
  { id: 'L9', name: 'atomic-request' },
  { id: 'L10', name: 'orphan-once' },
  { id: 'L11', name: 'reentrancy-count' },
  { id: 'L0', name: 'lock-line-format' },
] as const;
export type LockPropertyName = (typeof LOCK_PROPERTIES)[number]['name'];

export interface LockViolation {
  property: LockPropertyName;
  message: string;
  /** "file:line" positions. */
  lines: string[];
}

export interface LockCheckResult {
  ok: boolean;
  /** Lock lines read (0: the trace has no lock manager lines, nothing was checked). */
  lockLines: number;
  violations: LockViolation[];
  violationCounts: Record<LockPropertyName, number>;
}

const lockEvs = new Set(['lk', 'held', 'lost', 'barrier', 'lkstate']);
export const violationsPerPropertyMax = 20;

type Fields = Record<string, unknown>;

interface ReplicaState {
  file: string;
  /** "<node>:<incarnation>:" prefix of this file's own lock owners. */
  ownPrefix: string;
  confKind: string;
  confPrimary: boolean | null;
  /** Members of the configuration last installed, sorted, comma-joined. */
  confMembers: string;
  /** Members of the transitional configuration whose cut is still to be checked. */
  cutMembers: Set<string> | null;
  cutLine: number;
  /** ls \0 res -> owner -> granted mode. */
  held: Map<string, Map<string, LockMode>>;
  /** owner -> resource key, for every owner with a pending request. */
  pending: Map<string, string>;
  lastFence: Map<string, bigint>;
  /** Own owners revoked while held: expect one lost "revoked". */
  ownRevoked: Map<string, number>;
  lostRevoked: Map<string, number>;
  /** lkstate lines with members: how many of each (ring, point, members) so far. */
  points: Map<string, number>;
  /** Granted locks held by nobody (their node left; persistent). */
  orphans: Set<string>;
  /** Holds counted on a lock (1 unless re-entered). */
  depth: Map<string, number>;
  /** Pending members of each atomic request, and the request of each member. */
  groupPending: Map<string, Set<string>>;
  groupOf: Map<string, string>;
  /** An atomic request whose first member ended: the others must end next, the same way. */
  closing: { group: string; op: string; remaining: Set<string>; at: string } | null;
  /** Resources whose holders a sync's adopt lines changed: checked together once those lines end. */
  adopted: Map<string, string>;
}

interface GlobalState {
  fenceOwners: Map<string, { grant: string; at: string }>;
  /** ls \0 res \0 orphan -> the owner that adopted it. */
  adopters: Map<string, { owner: string; at: string }>;
}

function key(ls: string, res: string): string {
  return `${ls}\u0000${res}`;
}

function ownerNode(owner: string): string {
  return owner.split(':')[0] ?? '';
}

/** `files`: trace file name -> lines (as docs/trace-contract.md names them). */
export function checkLocks(files: ReadonlyMap<string, readonly string[]>): LockCheckResult {
  const checker = new LockChecker();
  for (const [file, lines] of [...files].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    checker.beginFile(file);
    lines.forEach((text, index) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return; // the EVS checker reports lines that do not parse
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
      checker.line(value as Fields, index + 1);
    });
    checker.endFile();
  }
  return checker.result();
}

/**
 * The lock checker fed one line at a time, files in name order (each line already parsed to a
 * JSON object), so that `totem-evs check` reads a directory once for both checkers.
 */
export class LockChecker implements NodeLineObserver {
  private readonly violations: LockViolation[] = [];
  private readonly counts = Object.fromEntries(LOCK_PROPERTIES.map((p) => [p.name, 0])) as Record<LockPropertyName, number>;
  private lockLines = 0;
  private readonly hashes = new Map<string, { hash: string; at: string }>();
  private readonly global: GlobalState = { fenceOwners: new Map(), adopters: new Map() };
  private readonly barrierVerdicts = new Map<string, { verdict: string; at: string }[]>();
  /** The replica of the file being read; null for a file whose name is not a node's. */
  private replica: ReplicaState | null = null;
  private entered = new Map<string, boolean>();
  private readonly report = (property: LockPropertyName, message: string, lines: string[]): void => {
    this.counts[property]++;
    if (this.counts[property] <= violationsPerPropertyMax) this.violations.push({ property, message, lines });
  };

  beginFile(file: string): void {
    const m = /^(\d+)\.(\d+)\.jsonl$/.exec(file);
    this.replica = m === null ? null : {
      file,
      ownPrefix: `${m[1]}:${m[2]}:`,
      confKind: '',
      confPrimary: null,
      confMembers: '',
      cutMembers: null,
      cutLine: 0,
      held: new Map(),
      pending: new Map(),
      lastFence: new Map(),
      ownRevoked: new Map(),
      lostRevoked: new Map(),
      points: new Map(),
      orphans: new Set(),
      depth: new Map(),
      groupPending: new Map(),
      groupOf: new Map(),
      closing: null,
      adopted: new Map(),
    };
    this.entered = new Map();
  }

  /** One line of the file, already parsed (lines that do not parse are the EVS checker's). */
  line(f: Fields, line: number): void {
    const r = this.replica;
    if (r === null) return;
    const at = `${r.file}:${line}`;
    const ev = f['ev'];
    if (ev === 'conf') {
      closeCheck(r, null, at, this.report);
      r.confKind = String(f['kind']);
      r.confPrimary = typeof f['primary'] === 'boolean' ? f['primary'] : null;
      r.confMembers = Array.isArray(f['members']) ? (f['members'] as unknown[]).map(String).sort().join(',') : '';
      if (r.cutMembers !== null) checkCut(r, this.report);
      if (f['kind'] === 'transitional' && Array.isArray(f['members'])) {
        r.cutMembers = new Set((f['members'] as unknown[]).map(String));
        r.cutLine = line;
      }
      return;
    }
    if (typeof ev !== 'string' || !lockEvs.has(ev)) {
      if (r.cutMembers !== null) checkCut(r, this.report);
      return;
    }
    this.lockLines++;
    if (ev === 'lkstate') {
      if (typeof f['primary'] === 'boolean') r.confPrimary = f['primary'];
      // Transitional configurations of one ring differ per side: the members are part of the point.
      // A real node's lock manager follows its group, whose ordered joins and leaves are points
      // inside one ring configuration: its lines carry the members and are numbered per key.
      let point = `${String(f['ring'])} ${String(f['point'])} [${r.confMembers}]`;
      if (Array.isArray(f['members'])) {
        const base = `${String(f['ring'])} ${String(f['point'])} [${(f['members'] as unknown[]).map(String).sort().join(',')}]`;
        const n = (r.points.get(base) ?? 0) + 1;
        r.points.set(base, n);
        point = `${base} #${n}`;
      }
      const hash = String(f['hash']);
      const seen = this.hashes.get(point);
      if (seen === undefined) this.hashes.set(point, { hash, at });
      else if (seen.hash !== hash) this.report('replicas-agree', `table hash ${hash} differs from ${seen.hash} at ${point}`, [seen.at, at]);
      if (f['point'] === 'transitional' && r.cutMembers !== null) checkCut(r, this.report);
      return;
    }
    if (ev === 'barrier') {
      const instance = `${String(f['ls'])}\u0000${String(f['name'])}\u0000${String(f['gen'])}\u0000${String(f['since'])}`;
      if (f['op'] === 'enter' && f['member'] === f['node']) this.entered.set(instance, true);
      if ((f['op'] === 'complete' || f['op'] === 'fail') && this.entered.get(instance) === true) {
        const list = this.barrierVerdicts.get(instance) ?? [];
        list.push({ verdict: String(f['op']), at });
        this.barrierVerdicts.set(instance, list);
        this.entered.delete(instance);
      }
      return;
    }
    const ls = f['ls'];
    const res = f['res'];
    const owner = f['owner'];
    if (typeof ls !== 'string' || typeof res !== 'string' || typeof owner !== 'string' || !/^\d+:\d+:\d+$/.test(owner)) {
      this.report('lock-line-format', `${ev} line without ls, res or a valid owner`, [at]);
      return;
    }
    const k = key(ls, res);
    if (ev === 'held') return;
    if (!(ev === 'lk' && (f['op'] === 'adopt' || (f['op'] === 'orphan' && f['reason'] === 'merge')))) checkAdopted(r, this.report);
    if (ev === 'lk') closeCheck(r, f, at, this.report);
    else if (ev !== 'lost') closeCheck(r, null, at, this.report);
    if (ev === 'lost') {
      if (f['reason'] === 'revoked') r.lostRevoked.set(owner, (r.lostRevoked.get(owner) ?? 0) + 1);
      if ((r.lostRevoked.get(owner) ?? 0) > 1) this.report('revoke-once', `owner ${owner} was told "revoked" twice`, [at]);
      return;
    }
    applyLk(r, f, k, owner, at, this.report, this.global);
  }

  endFile(): void {
    const r = this.replica;
    if (r === null) return;
    closeCheck(r, null, `${r.file}:end`, this.report);
    checkAdopted(r, this.report);
    if (r.cutMembers !== null) checkCut(r, this.report);
    for (const [owner, n] of r.ownRevoked) {
      const told = r.lostRevoked.get(owner) ?? 0;
      if (told !== n) this.report('revoke-once', `owner ${owner} held a lock revoked ${n} time(s) but was told ${told} time(s)`, [r.file]);
    }
    this.replica = null;
  }

  /** The verdict once every file has been read. */
  result(): LockCheckResult {
    const { counts, violations } = this;
    for (const [instance, verdicts] of this.barrierVerdicts) {
      const kinds = new Set(verdicts.map((v) => v.verdict));
      if (kinds.size > 1) {
        this.report('barrier-agree', `barrier ${instance.split('\u0000').slice(0, 2).join('/')} completed on some members and failed on others`, verdicts.map((v) => v.at));
      }
    }
    this.barrierVerdicts.clear();
    return { ok: violations.length === 0 && Object.values(counts).every((n) => n === 0), lockLines: this.lockLines, violations: [...violations], violationCounts: { ...counts } };
  }
}

function checkCut(r: ReplicaState, report: (p: LockPropertyName, m: string, l: string[]) => void): void {
  const members = r.cutMembers;
  r.cutMembers = null;
  if (members === null) return;
  for (const [k, holders] of r.held) {
    for (const owner of holders.keys()) {
      if (!members.has(ownerNode(owner)) && !r.orphans.has(owner)) report('purged-at-cut', `lock ${owner} on ${k.replace('\u0000', '/')} of a departed node survived the cut`, [`${r.file}:${r.cutLine}`]);
    }
  }
  for (const owner of r.pending.keys()) {
    if (!members.has(ownerNode(owner))) report('purged-at-cut', `request of ${owner} of a departed node survived the cut`, [`${r.file}:${r.cutLine}`]);
  }
}

function applyLk(
  r: ReplicaState,
  f: Fields,
  k: string,
  owner: string,
  at: string,
  report: (p: LockPropertyName, m: string, l: string[]) => void,
  global: GlobalState,
): void {
  const fenceOwners = global.fenceOwners;
  const op = f['op'];
  const mode = f['mode'];
  const holders = r.held.get(k) ?? new Map<string, LockMode>();
  r.held.set(k, holders);
  const current = holders.get(owner);
  const endPending = (what: string): void => {
    if (!r.pending.has(owner)) report('request-ended-once', `${what} of ${owner} without a pending request`, [at]);
    r.pending.delete(owner);
    endMember(r, owner, String(op), at);
  };
  const gone = (): void => {
    holders.delete(owner);
    r.orphans.delete(owner);
    r.depth.delete(owner);
  };
  const checkGrant = (m: LockMode, primaryNeeded: boolean, compatibleNow = true): void => {
    for (const [other, held] of compatibleNow ? holders : []) {
      if (other !== owner && !modesCompatible(held, m)) report('lock-compatible', `${owner} got ${m} on ${k.replace('\u0000', '/')} while ${other} holds ${held}`, [at]);
    }
    if (primaryNeeded && (r.confKind !== 'regular' || r.confPrimary !== true)) {
      report('grant-in-primary', `${owner} got ${m} in a ${r.confKind || 'missing'} configuration${r.confPrimary === true ? '' : ' not marked primary'}`, [at]);
    }
    const fence = f['fence'];
    if (typeof fence !== 'string' || !/^\d+$/.test(fence)) {
      report('lock-line-format', `grant of ${owner} without a decimal fence`, [at]);
      return;
    }
    const value = BigInt(fence);
    const last = r.lastFence.get(k);
    if (primaryNeeded && last !== undefined && value <= last) report('fence-growing', `fence ${fence} of ${owner} not above ${last} on ${k.replace('\u0000', '/')}`, [at]);
    if (last === undefined || value > last) r.lastFence.set(k, value);
    // A token names one lock (a down-conversion keeps it, an adopted copy repeats it).
    const grant = owner;
    const seen = fenceOwners.get(`${k}\u0000${fence}`);
    if (seen === undefined) fenceOwners.set(`${k}\u0000${fence}`, { grant, at });
    else if (seen.grant !== grant && primaryNeeded) report('fence-growing', `fence ${fence} names two grants: ${seen.grant} and ${grant}`, [seen.at, at]);
  };
  switch (op) {
    case 'request':
      if (r.pending.has(owner)) report('request-ended-once', `second request of ${owner} while one is pending`, [at]);
      r.pending.set(owner, k);
      if (typeof f['group'] === 'string') addMember(r, f['group'], owner);
      return;
    case 'grant': {
      if (!isLockMode(mode)) return report('lock-line-format', 'grant without a mode', [at]);
      endPending('grant');
      const orphan = f['orphan'];
      if (typeof orphan === 'string') {
        // An adoption: the orphan's place (same mode) goes to the adopter.
        if (!r.orphans.has(orphan) || holders.get(orphan) !== mode) {
          report('orphan-once', `${owner} adopted ${orphan} in ${mode}, which is not an orphan of that mode here`, [at]);
        }
        holders.delete(orphan);
        r.orphans.delete(orphan);
        r.depth.delete(orphan);
        const seen = global.adopters.get(`${k}\u0000${orphan}`);
        if (seen === undefined) global.adopters.set(`${k}\u0000${orphan}`, { owner, at });
        else if (seen.owner !== owner) report('orphan-once', `orphan ${orphan} adopted by ${seen.owner} and by ${owner}`, [seen.at, at]);
      }
      checkGrant(mode, true);
      // A conversion granted from the queue keeps the holds counted on its lock.
      if (current === undefined) r.depth.set(owner, 1);
      holders.set(owner, mode);
      return;
    }
    case 'orphan':
      if (f['reason'] === 'merge') {
        // The adopted table holds this lock as an orphan, whatever this replica had.
        if (!isLockMode(mode)) return report('lock-line-format', 'orphan without a mode', [at]);
        holders.set(owner, mode);
        r.pending.delete(owner);
        r.groupOf.delete(owner);
        r.orphans.add(owner);
        r.depth.set(owner, 1);
        r.adopted.set(k, at);
        return;
      }
      if (current === undefined) report('orphan-once', `orphan ${owner} on ${k.replace('\u0000', '/')}, which holds nothing`, [at]);
      else if (mode !== undefined && mode !== current) report('orphan-once', `orphan ${owner} in ${String(mode)} while it holds ${current}`, [at]);
      if (r.pending.has(owner)) report('request-ended-once', `orphan ${owner} with a request pending`, [at]);
      r.orphans.add(owner);
      r.depth.set(owner, 1);
      return;
    case 'reenter': {
      endPending('reenter');
      const of = f['of'];
      const depth = f['depth'];
      const held = typeof of === 'string' ? holders.get(of) : undefined;
      if (typeof of !== 'string' || held === undefined || r.orphans.has(of) || of.split(':').slice(0, 2).join(':') !== owner.split(':').slice(0, 2).join(':')) {
        report('reentrancy-count', `${owner} re-entered ${String(of)}, which its node does not hold on ${k.replace('\u0000', '/')}`, [at]);
        return;
      }
      const before = r.depth.get(of) ?? 1;
      if (depth !== before + 1) report('reentrancy-count', `re-entry of ${of} says depth ${String(depth)}, expected ${before + 1}`, [at]);
      r.depth.set(of, before + 1);
      return;
    }
    case 'convert': {
      if (!isLockMode(mode)) return report('lock-line-format', 'convert without a mode', [at]);
      endPending('convert');
      if (current === undefined) report('request-ended-once', `convert of ${owner}, which holds nothing`, [at]);
      else if (isUpConversion(current, mode)) checkGrant(mode, true);
      holders.set(owner, mode);
      return;
    }
    case 'adopt':
      if (!isLockMode(mode)) return report('lock-line-format', 'adopt without a mode', [at]);
      // An adopted lock: held (with a conversion pending when "converting"), an orphan, or still queued.
      // Its holders are checked for compatibility once the sync's adopt lines end (checkAdopted).
      r.adopted.set(k, at);
      if (f['reason'] === 'queued') {
        holders.delete(owner);
        r.orphans.delete(owner);
        r.pending.set(owner, k);
        if (typeof f['group'] === 'string') addMember(r, f['group'], owner);
      } else {
        checkGrant(mode, false, false);
        holders.set(owner, mode);
        r.groupOf.delete(owner);
        if (f['reason'] !== 'converting') r.pending.delete(owner);
        r.depth.set(owner, typeof f['depth'] === 'number' ? f['depth'] : 1);
        if (f['reason'] === 'orphan') r.orphans.add(owner);
        else r.orphans.delete(owner);
        if (f['reason'] === 'converting') r.pending.set(owner, k);
      }
      return;
    case 'deny':
      if (f['reason'] === 'in-progress') return;
      endPending('deny');
      return;
    case 'cancel':
      endPending('cancel');
      return;
    case 'release': {
      if (current === undefined) report('request-ended-once', `release of ${owner}, which holds nothing`, [at]);
      if (r.orphans.has(owner)) report('orphan-once', `release of orphan ${owner}, which nobody holds`, [at]);
      const before = r.depth.get(owner) ?? 1;
      const depth = f['depth'];
      if (depth !== undefined) {
        // One hold of a re-entered lock: the lock stays.
        if (depth !== before - 1 || before < 2) report('reentrancy-count', `release of ${owner} leaves depth ${String(depth)}, expected ${before - 1}`, [at]);
        r.depth.set(owner, before - 1);
        return;
      }
      if (before !== 1) report('reentrancy-count', `${owner} released with ${before} holds counted`, [at]);
      gone();
      return;
    }
    case 'purge':
    case 'revoke':
      if (current === undefined && !r.pending.has(owner)) report('request-ended-once', `${String(op)} of ${owner}, which holds and waits for nothing`, [at]);
      if (op === 'revoke' && current !== undefined && owner.startsWith(r.ownPrefix) && !r.orphans.has(owner)) r.ownRevoked.set(owner, (r.ownRevoked.get(owner) ?? 0) + 1);
      if (r.pending.has(owner) && current === undefined) endMember(r, owner, String(op), at);
      gone();
      r.pending.delete(owner);
      return;
    case 'bast':
      return;
    default:
      report('lock-line-format', `unknown lk op ${JSON.stringify(op)}`, [at]);
  }
}

/** L1 over the resources a sync's adopt lines changed: the adopted table's holders are compatible. */
function checkAdopted(r: ReplicaState, report: (p: LockPropertyName, m: string, l: string[]) => void): void {
  if (r.adopted.size === 0) return;
  for (const [k, at] of r.adopted) {
    const list = [...(r.held.get(k) ?? new Map<string, LockMode>())];
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a, ma] = list[i] ?? ['', 'NL'];
        const [b, mb] = list[j] ?? ['', 'NL'];
        if (!modesCompatible(ma, mb)) report('lock-compatible', `after a sync ${a} holds ${ma} and ${b} holds ${mb} on ${k.replace('\u0000', '/')}`, [at]);
      }
    }
  }
  r.adopted.clear();
}

function addMember(r: ReplicaState, group: string, owner: string): void {
  const set = r.groupPending.get(group) ?? new Set<string>();
  set.add(owner);
  r.groupPending.set(group, set);
  r.groupOf.set(owner, group);
}

/** A pending member of an atomic request ended (`op`): the other members must follow at once. */
function endMember(r: ReplicaState, owner: string, op: string, at: string): void {
  const group = r.groupOf.get(owner);
  if (group === undefined) return;
  r.groupOf.delete(owner);
  const set = r.groupPending.get(group);
  set?.delete(owner);
  if (set === undefined || set.size === 0) {
    r.groupPending.delete(group);
    return;
  }
  if (r.closing === null) r.closing = { group, op, remaining: new Set(set), at };
}

/**
 * L9: while an atomic request is closing, the next lock lines (held lines aside) must end its
 * other members the same way. `f` is the lk line about to be applied, null for any other line.
 */
function closeCheck(r: ReplicaState, f: Fields | null, at: string, report: (p: LockPropertyName, m: string, l: string[]) => void): void {
  const c = r.closing;
  if (c === null) return;
  const owner = f === null ? undefined : f['owner'];
  if (f !== null && typeof owner === 'string' && c.remaining.has(owner)) {
    if (f['op'] === c.op) {
      c.remaining.delete(owner);
      if (c.remaining.size === 0) r.closing = null;
      return;
    }
  }
  report('atomic-request', `atomic request ${c.group} ${c.op} for some of its locks but not for ${[...c.remaining].join(', ')}`, [c.at, at]);
  for (const m of c.remaining) r.groupOf.delete(m);
  r.groupPending.delete(c.group);
  r.closing = null;
}

/** Text report of a lock check (the `totem-evs check` output). */
export function formatLockReport(result: LockCheckResult): string {
  const out: string[] = [];
  for (const p of LOCK_PROPERTIES) {
    const n = result.violationCounts[p.name];
    if (n === 0) continue;
    out.push(`${p.id} ${p.name}: ${n} violation${n === 1 ? '' : 's'}`);
    for (const v of result.violations.filter((x) => x.property === p.name)) out.push(`  - ${v.message}\n    at ${v.lines.join(' ')}`);
  }
  out.push(result.ok ? `OK: lock manager properties hold (${result.lockLines} lock lines)` : `FAILED: lock manager properties violated`);
  return `${out.join('\n')}\n`;
}
