import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../../src/util/index.js";

test("timers fire in time order, ties in scheduling order, only when time is advanced", async () => {
  const clock = new ManualClock(0);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b@20"), 20);
  clock.setTimeout(() => fired.push("a@10"), 10);
  clock.setTimeout(() => fired.push("c@20"), 20);
  assert.deepEqual(fired, []);
  await clock.advance(15);
  assert.deepEqual(fired, ["a@10"]);
  assert.equal(clock.now(), 15);
  await clock.advance(5);
  assert.deepEqual(fired, ["a@10", "b@20", "c@20"]);
  assert.equal(clock.pendingTimers(), 0);
});

test("cancel removes a timer, and a timer scheduled by a timer fires within the same advance", async () => {
  const clock = new ManualClock(0);
  const fired: number[] = [];
  const t = clock.setTimeout(() => fired.push(1), 5);
  t.cancel();
  t.cancel();
  clock.setTimeout(() => clock.setTimeout(() => fired.push(clock.now()), 3), 4);
  assert.equal(clock.pendingTimers(), 1);
  await clock.advance(10);
  assert.deepEqual(fired, [7]);
  assert.equal(clock.pendingTimers(), 0);
});

test("promise chains progress between timers, and sleep honours abort", async () => {
  const clock = new ManualClock(0);
  const order: string[] = [];
  const run = (async () => {
    await clock.sleep(10);
    order.push("slept 10");
    await clock.sleep(10);
    order.push("slept 20");
  })();
  await clock.advance(20);
  await run;
  assert.deepEqual(order, ["slept 10", "slept 20"]);

  const ac = new AbortController();
  const aborted = clock.sleep(100, ac.signal);
  ac.abort(new Error("stop"));
  await assert.rejects(aborted, /stop/);
  assert.equal(clock.pendingTimers(), 0);
});

test("nowNs is the wall clock in nanoseconds", async () => {
  const clock = new ManualClock(1_700_000_000_000);
  await clock.advance(1.5);
  assert.equal(clock.nowNs(), 1_700_000_000_001_500_000n);
});

test("the system clock does not fire a timer of more than 24.8 days at once", async () => {
  const { SystemClock } = await import("../../../src/util/index.js");
  const clock = new SystemClock();
  let fired = false;
  const t = clock.setTimeout(() => {
    fired = true;
  }, 40 * 24 * 3600 * 1000);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(fired, false);
  assert.equal(clock.pendingTimers(), 1);
  t.cancel();
  assert.equal(clock.pendingTimers(), 0);
});
