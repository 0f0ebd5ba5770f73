/** One discovery instance against a recording CommService, in virtual time (FABRIC-REFERENCE 1.6). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createDiscovery,
  DiscoveryError,
  NO_ANCHOR_PEERS,
  NOOP_DISCLOSURE_POLICY,
  resolveDiscoveryOptions,
  SEND_UNTIL_ACKED_WAIT_MS,
} from "../../../src/discovery/index.js";
import { MemoryLogger, silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider, type Registry } from "../../../src/metrics/index.js";
import { SignedGossipMessage } from "../../../src/protoext/signed-message.js";
import { GossipMessage_Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { fromUtf8, utf8 } from "../../../src/util/bytes.js";
import { type Clock, sleepOn } from "../../../src/util/clock.js";
import { ManualClock } from "../../../src/util/manual-clock.js";
import { SeededRandom } from "../../../src/util/random.js";
import { TEST_OPTIONS } from "./harness.js";
import { aliveOf, fixture, memRes, RecordingComm, RemotePeer } from "./recording-comm.js";

const ALIVE = TEST_OPTIONS.aliveTimeIntervalMs!;
const EXPIRATION = TEST_OPTIONS.aliveExpirationTimeoutMs!;
const CHECK = TEST_OPTIONS.aliveExpirationCheckIntervalMs!;
const RECONNECT = TEST_OPTIONS.reconnectIntervalMs!;
const TTL = EXPIRATION * TEST_OPTIONS.msgExpirationFactor!;

function ids(members: { pkiId: Uint8Array }[]): string[] {
  return members.map((m) => fromUtf8(m.pkiId)).sort();
}

/** Members declared dead for `cause` (fabric_gossip_discovery_expired_total). */
async function expired(registry: Registry, cause: string): Promise<number> {
  const metric = await registry.getSingleMetric("fabric_gossip_discovery_expired_total")!.get();
  return metric.values.find((v) => v.labels["cause"] === cause)?.value ?? 0;
}

async function rejected(registry: Registry, reason: string): Promise<number> {
  const metric = await registry.getSingleMetric("fabric_gossip_discovery_rejected_total")!.get();
  return metric.values.find((v) => v.labels["reason"] === reason)?.value ?? 0;
}

describe("configuration", () => {
  it("Fabric's defaults, and derived values when only some options are given", () => {
    assert.deepEqual(resolveDiscoveryOptions(), {
      aliveTimeIntervalMs: 5_000,
      aliveExpirationTimeoutMs: 25_000,
      aliveExpirationCheckIntervalMs: 2_500,
      reconnectIntervalMs: 25_000,
      maxConnectionAttempts: 120,
      msgExpirationFactor: 20,
      bootstrapPeers: [],
      maxMembersPerResponse: 1_000,
      maxMemberEntriesPerSenderPerInterval: 5_000,
      maxNewMembersPerOrgPerInterval: 500,
      memberQuotaIntervalMs: 60_000,
      maxKnownMembersPerOrg: 2_000,
      maxKnownMembers: 10_000,
      maxReconnectPingsInFlight: 32,
      maxReconnectBackoffMs: 400_000,
      membershipDelta: false,
      livenessFromTraffic: false,
      aliveFollowsFabricPeers: false,
    });
    const o = resolveDiscoveryOptions({ aliveTimeIntervalMs: 300 });
    assert.equal(o.aliveExpirationTimeoutMs, 1_500);
    assert.equal(o.aliveExpirationCheckIntervalMs, 150);
    assert.equal(o.reconnectIntervalMs, 1_500);
    assert.equal(o.maxReconnectBackoffMs, 16 * 1_500, "the back-off cap follows reconnectInterval");
    assert.equal(SEND_UNTIL_ACKED_WAIT_MS, 5_000);
  });

  it("the internal endpoint must be host:port (Fabric's validateSelfConfig)", () => {
    const components = {
      clock: new ManualClock(),
      random: new SeededRandom(1),
      logger: silentLogger,
      metrics: memoryMetricsProvider(),
      comm: new RecordingComm(),
      crypto: { validateAliveMsg: () => true, signMessage: () => undefined },
      disclosurePolicy: NOOP_DISCLOSURE_POLICY,
      anchorPeerTracker: NO_ANCHOR_PEERS,
    };
    const make = (internalEndpoint: string) => () =>
      createDiscovery({ endpoint: "", internalEndpoint, pkiId: utf8("x"), metadata: new Uint8Array(0) }, components);
    for (const bad of ["", "host", "a:b:7051", "host:port", "host:70000", "[::1]:7051"]) {
      assert.throws(make(bad), (e: unknown) => e instanceof DiscoveryError && e.code === "BAD_SELF_ENDPOINT", bad);
    }
    assert.doesNotThrow(make("peer0.org1.example.com:7051"));
  });
});

