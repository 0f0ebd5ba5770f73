/**
 * The tuned gossip preset against Fabric's defaults (issue 5), small: 24 peers on 1 ms +/- 0.5 ms
 * links, the same seed and faults for both. The figures at 100 peers are bench/sim-tuned.ts's.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { fabricPeerIndices, linkWarning, type SimulateFlags, simRunsFromFlags } from "../../src/cli/commands/simulate.js";
import { DEFAULT_GOSSIP_CONFIG, gossipSectionFromCoreYaml, loadGossipConfig, loadPeerConfig, parseCoreYaml } from "../../src/config/index.js";
import { type PresetName, presetGossipConfig, type SimOptions, type SimReport, SimError, Simulator, TUNED_TARGETS, simOptions } from "../../src/sim/index.js";
import { runCli } from "../utils/cli.js";
import { runSim } from "./sim-kit.js";

const TUNED_YAML = fileURLToPath(new URL("../../docs/tuned-core.yaml", import.meta.url));

/** 24 peers in one org, 1 ms +/- 0.5 ms links, 12 blocks of 8 KB at 2/s, static leaders, fast crypto. */
function options(preset: PresetName): SimOptions {
  const gossip = presetGossipConfig(preset);
  const base = simOptions({ gossip });
  return simOptions({
    gossip,
    seed: 11,
    peers: 24,
    orgs: 1,
    blocks: 12,
    blockBytes: 8 * 1024,
    blockIntervalMs: 500,
    warmupMs: 12_000,
    crypto: "fast",
    leaderMode: "static",
    link: { ...base.link, latency: { kind: "uniform", minMs: 0.5, maxMs: 1.5 } },
  });
}

test("same seed: the tuned preset beats Fabric's defaults on p99 and keeps block bytes within 2.0x", async () => {
  const runs: Record<PresetName, SimReport> = {
    fabric: (await runSim(options("fabric"))).result.report,
    tuned: (await runSim(options("tuned"))).result.report,
  };
  for (const [name, r] of Object.entries(runs)) {
    assert.equal(r.missingCommits, 0, `${name}: every block committed everywhere`);
    assert.equal(r.falseDeaths, 0, name);
  }
  const { fabric, tuned } = runs;
  assert.notEqual(fabric.traceHash, tuned.traceHash, "the settings changed the run");
  // Defaults: the peers the push missed wait for the next 4 s pull round plus a 1 s digest wait.
  assert.ok(fabric.latencyMs.p99 >= 1_000, `defaults p99 ${fabric.latencyMs.p99} ms`);
  assert.ok(tuned.latencyMs.p99 <= TUNED_TARGETS.p99Ms, `tuned p99 ${tuned.latencyMs.p99} ms`);
  assert.ok(tuned.latencyMs.p99 * 5 < fabric.latencyMs.p99, `tuned p99 ${tuned.latencyMs.p99} against ${fabric.latencyMs.p99} ms`);
  assert.ok(tuned.latencyMs.p50 <= TUNED_TARGETS.p50Ms, `tuned p50 ${tuned.latencyMs.p50} ms`);
  assert.ok(tuned.redundancy <= TUNED_TARGETS.blockBytesX, `tuned copies per reached peer ${tuned.redundancy}`);
  assert.ok(fabric.redundancy > tuned.redundancy, `defaults ${fabric.redundancy} copies against tuned ${tuned.redundancy}`);
  // The cost of fewer copies: more first arrivals by pull (fanout 2 reaches about 80 % by push).
  assert.ok(tuned.pushShare > 0.6 && tuned.pushShare < fabric.pushShare, `push share tuned ${tuned.pushShare}, defaults ${fabric.pushShare}`);
});

