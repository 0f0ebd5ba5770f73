import { type Domain, type Series, dataDomain, formatRate, lineChart, unionDomain } from "./chart-svg.js";
import type { SimResult, SimSeries } from "./interface.js";
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

/** Small multiples of traffic: one chart per message type, this size. */
const SMALL = { width: 300, height: 150 } as const;

/**
 * The domain of each metric drawn per run, the same for every run of a report, so that the two
 * sides of a comparison are read on one scale.
 */
export interface ReportScales {
  /** Virtual time (s), every time chart. */
  time: Domain | undefined;
  /** Ledger height. */
  heights: Domain | undefined;
  /** Alive membership view size. */
  membership: Domain | undefined;
  /** Bytes per second of each message type shown, biggest total first. */
  traffic: Array<{ type: string; domain: Domain | undefined }>;
}

/** Bytes per second of one message type over time (all peers); zeros when the run sent none. */
function trafficPoints(s: SimSeries, type: string): Array<[number, number]> {
  const interval = s.sampleTimes.length > 1 ? s.sampleTimes[1]! - s.sampleTimes[0]! : 1;
  const v = s.trafficByType[type];
  return s.sampleTimes.map((t, k) => [t, (v?.[k] ?? 0) / interval]);
}

const timePoints = (s: SimSeries, ys: readonly number[]): Array<[number, number]> => ys.map((y, k) => [s.sampleTimes[k]!, y]);

const asSeries = (points: Array<[number, number]>): Series[] => [{ name: "", points, color: COLORS[0]! }];

