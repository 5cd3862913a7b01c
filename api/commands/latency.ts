/**
 * Latency histograms in microseconds (hdr-histogram-js): recorded by each node, encoded into its
 * final JSON line, merged by the bench. 3 significant digits from 1 µs to 10 minutes.
 */
import * as hdr from 'hdr-histogram-js';

export type LatencyHistogram = hdr.Histogram;

const latencyUsMax = 600_000_000;

export function createLatencyHistogram(): LatencyHistogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: latencyUsMax, numberOfSignificantValueDigits: 3 });
}

export function recordLatencyUs(h: LatencyHistogram, latencyUs: number): void {
  h.recordValue(Math.min(latencyUsMax, Math.max(1, Math.round(latencyUs))));
}

export interface LatencySummaryUs {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
}

export function summarizeUs(h: LatencyHistogram): LatencySummaryUs {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0 };
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    p9999: h.getValueAtPercentile(99.99),
    max: h.maxValue,
  };
}

export function encodeHistogram(h: LatencyHistogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): LatencyHistogram {
  return hdr.decodeFromCompressedBase64(encoded);
}