test("docs/tuned-core.yaml is the tuned preset, for simulate --config and for peer start --config", async () => {
  const text = await readFile(TUNED_YAML, "utf8");
  const tuned = presetGossipConfig("tuned");
  assert.deepEqual(loadGossipConfig({ yaml: gossipSectionFromCoreYaml(text) }).config, tuned);
  assert.deepEqual(loadPeerConfig({ yaml: parseCoreYaml(text) }).config.gossip, tuned);
  assert.deepEqual(presetGossipConfig("fabric"), { ...DEFAULT_GOSSIP_CONFIG }, "the fabric preset is Fabric's defaults");
  assert.equal(tuned.propagatePeerNum, 2);
  assert.equal(tuned.blockPullIntervalMs, 100);
  assert.equal(tuned.pullIntervalMs, DEFAULT_GOSSIP_CONFIG.pullIntervalMs, "identity pull and membership sync keep Fabric's pace");
  // A preset's keys win over the file's; the file supplies the rest.
  const over = presetGossipConfig("tuned", { yaml: { propagatePeerNum: 5, pullPeerNum: 4 } });
  assert.equal(over.propagatePeerNum, 2);
  assert.equal(over.pullPeerNum, 3);
  assert.equal(presetGossipConfig("tuned", { yaml: { requestStateInfoInterval: "2s" } }).requestStateInfoIntervalMs, 2_000);
  assert.equal(presetGossipConfig("tuned", { yaml: { aliveTimeInterval: "2s" } }).aliveTimeIntervalMs, 15_000, "the preset's own key wins");
});

const FLAGS: SimulateFlags = {
  peers: "12",
  orgs: "1",
  channels: "1",
  blocks: "6",
  blockSize: "4KB",
  blockRate: "2/s",
  latency: "0.5-1.5ms",
  loss: "0",
  duplicate: "0",
  reorder: "0",
  partition: [],
  crash: ["p5@13s+2s"],
  warmup: "12s",
  clockSkew: "0s",
  leaders: "static",
  seed: "3",
  fastCrypto: true,
};

