import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IdentityDeserializer, SignedData } from "../../../src/channelconfig/index.js";
import {
  type CollectionStore,
  collectionConfigPackageOf,
  createCollectionStore,
  createMemoryPvtDataStore,
  createMemoryTransientStore,
  createPvtDataResponder,
  MAX_QUEUED_PVT_REQUESTS,
  type PvtDataResponder,
  type PvtDataResponderComponents,
  type PvtDataStore,
  privateDataNeeds,
  pvtRwsetHashMatches,
  type TransientStore,
  type TxPvtData,
} from "../../../src/privdata/index.js";
import { SignedGossipMessage } from "../../../src/protoext/index.js";
import { Envelope, type GossipMessage, GossipMessage_Tag, type PvtDataDigest, PvtDataElement } from "../../../src/protos/gen/gossip/message.pb.js";
import { TxReadWriteSet_DataModel } from "../../../src/protos/gen/ledger/rwset/rwset.pb.js";
import type { TxPvtReadWriteSetWithConfigInfo } from "../../../src/protos/gen/transientstore/transientstore.pb.js";
import { fromHex, fromUtf8, ManualClock, toHex, utf8 } from "../../../src/util/index.js";
import {
  BLOCK_COUNT,
  block,
  fixtureClock,
  genesisBundle,
  identityOf,
  type PvtTxRow,
  peers,
  SKIP_WITHOUT_VECTORS,
  CHANNEL as VECTOR_CHANNEL,
  vectorJson,
  vectorText,
} from "./fixtures.js";
import { CHANNEL, collectionsJson, FakeGossip, fakePeer, received, recordingLogger, stubMsps, testMetrics } from "./transfer-fakes.js";

const BOTH = "OR('Org1MSP.member','Org2MSP.member')";
const text = (b: Uint8Array | undefined): string => (b === undefined ? "" : fromUtf8(b));

function store(json = collectionsJson([{ name: "collBoth", policy: BOTH }, { name: "collOrg1", policy: "OR('Org1MSP.member')" }])): CollectionStore {
  const s = createCollectionStore({ channelId: CHANNEL, applicationMspIds: () => ["Org1MSP", "Org2MSP"], localMspId: "Org1MSP" });
  s.setCollectionsFile("cc", json);
  return s;
}

const signed = (name: string, signature = "ok"): SignedData => ({ identity: utf8(name), data: utf8("handshake"), signature: utf8(signature) });

/** An endorsement's write set of one collection, with `config`'s policy. */
function endorsement(collection: string, policy: string, endorsedAt: bigint, tag: string): TxPvtReadWriteSetWithConfigInfo {
  const def = store(collectionsJson([{ name: collection, policy }])).collection("cc", collection);
  assert.ok(def !== undefined);
  return {
    endorsedAt,
    pvtRwset: { dataModel: TxReadWriteSet_DataModel.KV, nsPvtRwset: [{ namespace: "cc", collectionPvtRwset: [{ collectionName: collection, rwset: utf8(tag) }] }] },
    collectionConfigs: { cc: collectionConfigPackageOf([def]) },
  };
}

const tx = (seqInBlock: number, collection: string, tag: string): TxPvtData => ({
  seqInBlock,
  writeSet: { dataModel: TxReadWriteSet_DataModel.KV, nsPvtRwset: [{ namespace: "cc", collectionPvtRwset: [{ collectionName: collection, rwset: utf8(tag) }] }] },
});

interface Rig {
  responder: PvtDataResponder;
  transient: TransientStore;
  pvt: PvtDataStore;
  gossip: FakeGossip;
  height: { value: bigint };
}

