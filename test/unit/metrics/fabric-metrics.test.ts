/**
 * Fabric's 17 gossip metrics on /metrics: names, types, help and label names as Fabric's
 * `gossip/metrics/metrics.go`; get-or-create across components sharing one registry; conflicts are
 * refused; and the state update points (height, commit seconds, rejections) in virtual time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createCommMetrics } from "../../../src/comm/metrics.js";
import { createDeliverMetrics } from "../../../src/deliver/index.js";
import { createDiscoveryMetrics } from "../../../src/discovery/index.js";
import { createElectionMetrics } from "../../../src/election/index.js";
import { createChannelMetrics } from "../../../src/gossip/channel/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import {
  type Counter,
  counterOf,
  createRegistry,
  FABRIC_GOSSIP_METRICS,
  FABRIC_PRIVDATA_METRICS,
  type FabricMetricSpec,
  Gauge,
  type Histogram,
  MetricsError,
  PROMETHEUS_DEFAULT_BUCKETS,
  promMetricsProvider,
  type Registry,
  registerFabricGossipMetrics,
} from "../../../src/metrics/index.js";
import { createPrivdataMetrics } from "../../../src/privdata/index.js";
import { Block } from "../../../src/protos/gen/common/common.pb.js";
import { createStateMetrics, StateProviderImpl } from "../../../src/state/index.js";
import { ManualClock, SeededRandom, utf8 } from "../../../src/util/index.js";
import { CHANNEL, dataMsg, FakeGossip, FakeLedger, makeBlock, memberOf, received, stateResponse } from "../state/harness.js";

/** Fabric's table (docs/source/metrics_reference.rst, v2.5): name, type, labels, help. */
const FABRIC_TABLE: ReadonlyArray<readonly [string, "counter" | "gauge" | "histogram", readonly string[], string]> = [
  ["gossip_comm_messages_received", "counter", [], "Number of messages received"],
  ["gossip_comm_messages_sent", "counter", [], "Number of messages sent"],
  ["gossip_comm_overflow_count", "counter", [], "Number of outgoing queue buffer overflows"],
  ["gossip_leader_election_leader", "gauge", ["channel"], "Peer is leader (1) or follower (0)"],
  ["gossip_membership_total_peers_known", "gauge", ["channel"], "Total known peers"],
  ["gossip_payload_buffer_size", "gauge", ["channel"], "Size of the payload buffer"],
  ["gossip_privdata_commit_block_duration", "histogram", ["channel"], "Time it takes to commit private data and the corresponding block (in seconds)"],
  ["gossip_privdata_fetch_duration", "histogram", ["channel"], "Time it takes to fetch missing private data from peers (in seconds)"],
  ["gossip_privdata_list_missing_duration", "histogram", ["channel"], "Time it takes to list the missing private data (in seconds)"],
  ["gossip_privdata_pull_duration", "histogram", ["channel"], "Time it takes to pull a missing private data element (in seconds)"],
  ["gossip_privdata_purge_duration", "histogram", ["channel"], "Time it takes to purge private data (in seconds)"],
  ["gossip_privdata_reconciliation_duration", "histogram", ["channel"], "Time it takes for reconciliation to complete (in seconds)"],
  ["gossip_privdata_retrieve_duration", "histogram", ["channel"], "Time it takes to retrieve missing private data elements from the ledger (in seconds)"],
  ["gossip_privdata_send_duration", "histogram", ["channel"], "Time it takes to send a missing private data element (in seconds)"],
  ["gossip_privdata_validation_duration", "histogram", ["channel"], "Time it takes to validate a block (in seconds)"],
  ["gossip_state_commit_duration", "histogram", ["channel"], "Time it takes to commit a block in seconds"],
  ["gossip_state_height", "gauge", ["channel"], "Current ledger height"],
];

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Updates one metric of `spec` once, with channel "ch1" when it is labelled. */
function touch(registry: Registry, spec: FabricMetricSpec): void {
  const m = registry.getSingleMetric(spec.name);
  const labels = spec.labelNames.length > 0 ? { channel: "ch1" } : {};
  if (spec.type === "counter") (m as Counter<string>).inc(labels);
  else if (spec.type === "gauge") (m as Gauge<string>).set(labels, 3);
  else (m as Histogram<string>).observe(labels, 0.2);
}

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return undefined;
  const got = await m.get();
  return got.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l) && Object.keys(v.labels).length === Object.keys(labels).length)
    ?.value;
}