describe("heartbeat", () => {
  it("TestNoSigningIfNoMembership: nothing is signed or gossiped while the membership is empty", async () => {
    const f = await fixture();
    await f.clock.advance(10 * ALIVE);
    f.disc.initiateSync(10_000);
    assert.equal(f.stats.signs, 0);
    assert.equal(f.comm.gossiped.length, 0);
    assert.equal(f.comm.sent.length, 0);
    await f.disc.stop();
  });

  it("every aliveTimeInterval: signed alive with inc_num = start time in ns, growing seq, internal endpoint secret, identity only during publishCertPeriod", async () => {
    const f = await fixture({ externalEndpoint: "ext.example.com:7051", publishCertPeriodMs: 2_000 });
    const startNs = f.clock.nowNs();
    const peer = new RemotePeer("p1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    await f.clock.advance(ALIVE);
    assert.equal(f.comm.gossiped.length, 1);
    await f.clock.advance(9 * ALIVE);
    assert.equal(f.comm.gossiped.length, 10);
    let lastSeq = 0n;
    for (const msg of f.comm.gossiped) {
      const am = aliveOf(msg);
      assert.equal(am.timestamp!.incNum, startNs);
      assert.ok(am.timestamp!.seqNum > lastSeq);
      lastSeq = am.timestamp!.seqNum;
      assert.equal(am.membership!.endpoint, "ext.example.com:7051");
      assert.equal(msg.internalEndpoint(), "self:7051");
      assert.equal(msg.message.tag, GossipMessage_Tag.EMPTY);
      assert.ok(msg.isSigned());
    }
    // publishCertPeriod 2 s: heartbeats at 0.3..1.8 s carry the identity, later ones do not.
    assert.equal(fromUtf8(aliveOf(f.comm.gossiped[0]!).identity), "self:7051");
    assert.equal(aliveOf(f.comm.gossiped[9]!).identity.byteLength, 0);
    await f.disc.stop();
  });

  it("self() and lookup(self): our member with the internal endpoint; self() consumes a sequence number; updates reach the next alive", async () => {
    const f = await fixture({ externalEndpoint: "ext:7051" });
    const peer = new RemotePeer("p1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    await f.clock.advance(ALIVE);
    const seq1 = aliveOf(f.comm.gossiped[0]!).timestamp!.seqNum;
    const me = f.disc.self();
    assert.equal(me.endpoint, "ext:7051");
    assert.equal(me.internalEndpoint, "self:7051");
    const selfAlive = aliveOf(SignedGossipMessage.fromEnvelope(me.envelope!));
    assert.equal(selfAlive.timestamp!.seqNum, seq1 + 1n);
    assert.equal(f.disc.lookup(f.self.pkiId)?.internalEndpoint, "self:7051");
    f.disc.updateMetadata(utf8("meta"));
    f.disc.updateEndpoint("new-ext:7051");
    await f.clock.advance(ALIVE);
    const next = aliveOf(f.comm.gossiped[1]!);
    assert.equal(next.timestamp!.seqNum, seq1 + 2n);
    assert.equal(fromUtf8(next.membership!.metadata), "meta");
    assert.equal(next.membership!.endpoint, "new-ext:7051");
    await f.disc.stop();
  });
});

describe("receiving alive messages", () => {
  it("learns a new peer, stores and forwards its alive message once; a duplicate is neither validated again nor forwarded", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051", 1_000n, "10.0.0.1:7051");
    const msg = peer.alive();
    const rm = f.comm.deliver(msg, utf8("relay:7051"));
    assert.deepEqual(ids(f.disc.getMembership()), ["p1:7051"]);
    assert.equal(f.disc.getMembership()[0]!.internalEndpoint, "10.0.0.1:7051");
    assert.equal(f.disc.lookup(peer.pkiId)?.endpoint, "p1:7051");
    assert.equal(f.comm.forwarded.length, 1);
    assert.equal(f.comm.forwarded[0], rm, "forwarded through the adapter, which excludes the sender");
    assert.equal(f.stats.validations, 1);
    f.comm.deliver(msg, utf8("relay2:7051"));
    assert.equal(f.comm.forwarded.length, 1);
    assert.equal(f.stats.validations, 1, "TestValidation: validated once per store entry");
    assert.equal(await rejected(f.registry, "STALE"), 1);
    await f.disc.stop();
  });

  it("a newer alive refreshes endpoint and metadata, an older one is dropped; the internal endpoint is kept when a message has no secret", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051", 1_000n, "10.0.0.1:7051");
    const first = peer.alive();
    const second = peer.alive({ secret: false, metadata: "m2", endpoint: "p1-new:7051" });
    f.comm.deliver(second, peer.pkiId);
    f.comm.deliver(first, peer.pkiId);
    assert.equal(f.comm.forwarded.length, 1, "the older message is stale");
    const m = f.disc.lookup(peer.pkiId)!;
    assert.equal(m.endpoint, "p1-new:7051");
    assert.equal(m.internalEndpoint, "", "learned from a message without a secret");
    f.comm.deliver(peer.alive({ metadata: "m3" }), peer.pkiId);
    f.comm.deliver(peer.alive({ secret: false, metadata: "m4" }), peer.pkiId);
    const n = f.disc.lookup(peer.pkiId)!;
    assert.equal(fromUtf8(n.metadata), "m4");
    assert.equal(n.internalEndpoint, "10.0.0.1:7051", "a later message without a secret keeps the known internal endpoint");
    await f.disc.stop();
  });

  it("our own alive message is ignored and not forwarded; a twin with another endpoint is reported", async () => {
    const logger = new MemoryLogger();
    const f = await fixture({ logger });
    const twin = new RemotePeer("self:7051", 5n, "other:7051");
    f.comm.deliver(twin.alive(), utf8("relay:7051"));
    assert.equal(f.disc.getMembership().length, 0);
    assert.equal(f.comm.forwarded.length, 0);
    assert.ok(logger.lines.some((l) => l.level === "error" && l.msg.startsWith("Bad configuration detected")));
    await f.disc.stop();
  });

  it("an earlier run of ours with a later incarnation (the clock went back since) is outdone: our next alive message carries a later incNum", async () => {
    const logger = new MemoryLogger();
    const f = await fixture({ logger });
    const startNs = f.clock.nowNs();
    const peer = new RemotePeer("p1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    await f.clock.advance(ALIVE);
    const own = f.comm.gossiped.at(-1)!;
    assert.equal(aliveOf(own).timestamp!.incNum, startNs);
    // Our own current message echoed back changes nothing.
    f.comm.deliver(own, utf8("relay:7051"));
    await f.clock.advance(ALIVE);
    assert.equal(aliveOf(f.comm.gossiped.at(-1)!).timestamp!.incNum, startNs, "an echo of our own message is not an earlier run");
    // The run before this one started with the clock an hour ahead: peers hold it as dead, and tell us in a response.
    const hourNs = 3_600_000_000_000n;
    const earlier = new RemotePeer("self:7051", startNs + hourNs);
    f.comm.deliver(memRes(7n, [], [earlier.alive()]), utf8("responder:7051"));
    await f.clock.advance(ALIVE);
    const next = aliveOf(f.comm.gossiped.at(-1)!).timestamp!;
    assert.equal(next.incNum, startNs + hourNs + 1n, "a later incarnation than the earlier run's");
    assert.equal(next.seqNum, 1n);
    assert.equal(logger.lines.filter((l) => l.level === "warn" && l.msg.startsWith("An earlier run of this peer")).length, 1);
    // A pushed alive message (relayed) of a run later still is outdone too.
    const later = new RemotePeer("self:7051", startNs + 2n * hourNs);
    f.comm.deliver(later.alive(), utf8("relay:7051"));
    await f.clock.advance(ALIVE);
    assert.equal(aliveOf(f.comm.gossiped.at(-1)!).timestamp!.incNum, startNs + 2n * hourNs + 1n);
    // An unauthentic one moves nothing.
    const forged = SignedGossipMessage.fromEnvelope({ ...new RemotePeer("self:7051", startNs + 3n * hourNs).alive().envelope, signature: utf8("not the payload") });
    f.comm.deliver(memRes(8n, [], [forged]), utf8("responder:7051"));
    await f.clock.advance(ALIVE);
    assert.equal(aliveOf(f.comm.gossiped.at(-1)!).timestamp!.incNum, startNs + 2n * hourNs + 1n, "a forged earlier run is ignored");
    assert.equal(f.disc.getMembership().length, 1, "only p1 is a member: our own runs are never learned");
    await f.disc.stop();
  });

  it("unauthentic or malformed alive messages are dropped with a reason", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051");
    const good = peer.alive();
    const forged = SignedGossipMessage.fromEnvelope({ ...good.envelope, signature: utf8("not the payload") });
    f.comm.deliver(forged, peer.pkiId);
    const noTimestamp = SignedGossipMessage.sign(
      { ...good.message, content: { $case: "aliveMsg", value: { ...aliveOf(good), timestamp: undefined } } },
      (b) => b,
    );
    f.comm.deliver(noTimestamp, peer.pkiId);
    f.comm.deliver(
      SignedGossipMessage.noopSign({ nonce: 0n, channel: new Uint8Array(0), tag: GossipMessage_Tag.EMPTY, content: { $case: "empty", value: {} } }),
      peer.pkiId,
    );
    assert.equal(f.disc.getMembership().length, 0);
    assert.equal(f.comm.forwarded.length, 0);
    assert.equal(await rejected(f.registry, "INVALID_SIGNATURE"), 1);
    assert.equal(await rejected(f.registry, "MALFORMED"), 1);
    assert.equal(await rejected(f.registry, "WRONG_TYPE"), 1);
    await f.disc.stop();
  });
});

