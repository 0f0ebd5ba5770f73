import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CollectionDefinition,
  type CollectionStore,
  collectionsOfPackage,
  createCollectionStore,
  createMemoryPvtDataStore,
  createMemoryTransientStore,
  createPvtDataPuller,
  createPvtDataResponder,
  type FetchedPvtData,
  type PvtDataPuller,
  type PvtDataPullerOptions,
  type PvtDataWanted,
  parseCollectionsConfigJson,
} from "../../../src/privdata/index.js";
import { type GossipMessage, GossipMessage_Tag, type PvtDataDigest, type PvtDataElement } from "../../../src/protos/gen/gossip/message.pb.js";
import { TxReadWriteSet_DataModel } from "../../../src/protos/gen/ledger/rwset/rwset.pb.js";
import { fromUtf8, ManualClock, SeededRandom, utf8 } from "../../../src/util/index.js";
import { CHANNEL, collectionsJson, FakeGossip, type FakePeer, fakePeer, received, recordingLogger, stubMsps, testMetrics } from "./transfer-fakes.js";

const BOTH = "OR('Org1MSP.member','Org2MSP.member')";

function store(): CollectionStore {
  const s = createCollectionStore({ channelId: CHANNEL, applicationMspIds: () => ["Org1MSP", "Org2MSP"], localMspId: "Org1MSP" });
  s.setCollectionsFile(
    "cc",
    collectionsJson([
      { name: "collBoth", policy: BOTH },
      { name: "collOrg1", policy: "OR('Org1MSP.member')" },
      { name: "btl100", policy: BOTH, blockToLive: 100 },
    ]),
  );
  return s;
}

const digest = (collection: string, blockSeq = 1n, txId = `tx-${collection}`): PvtDataDigest => ({ txId, namespace: "cc", collection, blockSeq, seqInBlock: 0n });
const want = (d: PvtDataDigest, endorsers: FakePeer[] = []): PvtDataWanted => ({ digest: d, endorsers: endorsers.map((p) => p.identity) });

interface Rig {
  gossip: FakeGossip;
  clock: ManualClock;
  puller: PvtDataPuller;
  /** Peers asked, in order, with the digests' collections. */
  asked: { peer: string; collections: string[] }[];
}

/**
 * `holds(peer, digest)`: what the peer answers for a digest (payload bytes, [] for an empty element, undefined
 * for no element); `silent` peers never answer.
 */
function rig(
  peers: FakePeer[],
  holds: (peer: FakePeer, d: PvtDataDigest) => Uint8Array[] | undefined,
  opts: { silent?: string[]; collections?: Pick<CollectionStore, "collection" | "collectionBelow">; options?: PvtDataPullerOptions } = {},
): Rig {
  const gossip = new FakeGossip(peers);
  const clock = new ManualClock();
  const asked: Rig["asked"] = [];
  gossip.onSend = (msg, peer) => {
    if (msg.content?.$case !== "privateReq") return;
    asked.push({ peer: peer.name, collections: msg.content.value.digests.map((d) => d.collection) });
    assert.equal(msg.tag, GossipMessage_Tag.CHAN_ONLY);
    if (opts.silent?.includes(peer.name)) return;
    const elements: PvtDataElement[] = [];
    for (const d of msg.content.value.digests) {
      const payload = holds(peer, d);
      if (payload !== undefined) elements.push({ digest: { ...d }, payload });
    }
    const res: GossipMessage = { channel: utf8(CHANNEL), nonce: msg.nonce, tag: GossipMessage_Tag.CHAN_ONLY, content: { $case: "privateRes", value: { elements } } };
    // Answers arrive later, over the network.
    clock.setTimeout(() => gossip.deliver(received(res, peer)), 10);
  };
  const puller = createPvtDataPuller(
    {
      channelId: CHANNEL,
      gossip,
      deserializer: () => stubMsps,
      clock,
      random: new SeededRandom(3),
      logger: recordingLogger(),
      metrics: testMetrics(),
      collections: opts.collections ?? store(),
    },
    opts.options,
  );
  puller.start();
  return { gossip, clock, puller, asked };
}

/** Runs a fetch to the end in virtual time. */
async function fetchAll(r: Rig, wanted: PvtDataWanted[], mode: "commit" | "reconcile" = "commit"): Promise<FetchedPvtData> {
  let result: FetchedPvtData | undefined;
  const p = r.puller.fetch(wanted, mode).then((x) => {
    result = x;
  });
  for (let i = 0; i < 200 && result === undefined; i++) await r.clock.advance(100);
  await p;
  assert.ok(result !== undefined);
  return result;
}

const text = (b: Uint8Array | undefined): string => (b === undefined ? "" : fromUtf8(b));
const data = (peer: FakePeer, d: PvtDataDigest): Uint8Array => utf8(`${d.collection}@${d.blockSeq} from ${peer.name}`);

