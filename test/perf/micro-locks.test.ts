/**
 * The lock table micro-benchmark measures what it says: a small run applies the uncontended
 * lock/unlock batches (it throws if a lock was not found, refused, or left held) and reports a rate.
 */
import { describe, expect, it } from 'vitest';
import { lockBenchmarks } from '../../perf/micro/locks.js';

describe('bench:micro locks', () => {
  it('applies every lock and unlock of its batches and reports one rate per run', () => {
    const [result] = lockBenchmarks(2, 0.01);
    expect(result?.name).toBe('locks: table apply, uncontended lock/unlock');
    expect(result?.runs).toHaveLength(2);
    expect(result?.opsPerSecMedian).toBeGreaterThan(0);
  });
});
