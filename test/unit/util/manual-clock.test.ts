import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock, SeededRandom } from "../../../src/util/index.js";

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

test("without an event loop turn per instant, promise chains still finish between instants, in the same order", async () => {
  const run = async (clock: ManualClock): Promise<string[]> => {
    const order: string[] = [];
    // A chain of many awaits started by a timer must end before the next instant's timer fires.
    clock.setTimeout(() => {
      void (async () => {
        for (let i = 0; i < 50; i++) await null;
        order.push(`chain done at ${clock.monotonic()}`);
        clock.setTimeout(() => order.push(`timer from chain at ${clock.monotonic()}`), 0);
      })();
    }, 1);
    clock.setTimeout(() => order.push(`second at ${clock.monotonic()}`), 1.5);
    const t = clock.setTimeout(() => order.push("cancelled"), 2);
    t.cancel();
    const slept = clock.sleep(3).then(() => order.push(`slept until ${clock.monotonic()}`));
    await clock.advance(5);
    await slept;
    assert.equal(clock.pendingTimers(), 0);
    return order;
  };
  const fast = await run(new ManualClock(0, { turnPerInstant: false }));
  assert.deepEqual(fast, ["chain done at 1", "timer from chain at 1", "second at 1.5", "slept until 3"]);
  assert.deepEqual(await run(new ManualClock(0)), fast);
});

test("the timer heap keeps (time, scheduling order) over many timers with cancellations", async () => {
  const clock = new ManualClock(0, { turnPerInstant: false });
  const fired: [number, number][] = [];
  const expected: [number, number][] = [];
  let x = 12345;
  const next = (): number => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x;
  };
  for (let i = 0; i < 2_000; i++) {
    const at = next() % 100;
    const t = clock.setTimeout(() => fired.push([clock.monotonic(), i]), at);
    if (next() % 5 === 0) t.cancel();
    else expected.push([at, i]);
  }
  expected.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  await clock.advance(100);
  assert.deepEqual(fired, expected);
});

test("many timers (past the heap's first growth), some cancelled, some scheduled as others fire: (time, scheduling) order", async () => {
  const clock = new ManualClock(0);
  const random = new SeededRandom(11);
  const fired: { at: number; seq: number }[] = [];
  const expected: { at: number; seq: number }[] = [];
  let seq = 0;
  const schedule = (delay: number, depth: number): void => {
    const at = clock.monotonic() + delay;
    const mine = seq++;
    const handle = clock.setTimeout(() => {
      fired.push({ at: clock.monotonic(), seq: mine });
      // A timer scheduled from a firing one, at the same instant or later.
      if (depth < 2 && random.int(4) === 0) schedule(random.int(3) * 7.5, depth + 1);
    }, delay);
    if (random.int(5) === 0) handle.cancel();
    else expected.push({ at, seq: mine });
  };
  for (let i = 0; i < 5_000; i++) schedule(random.int(400) / 4, 0);
  await clock.advance(1_000);
  // Those scheduled while firing join the expectation as they are made; sort it all once.
  expected.sort((a, b) => a.at - b.at || a.seq - b.seq);
  const firedKeys = fired.map((f) => `${f.at}/${f.seq}`);
  const sortedFired = [...fired].sort((a, b) => a.at - b.at || a.seq - b.seq).map((f) => `${f.at}/${f.seq}`);
  assert.deepEqual(firedKeys, sortedFired, "fired in (time, scheduling order)");
  assert.deepEqual(
    [...firedKeys].sort(),
    expected.map((e) => `${e.at}/${e.seq}`).sort(),
    "every timer not cancelled fired once, and no cancelled one",
  );
  assert.equal(clock.pendingTimers(), 0);
});

test("grouped clocks: within an instant the groups fire in ascending order, the clock's own first, each in scheduling order", async () => {
  const clock = new ManualClock(0, { turnPerInstant: false });
  const hostB = clock.grouped(2);
  const hostA = clock.grouped(1);
  const fired: string[] = [];
  hostB.setTimeout(() => fired.push("B1"), 10);
  hostA.setTimeout(() => fired.push("A1"), 10);
  clock.setTimeout(() => fired.push("own1"), 10);
  hostB.setTimeout(() => fired.push("B2"), 10);
  hostA.setTimeout(() => {
    fired.push("A2");
    // Scheduled while the instant fires: its group's turn comes again at once (A precedes B), after A's earlier ones.
    hostA.setTimeout(() => fired.push("A3"), 0);
  }, 10);
  hostB.setTimeout(() => fired.push("B@5"), 5);
  clock.setTimeout(() => fired.push("own2"), 10);
  let slept = false;
  void hostA.sleep(4).then(() => {
    slept = true;
  });
  await clock.advance(4);
  assert.equal(slept, true, "a grouped clock's sleep ends on time");
  assert.deepEqual(fired, []);
  assert.equal(hostA.monotonic(), 4, "a grouped clock tells the clock's time");
  assert.equal(hostB.now(), clock.now());
  await clock.advance(10);
  assert.deepEqual(fired, ["B@5", "own1", "own2", "A1", "A2", "A3", "B1", "B2"]);
  assert.equal(clock.pendingTimers(), 0);
});

test("a grouped clock's timers cancel, and each group keeps its scheduling order over many timers", async () => {
  const clock = new ManualClock(0, { turnPerInstant: false });
  const groups = [clock, clock.grouped(3), clock.grouped(1), clock.grouped(2)];
  const rank = [0, 3, 1, 2];
  const random = new SeededRandom(5);
  const fired: { at: number; group: number; seq: number }[] = [];
  const expected: { at: number; group: number; seq: number }[] = [];
  for (let seq = 0; seq < 3_000; seq++) {
    const g = random.int(groups.length);
    const at = random.int(20);
    const entry = { at, group: rank[g]!, seq };
    const handle = groups[g]!.setTimeout(() => fired.push(entry), at);
    if (random.int(6) === 0) handle.cancel();
    else expected.push(entry);
  }
  expected.sort((a, b) => a.at - b.at || a.group - b.group || a.seq - b.seq);
  await clock.advance(20);
  assert.deepEqual(fired, expected);
});

test("a clock group is an integer from 1 to 65,535", () => {
  const clock = new ManualClock(0);
  for (const bad of [0, -1, 1.5, 65_536, Number.NaN]) {
    assert.throws(() => clock.grouped(bad), /a clock group is an integer from 1 to 65535/);
  }
  assert.doesNotThrow(() => clock.grouped(65_535));
});
