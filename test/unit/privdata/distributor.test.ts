import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CollectionStore,
  collectionConfigPackageOf,
  createCollectionStore,
  createPvtDataDistributor,
  type PvtDataDistributor,
  PvtTransferError,
} from "../../../src/privdata/index.js";
import { TxReadWriteSet_DataModel } from "../../../src/protos/gen/ledger/rwset/rwset.pb.js";
import type { TxPvtReadWriteSetWithConfigInfo } from "../../../src/protos/gen/transientstore/transientstore.pb.js";
import { ManualClock, SeededRandom, utf8 } from "../../../src/util/index.js";
import { CHANNEL, collectionsJson, FakeGossip, type FakePeer, fakePeer, recordingLogger, stubMsps, testMetrics } from "./transfer-fakes.js";

function store(json: string, localMspId = "Org1MSP"): CollectionStore {
  const s = createCollectionStore({ channelId: CHANNEL, applicationMspIds: () => ["Org1MSP", "Org2MSP"], localMspId });
  s.setCollectionsFile("cc", json);
  return s;
}

/** A write set of `cc` for the given collections, with their configs from `s` (as an endorser attaches them). */
function writeSet(s: CollectionStore, collections: string[], namespace = "cc"): TxPvtReadWriteSetWithConfigInfo {
  const defs = collections.map((c) => s.collection(namespace, c)).filter((d) => d !== undefined);
  return {
    endorsedAt: 0n,
    pvtRwset: {
      dataModel: TxReadWriteSet_DataModel.KV,
      nsPvtRwset: [{ namespace, collectionPvtRwset: collections.map((c) => ({ collectionName: c, rwset: utf8(`rwset of ${c}`) })) }],
    },
    collectionConfigs: { [namespace]: collectionConfigPackageOf(defs) },
  };
}

function distributor(gossip: FakeGossip, seed = 1, localMspId = "Org1MSP"): PvtDataDistributor {
  return createPvtDataDistributor(
    { channelId: CHANNEL, gossip, deserializer: () => stubMsps, clock: new ManualClock(), random: new SeededRandom(seed), logger: recordingLogger(), metrics: testMetrics() },
    { localMspId },
  );
}

const BOTH = "OR('Org1MSP.member','Org2MSP.member')";

