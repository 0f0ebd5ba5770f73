import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  COLL_BOTH,
  COLL_BOTH_BLOCK_TO_LIVE,
  COLL_ORG1,
  NetworkError,
  privateDataTxSource,
  publicTxSource,
  pvtCollections,
} from "../../../../src/cli/network/index.js";
import {
  type BlockValidationContext,
  collectionsOfPackage,
  createCollectionStore,
  privateDataNeeds,
  pvtRwsetHashMatches,
  readBlockTransactions,
  validateBlockTransactions,
} from "../../../../src/privdata/index.js";
import { KVRWSet } from "../../../../src/protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import { TxPvtReadWriteSetWithConfigInfo } from "../../../../src/protos/gen/transientstore/transientstore.pb.js";
import { blockOf, createTxChannel, type TxChannel } from "../../privdata/tx-fixtures.js";

describe("the feeder's transaction sources", () => {
  let ch: TxChannel;
  before(async () => {
    ch = await createTxChannel("feedchannel");
  });
  after(() => ch.cleanup());

  test("public transactions: one write each, endorsed by every org's peer, valid but for the chaincode's definition", async () => {
    const source = publicTxSource({ channel: ch.channel, client: ch.clients[0]!, endorsers: ch.peers, size: 64 });
    const envs = [await source.next(), await source.next()];
    const reads = readBlockTransactions(blockOf(1n, envs));
    assert.deepEqual(
      reads.map((r) => (r.ok ? r.tx.actions[0]!.namespaces[0]!.kvRwSet.writes.map((w) => [w.key, w.value.length]) : r.error.message)),
      [[["tx0", 64]], [["tx1", 64]]],
    );
    const store = createCollectionStore({ channelId: ch.channel, applicationMspIds: () => ["Org1MSP", "Org2MSP"] });
    const r = validateBlockTransactions(blockOf(1n, envs), { bundle: ch.bundle, definitions: store, requireDefinitions: false });
    assert.deepEqual(r.txs.map((t) => t.reason), ["", ""]);
    assert.throws(() => publicTxSource({ channel: ch.channel, client: ch.clients[0]!, endorsers: [], size: 1 }), NetworkError);
  });

  test("collections by layout: collOrg1 the first org, collBoth the first two with blockToLive 3; counts fit the peers", () => {
    const two = collectionsOfPackage(pvtCollections({ mspIds: ["Org1MSP", "Org2MSP", "Org3MSP"], peersPerOrg: 2 }));
    assert.deepEqual(
      two.map((c) => [c.name, c.memberOrgs, c.requiredPeerCount, c.maximumPeerCount, c.blockToLive, c.memberOnlyRead]),
      [
        [COLL_ORG1, ["Org1MSP"], 1, 1, 0n, true],
        [COLL_BOTH, ["Org1MSP", "Org2MSP"], 1, 3, COLL_BOTH_BLOCK_TO_LIVE, true],
      ],
    );
    // One peer in one org: nobody else to push to, so nothing is required.
    const alone = collectionsOfPackage(pvtCollections({ mspIds: ["Org1MSP"], peersPerOrg: 1 }));
    assert.deepEqual(alone.map((c) => [c.memberOrgs, c.requiredPeerCount, c.maximumPeerCount]), [
      [["Org1MSP"], 0, 0],
      [["Org1MSP"], 0, 0],
    ]);
  });

  test("private data: the lifecycle commit first, then writes whose private sets are distributed before the envelope is returned", async () => {
    const handed: { txId: string; data: Uint8Array; height: bigint }[] = [];
    let refuse = false;
    const source = privateDataTxSource({
      channel: ch.channel,
      client: ch.clients[0]!,
      endorsers: ch.peers,
      size: 16,
      layout: { mspIds: ["Org1MSP", "Org2MSP"], peersPerOrg: 2 },
      height: () => 5n,
      distribute: async (txId, data, height) => {
        if (refuse) throw new Error("Failed disseminating 1 out of 1 private dissemination plans");
        handed.push({ txId, data, height });
      },
    });
    const store = createCollectionStore({ channelId: ch.channel, applicationMspIds: () => ["Org1MSP", "Org2MSP"] });
    const ctx: BlockValidationContext = { bundle: ch.bundle, definitions: store };

    const commitBlock = blockOf(1n, [await source.next()]);
    assert.equal(handed.length, 0, "the definition has no private data");
    const v1 = validateBlockTransactions(commitBlock, ctx);
    assert.deepEqual(v1.txs.map((t) => t.reason), [""]);
    store.learnFromBlock(commitBlock, v1.flags);
    assert.deepEqual(store.collections("pvtcc").map((c) => c.name), [COLL_ORG1, COLL_BOTH, "_implicit_org_Org1MSP", "_implicit_org_Org2MSP"]);

    const envs = [await source.next(), await source.next()];
    const block = blockOf(2n, envs);
    const v2 = validateBlockTransactions(block, ctx);
    assert.deepEqual(v2.txs.map((t) => t.reason), ["", ""], "valid under pvtcc's policy (the channel's Endorsement: both orgs' peers)");
    const needs = privateDataNeeds(block, v2.flags);
    assert.deepEqual(needs.txs.map((t) => t.collections.map((c) => c.collection)), [[COLL_ORG1], [COLL_BOTH]]);
    assert.deepEqual(handed.map((h) => h.txId), needs.txs.map((t) => t.txId), "each transaction's private data was handed over");
    for (const [i, h] of handed.entries()) {
      assert.equal(h.height, 5n);
      const pvt = TxPvtReadWriteSetWithConfigInfo.decode(h.data);
      assert.deepEqual(Object.keys(pvt.collectionConfigs), ["pvtcc"]);
      const coll = pvt.pvtRwset!.nsPvtRwset[0]!.collectionPvtRwset[0]!;
      assert.ok(pvtRwsetHashMatches(coll.rwset, needs.txs[i]!.collections[0]!.expectedHash));
      assert.equal(Buffer.from(KVRWSet.decode(coll.rwset).writes[0]!.value).toString(), `secret-${i}`);
    }
    assert.deepEqual(source.stats(), { defined: true, written: { [COLL_ORG1]: 1, [COLL_BOTH]: 1 }, distributionFailed: 0, unsent: { [COLL_ORG1]: 0, [COLL_BOTH]: 0 } });
    // The feeder drops the second (its stream ended): counted unsent in its collection, once.
    source.unsent?.(envs[1]!);
    source.unsent?.(envs[1]!);
    source.unsent?.(new Uint8Array([1]));
    assert.deepEqual(source.stats().unsent, { [COLL_ORG1]: 0, [COLL_BOTH]: 1 });

    refuse = true;
    await assert.rejects(source.next(), (e: unknown) => e instanceof NetworkError && e.code === "FEED_FAILED" && /Failed disseminating/.test(e.message));
    assert.equal(source.stats().distributionFailed, 1);
  });
});
