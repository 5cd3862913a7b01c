/**
 * The micro-benchmarks' measuring loop: a warm-up run, then `runs` timed runs of `ops`
 * operations each; reports the median ops/s and the spread (min..max) of the runs, since this
 * host freezes threads now and then and one run says little.
 */
export interface MicroResult {
  name: string;
  opsPerSecMedian: number;
  opsPerSecMin: number;
  opsPerSecMax: number;
  runs: number[];
}

/** The median of the runs (the mean of the middle two for an even count); 0 for none. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  if (sorted.length === 0) return 0;
  return sorted.length % 2 === 1 ? (sorted[m] as number) : ((sorted[m - 1] as number) + (sorted[m] as number)) / 2;
}

/** `body(ops)` performs `ops` operations and returns a value kept live so the JIT cannot drop the work. */
export function measure(name: string, ops: number, runs: number, body: (ops: number) => number): MicroResult {
  let sink = body(Math.max(1, Math.floor(ops / 4)));
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    sink ^= body(ops);
    const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(ops / elapsedS);
  }
  if (sink === 0x7fffffff) console.log('');
  return resultOf(name, rates);
}

export function resultOf(name: string, rates: number[]): MicroResult {
  return {
    name,
    opsPerSecMedian: Math.round(median(rates)),
    opsPerSecMin: Math.round(Math.min(...rates)),
    opsPerSecMax: Math.round(Math.max(...rates)),
    runs: rates.map(Math.round),
  };
}

export function formatResult(r: MicroResult): string {
  const f = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
  return `${r.name.padEnd(46)} median ${f(r.opsPerSecMedian).padStart(8)} ops/s  (min ${f(r.opsPerSecMin)}, max ${f(r.opsPerSecMax)})`;
}