async function rig(overrides: Partial<PvtDataResponderComponents> = {}, collections = store()): Promise<Rig> {
  const gossip = new FakeGossip([fakePeer("Org1MSP", "p1"), fakePeer("Org2MSP", "q1")]);
  const transient = createMemoryTransientStore();
  const pvt = await createMemoryPvtDataStore({ btlPolicy: { blockToLive: (ns, c) => collections.collection(ns, c)?.blockToLive } });
  const height = { value: 1n };
  const responder = createPvtDataResponder({
    channelId: CHANNEL,
    gossip,
    deserializer: () => stubMsps,
    clock: new ManualClock(),
    logger: recordingLogger(),
    metrics: testMetrics(),
    collections,
    transientStore: transient,
    pvtStore: pvt,
    ledgerHeight: () => height.value,
    ...overrides,
  });
  return { responder, transient, pvt, gossip, height };
}

const dig = (collection: string, blockSeq: bigint, txId = "tx1", seqInBlock = 0n): PvtDataDigest => ({ txId, namespace: "cc", collection, blockSeq, seqInBlock });

describe("private data responder (Fabric's dataretriever.go and puller.handleRequest)", () => {
  it("a block not yet committed is served from the transient store: every endorsement's copy, eligibility by the latest endorsement's config", async () => {
    const r = await rig();
    await r.transient.persist("tx1", 1n, endorsement("collBoth", BOTH, 5n, "first"));
    await r.transient.persist("tx1", 1n, endorsement("collBoth", "OR('Org1MSP.member')", 9n, "second"));
    r.height.value = 3n; // block 3 not committed
    const org1 = await r.responder.respondTo([dig("collBoth", 3n)], signed("Org1MSP:p1"));
    assert.deepEqual(
      org1.map((e) => e.payload.map(text)),
      [["first", "second"]],
    );
    assert.deepEqual(org1[0]?.digest, dig("collBoth", 3n));
    // The endorsement of highest endorsedAt carries an Org1-only config: an Org2 requester gets nothing.
    assert.deepEqual(await r.responder.respondTo([dig("collBoth", 3n)], signed("Org2MSP:q1")), []);
  });

  it("a reconciliation digest (no tx ID) is not looked up in the transient store", async () => {
    const r = await rig();
    await r.transient.persist("tx1", 1n, endorsement("collBoth", BOTH, 1n, "data"));
    r.height.value = 3n;
    assert.deepEqual(await r.responder.respondTo([dig("collBoth", 3n, "")], signed("Org1MSP:p1")), []);
  });

  it("a committed block is served from the private data store, by transaction index, only to requesters the collection admits", async () => {
    const r = await rig();
    await r.pvt.commit(0n, []);
    await r.pvt.commit(1n, [tx(0, "collOrg1", "o-tx0"), tx(2, "collOrg1", "o-tx2"), tx(2, "collBoth", "b-tx2")]);
    r.height.value = 2n;
    const asked = [dig("collOrg1", 1n, "a", 0n), dig("collOrg1", 1n, "c", 2n), dig("collBoth", 1n, "c", 2n), dig("collBoth", 1n, "a", 0n)];
    const org1 = await r.responder.respondTo(asked, signed("Org1MSP:p1"));
    assert.deepEqual(
      org1.map((e) => `${e.digest?.collection}:${e.digest?.seqInBlock}=${e.payload.map(text).join(",")}`),
      ["collOrg1:0=o-tx0", "collOrg1:2=o-tx2", "collBoth:2=b-tx2"],
    );
    const org2 = await r.responder.respondTo(asked, signed("Org2MSP:q1"));
    assert.deepEqual(
      org2.map((e) => `${e.digest?.collection}:${e.digest?.seqInBlock}`),
      ["collBoth:2"],
    );
  });

  it("nothing for a forged handshake signature, a connection without one, or an identity of no channel MSP", async () => {
    const r = await rig();
    await r.pvt.commit(0n, []);
    await r.pvt.commit(1n, [tx(0, "collBoth", "b")]);
    r.height.value = 2n;
    assert.deepEqual(await r.responder.respondTo([dig("collBoth", 1n)], signed("Org1MSP:p1", "forged")), []);
    assert.deepEqual(await r.responder.respondTo([dig("collBoth", 1n)], undefined), []);
    assert.deepEqual(await r.responder.respondTo([dig("collBoth", 1n)], signed("garbage")), []);
    assert.equal((await r.responder.respondTo([dig("collBoth", 1n)], signed("Org1MSP:p1"))).length, 1);
  });

  it("a store that fails leaves that block's digests out and answers the others", async () => {
    const r = await rig({
      pvtStore: {
        getPvtDataByBlockNum: async (n) => {
          if (n === 1n) throw new Error("disk error");
          return [tx(0, "collBoth", "ok")];
        },
      },
    });
    r.height.value = 5n;
    const res = await r.responder.respondTo([dig("collBoth", 1n), dig("collBoth", 2n)], signed("Org1MSP:p1"));
    assert.deepEqual(
      res.map((e) => e.digest?.blockSeq),
      [2n],
    );
  });

  it("answers a request over gossip with the request's nonce, tag CHAN_ONLY, on the channel; ignores other channels; drops past the backlog", async () => {
    const r = await rig();
    await r.pvt.commit(0n, []);
    await r.pvt.commit(1n, [tx(0, "collBoth", "b")]);
    r.height.value = 2n;
    r.responder.start();
    const req = (channel: string, nonce: bigint): GossipMessage => ({
      channel: utf8(channel),
      nonce,
      tag: GossipMessage_Tag.CHAN_ONLY,
      content: { $case: "privateReq", value: { digests: [dig("collBoth", 1n)] } },
    });
    const p1 = fakePeer("Org1MSP", "p1");
    const m = received(req(CHANNEL, 77n), p1);
    assert.equal(r.gossip.deliver(m), 1);
    assert.equal(r.gossip.deliver(received(req("other", 78n), p1)), 0);
    const flood = Array.from({ length: MAX_QUEUED_PVT_REQUESTS + 5 }, (_, i) => received(req(CHANNEL, BigInt(100 + i)), p1));
    for (const f of flood) r.gossip.deliver(f);
    for (let i = 0; i < 50 && m.responses.length === 0; i++) await new Promise((res) => setImmediate(res));
    const resp = m.responses[0];
    assert.ok(resp !== undefined);
    assert.equal(resp.nonce, 77n);
    assert.equal(resp.tag, GossipMessage_Tag.CHAN_ONLY);
    assert.deepEqual(resp.channel, utf8(CHANNEL));
    assert.equal(resp.content?.$case === "privateRes" && resp.content.value.elements.length, 1);
    assert.ok(r.responder.droppedRequests() >= 4);
    await r.responder.stop();
    assert.equal(r.gossip.subscribers(), 0);
  });

  it("malformed requests (no digests, odd fields, garbage payload) never throw", async () => {
    const r = await rig();
    r.responder.start();
    const p1 = fakePeer("Org1MSP", "p1");
    const weird: PvtDataDigest[] = [
      { txId: "\u0000", namespace: "", collection: "", blockSeq: 0n, seqInBlock: 0n },
      { txId: "x", namespace: "cc", collection: "collBoth", blockSeq: 2n ** 64n - 1n, seqInBlock: 2n ** 64n - 1n },
      { txId: "x", namespace: "nope", collection: "_implicit_org_", blockSeq: 0n, seqInBlock: 5n },
    ];
    const m = received({ channel: utf8(CHANNEL), nonce: 1n, tag: 0, content: { $case: "privateReq", value: { digests: weird } } }, p1);
    const empty = received({ channel: utf8(CHANNEL), nonce: 2n, tag: 0, content: { $case: "privateReq", value: { digests: [] } } }, p1);
    r.gossip.deliver(m);
    r.gossip.deliver(empty);
    for (let i = 0; i < 50 && empty.responses.length === 0; i++) await new Promise((res) => setImmediate(res));
    assert.equal(m.responses.length, 1);
    assert.equal(empty.responses.length, 1);
    await r.responder.stop();
  });
});

