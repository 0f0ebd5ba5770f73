import { readFile, writeFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import { type GossipConfig, gossipSectionFromCoreYaml, loadGossipConfig, parseDurationMs } from "../../config/index.js";
import {
  DEFAULT_BLOCKS,
  DEFAULT_CHANNELS,
  DEFAULT_ORGS,
  DEFAULT_PEERS,
  DEFAULT_SEED,
  DEFAULT_WARMUP_MS,
  type LinkOptions,
  type SimOptions,
  type SimReport,
  SimError,
  SimInvariantError,
  Simulator,
  parseBandwidth,
  parseByteSize,
  parseCrashSpec,
  parseLatency,
  parsePartitionSpec,
  parseProbability,
  parseRate,
  renderHtmlReport,
  simOptions,
} from "../../sim/index.js";

/** The raw flags of `simulate`, as commander hands them over. */
export interface SimulateFlags {
  peers: string;
  orgs: string;
  channels: string;
  blocks: string;
  blockSize: string;
  blockRate: string;
  latency: string;
  loss: string;
  duplicate: string;
  reorder: string;
  bandwidth?: string;
  partition: string[];
  crash: string[];
  duration?: string;
  warmup: string;
  clockSkew: string;
  leaders?: string;
  seed: string;
  config?: string;
  report?: string;
  json?: boolean;
  fastCrypto?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function intFlag(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new SimError("BAD_OPTION", `${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
}

function durationFlag(value: string, flag: string): number {
  try {
    return parseDurationMs(value);
  } catch {
    throw new SimError("BAD_OPTION", `${flag}: cannot read "${value}"; expected a duration such as 10m, 90s or 1500ms`);
  }
}

/** Reads `--config core.yaml` (peer.gossip.*) or takes Fabric's defaults. */
export async function gossipConfigFrom(path: string | undefined): Promise<GossipConfig> {
  if (path === undefined) return loadGossipConfig({}).config;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new SimError("BAD_OPTION", `--config: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return loadGossipConfig({ yaml: gossipSectionFromCoreYaml(text) }).config;
}

/** The simulation the flags describe. */
export async function simOptionsFromFlags(f: SimulateFlags): Promise<SimOptions> {
  const gossip = await gossipConfigFrom(f.config);
  const link: LinkOptions = {
    latency: parseLatency(f.latency),
    loss: parseProbability(f.loss, "--loss"),
    duplicate: parseProbability(f.duplicate, "--duplicate"),
    reorder: parseProbability(f.reorder, "--reorder"),
    reorderWindowMs: 50,
    uplinkBytesPerSec: f.bandwidth === undefined ? undefined : parseBandwidth(f.bandwidth),
  };
  let leaderMode: SimOptions["leaderMode"];
  if (f.leaders !== undefined) {
    if (f.leaders !== "election" && f.leaders !== "static") throw new SimError("BAD_OPTION", `--leaders must be election or static, got "${f.leaders}"`);
    leaderMode = f.leaders;
  } else {
    // core.yaml's choice when it makes one; dynamic election otherwise.
    leaderMode = !gossip.useLeaderElection && gossip.orgLeader ? "static" : "election";
  }
  return simOptions({
    gossip,
    seed: intFlag(f.seed, "--seed", 0),
    peers: intFlag(f.peers, "--peers", 1),
    orgs: intFlag(f.orgs, "--orgs", 1),
    channels: intFlag(f.channels, "--channels", 1),
    blocks: intFlag(f.blocks, "--blocks", 0),
    blockBytes: parseByteSize(f.blockSize),
    blockIntervalMs: parseRate(f.blockRate),
    warmupMs: durationFlag(f.warmup, "--warmup"),
    durationMs: f.duration === undefined ? undefined : durationFlag(f.duration, "--duration"),
    link,
    partitions: f.partition.map((p) => parsePartitionSpec(p)),
    crashes: f.crash.map((c) => parseCrashSpec(c)),
    clockSkewMs: durationFlag(f.clockSkew, "--clock-skew"),
    crypto: f.fastCrypto ? "fast" : "real",
    leaderMode,
  });
}

/** The report as text: one figure a line. */
export function formatSimReport(r: SimReport): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const lines: Array<[string, string]> = [
    ["seed", String(r.seed)],
    ["peers / orgs / channels", `${r.peers} / ${r.orgs} / ${r.channels}`],
    ["blocks per channel", `${r.blocks} of ${r.blockBytes} bytes`],
    ["crypto", r.crypto === "real" ? "real ECDSA P-256 (MSP identities from the seed)" : "fast (development MCS with orgs: nothing is really signed)"],
    ["leader mode", r.leaderMode],
    ["virtual time", `${r.virtualSeconds} s`],
    ["latency p50 / p99 / max", `${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max} ms (block creation to commit)`],
    ["redundancy", `${r.redundancy} copies per block per reached peer`],
    ["first arrivals", `push ${pct(r.pushShare)}, pull ${pct(r.pullShare)}, state transfer ${pct(r.stateShare)}`],
    ["bytes per peer per second", String(r.bytesPerPeerPerSec)],
    ...Object.entries(r.bytesPerPeerPerSecByType)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]): [string, string] => [`  ${k}`, String(v)]),
    ["membership convergence", r.membershipConvergenceSeconds === undefined ? "never (not every peer saw every other)" : `${r.membershipConvergenceSeconds} s`],
    ["false deaths", `${r.falseDeaths} (of ${r.deathDeclarations} death declarations)`],
    ["leader changes", String(r.leaderChanges)],
    ["commits / missing", `${r.commits} / ${r.missingCommits}`],
    ["frames delivered", String(r.frames)],
    ["trace hash", r.traceHash],
    ["wall time", `${r.wallSeconds} s`],
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  return `${lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n")}\n`;
}