describe("forged alive messages count against whoever sends them", () => {
  it("a relayed forged alive message of a known member is the relayer's offence; its own bad one the sender's", async () => {
    const f = await fixture();
    const victim = new RemotePeer("p1:7051");
    const relayer = new RemotePeer("p2:7051");
    f.comm.deliver(victim.alive(), victim.pkiId);
    f.comm.deliver(relayer.alive(), relayer.pkiId);
    const forged = SignedGossipMessage.fromEnvelope({ ...victim.alive().envelope, signature: utf8("not the payload") });
    f.comm.deliver(forged, relayer.pkiId);
    assert.deepEqual(f.comm.misbehaviours, [{ from: "p2:7051", code: "INVALID_SIGNATURE" }]);
    f.comm.deliver(SignedGossipMessage.fromEnvelope({ ...relayer.alive().envelope, signature: utf8("no") }), relayer.pkiId);
    assert.equal(f.comm.misbehaviours.length, 2);
    // A forged entry in a membership response is the responder's.
    f.comm.deliver(memRes(0n, [SignedGossipMessage.fromEnvelope({ ...new RemotePeer("p3:7051").alive().envelope, signature: utf8("no") })]), relayer.pkiId);
    await f.clock.advance(0);
    assert.deepEqual(f.comm.misbehaviours.at(-1), { from: "p2:7051", code: "INVALID_SIGNATURE" });
    await f.disc.stop();
  });
});

