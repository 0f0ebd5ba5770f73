import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createPullEngine,
  DEFAULT_DIGEST_WAIT_TIME_MS,
  DEFAULT_REQUEST_WAIT_TIME_MS,
  DEFAULT_RESPONSE_WAIT_TIME_MS,
  type DigestFilter,
  type PullAdapter,
  type PullEngine,
  PullEngineError,
  type PullEngineOptions,
} from "../../../../src/gossip/algo/index.js";
import { MemoryLogger } from "../../../../src/logging/index.js";
import { ManualClock, type Random, SeededRandom, type TimerHandle } from "../../../../src/util/index.js";

const PULL_INTERVAL_MS = 4_000;
const LATENCY_MS = 10;

/** The context of a received hello or request: who sent it. */
interface Ctx {
  from: string;
}

type Sent =
  | { kind: "hello"; from: string; to: string; nonce: bigint }
  | { kind: "digest"; from: string; to: string; nonce: bigint; items: string[] }
  | { kind: "req"; from: string; to: string; nonce: bigint; items: string[] }
  | { kind: "res"; from: string; to: string; nonce: bigint; items: string[] };

/**
 * Engines wired to each other through clock timeouts (Fabric's pullTestInstance network). Every
 * message is recorded; `latency` decides each message's delay.
 */
class EngineNet {
  readonly clock = new ManualClock(0);
  readonly engines = new Map<string, PullEngine<Ctx>>();
  readonly sent: Sent[] = [];
  latency: (m: Sent) => number = () => LATENCY_MS;
  /** Peer selection per engine; default: every other engine. */
  readonly selection = new Map<string, () => string[]>();
  readonly #inFlight = new Set<TimerHandle>();
  #seed = 1;

