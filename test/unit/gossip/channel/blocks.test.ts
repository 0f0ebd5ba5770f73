import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type PKIidType, pkiHex } from "../../../../src/api/index.js";
import { CHANNEL_REJECTED_METRIC } from "../../../../src/gossip/channel/index.js";
import type { Counter, Registry } from "../../../../src/metrics/index.js";
import { SignedGossipMessage } from "../../../../src/protoext/index.js";
import { type Envelope, type GossipMessage, GossipMessage_Tag, PullMsgType } from "../../../../src/protos/gen/gossip/message.pb.js";
import { bytesEqual, fromUtf8, utf8 } from "../../../../src/util/index.js";
import {
  blockMsg,
  type ChannelFixture,
  dataUpdateMsg,
  digestMsg,
  digestsOf,
  emptyBlockMsg,
  FakeAdapter,
  helloMsg,
  newChannel,
  ORG1,
  ORG2,
  pki,
  received,
  stateInfoMsg,
  TestJoinMsg,
  TestMcs,
} from "./harness.js";

const PEER1 = pki("pkiIDInOrg1");

async function rejected(registry: Registry, reason: string): Promise<number> {
  const metric = registry.getSingleMetric(CHANNEL_REJECTED_METRIC) as Counter<"channel" | "reason"> | undefined;
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

function seqOf(msg: SignedGossipMessage): bigint {
  const c = msg.message.content;
  if (c?.$case !== "dataMsg" || c.value.payload === undefined) throw new Error("not a block");
  return c.value.payload.seqNum;
}

function demuxedBlocks(f: ChannelFixture): bigint[] {
  return f.adapter.demuxed.filter((m) => m.message.content?.$case === "dataMsg").map(seqOf);
}

/** A channel with one same-org peer (PEER1) whose StateInfo we hold, so it may pull from us. */
async function channelWithPeer(options: Parameters<typeof newChannel>[0] = {}): Promise<ChannelFixture> {
  const adapter = options.adapter ?? new FakeAdapter();
  if (adapter.members.length === 0) adapter.addMember(PEER1, ORG1);
  const f = await newChannel({ ...options, adapter });
  f.gc.handleMessage(received(stateInfoMsg(PEER1, 1n), PEER1));
  adapter.forwarded.length = 0;
  adapter.demuxed.length = 0;
  return f;
}

/** Sends a hello from `from` and returns the digest we answered with, or undefined. */
async function digestFor(f: ChannelFixture, from: PKIidType = PEER1): Promise<string[] | undefined> {
  const hello = received(helloMsg(), from);
  f.gc.handleMessage(hello);
  await f.clock.advance(0);
  const reply = hello.responses[0];
  return reply === undefined ? undefined : digestsOf(reply);
}

describe("channel: blocks pushed to us", () => {
  it("a valid block is verified once, stored, made pullable, forwarded and demultiplexed", async (t) => {
    const f = await channelWithPeer();
    t.after(() => f.gc.stop());
    const block = blockMsg(5n);
    const r = received(block, PEER1);
    f.gc.handleMessage(r);
    assert.equal(f.mcs.verifiedBlocks.length, 1);
    const v = f.mcs.verifiedBlocks[0]!;
    assert.equal(v.channel, "A");
    assert.equal(v.seq, 5n);
    assert.equal(v.block.header?.number, 5n, "verifyBlock gets the block decoded from payload.data");
    assert.deepEqual(f.adapter.forwarded, [r]);
    assert.deepEqual(f.adapter.demuxed, [block]);
    assert.deepEqual(await digestFor(f), ["5"]);
  });

  it("a block already held is dropped before verification (counted verifyBlock calls)", async (t) => {
    const f = await channelWithPeer();
    t.after(() => f.gc.stop());
    f.gc.handleMessage(received(blockMsg(5n), PEER1));
    f.gc.handleMessage(received(blockMsg(5n), PEER1));
    f.gc.handleMessage(received(blockMsg(5n), pki("other")));
    assert.equal(f.mcs.verifiedBlocks.length, 1);
    assert.equal(f.adapter.forwarded.length, 1);
    assert.equal(f.adapter.demuxed.length, 1);
  });

  it("wrong channel, empty payload, no PKI-ID, unknown org or org outside the channel: dropped without verification (TestChannelBadBlocks, TestChannelPeerNotInChannel)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(PEER1, ORG1);
    adapter.addMember(pki("org2"), ORG2);
    const f = await channelWithPeer({ adapter });
    t.after(() => f.gc.stop());
    f.gc.handleMessage(received(blockMsg(2n, "B"), PEER1));
    f.gc.handleMessage(received(emptyBlockMsg(), PEER1));
    f.gc.handleMessage(received(blockMsg(3n), new Uint8Array(0)));
    f.gc.handleMessage(received(blockMsg(4n), pki("nobody")));
    f.gc.handleMessage(received(blockMsg(5n), pki("org2")));
    assert.equal(f.mcs.verifiedBlocks.length, 0);
    assert.equal(f.adapter.demuxed.length, 0);
    assert.equal(f.adapter.forwarded.length, 0);
    assert.equal(await digestFor(f), undefined, "nothing stored");
    for (const reason of ["WRONG_CHANNEL", "EMPTY_PAYLOAD", "NO_PKI_ID", "UNKNOWN_ORG", "ORG_NOT_IN_CHANNEL"]) {
      assert.equal(await rejected(f.registry, reason), 1, reason);
    }
  });

  it("a block the MCS rejects, or whose data is not a block, is not stored; a good copy is accepted later", async (t) => {
    const mcs = new TestMcs();
    mcs.blockVerdict = (seq) => (seq === 4n ? new Error("bad signature") : undefined);
    const f = await channelWithPeer({ mcs });
    t.after(() => f.gc.stop());
    f.gc.handleMessage(received(blockMsg(4n), PEER1));
    f.gc.handleMessage(received(blockMsg(6n, "A", new Uint8Array([0x0a, 0xff])), PEER1));
    assert.equal(f.mcs.verifiedBlocks.length, 1, "the undecodable block never reaches the MCS");
    assert.equal(f.adapter.demuxed.length, 0);
    assert.equal(f.adapter.forwarded.length, 0);
    assert.equal(await rejected(f.registry, "BAD_BLOCK"), 2);
    mcs.blockVerdict = () => undefined;
    f.gc.handleMessage(received(blockMsg(4n), PEER1));
    f.gc.handleMessage(received(blockMsg(6n), PEER1));
    assert.deepEqual(demuxedBlocks(f), [4n, 6n]);
  });

  it("the store keeps a window of maxBlockCountToStore; evicted blocks leave the puller, older ones are refused unverified (TestChannelMsgStoreEviction)", async (t) => {
    const f = await channelWithPeer({ config: { maxBlockCountToStore: 10 } });
    t.after(() => f.gc.stop());
    for (let s = 0n; s <= 50n; s++) f.gc.handleMessage(received(blockMsg(s), PEER1));
    const digest = await digestFor(f);
    assert.deepEqual(
      digest,
      Array.from({ length: 11 }, (_, i) => String(40 + i)),
    );
    const verified = f.mcs.verifiedBlocks.length;
    f.gc.handleMessage(received(blockMsg(12n), PEER1));
    assert.equal(f.mcs.verifiedBlocks.length, verified, "too old: refused before verification");
    assert.equal(demuxedBlocks(f).length, 51);
  });

  it("an expired block leaves the digest but stays a duplicate until deleted at twice the TTL (TestChannelBlockExpiration)", async (t) => {
    const f = await channelWithPeer();
    t.after(() => f.gc.stop());
    f.gc.handleMessage(received(blockMsg(11n), PEER1));
    assert.deepEqual(await digestFor(f), ["11"]);
    await f.clock.advance(6_000 + 1_000);
    f.gc.handleMessage(received(blockMsg(11n), PEER1));
    assert.deepEqual(demuxedBlocks(f), [11n], "expired but still deduplicated");
    assert.equal(await digestFor(f), undefined, "expired blocks are not offered");
    await f.clock.advance(6_000 + 1_000);
    f.gc.handleMessage(received(blockMsg(11n), PEER1));
    assert.deepEqual(demuxedBlocks(f), [11n, 11n], "deleted: accepted again");
    assert.deepEqual(await digestFor(f), ["11"]);
  });

  it("addToMsgStore: our own blocks are stored and pullable and not demultiplexed when they come back; StateInfo goes to the cache (TestChannelAddToMessageStore)", async (t) => {
    const f = await channelWithPeer();
    t.after(() => f.gc.stop());
    f.gc.addToMsgStore(helloMsg());
    f.gc.handleMessage(received(blockMsg(11n), PEER1));
    assert.deepEqual(demuxedBlocks(f), [11n]);
    f.gc.addToMsgStore(blockMsg(12n));
    f.gc.handleMessage(received(blockMsg(12n), PEER1));
    assert.deepEqual(demuxedBlocks(f), [11n]);
    assert.equal(f.mcs.verifiedBlocks.length, 1, "our own block is not verified again");
    assert.deepEqual(await digestFor(f), ["11", "12"]);
    const other = pki("p2");
    f.adapter.addMember(other, ORG1);
    f.gc.addToMsgStore(stateInfoMsg(other, 10n));
    assert.ok(f.gc.eligibleForChannel({ pkiId: other }));
    assert.deepEqual(await digestFor(f, other), ["11", "12"]);
  });
});

