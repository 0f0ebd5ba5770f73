import type { SimResult } from "./interface.js";
import { checkTargets, type GossipSettings, simVerdict, TUNED_TARGETS, targetFigures } from "./presets.js";

/** One run shown in a report; several runs are drawn side by side (e.g. Fabric's defaults against a tuned set). */
export interface ReportRun {
  label: string;
  result: SimResult;
  /** Extra lines shown under the run's figures (options, crypto, diagnostics). */
  notes?: string[];
  /** The peer.gossip settings the run was given (a preset), shown in a table next to the other runs'. */
  settings?: GossipSettings;
}

/** What else a report shows. */
export interface ReportOptions {
  /** A table of issue 5's targets for the tuned set (p50, p99, push share, bytes) and how each run fares. */
  targets?: boolean;
}

const W = 640;
const H = 260;
const M = { left: 60, right: 16, top: 16, bottom: 36 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  return v.toFixed(3);
}

interface Series {
  name: string;
  points: Array<[number, number]>;
  color: string;
  width?: number;
  opacity?: number;
}

/** A line chart as inline SVG with axes, ticks and a legend. */
function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], opts: { logX?: boolean; legend?: boolean } = {}): string {
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logX || x > 0));
  if (pts.length === 0) return `<figure><figcaption>${esc(title)}</figcaption><p>no data</p></figure>`;
  const tx = (x: number): number => (opts.logX ? Math.log10(Math.max(x, 1e-3)) : x);
  // Loops, not Math.min(...xs): a chart may have more points than a call has room for arguments.
  let x0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y0 = 0;
  let y1 = Number.NEGATIVE_INFINITY;
  for (const [x, y] of pts) {
    x0 = Math.min(x0, tx(x));
    x1 = Math.max(x1, tx(x));
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.05;
  if (opts.logX) {
    x0 = Math.floor(x0);
    x1 = Math.ceil(x1);
  }
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + ((tx(x) - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => M.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`);
  for (let i = 0; i <= 5; i++) {
    const yv = y0 + ((y1 - y0) * i) / 5;
    const y = sy(yv);
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(yv)}</text>`);
  }
  const xTicks = opts.logX ? Array.from({ length: x1 - x0 + 1 }, (_, i) => 10 ** (x0 + i)) : Array.from({ length: 6 }, (_, i) => x0 + ((x1 - x0) * i) / 5);
  for (const xv of xTicks) {
    const x = sx(xv);
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${M.top}" y2="${M.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${M.top + ph + 14}" text-anchor="middle">${fmt(xv)}</text>`);
  }
  out.push(`<text x="${M.left + pw / 2}" y="${H - 4}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text x="12" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 12 ${M.top + ph / 2})">${esc(yLabel)}</text>`);
  for (const s of series) {
    const d = s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logX || x > 0))
      .map(([x, y], i) => `${i === 0 ? "M" : "L"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join("");
    if (d !== "") out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}" stroke-opacity="${s.opacity ?? 1}"/>`);
  }
  if (opts.legend !== false) {
    series.slice(0, 12).forEach((s, i) => {
      const y = M.top + 12 + i * 14;
      out.push(`<rect x="${M.left + 8}" y="${y - 8}" width="10" height="3" fill="${s.color}"/><text x="${M.left + 22}" y="${y - 3}">${esc(s.name)}</text>`);
    });
  }
  out.push("</svg></figure>");
  return out.join("");
}

/** At most `n` points of a sorted sample for a CDF. */
function cdfPoints(sorted: readonly number[], n = 400): Array<[number, number]> {
  if (sorted.length === 0) return [];
  const pts: Array<[number, number]> = [];
  const step = Math.max(1, Math.floor(sorted.length / n));
  for (let i = 0; i < sorted.length; i += step) pts.push([sorted[i]!, (i + 1) / sorted.length]);
  pts.push([sorted[sorted.length - 1]!, 1]);
  return pts;
}