describe("membership request and response", () => {
  it("answers a MembershipRequest: learns the requester, replies NoopSigned with the nonce, our alive message, alive and dead peers", async () => {
    const f = await fixture();
    const known = new RemotePeer("p1:7051");
    const dying = new RemotePeer("p2:7051");
    f.comm.deliver(known.alive(), known.pkiId);
    f.comm.deliver(dying.alive(), dying.pkiId);
    await f.clock.advance(ALIVE); // our first heartbeat becomes selfAliveMessage
    for (let i = 0; i < 12; i++) {
      f.comm.deliver(known.alive(), known.pkiId);
      await f.clock.advance(ALIVE);
    }
    assert.deepEqual(ids(f.disc.getMembership()), ["p1:7051"], "p2 expired");
    const requester = new RemotePeer("req:7051", 7n, "10.9.9.9:7051");
    f.comm.deliver(requester.memReq(777n), requester.pkiId);
    assert.ok(ids(f.disc.getMembership()).includes("req:7051"), "the requester is learned");
    const [reply] = f.comm.sentOf("memRes");
    assert.ok(reply !== undefined);
    assert.equal(fromUtf8(reply.peer.pkiId), "req:7051");
    assert.equal(reply.peer.internalEndpoint, "10.9.9.9:7051");
    assert.equal(reply.msg.message.nonce, 777n);
    assert.equal(reply.msg.isSigned(), false);
    const res = reply.msg.message.content?.$case === "memRes" ? reply.msg.message.content.value : undefined;
    const aliveIds = res!.alive.map((e) => fromUtf8(aliveOf(SignedGossipMessage.fromEnvelope(e)).membership!.pkiId)).sort();
    assert.deepEqual(aliveIds, ["p1:7051", "req:7051", "self:7051"]);
    const deadIds = res!.dead.map((e) => fromUtf8(aliveOf(SignedGossipMessage.fromEnvelope(e)).membership!.pkiId));
    assert.deepEqual(deadIds, ["p2:7051"]);
    const ours = res!.alive.map((e) => SignedGossipMessage.fromEnvelope(e)).find((m) => fromUtf8(aliveOf(m).membership!.pkiId) === "self:7051")!;
    assert.equal(ours.internalEndpoint(), "self:7051");
    await f.disc.stop();
  });

  it("membershipDelta (ours): a request's known members are left out of the response; with the option our sync requests list them", async () => {
    const f = await fixture({ options: { membershipDelta: true } });
    const peers = ["p1:7051", "p2:7051", "p3:7051"].map((e) => new RemotePeer(e));
    for (const p of peers) f.comm.deliver(p.alive(), p.pkiId);
    await f.clock.advance(ALIVE);
    const requester = new RemotePeer("req:7051");
    f.comm.deliver(requester.memReq(5n, requester.alive().envelope, [peers[0]!.pkiId, peers[1]!.pkiId]), requester.pkiId);
    const [reply] = f.comm.sentOf("memRes");
    const res = reply!.msg.message.content?.$case === "memRes" ? reply!.msg.message.content.value : undefined;
    const aliveIds = res!.alive.map((e) => fromUtf8(aliveOf(SignedGossipMessage.fromEnvelope(e)).membership!.pkiId)).sort();
    assert.deepEqual(aliveIds, ["p3:7051", "self:7051"], "p1 and p2 were listed as known: left out; the requester's own (its request carried it) too; ours in");
    // Our periodic sync request lists the members we hold alive.
    f.disc.initiateSync(1);
    const [req] = f.comm.sentOf("memReq");
    const known = req!.msg.message.content?.$case === "memReq" ? req!.msg.message.content.value.known.map((k) => fromUtf8(k)).sort() : [];
    assert.deepEqual(known, ["p1:7051", "p2:7051", "p3:7051", "req:7051"]);
    // A member not heard of for a quarter of aliveExpirationTimeout is listed by the version we hold (an
    // 8-byte tag), not by PKI-ID: a response brings it whenever the responder holds another version.
    for (let t = 0; t < EXPIRATION / 4 + ALIVE; t += ALIVE) {
      for (const p of [peers[0]!, peers[1]!, requester]) f.comm.deliver(p.alive(), p.pkiId);
      await f.clock.advance(ALIVE);
    }
    f.disc.initiateSync(1);
    const again = f.comm.sentOf("memReq").at(-1)!;
    const entries = again.msg.message.content?.$case === "memReq" ? again.msg.message.content.value.known : [];
    const listed = entries.map((k) => fromUtf8(k)).filter((k) => k.endsWith(":7051")).sort();
    assert.deepEqual(listed, ["p1:7051", "p2:7051", "req:7051"], "p3 went quiet: not listed by PKI-ID");
    assert.equal(entries.length, 4, "p3 by the version we hold");
    await f.disc.stop();
    // Without the option (Fabric's behaviour) the list stays empty.
    const g = await fixture();
    g.comm.deliver(peers[0]!.alive(), peers[0]!.pkiId);
    g.disc.initiateSync(1);
    const [plain] = g.comm.sentOf("memReq");
    assert.equal(plain!.msg.message.content?.$case === "memReq" ? plain!.msg.message.content.value.known.length : -1, 0);
    await g.disc.stop();
  });

  it("applies the disclosure policy; if our own alive message may not be disclosed nothing is sent and the connection is closed", async () => {
    const hidden = new Set(["secret:7051"]);
    const f = await fixture({
      disclosurePolicy: (remote) => ({
        sieve: (msg) => !(fromUtf8(remote.pkiId) === "stranger:7051" && fromUtf8(aliveOf(msg).membership!.pkiId) === "self:7051")
          && !hidden.has(fromUtf8(aliveOf(msg).membership!.pkiId)),
        envelopeFilter: (msg) => msg.withoutSecret().envelope,
      }),
    });
    const secret = new RemotePeer("secret:7051");
    const open = new RemotePeer("open:7051");
    f.comm.deliver(secret.alive(), secret.pkiId);
    f.comm.deliver(open.alive(), open.pkiId);
    const asker = new RemotePeer("asker:7051");
    f.comm.deliver(asker.memReq(1n), asker.pkiId);
    const [reply] = f.comm.sentOf("memRes");
    const res = reply!.msg.message.content?.$case === "memRes" ? reply!.msg.message.content.value : undefined;
    const got = res!.alive.map((e) => SignedGossipMessage.fromEnvelope(e));
    assert.deepEqual(got.map((m) => fromUtf8(aliveOf(m).membership!.pkiId)).sort(), ["asker:7051", "open:7051", "self:7051"]);
    assert.ok(got.every((m) => m.envelope.secretEnvelope === undefined), "the envelope filter removed the secrets");

    const stranger = new RemotePeer("stranger:7051");
    f.comm.deliver(stranger.memReq(2n), stranger.pkiId);
    assert.equal(f.comm.sentOf("memRes").length, 1, "no response to a peer that may not know us");
    assert.deepEqual(f.comm.closed.map((m) => fromUtf8(m.pkiId)), ["stranger:7051"]);
    await f.disc.stop();
  });

  it("a MembershipResponse: alive entries are learned but neither stored nor forwarded; unknown dead entries are learned as dead", async () => {
    const f = await fixture();
    const a = new RemotePeer("a:7051");
    const dead = new RemotePeer("dead:7051");
    const aliveMsg = a.alive();
    f.comm.deliver(memRes(5n, [aliveMsg], [dead.alive()]), utf8("responder:7051"));
    assert.deepEqual(ids(f.disc.getMembership()), ["a:7051"]);
    assert.equal(f.comm.forwarded.length, 0, "not forwarded");
    assert.ok(f.disc.lookup(dead.pkiId) !== undefined, "the dead peer is known");
    assert.ok(!ids(f.disc.getMembership()).includes("dead:7051"));
    // Not in the store: the same message pushed later is accepted (validated and forwarded).
    f.comm.deliver(aliveMsg, a.pkiId);
    assert.equal(f.comm.forwarded.length, 1);
    // The dead peer is pinged by the reconnect loop.
    await f.clock.advance(RECONNECT + 10);
    assert.ok(f.comm.pinged.some((m) => fromUtf8(m.pkiId) === "dead:7051"));
    await f.disc.stop();
  });

  it("TestValidation: a stored alive message is not validated again when it comes in a response, but is when it comes in a request", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051");
    const msg = peer.alive();
    f.comm.deliver(msg, peer.pkiId);
    assert.equal(f.stats.validations, 1);
    f.comm.deliver(memRes(1n, [msg]), utf8("x:1"));
    assert.equal(f.stats.validations, 1, "response entry stopped by the store before validation");
    f.comm.deliver(peer.memReq(2n, msg.envelope), peer.pkiId);
    assert.equal(f.stats.validations, 2, "request self information is validated before the store check");
    // A fresh entry in a response is validated.
    f.comm.deliver(memRes(3n, [new RemotePeer("p2:7051").alive()]), utf8("x:1"));
    assert.equal(f.stats.validations, 3);
    await f.disc.stop();
  });

  it("an unauthentic MembershipRequest is neither learned nor answered", async () => {
    const f = await fixture({ validate: (m) => fromUtf8(aliveOf(m).membership!.pkiId) !== "liar:1" });
    const liar = new RemotePeer("liar:1");
    f.comm.deliver(liar.memReq(9n), liar.pkiId);
    assert.equal(f.disc.lookup(liar.pkiId), undefined);
    assert.equal(f.comm.sentOf("memRes").length, 0);
    await f.disc.stop();
  });

  it("initiateSync: a NoopSigned MembershipRequest with our signed alive (with secret) and empty known, to up to N random alive peers", async () => {
    const f = await fixture();
    const peers = ["a:1", "b:2", "c:3", "d:4", "e:5"].map((e) => new RemotePeer(e, 1n, `in-${e}`));
    for (const p of peers) f.comm.deliver(p.alive(), p.pkiId);
    f.disc.initiateSync(3);
    const reqs = f.comm.sentOf("memReq");
    assert.equal(reqs.length, 3);
    assert.equal(new Set(reqs.map((r) => fromUtf8(r.peer.pkiId))).size, 3);
    for (const r of reqs) {
      assert.equal(r.peer.internalEndpoint, `in-${fromUtf8(r.peer.pkiId)}`);
      assert.equal(r.msg.isSigned(), false);
      assert.equal(r.msg.message.nonce, 0n);
      const req = r.msg.message.content?.$case === "memReq" ? r.msg.message.content.value : undefined;
      assert.deepEqual(req!.known, []);
      const selfInfo = SignedGossipMessage.fromEnvelope(req!.selfInformation!);
      assert.ok(selfInfo.isSigned());
      assert.equal(selfInfo.internalEndpoint(), "self:7051");
    }
    f.disc.initiateSync(100);
    assert.equal(f.comm.sentOf("memReq").length, 3 + 5);
    await f.disc.stop();
  });
});

