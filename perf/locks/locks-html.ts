/**
 * The HTML page of `totem-evs bench --workload locks --report FILE`: self-contained (inline SVG,
 * no script, nothing fetched). The acquire latency percentile distribution of every system of the
 * run (the last run's merged hdr histograms; totem-evs's agreed delivery beside it), on a "nines"
 * x axis and a log µs y axis; the figures and targets; the whole JSON report.
 */
import type { LatencyHistogram } from '../../api/commands/latency.js';
import { percentileSeries } from '../html-report.js';
import type { LocksBenchReport, SystemRun } from './bench-locks.js';

const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function svg(series: { name: string; h: LatencyHistogram }[]): string {
  const width = 760;
  const height = 360;
  const m = { left: 70, right: 20, top: 20, bottom: 50 };
  const data = series.map((s) => ({ name: s.name, points: percentileSeries(s.h) })).filter((s) => s.points.length > 0);
  if (data.length === 0) return '<p>No latency samples.</p>';
  const xMax = Math.max(...data.flatMap((s) => s.points.map((p) => p[0])));
  const ys = data.flatMap((s) => s.points.map((p) => Math.max(1, p[1])));
  const yMin = Math.floor(Math.log10(Math.min(...ys)));
  const yMax = Math.max(yMin + 1, Math.ceil(Math.log10(Math.max(...ys))));
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number): number => m.left + (x / xMax) * pw;
  const sy = (v: number): number => m.top + ph - ((Math.log10(Math.max(1, v)) - yMin) / (yMax - yMin)) * ph;
  const parts: string[] = [];
  for (let d = yMin; d <= yMax; d++) {
    parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${sy(10 ** d)}" y2="${sy(10 ** d)}" stroke="#ddd"/><text x="${m.left - 6}" y="${sy(10 ** d) + 4}" text-anchor="end" font-size="11">${(10 ** d).toLocaleString('en-US')}</text>`);
  }
  for (let n = 0; n <= Math.floor(xMax); n++) {
    const label = n === 0 ? '0%' : `${(100 * (1 - 10 ** -n)).toFixed(n)}%`;
    parts.push(`<line x1="${sx(n)}" x2="${sx(n)}" y1="${m.top}" y2="${m.top + ph}" stroke="#eee"/><text x="${sx(n)}" y="${height - m.bottom + 16}" text-anchor="middle" font-size="11">${label}</text>`);
  }
  data.forEach((s, i) => {
    const color = colors[i % colors.length] as string;
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ')}"/>`);
    parts.push(`<rect x="${m.left + 10}" y="${m.top + 8 + i * 16}" width="10" height="10" fill="${color}"/><text x="${m.left + 26}" y="${m.top + 17 + i * 16}" font-size="12">${esc(s.name)}</text>`);
  });
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 8}" text-anchor="middle" font-size="12">percentile</text>`);
  parts.push(`<text x="14" y="${m.top + ph / 2}" transform="rotate(-90 14 ${m.top + ph / 2})" text-anchor="middle" font-size="12">latency µs (log)</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="acquire latency percentiles">${parts.join('')}</svg>`;
}

export function renderLocksHtml(report: LocksBenchReport, ours: SystemRun[], peers: Map<string, { runs: SystemRun[] }>): string {
  const last = ours[ours.length - 1];
  const series: { name: string; h: LatencyHistogram }[] = [];
  if (last !== undefined) {
    series.push({ name: 'totem-evs acquire', h: last.acquire });
    if (last.probe !== undefined) series.push({ name: 'totem-evs agreed delivery (probe)', h: last.probe });
  }
  for (const [peer, { runs }] of peers) {
    const r = runs[runs.length - 1];
    if (r !== undefined) series.push({ name: `${peer} acquire`, h: r.acquire });
  }
  const rows = [['totem-evs', report.locks.cyclesPerSec, report.locks.acquireLatencyUs] as const, ...Object.entries(report.peers).map(([p, f]) => [p, f.cyclesPerSec, f.acquireLatencyUs] as const)]
    .map(([name, cps, l]) => `<tr><td>${esc(name)}</td><td>${cps.toLocaleString('en-US')}</td><td>${l.p50}</td><td>${l.p90}</td><td>${l.p99}</td><td>${l.p999}</td><td>${l.max}</td></tr>`)
    .join('');
  const targets = report.targets.map((t) => `<li>${t.met ? 'met' : '<b>not met</b>'}: ${esc(t.name)} (${esc(t.measured)})</li>`).join('');
  const c = report.config;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>totem-evs locks bench</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:900px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}</style></head><body>
<h1>totem-evs bench --workload locks</h1>
<p>${c.nodes} nodes, ${c.concurrency} loops per node, ${c.resources === 0 ? 'uncontended' : `${c.resources} shared resources`}, ${c.sharedPct}% shared; ${c.durationS} s measured after ${c.warmupS} s warm-up; ${c.runs === 1 ? 'one run' : `medians of ${c.runs} runs`}; ${c.machine.cpus} CPUs.</p>
<h2>Acquire latency percentiles (last run)</h2>${svg(series)}
<h2>Figures</h2><table><tr><th>system</th><th>cycles/s</th><th>p50 µs</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>${rows}</table>
${targets === '' ? '' : `<h2>Targets</h2><ul>${targets}</ul>`}
<h2>Peers' configuration</h2><ul>${Object.entries(report.peers).map(([p, f]) => `<li>${esc(p)}: ${esc(f.config)}</li>`).join('')}</ul>
<h2>JSON</h2><pre>${esc(JSON.stringify(report, null, 2))}</pre>
</body></html>
`;
}
