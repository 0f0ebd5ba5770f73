/**
 * The simulator's textual settings (the `simulate` flags): sizes, rates, latencies, bandwidth,
 * partitions and crashes. Every error names the flag and shows the expected form.
 */
import { parseDurationMs } from "../config/index.js";
import { SimError } from "./errors.js";
import type { CrashSpec, CutMode, LatencySpec, PartitionSpec } from "./interface.js";

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

function bad(flag: string, text: string, expected: string): never {
  throw new SimError("INVALID_OPTIONS", `${flag}: cannot read ${JSON.stringify(text)}; expected ${expected}`);
}

function duration(flag: string, text: string, expected: string): number {
  try {
    return parseDurationMs(text.trim());
  } catch {
    return bad(flag, text, expected);
  }
}

/** "100KB", "1MiB", "512" (bytes): KB and KiB both mean 1024 bytes. */
export function parseByteSize(text: string, flag = "--block-size"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m === null ? undefined : SIZE_UNITS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) return bad(flag, text, "a size such as 100KB, 1MB or 512 (bytes)");
  const v = Math.round(Number(m[1]) * unit);
  if (!(v >= 1)) return bad(flag, text, "a size of at least 1 byte");
  return v;
}

/** "2/s", "30/m", "0.5/s": events per time unit; returns the interval between them in ms. */
export function parseRate(text: string, flag = "--block-rate"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(ms|s|m|h)\s*$/.exec(text);
  if (m === null) return bad(flag, text, "a rate such as 2/s, 30/m or 0.5/s");
  const per = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  const n = Number(m[1]);
  if (!(n > 0)) return bad(flag, text, "a rate above zero");
  return per / n;
}

/**
 * "20ms" (fixed), "10-50ms" or "10ms-50ms" (uniform), "longtail:10ms,200ms" (log-normal with that
 * median and 99th percentile).
 */
export function parseLatency(text: string, flag = "--latency"): LatencySpec {
  const expected = 'a latency such as 20ms, 10-50ms (uniform) or longtail:10ms,200ms (median, p99)';
  const t = text.trim();
  if (t.startsWith("longtail:")) {
    const parts = t.slice("longtail:".length).split(",");
    if (parts.length !== 2) return bad(flag, text, expected);
    return { kind: "longtail", medianMs: duration(flag, parts[0]!, expected), p99Ms: duration(flag, parts[1]!, expected) };
  }
  const range = /^(\d+(?:\.\d+)?)([a-zµμ]*)\s*-\s*(\d+(?:\.\d+)?)([a-zµμ]+)$/.exec(t);
  if (range !== null) {
    const unit = range[4]!;
    const min = duration(flag, `${range[1]}${range[2] === "" ? unit : range[2]}`, expected);
    const max = duration(flag, `${range[3]}${unit}`, expected);
    if (max < min) return bad(flag, text, "a range whose lower bound comes first");
    return min === max ? { kind: "fixed", ms: min } : { kind: "uniform", minMs: min, maxMs: max };
  }
  return { kind: "fixed", ms: duration(flag, t, expected) };
}

/** "100Mbit/s", "10MB/s", "1Gbit/s": an uplink rate in bytes per second. */
export function parseBandwidth(text: string, flag = "--bandwidth"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(k|m|g)?(bit|b)\/s\s*$/i.exec(text);
  if (m === null) return bad(flag, text, "a rate such as 100Mbit/s or 10MB/s");
  const scale = { "": 1, k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? "").toLowerCase() as "" | "k" | "m" | "g"];
  const unitBytes = m[3] === "bit" || m[3] === "Bit" ? 1 / 8 : 1;
  const v = Number(m[1]) * scale * unitBytes;
  if (!(v > 0)) return bad(flag, text, "a rate above zero");
  return v;
}

/** "0.05", "5%": a probability. */
export function parseProbability(text: string, flag: string): number {
  const t = text.trim();
  const v = t.endsWith("%") ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (t === "" || !(v >= 0 && v < 1)) return bad(flag, text, "a probability such as 0.05 or 5% (at least 0, below 1)");
  return v;
}

/**
 * `KIND[:ARG]@AT[+FOR][/MODE]`: "orgs@60s+30s" (each org cut from the others), "half@2m+1m" (a
 * random half from the other), "isolate:p3,p7@30s+60s" (each named peer alone), "split:p1,p2@30s+60s"
 * (the named peers together, cut from the rest), "oneway:p3@30s+60s" (nothing reaches the named
 * peers, what they send still arrives; blackhole only), "swizzle@60s+2m" or "swizzle:500ms@60s+2m"
 * (clog a quarter of the peers one by one every step, default 1s, heal in random order after FOR).
 * MODE is "blackhole" (default: open streams silently lose frames) or "break" (streams reset).
 */
export function parsePartitionSpec(text: string, flag = "--partition"): PartitionSpec {
  const expected = "KIND[:ARG]@AT[+FOR][/MODE], e.g. orgs@60s+30s, half@2m+1m/break, isolate:p3,p7@30s+60s, split:p1,p2@30s+60s, oneway:p3@30s+60s, swizzle:1s@60s+2m";
  const m = /^\s*(orgs|half|isolate|split|oneway|swizzle)(?::([^@]+))?@([^+/]+)(?:\+([^/]+))?(?:\/(break|blackhole))?\s*$/.exec(text);
  if (m === null) return bad(flag, text, expected);
  const kind = m[1] as PartitionSpec["kind"];
  const atMs = duration(flag, m[3]!, expected);
  const forMs = m[4] === undefined ? Number.MAX_SAFE_INTEGER / 4 : duration(flag, m[4], expected);
  const mode = (m[5] ?? "blackhole") as CutMode;
  const spec: PartitionSpec = { kind, atMs, forMs, mode };
  if (kind === "isolate" || kind === "split" || kind === "oneway") {
    if (m[2] === undefined) return bad(flag, text, `${kind}:PEER[,PEER...]@AT[+FOR], e.g. ${kind}:p3,p7@30s+60s`);
    if (kind === "oneway" && mode !== "blackhole") return bad(flag, text, "oneway cuts only as blackhole (a reset stream would cut both directions)");
    spec.peers = m[2].split(",").map((s) => s.trim()).filter(Boolean);
  } else if (kind === "swizzle") {
    if (m[2] !== undefined) spec.stepMs = duration(flag, m[2], expected);
  } else if (m[2] !== undefined) {
    return bad(flag, text, `no argument after ${kind}`);
  }
  return spec;
}

/**
 * `TARGET@AT[+DOWN]`: "p3@60s+30s" (crash p3 at 60 s, restart 30 s later), "leader@2m" (the
 * current leader of the first channel in org 1, never restarted), "random:3@60s+10s".
 */
export function parseCrashSpec(text: string, flag = "--crash"): CrashSpec {
  const expected = "TARGET@AT[+DOWN] with TARGET a peer (p3), leader or random[:N], e.g. p3@60s+30s, leader@2m, random:3@60s+10s";
  const m = /^\s*(p\d+|leader|random)(?::(\d+))?@([^+]+)(?:\+(.+))?\s*$/.exec(text);
  if (m === null) return bad(flag, text, expected);
  const target = m[1]!;
  if (m[2] !== undefined && target !== "random") return bad(flag, text, "a count only after random (random:N)");
  return {
    target,
    count: m[2] === undefined ? 1 : Number(m[2]),
    atMs: duration(flag, m[3]!, expected),
    downMs: m[4] === undefined ? undefined : duration(flag, m[4], expected),
  };
}