test("--compare makes two runs differing only in peer.gossip; --preset picks one; bad combinations are refused", async () => {
  const [fabric, tuned, ...rest] = await simRunsFromFlags({ ...FLAGS, compare: true });
  assert.equal(rest.length, 0);
  assert.equal(fabric?.preset, "fabric");
  assert.equal(tuned?.preset, "tuned");
  const { gossip: g1, ...o1 } = fabric!.options;
  const { gossip: g2, ...o2 } = tuned!.options;
  assert.deepEqual(o1, o2, "same seed, link, faults and the rest");
  assert.notDeepEqual(g1, g2);
  assert.deepEqual(g2, presetGossipConfig("tuned"));

  const [one, ...none] = await simRunsFromFlags({ ...FLAGS, preset: "tuned" });
  assert.equal(none.length, 0);
  assert.equal(one?.options.gossip.blockPullIntervalMs, 100);
  assert.equal((await simRunsFromFlags(FLAGS))[0]?.options.gossip.propagatePeerNum, 3, "no preset: Fabric's defaults");

  await assert.rejects(simRunsFromFlags({ ...FLAGS, compare: true, preset: "tuned" }), (e: unknown) => e instanceof SimError && /--compare/.test(e.message));
  await assert.rejects(simRunsFromFlags({ ...FLAGS, preset: "fast" }), (e: unknown) => e instanceof SimError && /--preset must be one of fabric, tuned/.test(e.message));

  // The tuned waits follow the measured round trip (pullWaitsFollowRtt): no warning on 10-50 ms links. Its
  // fixed waits alone would not do there: the command warns for a config with those waits and no following.
  const [slow] = await simRunsFromFlags({ ...FLAGS, preset: "tuned", latency: "10-50ms" });
  assert.equal(slow?.options.gossip.pullWaitsFollowRtt, true);
  assert.equal(linkWarning(slow!), undefined);
  const fixedWaits = { ...slow!, options: { ...slow!.options, gossip: { ...slow!.options.gossip, pullWaitsFollowRtt: false } } };
  assert.match(linkWarning(fixedWaits) ?? "", /digestWaitTime \(10 ms\) is not above the links' round trip \(up to 100 ms.*pullWaitsFollowRtt/);
  assert.equal(linkWarning(one!), undefined);
  const [fabricSlow] = await simRunsFromFlags({ ...FLAGS, latency: "10-50ms" });
  assert.equal(linkWarning(fabricSlow!), undefined, "Fabric's 1 s digest wait is fine there");
});

test("--fabric-peers runs a mixed network: that many peers, spread evenly, on Fabric's defaults; bad values name the flag", async () => {
  const [mixed] = await simRunsFromFlags({ ...FLAGS, preset: "tuned", fabricPeers: "50%" });
  const byPeer = mixed!.options.gossipByPeer ?? {};
  assert.deepEqual(Object.keys(byPeer).map(Number), [1, 3, 5, 7, 9, 11], "half of 12: every other one");
  for (const g of Object.values(byPeer)) assert.deepEqual(g, presetGossipConfig("fabric"));
  assert.deepEqual(mixed!.options.gossip, presetGossipConfig("tuned"), "the rest run the preset");
  assert.deepEqual(fabricPeerIndices("3", 10), [1, 5, 8]);
  assert.deepEqual(fabricPeerIndices("0", 10), []);
  assert.deepEqual(fabricPeerIndices("100%", 4), [0, 1, 2, 3]);
  assert.equal((await simRunsFromFlags({ ...FLAGS, fabricPeers: "0" }))[0]!.options.gossipByPeer, undefined);
  for (const bad of ["13", "-1", "x", "101%", "1.5", ""]) {
    await assert.rejects(simRunsFromFlags({ ...FLAGS, fabricPeers: bad }), (e: unknown) => e instanceof SimError && e.message.includes(`--fabric-peers must be a count from 0 to --peers (12) or a share such as 50%, got "${bad}"`));
  }
  // The flag reaches the command: 4 peers, half on Fabric's defaults, named in the summary.
  const r = await runCli(["simulate", "--peers", "4", "--orgs", "2", "--blocks", "1", "--fast-crypto", "--preset", "tuned", "--fabric-peers", "2", "--latency", "1ms"], {}, 60_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 peers on Fabric's defaults \(--fabric-peers\): p1, p3/);
});

test("simulate --compare runs both presets with one seed: JSON with both, and one HTML report side by side", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "sim-tuned-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const report = join(dir, "compare.html");
  const args = ["simulate", "--compare", "--json", "--report", report, "--peers", "12", "--orgs", "1", "--blocks", "6", "--block-size", "4KB"];
  args.push("--latency", "0.5-1.5ms", "--warmup", "12s", "--leaders", "static", "--seed", "3", "--fast-crypto", "--crash", "p5@13s+2s");
  const res = await runCli(args, {}, 120_000);
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout) as { compare: boolean; seed: number; fabric: SimReport & { targets: { blockBytesX: number } }; tuned: SimReport };
  assert.equal(out.compare, true);
  assert.equal(out.seed, 3);
  for (const r of [out.fabric, out.tuned]) {
    assert.equal(r.seed, 3);
    assert.equal(r.peers, 12);
    assert.equal(r.blocks, 6);
    assert.match(r.traceHash, /^[0-9a-f]{64}$/);
  }
  assert.notEqual(out.fabric.traceHash, out.tuned.traceHash);
  assert.equal(out.fabric.targets.blockBytesX, out.fabric.redundancy);
  const html = await readFile(report, "utf8");
  assert.match(html, /<h2>Targets<\/h2>/);
  assert.match(html, /<h2>Settings<\/h2>/);
  for (const label of ["Fabric&#39;s defaults", "tuned (docs/tuned-core.yaml)"]) {
    assert.ok(html.includes(label) || html.includes(label.replace("&#39;", "'")), label);
  }
  assert.ok(html.includes(out.fabric.traceHash) && html.includes(out.tuned.traceHash), "both runs' sections");
  const metrics = [...html.matchAll(/<svg [^>]*data-metric="([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(metrics.filter((m) => m === "latency-cdf").length, 1, "one CDF with both runs");
  const perRun = metrics.filter((m) => m !== "latency-cdf");
  assert.ok(perRun.includes("heights") && perRun.includes("membership") && perRun.includes("traffic:data"), perRun.join(", "));
  for (const m of new Set(perRun)) assert.equal(perRun.filter((x) => x === m).length, 2, `${m}: one chart per run`);
});

test("a run in which running peers miss blocks fails: targets missed, the summary says FAILED with the count, JSON ok false, exit code 1", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "sim-fail-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const report = join(dir, "fail.html");
  // The run ends half a second after the first block is cut: most commits cannot have happened.
  const base = ["simulate", "--peers", "6", "--orgs", "2", "--blocks", "5", "--block-rate", "5/s", "--warmup", "2s", "--duration", "2500ms", "--fast-crypto", "--seed", "5"];
  const text = await runCli([...base, "--compare", "--report", report], {}, 60_000);
  assert.equal(text.code, 1, "missing commits fail the run");
  assert.match(text.stdout, /^result\s+FAILED: \d+ commits of running peers never happened/m);
  assert.match(text.stdout, /every block committed on every running peer\s+\d+ missing, missed/);
  assert.doesNotMatch(text.stdout, /\bmet\b(?!.*missed)/, "no target reads met");
  const html = await readFile(report, "utf8");
  assert.match(html, /class="missed">FAILED/);
  assert.doesNotMatch(html, /\(met\)/);
  const json = await runCli([...base, "--json"], {}, 60_000);
  assert.equal(json.code, 1);
  const r = JSON.parse(json.stdout) as SimReport & { ok: boolean; failures: string[] };
  assert.equal(r.ok, false);
  assert.ok(r.missingCommits > 0);
  assert.equal(r.latencyMs.deliveries, r.commits, "the latency figures say how many deliveries they cover");
  assert.match(r.failures[0] ?? "", /never happened/);
});

test("simulate --report into a folder that does not exist is refused before the run, naming the flag", async () => {
  const r = await runCli(["simulate", "--peers", "4", "--orgs", "2", "--blocks", "2", "--fast-crypto", "--report", "/nonexistent-folder/report.html"], {}, 60_000);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /--report \/nonexistent-folder\/report\.html: the folder \/nonexistent-folder does not exist/);
  assert.equal(r.stdout, "", "nothing ran");
});

