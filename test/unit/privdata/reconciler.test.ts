import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { silentLogger } from "../../../src/logging/index.js";
import { createPrivdataMetrics, createPvtDataReconciler, PvtDataCommitError, type PvtDataReconciler, type ReconcilerOptions } from "../../../src/privdata/index.js";
import { flushMicrotasks } from "../../../src/util/index.js";
import { blockOf, FakeFetcher, honestAnswer, kvBytes, missingEligible, pvtTx, type Rig, rig, stored } from "./coordinator-helpers.js";

/** Transaction IDs of the blocks below: `b<block>t<seq>`. */
const txIdOf = (seq: bigint, block: bigint): string => `b${block}t${seq}`;

/** A rig whose blocks 1..n each hold one tx writing collOrg1 (and collBoth for odd blocks), all committed with the data missing. */
async function withMissing(n: number): Promise<Rig> {
  const r = await rig({ pullRetryThresholdMs: 0 });
  for (let b = 1n; b <= BigInt(n); b++) {
    await r.coordinator.storeBlock(blockOf(b, [pvtTx(txIdOf(0n, b), b % 2n === 1n ? ["collOrg1", "collBoth"] : ["collOrg1"])]));
  }
  return r;
}

function reconcilerOf(r: Rig, fetcher: FakeFetcher, options: ReconcilerOptions = {}, pvtStore = r.pvt): PvtDataReconciler {
  return createPvtDataReconciler(
    {
      channel: "ch",
      pvtStore,
      collections: r.collections,
      fetcher,
      getBlock: async (n) => {
        const b = r.blocks[Number(n)];
        if (b === undefined) throw new Error(`no block ${n}`);
        return b;
      },
      clock: r.clock,
      logger: silentLogger,
      metrics: createPrivdataMetrics(r.metrics),
    },
    options,
  );
}

describe("reconciler (Fabric's reconcile_test)", () => {
  test("nothing to reconcile: no fetch, the cycle's duration is observed", async () => {
    const r = await rig();
    const f = new FakeFetcher();
    const rec = reconcilerOf(r, f);
    const res = await rec.reconcile();
    assert.equal(res.reconciled, 0);
    assert.equal(f.calls.length, 0);
    assert.equal(r.metrics.observations("gossip_privdata_reconciliation_duration", { channel: "ch" }).count, 1);
  });

  test("happy path on the timer: every reconcileSleepInterval the missing data is fetched (reconcile mode, empty tx IDs), checked and committed", async () => {
    const r = await withMissing(3);
    assert.equal((await missingEligible(r.pvt)).length, 5);
    const f = new FakeFetcher();
    f.answer = honestAnswer(txIdOf);
    const rec = reconcilerOf(r, f, { reconcileSleepIntervalMs: 60_000 });
    rec.start();
    await r.clock.advance(59_999);
    assert.equal(f.calls.length, 0);
    await r.clock.advance(1);
    await flushMicrotasks();
    for (let i = 0; i < 20 && (await missingEligible(r.pvt)).length > 0; i++) await flushMicrotasks();
    assert.deepEqual(await missingEligible(r.pvt), []);
    assert.ok(f.calls.every((c) => c.mode === "reconcile" && c.wanted.every((w) => w.digest.txId === "" && w.endorsers.length === 0)));
    assert.deepEqual(await stored(r.pvt, 1n), ["0 cc/collBoth=b1t0/collBoth", "0 cc/collOrg1=b1t0/collOrg1"]);
    assert.deepEqual(await stored(r.pvt, 2n), ["0 cc/collOrg1=b2t0/collOrg1"]);
    await rec.stop();
    assert.equal(r.clock.pendingTimers(), 0, "no timer left after stop");
  });

  test("batch size 1 still reconciles 2 blocks in one cycle, newest first", async () => {
    const r = await withMissing(2);
    const f = new FakeFetcher();
    f.answer = honestAnswer(txIdOf);
    const res = await reconcilerOf(r, f, { reconcileBatchSize: 1 }).reconcile();
    assert.equal(res.reconciled, 3);
    assert.equal(res.minBlock, 1n);
    assert.equal(res.maxBlock, 2n);
    assert.deepEqual(
      f.calls.map((c) => [...new Set(c.wanted.map((w) => w.digest.blockSeq))]),
      [[2n], [1n]],
    );
    assert.deepEqual(await missingEligible(r.pvt), []);
  });

  test("data a peer sends that does not match the block's hash is not committed; it and what nobody had are deprioritized after 3 vain cycles", async () => {
    const r = await withMissing(2);
    const f = new FakeFetcher();
    f.answer = (wanted) => ({
      available: wanted.filter((w) => w.digest.blockSeq === 2n).map((w) => ({ digest: w.digest, payload: [kvBytes("tampered")] })),
      purged: [],
    });
    const reconciler = reconcilerOf(r, f);
    const before = (await missingEligible(r.pvt)).length;
    for (let cycle = 1; cycle <= 2; cycle++) {
      const res = await reconciler.reconcile();
      assert.equal(res.reconciled, 0);
      assert.equal(res.unreconciled, 0, `cycle ${cycle}: kept for another try (a holder may have it next cycle)`);
      assert.equal((await missingEligible(r.pvt)).length, before);
    }
    const res = await reconciler.reconcile();
    assert.equal(res.unreconciled, 3);
    assert.deepEqual(await stored(r.pvt, 2n), []);
    assert.deepEqual(await missingEligible(r.pvt), [], "no longer in the prioritized list: not asked again each cycle");
  });

  test("a commit failure ends the cycle (COMMIT_FAILED) and the timer goes on", async () => {
    const r = await withMissing(1);
    const f = new FakeFetcher();
    f.answer = honestAnswer(txIdOf);
    const failing = Object.create(r.pvt) as typeof r.pvt;
    failing.commitPvtDataOfOldBlocks = () => Promise.reject(new Error("disk full"));
    failing.getMissingPvtDataInfoForMostRecentBlocks = (n) => r.pvt.getMissingPvtDataInfoForMostRecentBlocks(n);
    const rec = reconcilerOf(r, f, { reconcileSleepIntervalMs: 1_000 }, failing);
    await assert.rejects(rec.reconcile(), (err: unknown) => err instanceof PvtDataCommitError && err.code === "COMMIT_FAILED" && /disk full/.test(err.message));
    assert.equal(f.calls.length, 1, "one fetch, then the cycle ended");
    rec.start();
    await r.clock.advance(1_000);
    await flushMicrotasks();
    await r.clock.advance(1_000);
    await flushMicrotasks();
    assert.ok(f.calls.length >= 3, "the next cycles still run");
    await rec.stop();
    assert.equal(r.clock.pendingTimers(), 0);
  });

  test("reconciliationEnabled false: start() schedules nothing", async () => {
    const r = await withMissing(1);
    const f = new FakeFetcher();
    const rec = reconcilerOf(r, f, { reconciliationEnabled: false });
    rec.start();
    assert.equal(r.clock.pendingTimers(), 0);
    await r.clock.advance(120_000);
    assert.equal(f.calls.length, 0);
    await rec.stop();
  });

  test("stop during a cycle's fetch abandons it (STOPPED) and leaves no timer", async () => {
    const r = await withMissing(1);
    const f = new FakeFetcher();
    f.answer = () => new Promise(() => undefined);
    const rec = reconcilerOf(r, f);
    const cycle = rec.reconcile();
    await flushMicrotasks();
    await rec.stop();
    await assert.rejects(cycle, { code: "STOPPED" });
    assert.equal(r.clock.pendingTimers(), 0);
  });
});
