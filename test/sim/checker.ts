/**
 * The EVS checker (api/trace/evs-checker.ts) as the simulator uses it: in-memory traces in,
 * violations out. Loaded by a dynamic import so that the simulator still builds and runs (with a
 * warning in every result) where the checker module is absent.
 */

export interface CheckInput {
  files: Map<string, string[]>;
  harness: string[];
}

export interface CheckViolation {
  property: string;
  message: string;
  witness?: unknown;
}

export interface CheckOutcome {
  ok: boolean;
  violations: CheckViolation[];
}

export type CheckFn = (input: CheckInput, options: { settled: boolean; allowInflight: boolean }) => CheckOutcome;

let loaded: CheckFn | null | undefined;

/** Load the checker once per thread; null when the module does not exist. */
export async function loadChecker(): Promise<CheckFn | null> {
  if (loaded !== undefined) return loaded;
  // A computed specifier keeps tsc from requiring the module at build time.
  const specifier = ['..', '..', 'api', 'trace', 'evs-checker.js'].join('/');
  try {
    const module = (await import(specifier)) as { checkTrace?: CheckFn };
    loaded = typeof module.checkTrace === 'function' ? module.checkTrace : null;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    loaded = null;
  }
  return loaded;
}

/** The checker if loadChecker() has found it. */
export function loadedChecker(): CheckFn | null {
  return loaded ?? null;
}
