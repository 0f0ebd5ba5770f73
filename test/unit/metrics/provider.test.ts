/**
 * The two MetricsProviders: get-or-create by spec (the same spec gives the same metric object), the
 * conflict check on a name defined twice, the prom provider's exposition equal to the registry
 * helpers', and the memory provider's counts read back by name and labels.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type CounterSpec,
  createRegistry,
  GOSSIP_COMM_MESSAGES_SENT,
  GOSSIP_STATE_COMMIT_DURATION,
  GOSSIP_STATE_HEIGHT,
  type GaugeSpec,
  type HistogramSpec,
  MetricsError,
  type MetricsProvider,
  memoryMetricsProvider,
  promMetricsProvider,
  registerFabricGossipMetrics,
} from "../../../src/metrics/index.js";

const REJECTED: CounterSpec<"channel" | "reason"> = {
  name: "test_rejected_total",
  type: "counter",
  help: "Things refused, by reason",
  labelNames: ["channel", "reason"],
};

const isConflict = (name: string) => (e: unknown) => e instanceof MetricsError && e.code === "METRIC_CONFLICT" && e.message.includes(name);

/** The checks both providers pass. */
function sharedBehaviour(make: () => MetricsProvider): void {
  const p = make();
  assert.equal(p.counter(REJECTED), p.counter(REJECTED), "the same spec gives the same counter");
  assert.equal(p.gauge(GOSSIP_STATE_HEIGHT), p.gauge(GOSSIP_STATE_HEIGHT), "the same spec gives the same gauge");
  assert.equal(p.histogram(GOSSIP_STATE_COMMIT_DURATION), p.histogram(GOSSIP_STATE_COMMIT_DURATION), "the same spec gives the same histogram");
  // An equal spec written out again is the same metric: what counts is name, type, help and labels.
  assert.equal(p.counter({ ...REJECTED, labelNames: ["channel", "reason"] }), p.counter(REJECTED));

  const asGauge: GaugeSpec<"channel" | "reason"> = { ...REJECTED, type: "gauge" };
  assert.throws(() => p.gauge(asGauge), isConflict(REJECTED.name), "another type");
  assert.throws(() => p.counter({ ...REJECTED, labelNames: ["reason"] }), isConflict(REJECTED.name), "other labels");
  assert.throws(() => p.counter({ ...REJECTED, help: "something else" }), isConflict(REJECTED.name), "another help");
  const asHistogram: HistogramSpec<"channel"> = { ...GOSSIP_STATE_HEIGHT, type: "histogram" };
  assert.throws(() => p.histogram(asHistogram), isConflict(GOSSIP_STATE_HEIGHT.name));
}

test("prom provider: get-or-create by spec, METRIC_CONFLICT on a second definition", () => {
  sharedBehaviour(() => promMetricsProvider(createRegistry()));
});

test("memory provider: get-or-create by spec, METRIC_CONFLICT on a second definition", () => {
  sharedBehaviour(() => memoryMetricsProvider());
});

