import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  DurationError,
  MAX_DURATION_NS,
  MIN_DURATION_NS,
  formatDurationMs,
  formatDurationNs,
  msToNs,
  nsToMs,
  parseDurationMs,
  parseDurationNs,
} from "../../../src/config/index.js";
import { GossipError } from "../../../src/util/errors.js";

const NS = 1n;
const US = 1_000n;
const MS = 1_000_000n;
const S = 1_000_000_000n;
const M = 60n * S;
const H = 60n * M;

// Go's own table: src/time/time_test.go parseDurationTests.
const GO_ACCEPTS: ReadonlyArray<[string, bigint]> = [
  ["0", 0n],
  ["5s", 5n * S],
  ["30s", 30n * S],
  ["1478s", 1478n * S],
  ["-5s", -5n * S],
  ["+5s", 5n * S],
  ["-0", 0n],
  ["+0", 0n],
  ["5.0s", 5n * S],
  ["5.6s", 5n * S + 600n * MS],
  ["5.s", 5n * S],
  [".5s", 500n * MS],
  ["1.0s", 1n * S],
  ["1.00s", 1n * S],
  ["1.004s", 1n * S + 4n * MS],
  ["1.0040s", 1n * S + 4n * MS],
  ["100.00100s", 100n * S + 1n * MS],
  ["10ns", 10n * NS],
  ["11us", 11n * US],
  ["12\u00b5s", 12n * US],
  ["12\u03bcs", 12n * US],
  ["13ms", 13n * MS],
  ["14s", 14n * S],
  ["15m", 15n * M],
  ["16h", 16n * H],
  ["3h30m", 3n * H + 30n * M],
  ["10.5s4m", 4n * M + 10n * S + 500n * MS],
  ["-2m3.4s", -(2n * M + 3n * S + 400n * MS)],
  ["1h2m3s4ms5us6ns", 1n * H + 2n * M + 3n * S + 4n * MS + 5n * US + 6n * NS],
  ["39h9m14.425s", 39n * H + 9n * M + 14n * S + 425n * MS],
  ["52763797000ns", 52763797000n],
  ["0.3333333333333333333h", 20n * M],
  ["9007199254740993ns", (1n << 53n) + 1n],
  ["9223372036854775807ns", (1n << 63n) - 1n],
  ["9223372036854775.807us", (1n << 63n) - 1n],
  ["9223372036s854ms775us807ns", (1n << 63n) - 1n],
  ["-9223372036854775808ns", -(1n << 63n)],
  ["-9223372036854775.808us", -(1n << 63n)],
  ["-9223372036s854ms775us808ns", -(1n << 63n)],
  ["-2562047h47m16.854775808s", -(1n << 63n)],
  ["0.100000000000000000000h", 6n * M],
  ["0.830103483285477580700h", 49n * M + 48n * S + 372539827n],
  // the values of Fabric's core.yaml
  ["1500ms", 1500n * MS],
  ["1m", 60n * S],
  ["1m30s", 90n * S],
  ["2h", 2n * H],
  ["300us", 300n * US],
];

// Go's parseDurationErrorTests, plus a few of our own.
const GO_REJECTS: readonly string[] = [
  "",
  "3",
  "-",
  "s",
  ".",
  "-.",
  ".s",
  "+.s",
  "1d",
  "\x85\x85",
  "\xffff",
  "hello \xffff world",
  "9223372036854775808ns",
  "9223372036854775.808us",
  "9223372036854ms775us808ns",
  "-9223372036854775809ns",
  "5",
  "1500",
  "5 s",
  " 5s",
  "5s ",
  "5S",
  "1e3s",
  "1,5s",
  "5sec",
];

test("parseDurationNs accepts exactly what Go's time.ParseDuration accepts (Go's own table)", () => {
  for (const [text, ns] of GO_ACCEPTS) {
    assert.equal(parseDurationNs(text), ns, text);
  }
});

test("parseDurationNs rejects what Go rejects, with a DurationError that quotes the input and says what is expected", () => {
  for (const text of GO_REJECTS) {
    assert.throws(
      () => parseDurationNs(text),
      (err: unknown) => {
        assert.ok(err instanceof DurationError, text);
        assert.ok(err instanceof GossipError);
        assert.equal(err.code, "DURATION_INVALID");
        assert.equal(err.input, text);
        assert.ok(err.message.includes(JSON.stringify(text)), err.message);
        assert.match(err.message, /; expected /);
        return true;
      },
      text,
    );
  }
});

test("error messages say which part is wrong: missing unit, unknown unit, overflow", () => {
  assert.throws(() => parseDurationNs("5"), /missing unit in duration "5"; expected a unit after every number.*"5s" or "5ms"/);
  assert.throws(() => parseDurationNs("1d"), /unknown unit "d" in duration "1d"; expected one of the units ns, us \(or µs\), ms, s, m and h/);
  assert.throws(() => parseDurationNs("9223372036854775808ns"), /expected at most 2\^63-1 nanoseconds/);
  assert.throws(() => parseDurationNs("abc"), /invalid duration "abc".*e\.g\. "4s"/);
});

