import { readFile, stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type Command, Option } from "commander";
import { type GossipConfig, gossipSectionFromCoreYaml, loadGossipConfig, parseDurationMs } from "../../config/index.js";
import {
  checkTargets,
  DEFAULT_BLOCKS,
  DEFAULT_CHANNELS,
  DEFAULT_ORGS,
  DEFAULT_PEERS,
  DEFAULT_PRIVATE_DATA,
  DEFAULT_SEED,
  DEFAULT_WARMUP_MS,
  type LinkOptions,
  PRESETS,
  type PresetName,
  parseBandwidth,
  parseByteSize,
  parseCrashSpec,
  parseLatency,
  parsePartitionSpec,
  parsePresetName,
  parseProbability,
  parseRate,
  presetGossipConfig,
  type ReportRun,
  renderHtmlReport,
  SimError,
  SimInvariantError,
  type SimOptions,
  type SimReport,
  type SimResult,
  Simulator,
  simOptions,
  simVerdict,
  TUNED_TARGETS,
  targetFigures,
} from "../../sim/index.js";
import { repeatableFlag } from "../network/index.js";

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
  /** `fabric` or `tuned` (src/sim/presets.ts): its peer.gossip keys over --config's. */
  preset?: string;
  /** Runs both presets with the same seed and faults. */
  compare?: boolean;
  /** Private data on ch0 (docs/SIMULATION.md, Private data). */
  privateData?: boolean;
  /** A mixed network: this many peers (a count, or a share such as 50%) run Fabric's default peer.gossip settings. */
  fabricPeers?: string;
}