function figuresTable(runs: readonly ReportRun[]): string {
  const rows: Array<[string, (r: SimResult) => string]> = [
    ["peers / orgs / channels", (r) => `${r.report.peers} / ${r.report.orgs} / ${r.report.channels}`],
    ["blocks x size", (r) => `${r.report.blocks} x ${fmt(r.report.blockBytes)} B`],
    ["crypto", (r) => (r.report.crypto === "real" ? "real ECDSA P-256 (MSP)" : "fast (development MCS)")],
    ["leader mode", (r) => r.report.leaderMode],
    ["virtual time", (r) => `${r.report.virtualSeconds} s`],
    ["latency p50 / p99 / max", (r) => `${r.report.latencyMs.p50} / ${r.report.latencyMs.p99} / ${r.report.latencyMs.max} ms (${r.report.latencyMs.deliveries} deliveries)`],
    ["copies per block per reached peer", (r) => String(r.report.redundancy)],
    ["first arrivals push / pull / state", (r) => `${(100 * r.report.pushShare).toFixed(1)}% / ${(100 * r.report.pullShare).toFixed(1)}% / ${(100 * r.report.stateShare).toFixed(1)}%`],
    ["dissemination bytes per block per peer (blocks + pull messages)", (r) => `${targetFigures(r.report).disseminationBytesX.toFixed(2)}x the block`],
    ["bytes sent per peer per second", (r) => fmt(r.report.bytesPerPeerPerSec)],
    ["membership convergence", (r) => (r.report.membershipConvergenceSeconds === undefined ? "never" : `${r.report.membershipConvergenceSeconds} s`)],
    ["false deaths / all death declarations", (r) => `${r.report.falseDeaths} / ${r.report.deathDeclarations}`],
    ["leader changes", (r) => String(r.report.leaderChanges)],
    ["missing commits", (r) => String(r.report.missingCommits)],
    ["result", (r) => verdictCell(r)],
    ["trace hash", (r) => `<code>${r.report.traceHash.slice(0, 16)}…</code>`],
    ["wall time", (r) => `${r.report.wallSeconds} s`],
  ];
  const head = `<tr><th></th>${runs.map((r) => `<th>${esc(r.label)}</th>`).join("")}</tr>`;
  const body = rows
    .map(([name, f]) => `<tr><th>${esc(name)}</th>${runs.map((r) => (name === "result" ? f(r.result) : `<td>${f(r.result)}</td>`)).join("")}</tr>`)
    .join("");
  return `<table>${head}${body}</table>`;
}

/** The run's verdict as a coloured cell: what the exit code of `simulate` says. */
function verdictCell(r: SimResult): string {
  const v = simVerdict(r.report);
  return v.ok ? `<td class="met">ok</td>` : `<td class="missed">FAILED: ${esc(v.failures.join("; "))}</td>`;
}

/** The settings of the runs that have some, one row per key, side by side. */
function settingsTable(runs: readonly ReportRun[]): string {
  const keys: string[] = [];
  for (const r of runs) for (const k of Object.keys(r.settings ?? {})) if (!keys.includes(k)) keys.push(k);
  if (keys.length === 0) return "";
  const head = `<tr><th>peer.gossip</th>${runs.map((r) => `<th>${esc(r.label)}</th>`).join("")}</tr>`;
  const body = keys
    .map((k) => {
      const values = runs.map((r) => r.settings?.[k]);
      const differs = new Set(values.map(String)).size > 1;
      const cells = values.map((v) => `<td>${v === undefined ? "(not set)" : differs ? `<b>${esc(String(v))}</b>` : esc(String(v))}</td>`);
      return `<tr><th>${esc(k)}</th>${cells.join("")}</tr>`;
    })
    .join("");
  return `<h2>Settings</h2><table>${head}${body}</table>`;
}

/** Issue 5's targets for the tuned set, and each run's figure against them. */
function targetsTable(runs: readonly ReportRun[]): string {
  const t = TUNED_TARGETS;
  const cell = (text: string, ok: boolean | undefined): string =>
    `<td${ok === undefined ? "" : ` class="${ok ? "met" : "missed"}"`}>${esc(text)}${ok === undefined ? "" : ok ? " (met)" : " (missed)"}</td>`;
  const figs = runs.map((r) => targetFigures(r.result.report));
  const checks = figs.map(checkTargets);
  const rows: Array<[string, (i: number) => string]> = [
    ["every block committed on every running peer", (i) => cell(figs[i]!.missingCommits === 0 ? "yes" : `${figs[i]!.missingCommits} commits missing`, checks[i]!.complete)],
    [`dissemination latency p50 <= ${t.p50Ms} ms`, (i) => cell(`${figs[i]!.p50Ms} ms (${figs[i]!.deliveries} deliveries)`, checks[i]!.p50)],
    [`dissemination latency p99 <= ${t.p99Ms} ms`, (i) => cell(`${figs[i]!.p99Ms} ms`, checks[i]!.p99)],
    [`first arrivals by push >= ${100 * t.pushShare}%`, (i) => cell(`${(100 * figs[i]!.pushShare).toFixed(2)}%`, checks[i]!.push)],
    [`block bytes received per peer <= ${t.blockBytesX.toFixed(1)}x the block`, (i) => cell(`${figs[i]!.blockBytesX.toFixed(2)}x`, checks[i]!.bytes)],
    ["(not a target) blocks and pull messages sent, per block per peer", (i) => cell(`${figs[i]!.disseminationBytesX.toFixed(2)}x`, undefined)],
  ];
  const head = `<tr><th>target (issue 5: 100 peers, 1 ms +/- 0.5 ms links, blocks of 1 KB to 1 MB)</th>${runs.map((r) => `<th>${esc(r.label)}</th>`).join("")}</tr>`;
  const body = rows.map(([name, f]) => `<tr><th>${esc(name)}</th>${runs.map((_, i) => f(i)).join("")}</tr>`).join("");
  return `<h2>Targets</h2><table>${head}${body}</table>`;
}

