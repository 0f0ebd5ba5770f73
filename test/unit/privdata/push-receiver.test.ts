import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  collectionConfigPackageOf,
  createCollectionStore,
  createMemoryTransientStore,
  createPvtDataPushReceiver,
  type PvtDataPushReceiver,
  type PvtDataPushReceiverComponents,
  PvtTransferError,
  privateDataNeeds,
  pvtRwsetHashMatches,
  type TransientStore,
} from "../../../src/privdata/index.js";
import { SignedGossipMessage } from "../../../src/protoext/index.js";
import { Envelope, type GossipMessage, GossipMessage_Tag, type PrivatePayload } from "../../../src/protos/gen/gossip/message.pb.js";
import { flushMicrotasks, fromHex, ManualClock, SeededRandom, utf8 } from "../../../src/util/index.js";
import { BLOCK_COUNT, block, fixtureClock, genesisBundle, identityOf, peers, SKIP_WITHOUT_VECTORS, CHANNEL as VECTOR_CHANNEL, vectorText } from "./fixtures.js";
import { CHANNEL, collectionsJson, FakeGossip, fakePeer, received, recordingLogger, stubMsps } from "./transfer-fakes.js";

const BOTH = "OR('Org1MSP.member','Org2MSP.member')";

function configs() {
  const s = createCollectionStore({ channelId: CHANNEL, applicationMspIds: () => ["Org1MSP", "Org2MSP"], localMspId: "Org1MSP" });
  s.setCollectionsFile("cc", collectionsJson([{ name: "collBoth", policy: BOTH }, { name: "collOrg2", policy: "OR('Org2MSP.member')" }]));
  return s;
}

function pushMsg(payload: Partial<PrivatePayload> | undefined, channel = CHANNEL): GossipMessage {
  const s = configs();
  const coll = payload?.collectionName ?? "collBoth";
  const def = s.collection("cc", coll);
  return {
    channel: utf8(channel),
    nonce: 42n,
    tag: GossipMessage_Tag.CHAN_ONLY,
    content: {
      $case: "privateData",
      value: {
        payload:
          payload === undefined
            ? undefined
            : {
                namespace: "cc",
                collectionName: coll,
                txId: "tx1",
                privateRwset: utf8("kvrwset"),
                privateSimHeight: 7n,
                collectionConfigs: collectionConfigPackageOf(def === undefined ? [] : [def]),
                ...payload,
              },
      },
    },
  };
}

interface Rig {
  gossip: FakeGossip;
  receiver: PvtDataPushReceiver;
  store: TransientStore;
  sender: ReturnType<typeof fakePeer>;
}

function rig(overrides: Partial<PvtDataPushReceiverComponents> = {}): Rig {
  const sender = fakePeer("Org1MSP", "endorser");
  const gossip = new FakeGossip([sender, fakePeer("Org2MSP", "other")]);
  const store = createMemoryTransientStore();
  const receiver = createPvtDataPushReceiver({
    channelId: CHANNEL,
    gossip,
    deserializer: () => stubMsps,
    clock: new ManualClock(),
    logger: recordingLogger(),
    transientStore: store,
    ledgerHeight: () => 12n,
    selfIdentity: utf8("Org1MSP:self"),
    ...overrides,
  });
  receiver.start();
  return { gossip, receiver, store, sender };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await flushMicrotasks();
  await new Promise((r) => setImmediate(r));
};