function intFlag(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new SimError("INVALID_OPTIONS", `${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
}

/** The folder of --report exists and is a folder. */
async function checkReportFolder(file: string): Promise<void> {
  const dir = dirname(resolve(file));
  const st = await stat(dir).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) throw new SimError("INVALID_OPTIONS", `--report ${file}: the folder ${dir} does not exist`);
}

/**
 * --fabric-peers: which peers run Fabric's defaults, spread evenly over the indices (so over the orgs too, which
 * take peers round-robin): half of them are the odd ones. A count (0 to --peers) or a share (0% to 100%).
 */
export function fabricPeerIndices(value: string, peers: number): number[] {
  const share = /^(\d+(?:\.\d+)?)%$/.exec(value);
  const count = share !== null ? Math.round((Number(share[1]) / 100) * peers) : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(count >= 0 && count <= peers) || (share !== null && Number(share[1]) > 100)) {
    throw new SimError("INVALID_OPTIONS", `--fabric-peers must be a count from 0 to --peers (${peers}) or a share such as 50%, got "${value}"`);
  }
  return Array.from({ length: count }, (_, j) => Math.floor(((2 * j + 1) * peers) / (2 * count)));
}

/** The peers a run has on other peer.gossip settings than the rest (--fabric-peers), by name. */
function otherSettingsPeers(o: SimOptions): string[] {
  return Object.keys(o.gossipByPeer ?? {}).map((i) => `p${i}`);
}

/** A line naming the peers on Fabric's defaults, for a mixed network (undefined otherwise). */
function fabricPeersLine(o: SimOptions): string | undefined {
  const names = otherSettingsPeers(o);
  return names.length === 0 ? undefined : `${names.length} peers on Fabric's defaults (--fabric-peers): ${names.join(", ")}`;
}

/** --orgs: at least 1 and at most --peers (peers are dealt to orgs round-robin). */
function orgsFlag(f: SimulateFlags): number {
  const orgs = intFlag(f.orgs, "--orgs", 1);
  const peers = Number(f.peers);
  if (Number.isInteger(peers) && orgs > peers) throw new SimError("INVALID_OPTIONS", `--orgs ${orgs} must not exceed --peers ${peers}: every org needs a peer`);
  return orgs;
}

function durationFlag(value: string, flag: string, min: { ms: number; what: string } = { ms: 0, what: "at least 0" }): number {
  let ms: number;
  try {
    ms = parseDurationMs(value);
  } catch {
    throw new SimError("INVALID_OPTIONS", `${flag}: cannot read "${value}"; expected a duration such as 10m, 90s or 1500ms`);
  }
  if (!(ms >= min.ms)) throw new SimError("INVALID_OPTIONS", `${flag} "${value}": must be ${min.what}`);
  return ms;
}

/**
 * Reads `--config core.yaml` (peer.gossip.*) or takes Fabric's defaults; with a preset, the preset's
 * keys override the file's (the file supplies the rest).
 */
export async function gossipConfigFrom(path: string | undefined, preset?: PresetName): Promise<GossipConfig> {
  let yaml: unknown;
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new SimError("INVALID_OPTIONS", `--config: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    yaml = gossipSectionFromCoreYaml(text);
  }
  return preset === undefined ? loadGossipConfig({ yaml }).config : presetGossipConfig(preset, { yaml });
}

/** The simulation the flags describe (with `preset`, that preset instead of `--preset`). */
export async function simOptionsFromFlags(f: SimulateFlags, preset = f.preset === undefined ? undefined : parsePresetName(f.preset)): Promise<SimOptions> {
  const gossip = await gossipConfigFrom(f.config, preset);
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
    if (f.leaders !== "election" && f.leaders !== "static") throw new SimError("INVALID_OPTIONS", `--leaders must be election or static, got "${f.leaders}"`);
    leaderMode = f.leaders;
  } else {
    // core.yaml's choice when it makes one; dynamic election otherwise.
    leaderMode = !gossip.useLeaderElection && gossip.orgLeader ? "static" : "election";
  }
  const peers = intFlag(f.peers, "--peers", 1);
  const fabric = f.fabricPeers === undefined ? [] : fabricPeerIndices(f.fabricPeers, peers);
  const fabricDefaults = fabric.length > 0 ? presetGossipConfig("fabric") : undefined;
  return simOptions({
    gossip,
    ...(fabricDefaults === undefined ? {} : { gossipByPeer: Object.fromEntries(fabric.map((i) => [i, fabricDefaults])) }),
    seed: intFlag(f.seed, "--seed", 0),
    peers,
    orgs: orgsFlag(f),
    channels: intFlag(f.channels, "--channels", 1),
    blocks: intFlag(f.blocks, "--blocks", 1),
    blockBytes: parseByteSize(f.blockSize),
    blockIntervalMs: parseRate(f.blockRate),
    warmupMs: durationFlag(f.warmup, "--warmup"),
    durationMs: f.duration === undefined ? undefined : durationFlag(f.duration, "--duration", { ms: 1, what: "more than 0, e.g. 90s" }),
    link,
    partitions: f.partition.map((p) => parsePartitionSpec(p)),
    crashes: f.crash.map((c) => parseCrashSpec(c)),
    clockSkewMs: durationFlag(f.clockSkew, "--clock-skew"),
    crypto: f.fastCrypto ? "fast" : "real",
    leaderMode,
    // With --config, its peer.gossip.pvtData section (Fabric's code defaults for keys it lacks, as a peer reads
    // it); without, the sample core.yaml's values the gossip service defaults to.
    ...(f.privateData ? { privateData: { ...DEFAULT_PRIVATE_DATA, pvtData: f.config === undefined ? {} : { ...gossip.pvtData } } } : {}),
  });
}

/** One run of `simulate`: its label in reports and its options. */
export interface SimulateRun {
  label: string;
  /** The preset it runs, if any. */
  preset?: PresetName;
  options: SimOptions;
}

/**
 * The runs the flags ask for: one, or with `--compare` Fabric's defaults then the tuned set, with
 * the same seed, link, faults and everything else (only peer.gossip differs).
 */
export async function simRunsFromFlags(f: SimulateFlags): Promise<SimulateRun[]> {
  if (f.compare) {
    if (f.preset !== undefined) throw new SimError("INVALID_OPTIONS", "--compare runs both presets (fabric and tuned); leave out --preset");
    const runs: SimulateRun[] = [];
    for (const name of ["fabric", "tuned"] as const) runs.push({ label: PRESETS[name].label, preset: name, options: await simOptionsFromFlags(f, name) });
    return runs;
  }
  const preset = f.preset === undefined ? undefined : parsePresetName(f.preset);
  const options = await simOptionsFromFlags(f, preset);
  return [{ label: preset === undefined ? `seed ${options.seed}` : `${PRESETS[preset].label}, seed ${options.seed}`, ...(preset === undefined ? {} : { preset }), options }];
}

/** The longest one-way link latency a spec gives (its p99 for a long tail). */
function maxOneWayMs(l: SimOptions["link"]["latency"]): number {
  if (l.kind === "fixed") return l.ms;
  if (l.kind === "uniform") return l.maxMs;
  return l.p99Ms;
}

/**
 * A warning when a run's digestWaitTime is not above the links' round trip: digests would come
 * after the initiator stopped waiting, and block pull would never complete. The tuned preset's 10 ms
 * is meant for links of about 1 ms; Fabric's 1 s never trips it at the usual latencies.
 */
export function linkWarning(run: SimulateRun): string | undefined {
  const rtt = 2 * maxOneWayMs(run.options.link.latency);
  const wait = run.options.gossip.digestWaitTimeMs;
  // With pullWaitsFollowRtt the block puller raises its waits to the round trips it measures.
  if (rtt < wait || run.options.gossip.pullWaitsFollowRtt) return undefined;
  const hint = "raise peer.gossip.digestWaitTime above it, or set peer.gossip.pullWaitsFollowRtt";
  return `${run.label}: peer.gossip.digestWaitTime (${wait} ms) is not above the links' round trip (up to ${rtt} ms with --latency): digests arrive too late and block pull cannot complete; ${hint}`;
}

/** Issue 5's targets for the tuned set, and how each run fares: one line per target, one column per run. */
export function formatTargets(runs: ReadonlyArray<{ label: string; report: SimReport }>): string {
  const t = TUNED_TARGETS;
  const figs = runs.map((r) => ({ label: r.label, f: targetFigures(r.report) }));
  const mark = (ok: boolean): string => (ok ? "met" : "missed");
  const rows: Array<[string, (x: (typeof figs)[number]) => string]> = [
    ["every block committed on every running peer", (x) => (x.f.missingCommits === 0 ? "yes, met" : `${x.f.missingCommits} missing, missed`)],
    [`latency p50 <= ${t.p50Ms} ms`, (x) => `${x.f.p50Ms} ms, ${mark(checkTargets(x.f).p50)}`],
    [`latency p99 <= ${t.p99Ms} ms`, (x) => `${x.f.p99Ms} ms, ${mark(checkTargets(x.f).p99)}`],
    [`push share >= ${100 * t.pushShare}%`, (x) => `${(100 * x.f.pushShare).toFixed(2)}%, ${mark(checkTargets(x.f).push)}`],
    [`block bytes received <= ${t.blockBytesX.toFixed(1)}x`, (x) => `${x.f.blockBytesX.toFixed(2)}x, ${mark(checkTargets(x.f).bytes)}`],
    ["dissemination bytes (blocks + pull)", (x) => `${x.f.disseminationBytesX.toFixed(2)}x the block per peer`],
  ];
  const cells = [["target", ...figs.map((x) => x.label)], ...rows.map(([name, f]) => [name, ...figs.map(f)])];
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return `${cells.map((row) => row.map((v, c) => v.padEnd(widths[c]!)).join("  ").trimEnd()).join("\n")}\n`;
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
    ["latency p50 / p99 / max", `${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max} ms (block creation to commit, over ${r.latencyMs.deliveries} deliveries)`],
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
    ...(r.privateData === undefined
      ? []
      : [
          [
            "private data",
            `${r.privateData.written} write sets written; held ${r.privateData.committed}, missing ${r.privateData.missing}, purged ${r.privateData.purged}, leaked ${r.privateData.leaked} (eligible peer x write set); distributions failed ${r.privateData.distributionFailed}, transactions abandoned ${r.privateData.abandoned}`,
          ] as [string, string],
        ]),
    ["trace hash", r.traceHash],
    ["wall time", `${r.wallSeconds} s`],
  ];
  const verdict = simVerdict(r);
  lines.push(["result", verdict.ok ? "ok: every running peer committed every block" : `FAILED: ${verdict.failures.join("; ")}`]);
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
    .option("--partition <spec>", "KIND[:ARG]@AT[+FOR][/MODE]: orgs@60s+30s, half@2m+1m, isolate:p3@30s+60s, split:p1,p2@30s+60s, oneway:p3@30s+60s, swizzle:1s@60s+2m (repeatable)", repeatableFlag, [])
    .option("--crash <spec>", "TARGET@AT[+DOWN]: p3@60s+30s, leader@2m, random:3@60s+10s (repeatable)", repeatableFlag, [])
    .option("--duration <d>", "virtual time to run, e.g. 10m; default: until every block is committed everywhere (at most warm-up + blocks / rate + 30s)")
    .option("--warmup <d>", "virtual time before the first block", `${DEFAULT_WARMUP_MS / 1000}s`)
    .option("--clock-skew <d>", "each peer's wall clock is off by up to this much either way", "0s")
    .addOption(new Option("--leaders <mode>", "election (dynamic, per org and channel) or static (peer 0 of each org); default from core.yaml, else election").choices(["election", "static"]))
    .option("--seed <n>", "the seed: the same seed and flags give the same run and trace hash", String(DEFAULT_SEED))
    .option("--config <core.yaml>", "peer.gossip settings from a core.yaml (Fabric's defaults otherwise)")
    .option("--report <out.html>", "write a self-contained HTML report (latency CDF, heights, traffic, membership)")
    .option("--json", "print the figures as one JSON object")
    .option("--fast-crypto", "development MCS (no real signatures) instead of ECDSA: for large runs")
    .option("--private-data", "ch0 starts from a configtx genesis block, defines chaincode pvtcc with collections collOrg1 and collOrg12, and half its transactions write private data (real crypto only)")
    .option("--preset <name>", "peer.gossip preset: fabric (Fabric's defaults) or tuned (docs/tuned-core.yaml); its keys override --config's")
    .option("--compare", "run Fabric's defaults and the tuned preset with the same seed and faults; print, report and JSON both")
    .option("--fabric-peers <n>", "a mixed network: this many peers (or a share, e.g. 50%), spread evenly, run Fabric's default peer.gossip settings")
    .action(async (flags: SimulateFlags) => {
      const runs = await simRunsFromFlags(flags);
      // Checked before the run, which may take minutes: a report that cannot be written is said at once.
      if (flags.report !== undefined) await checkReportFolder(flags.report);
      for (const run of runs) {
        const warning = linkWarning(run);
        if (warning !== undefined) process.stderr.write(`warning: ${warning}\n`);
      }
      let current: SimulateRun | undefined;
      try {
        const done: Array<{ run: SimulateRun; result: SimResult; notes: string[]; diag: ReturnType<Simulator["diagnostics"]> }> = [];
        for (const run of runs) {
          current = run;
          const sim = new Simulator(run.options);
          const result = await sim.run();
          const d = sim.diagnostics();
          const o = run.options;
          const mixed = fabricPeersLine(o);
          const notes = [
            `seed ${o.seed}; ${o.peers} peers, ${o.orgs} orgs, ${o.channels} channels; crypto ${o.crypto}`,
            ...(mixed === undefined ? [] : [mixed]),
            ...(run.preset === undefined ? [] : [`preset ${run.preset}: ${JSON.stringify(PRESETS[run.preset].settings)}`]),
            `link: ${JSON.stringify(o.link)}`,
            `partitions: ${JSON.stringify(o.partitions)}; crashes: ${JSON.stringify(o.crashes)}`,
            `frames written ${d.link.frames}, lost ${d.link.lost}, duplicated ${d.link.duplicated}, reordered ${d.link.reordered}; errors logged ${d.errors}`,
            `invariant checks: ${JSON.stringify(d.checks)}`,
          ];
          done.push({ run, result, notes, diag: d });
        }
        if (flags.report !== undefined) {
          const reportRuns: ReportRun[] = done.map((x) => ({
            label: x.run.label,
            result: x.result,
            notes: x.notes,
            ...(x.run.preset === undefined ? {} : { settings: PRESETS[x.run.preset].settings }),
          }));
          await writeFile(
            flags.report,
            renderHtmlReport(reportRuns, flags.compare ? "fabric-gossip simulation: Fabric's defaults against the tuned set" : undefined, { targets: flags.compare === true }),
          );
        }
        const extra = (x: (typeof done)[number]): Record<string, unknown> => {
          const v = simVerdict(x.result.report);
          const mixed = otherSettingsPeers(x.run.options);
          return { ok: v.ok, failures: v.failures, errorsLogged: x.diag.errors, linkFaults: x.diag.link, invariantChecks: x.diag.checks, ...(mixed.length > 0 ? { fabricPeers: mixed } : {}) };
        };
        // A run that lost blocks fails, whatever its figures: the summary says so and the exit code follows.
        if (done.some((x) => !simVerdict(x.result.report).ok)) process.exitCode = 1;
        if (flags.json) {
          if (flags.compare) {
            const out: Record<string, unknown> = { compare: true, seed: done[0]!.run.options.seed };
            for (const x of done) out[x.run.preset!] = { ...x.result.report, ...extra(x), targets: targetFigures(x.result.report) };
            process.stdout.write(`${JSON.stringify(out)}\n`);
          } else {
            const x = done[0]!;
            process.stdout.write(`${JSON.stringify({ ...x.result.report, ...extra(x) })}\n`);
          }
        } else {
          for (const x of done) {
            if (done.length > 1) process.stdout.write(`== ${x.run.label}\n`);
            process.stdout.write(formatSimReport(x.result.report));
            const mixed = fabricPeersLine(x.run.options);
            if (mixed !== undefined) process.stdout.write(`${mixed}\n`);
            if (x.diag.errors > 0) process.stdout.write(`errors logged by peers: ${x.diag.errors}; first: ${x.diag.firstErrors[0] ?? ""}\n`);
            if (done.length > 1) process.stdout.write("\n");
          }
          if (flags.compare) process.stdout.write(`== targets (issue 5; meant for 100 peers, 1 ms +/- 0.5 ms links)\n${formatTargets(done.map((x) => ({ label: x.run.label, report: x.result.report })))}`);
          if (flags.report !== undefined) process.stdout.write(`report written to ${flags.report}\n`);
        }
      } catch (err) {
        if (err instanceof SimInvariantError) {
          if (runs.length > 1 && current !== undefined) process.stderr.write(`in the run of ${current.label}:\n`);
          process.stderr.write(`${err.report()}\n`);
          const preset = runs.length > 1 && current?.preset !== undefined ? { preset: current.preset } : {};
          if (flags.json) process.stdout.write(`${JSON.stringify({ violation: err.invariant, seed: err.seed, message: err.message, history: err.history, ...preset })}\n`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });
}