describe("private data distributor (Fabric's TestDistributor)", () => {
  it("2 orgs, required 1, maximum 2: per collection one peer per org, MinAck summing to 1; 2 transactions x 2 collections are 8 sends", async () => {
    const s = store(
      collectionsJson([
        { name: "c1", policy: BOTH, requiredPeerCount: 1, maxPeerCount: 2 },
        { name: "c2", policy: BOTH, requiredPeerCount: 1, maxPeerCount: 2 },
      ]),
    );
    const g = new FakeGossip([fakePeer("Org1MSP", "p1"), fakePeer("Org2MSP", "p2")]);
    const d = distributor(g);
    await d.distribute("tx1", writeSet(s, ["c1", "c2"]), 5n);
    await d.distribute("tx2", writeSet(s, ["c1", "c2"]), 6n);
    assert.equal(g.byCriteria.length, 8);
    for (const tx of ["tx1", "tx2"]) {
      for (const coll of ["c1", "c2"]) {
        const calls = g.byCriteria.filter((c) => c.msg.content?.$case === "privateData" && c.msg.content.value.payload?.txId === tx && c.msg.content.value.payload.collectionName === coll);
        assert.equal(calls.length, 2, `${tx} ${coll}`);
        assert.equal(
          calls.reduce((n, c) => n + c.criteria.maxPeers, 0),
          2,
        );
        assert.equal(
          calls.reduce((n, c) => n + c.criteria.minAck, 0),
          1,
        );
        // One peer each, one per org.
        assert.deepEqual(calls.map((c) => c.targets).sort(), [["p1"], ["p2"]]);
        for (const c of calls) {
          assert.equal(c.criteria.timeoutMs, 3_000);
          assert.equal(c.criteria.channel, CHANNEL);
          const m = c.msg;
          assert.equal(m.tag, 3, "CHAN_ONLY");
          assert.deepEqual(m.channel, utf8(CHANNEL));
          assert.equal(m.content?.$case, "privateData");
          if (m.content?.$case !== "privateData") continue;
          const p = m.content.value.payload;
          assert.equal(p?.namespace, "cc");
          assert.equal(p?.privateSimHeight, tx === "tx1" ? 5n : 6n);
          assert.deepEqual(p?.privateRwset, utf8(`rwset of ${coll}`));
          // Only this collection's config travels.
          assert.deepEqual(
            p?.collectionConfigs?.config.map((x) => x.payload?.value.name),
            [coll],
          );
        }
      }
    }
  });

  it("a failing send fails the distribution with Fabric's message, after every send was tried", async () => {
    const s = store(collectionsJson([{ name: "c1", policy: BOTH, requiredPeerCount: 1, maxPeerCount: 2 }]));
    const g = new FakeGossip([fakePeer("Org1MSP", "p1"), fakePeer("Org2MSP", "p2")]);
    g.onSendByCriteria = async () => {
      throw new Error("timed out");
    };
    await assert.rejects(
      distributor(g).distribute("tx1", writeSet(s, ["c1"]), 1n),
      (err: unknown) => err instanceof PvtTransferError && err.code === "DISSEMINATION_FAILED" && err.message === "Failed disseminating 2 out of 2 private dissemination plans",
    );
    assert.equal(g.byCriteria.length, 2);
  });

  it("one failure of three counts one: the others still go out", async () => {
    const s = store(collectionsJson([{ name: "c1", policy: BOTH, requiredPeerCount: 1, maxPeerCount: 3 }]));
    const g = new FakeGossip([fakePeer("Org1MSP", "p1"), fakePeer("Org1MSP", "p2"), fakePeer("Org2MSP", "p3")]);
    g.onSendByCriteria = async (call) => {
      if (call.targets[0] === "p3") throw new Error("timed out");
    };
    await assert.rejects(distributor(g).distribute("tx1", writeSet(s, ["c1"]), 1n), /Failed disseminating 1 out of 3 private dissemination plans/);
  });

  it("a namespace or collection without its config in the message is refused before anything is sent", async () => {
    const s = store(collectionsJson([{ name: "c1", policy: BOTH, requiredPeerCount: 0, maxPeerCount: 2 }]));
    const g = new FakeGossip([fakePeer("Org1MSP", "p1")]);
    const noNs = { ...writeSet(s, ["c1"]), collectionConfigs: {} };
    await assert.rejects(
      distributor(g).distribute("tx1", noNs, 1n),
      (err: unknown) => err instanceof PvtTransferError && err.code === "NO_COLLECTION_CONFIG" && /collection config package for cc chaincode is not provided/.test(err.message),
    );
    const ws = writeSet(s, ["c1"]);
    ws.pvtRwset?.nsPvtRwset[0]?.collectionPvtRwset.push({ collectionName: "c9", rwset: utf8("x") });
    await assert.rejects(
      distributor(g).distribute("tx1", ws, 1n),
      (err: unknown) => err instanceof PvtTransferError && err.code === "NO_COLLECTION_CONFIG" && /no configuration for collection c9 found/.test(err.message),
    );
    assert.equal(g.byCriteria.length, 0);
  });

  it("fewer eligible peers than requiredPeerCount fails without sending", async () => {
    const s = store(collectionsJson([{ name: "c1", policy: "OR('Org1MSP.member')", requiredPeerCount: 2, maxPeerCount: 3 }]));
    const g = new FakeGossip([fakePeer("Org1MSP", "p1"), fakePeer("Org2MSP", "p2"), fakePeer("Org2MSP", "p3")]);
    await assert.rejects(
      distributor(g).distribute("tx1", writeSet(s, ["c1"]), 1n),
      (err: unknown) => err instanceof PvtTransferError && err.code === "NOT_ENOUGH_PEERS" && /at least 2 peers, but know of only 1 eligible peers/.test(err.message),
    );
    assert.equal(g.byCriteria.length, 0);
  });

  it("never chooses a peer outside the collection's orgs or with a forged StateInfo signature, whatever the randomness", () => {
    const s = store(collectionsJson([{ name: "c1", policy: "OR('Org1MSP.member')", requiredPeerCount: 1, maxPeerCount: 5 }]));
    const forged: FakePeer = { ...fakePeer("Org1MSP", "forged"), stateInfoSignature: "bad" };
    const g = new FakeGossip([fakePeer("Org1MSP", "p1"), fakePeer("Org1MSP", "p2"), fakePeer("Org2MSP", "q1"), fakePeer("Org2MSP", "q2"), forged]);
    for (let seed = 1; seed <= 50; seed++) {
      const plan = distributor(g, seed).plan("tx1", writeSet(s, ["c1"]), 1n);
      assert.deepEqual(plan.map((p) => p.endpoint).sort(), ["p1.org1msp:7051", "p2.org1msp:7051"]);
      assert.deepEqual(
        plan.map((p) => p.minAck),
        [1, 0],
      );
    }
  });

  it("phase 1 takes one peer of each org, phase 2 the rest at random up to maximumPeerCount; the first requiredPeerCount need an ack", () => {
    const s = store(collectionsJson([{ name: "c1", policy: BOTH, requiredPeerCount: 2, maxPeerCount: 3 }]));
    const g = new FakeGossip([fakePeer("Org1MSP", "a1"), fakePeer("Org1MSP", "a2"), fakePeer("Org1MSP", "a3"), fakePeer("Org2MSP", "b1")]);
    const seen = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      const plan = distributor(g, seed).plan("tx1", writeSet(s, ["c1"]), 1n);
      assert.equal(plan.length, 3);
      assert.deepEqual(
        plan.map((p) => p.minAck),
        [1, 1, 0],
      );
      // The first two are one of each org.
      const firstTwo = plan.slice(0, 2).map((p) => p.endpoint.split(".")[1]);
      assert.deepEqual(firstTwo.sort(), ["org1msp:7051", "org2msp:7051"]);
      assert.equal(new Set(plan.map((p) => p.endpoint)).size, 3);
      for (const p of plan) seen.add(p.endpoint);
    }
    assert.equal(seen.size, 4, "every Org1 peer is chosen sometimes");
  });

  it("maximumPeerCount 0 sends nothing and succeeds", async () => {
    const s = store(collectionsJson([{ name: "c1", policy: BOTH, requiredPeerCount: 0, maxPeerCount: 0 }]));
    const g = new FakeGossip([fakePeer("Org1MSP", "p1")]);
    await distributor(g).distribute("tx1", writeSet(s, ["c1"]), 1n);
    assert.equal(g.byCriteria.length, 0);
  });

  it("implicit collections follow implicitCollectionDisseminationPolicy: our org's goes to 1 peer without ack, another org's to none", async () => {
    const s = store(collectionsJson([{ name: "c1", policy: BOTH }]));
    const g = new FakeGossip([fakePeer("Org1MSP", "p1"), fakePeer("Org1MSP", "p2"), fakePeer("Org2MSP", "q1")]);
    // The caller's configs claim larger counts: ours are what an Org1 endorser's lifecycle generates.
    const ws = writeSet(s, ["_implicit_org_Org1MSP", "_implicit_org_Org2MSP"]);
    for (const c of ws.collectionConfigs.cc?.config ?? []) {
      if (c.payload?.$case === "staticCollectionConfig") c.payload.value = { ...c.payload.value, requiredPeerCount: 2, maximumPeerCount: 3 };
    }
    await distributor(g).distribute("tx1", ws, 1n);
    assert.equal(g.byCriteria.length, 1);
    const call = g.byCriteria[0];
    assert.ok(call !== undefined);
    assert.equal(call.criteria.minAck, 0);
    assert.ok(["p1", "p2"].includes(call.targets[0] ?? ""));
    assert.equal(call.msg.content?.$case === "privateData" && call.msg.content.value.payload?.collectionConfigs?.config[0]?.payload?.value.maximumPeerCount, 1);
  });

  it("the same message (one nonce) goes to every peer of a collection; another collection gets another nonce", async () => {
    const s = store(collectionsJson([{ name: "c1", policy: BOTH, requiredPeerCount: 1, maxPeerCount: 2 }, { name: "c2", policy: BOTH, maxPeerCount: 2 }]));
    const g = new FakeGossip([fakePeer("Org1MSP", "p1"), fakePeer("Org2MSP", "p2")]);
    await distributor(g).distribute("tx1", writeSet(s, ["c1", "c2"]), 1n);
    const nonceOf = (coll: string): bigint[] =>
      g.byCriteria.filter((c) => c.msg.content?.$case === "privateData" && c.msg.content.value.payload?.collectionName === coll).map((c) => c.msg.nonce);
    assert.equal(new Set(nonceOf("c1")).size, 1);
    assert.equal(new Set(nonceOf("c2")).size, 1);
    assert.notEqual(nonceOf("c1")[0], nonceOf("c2")[0]);
  });
});
