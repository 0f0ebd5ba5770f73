import assert from "node:assert/strict";
import { test } from "node:test";
import { formatSimReport, simOptionsFromFlags, type SimulateFlags } from "../../src/cli/commands/simulate.js";
import { defaultGossipConfig } from "../../src/config/index.js";
import { renderHtmlReport } from "../../src/sim/index.js";
import { runSim, smallOptions } from "./sim-kit.js";

test("every peer commits every block of every channel it is in, and nothing reaches a peer outside a channel", async () => {
  // ch1 leaves org 1 out: its 8 peers must never see a block of ch1.
  const { sim, result } = await runSim(smallOptions({ seed: 2, peers: 16, orgs: 2, channels: 2, blocks: 12 }));
  const r = result.report;
  assert.equal(r.blocks, 12);
  assert.equal(r.missingCommits, 0);
  assert.equal(r.commits, 16 * 12 + 8 * 12);
  for (const p of sim.peers) {
    assert.equal(p.ledger("ch0")?.height(), 13n, `${p.name} ch0`);
    if (p.spec.org === 1) assert.equal(p.ledger("ch1"), undefined, `${p.name} is not in ch1`);
    else assert.equal(p.ledger("ch1")?.height(), 13n, `${p.name} ch1`);
  }
  const d = sim.diagnostics();
  assert.ok((d.checks["ineligible-delivery"] ?? 0) > 100, "the eligibility check ran on every block frame");
  assert.ok((d.checks["fork"] ?? 0) === r.commits);
  assert.ok((d.checks["forged-member"] ?? 0) > 0);
  assert.equal(d.pendingTimers, 0, "nothing left running");
  assert.equal(d.openStreams, 0);
  assert.equal(d.errors, 0, d.firstErrors.join("\n"));
  assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
  assert.ok(r.pushShare > 0.8, `push share ${r.pushShare}`);
  assert.ok(r.redundancy >= 1, `redundancy ${r.redundancy}`);
  assert.ok(r.bytesPerPeerPerSecByType["data"]! > 0 && r.bytesPerPeerPerSecByType["alive"]! > 0);
  assert.notEqual(r.membershipConvergenceSeconds, undefined);
  assert.equal(r.falseDeaths, 0);
  assert.equal(result.series.latencies.length, r.commits);
});

test("membership convergence is the step at which every view became full, not the next sample", async () => {
  // Samples every 15 s: the first at the first step, the next at 15 s. Fabric's defaults fill every view after
  // the first alive round (about 5-6 s), so a convergence looked for only at samples would read 15.
  const { result } = await runSim(smallOptions({ seed: 3, peers: 8, blocks: 4, sampleIntervalMs: 15_000 }));
  const c = result.report.membershipConvergenceSeconds;
  assert.ok(c !== undefined && c > 0 && c < 15, `converged at ${c} s`);
  assert.ok(Math.abs(c * 10 - Math.round(c * 10)) < 1e-9, `${c} s is a step of 100 ms`);
  const fullAtSamples = result.series.membership.findIndex((m) => m.min >= 7);
  assert.ok(fullAtSamples >= 1 && result.series.sampleTimes[fullAtSamples]! >= c, "the samples saw full views only later");
});

test("a crashed peer restarts with its ledger and catches up by state transfer; a crashed leader is replaced", async () => {
  const gossip = defaultGossipConfig();
  gossip.state.enabled = true;
  gossip.state.checkIntervalMs = 2_000;
  const { sim, result } = await runSim(
    smallOptions({
      seed: 4,
      gossip,
      blocks: 30,
      // p3 misses about 20 blocks (more than the pull window holds); the org 1 leader never comes back.
      crashes: [
        { target: "p3", count: 1, atMs: 21_000, downMs: 10_000 },
        { target: "leader", count: 1, atMs: 24_000, downMs: undefined },
      ],
      drainMs: 40_000,
    }),
  );
  const r = result.report;
  const p3 = sim.peers.find((p) => p.name === "p3")!;
  assert.equal(p3.incarnation, 2);
  assert.equal(p3.ledger("ch0")?.height(), 31n);
  assert.equal(r.missingCommits, 0, "every running peer has every block");
  assert.ok(r.stateShare > 0, "some blocks came by state transfer");
  const down = sim.peers.filter((p) => p.status === "crashed");
  assert.equal(down.length, 1);
  assert.equal(down[0]!.spec.org, 1);
  assert.ok(r.leaderChanges >= 1, "org 1 elected a new leader");
  assert.equal(sim.diagnostics().pendingTimers, 0);
});