test("prom provider: metrics live on its registry, shared with other providers over it and with registerFabricGossipMetrics", async () => {
  const registry = createRegistry();
  const a = promMetricsProvider(registry);
  const b = promMetricsProvider(registry);
  assert.equal(a.registry, registry);
  assert.equal(a.counter(GOSSIP_COMM_MESSAGES_SENT), b.counter(GOSSIP_COMM_MESSAGES_SENT));
  assert.equal(registry.getSingleMetric(GOSSIP_COMM_MESSAGES_SENT.name), a.counter(GOSSIP_COMM_MESSAGES_SENT));
  registerFabricGossipMetrics(a);
  registerFabricGossipMetrics(registry);
  assert.equal(registry.getMetricsAsArray().length, 17);

  a.counter(GOSSIP_COMM_MESSAGES_SENT).inc();
  a.counter(GOSSIP_COMM_MESSAGES_SENT).inc(2);
  a.gauge(GOSSIP_STATE_HEIGHT).set({ channel: "ch1" }, 7);
  a.histogram(GOSSIP_STATE_COMMIT_DURATION).observe({ channel: "ch1" }, 0.3);
  const text = await registry.metrics();
  assert.match(text, /^# HELP gossip_comm_messages_sent Number of messages sent$/m);
  assert.match(text, /^# TYPE gossip_comm_messages_sent counter$/m);
  assert.match(text, /^gossip_comm_messages_sent 3$/m);
  assert.match(text, /^gossip_state_height\{channel="ch1"\} 7$/m);
  assert.match(text, /^gossip_state_commit_duration_bucket\{le="0.5",channel="ch1"\} 1$/m);
  assert.match(text, /^gossip_state_commit_duration_count\{channel="ch1"\} 1$/m);
});

test("memory provider: counts, sets and observes by labels, read back by name and any subset of labels", () => {
  const m = memoryMetricsProvider();
  assert.equal(m.value(REJECTED.name), 0, "never created: 0");
  assert.deepEqual(m.series(REJECTED.name), []);

  const rejected = m.counter(REJECTED);
  rejected.inc({ channel: "a", reason: "BAD_BLOCK" });
  rejected.inc({ channel: "a", reason: "BAD_BLOCK" });
  rejected.inc({ channel: "b", reason: "BAD_BLOCK" }, 5);
  rejected.inc({ channel: "a", reason: "STALE" });
  assert.equal(m.value(REJECTED.name, { channel: "a", reason: "BAD_BLOCK" }), 2, "one series");
  assert.equal(m.value(REJECTED.name, { reason: "BAD_BLOCK" }), 7, "summed over the channels");
  assert.equal(m.value(REJECTED.name, { channel: "a" }), 3);
  assert.equal(m.value(REJECTED.name), 8, "every series");
  assert.equal(m.value(REJECTED.name, { reason: "NONE" }), 0);
  assert.equal(m.series(REJECTED.name).length, 3);
  assert.throws(() => rejected.inc({ channel: "a", reason: "X" }, -1), (e: unknown) => e instanceof MetricsError && e.code === "NEGATIVE_INCREMENT");

  const sent = m.counter(GOSSIP_COMM_MESSAGES_SENT);
  sent.inc();
  sent.inc(4);
  assert.equal(m.value(GOSSIP_COMM_MESSAGES_SENT.name), 5, "unlabelled");

  const height = m.gauge(GOSSIP_STATE_HEIGHT);
  height.set({ channel: "ch1" }, 10);
  height.inc({ channel: "ch1" });
  height.dec({ channel: "ch1" }, 3);
  height.set({ channel: "ch2" }, 4);
  assert.equal(m.value(GOSSIP_STATE_HEIGHT.name, { channel: "ch1" }), 8);
  assert.equal(m.value(GOSSIP_STATE_HEIGHT.name, { channel: "ch2" }), 4);

  const commit = m.histogram(GOSSIP_STATE_COMMIT_DURATION);
  commit.observe({ channel: "ch1" }, 1.5);
  commit.observe({ channel: "ch1" }, 0.5);
  commit.observe({ channel: "ch2" }, 1);
  assert.deepEqual(m.observations(GOSSIP_STATE_COMMIT_DURATION.name, { channel: "ch1" }), { count: 2, sum: 2 });
  assert.deepEqual(m.observations(GOSSIP_STATE_COMMIT_DURATION.name), { count: 3, sum: 3 });
  assert.equal(m.value(GOSSIP_STATE_COMMIT_DURATION.name, { channel: "ch2" }), 1, "a histogram's value is its count");
});

test("memory provider: label values are strings, a label left out is not an empty one, and providers do not share", () => {
  const a = memoryMetricsProvider();
  const b = memoryMetricsProvider();
  a.counter(REJECTED).inc({ channel: "a", reason: "" });
  a.counter(REJECTED).inc({ channel: "a" });
  assert.equal(a.series(REJECTED.name).length, 2);
  assert.equal(a.value(REJECTED.name, { reason: "" }), 1);
  a.gauge(GOSSIP_STATE_HEIGHT).set({ channel: 7 }, 1);
  assert.equal(a.value(GOSSIP_STATE_HEIGHT.name, { channel: "7" }), 1);
  assert.equal(b.value(REJECTED.name), 0, "another provider holds its own metrics");
});
