import { describe, expect, it } from 'vitest';
import { checkLocks, type LockPropertyName } from '../../api/check/locks-checker.js';
import { formed, lock, Replicas } from '../engine/locks/harness.js';

const all = [1, 2, 3];

/** A run with contention, conversions, a split with a non-primary side, a merge and a barrier. */
function goodRun(): Replicas {
  const r = formed(all);
  r.deliver(1, lock(1, 'a', 'PR'), all);
  r.deliver(2, lock(1, 'a', 'PR'), all);
  r.deliver(3, lock(1, 'a', 'EX'), all);
  r.deliver(1, { type: 'convert', counter: 1, mode: 'EX', flags: {}, lvb: null }, all);
  r.deliver(2, { type: 'unlock', counter: 1, lvb: null }, all);
  r.deliver(3, lock(2, 'b', 'EX'), all);
  for (const id of all) r.deliver(id, { type: 'barrier', ls: 'ls', name: 'x', members: null }, all);
  r.configure([1, 2], [1, 2], [1, 2]);
  r.configure([3], [3], [3]);
  r.deliver(1, lock(2, 'b', 'EX'), [1, 2]);
  r.merge([[1, 2], [3]], all);
  r.flushSyncs(all, all);
  r.deliver(1, { type: 'unlock', counter: 1, lvb: null }, all);
  return r;
}

/** Atomic requests (one granted, one denied), persistent locks (one adopted, one purged) and a re-entry. */
function featuresRun(): Replicas {
  const r = formed(all);
  const many = (node: number, counter: number, items: [string, 'EX' | 'PR'][], noQueue = false): void =>
    r.deliver(node, { type: 'lockMany', counter, holder: 0, ls: 'ls', items: items.map(([res, mode]) => ({ res, mode })), flags: { noQueue }, lvbBytes: 32 }, all);
  r.deliver(2, lock(1, 'b', 'EX'), all);
  many(1, 1, [['a', 'EX'], ['b', 'EX']]);
  r.deliver(2, { type: 'unlock', counter: 1, lvb: null }, all); // the atomic request is granted
  many(3, 1, [['a', 'EX'], ['c', 'PR']], true); // denied whole
  r.deliver(3, lock(3, 'p', 'PW', { flags: { persistent: true } }), all);
  r.deliver(3, lock(4, 'q', 'EX', { flags: { persistent: true } }), all);
  r.deliver(1, lock(3, 'r', 'EX', { ls: 'rl', holder: 4, reentrancyMax: 3 }), all);
  r.deliver(1, lock(4, 'r', 'PR', { ls: 'rl', holder: 4 }), all); // re-entry: depth 2
  r.deliver(1, { type: 'unlock', counter: 3, lvb: null }, all); // depth 1
  r.configure([1, 2], [1, 2], [1, 2]); // 3 leaves: its persistent locks are orphans
  r.deliver(2, { type: 'adopt', counter: 2, holder: 0, ls: 'ls', res: 'p', mode: 'PW', orphan: '' }, [1, 2]);
  r.deliver(1, { type: 'purgeOrphans', ls: 'ls', res: 'q', orphan: '' }, [1, 2]);
  r.deliver(1, { type: 'unlock', counter: 3, lvb: null }, [1, 2]); // the last hold
  return r;
}

function violated(files: Map<string, string[]>): LockPropertyName[] {
  const result = checkLocks(files);
  return Object.entries(result.violationCounts)
    .filter(([, n]) => n > 0)
    .map(([p]) => p as LockPropertyName);
}

/** Apply `edit` to one node's lines. */
function mutate(r: Replicas, file: string, edit: (lines: string[]) => string[]): Map<string, string[]> {
  const files = r.files();
  const lines = files.get(file);
  if (lines === undefined) throw new Error(`no file ${file}`);
  files.set(file, edit(lines.slice()));
  return files;
}

function findIndex(lines: string[], pred: (f: Record<string, unknown>) => boolean): number {
  const i = lines.findIndex((l) => pred(JSON.parse(l) as Record<string, unknown>));
  if (i < 0) throw new Error('line not found');
  return i;
}