describe("channel: block pull access", () => {
  it("hellos are answered only for same-org peers whose StateInfo we hold and who are eligible (TestChannelPeerNotInChannel, TestChannelPullAccessControl)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(PEER1, ORG1);
    adapter.addMember(pki("org2"), ORG2);
    adapter.addMember(pki("silent"), ORG1);
    adapter.addMember(pki("noid"), ORG1);
    adapter.addMember(pki("notReader"), ORG1);
    const mcs = new TestMcs();
    const f = await channelWithPeer({ adapter, mcs, joinMsg: new TestJoinMsg(1, [ORG1, ORG2]) });
    t.after(() => f.gc.stop());
    for (const name of ["org2", "noid", "notReader"]) f.gc.handleMessage(received(stateInfoMsg(pki(name), 1n), pki(name)));
    f.gc.handleMessage(received(blockMsg(5n), PEER1));
    assert.deepEqual(await digestFor(f, PEER1), ["5"]);
    assert.equal(await digestFor(f, pki("org2")), undefined, "foreign org");
    assert.equal(await digestFor(f, pki("silent")), undefined, "no StateInfo");
    adapter.noIdentity.add(pkiHex(pki("noid")));
    assert.equal(await digestFor(f, pki("noid")), undefined, "identity unknown");
    // A config update after which the MSP no longer counts the peer as a reader.
    assert.deepEqual(await digestFor(f, pki("notReader")), ["5"]);
    mcs.notReaders.add(pkiHex(pki("notReader")));
    f.gc.configureChannel(new TestJoinMsg(2, [ORG1, ORG2]));
    assert.equal(await digestFor(f, pki("notReader")), undefined, "not a reader any more");
    assert.equal(await rejected(f.registry, "NO_STATE_INFO"), 2);
    assert.equal(await rejected(f.registry, "NOT_ELIGIBLE"), 2);
  });

  it("pull rounds only ever pick same-org peers eligible for the channel (TestChannelPullAccessControl)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("1"), ORG1, "1");
    adapter.addMember(pki("2"), ORG2, "2");
    adapter.addMember(pki("3"), ORG2, "3");
    adapter.addMember(pki("4"), ORG1, "4");
    const f = await newChannel({ adapter, joinMsg: new TestJoinMsg(1, [ORG1, ORG2]) });
    t.after(() => f.gc.stop());
    for (const name of ["1", "2", "3"]) f.gc.handleMessage(received(stateInfoMsg(pki(name), 1n), pki(name)));
    await f.clock.advance(10_000);
    const hellos = adapter.sentOf("hello");
    assert.equal(hellos.length, 10);
    for (const { msg, peers } of hellos) {
      assert.deepEqual(
        peers.map((p) => fromUtf8(p.pkiId)),
        ["1"],
      );
      assert.equal(peers[0]!.endpoint, "1");
      assert.equal(msg.message.tag, GossipMessage_Tag.CHAN_AND_ORG);
      assert.ok(bytesEqual(msg.message.channel, utf8("A")));
      assert.equal(msg.isSigned(), false);
      assert.ok(msg.message.content?.$case === "hello" && msg.message.content.value.msgType === PullMsgType.BLOCK_MSG);
    }
  });
});