describe("connect", () => {
  it("TestGossipDiscoverySkipConnectingToLocalhostBootstrap: never connects to itself", async () => {
    const f = await fixture({ endpoint: "peer0:7051", externalEndpoint: "ext0:7051" });
    let calls = 0;
    const id = async () => {
      calls++;
      return { id: utf8("x"), selfOrg: true };
    };
    for (const e of ["localhost:7051", "127.0.0.1:7051", "peer0:7051", "ext0:7051"]) {
      f.disc.connect({ endpoint: e, internalEndpoint: e, pkiId: new Uint8Array(0), metadata: new Uint8Array(0) }, id);
    }
    await f.clock.advance(10);
    assert.equal(calls, 0);
    assert.equal(f.comm.sent.length, 0);
    await f.disc.stop();
  });

  it("retries the identifier every reconnectInterval up to maxConnectionAttempts", async () => {
    const f = await fixture({ options: { maxConnectionAttempts: 3 } });
    const times: number[] = [];
    f.disc.connect({ endpoint: "b:1", internalEndpoint: "b:1", pkiId: new Uint8Array(0), metadata: new Uint8Array(0) }, async () => {
      times.push(f.clock.monotonic());
      throw new Error("unreachable");
    });
    await f.clock.advance(10 * RECONNECT);
    assert.equal(times.length, 3);
    assert.equal(times[1]! - times[0]!, RECONNECT);
    assert.equal(times[2]! - times[1]!, RECONNECT);
    await f.disc.stop();
  });

  it("sends a MembershipRequest with a random nonce until a response with that nonce arrives (5 s wait, then reconnectInterval)", async () => {
    const f = await fixture();
    const boot = new RemotePeer("boot:7051");
    f.disc.connect({ endpoint: "boot:7051", internalEndpoint: "boot:7051", pkiId: new Uint8Array(0), metadata: new Uint8Array(0) }, async () => ({
      id: boot.pkiId,
      selfOrg: true,
    }));
    await f.clock.advance(1);
    const first = f.comm.sentOf("memReq");
    assert.equal(first.length, 1);
    const nonce = first[0]!.msg.message.nonce;
    assert.notEqual(nonce, 0n);
    assert.equal(fromUtf8(first[0]!.peer.pkiId), "boot:7051", "addressed to the identified PKI-ID");
    const req = first[0]!.msg.message.content?.$case === "memReq" ? first[0]!.msg.message.content.value : undefined;
    assert.equal(SignedGossipMessage.fromEnvelope(req!.selfInformation!).internalEndpoint(), "self:7051", "same org: internal endpoint included");
    await f.clock.advance(SEND_UNTIL_ACKED_WAIT_MS + RECONNECT - 2);
    assert.equal(f.comm.sentOf("memReq").length, 1);
    await f.clock.advance(2);
    assert.equal(f.comm.sentOf("memReq").length, 2, "resent after 5 s + reconnectInterval");
    f.comm.deliver(memRes(nonce, [boot.alive()]), boot.pkiId);
    assert.deepEqual(ids(f.disc.getMembership()), ["boot:7051"]);
    await f.clock.advance(5 * (SEND_UNTIL_ACKED_WAIT_MS + RECONNECT));
    assert.equal(f.comm.sentOf("memReq").length, 2, "acknowledged: no more requests");
    await f.disc.stop();
  });

  it("a peer of another org gets a MembershipRequest without our internal endpoint", async () => {
    const f = await fixture();
    f.disc.connect({ endpoint: "b:1", internalEndpoint: "b:1", pkiId: new Uint8Array(0), metadata: new Uint8Array(0) }, async () => ({
      id: utf8("b:1"),
      selfOrg: false,
    }));
    await f.clock.advance(1);
    const [r] = f.comm.sentOf("memReq");
    const req = r!.msg.message.content?.$case === "memReq" ? r!.msg.message.content.value : undefined;
    assert.equal(req!.selfInformation!.secretEnvelope, undefined);
    await f.disc.stop();
  });
});

