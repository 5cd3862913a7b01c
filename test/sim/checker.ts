/**
 * The EVS checker (api/check/, entry point evs-checker.ts) as the simulator uses it: in-memory
 * traces in, violations out. A test may substitute another check, or none (`null`), through this shape.
 */
import { checkTrace } from '../../api/check/evs-checker.js';

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
  warnings?: string[];
}

export type CheckFn = (input: CheckInput, options: { settled: boolean; allowInflight: boolean }) => CheckOutcome;

export const evsCheck: CheckFn = (input, options) => checkTrace(input, options);
