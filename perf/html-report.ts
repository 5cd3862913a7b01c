/**
 * `totem-evs bench --report FILE.html`: one self-contained page (inline SVG and CSS, no script
 * and no fetch of anything), readable offline:
 *
 *   - latency percentile distribution of every delivery and of own deliveries, from the merged
 *     hdr histograms: x is the percentile on a "nines" scale (log10 of 1 / (1 − p)), y is
 *     microseconds on a log scale; the full distributions follow as text (the .hgrm format of
 *     outputPercentileDistribution, which HdrHistogram's plotters read);
 *   - throughput over time: every node process's deliveries per second on one time axis (seconds
 *     since the first node was spawned), with the failover's kill and restart marked;
 *   - the configuration and the summary figures, and the whole JSON report.
 */
import type { LatencyHistogram } from '../api/commands/latency.js';
import { stageMeaning, type AnatomyFigures, type BenchReport, type MergedHistograms, type StageFigures } from './bench-report.js';
import { hopStageMeaning, type TokenHopFigures } from './token-hops.js';

const width = 760;
const height = 360;
const margin = { left: 70, right: 20, top: 20, bottom: 50 };
const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** [nines, value µs, percentile] points of a histogram, 20 per decade of nines, then the max. */
export function percentileSeries(h: LatencyHistogram): [number, number, number][] {
  if (h.totalCount === 0) return [];
  const ninesMax = Math.max(1, Math.min(6, Math.log10(h.totalCount)));
  const points: [number, number, number][] = [];
  for (let k = 0; k <= ninesMax * 20; k++) {
    const x = k / 20;
    const p = 100 * (1 - 10 ** -x);
    points.push([x, h.getValueAtPercentile(p), p]);
  }
  points.push([ninesMax + 0.25, h.maxValue, 100]);
  return points;
}

