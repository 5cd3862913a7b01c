/**
 * The six lock modes of the VMS / Linux DLM and their compatibility matrix.
 *
 *        NL  CR  CW  PR  PW  EX
 *   NL   y   y   y   y   y   y
 *   CR   y   y   y   y   y   n
 *   CW   y   y   y   n   n   n
 *   PR   y   y   n   y   n   n
 *   PW   y   y   n   n   n   n
 *   EX   y   n   n   n   n   n
 *
 * NL null (holds a place, keeps the value block alive), CR concurrent read, CW concurrent write,
 * PR protected read (shared), PW protected write (one writer, concurrent readers through CR),
 * EX exclusive.
 */
export const lockModes = ['NL', 'CR', 'CW', 'PR', 'PW', 'EX'] as const;
export type LockMode = (typeof lockModes)[number];

/** Row = one mode, column = the other, in lockModes order. Symmetric. */
const compatibility: readonly (readonly boolean[])[] = [
  [true, true, true, true, true, true],
  [true, true, true, true, true, false],
  [true, true, true, false, false, false],
  [true, true, false, true, false, false],
  [true, true, false, false, false, false],
  [true, false, false, false, false, false],
];

export function modeIndex(mode: LockMode): number {
  return lockModes.indexOf(mode);
}

export function isLockMode(value: unknown): value is LockMode {
  return typeof value === 'string' && (lockModes as readonly string[]).includes(value);
}

export function modesCompatible(a: LockMode, b: LockMode): boolean {
  return compatibility[modeIndex(a)]?.[modeIndex(b)] === true;
}

/**
 * A conversion is "up" when the new mode may conflict with something the old one did not: the
 * new mode is stronger, or CW <-> PR (neither includes the other, as in the DLM). Up-conversions
 * queue and get a new fencing token; down-conversions are granted in place at once.
 */
export function isUpConversion(from: LockMode, to: LockMode): boolean {
  if (from === to) return false;
  if ((from === 'CW' && to === 'PR') || (from === 'PR' && to === 'CW')) return true;
  return modeIndex(to) > modeIndex(from);
}

/** Modes whose release or down-conversion writes the value block (DLM: PW and EX). */
export function writesValueBlock(mode: LockMode): boolean {
  return mode === 'PW' || mode === 'EX';
}

// The matrix is symmetric and NL is compatible with everything: checked once at load.
for (let i = 0; i < lockModes.length; i++) {
  for (let j = 0; j < lockModes.length; j++) {
    if (compatibility[i]?.[j] !== compatibility[j]?.[i]) throw new Error('lock compatibility matrix must be symmetric');
  }
  if (compatibility[0]?.[i] !== true) throw new Error('NL must be compatible with every mode');
}
