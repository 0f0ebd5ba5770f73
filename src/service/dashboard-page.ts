/**
 * The live dashboard: one self-contained HTML page (inline CSS, plain DOM and SVG drawn by its own script,
 * nothing fetched from elsewhere) that follows `/v1/stream` and draws each DashboardSnapshot: the members
 * as a graph grouped by org with leaders marked and channel membership as coloured dots, ledger heights
 * over time, commit latency, message and event rates by type, refusals by code, and the latest events.
 * Strings from the network (endpoints, org names) only ever reach the page as text nodes.
 */
export function dashboardPage(): string {
  return PAGE;
}

const STYLE = `
:root { color-scheme: light; --fg: #1d2330; --muted: #6b7385; --line: #d9dde5; --bg: #f6f7f9; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 10px 16px; background: #1d2330; color: #fff; }
header h1 { font-size: 16px; margin: 0; font-weight: 600; }
header .meta { color: #b9c0cf; }
#status.live { color: #7ee2a8; } #status.down { color: #ff9b8f; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 12px; padding: 12px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 13px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f4; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
svg text { font: 11px system-ui, sans-serif; fill: var(--fg); }
svg .axis { stroke: #c5cad4; } svg .grid { stroke: #eef0f4; }
#graph { overflow-x: auto; }
#events { font: 12px ui-monospace, monospace; max-height: 260px; overflow: auto; white-space: pre; margin: 0; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin-top: 4px; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; background: var(--c); vertical-align: -1px; }
.bar { height: 10px; background: #4e79a7; border-radius: 2px; }
`;

