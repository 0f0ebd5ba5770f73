/**
 * Go durations, exactly as Go's `time.ParseDuration` reads them and `time.Duration.String` writes
 * them. Fabric's core.yaml spells every time value this way ("4s", "1500ms", "1m"); config/ is the
 * only place that parses them, and everything past config/ works in milliseconds.
 *
 * Grammar (Go): `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or a lone "0" (optionally signed). Units: ns, us,
 * µs (U+00B5), μs (U+03BC), ms, s, m, h. A fraction is truncated to whole nanoseconds with Go's float64
 * arithmetic. The result must fit in an int64 of nanoseconds (about 292 years).
 *
 * A plain number such as "5" has no unit and is rejected, as Go rejects it. (viper/cast, which Fabric
 * reads its config through, would append "ns" and read 5 nanoseconds; config/ reports that instead.)
 */
import { GossipError } from "../util/index.js";

/** Why a duration did not parse; `code` is always DURATION_INVALID. */
export class DurationError extends GossipError {
  /** The text as given. */
  readonly input: string;

  constructor(input: string, message: string) {
    super("DURATION_INVALID", message);
    this.input = input;
  }
}

const NS_PER_US = 1_000n;
const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const NS_PER_M = 60n * NS_PER_S;
const NS_PER_H = 60n * NS_PER_M;

/** Go's unitMap. */
const UNITS: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", NS_PER_US],
  ["\u00b5s", NS_PER_US],
  ["\u03bcs", NS_PER_US],
  ["ms", NS_PER_MS],
  ["s", NS_PER_S],
  ["m", NS_PER_M],
  ["h", NS_PER_H],
]);

/** 1 << 63 */
const TWO_63 = 1n << 63n;
/** math.MaxInt64, the longest Go duration in nanoseconds. */
export const MAX_DURATION_NS = TWO_63 - 1n;
/** math.MinInt64 */
export const MIN_DURATION_NS = -TWO_63;

const OVERFLOW = "expected at most 2^63-1 nanoseconds (about 292 years)";
const EXPECTED = 'expected a Go duration: a number with a unit, e.g. "4s", "1500ms", "1m30s", "2h", "300us" or "10ns"';

function quote(s: string): string {
  return JSON.stringify(s);
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

/**
 * Parses a Go duration into nanoseconds, accepting exactly what Go's `time.ParseDuration` accepts
 * (Go 1.21 algorithm, including its overflow checks and float64 handling of fractions).
 * @throws DurationError with a message that quotes Go's error and says what is expected.
 */
export function parseDurationNs(text: string): bigint {
  const fail = (goMessage: string, hint?: string): never => {
    throw new DurationError(text, `${goMessage}; ${hint ?? EXPECTED}`);
  };
  let s = text;
  let neg = false;
  if (s !== "") {
    const c = s[0];
    if (c === "-" || c === "+") {
      neg = c === "-";
      s = s.slice(1);
    }
  }
  if (s === "0") return 0n;
  if (s === "") fail(`time: invalid duration ${quote(text)}`);
  let d = 0n;
  while (s !== "") {
    let v = 0n;
    let f = 0n;
    let scale = 1;
    const c0 = s[0];
    if (!(c0 === "." || isDigit(c0))) fail(`time: invalid duration ${quote(text)}`);
    // leadingInt: [0-9]*
    let i = 0;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (v > TWO_63 / 10n) fail(`time: invalid duration ${quote(text)}`, OVERFLOW);
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > TWO_63) fail(`time: invalid duration ${quote(text)}`, OVERFLOW);
    }
    const pre = i > 0;
    s = s.slice(i);
    // (\.[0-9]*)?
    let post = false;
    if (s !== "" && s[0] === ".") {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; j < s.length && isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > MAX_DURATION_NS / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > TWO_63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) fail(`time: invalid duration ${quote(text)}`);
    // unit: everything up to the next '.' or digit
    let k = 0;
    for (; k < s.length; k++) {
      const c = s[k];
      if (c === "." || isDigit(c)) break;
    }
    if (k === 0) {
      fail(
        `time: missing unit in duration ${quote(text)}`,
        `expected a unit after every number (ns, us, ms, s, m, h), e.g. "${text}s" or "${text}ms"`,
      );
    }
    const u = s.slice(0, k);
    s = s.slice(k);
    const unit = UNITS.get(u);
    if (unit === undefined) {
      fail(`time: unknown unit ${quote(u)} in duration ${quote(text)}`, "expected one of the units ns, us (or µs), ms, s, m and h");
    } else {
      if (v > TWO_63 / unit) fail(`time: invalid duration ${quote(text)}`, OVERFLOW);
      v *= unit;
      if (f > 0n) {
        // Go: v += uint64(float64(f) * (float64(unit) / scale)), truncating toward zero.
        v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
        if (v > TWO_63) fail(`time: invalid duration ${quote(text)}`, OVERFLOW);
      }
      d += v;
      if (d > TWO_63) fail(`time: invalid duration ${quote(text)}`, OVERFLOW);
    }
  }
  if (neg) return -d;
  if (d > MAX_DURATION_NS) fail(`time: invalid duration ${quote(text)}`, OVERFLOW);
  return d;
}