async function histogramSample(registry: Registry, name: string, suffix: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  const got = await m?.get();
  return got?.values.find(
    (v) =>
      (v as { metricName?: string }).metricName === `${name}${suffix}` &&
      Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l),
  )?.value;
}

test("the table holds Fabric's 17 gossip metrics with Fabric's names, types, labels and help", () => {
  assert.equal(FABRIC_GOSSIP_METRICS.length, 17);
  const ours = [...FABRIC_GOSSIP_METRICS]
    .map((s) => [s.name, s.type, [...s.labelNames], s.help] as const)
    .sort((a, b) => a[0].localeCompare(b[0]));
  assert.deepEqual(ours, FABRIC_TABLE.map(([n, t, l, h]) => [n, t, [...l], h]));
  assert.equal(FABRIC_PRIVDATA_METRICS.length, 9);
  assert.ok(FABRIC_PRIVDATA_METRICS.every((s) => s.name.startsWith("gossip_privdata_") && s.type === "histogram"));
});

test("registerFabricGossipMetrics: /metrics text lists all 17 with HELP and TYPE; observed ones carry their labels", async () => {
  const registry = createRegistry();
  registerFabricGossipMetrics(registry);
  registerFabricGossipMetrics(registry); // idempotent
  assert.equal(registry.getMetricsAsArray().length, 17);
  for (const spec of FABRIC_GOSSIP_METRICS) touch(registry, spec);
  const text = await registry.metrics();
  for (const [name, type, labels, help] of FABRIC_TABLE) {
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, "m"), name);
    assert.match(text, new RegExp(`^# HELP ${name} ${escapeRegExp(help)}$`, "m"), name);
    if (type === "histogram") {
      assert.match(text, new RegExp(`^${name}_bucket\\{le="0\\.25",channel="ch1"\\} 1$`, "m"), name);
      assert.match(text, new RegExp(`^${name}_count\\{channel="ch1"\\} 1$`, "m"), name);
      assert.match(text, new RegExp(`^${name}_sum\\{channel="ch1"\\} 0\\.2$`, "m"), name);
    } else if (labels.length > 0) {
      assert.match(text, new RegExp(`^${name}\\{channel="ch1"\\} ${type === "gauge" ? 3 : 1}$`, "m"), name);
    } else {
      assert.match(text, new RegExp(`^${name} 1$`, "m"), name);
    }
    const got = await registry.getSingleMetric(name)!.get();
    for (const v of got.values) {
      const keys = Object.keys(v.labels).filter((k) => k !== "le");
      assert.deepEqual(keys, [...labels], `${name} label names`);
    }
  }
});

