/**
 * Line charts as inline SVG for the simulation report: axes on round ticks (1, 2 or 5 times a power
 * of ten) labelled with their unit, and domains that a caller may fix so that several charts (the
 * two sides of `simulate --compare`) share one scale per metric.
 */

/** A closed range of values on an axis. */
export interface Domain {
  lo: number;
  hi: number;
}

/** How the values of an axis are written. */
export type AxisUnit =
  /** Seconds: "10 s". */
  | "s"
  /** Milliseconds: "250 ms". */
  | "ms"
  /** Bytes per second with SI prefixes: "500 kB/s", "1.5 MB/s". */
  | "B/s"
  /** A share in [0, 1], written as a percentage: "20%". */
  | "share"
  /** A plain count: "12". */
  | "count";

/** An axis: its title (which says the unit), how ticks are written, and how values are placed. */
export interface Axis {
  title: string;
  unit: AxisUnit;
  /** Log scale (base 10); values <= 0 are left out. */
  log?: boolean;
  /** Whole numbers only (ledger heights, member counts): no tick between two integers. */
  integer?: boolean;
  /** A fixed domain, widened to round ticks; default: the data's (linear axes from 0). */
  domain?: Domain;
}

/** Ticks on round values spanning a domain, and the domain widened to the first and last tick. */
export interface Ticks {
  lo: number;
  hi: number;
  /** The distance between two ticks (linear scales; 0 for log scales). */
  step: number;
  ticks: number[];
}

/** Removes the float noise of a multiple of `step` (0.30000000000000004 -> 0.3). */
function roundTo(v: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(decimals, 15)));
}

/**
 * About `target` ticks on multiples of 1, 2 or 5 times a power of ten covering [lo, hi]; with
 * `integer`, steps are at least 1. A degenerate range (lo = hi, or not finite) is widened to a unit one.
 */
export function niceTicks(lo: number, hi: number, target = 5, integer = false): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    if (lo === 0) hi = 1;
    else {
      const pad = Math.abs(lo) * 0.1;
      lo -= pad;
      hi += pad;
    }
  }
  const want = Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10((hi - lo) / want));
  // Of the round steps near the raw one, the one whose tick count is closest to the target (ties: the larger step).
  let step = mag;
  let bestMiss = Number.POSITIVE_INFINITY;
  for (const m of [1, 2, 5, 10]) {
    const candidate = integer ? Math.max(1, Math.round(m * mag)) : m * mag;
    const intervals = Math.ceil(hi / candidate - 1e-9) - Math.floor(lo / candidate + 1e-9);
    const miss = Math.abs(intervals - want);
    if (miss <= bestMiss) {
      bestMiss = miss;
      step = candidate;
    }
  }
  const first = roundTo(Math.floor(lo / step + 1e-9) * step, step);
  const last = roundTo(Math.ceil(hi / step - 1e-9) * step, step);
  const ticks: number[] = [];
  for (let i = 0; ; i++) {
    const t = roundTo(first + i * step, step);
    if (t > last + step * 1e-9) break;
    ticks.push(t);
  }
  return { lo: first, hi: last, step, ticks };
}

/**
 * Ticks of a log scale covering [lo, hi] (both > 0): the powers of ten, with 2 and 5 times them
 * when the range spans at most two decades, so that a short range still has several ticks.
 */
export function logTicks(lo: number, hi: number): Ticks {
  if (!(lo > 0) || !Number.isFinite(lo)) lo = 1;
  if (!(hi > 0) || !Number.isFinite(hi) || hi < lo) hi = lo;
  const d0 = Math.floor(Math.log10(lo) + 1e-9);
  let d1 = Math.ceil(Math.log10(hi) - 1e-9);
  if (d1 === d0) d1 = d0 + 1;
  const mult = d1 - d0 <= 2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let d = d0; d <= d1; d++) {
    for (const m of mult) {
      const t = Number((m * 10 ** d).toPrecision(12));
      if (t <= 10 ** d1 * (1 + 1e-9)) ticks.push(t);
    }
  }
  return { lo: 10 ** d0, hi: 10 ** d1, step: 0, ticks };
}

const SI: ReadonlyArray<[number, string]> = [
  [1e9, "G"],
  [1e6, "M"],
  [1e3, "k"],
];

