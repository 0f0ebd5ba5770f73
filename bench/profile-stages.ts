/**
 * Where a window's main-thread CPU went, by stage of the gossip path, from a V8 CPU profile (the
 * inspector's `Profiler.stop` answer, or a `.cpuprofile` file). Each sample is filed under the stage
 * of the function it was taken in (self time), by that function's source: our modules by folder,
 * Node's and grpc-js's by name. Samples V8 files as "(idle)" are the thread waiting for I/O and are
 * left out; native work the profiler cannot attribute shows up as "(program)".
 *
 * Run on a saved profile: node --import tsx bench/profile-stages.ts <file.cpuprofile> [deliveries]
 */

import { readFile } from "node:fs/promises";
import { isMain } from "./stats.js";

/** The parts of a V8 CPU profile this reads. */
export interface CpuProfile {
  nodes: readonly { id: number; callFrame: { functionName: string; url: string } }[];
  samples?: readonly number[];
  timeDeltas?: readonly number[];
}

/** A stage and how a sampled function's source (url) and name say it belongs to it; the first match wins. */
interface StageRule {
  stage: string;
  matches(url: string, functionName: string): boolean;
}

const within =
  (...parts: string[]) =>
  (url: string): boolean =>
    parts.some((p) => url.includes(p));

/** Our source folders (`src/<folder>/`), never a dependency's own `src/` of the same name. */
const ours =
  (...folders: string[]) =>
  (url: string): boolean =>
    !url.includes("/node_modules/") && folders.some((f) => url.includes(`/src/${f}/`));

/** Node's native functions (no source) that write to sockets, and those that copy or convert bytes and strings. */
const NATIVE_IO = new Set(["writeBuffer", "writev", "writeUtf8String", "WriteWrap", "ShutdownWrap"]);
const NATIVE_BYTES = new Set(["latin1Slice", "utf8Slice", "hexSlice", "decodeUTF8", "encodeUtf8String", "encodeInto", "createUnsafeArrayBuffer", "copy", "fill", "compare"]);

/** In the order they are tried; the stage names are the keys of `stageTimes`' answer. */
export const STAGE_RULES: readonly StageRule[] = [
  { stage: "idle", matches: (_u, f) => f === "(idle)" },
  // The inspector's dispatch: the profiler itself (its last sample spans Profiler.stop).
  { stage: "profiler", matches: (u, f) => u === "" && f === "dispatch" },
  { stage: "gc", matches: (_u, f) => f === "(garbage collector)" },
  { stage: "native", matches: (_u, f) => f === "(program)" },
  { stage: "decode_encode", matches: ours("protos") },
  { stage: "stores_and_checks", matches: ours("gossip/msgstore", "protoext") },
  { stage: "channel_blocks_pull", matches: ours("gossip/channel", "gossip/pull", "gossip/algo", "gossip/certstore") },
  { stage: "routing_emitter", matches: ours("gossip/node", "gossip/filter", "gossip/batcher") },
  { stage: "membership_identities", matches: ours("discovery", "identity", "api") },
  { stage: "crypto", matches: (u) => ours("crypto")(u) || within("node:crypto", "node:internal/crypto")(u) },
  { stage: "our_comm", matches: ours("comm") },
  { stage: "grpc_http2", matches: within("/@grpc/", "node:internal/http2", "node:http2") },
  {
    stage: "node_streams_io",
    matches: (u, f) => within("node:internal/streams", "node:stream", "node:net", "node:internal/stream_base", "node:tls", "node:_tls")(u) || (u === "" && NATIVE_IO.has(f)),
  },
  {
    stage: "event_loop",
    matches: (u, f) => within("node:internal/timers", "node:internal/priority_queue", "node:internal/process/task_queues", "node:events")(u) || f === "runMicrotasks",
  },
  {
    stage: "buffers_strings",
    matches: (u, f) => within("node:buffer", "node:internal/buffer", "node:internal/encoding")(u) || (u === "" && NATIVE_BYTES.has(f)),
  },
  { stage: "utilities", matches: ours("util") },
  { stage: "metrics_logs", matches: (u) => ours("metrics", "logging")(u) || within("/prom-client/", "/pino/")(u) },
  { stage: "harness", matches: within("/bench/", "/test/") },
];

/** Microseconds of samples per stage (self time), "other" for what no rule matched. Every stage is present. */
export function stageTimes(profile: CpuProfile): Record<string, number> {
  const stageOfNode = new Map<number, string>();
  for (const node of profile.nodes) {
    const { url, functionName } = node.callFrame;
    stageOfNode.set(node.id, STAGE_RULES.find((r) => r.matches(url, functionName))?.stage ?? "other");
  }
  const out: Record<string, number> = Object.fromEntries([...STAGE_RULES.map((r) => [r.stage, 0] as const), ["other", 0] as const]);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const stage = stageOfNode.get(samples[i]!) ?? "other";
    out[stage] = (out[stage] ?? 0) + Math.max(0, deltas[i] ?? 0);
  }
  return out;
}

/**
 * The stages per delivery, in microseconds: the busy samples (every stage but "idle" and the profiler's
 * own), plus what the thread's CPU counter saw and the samples did not (`unsampled`, when `mainCpuUs` is
 * given: native work between JavaScript calls that V8 files as idle, and the profiler's own cost).
 */
export function stagesPerDelivery(profile: CpuProfile, deliveries: number, mainCpuUs?: number): Record<string, number> {
  const times = stageTimes(profile);
  const out: Record<string, number> = {};
  let busy = 0;
  for (const [stage, us] of Object.entries(times)) {
    if (stage === "idle" || stage === "profiler") continue;
    busy += us;
    out[stage] = us / deliveries;
  }
  out["sampled_busy"] = busy / deliveries;
  if (mainCpuUs !== undefined) out["unsampled"] = Math.max(0, mainCpuUs - busy) / deliveries;
  return out;
}

/** One line: `<prefix> stage=us ...`, two decimals, the busy total and what was not sampled last. */
export function stagesLine(prefix: string, perDelivery: Record<string, number>): string {
  return `${prefix} ${Object.entries(perDelivery)
    .map(([k, v]) => `${k}_us=${v.toFixed(2)}`)
    .join(" ")}`;
}

if (isMain(import.meta.url)) {
  const [file, deliveriesArg] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write("usage: node --import tsx bench/profile-stages.ts <file.cpuprofile> [deliveries]\n");
    process.exit(2);
  }
  let profile: CpuProfile;
  try {
    profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
  } catch (err) {
    process.stderr.write(`profile-stages: cannot read ${file} as a CPU profile: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  const deliveries = Number(deliveriesArg ?? 1);
  if (!Number.isFinite(deliveries) || deliveries <= 0) {
    process.stderr.write(`profile-stages: deliveries must be a positive number, not ${deliveriesArg}\n`);
    process.exit(2);
  }
  process.stdout.write(`${stagesLine("STAGES", stagesPerDelivery(profile, deliveries))}\n`);
}
