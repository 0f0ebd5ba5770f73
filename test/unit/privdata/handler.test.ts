import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import { createPrivdataMetrics, openPvtDataHandler, type PvtDataHandler, type PvtDataHandlerLedger } from "../../../src/privdata/index.js";
import type { Block } from "../../../src/protos/gen/common/common.pb.js";
import { ManualClock } from "../../../src/util/index.js";
import { blockOf, CC, COLLECTIONS_JSON, FakeFetcher, missingEligible, missingIneligible, pvtTx, stored, transientData } from "./coordinator-helpers.js";

/** A block store in memory. */
function memoryLedger(blocks: Block[] = []): PvtDataHandlerLedger & { blocks: Block[] } {
  return {
    blocks,
    height: () => BigInt(blocks.length),
    getBlock: async (n) => {
      const b = blocks[Number(n)];
      if (b === undefined) throw new Error(`no block ${n}`);
      return b;
    },
    iterate: async function* (from, to) {
      for (let n = from; n < (to ?? BigInt(blocks.length)); n++) yield blocks[Number(n)]!;
    },
    append: async (b) => {
      if (b.header?.number !== BigInt(blocks.length)) throw new Error("not the next block");
      blocks.push(b);
    },
  };
}

function open(ledger: PvtDataHandlerLedger, clock: ManualClock, storeDir?: string, fetcher?: FakeFetcher): Promise<PvtDataHandler> {
  return openPvtDataHandler(
    {
      channel: "ch",
      ledger,
      msps: () => undefined,
      applicationMspIds: () => ["Org1MSP", "Org2MSP"],
      applicationCapabilities: () => ["V2_5"],
      localMspId: "Org1MSP",
      selfSignedData: undefined,
      ...(fetcher !== undefined ? { fetcher } : {}),
      clock,
      logger: silentLogger,
      metrics: createPrivdataMetrics(memoryMetricsProvider()),
    },
    { collectionsFiles: [{ chaincode: CC, json: COLLECTIONS_JSON }], ...(storeDir !== undefined ? { storeDir } : {}), pullRetryThresholdMs: 10_000 },
  );
}

describe("private data handler", () => {
  test("opening beside a ledger whose private data store is behind: its blocks are committed with what the transient store has and missing markers", async () => {
    const clock = new ManualClock(0);
    const ledger = memoryLedger([blockOf(0n, []), blockOf(1n, [pvtTx("tx1", ["collOrg1", "collOrg2"])]), blockOf(2n, [pvtTx("tx2", ["collOrg1"])])]);
    const h = await open(ledger, clock);
    assert.equal(h.alignment.state, "pvt-behind");
    assert.equal(h.pvtStore.lastCommittedBlockHeight(), 3n);
    assert.deepEqual(await missingEligible(h.pvtStore), ["2:0 cc/collOrg1", "1:0 cc/collOrg1"]);
    assert.deepEqual(missingIneligible(h.pvtStore), ["1:0 cc/collOrg2"]);
    await h.stop();
  });

  test("on disk: blocks commit through the handler, the stores outlive a restart (in sync), nothing pulled without a fetcher; a fetcher enables pulls", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "pvt-handler-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const clock = new ManualClock(0);
    const ledger = memoryLedger([blockOf(0n, [])]);
    let h = await open(ledger, clock, dir);
    assert.equal(h.alignment.state, "pvt-behind", "a new store next to the genesis block");
    await h.transientStore.persist("tx1", 1n, transientData({ collOrg1: "tx1/collOrg1" }));
    const r1 = await h.commitBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1"])]));
    assert.equal(r1.fromTransientStore, 1);
    const r2 = await h.commitBlock(blockOf(2n, [pvtTx("tx2", ["collOrg1"])]));
    assert.equal(r2.missingEligible, 1, "no fetcher: committed at once with the data missing");
    assert.equal(clock.pendingTimers(), 0, "and no reconciliation timer");
    h.start();
    assert.equal(clock.pendingTimers(), 0);
    await h.stop();

    const f = new FakeFetcher();
    h = await open(ledger, clock, dir, f);
    assert.equal(h.alignment.state, "in-sync");
    assert.deepEqual(await stored(h.pvtStore, 1n), ["0 cc/collOrg1=tx1/collOrg1"]);
    assert.deepEqual(await missingEligible(h.pvtStore), ["2:0 cc/collOrg1"]);
    h.start();
    assert.equal(clock.pendingTimers(), 1, "the reconciler's timer");
    // A block waiting for peers is abandoned by interrupt() (the service calls it before stopping state).
    const waiting = h.commitBlock(blockOf(3n, [pvtTx("tx3", ["collOrg1"])]));
    await clock.advance(2_000);
    await h.interrupt();
    await assert.rejects(waiting, { code: "STOPPED" });
    await h.stop();
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(ledger.blocks.length, 3, "block 3 was not committed");
  });

  test("distribute without peers to push to keeps the data in the transient store", async () => {
    const clock = new ManualClock(0);
    const h = await open(memoryLedger([blockOf(0n, [])]), clock);
    await h.distribute("txd", transientData({ collOrg1: "x" }), 1n);
    assert.deepEqual(h.transientStore.txIds(), ["txd"]);
    assert.equal(h.distributor, undefined);
    await h.stop();
  });
});
