import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { pkiHex } from "../../../../src/api/index.js";
import { CHANNEL_REJECTED_METRIC, generateMAC, type PeerStateInfo } from "../../../../src/gossip/channel/index.js";
import type { Counter } from "../../../../src/metrics/index.js";
import { SignedGossipMessage } from "../../../../src/protoext/index.js";
import { GossipMessage_Tag } from "../../../../src/protos/gen/gossip/message.pb.js";
import { bytesEqual, ManualClock, utf8 } from "../../../../src/util/index.js";
import {
  CHANNEL,
  FakeAdapter,
  member,
  newChannel,
  ORG1,
  ORG2,
  ORG3,
  pki,
  received,
  snapshotElements,
  snapshotMsg,
  stateInfoContent,
  stateInfoMsg,
  stateInfoPullRequest,
  TestJoinMsg,
  TestMcs,
} from "./harness.js";

async function rejected(registry: import("prom-client").Registry, reason: string): Promise<number> {
  const metric = registry.getSingleMetric(CHANNEL_REJECTED_METRIC) as Counter<"channel" | "reason"> | undefined;
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe("channel: our StateInfo", () => {
  it("GenerateMAC is SHA-256(pkiId || channelId)", () => {
    const expected = createHash("sha256").update(Buffer.concat([Buffer.from("peer0"), Buffer.from("mychannel")])).digest();
    assert.ok(bytesEqual(generateMAC(pki("peer0"), "mychannel"), expected));
    assert.ok(!bytesEqual(generateMAC(pki("peer0"), "mychannel"), generateMAC(pki("peer1"), "mychannel")));
    assert.ok(!bytesEqual(generateMAC(pki("peer0"), "mychannel"), generateMAC(pki("peer0"), "otherchannel")));
  });

  it("the initial StateInfo has height 1, every field set, is signed once and not gossiped (TestSelf)", async (t) => {
    const clock = new ManualClock(1_700_000_000_123);
    const createdNs = clock.nowNs();
    const { gc, adapter, selfPki } = await newChannel({ clock });
    t.after(() => gc.stop());
    assert.equal(adapter.signCount, 1);
    assert.equal(adapter.gossiped.length, 0);
    const self = gc.self();
    assert.equal(self.message.tag, GossipMessage_Tag.CHAN_OR_ORG);
    assert.equal(self.message.channel.byteLength, 0, "no channel field: the name stays hidden");
    assert.equal(self.message.nonce, 0n);
    const si = stateInfoContent(self);
    assert.ok(bytesEqual(si.pkiId, selfPki));
    assert.ok(bytesEqual(si.channelMAC, generateMAC(selfPki, CHANNEL)));
    assert.deepEqual(si.timestamp, { incNum: createdNs, seqNum: createdNs });
    assert.deepEqual(si.properties, { ledgerHeight: 1n, leftChannel: false, chaincodes: [] });
    // Signed by the adapter: with the dev crypto the signature is the payload itself.
    assert.ok(bytesEqual(self.envelope.signature, self.envelope.payload));
    assert.deepEqual(SignedGossipMessage.fromEnvelope(self.envelope).message, self.message);
  });

  it("MAC hiding: neither our StateInfo nor our StateInfo request carries the channel name", async (t) => {
    const secret = "secret-channel-name";
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    const { gc, clock } = await newChannel({ adapter, channelId: secret });
    t.after(() => gc.stop());
    gc.updateLedgerHeight(3n);
    await clock.advance(100);
    const needle = Buffer.from(secret);
    const published = adapter.gossiped[0]!;
    const [request] = adapter.sentOf("stateInfoPullReq");
    assert.ok(request !== undefined);
    for (const bytes of [gc.self().bytes, published.bytes, request.msg.bytes]) assert.equal(Buffer.from(bytes).indexOf(needle), -1);
    assert.ok(bytesEqual(stateInfoContent(published).channelMAC, generateMAC(pki("self"), secret)));
  });

  it("updateLedgerHeight publishes on the next tick only; nothing when not dirty (TestChannelPeriodicalPublishStateInfo, TestOnDemandGossip)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    const { gc, clock } = await newChannel({ adapter });
    t.after(() => gc.stop());
    await clock.advance(500);
    assert.equal(adapter.gossiped.length, 0, "not dirty: nothing published");
    gc.updateLedgerHeight(5n);
    assert.equal(adapter.gossiped.length, 0, "published on the tick, not at once");
    await clock.advance(100);
    assert.equal(adapter.gossiped.length, 1);
    assert.equal(stateInfoContent(adapter.gossiped[0]!).properties?.ledgerHeight, 5n);
    assert.equal(adapter.gossiped[0], gc.self());
    await clock.advance(1_000);
    assert.equal(adapter.gossiped.length, 1, "the dirty flag was cleared");
    gc.updateLedgerHeight(6n);
    await clock.advance(100);
    assert.equal(adapter.gossiped.length, 2);
    assert.equal(stateInfoContent(adapter.gossiped[1]!).properties?.ledgerHeight, 6n);
  });

  it("no gossip and no signing while the membership is empty; updateChaincodes publishes at once regardless (TestNoGossipOrSigningWhenEmptyMembership)", async (t) => {
    const adapter = new FakeAdapter();
    const p1 = adapter.addMember(pki("p1"), ORG1);
    const { gc, clock } = await newChannel({ adapter });
    t.after(() => gc.stop());
    assert.equal(adapter.signCount, 1, "signed once at creation");
    gc.updateLedgerHeight(1n);
    await clock.advance(100);
    assert.equal(adapter.gossiped.length, 1);
    assert.equal(adapter.signCount, 2);

    adapter.members = [];
    gc.updateLedgerHeight(2n);
    await clock.advance(300);
    assert.equal(adapter.signCount, 2, "no signing with an empty membership");
    assert.equal(adapter.gossiped.length, 1);

    assert.deepEqual(stateInfoContent(gc.self()).properties?.chaincodes, []);
    gc.updateChaincodes([{ name: "mycc", version: "1.0", metadata: new Uint8Array(0) }]);
    assert.equal(adapter.signCount, 3, "signed at once");
    assert.equal(adapter.gossiped.length, 2, "gossiped at once");
    const si = stateInfoContent(gc.self());
    assert.equal(si.properties?.chaincodes[0]?.name, "mycc");
    assert.equal(si.properties?.ledgerHeight, 2n, "the height set meanwhile is kept");

    // Fabric leaves the dirty flag set, so the StateInfo goes out again once somebody is there.
    adapter.members = [p1];
    await clock.advance(100);
    assert.equal(adapter.gossiped.length, 3);
    await clock.advance(300);
    assert.equal(adapter.gossiped.length, 3);
  });

  it("publishStateInfoIfChanged (startupSync): publishes a change at once; with orAgain, an unchanged StateInfo that went out before goes out again", async (t) => {
    const adapter = new FakeAdapter();
    const p1 = adapter.addMember(pki("p1"), ORG1);
    const { gc } = await newChannel({ adapter, config: { publishStateInfoIntervalMs: 3_600_000 } });
    t.after(() => gc.stop());
    gc.publishStateInfoIfChanged({ orAgain: true });
    assert.equal(adapter.gossiped.length, 0, "never published: nothing to send again");
    gc.updateLedgerHeight(3n);
    gc.publishStateInfoIfChanged();
    assert.equal(adapter.gossiped.length, 1, "changed: published at once");
    gc.publishStateInfoIfChanged();
    assert.equal(adapter.gossiped.length, 1, "unchanged: nothing without orAgain");
    const signs = adapter.signCount;
    gc.publishStateInfoIfChanged({ orAgain: true });
    assert.equal(adapter.gossiped.length, 2);
    assert.equal(adapter.gossiped[1], adapter.gossiped[0], "the same signed message, not a new one");
    assert.equal(adapter.signCount, signs, "not signed again");
    adapter.members = [];
    gc.publishStateInfoIfChanged({ orAgain: true });
    assert.equal(adapter.gossiped.length, 2, "nobody to send it to");
    adapter.members = [p1];
    gc.updateLedgerHeight(4n);
    gc.publishStateInfoIfChanged({ orAgain: true });
    assert.equal(adapter.gossiped.length, 3, "changed: the new one, once");
    assert.equal(stateInfoContent(adapter.gossiped[2]!).properties?.ledgerHeight, 4n);
  });

  it("seq_num is the clock in ns, strictly increasing even at one virtual instant", async (t) => {
    const { gc, clock } = await newChannel();
    t.after(() => gc.stop());
    const first = stateInfoContent(gc.self()).timestamp!;
    gc.updateChaincodes([]);
    gc.updateChaincodes([]);
    const second = stateInfoContent(gc.self()).timestamp!;
    assert.equal(second.incNum, first.incNum, "inc_num is the channel's creation time");
    assert.equal(second.seqNum, first.seqNum + 2n);
    await clock.advance(1_000);
    gc.updateChaincodes([]);
    assert.equal(stateInfoContent(gc.self()).timestamp!.seqNum, clock.nowNs());
  });

  it("a published StateInfo is put into our own cache and served in snapshots", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    const { gc, clock, selfPki } = await newChannel({ adapter });
    t.after(() => gc.stop());
    const req = received(stateInfoPullRequest(pki("p1")), pki("p1"));
    gc.handleMessage(req);
    assert.equal(snapshotElements(req.responses[0]!).length, 0, "the initial StateInfo is not cached");
    gc.updateLedgerHeight(7n);
    await clock.advance(100);
    const req2 = received(stateInfoPullRequest(pki("p1")), pki("p1"));
    gc.handleMessage(req2);
    const [el] = snapshotElements(req2.responses[0]!);
    assert.ok(bytesEqual(stateInfoContent(el!).pkiId, selfPki));
    assert.equal(stateInfoContent(el!).properties?.ledgerHeight, 7n);
  });
});