describe("expiration, presumed dead, identity switch, reconnect", () => {
  it("a silent peer becomes dead at the first check after aliveExpirationTimeout, and its connection is closed", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051");
    const t0 = f.clock.monotonic();
    f.comm.deliver(peer.alive(), peer.pkiId);
    // Checks run at CHECK, 2 CHECK, ...; dead at the first with now - lastSeen > EXPIRATION.
    await f.clock.advance(EXPIRATION);
    assert.equal(f.disc.getMembership().length, 1);
    await f.clock.advance(CHECK);
    assert.equal(f.disc.getMembership().length, 0);
    assert.ok(f.clock.monotonic() - t0 <= EXPIRATION + CHECK);
    assert.deepEqual(f.comm.closed.map((m) => fromUtf8(m.pkiId)), ["p1:7051"]);
    assert.ok(f.disc.lookup(peer.pkiId) !== undefined);
    // Resurrection by a newer alive message.
    f.comm.deliver(peer.alive(), peer.pkiId);
    assert.deepEqual(ids(f.disc.getMembership()), ["p1:7051"]);
    assert.deepEqual(
      f.events.map((e) => (e.kind === "member-dead" ? `${e.kind} ${e.endpoint} ${e.cause}` : `${e.kind} ${"endpoint" in e ? e.endpoint : ""}`)),
      ["member-alive p1:7051", "member-dead p1:7051 expired", "member-alive p1:7051"],
      "learned, declared dead on expiry, resurrected: each told once as a typed event",
    );
    assert.deepEqual([await expired(f.registry, "expired"), await expired(f.registry, "presumed-dead")], [1, 0], "counted by cause");
    await f.disc.stop();
  });

  it("presumed dead: an alive peer expires immediately; an unknown one is ignored", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    for (const l of f.comm.deadListeners) l(utf8("unknown:1"));
    for (const l of f.comm.deadListeners) l(peer.pkiId);
    assert.equal(f.disc.getMembership().length, 0);
    assert.equal(f.comm.closed.length, 1);
    for (const l of f.comm.deadListeners) l(peer.pkiId);
    assert.equal(f.comm.closed.length, 1, "already dead: nothing more");
    assert.deepEqual(
      f.events.filter((e) => e.kind === "member-dead").map((e) => (e.kind === "member-dead" ? e.cause : "")),
      ["presumed-dead"],
      "one death declaration, caused by comm",
    );
    assert.deepEqual([await expired(f.registry, "expired"), await expired(f.registry, "presumed-dead")], [0, 1], "counted by cause");
    await f.disc.stop();
  });

  it("presumed dead at an endpoint the member no longer announces (a stopped twin): ignored; at its own endpoint: dead", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051", 1n, "10.0.0.1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    for (const l of f.comm.deadListeners) l(peer.pkiId, "10.0.0.9:7051");
    assert.equal(f.disc.getMembership().length, 1, "a dial to another endpoint failing says nothing of this one");
    for (const l of f.comm.deadListeners) l(peer.pkiId, "10.0.0.1:7051");
    assert.equal(f.disc.getMembership().length, 0, "its internal endpoint failing: presumed dead");
    assert.deepEqual(
      f.events.filter((e) => e.kind === "member-dead").map((e) => (e.kind === "member-dead" ? e.cause : "")),
      ["presumed-dead"],
    );
    await f.disc.stop();
  });

  /** A frozen event loop: no timer runs before `stalledUntil`, and then they run late, before any input. */
  const stallingClock = (stalledUntil: () => number) => (inner: ManualClock): Clock => ({
    now: () => inner.now(),
    nowNs: () => inner.nowNs(),
    monotonic: () => inner.monotonic(),
    setTimeout(fn, ms) {
      let handle = inner.setTimeout(function fire() {
        if (inner.monotonic() < stalledUntil()) handle = inner.setTimeout(fire, stalledUntil() - inner.monotonic());
        else fn();
      }, ms);
      return { cancel: () => handle.cancel() };
    },
    sleep(ms, signal) {
      return sleepOn(this, ms, signal);
    },
  });

  it("an event loop held up longer than aliveExpirationTimeout declares nobody dead when it wakes (S16); a silence after it still expires", async () => {
    let stalledUntil = 0;
    const f = await fixture({ wrapClock: stallingClock(() => stalledUntil) });
    const peer = new RemotePeer("p1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    await f.clock.advance(ALIVE);
    f.comm.deliver(peer.alive(), peer.pkiId);
    stalledUntil = f.clock.monotonic() + EXPIRATION + 2 * CHECK;
    await f.clock.advance(EXPIRATION + 2 * CHECK);
    // Awake: the late check has run; what p1 sent during the stall is read only now.
    assert.deepEqual(f.events.filter((e) => e.kind === "member-dead"), [], "no death declared on waking");
    // On a loaded host the held-up input may be read only after the next check, which runs on time.
    await f.clock.advance(CHECK);
    assert.deepEqual(f.events.filter((e) => e.kind === "member-dead"), [], "nor at the next check, before that input is read");
    f.comm.deliver(peer.alive(), peer.pkiId);
    assert.equal(f.disc.getMembership().length, 1);
    // Then p1 falls silent: expired within E + a check, as without the stall.
    await f.clock.advance(EXPIRATION + 2 * CHECK);
    assert.deepEqual(
      f.events.filter((e) => e.kind === "member-dead").map((e) => (e.kind === "member-dead" ? e.cause : "")),
      ["expired"],
    );
    await f.disc.stop();
  });

  it("a failed dial or send on waking from a stall presumes nobody dead that has not been heard from since (S16)", async () => {
    let stalledUntil = 0;
    const f = await fixture({ wrapClock: stallingClock(() => stalledUntil) });
    const p1 = new RemotePeer("p1:7051");
    const p2 = new RemotePeer("p2:7051");
    f.comm.deliver(p1.alive(), p1.pkiId);
    f.comm.deliver(p2.alive(), p2.pkiId);
    stalledUntil = f.clock.monotonic() + EXPIRATION + 2 * CHECK;
    await f.clock.advance(EXPIRATION + 2 * CHECK - 1);
    // A dial's timer, late like every timer, fails before the late alive check has run.
    for (const l of f.comm.deadListeners) l(p1.pkiId, undefined);
    await f.clock.advance(1);
    // The others closed their streams to us meanwhile: a send fails once the loop reads that.
    for (const l of f.comm.deadListeners) l(p2.pkiId, undefined);
    assert.deepEqual(f.events.filter((e) => e.kind === "member-dead"), [], "nobody presumed dead on waking");
    assert.equal(f.disc.getMembership().length, 2);
    // Heard from again after the stall: a failure now is news, presumed dead as in Fabric.
    f.comm.deliver(p1.alive(), p1.pkiId);
    for (const l of f.comm.deadListeners) l(p1.pkiId, undefined);
    // A member still unheard of expires for its silence, with the stall's grace.
    await f.clock.advance(EXPIRATION + 2 * CHECK);
    assert.deepEqual(
      f.events.flatMap((e) => (e.kind === "member-dead" ? [`${e.endpoint} ${e.cause}`] : [])),
      ["p1:7051 presumed-dead", "p2:7051 expired"],
    );
    await f.disc.stop();
  });

  it("identity switch purges the peer from every map", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    for (const l of f.comm.switchListeners) l(peer.pkiId);
    assert.equal(f.disc.lookup(peer.pkiId), undefined);
    assert.deepEqual(f.events.map((e) => e.kind), ["member-alive", "member-purged"]);
    assert.equal(f.disc.getMembership().length, 0);
    await f.disc.stop();
  });

  it("heard from over a connection: marks the member first-hand again once it was purged and learned second-hand", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051");
    const relayer = new RemotePeer("p2:7051");
    // The connection's own copy of the PKI-ID, as comm keeps one per connection.
    const connId = Uint8Array.from(peer.pkiId);
    f.comm.deliver(peer.alive(), relayer.pkiId);
    assert.equal(f.disc.heardDirectly(peer.pkiId), false, "relayed: second-hand");
    f.disc.heardFrom(connId);
    f.disc.heardFrom(connId);
    assert.equal(f.disc.heardDirectly(peer.pkiId), true, "a message over its own connection");
    assert.equal(f.disc.endpointOf(connId), "p1:7051");
    for (const l of f.comm.switchListeners) l(peer.pkiId);
    assert.equal(f.disc.lookup(peer.pkiId), undefined, "purged");
    assert.equal(f.disc.endpointOf(connId), undefined);
    f.comm.deliver(peer.alive(), relayer.pkiId);
    assert.equal(f.disc.heardDirectly(peer.pkiId), false, "learned again second-hand: a new entry");
    f.disc.heardFrom(connId);
    assert.equal(f.disc.heardDirectly(peer.pkiId), true, "the same connection marks the new entry");
    await f.disc.stop();
  });

  it("reconnect: dead peers are pinged every reconnectInterval; a responsive one gets a MembershipRequest with our internal endpoint", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051", 1n, "10.0.0.1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    for (const l of f.comm.deadListeners) l(peer.pkiId);
    f.comm.pingAnswer = () => false;
    await f.clock.advance(RECONNECT);
    assert.equal(f.comm.pinged.length, 1);
    assert.equal(f.comm.pinged[0]!.internalEndpoint, "10.0.0.1:7051");
    assert.equal(f.comm.sentOf("memReq").length, 0);
    f.comm.pingAnswer = () => true;
    await f.clock.advance(RECONNECT);
    assert.equal(f.comm.pinged.length, 2);
    const [r] = f.comm.sentOf("memReq");
    assert.equal(fromUtf8(r!.peer.pkiId), "p1:7051");
    const req = r!.msg.message.content?.$case === "memReq" ? r!.msg.message.content.value : undefined;
    assert.equal(SignedGossipMessage.fromEnvelope(req!.selfInformation!).internalEndpoint(), "self:7051");
    await f.disc.stop();
  });

  it("reconnect: a round over many dead peers whose pings hang adds no listener per peer, and stop ends it", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on("warning", onWarning);
    try {
      const f = await fixture();
      const peers = Array.from({ length: 15 }, (_, i) => new RemotePeer(`p${i}:7051`));
      for (const p of peers) f.comm.deliver(p.alive(), p.pkiId);
      for (const p of peers) for (const l of f.comm.deadListeners) l(p.pkiId);
      f.comm.pingAnswer = undefined; // every ping hangs
      await f.clock.advance(RECONNECT);
      assert.equal(f.comm.pinged.length, 15, "every dead peer pinged in one round");
      await f.disc.stop();
      // Process warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.filter((w) => w === "MaxListenersExceededWarning"), []);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("alive store TTL: a dead peer is forgotten, unless its endpoint or internal endpoint is a bootstrap or anchor peer", async () => {
    const f = await fixture({
      options: { bootstrapPeers: ["boot-internal:1"] },
      anchorPeerTracker: { isAnchorPeer: (e) => e === "anchor:1" },
    });
    const plain = new RemotePeer("plain:1");
    const boot = new RemotePeer("boot:1", 1n, "boot-internal:1");
    const anchor = new RemotePeer("anchor:1", 1n, "anchor-internal:1");
    for (const p of [plain, boot, anchor]) f.comm.deliver(p.alive(), p.pkiId);
    await f.clock.advance(TTL + TTL / 100 + 1);
    assert.equal(f.disc.lookup(plain.pkiId), undefined);
    assert.ok(f.disc.lookup(boot.pkiId) !== undefined);
    assert.ok(f.disc.lookup(anchor.pkiId) !== undefined);
    assert.equal(f.disc.getMembership().length, 0);
    await f.disc.stop();
  });

  it("replay protection: after the TTL the old message is still rejected by the store, pushed or in a MembershipRequest or Response", async () => {
    const f = await fixture();
    const peer = new RemotePeer("p1:7051");
    const old = peer.alive();
    f.comm.deliver(old, peer.pkiId);
    const older = peer.alive({ seq: 0n });
    await f.clock.advance(TTL + TTL / 100 + 1);
    assert.equal(f.disc.lookup(peer.pkiId), undefined, "forgotten");
    f.comm.deliver(old, peer.pkiId);
    f.comm.deliver(older, peer.pkiId);
    f.comm.deliver(peer.memReq(3n, old.envelope), peer.pkiId);
    f.comm.deliver(memRes(4n, [old], [older]), utf8("x:1"));
    assert.equal(f.disc.lookup(peer.pkiId), undefined, "no replay brings it back");
    assert.equal(f.comm.forwarded.length, 1, "only the original was forwarded");
    // A genuinely newer message is accepted.
    f.comm.deliver(peer.alive(), peer.pkiId);
    assert.deepEqual(ids(f.disc.getMembership()), ["p1:7051"]);
    await f.disc.stop();
  });
});