/** The digits after the point that a tick step needs (step 0.5 -> 1, step 5 -> 0). */
function decimalsOf(step: number): number {
  if (!(step > 0)) return 0;
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/**
 * A tick value as written on its axis, with its unit. `step` (the tick distance; 0 on log scales)
 * decides the digits, so that ticks of one axis agree ("0.5 s, 1.0 s" is avoided: "0.5 s, 1 s" are
 * both written with the digits they need and no more).
 */
export function formatTick(v: number, unit: AxisUnit, step = 0): string {
  const digits = (x: number, s: number): string => {
    const d = s > 0 ? decimalsOf(s) : Math.max(0, -Math.floor(Math.log10(Math.abs(x)) + 1e-9));
    return Number(x.toFixed(Math.min(d, 12))).toString();
  };
  switch (unit) {
    case "s":
      return `${digits(v, step)} s`;
    case "ms":
      return `${digits(v, step)} ms`;
    case "share":
      return `${digits(v * 100, step * 100)}%`;
    case "count":
      return digits(v, step);
    case "B/s": {
      if (v === 0) return "0";
      const [div, prefix] = SI.find(([d]) => Math.abs(v) >= d) ?? [1, ""];
      return `${digits(v / div, step / div)} ${prefix}B/s`;
    }
  }
}

/** A rate in bytes per second with three significant digits and an SI prefix: "18.9 kB/s", "0 B/s". */
export function formatRate(v: number): string {
  if (!Number.isFinite(v)) return `${v} B/s`;
  if (v === 0) return "0 B/s";
  const [div, prefix] = SI.find(([d]) => Math.abs(v) >= d) ?? [1, ""];
  return `${Number((v / div).toPrecision(3))} ${prefix}B/s`;
}

/** One line of a chart. */
export interface Series {
  name: string;
  points: Array<[number, number]>;
  color: string;
  width?: number;
  opacity?: number;
}

/** The size of a chart and what else it shows. */
export interface ChartOptions {
  width?: number;
  height?: number;
  /** Draw the legend (the series' names); default true. */
  legend?: boolean;
  /** An id of what is drawn (e.g. "traffic:data"), written as data-metric so that charts of one metric can be told apart. */
  metric?: string;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const usable = (log: boolean | undefined) => (p: [number, number]): boolean => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!log || p[0] > 0);

/**
 * The domain the data of `series` spans on one axis (0 = x, 1 = y). Linear axes include 0, so that
 * bars of traffic or heights are not exaggerated; undefined when there is no usable point.
 */
export function dataDomain(series: readonly Series[], axis: 0 | 1, log = false): Domain | undefined {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  // Loops, not Math.min(...xs): a chart may have more points than a call has room for arguments.
  for (const s of series) {
    for (const p of s.points) {
      if (!usable(log && axis === 0)(p)) continue;
      lo = Math.min(lo, p[axis]);
      hi = Math.max(hi, p[axis]);
    }
  }
  if (lo > hi) return undefined;
  return log ? { lo, hi } : { lo: Math.min(lo, 0), hi: Math.max(hi, 0) };
}

/** The union of domains (undefined ones ignored). */
export function unionDomain(domains: ReadonlyArray<Domain | undefined>): Domain | undefined {
  let out: Domain | undefined;
  for (const d of domains) if (d !== undefined) out = out === undefined ? { ...d } : { lo: Math.min(out.lo, d.lo), hi: Math.max(out.hi, d.hi) };
  return out;
}

function ticksOf(axis: Axis, data: Domain | undefined, target: number): Ticks {
  const d = axis.domain ?? data ?? { lo: 0, hi: 1 };
  return axis.log ? logTicks(d.lo, d.hi) : niceTicks(d.lo, d.hi, target, axis.integer === true);
}

/**
 * A line chart as inline SVG: a frame, grid lines on round ticks written with their unit, the axis
 * titles, the lines, and a legend. The svg element carries data-metric, data-x and data-y (the
 * domains drawn, "lo,hi") so that a report's charts can be checked for a shared scale.
 */
export function lineChart(title: string, x: Axis, y: Axis, series: readonly Series[], opts: ChartOptions = {}): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 260;
  // Room on the left for a tick label ("400 kB/s") beside the rotated axis title; on the right for half a label.
  const M = { left: 78, right: 28, top: 12, bottom: 36 };
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const ok = usable(x.log);
  const hasData = series.some((s) => s.points.some(ok));
  const caption = `<figcaption>${esc(title)}</figcaption>`;
  if (!hasData && x.domain === undefined) return `<figure>${caption}<p>no data</p></figure>`;
  const xt = ticksOf(x, dataDomain(series, 0, x.log), Math.max(3, Math.round(pw / 100)));
  const yt = ticksOf(y, dataDomain(series, 1), Math.max(3, Math.round(ph / 45)));
  const tx = (v: number): number => (x.log ? Math.log10(v) : v);
  const [x0, x1] = [tx(xt.lo), tx(xt.hi)];
  const sx = (v: number): number => M.left + ((tx(v) - x0) / (x1 - x0)) * pw;
  const sy = (v: number): number => M.top + ph - ((v - yt.lo) / (yt.hi - yt.lo)) * ph;
  const metric = opts.metric === undefined ? "" : ` data-metric="${esc(opts.metric)}"`;
  const out: string[] = [
    `<figure>${caption}<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11"${metric} data-x="${xt.lo},${xt.hi}" data-y="${yt.lo},${yt.hi}">`,
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`,
  ];
  for (const v of yt.ticks) {
    const py = sy(v).toFixed(1);
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 4}" y="${(Number(py) + 4).toFixed(1)}" text-anchor="end">${esc(formatTick(v, y.unit, yt.step))}</text>`);
  }
  for (const v of xt.ticks) {
    const px = sx(v).toFixed(1);
    out.push(`<line x1="${px}" x2="${px}" y1="${M.top}" y2="${M.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${px}" y="${M.top + ph + 14}" text-anchor="middle">${esc(formatTick(v, x.unit, xt.step))}</text>`);
  }
  out.push(`<text x="${M.left + pw / 2}" y="${H - 4}" text-anchor="middle">${esc(x.title)}</text>`);
  out.push(`<text x="12" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 12 ${M.top + ph / 2})">${esc(y.title)}</text>`);
  for (const s of series) {
    const d = s.points
      .filter(ok)
      .map(([px, py], i) => `${i === 0 ? "M" : "L"}${sx(px).toFixed(1)},${sy(py).toFixed(1)}`)
      .join("");
    if (d !== "") {
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}" stroke-opacity="${s.opacity ?? 1}""/>`);
    }
  }
  if (opts.legend !== false) {
    series.slice(0, 12).forEach((s, i) => {
      const ly = M.top + 12 + i * 14;
      out.push(`<rect x="${M.left + 8}" y="${ly - 8}" width="10" height="3" fill="${s.color}"/><text x="${M.left + 22}" y="${ly - 3}">${esc(s.name)}</text>`);
    });
  }
  out.push("</svg></figure>");
  return out.join("");
}