/**
 * Fabric's simulatePullPhase: an imaginary same-org peer answers our hello with a digest and our
 * request with a DataUpdate built by `update`, each 1 ms later.
 */
function simulateRemote(f: ChannelFixture, from: PKIidType, digest: string[], update: (requested: string[]) => Envelope[]): { requested: string[][] } {
  const requested: string[][] = [];
  f.adapter.onSend = (msg) => {
    const c = msg.message.content;
    if (c?.$case === "hello") {
      const nonce = c.value.nonce;
      f.clock.setTimeout(() => f.gc.handleMessage(received(digestMsg(nonce, digest), from)), 1);
    } else if (c?.$case === "dataReq") {
      const items = c.value.digests.map((d) => fromUtf8(d));
      requested.push(items);
      const nonce = c.value.nonce;
      f.clock.setTimeout(() => f.gc.handleMessage(received(dataUpdateMsg(nonce, update(items)), from)), 1);
    }
  };
  return { requested };
}

const blocksOf = (seqs: string[]): Envelope[] => seqs.map((s) => blockMsg(BigInt(s)).envelope);

/** A copy of `env` whose message was changed by `mutate` (Fabric's msgMutator). */
function mutated(env: Envelope, mutate: (m: GossipMessage) => GossipMessage): Envelope {
  return SignedGossipMessage.noopSign(mutate(SignedGossipMessage.fromEnvelope(env).message)).envelope;
}