describe("private data puller (Fabric's pull_test.go)", () => {
  it("asks only the peer eligible for the collection (TestPullerFromOnly1Peer)", async () => {
    const p1 = fakePeer("Org1MSP", "p1");
    const p2 = fakePeer("Org2MSP", "p2");
    const r = rig([p1, p2], (peer, d) => [data(peer, d)]);
    const res = await fetchAll(r, [want(digest("collOrg1"))]);
    assert.deepEqual(r.asked, [{ peer: "p1", collections: ["collOrg1"] }]);
    assert.equal(res.available.length, 1);
    assert.deepEqual(res.available[0]?.payload, [utf8("collOrg1@1 from p1")]);
    assert.deepEqual(res.available[0]?.digest, digest("collOrg1"));
    assert.deepEqual(res.purged, []);
    await r.puller.stop();
  });

  it("a peer without the data answers nothing: it is not asked again and the fetch ends empty (TestPullerDataNotAvailable)", async () => {
    const p1 = fakePeer("Org1MSP", "p1");
    const r = rig([p1], () => undefined);
    const res = await fetchAll(r, [want(digest("collBoth"))]);
    assert.deepEqual(res, { available: [], purged: [] });
    assert.equal(r.asked.length, 1);
    // Its response settled the round at once: no 5 s wait.
    assert.ok(r.clock.monotonic() - 1_700_000_000_000 < 1_000);
    await r.puller.stop();
  });

  it("with no peer known it polls the membership 5 times, 1 s apart, then gives up (TestPullerNoPeersKnown)", async () => {
    const r = rig([], () => undefined);
    let polls = 0;
    const orig = r.gossip.peersOfChannel.bind(r.gossip);
    r.gossip.peersOfChannel = (ch) => {
      polls++;
      return orig(ch);
    };
    const start = r.clock.monotonic();
    const res = await fetchAll(r, [want(digest("collBoth"))]);
    assert.deepEqual(res, { available: [], purged: [] });
    assert.equal(polls, 5);
    assert.ok(r.clock.monotonic() - start >= 4_000);
    await r.puller.stop();
  });

  it("no peer eligible for the collection: nothing is asked (TestPullerPeerNotEligible)", async () => {
    const r = rig([fakePeer("Org2MSP", "q1"), { ...fakePeer("Org1MSP", "forged"), stateInfoSignature: "bad" }], (peer, d) => [data(peer, d)]);
    const res = await fetchAll(r, [want(digest("collOrg1"))]);
    assert.deepEqual(res, { available: [], purged: [] });
    assert.deepEqual(r.asked, []);
    await r.puller.stop();
  });

  it("different collections go to different peers in one round (TestPullerDifferentPeersDifferentCollections)", async () => {
    const p1 = fakePeer("Org1MSP", "p1");
    const q1 = fakePeer("Org2MSP", "q1");
    // q1 is the endorser of the collBoth transaction; collOrg1 can only come from p1.
    const r = rig([p1, q1], (peer, d) => [data(peer, d)]);
    const res = await fetchAll(r, [want(digest("collOrg1")), want(digest("collBoth"), [q1])]);
    assert.deepEqual(
      r.asked.map((a) => `${a.peer}:${a.collections.join(",")}`).sort(),
      ["p1:collOrg1", "q1:collBoth"],
    );
    assert.deepEqual(res.available.map((e) => new TextDecoder().decode(e.payload[0])).sort(), ["collBoth@1 from q1", "collOrg1@1 from p1"]);
    await r.puller.stop();
  });

  it("retries across peers, each asked once, until one has the data (TestPullerRetries)", async () => {
    const peers = ["p1", "p2", "p3", "p4", "p5"].map((n) => fakePeer("Org1MSP", n));
    const r = rig(peers, (peer, d) => (peer.name === "p3" ? [data(peer, d)] : []), { silent: ["p5"] });
    const res = await fetchAll(r, [want(digest("collBoth"))]);
    assert.deepEqual(
      res.available.map((e) => e.payload.map((b) => new TextDecoder().decode(b))),
      [["collBoth@1 from p3"]],
    );
    const names = r.asked.map((a) => a.peer);
    assert.equal(new Set(names).size, names.length, "no peer asked twice");
    assert.equal(names.at(-1), "p3");
    await r.puller.stop();
  });

  it("a silent peer costs one response wait, then the next candidate is asked", async () => {
    const p1 = fakePeer("Org1MSP", "p1");
    const p2 = fakePeer("Org1MSP", "p2");
    const r = rig([p1, p2], (peer, d) => [data(peer, d)], { silent: ["p1", "p2"].slice(0, 1), options: { responseWaitMs: 5_000 } });
    // Whichever is asked first: if it is p1 (silent) the round times out after 5 s and p2 is asked.
    const start = r.clock.monotonic();
    const res = await fetchAll(r, [want(digest("collBoth"))]);
    assert.equal(res.available.length, 1);
    if (r.asked[0]?.peer === "p1") {
      assert.deepEqual(
        r.asked.map((a) => a.peer),
        ["p1", "p2"],
      );
      assert.ok(r.clock.monotonic() - start >= 5_000);
    } else assert.deepEqual(r.asked.map((a) => a.peer), ["p2"]);
    await r.puller.stop();
  });

  it("prefers the transaction's endorsers at commit (TestPullerPreferEndorsers)", async () => {
    const peers = ["p1", "p2", "p3", "p4"].map((n) => fakePeer("Org1MSP", n));
    const endorser = peers[2];
    assert.ok(endorser !== undefined);
    for (let seed = 0; seed < 5; seed++) {
      const r = rig(peers, (peer, d) => [data(peer, d)]);
      await fetchAll(r, [want(digest("collBoth"), [endorser])]);
      assert.deepEqual(
        r.asked.map((a) => a.peer),
        ["p3"],
      );
      await r.puller.stop();
    }
  });

  it("reconciliation prefers peers eligible under the config in force at the data's block (TestPullerFetchReconciledItemsPreferPeersFromOriginalConfig)", async () => {
    const latest = collectionsOfPackage(parseCollectionsConfigJson(collectionsJson([{ name: "c", policy: BOTH }])))[0];
    const original = collectionsOfPackage(parseCollectionsConfigJson(collectionsJson([{ name: "c", policy: "OR('Org2MSP.member')" }])))[0];
    assert.ok(latest !== undefined && original !== undefined);
    const below: bigint[] = [];
    const collections = {
      collection: (_ns: string, name: string): CollectionDefinition | undefined => (name === "c" ? latest : undefined),
      collectionBelow: (_ns: string, name: string, blockNumber: bigint): CollectionDefinition | undefined => {
        below.push(blockNumber);
        return name === "c" ? original : undefined;
      },
    };
    const peers = [fakePeer("Org1MSP", "p1"), fakePeer("Org1MSP", "p2"), fakePeer("Org2MSP", "q1")];
    const r = rig(peers, (peer, d) => [data(peer, d)], { collections });
    const res = await fetchAll(r, [want(digest("c", 7n, ""))], "reconcile");
    assert.deepEqual(
      r.asked.map((a) => a.peer),
      ["q1"],
    );
    assert.deepEqual(below, [7n]);
    assert.equal(res.available.length, 1);
    await r.puller.stop();
  });

  it("does not pull data some candidate has presumably purged (TestPullerAvoidPullingPurgedData)", async () => {
    // BTL 100, data of block 1: a peer at height 111 is within btlPullMargin (10) of expiry: 111 + 10 >= 1 + 100.
    const p1 = fakePeer("Org1MSP", "p1", 111n);
    const p2 = fakePeer("Org1MSP", "p2", 5n);
    const r = rig([p1, p2], (peer, d) => [data(peer, d)]);
    const res = await fetchAll(r, [want(digest("btl100", 1n)), want(digest("collBoth", 1n))]);
    assert.deepEqual(res.purged, [digest("btl100", 1n)]);
    assert.deepEqual(
      res.available.map((e) => e.digest.collection),
      ["collBoth"],
    );
    assert.ok(r.asked.every((a) => !a.collections.includes("btl100")));

    // Below the margin the data is pulled.
    const low = rig([fakePeer("Org1MSP", "p1", 80n)], (peer, d) => [data(peer, d)]);
    const res2 = await fetchAll(low, [want(digest("btl100", 1n))]);
    assert.deepEqual(res2.purged, []);
    assert.equal(res2.available.length, 1);
    await r.puller.stop();
    await low.puller.stop();
  });

  it("ignores responses to nonces it did not send, from another peer than the one asked, and elements it did not ask for", async () => {
    const p1 = fakePeer("Org1MSP", "p1");
    const intruder = fakePeer("Org1MSP", "intruder");
    const r = rig([p1], () => undefined, { silent: ["p1"] });
    const fetching = r.puller.fetch([want(digest("collBoth"))], "commit");
    await r.clock.advance(1);
    const sent = r.gossip.sent.at(-1)?.msg;
    assert.ok(sent !== undefined);
    const res = (nonce: bigint, elements: PvtDataElement[]): GossipMessage => ({
      channel: utf8(CHANNEL),
      nonce,
      tag: GossipMessage_Tag.CHAN_ONLY,
      content: { $case: "privateRes", value: { elements } },
    });
    const el = (d: PvtDataDigest, text: string): PvtDataElement => ({ digest: d, payload: [utf8(text)] });
    r.gossip.deliver(received(res(sent.nonce + 1n, [el(digest("collBoth"), "unknown nonce")]), p1));
    r.gossip.deliver(received(res(sent.nonce, [el(digest("collBoth"), "wrong peer")]), intruder));
    assert.equal(r.puller.unsolicitedResponses(), 2);
    // The asked peer's response: an element never asked for is dropped, the asked one taken.
    r.gossip.deliver(received(res(sent.nonce, [el(digest("collOrg1"), "not asked"), { digest: undefined, payload: [] }, el(digest("collBoth"), "the data")]), p1));
    const result = await fetching;
    assert.deepEqual(
      result.available.map((e) => new TextDecoder().decode(e.payload[0])),
      ["the data"],
    );
    await r.puller.stop();
  });

  it("stop() ends a fetch in progress with what it has, and unsubscribes", async () => {
    const r = rig([fakePeer("Org1MSP", "p1")], () => undefined, { silent: ["p1"] });
    const fetching = r.puller.fetch([want(digest("collBoth"))], "commit");
    await r.clock.advance(1);
    assert.equal(r.gossip.subscribers(), 1);
    await r.puller.stop();
    assert.deepEqual(await fetching, { available: [], purged: [] });
    assert.equal(r.gossip.subscribers(), 0);
    assert.equal(r.clock.pendingTimers(), 0);
  });

  it("an unknown collection is skipped, the others fetched", async () => {
    const p1 = fakePeer("Org1MSP", "p1");
    const r = rig([p1], (peer, d) => [data(peer, d)]);
    const res = await fetchAll(r, [want({ ...digest("nope"), namespace: "other" }), want(digest("collBoth"))]);
    assert.deepEqual(
      res.available.map((e) => e.digest.collection),
      ["collBoth"],
    );
    await r.puller.stop();
  });

  it("pulls through real responders: the Org2 holder answers only the collection Org1 may read (TestPullerIntegratedWithDataRetreiver)", async () => {
    const collections = store();
    const p1 = fakePeer("Org1MSP", "p1");
    const q1 = fakePeer("Org2MSP", "q1");
    const gossip = new FakeGossip([p1, q1]);
    const clock = new ManualClock();
    // q1 holds committed data of block 1 for collBoth and, wrongly, for collOrg1 (which it must never hand to anyone outside Org1).
    const pvt = await createMemoryPvtDataStore({ btlPolicy: { blockToLive: (ns, c) => collections.collection(ns, c)?.blockToLive } });
    await pvt.commit(0n, []);
    await pvt.commit(1n, [
      {
        seqInBlock: 0,
        writeSet: {
          dataModel: TxReadWriteSet_DataModel.KV,
          nsPvtRwset: [
            {
              namespace: "cc",
              collectionPvtRwset: [
                { collectionName: "collBoth", rwset: utf8("both") },
                { collectionName: "collOrg1", rwset: utf8("org1 only") },
              ],
            },
          ],
        },
      },
    ]);
    const responder = createPvtDataResponder({
      channelId: CHANNEL,
      gossip: new FakeGossip([]),
      deserializer: () => stubMsps,
      clock,
      logger: recordingLogger(),
      metrics: testMetrics(),
      collections,
      transientStore: createMemoryTransientStore(),
      pvtStore: pvt,
      ledgerHeight: () => 2n,
    });
    gossip.onSend = (msg, peer) => {
      if (msg.content?.$case !== "privateReq" || peer.name !== "q1") return;
      // The requester, as q1's handshake saw it, is an Org2 peer.
      void responder.respondTo(msg.content.value.digests, { identity: utf8("Org2MSP:q2"), data: utf8("handshake"), signature: utf8("ok") }).then((elements) => {
        gossip.deliver(received({ channel: utf8(CHANNEL), nonce: msg.nonce, tag: GossipMessage_Tag.CHAN_ONLY, content: { $case: "privateRes", value: { elements } } }, q1));
      });
    };
    const puller = createPvtDataPuller({
      channelId: CHANNEL,
      gossip,
      deserializer: () => stubMsps,
      clock,
      random: new SeededRandom(1),
      logger: recordingLogger(),
      metrics: testMetrics(),
      collections,
    });
    puller.start();
    let result: FetchedPvtData | undefined;
    const fetching = puller.fetch([want(digest("collBoth", 1n, "t"), [q1])], "commit").then((r) => {
      result = r;
    });
    for (let i = 0; i < 100 && result === undefined; i++) await clock.advance(100);
    await fetching;
    assert.deepEqual(
      result?.available.map((e) => text(e.payload[0])),
      ["both"],
    );
    // The same responder refuses collOrg1 to that Org2 requester outright.
    assert.deepEqual(await responder.respondTo([digest("collOrg1", 1n, "t")], { identity: utf8("Org2MSP:q2"), data: utf8("handshake"), signature: utf8("ok") }), []);
    await puller.stop();
  });
});