  add(name: string, items: string[] = [], filter?: DigestFilter<Ctx>, options: Partial<PullEngineOptions> = {}): PullEngine<Ctx> {
    const adapter: PullAdapter<Ctx> = {
      selectPeers: () => this.selection.get(name)?.() ?? [...this.engines.keys()].filter((n) => n !== name),
      hello: (to, nonce) => this.#deliver({ kind: "hello", from: name, to, nonce }, (e) => e.onHello(nonce, { from: name })),
      sendDigest: (digest, nonce, ctx) =>
        this.#deliver({ kind: "digest", from: name, to: ctx.from, nonce, items: digest }, (e) => e.onDigest(digest, nonce, { from: name })),
      sendReq: (to, items, nonce) => this.#deliver({ kind: "req", from: name, to, nonce, items }, (e) => e.onReq(items, nonce, { from: name })),
      sendRes: (items, ctx, nonce) => this.#deliver({ kind: "res", from: name, to: ctx.from, nonce, items }, (e) => e.onRes(items, nonce)),
    };
    const engine = createPullEngine<Ctx>(
      adapter,
      { pullIntervalMs: PULL_INTERVAL_MS, ...options },
      { clock: this.clock, random: new SeededRandom(this.#seed++) },
      filter,
    );
    engine.add(...items);
    this.engines.set(name, engine);
    return engine;
  }

  #deliver(m: Sent, handle: (e: PullEngine<Ctx>) => void): void {
    this.sent.push(m);
    const timer: { h?: TimerHandle } = {};
    timer.h = this.clock.setTimeout(() => {
      if (timer.h !== undefined) this.#inFlight.delete(timer.h);
      const target = this.engines.get(m.to);
      if (target !== undefined) handle(target);
    }, this.latency(m));
    this.#inFlight.add(timer.h);
  }

  async stop(): Promise<void> {
    for (const e of this.engines.values()) await e.stop();
    for (const t of this.#inFlight) t.cancel();
    this.#inFlight.clear();
  }
}

/** An adapter that only records what the engine asks it to send. */
function recorder(peers: string[] = ["p1"]): { adapter: PullAdapter<Ctx>; sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    adapter: {
      selectPeers: () => peers,
      hello: (to, nonce) => sent.push({ kind: "hello", from: "me", to, nonce }),
      sendDigest: (items, nonce, ctx) => sent.push({ kind: "digest", from: "me", to: ctx.from, nonce, items }),
      sendReq: (to, items, nonce) => sent.push({ kind: "req", from: "me", to, nonce, items }),
      sendRes: (items, ctx, nonce) => sent.push({ kind: "res", from: "me", to: ctx.from, nonce, items }),
    },
  };
}

function ofKind<K extends Sent["kind"]>(sent: Sent[], kind: K): Extract<Sent, { kind: K }>[] {
  return sent.filter((m): m is Extract<Sent, { kind: K }> => m.kind === kind);
}

test("defaults are Fabric's: digest 1s, request 1.5s, response 2s", () => {
  assert.equal(DEFAULT_DIGEST_WAIT_TIME_MS, 1_000);
  assert.equal(DEFAULT_REQUEST_WAIT_TIME_MS, 1_500);
  assert.equal(DEFAULT_RESPONSE_WAIT_TIME_MS, 2_000);
});

test("all to all: every engine holds every item after one round, not before the digest wait ends", async (t) => {
  const net = new EngineNet();
  t.after(() => net.stop());
  const names = Array.from({ length: 10 }, (_, i) => `p${i}`);
  for (const [i, name] of names.entries()) net.add(name, [`item${i}`]);
  for (const e of net.engines.values()) await e.start();
  const all = names.map((_, i) => `item${i}`).sort();

  await net.clock.advance(PULL_INTERVAL_MS + DEFAULT_DIGEST_WAIT_TIME_MS - 1);
  for (const [i, e] of [...net.engines.values()].entries()) assert.deepEqual(e.state(), [`item${i}`]);
  // Requests leave at digestWait, arrive one latency later, the responses one more latency later.
  await net.clock.advance(2 * LATENCY_MS + 1);
  for (const e of net.engines.values()) assert.deepEqual(e.state().sort(), all);
});

test("staggered starts: ten engines started 50 ms apart converge within two rounds", async (t) => {
  const net = new EngineNet();
  t.after(() => net.stop());
  for (let i = 0; i < 10; i++) net.add(`p${i}`, [`item${i}`]);
  for (const e of net.engines.values()) {
    await e.start();
    await net.clock.advance(50);
  }
  await net.clock.advance(2 * PULL_INTERVAL_MS);
  for (const e of net.engines.values()) assert.equal(e.state().length, 10);
});

test("only missing items are requested", async (t) => {
  const net = new EngineNet();
  t.after(() => net.stop());
  const a = net.add("a", ["1", "2", "3", "4", "5"]);
  const b = net.add("b", ["1", "2", "3"]);
  await b.start();
  await a.start();
  await net.clock.advance(PULL_INTERVAL_MS + DEFAULT_DIGEST_WAIT_TIME_MS + 3 * LATENCY_MS);
  const reqs = ofKind(net.sent, "req");
  assert.deepEqual(
    reqs.map((r) => [r.from, r.to, r.items.sort()]),
    [["b", "a", ["4", "5"]]],
  );
  assert.deepEqual(b.state().sort(), ["1", "2", "3", "4", "5"]);
  assert.deepEqual(a.state().sort(), ["1", "2", "3", "4", "5"]);
});

test("a responder with nothing (after the filter) sends no digest", async () => {
  const clock = new ManualClock(0);
  const { adapter, sent } = recorder();
  const filter: DigestFilter<Ctx> = (ctx) => (item) => ctx.from !== "blocked" || item !== "x";
  const engine = createPullEngine(adapter, { pullIntervalMs: PULL_INTERVAL_MS }, { clock, random: new SeededRandom(1) }, filter);
  await engine.start();
  engine.onHello(1n, { from: "q" });
  assert.equal(sent.length, 0);
  engine.add("x");
  engine.onHello(2n, { from: "blocked" });
  assert.equal(sent.length, 0);
  engine.onHello(3n, { from: "q" });
  assert.deepEqual(sent, [{ kind: "digest", from: "me", to: "q", nonce: 3n, items: ["x"] }]);
  await engine.stop();
});

test("a request is served only within requestWaitTime of its hello, and only held items passing the filter", async () => {
  const clock = new ManualClock(0);
  const { adapter, sent } = recorder();
  const filter: DigestFilter<Ctx> = (ctx) => (item) => !(ctx.from === "q" && item === "secret");
  const engine = createPullEngine(adapter, { pullIntervalMs: 100_000 }, { clock, random: new SeededRandom(1) }, filter);
  await engine.start();
  engine.add("a", "b", "secret");

  engine.onHello(7n, { from: "q" });
  assert.deepEqual(ofKind(sent, "digest")[0]?.items, ["a", "b"]);
  await clock.advance(DEFAULT_REQUEST_WAIT_TIME_MS - 1);
  engine.onReq(["a", "secret", "missing", "a"], 7n, { from: "q" });
  assert.equal(ofKind(sent, "res").length, 0, "the response is sent asynchronously");
  await clock.advance(0);
  assert.deepEqual(ofKind(sent, "res"), [{ kind: "res", from: "me", to: "q", nonce: 7n, items: ["a"] }]);

  // A nonce never said hello with, and one whose window has passed, are both ignored.
  engine.onReq(["a"], 8n, { from: "q" });
  await clock.advance(1);
  engine.onReq(["a"], 7n, { from: "q" });
  await clock.advance(0);
  assert.equal(ofKind(sent, "res").length, 1);

  // Nothing to send: no response at all.
  engine.onHello(9n, { from: "q" });
  engine.onReq(["secret", "missing"], 9n, { from: "q" });
  await clock.advance(0);
  assert.equal(ofKind(sent, "res").length, 1);
  await engine.stop();
  assert.equal(clock.pendingTimers(), 0);
});

test("requests that arrive after requestWaitTime are ignored end to end", async (t) => {
  for (const [reqLatency, served] of [
    [400, true],
    [600, false],
  ] as const) {
    const net = new EngineNet();
    t.after(() => net.stop());
    // Hello arrives at +10: the responder honours its nonce until +1510. The request leaves at +1000.
    net.latency = (m) => (m.kind === "req" ? reqLatency : LATENCY_MS);
    const a = net.add("a", ["x"]);
    const b = net.add("b");
    await a.start();
    await b.start();
    await net.clock.advance(PULL_INTERVAL_MS + 3_000);
    assert.equal(ofKind(net.sent, "req").length, 1);
    assert.equal(ofKind(net.sent, "res").length, served ? 1 : 0, `request latency ${reqLatency}`);
    assert.equal(b.has("x"), served);
    await net.stop();
  }
});

test("the initiator's phases: digests only while collecting, one request per owner, responses only until responseWaitTime", async () => {
  const clock = new ManualClock(0);
  const { adapter, sent } = recorder(["p1", "p2"]);
  const engine = createPullEngine(adapter, { pullIntervalMs: PULL_INTERVAL_MS }, { clock, random: new SeededRandom(3) });
  await engine.start();
  assert.equal(engine.acceptingDigests, false);
  await clock.advance(PULL_INTERVAL_MS);
  const hellos = ofKind(sent, "hello");
  assert.deepEqual(
    hellos.map((h) => h.to),
    ["p1", "p2"],
  );
  const nonce = new Map(hellos.map((h) => [h.to, h.nonce]));
  assert.equal(engine.acceptingDigests, true);

  engine.add("held");
  engine.onDigest(["a", "held"], nonce.get("p1")!, { from: "p1" });
  engine.onDigest(["b"], 12345n, { from: "p2" }); // unknown nonce: ignored
  await clock.advance(DEFAULT_DIGEST_WAIT_TIME_MS - 1);
  engine.onDigest(["c"], nonce.get("p2")!, { from: "p2" });
  await clock.advance(1);
  assert.equal(engine.acceptingDigests, false);
  assert.equal(engine.acceptingResponses, true);
  engine.onDigest(["late"], nonce.get("p2")!, { from: "p2" }); // after digestWaitTime: ignored

  const reqs = ofKind(sent, "req");
  assert.deepEqual(
    reqs.map((r) => [r.to, r.items, r.nonce]),
    [
      ["p1", ["a"], nonce.get("p1")],
      ["p2", ["c"], nonce.get("p2")],
    ],
  );

  assert.equal(engine.onRes(["a"], 999n), false, "unknown nonce");
  await clock.advance(DEFAULT_RESPONSE_WAIT_TIME_MS - 1);
  assert.equal(engine.onRes(["a"], nonce.get("p1")!), true);
  await clock.advance(1);
  assert.equal(engine.acceptingResponses, false);
  assert.equal(engine.onRes(["c"], nonce.get("p2")!), false, "after responseWaitTime");
  assert.deepEqual(engine.state().sort(), ["a", "held"]);
  await engine.stop();
  assert.equal(clock.pendingTimers(), 0);
});

test("responses that arrive after responseWaitTime are ignored end to end", async (t) => {
  for (const [resLatency, accepted] of [
    [1_900, true],
    [2_100, false],
  ] as const) {
    const net = new EngineNet();
    t.after(() => net.stop());
    // The request arrives at +1010 and is answered at once; the initiator ends the round at +3000.
    net.latency = (m) => (m.kind === "res" ? resLatency : LATENCY_MS);
    const a = net.add("a", ["x"]);
    const b = net.add("b");
    await a.start();
    await b.start();
    await net.clock.advance(PULL_INTERVAL_MS + 3_200);
    assert.equal(ofKind(net.sent, "res").length, 1);
    assert.equal(b.has("x"), accepted, `response latency ${resLatency}`);
    await net.stop();
  }
});

test("each missing item is requested from exactly one owner, and over many rounds every owner is chosen", async () => {
  const clock = new ManualClock(0);
  const owners = ["o1", "o2", "o3"];
  const { adapter, sent } = recorder([...owners, "silent"]);
  const engine = createPullEngine(adapter, { pullIntervalMs: PULL_INTERVAL_MS }, { clock, random: new SeededRandom(42) });
  await engine.start();
  const chosen = new Map<string, number>();
  await clock.advance(PULL_INTERVAL_MS);
  for (let round = 0; round < 100; round++) {
    const nonces = new Map(ofKind(sent, "hello").map((h) => [h.to, h.nonce]));
    assert.equal(nonces.size, 4);
    for (const o of owners) {
      engine.onDigest(["x", "y"], nonces.get(o)!, { from: o });
      engine.onDigest(["x"], nonces.get(o)!, { from: o }); // a repeated digest adds no weight
    }
    await clock.advance(DEFAULT_DIGEST_WAIT_TIME_MS);
    const reqs = ofKind(sent, "req");
    for (const item of ["x", "y"]) {
      const holders = reqs.filter((r) => r.items.includes(item));
      assert.equal(holders.length, 1, `round ${round}: item ${item} requested once`);
      assert.ok(owners.includes(holders[0]!.to));
      assert.equal(holders[0]!.nonce, nonces.get(holders[0]!.to));
    }
    for (const r of reqs) chosen.set(r.to, (chosen.get(r.to) ?? 0) + 1);
    sent.length = 0;
    await clock.advance(PULL_INTERVAL_MS - DEFAULT_DIGEST_WAIT_TIME_MS);
  }
  for (const o of owners) assert.ok((chosen.get(o) ?? 0) > 0, `${o} chosen at least once`);
  assert.equal(chosen.get("silent"), undefined);
  await engine.stop();
});

test("outgoing nonces are unique within a round even when the random source repeats", async () => {
  const clock = new ManualClock(0);
  const base = new SeededRandom(5);
  const values = [5n, 5n, 5n, 9n, 5n, 9n, 11n];
  const random: Random = {
    float: () => base.float(),
    int: (n) => base.int(n),
    uint64: () => values.shift() ?? base.uint64(),
    indices: (k, n) => base.indices(k, n),
    shuffle: (items) => base.shuffle(items),
  };
  const { adapter, sent } = recorder(["p1", "p2", "p3"]);
  const engine = createPullEngine(adapter, { pullIntervalMs: PULL_INTERVAL_MS }, { clock, random });
  await engine.start();
  await clock.advance(PULL_INTERVAL_MS);
  assert.deepEqual(
    ofKind(sent, "hello").map((h) => h.nonce),
    [5n, 9n, 11n],
  );
  await engine.stop();
});

test("nonces across a network are distinct and echoed through all four phases", async (t) => {
  const net = new EngineNet();
  t.after(() => net.stop());
  for (let i = 0; i < 6; i++) net.add(`p${i}`, [`item${i}`]);
  for (const e of net.engines.values()) await e.start();
  await net.clock.advance(3 * PULL_INTERVAL_MS);
  const hellos = ofKind(net.sent, "hello");
  assert.equal(hellos.length, 3 * 6 * 5);
  assert.equal(new Set(hellos.map((h) => h.nonce)).size, hellos.length);
  const helloOf = new Map(hellos.map((h) => [h.nonce, h]));
  for (const m of net.sent) {
    const h = helloOf.get(m.nonce);
    assert.ok(h !== undefined, `${m.kind} carries a hello's nonce`);
    const initiatorSide = m.kind === "req" ? m.from : m.to;
    if (m.kind !== "hello") assert.equal(initiatorSide, h.from);
  }
});

test("the egress filter applies to digests and to served requests", async (t) => {
  const net = new EngineNet();
  t.after(() => net.stop());
  const filter: DigestFilter<Ctx> = (ctx) => (item) => !(ctx.from === "b" && item === "hidden");
  net.add("a", ["open", "hidden"], filter);
  const b = net.add("b");
  const c = net.add("c");
  for (const e of net.engines.values()) await e.start();
  await net.clock.advance(PULL_INTERVAL_MS + 3_000);
  for (const d of ofKind(net.sent, "digest").filter((m) => m.from === "a" && m.to === "b")) assert.deepEqual(d.items, ["open"]);
  assert.deepEqual(c.state().sort(), ["hidden", "open"]);
  assert.ok(b.has("open"));
  // b can still learn "hidden" from c, which has no filter: the filter is per engine.
  await net.clock.advance(PULL_INTERVAL_MS);
  assert.ok(b.has("hidden"));
});

test("remove takes an item out of digests; add and has", async () => {
  const clock = new ManualClock(0);
  const { adapter, sent } = recorder();
  const engine = createPullEngine(adapter, { pullIntervalMs: PULL_INTERVAL_MS }, { clock, random: new SeededRandom(1) });
  await engine.start();
  engine.add("a", "b", "c");
  engine.remove("b", "zzz");
  assert.ok(engine.has("a") && !engine.has("b"));
  engine.onHello(1n, { from: "q" });
  assert.deepEqual(ofKind(sent, "digest")[0]?.items, ["a", "c"]);
  await engine.stop();
});

test("stop() cancels every timer mid-round and the engine then ignores messages; start/stop are idempotent", async () => {
  const clock = new ManualClock(0);
  const { adapter, sent } = recorder(["p1"]);
  const engine = createPullEngine(adapter, { pullIntervalMs: PULL_INTERVAL_MS }, { clock, random: new SeededRandom(1) });
  engine.add("x");
  engine.onHello(1n, { from: "q" });
  assert.equal(sent.length, 0, "not started: ignored");
  assert.equal(clock.pendingTimers(), 0);

  await engine.start();
  await engine.start();
  assert.equal(clock.pendingTimers(), 1);
  await clock.advance(PULL_INTERVAL_MS); // hello sent, digest wait pending, next round pending
  engine.onHello(2n, { from: "q" }); // nonce expiry pending
  engine.onReq(["x"], 2n, { from: "q" }); // deferred response pending
  assert.ok(clock.pendingTimers() >= 4);
  await engine.stop();
  await engine.stop();
  assert.equal(clock.pendingTimers(), 0);
  assert.equal(engine.acceptingDigests, false);

  const before = sent.length;
  engine.onHello(3n, { from: "q" });
  engine.onReq(["x"], 2n, { from: "q" });
  const nonce = ofKind(sent, "hello")[0]!.nonce;
  engine.onDigest(["y"], nonce, { from: "p1" });
  assert.equal(engine.onRes(["y"], nonce), false);
  await clock.advance(10 * PULL_INTERVAL_MS);
  assert.equal(sent.length, before);
  assert.equal(clock.pendingTimers(), 0);

  // A restart runs rounds again.
  await engine.start();
  await clock.advance(PULL_INTERVAL_MS);
  assert.equal(ofKind(sent, "hello").length, 2);
  await engine.stop();
  assert.equal(clock.pendingTimers(), 0);
});

test("an adapter that throws is logged and does not break the round chain", async () => {
  const clock = new ManualClock(0);
  const logger = new MemoryLogger();
  let calls = 0;
  const adapter: PullAdapter<Ctx> = {
    selectPeers: () => {
      calls++;
      if (calls === 1) throw new Error("membership unavailable");
      return ["p1"];
    },
    hello: () => {
      throw new Error("send failed");
    },
    sendDigest: () => {
      throw new Error("respond failed");
    },
    sendReq: () => {},
    sendRes: () => {},
  };
  const engine = createPullEngine(adapter, { pullIntervalMs: PULL_INTERVAL_MS }, { clock, random: new SeededRandom(1), logger });
  await engine.start();
  engine.add("x");
  engine.onHello(1n, { from: "q" });
  await clock.advance(3 * PULL_INTERVAL_MS);
  assert.equal(calls, 3);
  const errors = logger.lines.filter((l) => l.level === "error").map((l) => l.msg);
  assert.ok(errors.includes("pull engine failed to select peers"));
  assert.ok(errors.includes("pull engine failed to send a hello"));
  assert.ok(errors.includes("pull engine failed to send a digest"));
  await engine.stop();
  assert.equal(clock.pendingTimers(), 0);
});

// The timing rules (positive interval, non-negative waits, interval > digestWaitTime + responseWaitTime)
// are config's: test/unit/config/gossip-config-errors.test.ts. The engine keeps only the guard against
// a round timer that would never let time advance.
test("options: a non-positive interval is refused (it would re-arm at the same instant forever)", () => {
  const clock = new ManualClock(0);
  const { adapter } = recorder();
  const components = { clock, random: new SeededRandom(1) };
  assert.throws(() => createPullEngine(adapter, { pullIntervalMs: 0 }, components), (e: unknown) => e instanceof PullEngineError && e.code === "INVALID_OPTIONS");
  assert.throws(() => createPullEngine(adapter, { pullIntervalMs: Number.NaN }, components), PullEngineError);
  assert.equal(clock.pendingTimers(), 0);
});

test("custom timings drive the phases", async () => {
  const clock = new ManualClock(0);
  const { adapter, sent } = recorder(["p1"]);
  const engine = createPullEngine(
    adapter,
    { pullIntervalMs: 1_000, digestWaitTimeMs: 100, requestWaitTimeMs: 200, responseWaitTimeMs: 200 },
    { clock, random: new SeededRandom(1) },
  );
  await engine.start();
  await clock.advance(1_000);
  const nonce = ofKind(sent, "hello")[0]!.nonce;
  engine.onDigest(["a"], nonce, { from: "p1" });
  await clock.advance(99);
  assert.equal(ofKind(sent, "req").length, 0);
  await clock.advance(1);
  assert.equal(ofKind(sent, "req").length, 1);
  await clock.advance(200);
  assert.equal(engine.onRes(["a"], nonce), false);
  engine.onHello(5n, { from: "q" });
  await clock.advance(200);
  engine.add("z");
  engine.onReq(["z"], 5n, { from: "q" });
  await clock.advance(0);
  assert.equal(ofKind(sent, "res").length, 0);
  await engine.stop();
});

test("followRtt (ours): waits shorter than the round trip are raised to it, so pull completes over slow links", async () => {
  // Tuned-like waits (10/20/50 ms, rounds every 100 ms) over 60 ms one-way links (120 ms round trips).
  const tuned = { pullIntervalMs: 100, digestWaitTimeMs: 10, requestWaitTimeMs: 20, responseWaitTimeMs: 50 };
  const run = async (followRtt: boolean): Promise<{ got: boolean; atMs: number; rounds: number }> => {
    const net = new EngineNet();
    net.latency = () => 60;
    const a = net.add("a", ["a0"], undefined, { ...tuned, followRtt });
    net.add("b", ["b0", "b1"], undefined, { ...tuned, followRtt });
    for (const e of net.engines.values()) await e.start();
    let atMs = -1;
    for (let t = 0; t < 3_000; t += 10) {
      await net.clock.advance(10);
      if (atMs < 0 && a.has("b0") && a.has("b1")) atMs = net.clock.now();
    }
    const rounds = net.sent.filter((m) => m.kind === "hello" && m.from === "a").length;
    for (const e of net.engines.values()) await e.stop();
    return { got: atMs >= 0, atMs, rounds };
  };
  const fixed = await run(false);
  assert.equal(fixed.got, false, "fixed 10 ms digest waits end every round before a digest returns");
  const following = await run(true);
  assert.ok(following.got, "with followRtt the items arrive");
  // The first round only measures (its digest comes late); a following one completes.
  assert.ok(following.atMs <= 1_500, `pulled after ${following.atMs} ms`);
  // A round outlasting the 100 ms interval defers the next one: rounds never overlap.
  assert.equal(fixed.rounds, 30, "fixed: a round every 100 ms for 3 s");
  assert.ok(following.rounds < fixed.rounds, `following: ${following.rounds} rounds in 3 s`);
});

test("followRtt (ours): the digest phase ends once most of the peers asked have answered; a slow link does not hold up the round", async () => {
  // Fabric's waits; a asks b, c and d; d's link is slow (200 ms each way), the others 10 ms.
  const net = new EngineNet();
  net.latency = (m) => (m.from === "d" || m.to === "d" ? 200 : LATENCY_MS);
  const a = net.add("a", [], undefined, { pullIntervalMs: 4_000, followRtt: true });
  net.add("b", ["x"], undefined, { pullIntervalMs: 4_000, followRtt: true });
  net.add("c", ["x", "y"], undefined, { pullIntervalMs: 4_000, followRtt: true });
  net.add("d", ["x", "z"], undefined, { pullIntervalMs: 4_000, followRtt: true });
  net.selection.set("a", () => ["b", "c", "d"]);
  for (const name of ["b", "c", "d"]) net.selection.set(name, () => []);
  for (const e of net.engines.values()) await e.start();
  await net.clock.advance(4_000); // a's first round starts
  await net.clock.advance(45);
  assert.ok(a.has("x") && a.has("y"), "two of three digests came: requested at once, not after the slow one's 400 ms");
  assert.equal(a.has("z"), false, "only the slow peer offered z: left to a later round");
  assert.ok(!net.sent.some((m) => m.kind === "req" && m.from === "a" && m.to === "d"), "nothing was requested of the slow peer");
  for (const e of net.engines.values()) await e.stop();
});

test("followRtt (ours): a phase ends as soon as every digest, or every requested item, has come", async () => {
  // Fabric's waits (1 s digest wait, 2 s response wait) over 10 ms links: the item comes after about two
  // round trips instead of after the whole digest wait.
  const net = new EngineNet();
  const a = net.add("a", ["a0"], undefined, { pullIntervalMs: 4_000, followRtt: true });
  net.add("b", ["b0"], undefined, { pullIntervalMs: 4_000, followRtt: true });
  for (const e of net.engines.values()) await e.start();
  await net.clock.advance(4_000); // the first round starts
  await net.clock.advance(45);
  assert.ok(a.has("b0"), "hello, digest, request, response: 4 x 10 ms");
  assert.equal(a.acceptingDigests || a.acceptingResponses, false, "and the round is over");
  for (const e of net.engines.values()) await e.stop();
});
