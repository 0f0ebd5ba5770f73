/**
 * The pull engine's triggerPull (not in Fabric; the block puller's opt-in gap trigger): a round out
 * of schedule that never overlaps another, in virtual time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createPullEngine, type PullAdapter, type PullEngine } from "../../../../src/gossip/algo/index.js";
import { ManualClock, SeededRandom } from "../../../../src/util/index.js";

const PULL_MS = 1_000;
const DIGEST_MS = 50;
const RESPONSE_MS = 100;

interface Ctx {
  from: string;
}

/** An engine whose adapter records the virtual time of every hello, and answers nothing. */
function engineWithHelloLog(clock: ManualClock): { engine: PullEngine<Ctx>; helloTimes: number[] } {
  const helloTimes: number[] = [];
  const adapter: PullAdapter<Ctx> = {
    selectPeers: () => ["p1"],
    hello: () => helloTimes.push(clock.monotonic()),
    sendDigest: () => {},
    sendReq: () => {},
    sendRes: () => {},
  };
  const engine = createPullEngine<Ctx>(
    adapter,
    { pullIntervalMs: PULL_MS, digestWaitTimeMs: DIGEST_MS, requestWaitTimeMs: DIGEST_MS, responseWaitTimeMs: RESPONSE_MS },
    { clock, random: new SeededRandom(1) },
  );
  return { engine, helloTimes };
}

test("triggerPull when idle starts a round at once, and the periodic rounds resume a full interval after it", async (t) => {
  const clock = new ManualClock(0);
  const { engine, helloTimes } = engineWithHelloLog(clock);
  t.after(() => engine.stop());
  await engine.start();
  await clock.advance(300);
  assert.deepEqual(helloTimes, []);
  engine.triggerPull();
  assert.deepEqual(helloTimes, [300], "hello sent synchronously");
  assert.equal(engine.acceptingDigests, true);
  // The periodic round that was due at 1000 moves to 1300.
  await clock.advance(PULL_MS - 300 + 299);
  assert.deepEqual(helloTimes, [300]);
  await clock.advance(1);
  assert.deepEqual(helloTimes, [300, 1_300]);
  await clock.advance(PULL_MS);
  assert.deepEqual(helloTimes, [300, 1_300, 2_300]);
});

test("triggerPull during a round starts one more round right after that round ends, never an overlapping one", async (t) => {
  const clock = new ManualClock(0);
  const { engine, helloTimes } = engineWithHelloLog(clock);
  t.after(() => engine.stop());
  await engine.start();
  await clock.advance(PULL_MS);
  assert.deepEqual(helloTimes, [1_000]);
  // Three calls while collecting digests, one while collecting responses: one extra round.
  engine.triggerPull();
  await clock.advance(10);
  engine.triggerPull();
  engine.triggerPull();
  await clock.advance(DIGEST_MS);
  assert.equal(engine.acceptingResponses, true);
  engine.triggerPull();
  assert.deepEqual(helloTimes, [1_000], "nothing started during the round");
  await clock.advance(DIGEST_MS + RESPONSE_MS - 10 - DIGEST_MS - 1);
  assert.deepEqual(helloTimes, [1_000]);
  await clock.advance(1);
  assert.deepEqual(helloTimes, [1_000, 1_000 + DIGEST_MS + RESPONSE_MS]);
  // And the schedule restarts from the triggered round.
  await clock.advance(PULL_MS);
  assert.deepEqual(helloTimes, [1_000, 1_150, 2_150]);
});

test("triggerPull does nothing while stopped, and stop cancels a pending trigger and every timer", async () => {
  const clock = new ManualClock(0);
  const { engine, helloTimes } = engineWithHelloLog(clock);
  engine.triggerPull();
  assert.deepEqual(helloTimes, []);
  await engine.start();
  engine.triggerPull();
  engine.triggerPull();
  assert.deepEqual(helloTimes, [0]);
  await engine.stop();
  assert.equal(clock.pendingTimers(), 0);
  await clock.advance(5 * PULL_MS);
  assert.deepEqual(helloTimes, [0]);
  engine.triggerPull();
  assert.deepEqual(helloTimes, [0]);
});

test("a triggered round pulls: the missing item is requested and added within one digest wait and two latencies", async (t) => {
  const clock = new ManualClock(0);
  const engines = new Map<string, PullEngine<Ctx>>();
  const later = (fn: () => void): void => void clock.setTimeout(fn, 1);
  const make = (name: string, other: string): PullEngine<Ctx> => {
    const adapter: PullAdapter<Ctx> = {
      selectPeers: () => [other],
      hello: (to, nonce) => later(() => engines.get(to)?.onHello(nonce, { from: name })),
      sendDigest: (d, nonce, ctx) => later(() => engines.get(ctx.from)?.onDigest(d, nonce, { from: name })),
      sendReq: (to, items, nonce) => later(() => engines.get(to)?.onReq(items, nonce, { from: name })),
      sendRes: (items, ctx, nonce) => later(() => engines.get(ctx.from)?.onRes(items, nonce)),
    };
    const e = createPullEngine<Ctx>(
      adapter,
      { pullIntervalMs: 60_000, digestWaitTimeMs: DIGEST_MS, requestWaitTimeMs: DIGEST_MS + 10, responseWaitTimeMs: RESPONSE_MS },
      { clock, random: new SeededRandom(name.length) },
    );
    engines.set(name, e);
    return e;
  };
  const a = make("a", "bb");
  const b = make("bb", "a");
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  await a.start();
  await b.start();
  b.add("7");
  a.triggerPull();
  // hello at 0 arrives at 1, digest at 2; requests at 50, arrive 51, served at 51 (zero-delay timer), response arrives 52.
  await clock.advance(DIGEST_MS + 1);
  assert.equal(a.has("7"), false);
  await clock.advance(1);
  assert.equal(a.has("7"), true);
});