/** One scale per metric over all runs: the union of what each run's data spans. */
export function reportScales(runs: readonly ReportRun[]): ReportScales {
  const all = runs.map((r) => r.result.series);
  const totals = new Map<string, number>();
  for (const s of all) {
    for (const [type, v] of Object.entries(s.trafficByType)) totals.set(type, (totals.get(type) ?? 0) + v.reduce((a, b) => a + b, 0));
  }
  const types = [...totals].filter(([, t]) => t > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([type]) => type);
  return {
    time: unionDomain(all.map((s) => dataDomain(asSeries(s.sampleTimes.map((t) => [t, 0])), 0))),
    heights: unionDomain(all.flatMap((s) => s.heights.map((h) => dataDomain(asSeries(timePoints(s, h)), 1)))),
    membership: unionDomain(all.map((s) => dataDomain(asSeries(timePoints(s, s.membership.map((m) => m.max))), 1))),
    traffic: types.map((type) => ({ type, domain: unionDomain(all.map((s) => dataDomain(asSeries(trafficPoints(s, type)), 1))) })),
  };
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

function runSection(run: ReportRun, index: number, scales: ReportScales): string {
  const r = run.result;
  const s = r.series;
  const parts: string[] = [`<section><h2>${esc(run.label)}</h2>`];
  if (run.notes !== undefined && run.notes.length > 0) {
    parts.push(`<details><summary>Options and diagnostics</summary><pre class="notes">${esc(run.notes.join("\n"))}</pre></details>`);
  }
  const time = { title: "virtual time (s)", unit: "s", domain: scales.time } as const;
  // Heights: every peer up to 200 (evenly picked beyond that), faint lines.
  const n = s.heights.length;
  const pick = n <= 200 ? s.heights.map((_, i) => i) : Array.from({ length: 200 }, (_, k) => Math.floor((k * n) / 200));
  const heightSeries: Series[] = pick.map((i) => ({
    name: s.peerNames[i] ?? `p${i}`,
    points: timePoints(s, s.heights[i]!),
    color: COLORS[i % COLORS.length]!,
    width: 1,
    opacity: 0.35,
  }));
  parts.push(
    lineChart(
      `Ledger height of every peer over time (channel ch0${n > 200 ? `, 200 of ${n} peers` : ""})`,
      time,
      { title: "height (blocks)", unit: "count", integer: true, domain: scales.heights },
      heightSeries,
      { legend: false, metric: "heights" },
    ),
  );
  parts.push(
    lineChart(
      "Alive membership view size (sampled peers)",
      time,
      { title: "members (peers)", unit: "count", integer: true, domain: scales.membership },
      [
        { name: "max", points: timePoints(s, s.membership.map((m) => m.max)), color: COLORS[2]! },
        { name: "median", points: timePoints(s, s.membership.map((m) => m.median)), color: COLORS[0]! },
        { name: "min", points: timePoints(s, s.membership.map((m) => m.min)), color: COLORS[1]! },
      ],
      { metric: "membership" },
    ),
  );
  // One small chart per message type, each on its own scale (shared with the other runs'), so that
  // alive or hello traffic is as readable as data traffic, which is orders of magnitude larger.
  const perPeer = r.report.bytesPerPeerPerSecByType;
  const multiples = scales.traffic.map(({ type, domain }) =>
    lineChart(
      `${type}: ${formatRate(perPeer[type] ?? 0)} per peer on average`,
      time,
      { title: "all peers (B/s)", unit: "B/s", domain },
      [{ name: type, points: trafficPoints(s, type), color: COLORS[0]! }],
      { ...SMALL, legend: false, metric: `traffic:${type}` },
    ),
  );
  parts.push(`<h3>Traffic by message type (bytes per second, all peers)</h3><div class="multiples">${multiples.join("")}</div>`);
  parts.push(`<p>Trace hash (SHA-256 of the event trace): <code>${r.report.traceHash}</code>, seed ${r.report.seed}, run ${index + 1}.</p></section>`);
  return parts.join("");
}

/**
 * A self-contained HTML page (inline SVG, no scripts, no external resources): the figures of each
 * run side by side (with the settings of runs that have them, and the tuned set's targets when
 * asked), the latency CDF of every run on one chart, then per run, in columns, the height of every
 * peer over time, membership view size over time, and one small chart of traffic per message type.
 * Charts of one metric share one scale across the runs ({@link reportScales}); axes are on round
 * ticks written with their unit (chart-svg.ts).
 */
export function renderHtmlReport(runs: readonly ReportRun[], title = "fabric-gossip simulation", options: ReportOptions = {}): string {
  const cdf = lineChart(
    "Dissemination latency CDF (block creation to commit, every peer and block)",
    { title: "latency (virtual ms, log scale)", unit: "ms", log: true },
    { title: "share of commits (%)", unit: "share", domain: { lo: 0, hi: 1 } },
    runs.map((r, i) => ({ name: r.label, points: cdfPoints(r.result.series.latencies), color: COLORS[i % COLORS.length]!, width: 2 })),
    { metric: "latency-cdf" },
  );
  const scales = reportScales(runs);
  const shared = runs.length > 1 ? "<p>Charts of one metric share one scale in every run.</p>" : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font-family:sans-serif;margin:24px;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:12px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}
th{background:#f3f3f3}figure{display:inline-block;margin:8px}figcaption{font-size:13px;font-weight:bold}
section{border-top:1px solid #ddd;margin-top:16px}pre{background:#f6f6f6;padding:8px;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere;max-height:24em;overflow:auto}
svg{max-width:100%;height:auto}summary{cursor:pointer;font-size:13px}h3{font-size:14px;margin:12px 8px 0}.multiples{display:flex;flex-wrap:wrap}.multiples figure{width:300px}
.runs{display:flex;gap:16px;align-items:flex-start}.runs>section{flex:1;min-width:0}
td.met{background:#e8f5e9}td.missed{background:#fdecea}
</style></head><body>
<h1>${esc(title)}</h1>
${figuresTable(runs)}
${options.targets === true ? targetsTable(runs) : ""}
${settingsTable(runs)}
${cdf}
${shared}
<div class="${runs.length > 1 && runs.length <= 3 ? "runs" : "stack"}">
${runs.map((r, i) => runSection(r, i, scales)).join("\n")}
</div>
</body></html>
`;
}