test("parseDurationMs gives milliseconds, fractional below a millisecond", () => {
  assert.equal(parseDurationMs("5s"), 5000);
  assert.equal(parseDurationMs("1500ms"), 1500);
  assert.equal(parseDurationMs("1m30s"), 90_000);
  assert.equal(parseDurationMs("2h"), 7_200_000);
  assert.equal(parseDurationMs("300us"), 0.3);
  assert.equal(parseDurationMs("10ns"), 0.00001);
  assert.equal(parseDurationMs("-1.5s"), -1500);
  assert.equal(parseDurationMs("0"), 0);
  assert.throws(() => parseDurationMs("5"), DurationError);
});

test("formatDurationNs writes what Go's Duration.String writes", () => {
  const cases: ReadonlyArray<[bigint, string]> = [
    [0n, "0s"],
    [1n, "1ns"],
    [1100n, "1.1\u00b5s"],
    [2200n * US, "2.2ms"],
    [3300n * MS, "3.3s"],
    [4n * M + 5n * S, "4m5s"],
    [4n * M + 5001n * MS, "4m5.001s"],
    [5n * H + 6n * M + 7001n * MS, "5h6m7.001s"],
    [8n * M + 1n, "8m0.000000001s"],
    [(1n << 63n) - 1n, "2562047h47m16.854775807s"],
    [-(1n << 63n), "-2562047h47m16.854775808s"],
    [2n * H, "2h0m0s"],
    [-1500n * MS, "-1.5s"],
  ];
  for (const [ns, text] of cases) assert.equal(formatDurationNs(ns), text);
  assert.throws(() => formatDurationNs(MAX_DURATION_NS + 1n), RangeError);
  assert.equal(formatDurationMs(4000), "4s");
  assert.equal(formatDurationMs(1500), "1.5s");
  assert.equal(formatDurationMs(10), "10ms");
  assert.equal(formatDurationMs(0.3), "300\u00b5s");
});

/** The largest whole number of milliseconds that fits Go's int64 nanoseconds. */
const MAX_MS = Number(MAX_DURATION_NS / MS);

test("property: format(ms) then parse gives back ms, for every whole number of milliseconds Go can hold", () => {
  fc.assert(
    fc.property(fc.integer({ min: -MAX_MS, max: MAX_MS }), (ms) => {
      assert.equal(parseDurationMs(formatDurationMs(ms)), ms);
    }),
    { numRuns: 2000 },
  );
  for (const ms of [0, 1, -1, 999, 1000, 59_999, 60_000, 3_599_999, 3_600_000, MAX_MS, -MAX_MS]) {
    assert.equal(parseDurationMs(formatDurationMs(ms)), ms);
  }
});

test("property: format then parse is the identity on every int64 nanosecond value", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: MIN_DURATION_NS, max: MAX_DURATION_NS }), (ns) => {
      assert.equal(parseDurationNs(formatDurationNs(ns)), ns);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10 ** 12 }), (us) => {
      // fractional milliseconds: exact to the nanosecond
      const ms = us / 1000;
      assert.equal(msToNs(parseDurationMs(formatDurationMs(ms))), msToNs(ms));
      assert.equal(nsToMs(BigInt(us) * US), parseDurationMs(`${us}us`));
    }),
    { numRuns: 1000 },
  );
});

test("property: a composite of whole-number components parses to their sum", () => {
  const units: ReadonlyArray<[string, bigint]> = [
    ["ns", NS],
    ["us", US],
    ["\u00b5s", US],
    ["ms", MS],
    ["s", S],
    ["m", M],
    ["h", H],
  ];
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(...units)), { minLength: 1, maxLength: 6 }),
      (neg, parts) => {
        const text = (neg ? "-" : "") + parts.map(([n, [u]]) => `${n}${u}`).join("");
        const sum = parts.reduce((acc, [n, [, f]]) => acc + BigInt(n) * f, 0n);
        assert.equal(parseDurationNs(text), neg ? -sum : sum);
      },
    ),
  );
});

test("property: any string either parses or throws a DurationError, never anything else", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[-+]?[0-9.]{0,6}[a-zµμ]{0,3}([0-9.]{0,4}[a-z]{0,2}){0,2}$/)), (text) => {
      try {
        const ns = parseDurationNs(text);
        assert.ok(ns >= MIN_DURATION_NS && ns <= MAX_DURATION_NS);
      } catch (err) {
        assert.ok(err instanceof DurationError, String(err));
      }
    }),
    { numRuns: 3000 },
  );
});