/**
 * `fabric-gossip simulate`: a deterministic simulation of N peers in virtual time (see
 * docs/SIMULATION.md). Prints the figures and the trace hash, or one JSON object with `--json`;
 * `--report out.html` writes the charts. An invariant violation prints the seed and the recent
 * history and exits 1.
 */
export function registerSimulate(program: Command): void {
  program
    .command("simulate")
    .description("simulate a Fabric gossip network in virtual time, deterministically from a seed")
    .option("--peers <n>", "number of peers", String(DEFAULT_PEERS))
    .option("--orgs <n>", "number of organizations (peers are dealt round-robin)", String(DEFAULT_ORGS))
    .option("--channels <n>", "channels; ch0 has every org, each further one leaves one org out", String(DEFAULT_CHANNELS))
    .option("--blocks <n>", "blocks per channel", String(DEFAULT_BLOCKS))
    .option("--block-size <size>", "size of each block, e.g. 100KB (KB = 1024 bytes)", "100KB")
    .option("--block-rate <rate>", "blocks per time unit, e.g. 2/s or 30/m", "2/s")
    .option("--latency <spec>", "one-way link latency: 20ms, 10-50ms (uniform) or longtail:10ms,200ms (median, p99)", "10-50ms")
    .option("--loss <p>", "probability that a frame is lost, e.g. 0.05 or 5%", "0")
    .option("--duplicate <p>", "probability that a frame arrives twice", "0")
    .option("--reorder <p>", "probability that a frame may overtake earlier ones (within 50 ms)", "0")
    .option("--bandwidth <rate>", "per-peer uplink, e.g. 100Mbit/s (sends are serialised); unlimited when absent")
    .option("--partition <spec>", "KIND[:ARG]@AT[+FOR][/MODE]: orgs@60s+30s, half@2m+1m, isolate:p3@30s+60s, swizzle:1s@60s+2m (repeatable)", collect, [])
    .option("--crash <spec>", "TARGET@AT[+DOWN]: p3@60s+30s, leader@2m, random:3@60s+10s (repeatable)", collect, [])
    .option("--duration <d>", "virtual time to run, e.g. 10m; default: until every block is committed everywhere (at most warm-up + blocks / rate + 30s)")
    .option("--warmup <d>", "virtual time before the first block", `${DEFAULT_WARMUP_MS / 1000}s`)
    .option("--clock-skew <d>", "each peer's wall clock is off by up to this much either way", "0s")
    .addOption(new Option("--leaders <mode>", "election (dynamic, per org and channel) or static (peer 0 of each org); default from core.yaml, else election").choices(["election", "static"]))
    .option("--seed <n>", "the seed: the same seed and flags give the same run and trace hash", String(DEFAULT_SEED))
    .option("--config <core.yaml>", "peer.gossip settings from a core.yaml (Fabric's defaults otherwise)")
    .option("--report <out.html>", "write a self-contained HTML report (latency CDF, heights, traffic, membership)")
    .option("--json", "print the figures as one JSON object")
    .option("--fast-crypto", "development MCS (no real signatures) instead of ECDSA: for large runs")
    .action(async (flags: SimulateFlags) => {
      const options = await simOptionsFromFlags(flags);
      const sim = new Simulator(options);
      try {
        const result = await sim.run();
        const d = sim.diagnostics();
        if (flags.report !== undefined) {
          const notes = [
            `seed ${options.seed}; ${options.peers} peers, ${options.orgs} orgs, ${options.channels} channels; crypto ${options.crypto}`,
            `link: ${JSON.stringify(options.link)}`,
            `partitions: ${JSON.stringify(options.partitions)}; crashes: ${JSON.stringify(options.crashes)}`,
            `frames written ${d.link.frames}, lost ${d.link.lost}, duplicated ${d.link.duplicated}, reordered ${d.link.reordered}; errors logged ${d.errors}`,
            `invariant checks: ${JSON.stringify(d.checks)}`,
          ];
          await writeFile(flags.report, renderHtmlReport([{ label: `seed ${options.seed}`, result, notes }]));
        }
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ ...result.report, errorsLogged: d.errors, linkFaults: d.link, invariantChecks: d.checks })}\n`);
        } else {
          process.stdout.write(formatSimReport(result.report));
          if (d.errors > 0) process.stdout.write(`errors logged by peers: ${d.errors}; first: ${d.firstErrors[0] ?? ""}\n`);
          if (flags.report !== undefined) process.stdout.write(`report written to ${flags.report}\n`);
        }
      } catch (err) {
        if (err instanceof SimInvariantError) {
          process.stderr.write(`${err.report()}\n`);
          if (flags.json) process.stdout.write(`${JSON.stringify({ violation: err.invariant, seed: err.seed, message: err.message, history: err.history })}\n`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });
}