/**
 * Parses a Go duration into milliseconds (fractional below one millisecond: "300us" is 0.3).
 * Exact for every duration that is a whole number of microseconds up to about 104 days, and for
 * every whole number of milliseconds up to 2^53 ns; otherwise the nearest double.
 * @throws DurationError
 */
export function parseDurationMs(text: string): number {
  return nsToMs(parseDurationNs(text));
}

/** Nanoseconds to milliseconds: whole part exactly, the sub-millisecond part as a fraction. */
export function nsToMs(ns: bigint): number {
  const whole = ns / NS_PER_MS;
  const rest = ns % NS_PER_MS;
  return Number(whole) + Number(rest) / 1e6;
}

/**
 * Milliseconds to whole nanoseconds (rounded to the nearest nanosecond).
 * @throws RangeError if `ms` is not finite.
 */
export function msToNs(ms: number): bigint {
  if (!Number.isFinite(ms)) throw new RangeError(`duration must be a finite number of milliseconds, got ${ms}`);
  const whole = Math.trunc(ms);
  const frac = ms - whole;
  return BigInt(whole) * NS_PER_MS + BigInt(Math.round(frac * 1e6));
}

/** Go's fmtFrac: the fraction of v/10^prec without trailing zeros (and without the point if zero). */
function fmtFrac(v: bigint, prec: number): { frac: string; int: bigint } {
  let digits = "";
  let printed = false;
  let rest = v;
  for (let i = 0; i < prec; i++) {
    const digit = rest % 10n;
    printed = printed || digit !== 0n;
    if (printed) digits = digit.toString() + digits;
    rest /= 10n;
  }
  return { frac: printed ? `.${digits}` : "", int: rest };
}

/**
 * Formats nanoseconds as Go's `time.Duration.String` does: "0s", "10ns", "300µs", "1.5ms",
 * "1m30s", "2h0m0s". The result parses back to the same value.
 * @throws RangeError outside the int64 range.
 */
export function formatDurationNs(ns: bigint): string {
  if (ns > MAX_DURATION_NS || ns < MIN_DURATION_NS) {
    throw new RangeError(`duration ${ns}ns is outside Go's int64 nanosecond range`);
  }
  const neg = ns < 0n;
  const u = neg ? -ns : ns;
  let out: string;
  if (u < NS_PER_S) {
    if (u === 0n) return "0s";
    let prec: number;
    let unit: string;
    if (u < NS_PER_US) {
      prec = 0;
      unit = "ns";
    } else if (u < NS_PER_MS) {
      prec = 3;
      unit = "\u00b5s";
    } else {
      prec = 6;
      unit = "ms";
    }
    const { frac, int } = fmtFrac(u, prec);
    out = `${int}${frac}${unit}`;
  } else {
    const { frac, int } = fmtFrac(u, 9);
    const secs = int % 60n;
    const mins = int / 60n;
    out = `${secs}${frac}s`;
    if (mins > 0n) {
      out = `${mins % 60n}m${out}`;
      const hours = mins / 60n;
      if (hours > 0n) out = `${hours}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** Formats milliseconds as a Go duration (rounded to the nanosecond); see {@link formatDurationNs}. */
export function formatDurationMs(ms: number): string {
  return formatDurationNs(msToNs(ms));
}
