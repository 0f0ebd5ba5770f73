import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createBatchingEmitter } from "../../../../src/gossip/batcher/index.js";
import { MemoryLogger } from "../../../../src/logging/index.js";
import { ManualClock } from "../../../../src/util/index.js";

/** An emitter recording every batch with the virtual time it was emitted at. */
function setup(iterations: number, burstSize: number, latencyMs: number) {
  const clock = new ManualClock(0);
  const batches: { at: number; batch: number[] }[] = [];
  const emitter = createBatchingEmitter<number>({ iterations, burstSize, latencyMs }, (batch) => batches.push({ at: clock.now(), batch }), clock);
  const countOf = (n: number): number => batches.reduce((c, b) => c + b.batch.filter((x) => x === n).length, 0);
  return { clock, emitter, batches, countOf };
}

describe("batcher (Fabric's batchingEmitter)", () => {
  it("with one iteration, pushes each message exactly once, within the latency", async (t) => {
    const { clock, emitter, batches, countOf } = setup(1, 10, 10);
    t.after(() => emitter.stop());
    await emitter.start();
    emitter.add(1);
    emitter.add(2);
    assert.equal(emitter.size(), 2);
    assert.deepEqual(batches, []);
    await clock.advance(10);
    assert.deepEqual(batches, [{ at: 10, batch: [1, 2] }]);
    assert.equal(emitter.size(), 0);
    await clock.advance(5);
    emitter.add(3);
    await clock.advance(5);
    assert.deepEqual(batches[1], { at: 20, batch: [3] });
    await clock.advance(1000);
    assert.equal(countOf(1), 1);
    assert.equal(countOf(2), 1);
    assert.equal(countOf(3), 1);
    assert.equal(batches.length, 2, "an empty buffer emits nothing");
  });

  it("emits the whole buffer at once when it reaches the burst size (Fabric's BurstSizeCap: 50 adds, 5 emissions)", async (t) => {
    const { clock, emitter, batches } = setup(1, 10, 800);
    t.after(() => emitter.stop());
    await emitter.start();
    for (let i = 0; i < 50; i++) emitter.add(i);
    assert.equal(batches.length, 5);
    for (const [k, b] of batches.entries()) {
      assert.equal(b.at, 0, "bursts go out synchronously, without waiting for the flush");
      assert.deepEqual(b.batch, Array.from({ length: 10 }, (_, i) => k * 10 + i));
    }
    assert.equal(emitter.size(), 0);
    await clock.advance(800);
    assert.equal(batches.length, 5);
  });

  it("a multi-iteration burst re-emits buffered messages along with the new one", async (t) => {
    const { emitter, batches } = setup(2, 2, 1000);
    t.after(() => emitter.stop());
    emitter.add(1);
    emitter.add(2);
    assert.deepEqual(batches.map((b) => b.batch), [[1, 2]]);
    assert.equal(emitter.size(), 2, "each still has one iteration left");
    emitter.add(3);
    assert.deepEqual(batches.map((b) => b.batch), [[1, 2], [1, 2, 3]]);
    assert.deepEqual(emitter.size(), 1);
  });

  it("counts iterations per message over time (Fabric's TestBatchingEmitterCounter: 4/3/2/1/0 emissions)", async () => {
    const { clock, emitter, countOf } = setup(5, 100, 500);
    await emitter.start();
    for (let i = 1; i <= 5; i++) {
      emitter.add(i);
      if (i === 5) break;
      await clock.advance(600);
    }
    await emitter.stop();
    assert.deepEqual([1, 2, 3, 4, 5].map(countOf), [4, 3, 2, 1, 0]);
  });

  it("drops a message after its iterations (Fabric's Expiration: 10 iterations, then empty)", async (t) => {
    const { clock, emitter, countOf, batches } = setup(10, 1, 10);
    t.after(() => emitter.stop());
    await emitter.start();
    emitter.add(7);
    assert.equal(countOf(7), 1, "burst size 1 emits at once");
    await clock.advance(500);
    assert.equal(countOf(7), 10);
    assert.equal(emitter.size(), 0);
    assert.deepEqual(
      batches.map((b) => b.at),
      [0, 10, 20, 30, 40, 50, 60, 70, 80, 90],
    );
  });

  it("flushes only after start, bursts also before", async (t) => {
    const { clock, emitter, batches } = setup(1, 3, 10);
    t.after(() => emitter.stop());
    emitter.add(1);
    await clock.advance(100);
    assert.deepEqual(batches, []);
    assert.equal(clock.pendingTimers(), 0);
    await emitter.start();
    await emitter.start();
    assert.equal(clock.pendingTimers(), 1, "start is idempotent");
    await clock.advance(10);
    assert.deepEqual(batches, [{ at: 110, batch: [1] }]);
  });

  it("with zero iterations, add does nothing and no timer runs (pull-only)", async (t) => {
    const { clock, emitter, batches } = setup(0, 1, 0);
    t.after(() => emitter.stop());
    await emitter.start();
    emitter.add(1);
    assert.equal(emitter.size(), 0);
    assert.equal(clock.pendingTimers(), 0);
    await clock.advance(1000);
    assert.deepEqual(batches, []);
  });

  it("stop leaves no timer, drops the buffer, and nothing is emitted afterwards", async () => {
    const { clock, emitter, batches } = setup(3, 10, 10);
    await emitter.start();
    emitter.add(1);
    await clock.advance(10);
    assert.equal(batches.length, 1);
    await emitter.stop();
    await emitter.stop();
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(emitter.size(), 0);
    emitter.add(2);
    for (let i = 0; i < 20; i++) emitter.add(i);
    await clock.advance(1000);
    assert.equal(batches.length, 1);
    await emitter.start();
    assert.equal(clock.pendingTimers(), 0, "a stopped emitter does not restart");
  });

  it("a throwing callback is logged, counts as an emission, and the flush goes on", async (t) => {
    const clock = new ManualClock(0);
    const logger = new MemoryLogger();
    let calls = 0;
    const emitter = createBatchingEmitter<number>(
      { iterations: 2, burstSize: 100, latencyMs: 10 },
      () => {
        calls++;
        throw new Error("send failed");
      },
      clock,
      logger,
    );
    t.after(() => emitter.stop());
    await emitter.start();
    emitter.add(1);
    await clock.advance(30);
    assert.equal(calls, 2);
    assert.equal(emitter.size(), 0);
    assert.equal(logger.lines.filter((l) => l.level === "error").length, 2);
    assert.equal(clock.pendingTimers(), 0, "nothing waits, so no tick is armed");
    emitter.add(2);
    await clock.advance(10);
    assert.equal(calls, 3, "the flush goes on");
  });

  it("an idle emitter holds no timer; messages go out on the ticker grid from start()", async (t) => {
    const { clock, emitter, batches } = setup(2, 100, 10);
    t.after(() => emitter.stop());
    await clock.advance(3);
    await emitter.start();
    assert.equal(clock.pendingTimers(), 0);
    await clock.advance(20);
    emitter.add(1);
    assert.equal(clock.pendingTimers(), 1);
    emitter.add(2);
    assert.equal(clock.pendingTimers(), 1, "one tick for all waiting messages");
    await clock.advance(100);
    // Grid 3, 13, 23, 33, ...: added at 23, emitted at the next ticks, 33 and 43, twice each.
    assert.deepEqual(batches, [
      { at: 33, batch: [1, 2] },
      { at: 43, batch: [1, 2] },
    ]);
    assert.equal(clock.pendingTimers(), 0);
    await clock.advance(4);
    emitter.add(3);
    await clock.advance(10);
    assert.deepEqual(batches[2], { at: 133, batch: [3] });
  });

  it("messages added by the callback are not emitted in that batch and keep all their iterations", async (t) => {
    const clock = new ManualClock(0);
    const batches: number[][] = [];
    const emitter = createBatchingEmitter<number>(
      { iterations: 1, burstSize: 2, latencyMs: 10 },
      (batch) => {
        batches.push(batch);
        if (batch.includes(1)) emitter.add(100);
      },
      clock,
    );
    t.after(() => emitter.stop());
    await emitter.start();
    emitter.add(1);
    emitter.add(2);
    assert.deepEqual(batches, [[1, 2]]);
    assert.equal(emitter.size(), 1);
    await clock.advance(10);
    assert.deepEqual(batches, [[1, 2], [100]]);
  });

  it("property: each message is emitted exactly `iterations` times, at flushes or bursts, and in add order", async () => {
    const step = fc.oneof(fc.constant({ kind: "add" as const }), fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 1, max: 40 }) }));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(step, { maxLength: 30 }),
        async (iterations, burstSize, latencyMs, steps) => {
          const { clock, emitter, batches, countOf } = setup(iterations, burstSize, latencyMs);
          await emitter.start();
          let next = 0;
          for (const s of steps) {
            if (s.kind === "add") emitter.add(next++);
            else await clock.advance(s.ms);
            for (const b of batches) assert.ok(b.batch.length > 0);
          }
          await clock.advance(latencyMs * (iterations + 1));
          for (let n = 0; n < next; n++) assert.equal(countOf(n), iterations);
          for (const b of batches) assert.deepEqual(b.batch, [...b.batch].sort((x, y) => x - y));
          assert.equal(emitter.size(), 0);
          await emitter.stop();
          assert.equal(clock.pendingTimers(), 0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
