/**
 * What every option check shares: the error it throws, how it shows a bad value, how it names an
 * unknown key (with the likely meant one), and the bounded-integer check most numeric options use.
 *
 * Every bad option is a TotemError `TOTEM_ERR_INVALID_OPTION` whose `details.option` is the path
 * of the option (`members[2].address`, `key.file`) and whose message says what to change: the
 * path lets a program point at the field, the message lets a person fix it without the docs.
 */
import { TotemError } from '../../workers/errors.js';

export function invalid(option: string, message: string): TotemError {
  return new TotemError('TOTEM_ERR_INVALID_OPTION', message, { details: { option } });
}

/** A bad value as a message shows it: strings quoted, objects and arrays by kind, not dumped. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : String(v);
}

/** An object that may hold named options (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v` when it is a whole number in min..max; `unit` says in what ("milliseconds", "bytes"). */
export function parseInteger(v: unknown, option: string, min: number, max: number, unit: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const why = `${option} must be a whole number of ${unit} in ${min}..${max}, got ${describe(v)}`;
    throw invalid(option, why);
  }
  return v;
}

/** The integer option `option` of `o`, or `fallback` when it is left out. */
export function optionalInteger(
  o: Record<string, unknown>,
  option: string,
  fallback: number,
  min: number,
  max: number,
  unit: string,
): number {
  const v = o[option];
  return v === undefined ? fallback : parseInteger(v, option, min, max, unit);
}

/**
 * Refuse the first key of `o` not in `known`. `where` prefixes the key in the error (`members[0].`,
 * `key.`); `what` names the kind of key ("option", "member key").
 */
export function checkKnownKeys(
  o: Record<string, unknown>,
  known: readonly string[],
  where: string,
  what: string,
): void {
  for (const k of Object.keys(o)) {
    if (known.includes(k)) continue;
    const suggestion = suggest(k, known);
    const hint = suggestion === null
      ? `; known ${what}s: ${known.join(', ')}`
      : ` — did you mean '${where}${suggestion}'?`;
    throw invalid(`${where}${k}`, `unknown ${what} '${where}${k}'${hint}`);
  }
}

// Names people reach for from other systems (corosync, generic servers) that edit distance misses.
const optionAliases: Readonly<Record<string, string>> = {
  mtu: 'netMtu', listen: 'bind', bindAddress: 'bind', address: 'bind', nodes: 'members',
  peers: 'members', keyFile: 'key', authkey: 'key', id: 'nodeId', level: 'logLevel',
  traceDir: 'trace', window: 'windowSize', token: 'tokenTimeoutMs', consensus: 'consensusTimeoutMs',
  join: 'joinTimeoutMs', mcastaddr: 'multicastAddress',
};

/** The known name closest to `name`, if close enough to be a likely typo. */
export function suggest(name: string, known: readonly string[]): string | null {
  const alias = optionAliases[name];
  if (alias !== undefined && known.includes(alias)) return alias;
  // Where only one name fits (key: { file }), any other name was meant to be it.
  if (known.length === 1) return known[0] ?? null;
  const lower = name.toLowerCase();
  // An abbreviation ('addr' for 'address', 'consensusTimeout').
  const extended = lower.length >= 3 ? known.find((k) => k.toLowerCase().startsWith(lower)) : undefined;
  if (extended !== undefined) return extended;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const cur = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
