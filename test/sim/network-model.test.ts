import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryNetwork, MemoryTransport, type MemoryStream } from "../../src/comm/memory/index.js";
import {
  DEFAULT_LINK,
  LatencySampler,
  LinkModel,
  type LinkOptions,
  meanLatencyMs,
  parseBandwidth,
  parseByteSize,
  parseCrashSpec,
  parseLatency,
  parsePartitionSpec,
  parseProbability,
  parseRate,
  RandomTree,
  SimError,
} from "../../src/sim/index.js";
import { ManualClock, SeededRandom } from "../../src/util/index.js";

const link = (o: Partial<LinkOptions>): LinkOptions => ({ ...DEFAULT_LINK, latency: { kind: "fixed", ms: 10 }, ...o });

test("loss, duplication and reordering happen at their rates, drawn from the seed", () => {
  const clock = new ManualClock();
  const m = new LinkModel(link({ loss: 0.1, duplicate: 0.05, reorder: 0.2, reorderWindowMs: 40 }), new SeededRandom(3), clock);
  const frame = new Uint8Array(100);
  let lost = 0;
  let dup = 0;
  let unordered = 0;
  const N = 20_000;
  for (let i = 0; i < N; i++) {
    const f = m.fate("a", "b", frame);
    if (f.delaysMs.length === 0) lost++;
    if (f.delaysMs.length === 2) dup++;
    if (f.ordered === false) {
      unordered++;
      for (const d of f.delaysMs) assert.ok(d >= 10 && d <= 10 + 40 + 10 + 1e-9);
    }
  }
  assert.ok(Math.abs(lost / N - 0.1) < 0.01, `loss ${lost / N}`);
  assert.ok(Math.abs(dup / (N - lost) - 0.05) < 0.01, `duplication ${dup / N}`);
  assert.ok(Math.abs(unordered / (N - lost) - 0.2) < 0.015, `reordering ${unordered / N}`);
  assert.deepEqual(m.counts, { frames: N, lost, duplicated: dup, reordered: m.counts.reordered });
  // The same seed draws the same fates.
  const again = new LinkModel(link({ loss: 0.1, duplicate: 0.05, reorder: 0.2, reorderWindowMs: 40 }), new SeededRandom(3), clock);
  const first = new LinkModel(link({ loss: 0.1, duplicate: 0.05, reorder: 0.2, reorderWindowMs: 40 }), new SeededRandom(3), clock);
  for (let i = 0; i < 100; i++) assert.deepEqual(again.fate("a", "b", frame), first.fate("a", "b", frame));
});

test("a peer's uplink serialises its frames: each waits for the ones before it", () => {
  const clock = new ManualClock();
  // 1000 bytes/s: a 100-byte frame takes 100 ms on the wire.
  const m = new LinkModel(link({ uplinkBytesPerSec: 1000 }), new SeededRandom(1), clock);
  const f = new Uint8Array(100);
  assert.deepEqual(m.fate("a", "b", f), { delaysMs: [110], ordered: true, sendMs: 100 });
  assert.deepEqual(m.fate("a", "c", f), { delaysMs: [210], ordered: true, sendMs: 200 });
  assert.equal(m.fate("b", "a", f).sendMs, 100, "another peer's uplink is free");
});

test("latency samplers: fixed, uniform within range, long tail with the given median and p99", () => {
  const rng = new SeededRandom(9);
  assert.equal(new LatencySampler({ kind: "fixed", ms: 7 }, rng).sample(), 7);
  const u = new LatencySampler({ kind: "uniform", minMs: 10, maxMs: 50 }, rng);
  for (let i = 0; i < 1000; i++) {
    const v = u.sample();
    assert.ok(v >= 10 && v < 50);
  }
  const lt = new LatencySampler({ kind: "longtail", medianMs: 10, p99Ms: 200 }, rng);
  const xs = Array.from({ length: 20_000 }, () => lt.sample()).sort((a, b) => a - b);
  assert.ok(Math.abs(xs[10_000]! - 10) < 1, `median ${xs[10_000]}`);
  assert.ok(Math.abs(xs[19_800]! - 200) < 40, `p99 ${xs[19_800]}`);
  assert.throws(() => new LatencySampler({ kind: "uniform", minMs: 5, maxMs: 1 }, rng), SimError);
});

async function pair(net: MemoryNetwork): Promise<{ a: MemoryStream; got: Uint8Array[] }> {
  const got: Uint8Array[] = [];
  const server = new MemoryTransport(net, { endpoint: "b:1" });
  await server.listen((s) => s.onData((bytes) => got.push(bytes)));
  const client = new MemoryTransport(net, { endpoint: "a:1" });
  await client.listen(() => {});
  const dial = client.dial("b:1", 1_000, 1_000);
  await (net.clock as ManualClock).advance(100);
  return { a: await dial, got };
}

test("the memory network applies frame fates: loss drops, duplicates arrive twice, unordered frames overtake", async () => {
  const clock = new ManualClock();
  const fates = [
    { delaysMs: [50] }, // 1: in order
    { delaysMs: [] }, // 2: lost
    { delaysMs: [5], ordered: false }, // 3: overtakes 1
    { delaysMs: [60, 70] }, // 4: twice
  ];
  let k = 0;
  const net = new MemoryNetwork(clock, () => 1, { frameFate: () => fates[k++] ?? { delaysMs: [1] } });
  const { a, got } = await pair(net);
  for (const b of [1, 2, 3, 4]) await a.write(Uint8Array.of(b));
  await clock.advance(200);
  assert.deepEqual(
    got.map((b) => b[0]),
    [3, 1, 4, 4],
  );
});