// ---------------------------------------------------------------------------------------------
// Against the Fabric v2.5.6 network's captured requests and responses.

interface CaptureLine {
  kind: string;
  from_pki_id: string;
  envelope_hex: string;
}

/** The channel's real MSPs, with handshake signatures replaced by the word "handshake-signature" (no private keys in the vectors). */
function realMspsTrustingHandshakes(): IdentityDeserializer {
  const msps = genesisBundle().msps;
  return {
    deserializeIdentity(bytes) {
      const id = msps.deserializeIdentity(bytes);
      return {
        mspId: id.mspId,
        key: id.key,
        satisfiesPrincipal: (p) => id.satisfiesPrincipal(p),
        verify: (_data, signature) => {
          if (fromUtf8(signature) !== "handshake-signature") throw new Error("bad signature");
        },
      };
    },
  };
}

/** A responder holding what a peer of `mspId` holds at height 49 (collOrg1 purged by its blockToLive). */
async function vectorResponder(mspId: string): Promise<PvtDataResponder> {
  const clock = fixtureClock();
  const collections = createCollectionStore({ channelId: VECTOR_CHANNEL, applicationMspIds: () => ["Org1MSP", "Org2MSP"], localMspId: mspId });
  collections.learnFromBlock(block(3));
  const pvt = await createMemoryPvtDataStore({ btlPolicy: { blockToLive: (ns, c) => collections.collection(ns, c)?.blockToLive }, clock });
  const rows = vectorJson<PvtTxRow[]>("pvt-transactions.json");
  const member = (c: string): boolean => collections.collection("pvtcc", c)?.memberOrgs.includes(mspId) ?? false;
  for (let n = 0n; n < BigInt(BLOCK_COUNT); n++) {
    const data: TxPvtData[] = rows
      .filter((r) => BigInt(r.block) === n && r.pvt_rwset_bytes_hex !== undefined && member(r.collection))
      .map((r) => ({
        seqInBlock: r.tx_index,
        writeSet: {
          dataModel: TxReadWriteSet_DataModel.KV,
          nsPvtRwset: [{ namespace: r.namespace, collectionPvtRwset: [{ collectionName: r.collection, rwset: fromHex(r.pvt_rwset_bytes_hex ?? "") }] }],
        },
      }));
    await pvt.commit(n, data);
  }
  return createPvtDataResponder({
    channelId: VECTOR_CHANNEL,
    gossip: new FakeGossip([]),
    deserializer: realMspsTrustingHandshakes,
    clock,
    logger: recordingLogger(),
    metrics: testMetrics(),
    collections,
    transientStore: createMemoryTransientStore(),
    pvtStore: pvt,
    ledgerHeight: () => BigInt(BLOCK_COUNT),
  });
}

