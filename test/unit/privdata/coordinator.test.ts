import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PvtDataCommitError } from "../../../src/privdata/index.js";
import { PvtDataPayload } from "../../../src/protos/gen/gossip/message.pb.js";
import { TxPvtReadWriteSet, TxReadWriteSet_DataModel } from "../../../src/protos/gen/ledger/rwset/rwset.pb.js";
import { flushMicrotasks } from "../../../src/util/index.js";
import {
  blockOf,
  CC,
  honestAnswer,
  identity,
  kvBytes,
  missingEligible,
  missingIneligible,
  pvtTx,
  rig,
  stored,
  transientData,
} from "./coordinator-helpers.js";

/** The private data a state response carries for tx `seq`: `{coll: tag}` in `cc`. */
function cachePayload(seq: number, colls: Record<string, string>): PvtDataPayload {
  const ws = TxPvtReadWriteSet.encode({
    dataModel: TxReadWriteSet_DataModel.KV,
    nsPvtRwset: [{ namespace: CC, collectionPvtRwset: Object.entries(colls).map(([collectionName, tag]) => ({ collectionName, rwset: kvBytes(tag) })) }],
  }).finish();
  return { txSeqInBlock: BigInt(seq), payload: ws };
}

describe("coordinator: where a block's private data comes from (Fabric's coordinator_test / pvtdataprovider_test)", () => {
  test("(I) data that came with the block: committed from the cache, nobody asked, the transient store purged by the block's tx IDs", async () => {
    const r = await rig();
    await r.transient.persist("tx1", 1n, transientData({ collOrg1: "stale-endorsement" }));
    const res = await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1", "collBoth"])]), [cachePayload(0, { collOrg1: "tx1/collOrg1", collBoth: "tx1/collBoth" })]);
    assert.equal(res.fromCache, 2);
    assert.equal(res.missingEligible, 0);
    assert.deepEqual(await stored(r.pvt, 1n), ["0 cc/collBoth=tx1/collBoth", "0 cc/collOrg1=tx1/collOrg1"]);
    assert.equal(r.fetcher.calls.length, 0);
    assert.equal(r.blocks.length, 2, "the block is in the block store");
    await r.coordinator.idle();
    assert.deepEqual(r.transient.txIds(), [], "purged by tx ID after the commit");
    assert.equal(r.metrics.observations("gossip_privdata_commit_block_duration", { channel: "ch" }).count, 2);
    assert.equal(r.metrics.observations("gossip_privdata_purge_duration", { channel: "ch" }).count, 2, "after every commit, as Fabric's Purge");
    assert.equal(r.metrics.observations("gossip_privdata_fetch_duration", { channel: "ch" }).count, 0, "no remote fetch happened");
  });

  test("(II) data pushed at endorsement: taken from the transient store when its hash matches (another endorsement's wrong data is ignored)", async () => {
    const r = await rig();
    await r.transient.persist("tx1", 1n, transientData({ collOrg1: "forged" }));
    await r.transient.persist("tx1", 1n, transientData({ collOrg1: "tx1/collOrg1" }));
    const res = await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1"])]));
    assert.equal(res.fromTransientStore, 1);
    assert.deepEqual(await stored(r.pvt, 1n), ["0 cc/collOrg1=tx1/collOrg1"]);
    assert.equal(r.fetcher.calls.length, 0);
    assert.deepEqual(await missingEligible(r.pvt), []);
  });

  test("(III) data from other peers: the digests asked for (commit mode), the answer checked and committed", async () => {
    const r = await rig();
    r.fetcher.answer = honestAnswer(() => "");
    const res = await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx0", []), pvtTx("tx1", ["collOrg1", "collBoth"])]));
    assert.equal(res.fromPeers, 2);
    assert.equal(r.fetcher.calls.length, 1);
    assert.equal(r.fetcher.calls[0]?.mode, "commit");
    assert.deepEqual(
      r.fetcher.calls[0]?.wanted.map((w) => `${w.digest.txId} ${w.digest.blockSeq}:${w.digest.seqInBlock} ${w.digest.namespace}/${w.digest.collection}`).sort(),
      ["tx1 1:1 cc/collBoth", "tx1 1:1 cc/collOrg1"],
    );
    assert.deepEqual(await stored(r.pvt, 1n), ["1 cc/collBoth=tx1/collBoth", "1 cc/collOrg1=tx1/collOrg1"]);
    assert.equal(r.metrics.observations("gossip_privdata_fetch_duration", { channel: "ch" }).count, 1);
  });

  test("a wrong hash (cache or peer) is missing, reconcile later: committed as eligible missing and not asked again", async () => {
    const r = await rig();
    r.fetcher.answer = honestAnswer(() => "", (w) => (w.digest.collection === "collBoth" ? kvBytes("tampered") : undefined));
    const res = await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1", "collBoth"]), pvtTx("tx2", ["collOrg1"])]), [cachePayload(0, { collOrg1: "not-it" })]);
    assert.equal(res.missingEligible, 2);
    assert.equal(res.fromPeers, 1);
    assert.equal(r.fetcher.calls.length, 1, "a mismatch ends the retries for that key");
    assert.deepEqual(
      r.fetcher.calls[0]?.wanted.map((w) => `${w.digest.txId}/${w.digest.collection}`).sort(),
      ["tx1/collBoth", "tx2/collOrg1"],
      "the cache's mismatched key is not pulled",
    );
    assert.deepEqual(await stored(r.pvt, 1n), ["1 cc/collOrg1=tx2/collOrg1"]);
    assert.deepEqual((await missingEligible(r.pvt)).sort(), ["1:0 cc/collBoth", "1:0 cc/collOrg1"]);
  });

  test("a collection the peer is not eligible for is recorded as ineligible missing and never fetched; data of it in the cache is not taken", async () => {
    const r = await rig();
    const res = await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collOrg2"])]), [cachePayload(0, { collOrg2: "tx1/collOrg2" })]);
    assert.equal(res.missingIneligible, 1);
    assert.equal(r.fetcher.calls.length, 0);
    assert.deepEqual(await stored(r.pvt, 1n), []);
    assert.deepEqual(missingIneligible(r.pvt), ["1:0 cc/collOrg2"]);
    assert.deepEqual(await missingEligible(r.pvt), []);
  });

  test("nobody has it: asked every second until pullRetryThreshold, then the block commits with the data missing (eligible, prioritized)", async () => {
    const r = await rig({ pullRetryThresholdMs: 60_000 });
    let done = false;
    const storing = r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1"])])).then((res) => {
      done = true;
      return res;
    });
    for (let s = 0; s < 59; s++) await r.clock.advance(1_000);
    assert.equal(done, false, "still waiting before the threshold");
    assert.equal(r.blocks.length, 1);
    await r.clock.advance(1_000);
    const res = await storing;
    assert.equal(r.fetcher.calls.length, 60, "one fetch per second for 60 s");
    assert.equal(res.missingEligible, 1);
    assert.equal(r.blocks.length, 2, "committed without its data");
    assert.deepEqual(await missingEligible(r.pvt), ["1:0 cc/collOrg1"]);
    assert.equal(r.clock.pendingTimers(), 0);
  });

  test("data every candidate peer purged is dropped: the block commits without it and without a marker", async () => {
    const r = await rig();
    r.fetcher.answer = (wanted) => ({ available: [], purged: wanted.map((w) => w.digest) });
    const res = await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collBoth"])]));
    assert.equal(res.purged, 1);
    assert.equal(r.fetcher.calls.length, 1);
    assert.deepEqual(await missingEligible(r.pvt), []);
  });

  test("invalid transactions need nothing, unless the channel stores private data of invalid transactions; skipPulling... then only skips their pull", async () => {
    const r = await rig();
    r.fetcher.answer = honestAnswer(() => "");
    await r.coordinator.storeBlock(blockOf(1n, [pvtTx("bad", ["collOrg1"]), pvtTx("good", ["collOrg1"])], [11, 0]));
    assert.deepEqual(await stored(r.pvt, 1n), ["1 cc/collOrg1=good/collOrg1"]);
    assert.deepEqual(await missingEligible(r.pvt), []);

    const s = await rig({ skipPullingInvalidTransactionsDuringCommit: true, pullRetryThresholdMs: 5_000 }, { storeInvalid: true });
    s.fetcher.answer = honestAnswer(() => "");
    await s.transient.persist("bad2", 1n, transientData({ collOrg1: "bad2/collOrg1" }));
    await s.coordinator.storeBlock(blockOf(1n, [pvtTx("bad", ["collOrg1"]), pvtTx("good", ["collOrg1"]), pvtTx("bad2", ["collOrg1"])], [11, 0, 11]));
    assert.deepEqual(await stored(s.pvt, 1n), ["1 cc/collOrg1=good/collOrg1", "2 cc/collOrg1=bad2/collOrg1"], "invalid tx data from the transient store is kept");
    assert.deepEqual(
      s.fetcher.calls.flatMap((c) => c.wanted.map((w) => w.digest.txId)),
      ["good"],
      "the invalid one is not pulled",
    );
    assert.deepEqual(await missingEligible(s.pvt), ["1:0 cc/collOrg1"], "and is recorded as missing");
  });

  test("purge below height at multiples of transientstoreMaxBlockRetention (retention 5: at block 10, entries received below 5 go)", async () => {
    const r = await rig({ transientBlockRetention: 5n });
    for (let h = 1n; h <= 9n; h++) await r.transient.persist(`orphan-${h}`, h, transientData({ collOrg1: `o${h}` }));
    for (let n = 1n; n <= 9n; n++) {
      await r.coordinator.storeBlock(blockOf(n, [pvtTx(`public-${n}`, [])]));
      await r.coordinator.idle();
    }
    assert.equal(r.transient.txIds().length, 9, "block 5 is a multiple but not above the retention: nothing purged");
    await r.coordinator.storeBlock(blockOf(10n, [pvtTx("public-10", [])]));
    await r.coordinator.idle();
    assert.deepEqual(r.transient.txIds().sort(), ["orphan-5", "orphan-6", "orphan-7", "orphan-8", "orphan-9"]);
  });

  test("the private data store already has the block (crash between the two writes): only the block is appended", async () => {
    const r = await rig();
    await r.pvt.commit(1n, [], new Map());
    const res = await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1"])]));
    assert.equal(res.pvtDataAlreadyStored, true);
    assert.equal(r.blocks.length, 2);
    assert.equal(r.fetcher.calls.length, 0);
  });

  test("stop while a block waits for peers: storeBlock rejects with STOPPED, nothing is committed, no timer is left", async () => {
    const r = await rig();
    const storing = r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1"])]));
    await r.clock.advance(3_000);
    await r.coordinator.stop();
    await assert.rejects(storing, (err: unknown) => err instanceof PvtDataCommitError && err.code === "STOPPED");
    assert.equal(r.blocks.length, 1);
    assert.equal(r.pvt.lastCommittedBlockHeight(), 1n);
    await flushMicrotasks();
    assert.equal(r.clock.pendingTimers(), 0);
  });

  test("a block without data is refused (BAD_BLOCK); a collection without config is neither fetched nor recorded", async () => {
    const r = await rig();
    await assert.rejects(r.coordinator.storeBlock({ header: { number: 1n, previousHash: new Uint8Array(0), dataHash: new Uint8Array(0) }, data: undefined, metadata: undefined }), {
      code: "BAD_BLOCK",
    });
    const res = await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["unknownColl"])]));
    assert.equal(res.missingEligible + res.missingIneligible, 0);
    assert.equal(r.blocks.length, 2);
  });

  test("state responses carry only the collections the requester's signed data is eligible for (GetPvtDataAndBlockByNum)", async () => {
    const r = await rig();
    await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1", "collBoth"])]), [cachePayload(0, { collOrg1: "tx1/collOrg1", collBoth: "tx1/collBoth" })]);
    const asOrg = (msp: string) => ({ data: new Uint8Array(1), signature: new Uint8Array(1), identity: identity(msp) });
    const names = (ps: PvtDataPayload[]): string[] =>
      ps.flatMap((p) => TxPvtReadWriteSet.decode(p.payload).nsPvtRwset.flatMap((ns) => ns.collectionPvtRwset.map((c) => `${p.txSeqInBlock}:${c.collectionName}`)));
    assert.deepEqual(names(await r.coordinator.pvtDataFor(1n, asOrg("Org1MSP"))), ["0:collBoth", "0:collOrg1"]);
    assert.deepEqual(names(await r.coordinator.pvtDataFor(1n, asOrg("Org2MSP"))), ["0:collBoth"]);
    assert.deepEqual(await r.coordinator.pvtDataFor(1n, asOrg("Org3MSP")), []);
    assert.deepEqual(await r.coordinator.pvtDataFor(1n, undefined), [], "no handshake: nothing");
    assert.deepEqual(await r.coordinator.pvtDataFor(5n, asOrg("Org1MSP")), [], "a block not committed: nothing");
    // The payload decodes back into the same write sets (what the requester's coordinator takes as its cache).
    const back = PvtDataPayload.decode(PvtDataPayload.encode((await r.coordinator.pvtDataFor(1n, asOrg("Org2MSP")))[0]!).finish());
    assert.equal(back.txSeqInBlock, 0n);
  });

  test("an Org2 peer: collOrg1 is ineligible, collBoth eligible (eligibility by member org)", async () => {
    const r = await rig({}, { localMspId: "Org2MSP" });
    const res = await r.coordinator.storeBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1", "collBoth"])]), [cachePayload(0, { collOrg1: "tx1/collOrg1", collBoth: "tx1/collBoth" })]);
    assert.equal(res.fromCache, 1);
    assert.deepEqual(await stored(r.pvt, 1n), ["0 cc/collBoth=tx1/collBoth"]);
    assert.deepEqual(missingIneligible(r.pvt), ["1:0 cc/collOrg1"]);
  });
});