describe("channel: StateInfo of other peers", () => {
  it("a new StateInfo is cached, forwarded and demultiplexed once; duplicates and older ones are not", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    const { gc } = await newChannel({ adapter });
    t.after(() => gc.stop());
    const m1 = stateInfoMsg(pki("p1"), 3n, { seqNum: 10n });
    gc.handleMessage(received(m1, pki("p1")));
    assert.equal(adapter.forwarded.length, 1);
    assert.equal(adapter.demuxed.length, 1);
    assert.equal(adapter.demuxed[0], m1);
    assert.ok(gc.eligibleForChannel({ pkiId: pki("p1") }));
    gc.handleMessage(received(stateInfoMsg(pki("p1"), 3n, { seqNum: 10n }), pki("p1")));
    gc.handleMessage(received(stateInfoMsg(pki("p1"), 2n, { seqNum: 9n }), pki("p1")));
    assert.equal(adapter.forwarded.length, 1);
    gc.handleMessage(received(stateInfoMsg(pki("p1"), 4n, { seqNum: 11n }), pki("p1")));
    assert.equal(adapter.forwarded.length, 2);
    assert.equal(gc.getPeers()[0]?.properties?.ledgerHeight, 4n);
  });

  it("refuses a wrong MAC, an unknown identity, an org outside the channel, a non-reader and a bad signature", async (t) => {
    const adapter = new FakeAdapter();
    for (const name of ["mac", "noid", "org2", "reader", "badsig", "org1"]) adapter.addMember(pki(name), name === "org2" ? ORG2 : ORG1);
    adapter.noIdentity.add(pkiHex(pki("noid")));
    const mcs = new TestMcs();
    mcs.notReaders.add(pkiHex(pki("reader")));
    const { gc, registry } = await newChannel({ adapter, mcs });
    t.after(() => gc.stop());
    // The MAC of another peer (TestChannelGetPeers' corrupted MAC).
    gc.handleMessage(received(stateInfoMsg(pki("mac"), 1n, { mac: generateMAC(pki("org1"), CHANNEL) }), pki("mac")));
    gc.handleMessage(received(stateInfoMsg(pki("mac"), 1n, { channel: "B" }), pki("mac")));
    gc.handleMessage(received(stateInfoMsg(pki("noid"), 1n), pki("noid")));
    // Relayed by an ORG1 peer, but created in ORG2 which is not in the channel.
    gc.handleMessage(received(stateInfoMsg(pki("org2"), 1n), pki("org1")));
    gc.handleMessage(received(stateInfoMsg(pki("reader"), 1n), pki("reader")));
    gc.handleMessage(received(stateInfoMsg(pki("badsig"), 1n, { signed: false }), pki("badsig")));
    assert.equal(adapter.forwarded.length, 0);
    assert.deepEqual(gc.getPeers(), []);
    for (const name of ["mac", "noid", "org2", "reader", "badsig"]) assert.equal(gc.eligibleForChannel({ pkiId: pki(name) }), false, name);
    assert.equal(await rejected(registry, "WRONG_MAC"), 2);
    // Sent by ORG2 itself: refused before the cache, as the sender's org is not in the channel.
    gc.handleMessage(received(stateInfoMsg(pki("org2"), 1n), pki("org2")));
    assert.equal(await rejected(registry, "ORG_NOT_IN_CHANNEL"), 1);
  });

  it("getPeers: eligible members with their StateInfo's properties and envelope, not those that left (TestChannelGetPeers, TestLeaveChannel)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("in1"), ORG1);
    adapter.addMember(pki("in2"), ORG2);
    adapter.addMember(pki("silent"), ORG1);
    adapter.addMember(pki("org3"), ORG3);
    const { gc } = await newChannel({ adapter, joinMsg: new TestJoinMsg(1, [ORG1, ORG2]) });
    t.after(() => gc.stop());
    const s1 = stateInfoMsg(pki("in1"), 5n);
    gc.handleMessage(received(s1, pki("in1")));
    gc.handleMessage(received(stateInfoMsg(pki("in2"), 6n), pki("in2")));
    gc.handleMessage(received(stateInfoMsg(pki("org3"), 7n), pki("in1")));
    const peers = gc.getPeers();
    assert.deepEqual(
      peers.map((p) => [new TextDecoder().decode(p.pkiId), p.properties?.ledgerHeight]),
      [
        ["in1", 5n],
        ["in2", 6n],
      ],
    );
    assert.equal(peers[0]!.envelope, s1.envelope);
    assert.ok(bytesEqual(stateInfoContent(SignedGossipMessage.fromEnvelope(peers[0]!.envelope!)).pkiId, pki("in1")));
    assert.equal(adapter.members[0]!.properties, undefined, "discovery's member objects are not changed");

    gc.handleMessage(received(stateInfoMsg(pki("in2"), 6n, { leftChannel: true }), pki("in2")));
    assert.deepEqual(
      gc.getPeers().map((p) => new TextDecoder().decode(p.pkiId)),
      ["in1"],
    );
    assert.ok(gc.eligibleForChannel({ pkiId: pki("in2") }), "still eligible: only getPeers skips a peer that left");
    adapter.noIdentity.add(pkiHex(pki("in1")));
    assert.deepEqual(gc.getPeers(), [], "an expired identity makes the peer ineligible");
  });

  it("isOrgInChannel, isMemberInChan, eligibleForChannel and peerFilter (TestChannelIsInChannel, TestGossipChannelEligibility)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    adapter.addMember(pki("p2"), ORG2);
    adapter.addMember(pki("p3"), ORG3);
    adapter.addMember(pki("nil"), new Uint8Array(0));
    const { gc } = await newChannel({ adapter, joinMsg: new TestJoinMsg(1, [ORG1, ORG2]) });
    t.after(() => gc.stop());
    assert.equal(gc.isOrgInChannel(new Uint8Array(0)), false);
    assert.equal(gc.isOrgInChannel(ORG1), true);
    assert.equal(gc.isOrgInChannel(ORG3), false);
    assert.equal(gc.isMemberInChan({ pkiId: pki("p1") }), true);
    assert.equal(gc.isMemberInChan({ pkiId: pki("p2") }), true);
    assert.equal(gc.isMemberInChan({ pkiId: pki("p3") }), false);
    assert.equal(gc.isMemberInChan({ pkiId: pki("nil") }), false);
    for (const name of ["p1", "p2", "p3"]) gc.handleMessage(received(stateInfoMsg(pki(name), 1n), pki("p1")));
    assert.equal(gc.eligibleForChannel({ pkiId: pki("p1") }), true);
    assert.equal(gc.eligibleForChannel({ pkiId: pki("p2") }), true);
    assert.equal(gc.eligibleForChannel({ pkiId: pki("p3") }), false);

    const seen: PeerStateInfo[] = [];
    const all = gc.peerFilter((s) => {
      seen.push(s);
      return true;
    });
    assert.equal(all(member(pki("p1"))), true);
    assert.equal(all(member(pki("p2"))), true);
    assert.equal(all(member(pki("p3"))), false);
    const sig = seen[1]!;
    assert.ok(bytesEqual(sig.peerIdentity, pki("p2")));
    assert.ok(bytesEqual(sig.message, sig.stateInfo.envelope.payload));
    assert.ok(bytesEqual(sig.signature, sig.stateInfo.envelope.signature));
    assert.ok(bytesEqual(sig.peer.pkiId, pki("p2")));
    const onlyP2 = gc.peerFilter((s) => bytesEqual(s.peerIdentity, pki("p2")));
    assert.equal(onlyP2(member(pki("p2"))), true);
    assert.equal(onlyP2(member(pki("p1"))), false);
    adapter.noIdentity.add(pkiHex(pki("p2")));
    assert.equal(all(member(pki("p2"))), false);
  });
});