const requester = (name: string): SignedData => {
  const p = peers().find((x) => x.name === name);
  assert.ok(p !== undefined);
  return { identity: identityOf(p), data: utf8("handshake"), signature: utf8("handshake-signature") };
};

describe("answers to the Fabric v2.5.6 network's requests", { skip: SKIP_WITHOUT_VECTORS }, () => {
  const capture = (): CaptureLine[] =>
    vectorText("gossip-capture.jsonl")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as CaptureLine);
  const messageOf = (l: CaptureLine): GossipMessage => SignedGossipMessage.fromEnvelope(Envelope.decode(fromHex(l.envelope_hex))).message;
  const rowOf = (collection: string, key: string): PvtTxRow => {
    const row = vectorJson<PvtTxRow[]>("pvt-transactions.json").find((r) => r.collection === collection && r.key === key);
    assert.ok(row !== undefined);
    return row;
  };
  const probe = (collection: string, key: string, withTxId = true): PvtDataDigest => {
    const r = rowOf(collection, key);
    return { txId: withTxId ? r.tx_id : "", namespace: "pvtcc", collection, blockSeq: BigInt(r.block), seqInBlock: BigInt(r.tx_index) };
  };

  it("the 14 requests Fabric's peer1.org1 sent our Org1 peer (commit pulls and reconciliation) each get the one write set, matching the block's hash", async () => {
    const responder = await vectorResponder("Org1MSP");
    const hashes = new Map<string, Uint8Array>();
    for (let n = 0; n < BLOCK_COUNT; n++) for (const t of privateDataNeeds(block(n)).txs) for (const c of t.collections) hashes.set(`${n}/${c.collection}`, c.expectedHash);
    const requests = capture().filter((l) => l.kind === "RemotePvtDataRequest");
    assert.equal(requests.length, 14);
    for (const l of requests) {
      const m = messageOf(l);
      assert.equal(m.content?.$case, "privateReq");
      if (m.content?.$case !== "privateReq") continue;
      const elements = await responder.respondTo(m.content.value.digests, requester("peer1.org1"));
      assert.equal(elements.length, m.content.value.digests.length);
      for (const e of elements) {
        const h = hashes.get(`${e.digest?.blockSeq}/${e.digest?.collection}`);
        assert.ok(h !== undefined && e.payload.length === 1 && pvtRwsetHashMatches(e.payload[0] ?? new Uint8Array(0), h));
      }
    }
    // An Org2 peer asking the same gets nothing: _implicit_org_Org1MSP is not its to read.
    const first = requests[0];
    assert.ok(first !== undefined);
    const m = messageOf(first);
    assert.ok(m.content?.$case === "privateReq");
    assert.deepEqual(await responder.respondTo(m.content.value.digests, requester("peer0.org2")), []);
  });

  it("the probe's six requests are answered as peer0.org1 and peer0.org2 answered them (the README's table), element for element", async () => {
    const probes: [string, PvtDataDigest, number, number][] = [
      ["collBoth k1 @5", probe("collBoth", "k1"), 1, 1],
      ["collBoth k10 @26", probe("collBoth", "k10"), 1, 1],
      ["_implicit_org_Org1MSP @27 (no tx ID)", probe("_implicit_org_Org1MSP", "i3", false), 1, 0],
      ["_implicit_org_Org1MSP i5 @29", probe("_implicit_org_Org1MSP", "i5"), 1, 0],
      ["collOrg1 o4 @17 (purged)", probe("collOrg1", "o4"), 0, 0],
      ["_implicit_org_Org2MSP i2 @9 (requester not eligible)", probe("_implicit_org_Org2MSP", "i2"), 0, 0],
    ];
    const asOrg1 = await vectorResponder("Org1MSP");
    const asOrg2 = await vectorResponder("Org2MSP");
    // The captured non-empty answers, by responder org and digest, as bytes.
    const mspOf = new Map(peers().map((p) => [p.pki_id, p.mspid]));
    const captured = new Map<string, string>();
    for (const l of capture().filter((x) => x.kind === "RemotePvtDataResponse")) {
      const m = messageOf(l);
      if (m.content?.$case !== "privateRes") continue;
      for (const e of m.content.value.elements) captured.set(`${mspOf.get(l.from_pki_id)} ${toHex(PvtDataElement.encode({ ...e, payload: [] }).finish())}`, toHex(PvtDataElement.encode(e).finish()));
    }
    assert.equal(captured.size, 6, "4 distinct answers from peer0.org1, 2 from peer0.org2");
    const ts = requester("peer2.org1");
    for (const [what, d, fromOrg1, fromOrg2] of probes) {
      for (const [msp, responder, expected] of [
        ["Org1MSP", asOrg1, fromOrg1],
        ["Org2MSP", asOrg2, fromOrg2],
      ] as const) {
        const elements = await responder.respondTo([d], ts);
        assert.equal(elements.length, expected, `${what} from ${msp}`);
        for (const e of elements) {
          const theirs = captured.get(`${msp} ${toHex(PvtDataElement.encode({ ...e, payload: [] }).finish())}`);
          assert.equal(toHex(PvtDataElement.encode(e).finish()), theirs, `${what} from ${msp}: byte for byte`);
        }
      }
    }
    // i2 is held by the Org2 peer: an Org2 requester gets it, the Org1 requester above did not.
    assert.equal((await asOrg2.respondTo([probe("_implicit_org_Org2MSP", "i2")], requester("peer1.org2"))).length, 1);
  });
});
