/**
 * Fabric's default gossip settings against the tuned set (src/sim/presets.ts, docs/tuned-core.yaml)
 * in the simulator, at issue 5's scenario: 100 peers, one-way links of 1 ms +/- 0.5 ms (uniform
 * 0.5-1.5 ms), fast crypto, one block every 500 ms, the same seed for both.
 *
 *   node --import tsx bench/sim-tuned.ts [compare] [--orgs 4] [--blocks 20] [--seed 7] [--bandwidth 1Gbit/s]
 *       defaults vs tuned for blocks of 1 KB, 100 KB and 1 MB (1 MB runs take half the blocks)
 *   node --import tsx bench/sim-tuned.ts frontier [--orgs 1] [--blocks 20] [--size 100KB]
 *       the trade-off: push fanout and block pull interval against p50, p99, push share and copies
 *   node --import tsx bench/sim-tuned.ts links [--peers 50,100,200] [--size 1KB] [--blocks 20]
 *       the tuned set over 1 ms, 10-50 ms and long-tail links: every block everywhere, p99 within
 *       250 ms + 4 x the mean round trip, at most 2x the block's bytes per peer
 *
 * Also `npm run bench simtuned` (compare, 4 orgs). Each run keeps a core busy for 0.5-3 minutes
 * (6 runs for compare, 9 for frontier): run it alone. Figures: dissemination latency (block creation
 * to commit, every peer), the share of first arrivals by push, block copies received per reached peer
 * (= the block's bytes received per peer, in block sizes), and everything block dissemination sent
 * (DataMessage, hello, digest, request, DataUpdate; identity digests included) per block per peer.
 */
import { loadGossipConfig } from "../src/config/index.js";
import {
  checkTargets,
  FABRIC_DEFAULTS,
  type GossipSettings,
  type LatencySpec,
  meanLatencyMs,
  parseBandwidth,
  parseByteSize,
  type SimOptions,
  Simulator,
  simOptions,
  TUNED,
  targetFigures,
} from "../src/sim/index.js";
import { isMain, machineLine } from "./stats.js";

export interface SimTunedOptions {
  orgs?: number;
  /** Default 100. */
  peers?: number;
  /** One-way link latency; default uniform 0.5-1.5 ms. */
  latency?: LatencySpec;
  blocks?: number;
  seed?: number;
  /** Per-peer uplink in bytes per second; unlimited when absent. */
  uplinkBytesPerSec?: number;
}

interface Row {
  label: string;
  size: string;
  p50: number;
  p99: number;
  pushPct: number;
  copies: number;
  dissX: number;
  missing: number;
  wallS: number;
}