describe('lock checker', () => {
  it('passes a run of the lock table (contention, conversion, split, merge, barrier)', () => {
    const r = goodRun();
    const result = checkLocks(r.files());
    expect(result.violations).toEqual([]);
    expect(result.lockLines).toBeGreaterThan(20);
  });

  it('L1: catches an incompatible grant', () => {
    const files = mutate(goodRun(), '1.1001.jsonl', (lines) => {
      const i = findIndex(lines, (f) => f['op'] === 'grant' && f['owner'] === '2:1002:1');
      lines[i] = (lines[i] ?? '').replace('"mode":"PR"', '"mode":"EX"');
      return lines;
    });
    expect(violated(files)).toContain('lock-compatible');
  });

  it('L2: catches a grant outside a primary regular configuration', () => {
    const files = mutate(goodRun(), '3.1003.jsonl', (lines) => {
      const i = findIndex(lines, (f) => f['ev'] === 'conf' && f['members'] instanceof Array && (f['members'] as unknown[]).length === 1 && f['kind'] === 'regular');
      lines.splice(i + 1, 0, JSON.stringify({ ev: 'lk', node: '3', ls: 'ls', res: 'z', op: 'request', owner: '3:1003:9', mode: 'EX', t: 0 }));
      lines.splice(i + 2, 0, JSON.stringify({ ev: 'lk', node: '3', ls: 'ls', res: 'z', op: 'grant', owner: '3:1003:9', mode: 'EX', fence: '999999999', t: 0 }));
      return lines;
    });
    expect(violated(files)).toEqual(['grant-in-primary']);
  });

  it('L3: catches a fencing token that does not grow', () => {
    const files = mutate(goodRun(), '2.1002.jsonl', (lines) => {
      const grants = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes('"op":"grant"') && l.includes('"res":"a"'));
      const first = grants[0]?.[0] ?? '';
      const fence = /"fence":"(\d+)"/.exec(first)?.[1] ?? '';
      const last = grants[grants.length - 1];
      if (last === undefined) throw new Error('no grants');
      lines[last[1]] = last[0].replace(/"fence":"\d+"/, `"fence":"${fence}"`);
      return lines;
    });
    expect(violated(files)).toContain('fence-growing');
  });

  it('L4: catches replicas whose table hashes differ at one point', () => {
    const files = mutate(goodRun(), '2.1002.jsonl', (lines) => {
      const i = findIndex(lines, (f) => f['ev'] === 'lkstate');
      lines[i] = (lines[i] ?? '').replace(/"hash":"[0-9a-f]+"/, '"hash":"0000000000000000"');
      return lines;
    });
    expect(violated(files)).toEqual(['replicas-agree']);
  });

  it('L5: catches a departed holder kept after the cut', () => {
    const files = mutate(goodRun(), '1.1001.jsonl', (lines) => lines.filter((l) => !l.includes('"op":"purge"')));
    expect(violated(files)).toContain('purged-at-cut');
  });

  it('L6: catches a request ended twice and one ended without being pending', () => {
    const files = mutate(goodRun(), '1.1001.jsonl', (lines) => {
      const i = findIndex(lines, (f) => f['op'] === 'grant');
      lines.splice(i + 1, 0, JSON.stringify({ ev: 'lk', node: '1', ls: 'ls', res: 'a', op: 'deny', owner: '1:1001:1', reason: 'timeout', t: 0 }));
      return lines;
    });
    expect(violated(files)).toEqual(['request-ended-once']);
  });

  it('L7: catches a barrier completed on one member and failed on another', () => {
    const files = mutate(goodRun(), '2.1002.jsonl', (lines) => {
      const i = findIndex(lines, (f) => f['ev'] === 'barrier' && f['op'] === 'complete');
      lines[i] = (lines[i] ?? '').replace('"op":"complete"', '"op":"fail"');
      return lines;
    });
    expect(violated(files)).toEqual(['barrier-agree']);
  });

  it('L8: catches a revoked holder told twice, and one never told', () => {
    const twice = mutate(goodRun(), '3.1003.jsonl', (lines) => {
      const i = findIndex(lines, (f) => f['ev'] === 'lost' && f['reason'] === 'revoked');
      return [...lines.slice(0, i + 1), lines[i] ?? '', ...lines.slice(i + 1)];
    });
    expect(violated(twice)).toEqual(['revoke-once']);
    const never = mutate(goodRun(), '3.1003.jsonl', (lines) => lines.filter((l) => !(l.includes('"ev":"lost"') && l.includes('revoked'))));
    expect(violated(never)).toEqual(['revoke-once']);
  });

  it('passes a run with atomic requests, orphans, adoption, purge and re-entry', () => {
    const r = featuresRun();
    expect(checkLocks(r.files()).violations).toEqual([]);
    const text = [...r.files().values()].flat().join('\n');
    for (const op of ['"op":"orphan"', '"op":"reenter"', '"orphan":"3:1003:3"', '"group":"1:1001:1"', '"depth":1']) expect(text).toContain(op);
  });

  it('L9: catches an atomic request whose locks are granted apart, or ended differently', () => {
    const apart = mutate(featuresRun(), '2.1002.jsonl', (lines) => {
      const i = findIndex(lines, (f) => f['op'] === 'grant' && f['owner'] === '1:1001:1');
      const bast = JSON.stringify({ ev: 'lk', node: '2', ls: 'ls', res: 'z', op: 'bast', owner: '2:1002:9', mode: 'EX', t: 0 });
      return [...lines.slice(0, i + 1), bast, ...lines.slice(i + 1)];
    });
    expect(violated(apart)).toEqual(['atomic-request']);
    const differently = mutate(featuresRun(), '1.1001.jsonl', (lines) => {
      const i = findIndex(lines, (f) => f['op'] === 'deny' && f['owner'] === '3:1003:2');
      lines[i] = (lines[i] ?? '').replace('"op":"deny"', '"op":"cancel"');
      return lines;
    });
    expect(violated(differently)).toEqual(['atomic-request']);
  });

  it('L10: catches an orphan adopted twice, and one adopted by different owners on two replicas', () => {
    const twice = mutate(featuresRun(), '1.1001.jsonl', (lines) => {
      const i = findIndex(lines, (f) => f['op'] === 'grant' && f['orphan'] === '3:1003:3');
      const again = [
        JSON.stringify({ ev: 'lk', node: '1', ls: 'ls', res: 'p', op: 'request', owner: '1:1001:9', mode: 'PW', reason: 'adopt', t: 0 }),
        (lines[i] ?? '').replace('"owner":"2:1002:2"', '"owner":"1:1001:9"').replace(/"fence":"(\d+)"/, (_, n: string) => `"fence":"${BigInt(n) + 1n}"`),
      ];
      return [...lines.slice(0, i + 1), ...again, ...lines.slice(i + 1)];
    });
    expect(violated(twice)).toContain('orphan-once');
    const split = mutate(featuresRun(), '1.1001.jsonl', (lines) =>
      lines.map((l) => (l.includes('"orphan":"3:1003:3"') || (l.includes('"op":"request"') && l.includes('"2:1002:2"')) ? l.replace('"owner":"2:1002:2"', '"owner":"2:1002:8"') : l)),
    );
    expect(violated(split)).toContain('orphan-once');
  });

  it('L11: catches a wrong re-entry depth and a lock released with holds still counted', () => {
    const wrong = mutate(featuresRun(), '2.1002.jsonl', (lines) => lines.map((l) => (l.includes('"op":"reenter"') ? l.replace('"depth":2', '"depth":3') : l)));
    expect(violated(wrong)).toContain('reentrancy-count');
    const early = mutate(featuresRun(), '2.1002.jsonl', (lines) => lines.filter((l) => !(l.includes('"op":"release"') && l.includes('"depth":1'))));
    expect(violated(early)).toEqual(['reentrancy-count']);
  });
});
