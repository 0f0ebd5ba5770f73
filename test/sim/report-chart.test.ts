import assert from "node:assert/strict";
import { test } from "node:test";
import { formatRate, formatTick, lineChart, logTicks, niceTicks } from "../../src/sim/chart-svg.js";
import type { SimResult } from "../../src/sim/index.js";
import { renderHtmlReport, reportScales } from "../../src/sim/report-html.js";
import { runSim, smallOptions } from "./sim-kit.js";

test("niceTicks: round steps of 1, 2 or 5 times a power of ten, covering the data", () => {
  // The old axes of a 27.1 s run read 0.1, 5.5, 10.9, ...
  assert.deepEqual(niceTicks(0.1, 27.1), { lo: 0, hi: 30, step: 5, ticks: [0, 5, 10, 15, 20, 25, 30] });
  assert.deepEqual(niceTicks(0, 2_300_000).ticks, [0, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000]);
  assert.deepEqual(niceTicks(0, 9.4, 5, true).ticks, [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0, 4, 5, true).ticks, [0, 1, 2, 3, 4], "whole numbers: no tick between two integers");
  assert.deepEqual(niceTicks(0, 0.3).ticks, [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3], "no float noise (0.30000000000000004)");
  assert.deepEqual(niceTicks(-3, 7, 5).ticks, [-4, -2, 0, 2, 4, 6, 8]);
  assert.deepEqual(niceTicks(0, 0).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1], "an empty range becomes a unit one");
  assert.deepEqual(niceTicks(Number.NaN, 5).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  for (const [lo, hi] of [
    [0, 1],
    [0, 13],
    [2, 987_654],
    [0.001, 0.0173],
    [100, 100],
  ] as const) {
    const t = niceTicks(lo, hi);
    assert.ok(t.lo <= lo && t.hi >= hi, `[${t.lo}, ${t.hi}] covers [${lo}, ${hi}]`);
    assert.ok(t.ticks.length >= 3 && t.ticks.length <= 12, `${t.ticks.length} ticks for [${lo}, ${hi}]`);
    const mantissa = t.step / 10 ** Math.floor(Math.log10(t.step));
    assert.ok([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-9), `step ${t.step} is 1, 2 or 5 times a power of ten`);
  }
});

test("logTicks: powers of ten, with 2 and 5 times them over a short range", () => {
  assert.deepEqual(logTicks(12, 97), { lo: 10, hi: 100, step: 0, ticks: [10, 20, 50, 100] });
  assert.deepEqual(logTicks(3, 20_000).ticks, [1, 10, 100, 1000, 10_000, 100_000]);
  assert.deepEqual(logTicks(0.5, 0.5).ticks, [0.1, 0.2, 0.5, 1]);
});

test("tick labels carry their unit and the digits their step needs", () => {
  assert.equal(formatTick(10, "s", 5), "10 s");
  assert.equal(formatTick(2.5, "s", 0.5), "2.5 s");
  assert.equal(formatTick(3, "s", 0.5), "3 s");
  assert.equal(formatTick(50, "ms"), "50 ms");
  assert.equal(formatTick(0.2, "share", 0.2), "20%");
  assert.equal(formatTick(1_500_000, "B/s", 500_000), "1.5 MB/s");
  assert.equal(formatTick(2_000_000, "B/s", 500_000), "2 MB/s");
  assert.equal(formatTick(40_000, "B/s", 20_000), "40 kB/s");
  assert.equal(formatTick(0, "B/s", 20_000), "0");
  assert.equal(formatTick(12, "count", 2), "12");
  assert.equal(formatRate(18_897.5), "18.9 kB/s");
  assert.equal(formatRate(0), "0 B/s");
});

test("lineChart: a fixed domain is drawn as given (widened to round ticks) and written on the svg", () => {
  const svg = lineChart("t", { title: "virtual time (s)", unit: "s" }, { title: "height (blocks)", unit: "count", integer: true, domain: { lo: 0, hi: 20 } }, [
    { name: "a", points: [[0.1, 1], [27.1, 4]], color: "#000" },
  ], { metric: "heights" });
  assert.match(svg, /data-metric="heights" data-x="0,30" data-y="0,20"/);
  assert.match(svg, />30 s</);
  assert.match(svg, /virtual time \(s\)/);
  assert.doesNotMatch(svg, /NaN|Infinity/);
  assert.match(lineChart("empty", { title: "x", unit: "s" }, { title: "y", unit: "count" }, []), /no data/);
});