describe("channel: StateInfo pull", () => {
  it("every requestStateInfoInterval a NoopSigned request with our MAC goes to pullPeerNum random peers of channel orgs", async (t) => {
    const adapter = new FakeAdapter();
    for (let i = 0; i < 4; i++) adapter.addMember(pki(`o1-${i}`), ORG1);
    for (let i = 0; i < 4; i++) adapter.addMember(pki(`o2-${i}`), ORG2);
    for (let i = 0; i < 4; i++) adapter.addMember(pki(`o3-${i}`), ORG3);
    adapter.addMember(pki("unknown"), new Uint8Array(0));
    const { gc, clock, selfPki } = await newChannel({ adapter, joinMsg: new TestJoinMsg(1, [ORG1, ORG2]), config: { pullIntervalMs: 3_600_000 } });
    t.after(() => gc.stop());
    await clock.advance(99);
    assert.equal(adapter.sentOf("stateInfoPullReq").length, 0);
    await clock.advance(1);
    assert.equal(adapter.sentOf("stateInfoPullReq").length, 1);
    await clock.advance(100 * 49);
    const reqs = adapter.sentOf("stateInfoPullReq");
    assert.equal(reqs.length, 50);
    const targets = new Set<string>();
    for (const { msg, peers } of reqs) {
      assert.equal(msg.isSigned(), false, "NoopSigned");
      assert.equal(msg.message.channel.byteLength, 0, "no channel field");
      assert.equal(msg.message.tag, GossipMessage_Tag.CHAN_OR_ORG);
      const content = msg.message.content;
      assert.ok(content?.$case === "stateInfoPullReq" && bytesEqual(content.value.channelMAC, generateMAC(selfPki, CHANNEL)));
      assert.equal(peers.length, 3);
      assert.equal(new Set(peers.map((p) => pkiHex(p.pkiId))).size, 3, "distinct peers");
      for (const p of peers) {
        const name = new TextDecoder().decode(p.pkiId);
        assert.match(name, /^o[12]-/, `${name} is not of a channel org`);
        assert.equal(p.endpoint, `${pkiHex(p.pkiId)}:7051`);
        targets.add(name);
      }
    }
    assert.equal(targets.size, 8, "random peers: every channel-org peer is picked over 50 rounds");
  });

  it("stateInfoPullWhenMissing (ours): while a channel member's StateInfo is missing, one such member is asked; else one peer every 8th round", async (t) => {
    const adapter = new FakeAdapter();
    const members = [...[0, 1, 2, 3].map((i) => pki(`o1-${i}`)), ...[0, 1, 2, 3].map((i) => pki(`o2-${i}`))];
    for (const [i, m] of members.entries()) adapter.addMember(m, i < 4 ? ORG1 : ORG2);
    adapter.addMember(pki("o3-0"), ORG3);
    const joinMsg = new TestJoinMsg(1, [ORG1, ORG2]);
    const { gc, clock } = await newChannel({ adapter, joinMsg, config: { pullIntervalMs: 3_600_000, stateInfoPullWhenMissing: true } });
    t.after(() => gc.stop());
    const rounds = () => adapter.sentOf("stateInfoPullReq").map((r) => r.peers.length);
    const lastTarget = () => new TextDecoder().decode(adapter.sentOf("stateInfoPullReq").at(-1)!.peers[0]!.pkiId);
    await clock.advance(300);
    assert.deepEqual(rounds(), [1, 1, 1], "StateInfo missing: every round, from one member that misses it");
    // Every member of a channel org but one has StateInfo now (ORG3's member is not in the channel and does not count).
    for (const m of members.slice(0, 7)) gc.handleMessage(received(stateInfoMsg(m, 2n), m));
    for (let i = 0; i < 5; i++) {
      await clock.advance(100);
      assert.equal(lastTarget(), "o2-3", "the one still missing is asked, for it holds its own StateInfo");
    }
    assert.deepEqual(rounds(), [1, 1, 1, 1, 1, 1, 1, 1]);
    gc.handleMessage(received(stateInfoMsg(members[7]!, 2n), members[7]!));
    await clock.advance(100 * 16);
    assert.deepEqual(rounds().slice(8), [1, 1], "nothing missing: a refresh from one peer every 8th round");
    // A new member without StateInfo: it is asked at once.
    adapter.addMember(pki("o2-new"), ORG2);
    await clock.advance(100);
    assert.deepEqual(rounds().slice(10), [1]);
    assert.equal(lastTarget(), "o2-new");
    // Without the option, Fabric's: every round from pullPeerNum peers, whatever we hold.
    const plain = await newChannel({ adapter, joinMsg, config: { pullIntervalMs: 3_600_000 }, selfPki: pki("self2") });
    t.after(() => plain.gc.stop());
    for (const m of [...members, pki("o2-new")]) plain.gc.handleMessage(received(stateInfoMsg(m, 2n), m));
    const before = adapter.sentOf("stateInfoPullReq").length;
    await plain.clock.advance(500);
    assert.equal(adapter.sentOf("stateInfoPullReq").length - before, 5);
  });

  it("answers a request whose MAC matches the sender, from a channel org, with a snapshot (TestChannelStateInfoSnapshot)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    adapter.addMember(pki("p2"), ORG2);
    const { gc } = await newChannel({ adapter });
    t.after(() => gc.stop());
    gc.handleMessage(received(stateInfoMsg(pki("p1"), 4n), pki("p1")));

    const badMac = received(stateInfoPullRequest(pki("p1"), CHANNEL, new Uint8Array([...generateMAC(pki("p1"), CHANNEL), 1])), pki("p1"));
    const otherSender = received(stateInfoPullRequest(pki("p2")), pki("p1"));
    const otherChannel = received(stateInfoPullRequest(pki("p1"), "B"), pki("p1"));
    const foreignOrg = received(stateInfoPullRequest(pki("p2")), pki("p2"));
    for (const r of [badMac, otherSender, otherChannel, foreignOrg]) {
      gc.handleMessage(r);
      assert.equal(r.responses.length, 0);
    }

    const ok = received(stateInfoPullRequest(pki("p1")), pki("p1"));
    gc.handleMessage(ok);
    assert.equal(ok.responses.length, 1);
    const reply = ok.responses[0]!;
    assert.equal(reply.tag, GossipMessage_Tag.CHAN_OR_ORG);
    assert.ok(bytesEqual(reply.channel, utf8(CHANNEL)), "the snapshot carries the channel");
    assert.equal(reply.nonce, 0n);
    const els = snapshotElements(reply);
    assert.equal(els.length, 1);
    assert.equal(stateInfoContent(els[0]!).properties?.ledgerHeight, 4n);
  });

  it("a requester of a foreign org gets our org's StateInfo only for peers with an external endpoint (TestInterOrgExternalEndpointDisclosure)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("withExternal"), ORG1, "localhost:5000", "internal:1");
    adapter.addMember(pki("noExternal"), ORG1, "", "internal:2");
    adapter.addMember(pki("inOrg2"), ORG2, "", "internal:3");
    const { gc } = await newChannel({ adapter, joinMsg: new TestJoinMsg(1, [ORG1, ORG2]) });
    t.after(() => gc.stop());
    gc.handleMessage(received(stateInfoMsg(pki("withExternal"), 0n), pki("withExternal")));
    gc.handleMessage(received(stateInfoMsg(pki("noExternal"), 0n), pki("noExternal")));
    gc.handleMessage(received(stateInfoMsg(pki("inOrg2"), 0n), pki("noExternal")));
    const names = (reply: import("../../../../src/protos/gen/gossip/message.pb.js").GossipMessage): string[] =>
      snapshotElements(reply)
        .map((m) => new TextDecoder().decode(stateInfoContent(m).pkiId))
        .sort();

    const foreign = received(stateInfoPullRequest(pki("inOrg2")), pki("inOrg2"));
    gc.handleMessage(foreign);
    assert.deepEqual(names(foreign.responses[0]!), ["inOrg2", "withExternal"]);

    const ours = received(stateInfoPullRequest(pki("noExternal")), pki("noExternal"));
    gc.handleMessage(ours);
    assert.deepEqual(names(ours.responses[0]!), ["inOrg2", "noExternal", "withExternal"]);
  });

  it("snapshots: each element needs an org in the channel, a correct MAC and a valid signature; forgotten peers are skipped", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    adapter.addMember(pki("p2"), ORG2);
    adapter.addMember(pki("p3"), ORG1);
    adapter.setOrg(pki("gone"), ORG1);
    const { gc, registry } = await newChannel({ adapter });
    t.after(() => gc.stop());
    const from = pki("p1");
    // A snapshot of another channel, and a foreign-org sender: dropped whole.
    gc.handleMessage(received(snapshotMsg("B", stateInfoMsg(pki("p1"), 4n).envelope), from));
    gc.handleMessage(received(snapshotMsg(CHANNEL, stateInfoMsg(pki("p1"), 4n).envelope), pki("p2")));
    // Elements failing a check.
    gc.handleMessage(received(snapshotMsg(CHANNEL, stateInfoMsg(pki("p1"), 4n, { channel: "B" }).envelope), from));
    gc.handleMessage(received(snapshotMsg(CHANNEL, stateInfoMsg(pki("p2"), 4n).envelope), from));
    gc.handleMessage(received(snapshotMsg(CHANNEL, stateInfoMsg(pki("p1"), 4n, { signed: false }).envelope), from));
    gc.handleMessage(received(snapshotMsg(CHANNEL, stateInfoMsg(pki("unknown"), 4n).envelope), from));
    gc.handleMessage(received(snapshotMsg(CHANNEL, snapshotMsg(CHANNEL).envelope), from));
    assert.deepEqual(gc.getPeers(), []);
    assert.equal(await rejected(registry, "BAD_SNAPSHOT"), 5);

    // A bad element stops the processing of the ones after it.
    gc.handleMessage(received(snapshotMsg(CHANNEL, stateInfoMsg(pki("p2"), 1n).envelope, stateInfoMsg(pki("p1"), 1n).envelope), from));
    assert.deepEqual(gc.getPeers(), []);

    // A peer discovery forgot is skipped, the rest are taken; nothing is forwarded or demultiplexed.
    gc.handleMessage(
      received(snapshotMsg(CHANNEL, stateInfoMsg(pki("gone"), 9n).envelope, stateInfoMsg(pki("p1"), 4n).envelope, stateInfoMsg(pki("p3"), 5n).envelope), from),
    );
    assert.deepEqual(
      gc.getPeers().map((p) => [new TextDecoder().decode(p.pkiId), p.properties?.ledgerHeight]),
      [
        ["p1", 4n],
        ["p3", 5n],
      ],
    );
    assert.equal(gc.eligibleForChannel({ pkiId: pki("gone") }), false);
    assert.equal(adapter.forwarded.length, 0);
    assert.equal(adapter.demuxed.length, 0);
  });

  it("the sweeper removes the StateInfo of peers discovery no longer knows (TestMsgStoreNotExpire)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p2"), ORG1);
    adapter.addMember(pki("p3"), ORG1);
    const { gc, clock } = await newChannel({ adapter });
    t.after(() => gc.stop());
    gc.updateLedgerHeight(1n);
    gc.handleMessage(received(stateInfoMsg(pki("p2"), 1n), pki("p2")));
    gc.handleMessage(received(stateInfoMsg(pki("p3"), 1n), pki("p3")));
    await clock.advance(200);
    const count = (from: string): number => {
      const r = received(stateInfoPullRequest(pki(from)), pki(from));
      gc.handleMessage(r);
      return snapshotElements(r.responses[0]!).length;
    };
    assert.equal(count("p2"), 3);
    // Still alive long after: no expiry of StateInfo for known peers. Now at a sweep instant (60 s).
    await clock.advance(59_800);
    assert.equal(count("p3"), 3);
    // p3 is forgotten by discovery (but may still talk to us).
    adapter.members = adapter.members.filter((m) => !bytesEqual(m.pkiId, pki("p3")));
    await clock.advance(999);
    assert.equal(count("p2"), 3, "not before the sweep");
    await clock.advance(1);
    assert.equal(count("p2"), 2);
    assert.equal(count("p3"), 2);
    assert.equal(gc.eligibleForChannel({ pkiId: pki("p3") }), false);
  });
});