function sizeName(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MB` : `${bytes / 1024} KB`;
}

function scenario(settings: GossipSettings, blockBytes: number, o: SimTunedOptions): SimOptions {
  // The settings over Fabric's defaults, as --config plus --preset would give them.
  const gossip = loadGossipConfig({ overrides: settings }).config;
  const base = simOptions({ gossip });
  const blocks = o.blocks ?? 20;
  return simOptions({
    gossip,
    seed: o.seed ?? 7,
    peers: o.peers ?? 100,
    orgs: o.orgs ?? 4,
    blocks: blockBytes >= 1024 * 1024 ? Math.max(1, Math.floor(blocks / 2)) : blocks,
    blockBytes,
    blockIntervalMs: 500,
    // Static leaders need no election grace; 15 s is enough for 100 peers' membership and StateInfo.
    warmupMs: 15_000,
    leaderMode: "static",
    crypto: "fast",
    link: { ...base.link, latency: o.latency ?? { kind: "uniform", minMs: 0.5, maxMs: 1.5 }, uplinkBytesPerSec: o.uplinkBytesPerSec },
  });
}

async function measure(label: string, settings: GossipSettings, blockBytes: number, o: SimTunedOptions): Promise<Row> {
  const { report } = await new Simulator(scenario(settings, blockBytes, o)).run();
  const f = targetFigures(report);
  return {
    label,
    size: sizeName(blockBytes),
    p50: f.p50Ms,
    p99: f.p99Ms,
    pushPct: Number((100 * f.pushShare).toFixed(2)),
    copies: f.blockBytesX,
    dissX: Number(f.disseminationBytesX.toFixed(2)),
    missing: report.missingCommits,
    wallS: report.wallSeconds,
  };
}

function printTable(rows: readonly Row[]): void {
  const head = ["settings", "block", "p50 ms", "p99 ms", "push %", "copies/peer", "dissem. bytes x", "missing", "targets met", "wall s"];
  const cells = rows.map((r) => {
    const c = checkTargets({ p50Ms: r.p50, p99Ms: r.p99, pushShare: r.pushPct / 100, blockBytesX: r.copies, disseminationBytesX: r.dissX, missingCommits: r.missing, deliveries: 0 });
    const met = [c.p50 ? "p50" : "", c.p99 ? "p99" : "", c.push ? "push" : "", c.bytes ? "bytes" : ""].filter((x) => x !== "").join(" ");
    return [r.label, r.size, String(r.p50), String(r.p99), r.pushPct.toFixed(2), r.copies.toFixed(2), r.dissX.toFixed(2), String(r.missing), met || "-", String(r.wallS)];
  });
  process.stdout.write(`| ${head.join(" | ")} |\n|${head.map(() => " --- |").join("")}\n`);
  for (const c of cells) process.stdout.write(`| ${c.join(" | ")} |\n`);
}

const SIZES = [1024, 100 * 1024, 1024 * 1024];

/** Defaults against tuned for each block size; prints the table and returns the figures. */
export async function benchSimTuned(o: SimTunedOptions = {}): Promise<Record<string, number>> {
  const rows: Row[] = [];
  for (const size of SIZES) {
    rows.push(await measure("Fabric's defaults", FABRIC_DEFAULTS, size, o));
    rows.push(await measure("tuned", TUNED, size, o));
  }
  printTable(rows);
  const out: Record<string, number> = {};
  for (const r of rows) {
    const k = `${r.label === "tuned" ? "tuned" : "fabric"}_${r.size.replace(" ", "")}`;
    out[`${k}_p50_ms`] = r.p50;
    out[`${k}_p99_ms`] = r.p99;
    out[`${k}_push_pct`] = r.pushPct;
    out[`${k}_copies_per_peer`] = r.copies;
    out[`${k}_dissemination_bytes_x`] = r.dissX;
    out[`${k}_missing_commits`] = r.missing;
  }
  return out;
}

/** The trade-off at one block size: fanout and block pull interval. */
export async function benchSimTunedFrontier(o: SimTunedOptions & { blockBytes?: number } = {}): Promise<void> {
  const size = o.blockBytes ?? 100 * 1024;
  const fastPush = { maxPropagationBurstLatency: "1ms" };
  const variants: Array<[string, GossipSettings]> = [
    ["Fabric's defaults (fanout 3, pull every 4 s)", FABRIC_DEFAULTS],
    ["fanout 3, burst 1ms, pull every 4 s", { ...FABRIC_DEFAULTS, ...fastPush }],
    ["fanout 5, burst 1ms, pull every 4 s", { ...FABRIC_DEFAULTS, ...fastPush, propagatePeerNum: 5 }],
    ["fanout 7, burst 1ms, pull every 4 s", { ...FABRIC_DEFAULTS, ...fastPush, propagatePeerNum: 7 }],
    ["fanout 1, tuned pull (100ms)", { ...TUNED, propagatePeerNum: 1 }],
    ["fanout 2, tuned pull (100ms) = tuned", TUNED],
    ["fanout 2, tuned pull at 200ms", { ...TUNED, blockPullInterval: "200ms" }],
    ["fanout 2, burst 10ms, tuned pull (100ms)", { ...TUNED, maxPropagationBurstLatency: "10ms" }],
    ["fanout 3, tuned pull (100ms)", { ...TUNED, propagatePeerNum: 3 }],
  ];
  const rows: Row[] = [];
  for (const [label, settings] of variants) rows.push(await measure(label, settings, size, o));
  printTable(rows);
}

/** The link models of issue 15's "tuned settings that hold" (the bound uses their mean round trip, 2 x the mean one-way latency). */
const LINK_MODELS: ReadonlyArray<{ name: string; latency: LatencySpec }> = [
  { name: "1 ms +/- 0.5", latency: { kind: "uniform", minMs: 0.5, maxMs: 1.5 } },
  { name: "10-50 ms", latency: { kind: "uniform", minMs: 10, maxMs: 50 } },
  { name: "long tail 10/200 ms", latency: { kind: "longtail", medianMs: 10, p99Ms: 200 } },
];

/**
 * The tuned set over each link model, peer count and block size: every block must commit everywhere, p99 at
 * most 250 ms + 4 x the mean round trip, block bytes received per peer at most 2x the block.
 */
export async function benchSimTunedLinks(o: SimTunedOptions & { peerCounts?: number[]; sizes?: number[] } = {}): Promise<Record<string, number>> {
  const head = ["link", "peers", "block", "p50 ms", "p99 ms", "p99 bound ms", "copies/peer", "missing", "holds", "wall s"];
  process.stdout.write(`| ${head.join(" | ")} |\n|${head.map(() => " --- |").join("")}\n`);
  const out: Record<string, number> = {};
  for (const link of LINK_MODELS) {
    for (const peers of o.peerCounts ?? [50, 100, 200]) {
      for (const size of o.sizes ?? [1024, 1024 * 1024]) {
        const r = await measure("tuned", TUNED, size, { ...o, peers, latency: link.latency });
        const bound = Math.round(250 + 4 * 2 * meanLatencyMs(link.latency));
        const holds = r.missing === 0 && r.p99 <= bound && r.copies <= 2;
        process.stdout.write(`| ${link.name} | ${peers} | ${r.size} | ${r.p50} | ${r.p99} | ${bound} | ${r.copies.toFixed(2)} | ${r.missing} | ${holds ? "yes" : "no"} | ${r.wallS} |\n`);
        const k = `${link.name.replace(/[^a-z0-9]+/gi, "_")}_${peers}_${r.size.replace(" ", "")}`;
        out[`${k}_p99_ms`] = r.p99;
        out[`${k}_missing_commits`] = r.missing;
        out[`${k}_copies_per_peer`] = r.copies;
      }
    }
  }
  return out;
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2);
  const mode = args[0] !== undefined && !args[0].startsWith("--") ? args[0] : "compare";
  const num = (name: string): number | undefined => {
    const v = flag(args, name);
    return v === undefined ? undefined : Number(v);
  };
  const bandwidth = flag(args, "--bandwidth");
  const size = flag(args, "--size");
  const o: SimTunedOptions & { blockBytes?: number } = {
    ...(num("--orgs") === undefined ? {} : { orgs: num("--orgs") }),
    ...(num("--blocks") === undefined ? {} : { blocks: num("--blocks") }),
    ...(num("--seed") === undefined ? {} : { seed: num("--seed") }),
    ...(bandwidth === undefined ? {} : { uplinkBytesPerSec: parseBandwidth(bandwidth) }),
    ...(size === undefined ? {} : { blockBytes: parseByteSize(size) }),
  };
  process.stdout.write(`${machineLine()}\n`);
  const peerCounts = flag(args, "--peers")?.split(",").map(Number);
  if (mode === "links") {
    process.stdout.write(`the tuned set, ${o.orgs ?? 4} orgs, a block every 500 ms, seed ${o.seed ?? 7}, fast crypto, static leaders\n`);
    await benchSimTunedLinks({ ...o, ...(peerCounts === undefined ? {} : { peerCounts }), ...(o.blockBytes === undefined ? {} : { sizes: [o.blockBytes] }) });
  } else {
    process.stdout.write(`100 peers, ${o.orgs ?? (mode === "frontier" ? 1 : 4)} orgs, 1 ms +/- 0.5 ms links${bandwidth === undefined ? "" : `, uplink ${bandwidth}`}, a block every 500 ms, seed ${o.seed ?? 7}, fast crypto, static leaders\n`);
    if (mode === "frontier") await benchSimTunedFrontier({ orgs: 1, ...o });
    else if (mode === "compare") await benchSimTuned(o);
    else throw new Error(`unknown mode ${mode}: compare, frontier or links`);
  }
}
