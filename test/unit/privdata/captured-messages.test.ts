import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createCollectionStore, privateDataNeeds, pvtRwsetHashMatches, readBlockTransactions } from "../../../src/privdata/index.js";
import { Envelope, GossipMessage } from "../../../src/protos/gen/gossip/message.pb.js";
import { StaticCollectionConfig } from "../../../src/protos/gen/peer/collection.pb.js";
import { fromHex, toHex } from "../../../src/util/index.js";
import { BLOCK_COUNT, block, CHANNEL, peers, SKIP_WITHOUT_VECTORS, vectorText } from "./fixtures.js";

interface CaptureLine {
  kind: string;
  from_pki_id: string;
  envelope_hex: string;
}

/** The 9 endorsements that failed (README): their tx ids never reach a block. */
const FAILED = ["2d82a817", "4ae05a75", "a4110908", "d8938a45", "3e45d0be", "619bb8de", "c9bce61c", "acf170e0", "52a81269"];

describe("PrivateDataMessages captured from Fabric v2.5.6 endorsers", { skip: SKIP_WITHOUT_VECTORS }, () => {
  it("carry the collection config our store derives, byte for byte, and data matching the block's hash", () => {
    const lines = vectorText("gossip-capture.jsonl")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as CaptureLine)
      .filter((l) => l.kind === "PrivateDataMessage");
    assert.equal(lines.length, 25);
    // tx id -> (namespace/collection -> expected hash), from every block.
    const hashes = new Map<string, Map<string, Uint8Array>>();
    for (let n = 0; n < BLOCK_COUNT; n++) {
      for (const tx of privateDataNeeds(block(n)).txs) {
        hashes.set(tx.txId, new Map(tx.collections.map((c) => [`${c.namespace}/${c.collection}`, c.expectedHash])));
      }
    }
    const mspOfPki = new Map(peers().map((p) => [p.pki_id, p.mspid]));
    let matched = 0;
    for (const line of lines) {
      const msg = GossipMessage.decode(Envelope.decode(fromHex(line.envelope_hex)).payload);
      assert.equal(msg.content?.$case, "privateData");
      if (msg.content?.$case !== "privateData") continue;
      const p = msg.content.value.payload;
      assert.ok(p !== undefined);
      // The endorser's store: its own org's implicit collection has the default dissemination policy (0, 1).
      const endorserMsp = mspOfPki.get(line.from_pki_id);
      assert.ok(endorserMsp !== undefined);
      const store = createCollectionStore({ channelId: CHANNEL, applicationMspIds: () => ["Org1MSP", "Org2MSP"], localMspId: endorserMsp });
      store.learnFromBlock(block(3));
      const ours = store.collection(p.namespace, p.collectionName);
      assert.ok(ours !== undefined, `${p.namespace}/${p.collectionName}`);
      const theirs = p.collectionConfigs?.config;
      assert.equal(theirs?.length, 1);
      const captured = theirs?.[0]?.payload?.value;
      assert.ok(captured !== undefined);
      assert.equal(toHex(StaticCollectionConfig.encode(ours.config).finish()), toHex(StaticCollectionConfig.encode(captured).finish()), p.collectionName);
      const expected = hashes.get(p.txId)?.get(`${p.namespace}/${p.collectionName}`);
      if (expected === undefined) {
        assert.ok(
          FAILED.some((f) => p.txId.startsWith(f)),
          `${p.txId} is in no block and is not a failed endorsement`,
        );
        continue;
      }
      assert.ok(pvtRwsetHashMatches(p.privateRwset, expected), p.txId);
      matched++;
    }
    assert.equal(matched, 25 - FAILED.length);
  });

  it("the capture's tx ids of committed transactions are all readable from the blocks", () => {
    const ids = new Set<string>();
    for (let n = 0; n < BLOCK_COUNT; n++) for (const r of readBlockTransactions(block(n))) if (r.ok) ids.add(r.tx.txId);
    assert.equal(ids.size, BLOCK_COUNT);
  });

  it("the 14 RemotePvtDataRequests and 24 RemotePvtDataResponses decode: unsigned, CHAN_ONLY on the channel, and every element's data matches its block's hash", () => {
    const lines = vectorText("gossip-capture.jsonl")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as CaptureLine);
    const hashes = new Map<string, Uint8Array>();
    for (let n = 0; n < BLOCK_COUNT; n++) {
      for (const tx of privateDataNeeds(block(n)).txs) for (const c of tx.collections) hashes.set(`${n}:${tx.txIndex}/${c.namespace}/${c.collection}`, c.expectedHash);
    }
    const decoded = lines
      .filter((l) => l.kind !== "PrivateDataMessage")
      .map((l) => {
        const env = Envelope.decode(fromHex(l.envelope_hex));
        assert.equal(env.signature.length, 0);
        return { line: l, msg: GossipMessage.decode(env.payload) };
      });
    const requests = decoded.filter((d) => d.msg.content?.$case === "privateReq");
    const responses = decoded.filter((d) => d.msg.content?.$case === "privateRes");
    assert.equal(requests.length, 14);
    assert.equal(responses.length, 24);
    let reconciliation = 0;
    for (const { msg } of requests) {
      assert.equal(msg.tag, 3);
      assert.equal(new TextDecoder().decode(msg.channel), CHANNEL);
      if (msg.content?.$case !== "privateReq") continue;
      for (const d of msg.content.value.digests) {
        assert.equal(d.collection, "_implicit_org_Org1MSP");
        assert.ok([27n, 28n, 29n].includes(d.blockSeq), String(d.blockSeq));
        assert.ok(hashes.has(`${d.blockSeq}:${d.seqInBlock}/${d.namespace}/${d.collection}`));
        if (d.txId === "") reconciliation++;
      }
    }
    assert.ok(reconciliation > 0, "the reconciler's digests carry no tx ID");
    let elements = 0;
    for (const { msg } of responses) {
      assert.equal(msg.tag, 3);
      if (msg.content?.$case !== "privateRes") continue;
      for (const e of msg.content.value.elements) {
        const d = e.digest;
        assert.ok(d !== undefined);
        const expected = hashes.get(`${d.blockSeq}:${d.seqInBlock}/${d.namespace}/${d.collection}`);
        assert.ok(expected !== undefined && e.payload.length === 1 && pvtRwsetHashMatches(e.payload[0] ?? new Uint8Array(0), expected));
        elements++;
      }
    }
    // peer0.org1 answered 4 of the 6 probes, peer0.org2 2, in each of 2 rounds (the README's table).
    assert.equal(elements, 12);
  });
});