test("static leaders and a healed org partition: all blocks committed, one HTML report with the charts", async () => {
  const { result } = await runSim(
    smallOptions({ seed: 6, leaderMode: "static", blocks: 16, partitions: [{ kind: "orgs", atMs: 21_000, forMs: 3_000, mode: "blackhole" }] }),
  );
  assert.equal(result.report.leaderMode, "static");
  assert.equal(result.report.missingCommits, 0);
  assert.equal(result.report.leaderChanges, 0);
  const html = renderHtmlReport([
    { label: "a", result },
    { label: "b", result, notes: ["same run twice <side by side>"] },
  ]);
  assert.match(html, /^<!doctype html>/);
  const types = Object.values(result.series.trafficByType).filter((v) => v.some((b) => b > 0)).length;
  assert.ok(types >= 3);
  assert.equal((html.match(/<svg /g) ?? []).length, 1 + 2 * (2 + types), "latency CDF, then per run heights, membership and one chart per message type");
  assert.doesNotMatch(html, /<script|https?:\/\//, "self-contained: no scripts, no external resources");
  assert.match(html, /&lt;side by side&gt;/);
  assert.match(html, new RegExp(result.report.traceHash));
});

const flags = (over: Partial<SimulateFlags> = {}): SimulateFlags => ({
  peers: "30",
  orgs: "3",
  channels: "1",
  blocks: "50",
  blockSize: "1MB",
  blockRate: "4/s",
  latency: "1ms",
  loss: "2%",
  duplicate: "0",
  reorder: "0",
  partition: ["half@1m+30s"],
  crash: ["leader@90s+10s"],
  warmup: "20s",
  clockSkew: "5m",
  seed: "9",
  ...over,
});

test("simulate's flags become simulation options; bad flags are named", async () => {
  const o = await simOptionsFromFlags(flags({ fastCrypto: true, duration: "10m" }));
  assert.equal(o.peers, 30);
  assert.equal(o.orgs, 3);
  assert.equal(o.blockBytes, 1_048_576);
  assert.equal(o.blockIntervalMs, 250);
  assert.deepEqual(o.link.latency, { kind: "fixed", ms: 1 });
  assert.equal(o.link.loss, 0.02);
  assert.equal(o.durationMs, 600_000);
  assert.equal(o.clockSkewMs, 300_000);
  assert.equal(o.crypto, "fast");
  assert.equal(o.seed, 9);
  assert.equal(o.partitions[0]?.kind, "half");
  assert.equal(o.crashes[0]?.target, "leader");
  assert.equal(o.gossip.propagatePeerNum, 3, "Fabric's defaults without --config");
  assert.equal((await simOptionsFromFlags(flags())).crypto, "real");
  await assert.rejects(simOptionsFromFlags(flags({ peers: "many" })), /--peers must be an integer/);
  await assert.rejects(simOptionsFromFlags(flags({ config: "/nonexistent/core.yaml" })), /--config: cannot read/);
  await assert.rejects(simOptionsFromFlags(flags({ leaders: "bully" })), /--leaders/);
  // Each bad value names its flag.
  await assert.rejects(simOptionsFromFlags(flags({ blocks: "0" })), /--blocks must be an integer >= 1/);
  await assert.rejects(simOptionsFromFlags(flags({ duration: "0s" })), /--duration "0s": must be more than 0/);
  await assert.rejects(simOptionsFromFlags(flags({ warmup: "-5s" })), /--warmup "-5s": must be at least 0/);
  await assert.rejects(simOptionsFromFlags(flags({ peers: "3", orgs: "5" })), /--orgs 5 must not exceed --peers 3/);
});

test("the text report names every figure and the trace hash", async () => {
  const { result } = await runSim(smallOptions({ seed: 8, peers: 6, blocks: 3 }));
  const text = formatSimReport(result.report);
  for (const want of ["latency p50 / p99 / max", "redundancy", "bytes per peer per second", "membership convergence", "false deaths", "leader changes", "trace hash", result.report.traceHash]) {
    assert.ok(text.includes(want), `missing ${want}`);
  }
});
