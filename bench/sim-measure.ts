/**
 * Simulator figures (issue 5): run one of the measurements and print its figures.
 *
 *   node --import tsx bench/sim-measure.ts theory   # 100 peers, 1 org, Fabric defaults (fanout 3, 1 iteration),
 *                                                   # 100 blocks of 100 KB every 2 s, 1 ms links, fast crypto:
 *                                                   # push share (theory 94.0-94.8 %) and copies per reached peer (2.8-3.3)
 *   node --import tsx bench/sim-measure.ts real100 [virtual minutes, default 10]   # 100 peers, 4 orgs, real ECDSA, a block every 2 s
 *   node --import tsx bench/sim-measure.ts fast1000 [virtual minutes, default 10]  # 1,000 peers, 4 orgs, fast crypto, a block every 2 s
 *   node --import tsx bench/sim-measure.ts fast<N> [virtual minutes]               # the same with N peers (fast200, fast400: how the cost grows)
 *
 * Profile with node --cpu-prof --import tsx bench/sim-measure.ts ... Run one at a time: each keeps a core busy.
 * The script runs itself again in a child node with the simulator's heap settings (a 128 MB young
 * generation; for fast1000 also 12 GB of old space) unless they are given.
 *
 * `npm run bench -- real100` and `npm run bench -- fast400` run the same measurements in the bench
 * process (SIM_MINUTES virtual minutes, default 10), with wall and CPU microseconds per delivered frame.
 */
import { spawnSync } from "node:child_process";
import { getHeapStatistics } from "node:v8";
import { defaultGossipConfig } from "../src/config/index.js";
import { type SimOptions, Simulator, simOptions } from "../src/sim/index.js";
import { isMain, machineLine, printFigures } from "./stats.js";

function options(which: string, minutes: number): SimOptions {
  const gossip = defaultGossipConfig();
  const perTwoSeconds = { blockIntervalMs: 2_000, blocks: Math.floor((minutes * 60_000 - 25_000) / 2_000), durationMs: minutes * 60_000 };
  switch (which) {
    case "theory":
      return simOptions({ gossip, peers: 100, orgs: 1, blocks: 100, blockIntervalMs: 2_000, blockBytes: 100 * 1024, crypto: "fast", link: { ...simOptions({ gossip }).link, latency: { kind: "fixed", ms: 1 } } });
    case "real100":
      return simOptions({ gossip, peers: 100, orgs: 4, crypto: "real", ...perTwoSeconds });
    default:
      if (/^fast\d+$/.test(which)) return simOptions({ gossip, peers: Number(which.slice(4)), orgs: 4, crypto: "fast", ...perTwoSeconds });
      throw new Error(`unknown measurement ${which}: theory, real100, fast1000 or fast<N>`);
  }
}

/** Heap limit the 1,000-peer run is given (the machine has 24 GiB). */
const FAST1000_HEAP_MB = 12_288;

/** Runs measurement `which` for `minutes` virtual minutes in this process and returns its figures. */
export async function measureSim(which: string, minutes: number): Promise<Record<string, number | string>> {
  const sim = new Simulator(options(which, minutes));
  // Progress on stderr every 10 virtual seconds: how fast the run goes, and its heap.
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  let nextProgressMs = 10_000;
  sim.onStep((nowMs) => {
    if (nowMs < nextProgressMs) return;
    nextProgressMs += 10_000;
    const wall = (performance.now() - wallStart) / 1000;
    process.stderr.write(`virtual ${(nowMs / 1000).toFixed(0)} s, wall ${wall.toFixed(1)} s, heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MB\n`);
  });
  const { report } = await sim.run();
  const d = sim.diagnostics();
  const cpu = process.cpuUsage(cpuStart);
  // CPU seconds of this process: on a shared machine a steadier figure than wall time.
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return {
    measurement: which,
    peers: report.peers,
    orgs: report.orgs,
    crypto: report.crypto,
    virtual_s: report.virtualSeconds,
    blocks: report.blocks,
    latency_p50_ms: report.latencyMs.p50,
    latency_p99_ms: report.latencyMs.p99,
    latency_max_ms: report.latencyMs.max,
    push_share_pct: Number((100 * report.pushShare).toFixed(2)),
    pull_share_pct: Number((100 * report.pullShare).toFixed(2)),
    state_share_pct: Number((100 * report.stateShare).toFixed(2)),
    copies_per_reached_peer: report.redundancy,
    bytes_per_peer_per_s: report.bytesPerPeerPerSec,
    membership_convergence_s: report.membershipConvergenceSeconds ?? "never",
    false_deaths: report.falseDeaths,
    leader_changes: report.leaderChanges,
    missing_commits: report.missingCommits,
    frames: report.frames,
    frames_per_virtual_s: Math.round(report.frames / report.virtualSeconds),
    errors_logged: d.errors,
    trace_hash: report.traceHash,
    wall_s: report.wallSeconds,
    cpu_s: Number(cpuS.toFixed(1)),
    wall_us_per_frame: Number(((1e6 * report.wallSeconds) / Math.max(1, report.frames)).toFixed(1)),
    cpu_us_per_frame: Number(((1e6 * cpuS) / Math.max(1, report.frames)).toFixed(1)),
    wall_s_per_virtual_s: Number((report.wallSeconds / report.virtualSeconds).toFixed(2)),
    virtual_s_per_wall_s: Number((report.virtualSeconds / report.wallSeconds).toFixed(3)),
    frames_sent_by_type: Object.entries(d.framesSentByType)
      .sort((a, b) => b[1] - a[1])
      .map(([type, n]) => `${type} ${n}`)
      .join(", "),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    heap_limit_mb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
  };
}

if (isMain(import.meta.url)) {
  const which = process.argv[2] ?? "theory";
  const minutes = Number(process.argv[3] ?? "10");
  // The heap settings `fabric-gossip simulate` runs with (see bin/fabric-gossip.js): a 128 MB young
  // generation, and for the fast<N> runs more old space than V8's default of about 4 GB.
  const heapFlags: string[] = [];
  if (!process.execArgv.some((a) => a.startsWith("--max-semi-space-size"))) heapFlags.push("--max-semi-space-size=128");
  if (/^fast\d+$/.test(which) && getHeapStatistics().heap_size_limit < FAST1000_HEAP_MB * 2 ** 20) heapFlags.push(`--max-old-space-size=${FAST1000_HEAP_MB}`);
  if (heapFlags.length > 0) {
    const child = spawnSync(process.execPath, [...process.execArgv, ...heapFlags, ...process.argv.slice(1)], { stdio: "inherit" });
    process.exit(child.status ?? 1);
  }
  const figures = await measureSim(which, minutes);
  process.stdout.write(`${machineLine()}\n`);
  printFigures(figures);
}