/** The svg elements of `html` by data-metric, each with its x and y domains. */
function chartsByMetric(html: string): Map<string, Array<{ x: string; y: string }>> {
  const out = new Map<string, Array<{ x: string; y: string }>>();
  for (const m of html.matchAll(/<svg [^>]*data-metric="([^"]+)" data-x="([^"]+)" data-y="([^"]+)"/g)) {
    const list = out.get(m[1]!) ?? [];
    list.push({ x: m[2]!, y: m[3]! });
    out.set(m[1]!, list);
  }
  return out;
}

/** `r` with its series changed as a second side of a comparison would be: more traffic, fewer members. */
function otherSide(r: SimResult): SimResult {
  const s = r.series;
  const trafficByType = Object.fromEntries(Object.entries(s.trafficByType).map(([k, v]) => [k, v.map((b) => b * 7)]));
  return {
    report: r.report,
    series: { ...s, trafficByType, membership: s.membership.map(() => ({ min: 0, median: 1, max: 2 })), sampleTimes: s.sampleTimes.map((t) => t * 2) },
  };
}

test("a compared report draws each metric on one scale in every run; notes are folded and wrap", async () => {
  const { result } = await runSim(smallOptions({ seed: 3, peers: 6, blocks: 3 }));
  const other = otherSide(result);
  const html = renderHtmlReport(
    [
      { label: "fabric", result, notes: [`link: ${JSON.stringify({ latency: { kind: "uniform", minMs: 10, maxMs: 50 }, loss: 0 }).repeat(8)}`] },
      { label: "tuned", result: other },
    ],
    "compare",
    { targets: true },
  );
  const charts = chartsByMetric(html);
  assert.equal(charts.get("latency-cdf")?.length, 1);
  const perRun = [...charts].filter(([metric]) => metric !== "latency-cdf");
  assert.ok(perRun.some(([metric]) => metric === "traffic:data"), "one chart per message type");
  assert.ok(perRun.filter(([m]) => m.startsWith("traffic:")).length >= 3, [...charts.keys()].join(", "));
  for (const [metric, list] of perRun) {
    assert.equal(list.length, 2, `${metric}: one chart per run`);
    assert.deepEqual(list[0], list[1], `${metric}: one scale in both runs`);
  }
  // The shared scale is the union: the first run alone would be drawn smaller.
  const alone = chartsByMetric(renderHtmlReport([{ label: "fabric", result }]));
  assert.notDeepEqual(alone.get("traffic:data")?.[0]?.y, charts.get("traffic:data")?.[0]?.y);
  assert.notDeepEqual(alone.get("heights")?.[0]?.x, charts.get("heights")?.[0]?.x, "time axes too");
  const scales = reportScales([{ label: "a", result }, { label: "b", result: other }]);
  const total = (t: string): number => [result, other].reduce((a, r) => a + (r.series.trafficByType[t] ?? []).reduce((x, y) => x + y, 0), 0);
  const order = scales.traffic.map((t) => t.type);
  assert.deepEqual(order, [...order].sort((a, b) => total(b) - total(a) || a.localeCompare(b)), "the biggest type first");
  // Raw option JSON is folded away and wraps rather than overflowing its column.
  assert.match(html, /<details><summary>Options and diagnostics<\/summary><pre class="notes">link: /);
  assert.match(html, /pre\{[^}]*overflow-wrap:anywhere/);
  // Round ticks: every tick label is a short number with at most one decimal and its unit.
  const labels = [...html.matchAll(/text-anchor="(?:end|middle)">([^<]*)<\/text>/g)].map((m) => m[1]!).filter((l) => /^[-\d]/.test(l));
  assert.ok(labels.length > 20);
  for (const l of labels) assert.match(l, /^-?\d+(\.\d)?( s| ms| [kMG]?B\/s|%)?$/, l);
  assert.doesNotMatch(html, /<script|https?:\/\//, "still one self-contained page");
});
