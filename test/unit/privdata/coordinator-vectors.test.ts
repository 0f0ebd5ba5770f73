import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import {
  type CollectionDefinition,
  createCollectionAccess,
  createCollectionStore,
  createMemoryPvtDataStore,
  createMemoryTransientStore,
  createPrivdataMetrics,
  createPvtDataCoordinator,
} from "../../../src/privdata/index.js";
import { Block } from "../../../src/protos/gen/common/common.pb.js";
import { Envelope, GossipMessage, PvtDataPayload } from "../../../src/protos/gen/gossip/message.pb.js";
import { KVRWSet } from "../../../src/protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import { FakeFetcher } from "./coordinator-helpers.js";
import { block, CHANNEL, fixtureClock, genesisBundle, SKIP_WITHOUT_VECTORS, vectorText } from "./fixtures.js";

/** The RemoteStateResponse Fabric's peer1.org1 sent our Org1 peer (blocks 30-40, private data of 32-35). */
function capturedStateResponse(): { seqNum: bigint; block: Block; privateData: PvtDataPayload[] }[] {
  const line = vectorText("state-transfer-capture.jsonl")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { kind: string; from: string; envelope_hex: string })
    .find((l) => l.kind === "RemoteStateResponse" && l.from.startsWith("peer1.org1"));
  assert.ok(line !== undefined);
  const msg = GossipMessage.decode(Envelope.decode(Buffer.from(line.envelope_hex, "hex")).payload);
  assert.equal(msg.content?.$case, "stateResponse");
  if (msg.content?.$case !== "stateResponse") return [];
  return msg.content.value.payloads.map((p) => ({ seqNum: p.seqNum, block: Block.decode(p.data), privateData: p.privateData.map((b) => PvtDataPayload.decode(b)) }));
}

describe("coordinator on Fabric v2.5.6's private-data channel", { skip: SKIP_WITHOUT_VECTORS }, () => {
  test("the private data a Fabric peer sent with blocks 30-40 by state transfer is committed for our Org1 peer, every write set matching its block's hash", async () => {
    const clock = fixtureClock();
    const bundle = genesisBundle();
    const collections = createCollectionStore({ channelId: CHANNEL, applicationMspIds: () => ["Org1MSP", "Org2MSP"], localMspId: "Org1MSP" });
    const pvt = await createMemoryPvtDataStore({ btlPolicy: { blockToLive: (ns, coll) => collections.collection(ns, coll)?.blockToLive }, clock });
    const blocks: Block[] = [];
    const fetcher = new FakeFetcher();
    const coordinator = createPvtDataCoordinator(
      {
        channel: CHANNEL,
        collections,
        accessOf: (def: CollectionDefinition) => createCollectionAccess(def, bundle.msps),
        localMspId: "Org1MSP",
        selfSignedData: undefined,
        transientStore: createMemoryTransientStore(),
        pvtStore: pvt,
        fetcher,
        appendBlock: async (b) => {
          blocks.push(b);
        },
        storePvtDataOfInvalidTx: () => true,
        clock,
        logger: silentLogger,
        metrics: createPrivdataMetrics(memoryMetricsProvider()),
      },
      { pullRetryThresholdMs: 0 },
    );
    // Blocks 0-29 without any private data (as our peer committed them during the capture), learning block 3's definition.
    for (let n = 0; n < 30; n++) {
      const b = block(n);
      await coordinator.storeBlock(b);
      collections.learnFromBlock(b);
    }
    assert.equal(collections.definition("pvtcc")?.source, "lifecycle");
    const payloads = capturedStateResponse();
    assert.deepEqual(
      payloads.map((p) => Number(p.seqNum)),
      [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40],
    );
    const fromCache: number[] = [];
    for (const p of payloads) {
      const res = await coordinator.storeBlock(p.block, p.privateData);
      collections.learnFromBlock(p.block);
      fromCache.push(res.fromCache);
    }
    assert.deepEqual(fromCache, [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0], "blocks 32-35 brought their data; 30, 31 and 36 came already purged");
    const values = async (n: bigint): Promise<string[]> =>
      (await pvt.getPvtDataByBlockNum(n)).flatMap((d) =>
        d.writeSet.nsPvtRwset.flatMap((ns) => ns.collectionPvtRwset.flatMap((c) => KVRWSet.decode(c.rwset).writes.map((w) => `${c.collectionName} ${w.key}=${Buffer.from(w.value).toString()}`))),
      );
    assert.deepEqual(await values(32n), ["collBoth k11=both-value-11-noTS"]);
    assert.deepEqual(await values(33n), ["collBoth k12=both-value-12-noTS"]);
    assert.deepEqual(await values(34n), ["collBoth k13=both-value-13-noTS"]);
    assert.deepEqual(await values(35n), ["_implicit_org_Org1MSP i6=implicit-org1-6-noTS"]);
    assert.deepEqual(await values(36n), []);
    assert.equal(fetcher.calls.length, 0, "pullRetryThreshold 0: nobody asked");
    assert.equal(blocks.length, 41);
  });
});