describe("private data push receiver (Fabric's state.go privateDataMessage)", () => {
  it("stores the write set in the transient store at our ledger height with the message's configs, then acks", async () => {
    const { gossip, receiver, store, sender } = rig();
    const m = received(pushMsg({}), sender);
    assert.equal(gossip.deliver(m), 1);
    await settle();
    assert.deepEqual(m.acks, [undefined]);
    const entries = await store.getTxPvtRWSetByTxid("tx1");
    assert.equal(entries.length, 1);
    const e = entries[0];
    assert.ok(e !== undefined);
    assert.equal(e.receivedAtBlockHeight, 12n);
    const ws = e.pvtSimulationResultsWithConfig;
    assert.deepEqual(ws.pvtRwset?.nsPvtRwset[0]?.collectionPvtRwset[0]?.rwset, utf8("kvrwset"));
    assert.equal(ws.pvtRwset?.nsPvtRwset[0]?.collectionPvtRwset[0]?.collectionName, "collBoth");
    assert.equal(ws.collectionConfigs.cc?.config[0]?.payload?.value.name, "collBoth");
    assert.equal(receiver.stored(), 1);
    await receiver.stop();
    assert.equal(gossip.subscribers(), 0);
  });

  it("ignores other channels and other kinds", async () => {
    const { gossip, receiver, sender } = rig();
    assert.equal(gossip.deliver(received(pushMsg({}, "other"), sender)), 0);
    assert.equal(gossip.deliver(received({ ...pushMsg({}), content: { $case: "privateReq", value: { digests: [] } } }, sender)), 0);
    await receiver.stop();
  });

  it("NACKs malformed messages, naming what is missing, and stores nothing", async () => {
    const { gossip, receiver, store, sender } = rig();
    const cases: [GossipMessage, RegExp][] = [
      [pushMsg(undefined), /no payload provided/],
      [pushMsg({ privateRwset: new Uint8Array(0) }), /no rwset provided, collection name = collBoth/],
      [pushMsg({ txId: "" }), /no tx ID/],
      [pushMsg({ namespace: "" }), /no namespace/],
      [pushMsg({ collectionName: "" }), /no collection name/],
    ];
    for (const [msg, why] of cases) {
      const m = received(msg, sender);
      gossip.deliver(m);
      await settle();
      assert.equal(m.acks.length, 1);
      const err = m.acks[0];
      assert.ok(err instanceof PvtTransferError && err.code === "MALFORMED" && why.test(err.message), `${why}: ${err?.message}`);
    }
    assert.equal(receiver.rejections().MALFORMED, cases.length);
    assert.deepEqual(store.txIds(), []);
    await receiver.stop();
  });

  it("NACKs a message without its collection's config, or with one that has no member orgs policy", async () => {
    const { gossip, receiver, store, sender } = rig();
    const noConfig = received(pushMsg({ collectionConfigs: { config: [] } }), sender);
    const badPolicy = pushMsg({});
    if (badPolicy.content?.$case === "privateData" && badPolicy.content.value.payload?.collectionConfigs?.config[0]?.payload !== undefined) {
      badPolicy.content.value.payload.collectionConfigs.config[0].payload.value.memberOrgsPolicy = undefined;
    }
    const bad = received(badPolicy, sender);
    gossip.deliver(noConfig);
    gossip.deliver(bad);
    await settle();
    assert.equal((noConfig.acks[0] as PvtTransferError | undefined)?.code, "NO_COLLECTION_CONFIG");
    assert.equal((bad.acks[0] as PvtTransferError | undefined)?.code, "BAD_COLLECTION_CONFIG");
    assert.deepEqual(store.txIds(), []);
    assert.equal(receiver.rejections().NO_COLLECTION_CONFIG, 1);
    assert.equal(receiver.rejections().BAD_COLLECTION_CONFIG, 1);
    await receiver.stop();
  });

  it("refuses data of a collection our org is not a member of (NACK NOT_ELIGIBLE): it never lands here", async () => {
    const { gossip, receiver, store, sender } = rig();
    const m = received(pushMsg({ collectionName: "collOrg2" }), sender);
    gossip.deliver(m);
    await settle();
    assert.equal((m.acks[0] as PvtTransferError | undefined)?.code, "NOT_ELIGIBLE");
    assert.deepEqual(store.txIds(), []);
    await receiver.stop();
  });

  it("answers nothing to a sender outside the channel, or whose handshake fails the channel's Readers policy", async () => {
    const { gossip, receiver, store } = rig();
    const stranger = fakePeer("Org1MSP", "stranger");
    const m = received(pushMsg({}), stranger);
    gossip.deliver(m);
    await settle();
    assert.deepEqual(m.acks, []);
    assert.equal(receiver.rejections().UNAUTHORIZED, 1);
    await receiver.stop();

    const withMcs = rig({
      mcs: {
        verifyByChannel(channel, _identity, signature) {
          if (channel !== CHANNEL || new TextDecoder().decode(signature) !== "ok") throw new Error("not a reader");
        },
      },
    });
    const forged = received(pushMsg({}), stranger, "forged");
    const honest = received(pushMsg({}), stranger, "ok");
    const noAuth = received(pushMsg({}), stranger, null);
    withMcs.gossip.deliver(forged);
    withMcs.gossip.deliver(honest);
    withMcs.gossip.deliver(noAuth);
    await settle();
    assert.deepEqual(forged.acks, []);
    assert.deepEqual(noAuth.acks, []);
    // With an MCS the channel's Readers policy decides, as in Fabric (the sender need not be in our view yet).
    assert.deepEqual(honest.acks, [undefined]);
    assert.equal(withMcs.receiver.rejections().UNAUTHORIZED, 2);
    assert.deepEqual(store.txIds(), []);
    await withMcs.receiver.stop();
  });

  it("a store failure is a NACK naming it (only a NACK: not v2.5's NACK followed by an ack)", async () => {
    const { gossip, receiver, sender } = rig({
      transientStore: {
        persist: async () => {
          throw new Error("disk full");
        },
      },
    });
    const m = received(pushMsg({}), sender);
    gossip.deliver(m);
    await settle();
    assert.equal(m.acks.length, 1);
    const err = m.acks[0];
    assert.ok(err instanceof PvtTransferError && err.code === "STORE_FAILED" && /disk full/.test(err.message));
    await receiver.stop();
  });

  it("random and truncated messages never throw and are refused or stored, never crash the receiver", async () => {
    const { gossip, receiver, sender } = rig();
    const random = new SeededRandom(7);
    const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => random.int(256));
    let delivered = 0;
    for (let i = 0; i < 300; i++) {
      const payload: Partial<PrivatePayload> = {
        txId: random.int(4) === 0 ? "" : `tx${i}`,
        namespace: random.int(5) === 0 ? "" : "cc",
        collectionName: ["collBoth", "collOrg2", "", "nope", "_implicit_org_Org1MSP"][random.int(5)] ?? "",
        privateRwset: bytes(random.int(3) === 0 ? 0 : 20),
        privateSimHeight: random.uint64(),
      };
      if (random.int(3) === 0) payload.collectionConfigs = { config: [{ payload: undefined }] };
      const m = received(pushMsg(random.int(10) === 0 ? undefined : payload), sender);
      assert.doesNotThrow(() => {
        delivered += gossip.deliver(m);
      });
    }
    await settle();
    const r = receiver.rejections();
    const refused = Object.values(r).reduce((a, b) => a + b, 0);
    assert.equal(refused + receiver.stored(), delivered);
    assert.ok(receiver.stored() > 0 && refused > 0);
    await receiver.stop();
  });
});