function latencySvg(h: MergedHistograms): string {
  const series = [
    { name: 'every delivery', points: percentileSeries(h.all) },
    { name: 'own delivery', points: percentileSeries(h.own) },
  ];
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => Math.max(1, p[1])));
  if (xs.length === 0) return '<p>No latency samples.</p>';
  const xMax = Math.max(...xs);
  const yMin = Math.floor(Math.log10(Math.min(...ys)));
  const yMax = Math.max(yMin + 1, Math.ceil(Math.log10(Math.max(...ys))));
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (x: number): number => margin.left + (x / xMax) * plotW;
  const sy = (v: number): number => margin.top + plotH - ((Math.log10(Math.max(1, v)) - yMin) / (yMax - yMin)) * plotH;
  const parts: string[] = [];
  for (let d = yMin; d <= yMax; d++) {
    const y = sy(10 ** d);
    parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${fmt(10 ** d)}</text>`);
  }
  for (let n = 0; n <= Math.floor(xMax); n++) {
    const x = sx(n);
    const label = n === 0 ? '0%' : `${(100 * (1 - 10 ** -n)).toFixed(Math.max(0, n - 2))}%`;
    parts.push(`<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + plotH}" class="grid"/>`);
    parts.push(`<text x="${x}" y="${margin.top + plotH + 16}" text-anchor="middle">${label}</text>`);
  }
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle">percentile</text>`);
  parts.push(`<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency µs (log)</text>`);
  series.forEach((s, i) => {
    const color = colors[i] as string;
    const d = s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${d}"/>`);
    for (const p of s.points) {
      parts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2" fill="${color}"><title>${esc(s.name)}: p${p[2].toFixed(4)} = ${fmt(p[1])} µs</title></circle>`);
    }
    // Bottom right: the curves rise from left to right, so that corner is mostly empty.
    const legendY = margin.top + plotH - 44 + i * 18;
    parts.push(`<rect x="${width - margin.right - 120}" y="${legendY}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${width - margin.right - 102}" y="${legendY + 10}">${esc(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="latency percentile distribution">${parts.join('')}</svg>`;
}

function niceStep(max: number): number {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(Math.max(1, raw)));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

function throughputSvg(r: BenchReport): string {
  const lines = r.timelines.map((t) => ({
    name: `node ${t.node}`,
    points: t.deliveredPerSec.map((v, i): [number, number] => [t.offsetS + i + 0.5, v]),
  }));
  const xs = lines.flatMap((l) => l.points.map((p) => p[0]));
  if (xs.length === 0) return '<p>No deliveries.</p>';
  const xMax = Math.ceil(Math.max(...xs) + 0.5);
  const yTop = Math.max(1, ...lines.flatMap((l) => l.points.map((p) => p[1])));
  const step = niceStep(yTop);
  const yMax = Math.ceil(yTop / step) * step;
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (x: number): number => margin.left + (x / xMax) * plotW;
  const sy = (v: number): number => margin.top + plotH - (v / yMax) * plotH;
  const parts: string[] = [];
  for (let v = 0; v <= yMax; v += step) {
    parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${sy(v)}" y2="${sy(v)}" class="grid"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${sy(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  const xStep = Math.max(1, niceStep(xMax));
  for (let s = 0; s <= xMax; s += xStep) {
    parts.push(`<line x1="${sx(s)}" x2="${sx(s)}" y1="${margin.top}" y2="${margin.top + plotH}" class="grid"/>`);
    parts.push(`<text x="${sx(s)}" y="${margin.top + plotH + 16}" text-anchor="middle">${s}</text>`);
  }
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle">seconds since the first node was spawned</text>`);
  parts.push(`<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">messages delivered per second</text>`);
  const marks: [number, string][] = [];
  if (r.failover !== null) {
    marks.push([r.failover.killAtS, `${r.failover.stopSignal} node ${r.failover.killedNode}`], [r.failover.restartAtS, `restart node ${r.failover.killedNode}`]);
  }
  marks.forEach(([at, label], i) => {
    parts.push(`<line x1="${sx(at)}" x2="${sx(at)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${sx(at) + 4}" y="${margin.top + 12 + i * 14}" fill="#d62728">${esc(label)}</text>`);
  });
  const legend: string[] = [];
  lines.forEach((l, i) => {
    const color = colors[i % colors.length] as string;
    const d = l.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${d}"/>`);
    for (const p of l.points) {
      parts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="1.8" fill="${color}"><title>${esc(l.name)} at ${p[0].toFixed(1)} s: ${fmt(p[1])} msgs/s</title></circle>`);
    }
    legend.push(`<span class="key"><span class="swatch" style="background:${color}"></span>${esc(l.name)}${i >= r.config.nodes ? ' (restarted)' : ''}</span>`);
  });
  return `<div class="legend">${legend.join('')}</div><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="throughput over time">${parts.join('')}</svg>`;
}

function table(rows: [string, string][]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

/** Per stage: µs from the intended send and since the previous stage, p50/p90/p99. */
function anatomyTable(a: AnatomyFigures): string {
  const side = (title: string, rows: StageFigures[]): string => rows.length === 0 ? '' :
    `<h3>${esc(title)} (${fmt(rows[0]?.count ?? 0)} samples)</h3><table><tr><th>stage</th><th>from intended p50</th><th>p90</th><th>p99</th><th>+ since previous p50</th><th>p90</th><th>p99</th><th>meaning</th></tr>`
    + rows.map((f) => `<tr><th>${esc(f.stage)}</th>${[f.fromIntendedUs.p50, f.fromIntendedUs.p90, f.fromIntendedUs.p99, f.stepUs.p50, f.stepUs.p90, f.stepUs.p99]
      .map((v) => `<td>${fmt(v)}</td>`).join('')}<td>${esc(stageMeaning[f.stage] ?? '')}</td></tr>`).join('') + '</table>';
  return `<p>One message in ${a.sampleEvery}, by its sender's counter; µs.</p>${side('own messages', a.own)}${side("other nodes' messages", a.peer)}`;
}

/** Per stage of a token hop: µs, p50 to max. */
function tokenHopsTable(t: TokenHopFigures): string {
  return `<p>Hops whose token seq is 0 or 1 modulo ${t.sampleEvery}, matched across threads and nodes; µs.</p><table><tr><th>stage</th><th>samples</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>meaning</th></tr>`
    + t.stages.map((s) => `<tr><th>${esc(s.stage)}</th>${[s.count, s.us.p50, s.us.p90, s.us.p99, s.us.p999, s.us.max].map((v) => `<td>${fmt(v)}</td>`).join('')}<td>${esc(hopStageMeaning[s.stage])}</td></tr>`).join('')
    + '</table>';
}

function hgrm(h: LatencyHistogram): string {
  return h.totalCount === 0 ? '(no samples)' : h.outputPercentileDistribution(5, 1);
}

export function renderHtmlReport(r: BenchReport, h: MergedHistograms): string {
  const c = r.config;
  const lat = (name: string, l: BenchReport['latencyUs']): [string, string] =>
    [name, `p50 ${fmt(l.p50)} · p90 ${fmt(l.p90)} · p99 ${fmt(l.p99)} · p99.9 ${fmt(l.p999)} · p99.99 ${fmt(l.p9999)} · max ${fmt(l.max)} (${fmt(l.count)} samples)`];
  const figures: [string, string][] = [
    ['throughput, slowest node', `${fmt(r.throughput.msgsPerSecSlowest)} msgs/s, ${r.throughput.mbPerSecSlowest.toFixed(1)} MB/s (per node: ${r.throughput.perNodeMsgsPerSec.map(fmt).join(' / ')})`],
    lat('latency µs, every delivery', r.latencyUs),
    lat('latency µs, own delivery', r.ownLatencyUs),
    ...(r.pacerLatenessUs.count === 0 ? [] : [lat('pacer lateness µs (send() − intended)', r.pacerLatenessUs)]),
    ['token rotations', `${fmt(r.protocol.tokenRotationsPerSec)} /s`],
    ['retransmissions', fmt(r.protocol.retransmitsSent)],
    ['configurations per node', r.protocol.configurations.join(' / ')],
    ['cold ring formation', r.membership.coldFormMs === null ? 'not seen' : `${fmt(r.membership.coldFormMs)} ms`],
    ['integrity', `corrupt ${r.integrity.corrupt}, missing ${r.integrity.missing}, duplicated ${r.integrity.duplicated}, reordered ${r.integrity.reordered}`],
  ];
  if (r.failover !== null) {
    figures.push(
      [r.failover.stopSignal === 'SIGTERM' ? 'leave' : 'failover', `node ${r.failover.killedNode} sent ${r.failover.stopSignal} at ${r.failover.killAtS.toFixed(1)} s; every survivor reconfigured after ${fmt(r.failover.detectMs)} ms (cause ${[...new Set(r.failover.survivorCauses)].join(' / ')})`],
      ['rejoin', `restarted at ${r.failover.restartAtS.toFixed(1)} s; back in the ring after ${fmt(r.failover.rejoinMs)} ms`],
    );
  }
  if (r.baseline !== null) {
    const b = r.baseline;
    figures.push(
      ['udp baseline', `${fmt(b.framesPerSecSlowest)} frames/s, ${(b.bytesPerSecSlowest / 1e6).toFixed(1)} MB/s at the slowest of ${b.receivers} receivers (${b.frameBytes} B)`],
      ['totem-evs vs baseline', `${(b.fractionOfFrames * 100).toFixed(1)}% of its frames/s, ${(b.fractionOfBytes * 100).toFixed(1)}% of its bytes/s as payload`],
    );
  }
  const config = Object.entries(c).map(([k, v]): [string, string] => [k, String(v)]);
  const title = `totem-evs bench: ${c.nodes} nodes, ${c.sizeBytes} B ${c.order}, rate ${c.rate}, ${c.scenario}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 980px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid #ddd; vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
svg { background: #fff; border: 1px solid #ddd; } svg text { font: 11px system-ui, sans-serif; fill: #333; }
.grid { stroke: #e5e5e5; } .legend { margin: 4px 0; } .key { margin-right: 14px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; } pre { background: #f6f6f6; padding: 8px; overflow: auto; font-size: 12px; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<h2>Figures</h2>
${table(figures)}
<h2>Latency percentile distribution</h2>
${latencySvg(h)}
${r.anatomy === null ? '' : `<h2>Latency anatomy</h2>
${anatomyTable(r.anatomy)}`}
${r.tokenHops === null ? '' : `<h2>Token hop anatomy</h2>
${tokenHopsTable(r.tokenHops)}`}
<h2>Throughput over time</h2>
${throughputSvg(r)}
<h2>Configuration</h2>
${table(config)}
<h2>Data</h2>
<details><summary>latency distribution, every delivery (µs, .hgrm)</summary><pre>${esc(hgrm(h.all))}</pre></details>
<details><summary>latency distribution, own delivery (µs, .hgrm)</summary><pre>${esc(hgrm(h.own))}</pre></details>
<details><summary>JSON report</summary><pre id="report-json">${esc(JSON.stringify(r, null, 1))}</pre></details>
</body></html>
`;
}

/** One named series of (x, y) points for lineChartSvg. */
export interface ChartSeries {
  name: string;
  points: [number, number][];
}

/**
 * A line chart, both axes logarithmic or linear: used by the scaling study (`npm run scaling`),
 * where x is the ring size and y a cost that grows (or falls) by orders of magnitude.
 */
export function lineChartSvg(options: { title: string; xLabel: string; yLabel: string; series: ChartSeries[]; logY?: boolean }): string {
  const series = options.series.filter((s) => s.points.some((p) => Number.isFinite(p[1]) && p[1] > 0));
  const points = series.flatMap((s) => s.points.filter((p) => Number.isFinite(p[1]) && p[1] > 0));
  if (points.length === 0) return `<p>${esc(options.title)}: no data.</p>`;
  const logY = options.logY ?? true;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  // x: log2 of the ring size, so 3, 5, 9, 16, 32, 64 spread evenly.
  const xMin = Math.log2(Math.min(...xs));
  const xMax = Math.max(xMin + 1, Math.log2(Math.max(...xs)));
  const yMinLog = Math.floor(Math.log10(Math.min(...ys)));
  const yMaxLog = Math.max(yMinLog + 1, Math.ceil(Math.log10(Math.max(...ys))));
  const yTop = Math.max(...ys);
  const yStep = niceStep(yTop);
  const yMaxLin = Math.ceil(yTop / yStep) * yStep;
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (x: number): number => margin.left + ((Math.log2(x) - xMin) / (xMax - xMin)) * plotW;
  const sy = (v: number): number =>
    margin.top + plotH - (logY ? ((Math.log10(v) - yMinLog) / (yMaxLog - yMinLog)) * plotH : (v / yMaxLin) * plotH);
  const parts: string[] = [];
  const yTicks: number[] = [];
  if (logY) for (let d = yMinLog; d <= yMaxLog; d++) yTicks.push(10 ** d);
  else for (let v = 0; v <= yMaxLin; v += yStep) yTicks.push(v);
  for (const v of yTicks) {
    parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(`<line x1="${sx(x).toFixed(1)}" x2="${sx(x).toFixed(1)}" y1="${margin.top}" y2="${margin.top + plotH}" class="grid"/>`);
    parts.push(`<text x="${sx(x).toFixed(1)}" y="${margin.top + plotH + 16}" text-anchor="middle">${x}</text>`);
  }
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}${logY ? ' (log)' : ''}</text>`);
  const legend: string[] = [];
  series.forEach((s, i) => {
    const color = colors[i % colors.length] as string;
    const valid = s.points.filter((p) => Number.isFinite(p[1]) && p[1] > 0);
    const d = valid.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${d}"/>`);
    for (const p of valid) {
      parts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2.5" fill="${color}"><title>${esc(s.name)}, ${p[0]} nodes: ${fmt(p[1])}</title></circle>`);
    }
    legend.push(`<span class="key"><span class="swatch" style="background:${color}"></span>${esc(s.name)}</span>`);
  });
  return `<h2>${esc(options.title)}</h2><div class="legend">${legend.join('')}</div><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(options.title)}">${parts.join('')}</svg>`;
}

/** What renderScalingHtml reads of the scaling study's report (perf/scaling/cli.ts). */
export interface ScalingReportView {
  model: Record<string, unknown>;
  recommendedRule: string;
  wallS: number;
  results: {
    nodeCount: number;
    timersName: string;
    rotationMs: { p50: number };
    agreedMs: { p50: number; p99: number };
    safeMs: { p50: number; p99: number };
    saturationMsgsPerSec: number;
    saturationPerNodeMsgsPerSec: number;
    failoverMs: number[];
    mergeMs: number[];
  }[];
}

/** `npm run scaling`'s page: the table, then one chart per cost against the ring size. */
export function renderScalingHtml(r: ScalingReportView, tableMarkdown: string): string {
  const names = [...new Set(r.results.map((x) => x.timersName))];
  const median = (v: number[]): number => {
    if (v.length === 0) return NaN;
    const s = v.slice().sort((a, b) => a - b);
    return s[Math.floor((s.length - 1) / 2)] as number;
  };
  const by = (label: string, pick: (x: ScalingReportView['results'][number]) => number, only?: string): ChartSeries[] =>
    names
      .filter((n) => only === undefined || n === only)
      .map((n) => ({ name: `${label}, ${n} timers`, points: r.results.filter((x) => x.timersName === n).map((x): [number, number] => [x.nodeCount, pick(x)]) }));
  const first = names[0];
  const charts = [
    lineChartSvg({ title: 'Token rotation time (light load)', xLabel: 'nodes in the ring', yLabel: 'ms', series: by('rotation p50', (x) => x.rotationMs.p50, first) }),
    lineChartSvg({
      title: 'Delivery latency (light load), submit to delivery at every node',
      xLabel: 'nodes in the ring',
      yLabel: 'ms',
      series: [
        ...by('agreed p50', (x) => x.agreedMs.p50, first),
        ...by('agreed p99', (x) => x.agreedMs.p99, first),
        ...by('safe p50', (x) => x.safeMs.p50, first),
        ...by('safe p99', (x) => x.safeMs.p99, first),
      ],
    }),
    lineChartSvg({
      title: 'Throughput at saturation',
      xLabel: 'nodes in the ring',
      yLabel: 'messages/s',
      series: [...by('ring', (x) => x.saturationMsgsPerSec, first), ...by('per member', (x) => x.saturationPerNodeMsgsPerSec, first)],
    }),
    lineChartSvg({
      title: 'Failover (crash → survivors in one regular configuration) and merge (heal → one ring), median',
      xLabel: 'nodes in the ring',
      yLabel: 'ms',
      logY: false,
      series: [...by('failover', (x) => median(x.failoverMs)), ...by('merge', (x) => median(x.mergeMs))],
    }),
  ];
  const title = 'totem-evs: how one ring scales (simulator, virtual time)';
  const tableHtml = tableMarkdown
    .split('\n')
    .filter((_line, i) => i !== 1)
    .map((l, i) => {
      const cells = l.split('|').slice(1, -1).map((c) => c.trim());
      const tag = i === 0 ? 'th' : 'td';
      return `<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`;
    })
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 12px; } th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #ddd; vertical-align: top; }
th { font-weight: 600; }
svg { background: #fff; border: 1px solid #ddd; } svg text { font: 11px system-ui, sans-serif; fill: #333; }
.grid { stroke: #e5e5e5; } .legend { margin: 4px 0; } .key { margin-right: 14px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; } pre { background: #f6f6f6; padding: 8px; overflow: auto; font-size: 12px; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<p>Model: ${esc(Object.entries(r.model).map(([k, v]) => `${k} ${String(v)}`).join(', '))}. Recommended timers: ${esc(r.recommendedRule)}. ${r.wallS.toFixed(1)} s wall.</p>
<table>${tableHtml}</table>
${charts.join('\n')}
<h2>Data</h2>
<details><summary>JSON report</summary><pre>${esc(JSON.stringify(r, null, 1))}</pre></details>
</body></html>
`;
}