/**
 * 40 peers in 4 orgs started within ~1 s over 10-50 ms links (fast crypto), membership only until the
 * first block: the tuned set's startupSync, livenessFromTraffic, stateInfoPullWhenMissing and alive
 * messages every 10 s, against Fabric's defaults, and beside them in one network.
 */
function membershipOptions(gossip: SimOptions["gossip"], overrides: Partial<SimOptions> = {}): SimOptions {
  const base = simOptions({ gossip });
  return simOptions({
    gossip,
    seed: 5,
    peers: 40,
    orgs: 4,
    blocks: 4,
    blockBytes: 1024,
    blockIntervalMs: 500,
    warmupMs: 15_000,
    durationMs: 45_000,
    crypto: "fast",
    link: { ...base.link, latency: { kind: "uniform", minMs: 10, maxMs: 50 } },
    ...overrides,
  });
}

function membershipBytes(r: SimReport): number {
  const b = r.bytesPerPeerPerSecByType;
  return ["alive", "memReq", "memRes", "conn", "stateInfo", "stateSnapshot", "stateInfoPullReq"].reduce((sum, k) => sum + (b[k] ?? 0), 0);
}

test("the tuned set's membership: complete views within 3 s of the start, far fewer bytes, no false deaths, a crash still found in time", async () => {
  const fabric = (await runSim(membershipOptions(presetGossipConfig("fabric")))).result.report;
  const tuned = (await runSim(membershipOptions(presetGossipConfig("tuned")))).result.report;
  assert.ok(fabric.membershipConvergenceSeconds !== undefined && fabric.membershipConvergenceSeconds >= 5, `defaults converged at ${fabric.membershipConvergenceSeconds} s: after the first alive round`);
  assert.ok(tuned.membershipConvergenceSeconds !== undefined && tuned.membershipConvergenceSeconds <= 3, `tuned converged at ${tuned.membershipConvergenceSeconds} s`);
  assert.equal(tuned.falseDeaths, 0);
  assert.equal(tuned.missingCommits, 0);
  const ratio = membershipBytes(tuned) / membershipBytes(fabric);
  assert.ok(ratio < 0.4, `tuned membership bytes ${membershipBytes(tuned).toFixed(0)} B/s, ${ratio.toFixed(2)} of the defaults' ${membershipBytes(fabric).toFixed(0)}`);
  // A crash: every running peer declares it dead within aliveExpirationTimeout plus a check period.
  const g = presetGossipConfig("tuned");
  const crashAt = 15_000;
  const sim = new Simulator(membershipOptions(g, { crashes: [{ target: "p7", count: 1, atMs: crashAt, downMs: undefined }] }));
  const declaredBy = new Set<string>();
  const deadline = crashAt + g.aliveExpirationTimeoutMs + g.aliveExpirationTimeoutMs / 10;
  sim.onEvent((e) => {
    if (e.kind === "death" && e.target === "p7" && e.atMs <= deadline) declaredBy.add(e.peer);
  });
  const { report } = await sim.run();
  assert.equal(report.falseDeaths, 0);
  assert.equal(declaredBy.size, 39, `declared dead in time by ${declaredBy.size} of 39`);
});