function runSection(run: ReportRun, index: number): string {
  const r = run.result;
  const s = r.series;
  const parts: string[] = [`<section><h2>${esc(run.label)}</h2>`];
  if (run.notes !== undefined && run.notes.length > 0) parts.push(`<pre>${esc(run.notes.join("\n"))}</pre>`);
  // Heights: every peer up to 200 (evenly picked beyond that), faint lines.
  const n = s.heights.length;
  const pick = n <= 200 ? s.heights.map((_, i) => i) : Array.from({ length: 200 }, (_, k) => Math.floor((k * n) / 200));
  const heightSeries: Series[] = pick.map((i) => ({
    name: s.peerNames[i] ?? `p${i}`,
    points: s.heights[i]!.map((h, k) => [s.sampleTimes[k]!, h] as [number, number]),
    color: COLORS[i % COLORS.length]!,
    width: 1,
    opacity: 0.35,
  }));
  parts.push(lineChart(`Ledger height of every peer over time (channel ch0${n > 200 ? `, 200 of ${n} peers` : ""})`, "virtual time (s)", "height", heightSeries, { legend: false }));
  const types = Object.entries(s.trafficByType)
    .map(([name, v]) => ({ name, v, total: v.reduce((a, b) => a + b, 0) }))
    .filter((t) => t.total > 0)
    .sort((a, b) => b.total - a.total)
    .slice(0, 8);
  const interval = s.sampleTimes.length > 1 ? s.sampleTimes[1]! - s.sampleTimes[0]! : 1;
  parts.push(
    lineChart(
      "Traffic by message type (bytes per second, all peers)",
      "virtual time (s)",
      "bytes/s",
      types.map((t, i) => ({ name: t.name, points: t.v.map((b, k) => [s.sampleTimes[k]!, b / interval] as [number, number]), color: COLORS[i % COLORS.length]! })),
    ),
  );
  parts.push(
    lineChart("Alive membership view size (sampled peers)", "virtual time (s)", "members", [
      { name: "max", points: s.membership.map((m, k) => [s.sampleTimes[k]!, m.max]), color: COLORS[2]! },
      { name: "median", points: s.membership.map((m, k) => [s.sampleTimes[k]!, m.median]), color: COLORS[0]! },
      { name: "min", points: s.membership.map((m, k) => [s.sampleTimes[k]!, m.min]), color: COLORS[1]! },
    ]),
  );
  parts.push(`<p>Traffic per peer by type (bytes/s): ${Object.entries(r.report.bytesPerPeerPerSecByType).map(([k, v]) => `${esc(k)} ${fmt(v)}`).join(", ")}</p>`);
  parts.push(`<p>Trace hash (SHA-256 of the event trace): <code>${r.report.traceHash}</code>, seed ${r.report.seed}, run ${index + 1}.</p></section>`);
  return parts.join("");
}

/**
 * A self-contained HTML page (inline SVG, no scripts, no external resources): the figures of each
 * run side by side (with the settings of runs that have them, and the tuned set's targets when
 * asked), the latency CDF of every run on one chart, then per run, in columns, the height of every
 * peer over time, traffic by message type and membership view size over time.
 */
export function renderHtmlReport(runs: readonly ReportRun[], title = "fabric-gossip simulation", options: ReportOptions = {}): string {
  const cdf = lineChart(
    "Dissemination latency CDF (block creation to commit, every peer and block)",
    "latency (virtual ms, log scale)",
    "fraction of commits",
    runs.map((r, i) => ({ name: r.label, points: cdfPoints(r.result.series.latencies), color: COLORS[i % COLORS.length]!, width: 2 })),
    { logX: true },
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font-family:sans-serif;margin:24px;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:12px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}
th{background:#f3f3f3}figure{display:inline-block;margin:8px}figcaption{font-size:13px;font-weight:bold}
section{border-top:1px solid #ddd;margin-top:16px}pre{background:#f6f6f6;padding:8px;font-size:12px;white-space:pre-wrap}
.runs{display:flex;gap:16px;align-items:flex-start}.runs>section{flex:1;min-width:0}
td.met{background:#e8f5e9}td.missed{background:#fdecea}
</style></head><body>
<h1>${esc(title)}</h1>
${figuresTable(runs)}
${options.targets === true ? targetsTable(runs) : ""}
${settingsTable(runs)}
${cdf}
<div class="${runs.length > 1 && runs.length <= 3 ? "runs" : "stack"}">
${runs.map((r, i) => runSection(r, i)).join("\n")}
</div>
</body></html>
`;
}