describe("lifecycle", () => {
  it("stop() leaves no timer even with a connect, a sendUntilAcked and a ping in flight; it is idempotent and final", async () => {
    const f = await fixture();
    f.comm.pingAnswer = undefined; // pings never answer
    const peer = new RemotePeer("p1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    for (const l of f.comm.deadListeners) l(peer.pkiId);
    f.disc.connect({ endpoint: "never:1", internalEndpoint: "never:1", pkiId: new Uint8Array(0), metadata: new Uint8Array(0) }, () => new Promise(() => {}));
    f.disc.connect({ endpoint: "boot:1", internalEndpoint: "boot:1", pkiId: new Uint8Array(0), metadata: new Uint8Array(0) }, async () => ({
      id: utf8("boot:1"),
      selfOrg: true,
    }));
    await f.clock.advance(RECONNECT + 1);
    assert.ok(f.comm.pinged.length >= 1);
    assert.ok(f.clock.pendingTimers() > 0);
    await Promise.all([f.disc.stop(), f.disc.stop()]);
    assert.equal(f.clock.pendingTimers(), 0);
    assert.equal(f.comm.handlers.size + f.comm.deadListeners.size + f.comm.switchListeners.size, 0, "every listener removed");
    assert.deepEqual(f.disc.getMembership(), []);
    await f.disc.stop();
    await assert.rejects(f.disc.start(), (e: unknown) => e instanceof DiscoveryError && e.code === "STOPPED");
    const sent = f.comm.sent.length;
    f.disc.initiateSync(3);
    await f.clock.advance(10 * RECONNECT);
    assert.equal(f.comm.sent.length, sent);
  });

  it("start() is idempotent and nothing runs before it", async () => {
    const f = await fixture({ start: false });
    assert.equal(f.clock.pendingTimers(), 0);
    await f.disc.start();
    // Let the tasks start() spawned arm their timers (some only after a few promise hops).
    await f.clock.advance(0);
    const n = f.clock.pendingTimers();
    await f.disc.start();
    await f.clock.advance(0);
    assert.equal(f.clock.pendingTimers(), n);
    await f.disc.stop();
    assert.equal(f.clock.pendingTimers(), 0);
  });
});