test("a mixed network, every other peer on Fabric's defaults and the rest on the tuned set, converges, and no Fabric peer declares one of ours dead", async () => {
  // Fabric peers count only alive messages: the tuned set sends them at Fabric's pace beside them (aliveFollowsFabricPeers).
  // At its own 15 s, with 5 % loss, Fabric peers declared ours dead 11 times in these 60 s. Views complete when the
  // Fabric peers' 4 s syncs get there: over seeds 1-16 of this network at 12-40 s (median 23 s), so the bound is 45 s.
  const fabric = presetGossipConfig("fabric");
  const gossipByPeer: Record<number, SimOptions["gossip"]> = {};
  for (let i = 1; i < 40; i += 2) gossipByPeer[i] = fabric;
  const base = membershipOptions(presetGossipConfig("tuned"));
  const sim = new Simulator(membershipOptions(presetGossipConfig("tuned"), { gossipByPeer, durationMs: 60_000, link: { ...base.link, loss: 0.05 } }));
  const isFabric = (name: string): boolean => gossipByPeer[Number(name.slice(1))] !== undefined;
  const deaths: string[] = [];
  sim.onEvent((e) => {
    if (e.kind === "death" && isFabric(e.peer) && !isFabric(e.target)) deaths.push(`${e.peer} declared ${e.target} dead at ${e.atMs} ms`);
  });
  const { report } = await sim.run();
  assert.ok(report.membershipConvergenceSeconds !== undefined && report.membershipConvergenceSeconds <= 45, `mixed converged at ${report.membershipConvergenceSeconds} s`);
  assert.deepEqual(deaths, []);
  assert.equal(report.falseDeaths, 0);
  assert.equal(report.missingCommits, 0);
});

test("a Fabric peer on its defaults among tuned peers pulls every block the push missed from them", async () => {
  // Its block pull asks digestWaitTime (1 s) after its hello; a tuned responder must still hold the hello's nonce
  // then (requestWaitTime as Fabric's). At 20ms they ignored every such request: 11 of its 12 blocks never came.
  // Static leaders, so that it never fetches blocks from the ordering service itself.
  const base = membershipOptions(presetGossipConfig("tuned"));
  const sim = new Simulator(
    membershipOptions(presetGossipConfig("tuned"), {
      seed: 6,
      gossipByPeer: { 5: presetGossipConfig("fabric") },
      leaderMode: "static",
      blocks: 12,
      blockIntervalMs: 1_000,
      link: { ...base.link, loss: 0.05 },
    }),
  );
  const { report } = await sim.run();
  assert.equal(report.missingCommits, 0);
});

test("the tuned set's channel views: most StateInfo spreads by push at start, the rest is pulled from its owner, with few snapshots", async () => {
  // Peers refuse a StateInfo whose sender's identity they lack: startupSync gossips ours only after our alive
  // messages, and again at two later early syncs; a missing one is pulled from the member it belongs to.
  const sim = new Simulator(membershipOptions(presetGossipConfig("tuned"), { durationMs: 11_000 }));
  const lacking = new Map<number, number>();
  for (const at of [4_000, 10_000]) {
    sim.clock.setTimeout(() => {
      let pairs = 0;
      for (const p of sim.peers) pairs += sim.peers.length - 1 - (p.node?.peersOfChannel(sim.channels[0]!.name).length ?? 0);
      lacking.set(at, pairs);
    }, at);
  }
  const { report } = await sim.run();
  const pairs = sim.peers.length * (sim.peers.length - 1);
  // Before (StateInfo from the first early sync, pulled from 3 random peers): 648 of 1,560 at 4 s, 1,389 B/s of snapshots.
  assert.ok(lacking.get(4_000)! <= pairs / 4, `${lacking.get(4_000)} of ${pairs} (peer, member) pairs without StateInfo at 4 s`);
  assert.equal(lacking.get(10_000), 0, "every peer holds every member's StateInfo at 10 s");
  assert.ok((report.bytesPerPeerPerSecByType.stateSnapshot ?? 0) < 1_000, `snapshots ${report.bytesPerPeerPerSecByType.stateSnapshot} B/s`);
});