const SCRIPT = `
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";
const WINDOW_S = 120;
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const STATE_COLOR = { self: "#4e79a7", alive: "#59a14f", running: "#59a14f", dead: "#b0b4bd", exited: "#e15759", stopped: "#b0b4bd" };
const $ = (id) => document.getElementById(id);
const colorOf = (() => { const m = new Map(); return (k) => { if (!m.has(k)) m.set(k, PALETTE[m.size % PALETTE.length]); return m.get(k); }; })();
const channelColor = (() => { const m = new Map(); return (k) => { if (!m.has(k)) m.set(k, PALETTE[(m.size + 3) % PALETTE.length]); return m.get(k); }; })();

function svg(tag, attrs, parent, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function html(tag, attrs, parent, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
function short(s, n) { return s.length > n ? s.slice(0, n - 1) + "\\u2026" : s; }
function fmt(v, digits) { return v === null || v === undefined ? "-" : Number(v).toFixed(digits === undefined ? 0 : digits); }

/** Round axis ticks: 1, 2 or 5 times a power of ten. */
function ticks(max, n) {
  if (!(max > 0)) return [0, 1];
  const raw = max / n, pow = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
  const out = [];
  for (let v = 0; v <= max + step * 0.001; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < max) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

/** A line chart of series [{name, color, points: [[t, v]]}] over the last WINDOW_S seconds. */
function lineChart(root, series, unit, now, minMax) {
  clear(root);
  const W = 440, H = 180, L = 46, R = 18, T = 18, B = 22;
  const s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img" }, root);
  let lo = Infinity, hi = -Infinity;
  for (const se of series) for (const p of se.points) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
  if (!isFinite(hi)) { lo = 0; hi = minMax || 1; }
  // Heights start where the data does, on a round tick.
  let base = 0;
  if (unit === "height" && hi > lo) { const t0 = ticks(hi - lo, 4); const step = t0[1] - t0[0]; base = Math.floor(lo / step) * step; }
  const tk = ticks(Math.max(hi - base, minMax || 1), 4).map((v) => v + base);
  const top = tk[tk.length - 1];
  const x = (t) => L + ((t - (now - WINDOW_S * 1000)) / (WINDOW_S * 1000)) * (W - L - R);
  const y = (v) => H - B - ((v - base) / (top - base || 1)) * (H - B - T);
  for (const v of tk) {
    svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }, s);
    svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" }, s, v >= 1000 ? (v / 1000) + "k" : String(v));
  }
  for (let sec = 0; sec <= WINDOW_S; sec += 30) svg("text", { x: x(now - sec * 1000), y: H - 6, "text-anchor": "middle" }, s, sec === 0 ? "now" : "-" + sec + " s");
  svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }, s);
  svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }, s);
  svg("text", { x: 4, y: 11 }, s, unit === "height" ? "" : unit);
  for (const se of series) {
    const pts = se.points.filter((p) => p[0] >= now - WINDOW_S * 1000);
    if (pts.length === 0) continue;
    svg("polyline", { points: pts.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" "), fill: "none", stroke: se.color, "stroke-width": 1.6 }, s);
  }
  const legend = html("div", { class: "legend" }, root);
  for (const se of series.slice(0, 24)) html("span", { style: "--c:" + se.color }, legend, se.name);
}

const hist = { heights: new Map(), latency: { p50: [], max: [] }, rates: new Map() };
let prev = null;

function push(map, key, t, v) {
  let a = map.get(key);
  if (!a) { a = []; map.set(key, a); }
  a.push([t, v]);
  while (a.length && a[0][0] < t - WINDOW_S * 1000) a.shift();
}

function drawGraph(snap) {
  const root = clear($("graph"));
  const orgs = [...new Set(snap.nodes.map((n) => n.org))].sort();
  const byOrg = orgs.map((o) => snap.nodes.filter((n) => n.org === o).sort((a, b) => a.name.localeCompare(b.name)));
  const W = Math.max(440, orgs.length * 230), ROW = 46;
  const H = 60 + Math.max(1, ...byOrg.map((g) => g.length)) * ROW;
  // Drawn at its own size (no scaling), so labels keep the page's font size; wide networks scroll.
  const s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": "membership by org" }, root);
  const colW = W / Math.max(1, orgs.length);
  const pos = new Map();
  byOrg.forEach((group, i) => group.forEach((n, j) => pos.set(n.id, [i * colW + 26, 50 + j * ROW])));
  byOrg.forEach((group, i) => {
    svg("rect", { x: i * colW + 4, y: 4, width: colW - 8, height: H - 8, rx: 8, fill: colorOf(orgs[i]), "fill-opacity": 0.07, stroke: colorOf(orgs[i]), "stroke-opacity": 0.4 }, s);
    svg("text", { x: i * colW + 14, y: 22, "font-weight": 600 }, s, orgs[i] + " (" + group.length + ")");
  });
  for (const [a, b] of snap.links) {
    const p = pos.get(a), q = pos.get(b);
    if (p && q) svg("line", { x1: p[0], y1: p[1], x2: q[0], y2: q[1], stroke: "#8a93a6", "stroke-opacity": 0.35 }, s);
  }
  for (const n of snap.nodes) {
    const p = pos.get(n.id);
    if (!p) continue;
    const g = svg("g", { "data-node": n.name }, s);
    svg("title", {}, g, n.name + " (" + n.org + ", " + n.state + ")" + (n.leaderOf.length ? ", leader of " + n.leaderOf.join(", ") : ""));
    const lead = n.leaderOf.length > 0;
    svg("circle", { cx: p[0], cy: p[1], r: 12, fill: STATE_COLOR[n.state] || "#f28e2b", stroke: lead ? "#d4a017" : "#fff", "stroke-width": lead ? 4 : 2 }, g);
    if (lead) svg("text", { x: p[0], y: p[1] + 4, "text-anchor": "middle", "font-weight": 700, fill: "#fff" }, g, "L");
    const h = Object.values(n.heights);
    svg("text", { x: p[0] + 20, y: p[1] - 2 }, g, short(n.name, 30));
    svg("text", { x: p[0] + 20, y: p[1] + 12, class: "muted", fill: "#6b7385" }, g, n.state + (h.length ? "  height " + Math.max(...h) : "") + (lead ? "  leader" : ""));
    n.channels.forEach((ch, k) => svg("circle", { cx: p[0] - 6 + k * 7, cy: p[1] + 19, r: 3, fill: channelColor(ch) }, g));
  }
  const legend = html("div", { class: "legend" }, root);
  for (const ch of snap.channels) html("span", { style: "--c:" + channelColor(ch) }, legend, "channel " + ch);
  html("span", { style: "--c:#d4a017" }, legend, "leader (gold ring, L)");
}

function drawNodes(snap) {
  const root = clear($("nodes"));
  const head = html("tr", {}, html("thead", {}, root));
  for (const h of ["peer", "org", "state", "leader of"]) html("th", {}, head, h);
  for (const ch of snap.channels) html("th", { class: "num" }, head, "height " + ch);
  const body = html("tbody", {}, root);
  for (const n of [...snap.nodes].sort((a, b) => a.org.localeCompare(b.org) || a.name.localeCompare(b.name))) {
    const h = Object.values(n.heights);
    const tr = html("tr", { "data-node": n.name, "data-height": h.length ? Math.max(...h) : "" }, body);
    // A network's page links each peer to its own dashboard on its admin endpoint.
    if (n.admin) html("a", { href: "http://" + n.admin + "/dashboard", title: "this peer's own dashboard" }, html("td", {}, tr), n.name);
    else html("td", {}, tr, n.name);
    html("td", {}, tr, n.org);
    html("td", {}, tr, n.state);
    html("td", {}, tr, n.leaderOf.join(", ") || "-");
    for (const ch of snap.channels) html("td", { class: "num" }, tr, n.heights[ch] === undefined ? "-" : String(n.heights[ch]));
  }
}

function drawRates(snap) {
  const dt = prev ? (snap.time - prev.time) / 1000 : 0;
  const rates = [];
  const add = (group, name, cur, before) => {
    const r = dt > 0 && before !== undefined ? Math.max(0, (cur - before) / dt) : 0;
    rates.push([group, name, cur, r]);
    if (dt > 0) push(hist.rates, group + " " + name, snap.time, r);
  };
  for (const [k, v] of Object.entries(snap.messages)) add("messages", k, v, prev && prev.messages[k]);
  for (const [k, v] of Object.entries(snap.events)) add("events", k, v, prev && prev.events[k]);
  const root = clear($("rates"));
  const top = Math.max(1, ...rates.map((r) => r[3]));
  const t = html("table", {}, root);
  const head = html("tr", {}, t);
  for (const h of ["type", "per second", "", "total"]) html("th", { class: h === "type" || h === "" ? "" : "num" }, head, h);
  for (const [group, name, cur, r] of rates) {
    const tr = html("tr", { "data-rate": group + " " + name }, t);
    html("td", {}, tr, group + " " + name);
    html("td", { class: "num" }, tr, fmt(r, 1));
    html("div", { class: "bar", style: "width:" + Math.round((r / top) * 120) + "px" }, html("td", { style: "width:130px" }, tr));
    html("td", { class: "num" }, tr, String(cur));
  }
  const series = [...hist.rates.entries()].filter(([k]) => k.startsWith("messages ")).map(([k, pts]) => ({ name: k.slice(9) + " /s", color: colorOf("msg " + k), points: pts }));
  lineChart($("rateChart"), series, "msgs/s", snap.time, 1);
}

function drawRefusals(snap) {
  const root = clear($("refusals"));
  const dt = prev ? (snap.time - prev.time) / 1000 : 0;
  const entries = Object.entries(snap.refusals).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) { html("p", { class: "muted" }, root, "nothing refused"); return; }
  const t = html("table", {}, root);
  const head = html("tr", {}, t);
  for (const h of ["component and code", "total", "per second"]) html("th", { class: h.startsWith("comp") ? "" : "num" }, head, h);
  for (const [k, v] of entries) {
    const tr = html("tr", { "data-refusal": k }, t);
    html("td", {}, tr, k);
    html("td", { class: "num" }, tr, String(v));
    const before = prev && prev.refusals[k];
    html("td", { class: "num" }, tr, dt > 0 ? fmt(Math.max(0, (v - (before || 0)) / dt), 1) : "-");
  }
}

function onSnapshot(snap) {
  $("title").textContent = snap.title;
  $("time").textContent = new Date(snap.time).toLocaleTimeString();
  for (const n of snap.nodes) for (const [ch, h] of Object.entries(n.heights)) push(hist.heights, n.name + (snap.channels.length > 1 ? " " + ch : ""), snap.time, h);
  if (snap.commit.p50 !== null) hist.latency.p50.push([snap.time, snap.commit.p50]);
  if (snap.commit.max !== null) hist.latency.max.push([snap.time, snap.commit.max]);
  for (const a of [hist.latency.p50, hist.latency.max]) while (a.length && a[0][0] < snap.time - WINDOW_S * 1000) a.shift();
  drawGraph(snap);
  drawNodes(snap);
  lineChart($("heights"), [...hist.heights.entries()].map(([k, pts]) => ({ name: k, color: colorOf("h " + k), points: pts })), "height", snap.time, 1);
  $("latencyText").textContent = snap.commit.what + ": p50 " + fmt(snap.commit.p50, 1) + " ms, p99 " + fmt(snap.commit.p99, 1) + " ms, max " + fmt(snap.commit.max, 1) + " ms over " + snap.commit.count + " commits";
  lineChart($("latency"), [{ name: "p50 ms", color: "#4e79a7", points: hist.latency.p50 }, { name: "max ms", color: "#e15759", points: hist.latency.max }], "ms", snap.time, 10);
  drawRates(snap);
  drawRefusals(snap);
  $("events").textContent = snap.recent.join("\\n") || "no events yet";
  document.body.dataset.frames = String(Number(document.body.dataset.frames || "0") + 1);
  prev = snap;
}

function connect() {
  const es = new EventSource("/v1/stream");
  es.addEventListener("snapshot", (ev) => { try { onSnapshot(JSON.parse(ev.data)); } catch (err) { $("status").textContent = "bad frame: " + err; } });
  es.onopen = () => { $("status").textContent = "live"; $("status").className = "live"; };
  es.onerror = () => {
    $("status").className = "down";
    $("status").textContent = es.readyState === EventSource.CLOSED ? "disconnected (the server refused the stream: too many dashboards open, or it stopped); reload to retry" : "reconnecting...";
  };
}
connect();
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fabric-gossip dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1 id="title">fabric-gossip</h1><span class="meta" id="time"></span><span id="status">connecting...</span></header>
<main>
<section class="wide"><h2>Membership by org</h2><div id="graph"></div></section>
<section class="wide"><h2>Peers</h2><table id="nodes"></table></section>
<section><h2>Ledger heights</h2><div id="heights"></div></section>
<section><h2>Commit latency</h2><div id="latencyText" class="muted"></div><div id="latency"></div></section>
<section><h2>Message and event rates by type</h2><div id="rateChart"></div><div id="rates"></div></section>
<section><h2>Refusals by code</h2><div id="refusals"></div></section>
<section class="wide"><h2>Latest events</h2><pre id="events"></pre></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