test("a write resolves when the frame has left the sender's uplink", async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork(clock, () => 1, { frameFate: () => ({ delaysMs: [30], sendMs: 20 }) });
  const { a, got } = await pair(net);
  let written = false;
  const w = a.write(Uint8Array.of(9)).then(() => {
    written = true;
  });
  await clock.advance(19);
  assert.equal(written, false);
  await clock.advance(2);
  await w;
  assert.equal(written, true);
  await clock.advance(20);
  assert.equal(got.length, 1);
});

test("cutWhere partitions whole groups (blackhole: frames vanish, dials fail) until healed", async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork(clock, () => 1, { refusedDial: "immediate" });
  const { a, got } = await pair(net);
  const heal = net.cutWhere((x, y) => x !== y && (x === "b:1" || y === "b:1"), "blackhole");
  await a.write(Uint8Array.of(1));
  await clock.advance(10);
  assert.equal(got.length, 0, "the frame vanished");
  const c = new MemoryTransport(net, { endpoint: "c:1" });
  await c.listen(() => {});
  const dial = c.dial("b:1", 500, 500).then(
    () => "connected",
    () => "failed",
  );
  await clock.advance(600);
  assert.equal(await dial, "failed");
  heal();
  await a.write(Uint8Array.of(2));
  await clock.advance(10);
  assert.deepEqual(got.map((b) => b[0]), [2]);
  const breaking = net.cutWhere(() => true, "break");
  assert.equal(a.closed, true, "break mode resets open streams");
  breaking();
});

test("random streams: one label, one stream; labels independent", () => {
  const t = new RandomTree(7);
  assert.equal(t.stream("x").next32(), t.stream("x").next32());
  assert.notEqual(t.stream("x").next32(), t.stream("y").next32());
  assert.notEqual(new RandomTree(8).stream("x").next32(), t.stream("x").next32());
  assert.deepEqual(t.bytes("k", 40), t.bytes("k", 40));
  assert.equal(t.bytes("k", 40).length, 40);
});

test("flag values parse, and bad ones name the flag", () => {
  assert.equal(parseByteSize("100KB"), 102_400);
  assert.equal(parseByteSize("1MB"), 1_048_576);
  assert.equal(parseByteSize("512"), 512);
  assert.equal(parseRate("2/s"), 500);
  assert.equal(parseRate("30/m"), 2_000);
  assert.deepEqual(parseLatency("20ms"), { kind: "fixed", ms: 20 });
  assert.deepEqual(parseLatency("10-50ms"), { kind: "uniform", minMs: 10, maxMs: 50 });
  assert.deepEqual(parseLatency("500us-1.5ms"), { kind: "uniform", minMs: 0.5, maxMs: 1.5 });
  assert.deepEqual(parseLatency("longtail:10ms,200ms"), { kind: "longtail", medianMs: 10, p99Ms: 200 });
  assert.equal(parseBandwidth("100Mbit/s"), 12_500_000);
  assert.equal(parseBandwidth("10MB/s"), 10_000_000);
  assert.equal(parseProbability("5%", "--loss"), 0.05);
  assert.deepEqual(parsePartitionSpec("orgs@60s+30s"), { kind: "orgs", atMs: 60_000, forMs: 30_000, mode: "blackhole" });
  assert.deepEqual(parsePartitionSpec("isolate:p3,p7@30s+1m/break"), { kind: "isolate", atMs: 30_000, forMs: 60_000, mode: "break", peers: ["p3", "p7"] });
  assert.equal(parsePartitionSpec("swizzle:500ms@1m+2m").stepMs, 500);
  assert.deepEqual(parsePartitionSpec("split:p1,p2@30s+1m"), { kind: "split", atMs: 30_000, forMs: 60_000, mode: "blackhole", peers: ["p1", "p2"] });
  assert.deepEqual(parsePartitionSpec("oneway:p3@10s+5s"), { kind: "oneway", atMs: 10_000, forMs: 5_000, mode: "blackhole", peers: ["p3"] });
  assert.deepEqual(parseCrashSpec("p3@60s+30s"), { target: "p3", count: 1, atMs: 60_000, downMs: 30_000 });
  assert.deepEqual(parseCrashSpec("random:3@1m"), { target: "random", count: 3, atMs: 60_000, downMs: undefined });
  for (const [f, v] of [
    [() => parseByteSize("lots"), /--block-size/],
    [() => parseRate("2 per second"), /--block-rate/],
    [() => parseLatency("fast"), /--latency/],
    [() => parseProbability("1.5", "--loss"), /--loss/],
    [() => parsePartitionSpec("moon@1s"), /--partition/],
    [() => parsePartitionSpec("split@1s"), /split:PEER/],
    [() => parsePartitionSpec("oneway:p3@1s/break"), /oneway cuts only as blackhole/],
    [() => parseCrashSpec("p3"), /--crash/],
  ] as const) {
    assert.throws(f, (e: unknown) => e instanceof SimError && e.code === "INVALID_OPTIONS" && v.test(e.message));
  }
});

test("meanLatencyMs is the mean of what the sampler draws, for each kind of latency", () => {
  const specs = [
    { kind: "fixed", ms: 7 },
    { kind: "uniform", minMs: 10, maxMs: 50 },
    { kind: "longtail", medianMs: 10, p99Ms: 200 },
  ] as const;
  assert.equal(meanLatencyMs(specs[0]), 7);
  assert.equal(meanLatencyMs(specs[1]), 30);
  for (const spec of specs) {
    const sampler = new LatencySampler(spec, new SeededRandom(11));
    const n = 200_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sampler.sample();
    const mean = meanLatencyMs(spec);
    assert.ok(Math.abs(sum / n - mean) <= 0.02 * mean, `${spec.kind}: drawn mean ${sum / n}, meanLatencyMs ${mean}`);
  }
});