test("histograms use Prometheus' default buckets (Fabric sets none): 0.005 .. 10 and +Inf", async () => {
  assert.deepEqual([...PROMETHEUS_DEFAULT_BUCKETS], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  const registry = createRegistry();
  registerFabricGossipMetrics(registry);
  for (const spec of FABRIC_GOSSIP_METRICS) if (spec.type === "histogram") touch(registry, spec);
  const text = await registry.metrics();
  for (const spec of FABRIC_GOSSIP_METRICS) {
    if (spec.type !== "histogram") continue;
    const les = [...text.matchAll(new RegExp(`^${spec.name}_bucket\\{le="([^"]+)",channel="ch1"\\}`, "gm"))].map((m) => m[1]);
    assert.deepEqual(les, ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"], spec.name);
  }
});

test("components sharing one registry get the same metric objects, before or after registerFabricGossipMetrics", () => {
  const build = (r: Registry) => {
    const p = promMetricsProvider(r);
    return {
      comm: createCommMetrics(p),
      channel: createChannelMetrics(p),
      election: createElectionMetrics(p),
      state: createStateMetrics(p),
      deliver: createDeliverMetrics(p),
      discovery: createDiscoveryMetrics(p),
      privdata: createPrivdataMetrics(p),
    };
  };
  const before = createRegistry();
  const a = build(before);
  registerFabricGossipMetrics(before);
  const b = build(before);
  assert.equal(a.comm.sent, b.comm.sent);
  assert.equal(a.channel.totalPeersKnown, b.channel.totalPeersKnown);
  assert.equal(a.election.declaration, b.election.declaration);
  assert.equal(a.state.height, b.state.height);
  assert.equal(a.state.commitDuration, b.state.commitDuration);
  assert.equal(a.privdata.pullDuration, b.privdata.pullDuration);
  assert.equal(a.deliver.rejected, b.deliver.rejected);
  assert.equal(before.getSingleMetric("gossip_state_height"), a.state.height, "the registry holds the component's object");

  const after = createRegistry();
  registerFabricGossipMetrics(after);
  const c = build(after);
  assert.equal(after.getSingleMetric("gossip_comm_messages_sent"), c.comm.sent);
  assert.equal(after.getSingleMetric("gossip_privdata_validation_duration"), c.privdata.validationDuration);
  // Every one of the 17 is created by some component: no second definition hides in the table.
  const byComponents = createRegistry();
  build(byComponents);
  const names = new Set(byComponents.getMetricsAsArray().map((m) => m.name));
  for (const spec of FABRIC_GOSSIP_METRICS) assert.ok(names.has(spec.name), `${spec.name} is created by its component`);
});

test("a metric of the same name with another type, labels or help is refused with an error naming it", () => {
  const wrongType = createRegistry();
  new Gauge({ name: "gossip_comm_messages_sent", help: "Number of messages sent", registers: [wrongType] });
  assert.throws(
    () => registerFabricGossipMetrics(wrongType),
    (e: unknown) => e instanceof MetricsError && e.code === "METRIC_CONFLICT" && /gossip_comm_messages_sent is already registered as a gauge/.test(e.message),
  );

  const wrongLabels = createRegistry();
  new Gauge({ name: "gossip_state_height", help: "Current ledger height", registers: [wrongLabels] });
  assert.throws(
    () => createStateMetrics(promMetricsProvider(wrongLabels)),
    (e: unknown) => e instanceof MetricsError && /gossip_state_height .*labels \[\].*wanted a gauge with labels \[channel\]/.test(e.message),
  );

  const wrongHelp = createRegistry();
  counterOf(wrongHelp, { name: "deliver_reconnects", type: "counter", help: "Something else", labelNames: ["channel"] });
  assert.throws(() => createDeliverMetrics(promMetricsProvider(wrongHelp)), (e: unknown) => e instanceof MetricsError && /deliver_reconnects/.test(e.message));
});

/** A state provider over the fake gossip and ledger of the state harness, with its own registry and MCS. */
async function stateOn(
  clock: ManualClock,
  ledger: FakeLedger,
  verifyBlock: (channel: string, seq: bigint, block: Block) => void,
  enabled = false,
): Promise<{ state: StateProviderImpl; gossip: FakeGossip; registry: Registry }> {
  const registry = createRegistry();
  registerFabricGossipMetrics(registry);
  const gossip = new FakeGossip(undefined, "p0", ledger);
  const state = new StateProviderImpl(
    CHANNEL,
    { gossip, ledger, mcs: { verifyBlock }, clock, random: new SeededRandom(3), logger: silentLogger, metrics: promMetricsProvider(registry) },
    { enabled, checkIntervalMs: 1_000, responseTimeoutMs: 500, maxRetries: 0 },
  );
  await state.start();
  return { state, gossip, registry };
}

test("state update points in virtual time: gossip_state_height after each commit, commit_duration in seconds", async (t) => {
  const clock = new ManualClock();
  const ledger = new FakeLedger(clock, 1);
  ledger.commitDelayMs = 1_500; // each commit takes 1.5 s of virtual time
  const { state, gossip, registry } = await stateOn(clock, ledger, () => {});
  t.after(() => state.stop());
  const ch = { channel: CHANNEL };
  assert.equal(await value(registry, "gossip_state_height", ch), undefined, "nothing committed yet");

  gossip.gossipIn(dataMsg(1));
  await clock.advance(1_499);
  assert.equal(ledger.height(), 1n);
  assert.equal(await histogramSample(registry, "gossip_state_commit_duration", "_count", ch), undefined, "nothing observed mid-commit");
  await clock.advance(1);
  assert.equal(ledger.height(), 2n);
  assert.equal(await value(registry, "gossip_state_height", ch), 2);
  assert.equal(await histogramSample(registry, "gossip_state_commit_duration", "_count", ch), 1);
  assert.equal(await histogramSample(registry, "gossip_state_commit_duration", "_sum", ch), 1.5, "seconds, not milliseconds");
  assert.equal(await histogramSample(registry, "gossip_state_commit_duration", "_bucket", { ...ch, le: "1" }), 0);
  assert.equal(await histogramSample(registry, "gossip_state_commit_duration", "_bucket", { ...ch, le: "2.5" }), 1);

  gossip.gossipIn(dataMsg(3));
  await clock.advance(1);
  assert.equal(await value(registry, "gossip_payload_buffer_size", ch), 1, "block 3 waits for block 2");
  gossip.gossipIn(dataMsg(2));
  await clock.advance(3_000);
  assert.equal(ledger.height(), 4n);
  assert.equal(await value(registry, "gossip_state_height", ch), 4);
  assert.equal(await histogramSample(registry, "gossip_state_commit_duration", "_count", ch), 3);
  assert.equal(await histogramSample(registry, "gossip_state_commit_duration", "_sum", ch), 4.5);
  assert.equal(await value(registry, "gossip_payload_buffer_size", ch), 0);
});

test("state counts the blocks it refuses: a forged state-transfer block (verify_failed) and an undecodable payload (malformed)", async (t) => {
  const clock = new ManualClock();
  const ledger = new FakeLedger(clock, 1);
  const forged = new Set<bigint>([1n]);
  const { state, gossip, registry } = await stateOn(
    clock,
    ledger,
    (_ch, seq) => {
      if (forged.has(seq)) throw new Error(`block ${seq} carries no orderer signature`);
    },
    true,
  );
  t.after(() => state.stop());
  const rejected = (reason: string) => value(registry, "fabric_gossip_state_blocks_rejected_total", { channel: CHANNEL, reason });
  gossip.extraMembers.push(memberOf("liar", 5n));

  // Anti-entropy asks the liar for [1, 4]; it answers with a forged block 1.
  await clock.advance(1_000);
  const req = gossip.stateRequests()[0];
  assert.ok(req !== undefined, "a state request went out");
  gossip.directIn(received(stateResponse(req.nonce, [1n]), "liar"));
  await clock.advance(1);
  assert.equal(await rejected("verify_failed"), 1);
  assert.equal(ledger.height(), 1n, "the forged block is not committed");
  assert.equal(state.bufferSize(), 0, "nor buffered");

  // A payload that is not a block, handed on directly (as the deliver client does), is dropped at commit.
  await state.addPayload({ seqNum: 1n, data: utf8("not a block"), privateData: [] });
  await clock.advance(1);
  assert.equal(await rejected("malformed"), 1);
  assert.equal(ledger.height(), 1n);

  // The genuine block 1 still commits afterwards: the slot was freed.
  forged.clear();
  await state.addPayload({ seqNum: 1n, data: Block.encode(makeBlock(1n)).finish(), privateData: [] });
  await clock.advance(1);
  assert.equal(ledger.height(), 2n);
  assert.equal(await rejected("verify_failed"), 1);
  assert.equal(await rejected("malformed"), 1);
});