interface CaptureLine {
  kind: string;
  from_pki_id: string;
  envelope_hex: string;
}

describe("the 25 PrivateDataMessages Fabric v2.5.6 endorsers pushed to our Org1 peer", { skip: SKIP_WITHOUT_VECTORS }, () => {
  it("are each stored with data matching the block's hash (or, for the 9 failed endorsements, kept for the retention purge) and acked", async () => {
    const bundle = genesisBundle();
    const all = peers();
    const self = all.find((p) => p.name === "peer2.org1");
    assert.ok(self !== undefined);
    const gossip = new FakeGossip(
      all.map((p) => ({ ...fakePeer(p.mspid, p.name), pkiId: fromHex(p.pki_id), identity: identityOf(p), endpoint: p.endpoint })),
    );
    gossip.peersOfChannel = () => gossip.peers.map((p) => ({ endpoint: p.endpoint, internalEndpoint: "", metadata: new Uint8Array(0), pkiId: p.pkiId }));
    const store = createMemoryTransientStore();
    const receiver = createPvtDataPushReceiver({
      channelId: VECTOR_CHANNEL,
      gossip,
      deserializer: () => bundle.msps,
      clock: fixtureClock(),
      logger: recordingLogger(),
      transientStore: store,
      ledgerHeight: () => 5n,
      selfIdentity: identityOf(self),
    });
    receiver.start();
    const lines = vectorText("gossip-capture.jsonl")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as CaptureLine)
      .filter((l) => l.kind === "PrivateDataMessage");
    const msgs = lines.map((l) => {
      const env = Envelope.decode(fromHex(l.envelope_hex));
      const from = gossip.peers.find((p) => Buffer.from(p.pkiId).toString("hex") === l.from_pki_id);
      assert.ok(from !== undefined);
      return received(SignedGossipMessage.fromEnvelope(env).message, from);
    });
    for (const m of msgs) assert.equal(gossip.deliver(m), 1);
    await settle();
    assert.deepEqual(
      msgs.map((m) => m.acks),
      msgs.map(() => [undefined]),
    );
    assert.equal(receiver.stored(), 25);
    const hashes = new Map<string, Uint8Array>();
    for (let n = 0; n < BLOCK_COUNT; n++) for (const tx of privateDataNeeds(block(n)).txs) for (const c of tx.collections) hashes.set(`${tx.txId}/${c.collection}`, c.expectedHash);
    let matched = 0;
    for (const txId of store.txIds()) {
      for (const e of await store.getTxPvtRWSetByTxid(txId)) {
        for (const ns of e.pvtSimulationResultsWithConfig.pvtRwset?.nsPvtRwset ?? []) {
          for (const c of ns.collectionPvtRwset) {
            const h = hashes.get(`${txId}/${c.collectionName}`);
            if (h !== undefined) {
              assert.ok(pvtRwsetHashMatches(c.rwset, h));
              matched++;
            }
          }
        }
      }
    }
    assert.equal(matched, 16);
    assert.equal(store.txIds().length, 25);
    await receiver.stop();
  });
});