describe("channel: block pull of DataUpdates", () => {
  it("pulled blocks are verified, stored and demultiplexed (TestChannelPull)", async (t) => {
    const f = await channelWithPeer();
    t.after(() => f.gc.stop());
    const remote = simulateRemote(f, PEER1, ["10", "11"], blocksOf);
    await f.clock.advance(1_000 + 150 + 10);
    assert.deepEqual(remote.requested, [["10", "11"]]);
    assert.deepEqual(demuxedBlocks(f), [10n, 11n]);
    assert.deepEqual(
      f.mcs.verifiedBlocks.map((v) => v.seq),
      [10n, 11n],
    );
    assert.equal(f.adapter.forwarded.length, 0, "pulled blocks are not forwarded");
    assert.deepEqual(await digestFor(f), ["10", "11"]);
    // Pulled once: the next round finds nothing to request.
    await f.clock.advance(1_000);
    assert.equal(remote.requested.length, 1);
  });

  it("one bad item drops the whole update: another channel, a bad block, no payload, not a block (TestChannelPulledBadBlocks)", async (t) => {
    const cases: [string, (env: Envelope) => Envelope, ((mcs: TestMcs) => void)?][] = [
      ["channel B", (env) => mutated(env, (m) => ({ ...m, channel: utf8("B") }))],
      ["bad block", (env) => env, (mcs) => (mcs.blockVerdict = (seq) => (seq === 11n ? new Error("Bad block") : undefined))],
      ["empty payload", (env) => mutated(env, (m) => ({ ...m, content: { $case: "dataMsg", value: { payload: undefined } } }))],
      ["not a block", (env) => mutated(env, (m) => ({ ...helloMsg().message, channel: m.channel }))],
      ["undecodable", () => ({ payload: new Uint8Array([0xff, 0xff]), signature: new Uint8Array(0), secretEnvelope: undefined })],
    ];
    for (const [name, mutate, setup] of cases) {
      const f = await channelWithPeer();
      t.after(() => f.gc.stop());
      setup?.(f.mcs);
      simulateRemote(f, PEER1, ["10", "11"], (items) => {
        const envs = blocksOf(items);
        envs[1] = mutate(envs[1]!);
        return envs;
      });
      await f.clock.advance(1_000 + 150 + 10);
      assert.deepEqual(demuxedBlocks(f), [], name);
      assert.equal(await digestFor(f), undefined, `${name}: nothing stored`);
      assert.equal(await rejected(f.registry, "BAD_UPDATE"), 1, name);
    }
  });

  it("items the store already holds are left out before verification; the rest are consumed", async (t) => {
    const f = await channelWithPeer();
    t.after(() => f.gc.stop());
    f.gc.handleMessage(received(blockMsg(10n), PEER1));
    f.adapter.demuxed.length = 0;
    f.mcs.verifiedBlocks.length = 0;
    // The remote sends 10 again although only 11 was asked for.
    simulateRemote(f, PEER1, ["10", "11"], () => blocksOf(["10", "11"]));
    await f.clock.advance(1_000 + 150 + 10);
    assert.deepEqual(
      f.mcs.verifiedBlocks.map((v) => v.seq),
      [11n],
    );
    assert.deepEqual(demuxedBlocks(f), [11n]);
  });

  it("the ingress digest filter drops blocks below our ledger height (TestChannelPullWithDigestsFilter)", async (t) => {
    const f = await channelWithPeer();
    t.after(() => f.gc.stop());
    f.gc.updateLedgerHeight(11n);
    const remote = simulateRemote(f, PEER1, ["10", "11", "x"], blocksOf);
    await f.clock.advance(1_000 + 150 + 10);
    assert.deepEqual(remote.requested, [["11"]]);
    assert.deepEqual(demuxedBlocks(f), [11n]);
  });

  it("pull messages from a peer without StateInfo are ignored, so its DataUpdate is never consumed", async (t) => {
    const f = await channelWithPeer();
    t.after(() => f.gc.stop());
    f.gc.handleMessage(received(dataUpdateMsg(1n, blocksOf(["3"])), pki("stranger")));
    assert.equal(f.mcs.verifiedBlocks.length, 0);
    assert.deepEqual(demuxedBlocks(f), []);
  });
});
