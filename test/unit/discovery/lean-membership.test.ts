/**
 * Discovery's opt-in savings for the tuned set (ours, not Fabric's): early syncs that ask every org,
 * membershipDelta's short tags and org-aware lists, and liveness from any traffic over a member's own
 * connection. One discovery instance against a recording CommService, in virtual time.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { PKIidType } from "../../../src/api/identity.js";
import type { DiscoveryOptions } from "../../../src/discovery/index.js";
import { SignedGossipMessage } from "../../../src/protoext/signed-message.js";
import { fromUtf8, toHex } from "../../../src/util/bytes.js";
import { TEST_OPTIONS } from "./harness.js";
import { aliveOf, fixture, memRes, RemotePeer } from "./recording-comm.js";

const ALIVE = TEST_OPTIONS.aliveTimeIntervalMs!;
const EXPIRATION = TEST_OPTIONS.aliveExpirationTimeoutMs!;
const CHECK = TEST_OPTIONS.aliveExpirationCheckIntervalMs!;

/** "org2-..." and "org3-..." are those orgs' members; the rest (self:7051 too) are Org1MSP's. */
function orgOf(pkiId: PKIidType): string {
  const id = fromUtf8(pkiId);
  if (id.startsWith("org2")) return "Org2MSP";
  if (id.startsWith("org3")) return "Org3MSP";
  return "Org1MSP";
}

/** The first 8 bytes of the SHA-256 of a PKI-ID, in hex: how a long PKI-ID is listed as known. */
function tagOf(pkiId: PKIidType): string {
  return createHash("sha256").update(pkiId).digest("hex").slice(0, 16);
}

/** A member's version as membershipDelta lists it: the first 8 bytes of SHA-256("v" || PKI-ID || incNum || seqNum). */
function versionTagOf(pkiId: PKIidType, incNum: bigint, seqNum: bigint): string {
  const time = Buffer.alloc(16);
  time.writeBigUInt64BE(incNum, 0);
  time.writeBigUInt64BE(seqNum, 8);
  return createHash("sha256").update("v").update(pkiId).update(time).digest("hex").slice(0, 16);
}

function requestsOf(f: Awaited<ReturnType<typeof fixture>>): { to: string; known: string[] }[] {
  return f.comm.sentOf("memReq").map((s) => ({
    to: fromUtf8(s.peer.pkiId),
    known: s.msg.message.content?.$case === "memReq" ? s.msg.message.content.value.known.map((k) => toHex(k)) : [],
  }));
}

describe("early syncs that ask every org (startupSync's initiateSync)", () => {
  it("eachOrg sends one request to a member of every org known; withAlive also gossips our alive message", async () => {
    const f = await fixture({ orgOf });
    const members = ["org1-a:7051", "org1-b:7051", "org2-a:7051", "org2-b:7051", "org2-c:7051", "org3-a:7051"].map((e) => new RemotePeer(e));
    for (const p of members) f.comm.deliver(p.alive(), p.pkiId);
    for (let round = 0; round < 5; round++) {
      f.disc.initiateSync(0, { eachOrg: true });
      const sent = requestsOf(f).slice(-3);
      assert.equal(f.comm.sentOf("memReq").length, 3 * (round + 1), "one request per org, no random extra with peerNum 0");
      assert.deepEqual(sent.map((r) => orgOf(Buffer.from(r.to))).sort(), ["Org1MSP", "Org2MSP", "Org3MSP"]);
    }
    assert.equal(f.comm.gossiped.length, 0, "no alive message without withAlive");
    f.disc.initiateSync(0, { eachOrg: true, withAlive: true });
    assert.equal(f.comm.gossiped.length, 1);
    assert.equal(fromUtf8(aliveOf(f.comm.gossiped[0]!).membership!.pkiId), "self:7051");
    // Fabric's sync (no options) still asks peerNum random members.
    const before = f.comm.sentOf("memReq").length;
    f.disc.initiateSync(2);
    assert.equal(f.comm.sentOf("memReq").length - before, 2);
    await f.disc.stop();
  });
});

describe("membershipDelta's lists (ours)", () => {
  it("lists long PKI-IDs by an 8-byte tag and only members the target may tell of; a responder leaves out tagged members", async () => {
    const f = await fixture({ orgOf, options: { membershipDelta: true } });
    const ours = new RemotePeer("org1-peer-with-a-long-name:7051");
    const theirs = new RemotePeer("org2-peer-with-a-long-name:7051");
    const third = new RemotePeer("org3-peer-with-a-long-name:7051");
    const short = new RemotePeer("org1-s:7");
    for (const p of [ours, theirs, third, short]) f.comm.deliver(p.alive(), p.pkiId);
    f.disc.initiateSync(0, { eachOrg: true });
    const byTarget = new Map(requestsOf(f).map((r) => [r.to, r.known.sort()]));
    // To Org2's member: members of Org2 and of ours (Org1); Org3's member would never be disclosed by it.
    const toOrg2 = byTarget.get(theirs.endpoint)!;
    assert.deepEqual(toOrg2, [tagOf(ours.pkiId), tagOf(theirs.pkiId), toHex(short.pkiId)].sort(), "Org3's member is not listed; a PKI-ID of 8 bytes or less is listed whole");
    // To an org-mate: only our org's members.
    const toOrg1 = byTarget.get(ours.endpoint) ?? byTarget.get(short.endpoint)!;
    assert.deepEqual(toOrg1, [tagOf(ours.pkiId), toHex(short.pkiId)].sort());
    for (const known of byTarget.values()) for (const k of known) assert.ok(k.length <= 16, "no entry longer than 8 bytes");

    // As a responder: a requester listing tags gets only the members it did not list.
    const requester = new RemotePeer("org2-requester-long-name:7051");
    f.comm.deliver(requester.memReq(9n, requester.alive().envelope, [Buffer.from(tagOf(theirs.pkiId), "hex"), Buffer.from(tagOf(ours.pkiId), "hex")]), requester.pkiId);
    const reply = f.comm.sentOf("memRes").at(-1)!;
    const res = reply.msg.message.content?.$case === "memRes" ? reply.msg.message.content.value : undefined;
    const aliveIds = res!.alive.map((e) => fromUtf8(aliveOf(SignedGossipMessage.fromEnvelope(e)).membership!.pkiId)).sort();
    assert.ok(!aliveIds.includes(theirs.endpoint) && !aliveIds.includes(ours.endpoint), `tagged members left out, got ${aliveIds.join(", ")}`);
    assert.ok(aliveIds.includes(short.endpoint) && aliveIds.includes("self:7051"), "unlisted members and ours are in");
    await f.disc.stop();
  });
  it("lists members not heard of lately by the version it holds; a responder leaves one out only when it holds that version", async () => {
    const f = await fixture({ orgOf, options: { membershipDelta: true } });
    const a = new RemotePeer("org1-a-long-name:7051");
    const b = new RemotePeer("org1-b-long-name:7051");
    for (const p of [a, b]) f.comm.deliver(p.alive(), p.pkiId);
    // Not heard of for more than a quarter of aliveExpirationTimeout: still alive, no longer fresh.
    await f.clock.advance(EXPIRATION / 4 + CHECK);
    assert.equal(f.disc.getMembership().length, 2);
    f.disc.initiateSync(0, { eachOrg: true });
    const [request] = requestsOf(f);
    assert.deepEqual(request!.known.sort(), [versionTagOf(a.pkiId, a.incNum, 1n), versionTagOf(b.pkiId, b.incNum, 1n)].sort(), "listed by version, not by PKI-ID");

    // A requester holding a at the version we hold and b at an older one gets b alone (and our own alive
    // message, since it did not list us; not its own, which its request carried).
    f.comm.deliver(b.alive(), b.pkiId);
    const requester = new RemotePeer("org1-requester-long-name:7051");
    const listed = [versionTagOf(a.pkiId, a.incNum, 1n), versionTagOf(b.pkiId, b.incNum, 1n)].map((t) => Buffer.from(t, "hex"));
    f.comm.deliver(requester.memReq(9n, requester.alive().envelope, listed), requester.pkiId);
    const reply = f.comm.sentOf("memRes").at(-1)!;
    const res = reply.msg.message.content?.$case === "memRes" ? reply.msg.message.content.value : undefined;
    const aliveIds = res!.alive.map((e) => fromUtf8(aliveOf(SignedGossipMessage.fromEnvelope(e)).membership!.pkiId)).sort();
    assert.deepEqual(aliveIds, [b.endpoint, "self:7051"].sort(), "a (same version) left out, b (newer here) sent");
    await f.disc.stop();
  });
  it("lists a member by PKI-ID until its next alive message is due (a quarter past aliveTimeInterval), never past the quiet-member ping", async () => {
    const listing = async (aliveTimeIntervalMs: number, afterMs: number[]): Promise<("tag" | "version")[]> => {
      const f = await fixture({
        orgOf,
        options: { membershipDelta: true, aliveTimeIntervalMs, aliveExpirationTimeoutMs: 25_000, aliveExpirationCheckIntervalMs: 2_500 },
      });
      const a = new RemotePeer("org1-a-long-name:7051");
      f.comm.deliver(a.alive(), a.pkiId);
      const out: ("tag" | "version")[] = [];
      let at = 0;
      for (const ms of afterMs) {
        await f.clock.advance(ms - at);
        at = ms;
        f.disc.initiateSync(0, { eachOrg: true });
        const known = requestsOf(f).at(-1)!.known;
        assert.equal(known.length, 1, `one entry at ${ms} ms`);
        out.push(known[0] === tagOf(a.pkiId) ? "tag" : known[0] === versionTagOf(a.pkiId, a.incNum, 1n) ? "version" : assert.fail(`unknown entry at ${ms} ms`));
      }
      await f.disc.stop();
      return out;
    };
    // The tuned set: alive messages every 15 s against a timeout of 25 s. A quarter of the timeout (6.25 s) would
    // list the member by version at 10 s, and every responder holding a later version would send it.
    assert.deepEqual(await listing(15_000, [6_000, 10_000, 18_000, 19_500]), ["tag", "tag", "tag", "version"]);
    // Every 20 s: due at 25 s, but a member quiet for 20 s is pinged, and from then on it is listed by version.
    assert.deepEqual(await listing(20_000, [19_500, 20_500]), ["tag", "version"]);
    // At Fabric's ratio (5 s against 25 s) the window is a quarter of the timeout, as before.
    assert.deepEqual(await listing(5_000, [6_000, 6_500]), ["tag", "version"]);
  });
  it("a requester that lists members is not sent its own alive message unless we hold a newer one, nor ours when it listed us", async () => {
    const f = await fixture({ orgOf, options: { membershipDelta: true } });
    const a = new RemotePeer("org1-a-long-name:7051");
    const requester = new RemotePeer("org1-requester-long-name:7051");
    f.comm.deliver(a.alive(), a.pkiId);
    const aliveIdsOfLastResponse = (): string[] => {
      const reply = f.comm.sentOf("memRes").at(-1)!;
      const res = reply.msg.message.content?.$case === "memRes" ? reply.msg.message.content.value : undefined;
      return res!.alive.map((e) => fromUtf8(aliveOf(SignedGossipMessage.fromEnvelope(e)).membership!.pkiId)).sort();
    };
    const listingA = [Buffer.from(tagOf(a.pkiId), "hex")];

    // Its request carries its newest alive message: nothing of its own comes back; ours does (not listed).
    f.comm.deliver(requester.memReq(1n, requester.alive().envelope, listingA), requester.pkiId);
    assert.deepEqual(aliveIdsOfLastResponse(), ["self:7051"]);

    // We hold a newer alive message of its PKI-ID than its request carried (another process with its identity,
    // or simply a later one): that one is news to it.
    const older = requester.alive().envelope;
    f.comm.deliver(requester.alive(), requester.pkiId);
    f.comm.deliver(requester.memReq(2n, older, listingA), requester.pkiId);
    assert.deepEqual(aliveIdsOfLastResponse(), [requester.endpoint, "self:7051"].sort());

    // It listed us as known: our alive message is left out too, and the response is empty.
    const listingUs = [...listingA, Buffer.from(tagOf(f.self.pkiId), "hex")];
    f.comm.deliver(requester.memReq(3n, requester.alive().envelope, listingUs), requester.pkiId);
    assert.deepEqual(aliveIdsOfLastResponse(), []);

    // A request that lists nothing (Fabric's) gets Fabric's response: every member, the requester and us included.
    f.comm.deliver(requester.memReq(4n, requester.alive().envelope), requester.pkiId);
    assert.deepEqual(aliveIdsOfLastResponse(), [a.endpoint, requester.endpoint, "self:7051"].sort());
    await f.disc.stop();
  });
});

describe("livenessFromTraffic (ours)", () => {
  it("a member whose alive messages stop reaching us stays alive while its own connection carries messages, and dies when that stops", async () => {
    for (const on of [false, true]) {
      const f = await fixture({ options: { livenessFromTraffic: on } });
      const quiet = new RemotePeer("quiet:7051");
      f.comm.deliver(quiet.alive(), quiet.pkiId);
      // No more alive messages from it, but traffic over its connection every check period.
      for (let t = 0; t < 2 * EXPIRATION; t += CHECK) {
        f.disc.heardFrom(quiet.pkiId);
        await f.clock.advance(CHECK);
      }
      const alive = f.disc.getMembership().some((m) => fromUtf8(m.pkiId) === quiet.endpoint);
      assert.equal(alive, on, on ? "kept alive by its traffic" : "Fabric's rule: only alive messages count");
      if (on) {
        // The traffic stops (it crashed): declared dead within aliveExpirationTimeout plus a check period.
        await f.clock.advance(EXPIRATION + CHECK);
        assert.ok(!f.disc.getMembership().some((m) => fromUtf8(m.pkiId) === quiet.endpoint));
        assert.ok(f.disc.getDeadMembers().some((m) => fromUtf8(m.pkiId) === quiet.endpoint));
      }
      await f.disc.stop();
    }
    assert.ok(ALIVE < EXPIRATION);
  });

  it("a member comm presumes dead (a failed dial or send) is pinged first: an answer keeps it alive, no answer declares it dead", async () => {
    const members = (f: Awaited<ReturnType<typeof fixture>>) => f.disc.getMembership().map((m) => fromUtf8(m.pkiId)).sort();
    const dead = (f: Awaited<ReturnType<typeof fixture>>) => f.disc.getDeadMembers().map((m) => fromUtf8(m.pkiId)).sort();
    const slow = new RemotePeer("slow:7051");
    const crashed = new RemotePeer("crashed:7051");
    const f = await fixture({ options: { livenessFromTraffic: true } });
    const answers = new Map<string, (answer: boolean) => void>();
    // Each ping waits for the test to answer it.
    f.comm.ping = (peer) => {
      f.comm.pinged.push(peer);
      return new Promise<boolean>((resolve) => answers.set(fromUtf8(peer.pkiId), resolve));
    };
    for (const p of [slow, crashed]) f.comm.deliver(p.alive(), p.pkiId);
    for (const p of [slow, crashed, slow]) for (const l of f.comm.deadListeners) l(p.pkiId, p.endpoint);
    assert.deepEqual(members(f), ["crashed:7051", "slow:7051"], "not dead before the ping is answered");
    assert.deepEqual(f.comm.pinged.map((m) => fromUtf8(m.pkiId)), ["slow:7051", "crashed:7051"], "one ping each, a second report waits for it");
    answers.get("slow:7051")!(true);
    answers.get("crashed:7051")!(false);
    await f.clock.advance(1);
    assert.deepEqual(members(f), ["slow:7051"], "the answer kept it alive");
    assert.deepEqual(dead(f), ["crashed:7051"]);
    await f.disc.stop();
    // Fabric's rule without the option: dead at once, nobody pinged.
    const g = await fixture();
    for (const p of [slow, crashed]) g.comm.deliver(p.alive(), p.pkiId);
    for (const p of [slow, crashed]) for (const l of g.comm.deadListeners) l(p.pkiId, p.endpoint);
    assert.deepEqual(members(g), []);
    assert.deepEqual(dead(g), ["crashed:7051", "slow:7051"]);
    assert.equal(g.comm.pinged.length, 0);
    await g.disc.stop();
  });

  it("a member quiet for all but two check periods of the timeout is pinged: an answer keeps it alive, a crashed one still expires on time", async () => {
    const f = await fixture({ options: { livenessFromTraffic: true } });
    const answering = new Set(["lucky:7051"]);
    f.comm.pingAnswer = (peer) => answering.has(fromUtf8(peer.pkiId));
    const lucky = new RemotePeer("lucky:7051");
    const crashed = new RemotePeer("crashed:7051");
    for (const p of [lucky, crashed]) f.comm.deliver(p.alive(), p.pkiId);
    await f.clock.advance(EXPIRATION - 2 * CHECK - 1);
    assert.equal(f.comm.pinged.length, 0, "nobody is quiet yet");
    await f.clock.advance(EXPIRATION / 2);
    assert.deepEqual([...new Set(f.comm.pinged.map((m) => fromUtf8(m.pkiId)))].sort(), ["crashed:7051", "lucky:7051"]);
    await f.clock.advance(EXPIRATION / 2 + 2 * CHECK);
    const alive = f.disc.getMembership().map((m) => fromUtf8(m.pkiId));
    assert.deepEqual(alive, ["lucky:7051"], "the answer kept it alive though no alive message came");
    assert.ok(f.disc.getDeadMembers().some((m) => fromUtf8(m.pkiId) === "crashed:7051"));
    await f.disc.stop();
    // Without the option nobody alive is pinged: both expire.
    const g = await fixture();
    g.comm.pingAnswer = () => true;
    for (const p of [lucky, crashed]) g.comm.deliver(p.alive(), p.pkiId);
    await g.clock.advance(EXPIRATION + CHECK);
    assert.equal(g.disc.getMembership().length, 0);
    await g.disc.stop();
  });
});

/** The alive interval in force, in seconds, as fabric_gossip_discovery_alive_interval_seconds says it. */
async function aliveIntervalGauge(f: Awaited<ReturnType<typeof fixture>>): Promise<number> {
  return (await f.registry.getSingleMetric("fabric_gossip_discovery_alive_interval_seconds")!.get()).values[0]!.value;
}

describe("aliveFollowsFabricPeers (ours)", () => {
  const TUNED = { aliveTimeIntervalMs: 15_000, aliveExpirationTimeoutMs: 25_000, aliveExpirationCheckIntervalMs: 2_500, reconnectIntervalMs: 25_000 };
  const FOLLOWING = { ...TUNED, membershipDelta: true, aliveFollowsFabricPeers: true };
  const following = (): ReturnType<typeof fixture> => fixture({ orgOf, options: FOLLOWING });
  /** `peer` pushes `count` alive messages at Fabric's pace: one now, the clock 5 s on after each. */
  async function atFabricPace(f: Awaited<ReturnType<typeof fixture>>, peer: RemotePeer, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      f.comm.deliver(peer.alive(), peer.pkiId);
      await f.clock.advance(5_000);
    }
  }
  /** The virtual times (ms from the start) at which we gossiped our alive messages, stepping `stepMs` until `untilMs`. */
  async function aliveTimes(
    f: Awaited<ReturnType<typeof fixture>>,
    untilMs: number,
    at: Map<number, () => void>,
    stepMs = 500,
  ): Promise<number[]> {
    const times: number[] = [];
    for (let t = 0; t <= untilMs; t += stepMs) {
      at.get(t)?.();
      const before = f.comm.gossiped.length;
      await f.clock.advance(stepMs);
      for (let k = before; k < f.comm.gossiped.length; k++) times.push(t + stepMs);
    }
    return times;
  }

  it("sends alive messages at Fabric's pace while an alive member sends Fabric's requests (no list), and goes back when it lists or dies", async () => {
    const f = await following();
    const fabric = new RemotePeer("org1-fabric:7051");
    const ours = new RemotePeer("org1-ours:7051");
    let fabricUp = true;
    const script = new Map<number, () => void>();
    // Fabric's peer: an alive message every 5 s while it runs, and requests that list nothing. One of ours stays alive throughout.
    for (let t = 0; t <= 150_000; t += 5_000) {
      script.set(t, () => {
        f.comm.deliver(ours.alive(), ours.pkiId);
        if (fabricUp) f.comm.deliver(fabric.alive(), fabric.pkiId);
      });
    }
    // Heard of for 2 s only: a peer of ours just started lists nothing either, so this one does not count;
    // nor does a connect request (a random nonce, resent until acknowledged: it may have been made at its start).
    script.set(2_000, () => f.comm.deliver(fabric.memReq(), fabric.pkiId));
    script.set(12_000, () => f.comm.deliver(fabric.memReq(77n), fabric.pkiId));
    // Heard of for 17 s: Fabric's. The pending alive message (due at 30 s) comes 5 s after the last one instead.
    script.set(17_000, () => f.comm.deliver(fabric.memReq(), fabric.pkiId));
    // It lists what it knows: one of ours after all; back to 15 s.
    script.set(41_000, () => f.comm.deliver(fabric.memReq(0n, fabric.alive().envelope, [Buffer.from(tagOf(f.self.pkiId), "hex")]), fabric.pkiId));
    // Fabric's again (the alive message due 5 s after the last one, at 50 s, goes at once), then it stops (its last
    // alive message at 70 s): dead within 25 s and a check period, and our pace is ours again.
    script.set(57_000, () => f.comm.deliver(fabric.memReq(), fabric.pkiId));
    script.set(72_000, () => {
      fabricUp = false;
    });
    // The interval in force, as the gauge says it (read at these times).
    const intervals: Promise<number>[] = [];
    for (const t of [10_500, 30_500, 50_500, 80_500, 120_500]) script.set(t, () => void intervals.push(aliveIntervalGauge(f)));
    const times = await aliveTimes(f, 150_000, script);
    assert.deepEqual(await Promise.all(intervals), [15, 5, 15, 5, 15]);
    // 15 s, then 5 s from 17 s; 15 s after the list at 41 s (due at 60 s); at once at 57 s and 5 s from then, until
    // the alive message after Fabric's peer was declared dead (97.5 s); 15 s again.
    const expected = [15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 45_000, 57_500, 62_000, 67_000, 72_000, 77_000, 82_000, 87_000, 92_000, 97_000, 102_000, 117_000, 132_000, 147_000];
    assert.deepEqual(times, expected);
    assert.ok(f.disc.getDeadMembers().some((m) => fromUtf8(m.pkiId) === fabric.endpoint), "Fabric's peer expired");
    await f.disc.stop();
  });

  it("keeps its own pace without the option, beside members that list, and when its own interval is no longer than Fabric's", async () => {
    const cases: { options: Partial<DiscoveryOptions>; lists: boolean; every: number }[] = [
      { options: { ...TUNED, membershipDelta: true }, lists: false, every: 15_000 },
      { options: FOLLOWING, lists: true, every: 15_000 },
      { options: { ...TUNED, aliveTimeIntervalMs: 4_000, membershipDelta: true, aliveFollowsFabricPeers: true }, lists: false, every: 4_000 },
    ];
    for (const c of cases) {
      const f = await fixture({ orgOf, options: c.options });
      const peer = new RemotePeer("org1-p:7051");
      const script = new Map<number, () => void>();
      for (let t = 0; t <= 60_000; t += 5_000) script.set(t, () => f.comm.deliver(peer.alive(), peer.pkiId));
      const known = c.lists ? [Buffer.from(tagOf(f.self.pkiId), "hex")] : [];
      for (const t of [17_000, 33_000]) script.set(t, () => f.comm.deliver(peer.memReq(0n, peer.alive().envelope, known), peer.pkiId));
      const times = await aliveTimes(f, 60_000, script);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(gaps.every((g) => g === c.every), `${JSON.stringify(c.options)}: gaps ${gaps.join(", ")}`);
      await f.disc.stop();
    }
  });

  it("lists what it knows in the request it sends a dead member that answered a probe, so that it is not taken for a Fabric peer", async () => {
    for (const on of [false, true]) {
      const f = await fixture({ orgOf, options: { ...TUNED, membershipDelta: true, aliveFollowsFabricPeers: on } });
      const back = new RemotePeer("org1-back:7051");
      const other = new RemotePeer("org1-other:7051");
      f.comm.deliver(back.alive(), back.pkiId);
      // `other` stays alive; `back` goes quiet and expires, then answers the reconnect round's probe.
      for (let t = 0; t < 60_000; t += 5_000) {
        f.comm.deliver(other.alive(), other.pkiId);
        await f.clock.advance(5_000);
      }
      assert.ok(f.disc.getDeadMembers().some((m) => fromUtf8(m.pkiId) === back.endpoint));
      f.comm.pingAnswer = () => true;
      await f.clock.advance(25_000);
      const toBack = requestsOf(f).filter((r) => r.to === back.endpoint);
      assert.ok(toBack.length > 0, "a request followed the answered probe");
      assert.deepEqual(toBack.at(-1)!.known.length > 0, on, on ? "it lists the members it knows" : "Fabric's request: no list");
      await f.disc.stop();
    }
  });
  it("asks members whose pushed alive messages come at Fabric's pace whether they honour a list, in the places of random targets: a Fabric peer's whole view marks it", async () => {
    const f = await following();
    const fabric = new RemotePeer("org1-fabric:7051");
    const ours = new RemotePeer("org1-ours:7051");
    const slow = new RemotePeer("org1-slow:7051");
    // Fabric's peer and one of ours that follows it push alive messages every 5 s; another of ours every 15 s.
    for (let t = 0; t <= 15_000; t += 5_000) {
      f.comm.deliver(fabric.alive(), fabric.pkiId);
      f.comm.deliver(ours.alive(), ours.pkiId);
      if (t % 15_000 === 0) f.comm.deliver(slow.alive(), slow.pkiId);
      await f.clock.advance(5_000);
    }
    assert.equal(await aliveIntervalGauge(f), 15);
    f.disc.initiateSync(1);
    // One sync request, as without the option; it went to a member at Fabric's pace, with a list.
    const [first] = requestsOf(f);
    assert.equal(requestsOf(f).length, 1);
    assert.ok(first!.to === fabric.endpoint || first!.to === ours.endpoint, `asked ${first!.to}`);
    assert.ok(first!.known.length > 0);
    f.disc.initiateSync(1);
    const asked = requestsOf(f).map((r) => r.to);
    assert.deepEqual(asked.sort(), [fabric.endpoint, ours.endpoint].sort(), "each suspect asked once");
    // Ours honours the list: nothing comes back but what we did not list. Fabric's sends what we hold (and listed).
    f.comm.deliver(memRes(0n, []), ours.pkiId);
    assert.equal(await aliveIntervalGauge(f), 15, "an answer that honours the list changes nothing");
    f.comm.deliver(memRes(0n, [fabric.alive(), slow.alive({ seq: 1n }), ours.alive({ seq: 1n })]), fabric.pkiId);
    assert.equal(await aliveIntervalGauge(f), 5, "a Fabric peer's whole view");
    // A later answer of ours asked nothing: it is not read as one.
    f.comm.deliver(memRes(0n, [slow.alive({ seq: 1n })]), ours.pkiId);
    assert.equal(await aliveIntervalGauge(f), 5);
    await f.disc.stop();
  });

  it("asks a suspect again when no answer comes (a request or response lost), up to three times an incarnation; a late answer still counts", async () => {
    const f = await following();
    const fabric = new RemotePeer("org1-fabric:7051");
    const slow = new RemotePeer("org1-slow:7051");
    const slower = new RemotePeer("org1-slower:7051");
    for (const p of [slow, slower]) f.comm.deliver(p.alive(), p.pkiId);
    await atFabricPace(f, fabric, 3);
    // One request a sync: the suspect's question in the place of the random target, or the random target. The
    // others stay alive at our pace (15 s), the Fabric peer at its own.
    const asked: string[] = [];
    for (let sync = 0; sync < 9; sync++) {
      f.disc.initiateSync(1);
      asked.push(requestsOf(f).at(-1)!.to);
      for (let step = 0; step < 4; step++) {
        const t = sync * 4_000 + step * 1_000;
        if (t % 5_000 === 0) f.comm.deliver(fabric.alive(), fabric.pkiId);
        if (t % 15_000 === 0) for (const p of [slow, slower]) f.comm.deliver(p.alive(), p.pkiId);
        await f.clock.advance(1_000);
      }
    }
    assert.deepEqual(asked.slice(0, 3), [fabric.endpoint, fabric.endpoint, fabric.endpoint], "asked again at the next syncs, never answered");
    assert.ok(asked.slice(3).some((to) => to !== fabric.endpoint), `then random targets only: ${asked.slice(3).join(", ")}`);
    assert.equal(await aliveIntervalGauge(f), 15);
    // The third question's answer, late (within aliveExpirationTimeout), is a Fabric peer's whole view.
    f.comm.deliver(fabric.alive(), fabric.pkiId);
    f.comm.deliver(memRes(0n, [fabric.alive(), slow.alive({ seq: slow.seq })]), fabric.pkiId);
    assert.equal(await aliveIntervalGauge(f), 5);
    await f.disc.stop();
  });

  it("reads the answers of random sync targets too: a Fabric peer's whole view marks it at once, and one of ours that honours the list is never asked as a suspect", async () => {
    const f = await following();
    const fabric = new RemotePeer("org1-fabric:7051");
    const ours = new RemotePeer("org1-ours:7051");
    const slow = new RemotePeer("org1-slow:7051");
    for (const p of [fabric, ours, slow]) f.comm.deliver(p.alive(), p.pkiId);
    // A sync to every member (peerNum 3): no suspect yet, each target asked all the same.
    f.disc.initiateSync(3);
    assert.equal(requestsOf(f).length, 3);
    f.comm.deliver(memRes(0n, []), ours.pkiId);
    f.comm.deliver(memRes(0n, []), slow.pkiId);
    assert.equal(await aliveIntervalGauge(f), 15, "answers that honour the list change nothing");
    // A response with another nonce (a connect request's) says nothing.
    f.comm.deliver(memRes(7n, [ours.alive({ seq: ours.seq }), slow.alive({ seq: slow.seq })]), fabric.pkiId);
    assert.equal(await aliveIntervalGauge(f), 15);
    f.comm.deliver(memRes(0n, [ours.alive({ seq: ours.seq }), slow.alive({ seq: slow.seq })]), fabric.pkiId);
    assert.equal(await aliveIntervalGauge(f), 5, "the Fabric peer's whole view");
    await f.disc.stop();

    // Ours answered a random sync honouring the list: when it then goes at Fabric's pace (following a Fabric peer), it is no suspect.
    // A member at Fabric's pace for fewer alive messages (a Fabric peer that started later) is asked instead.
    const g = await following();
    const later = new RemotePeer("org1-later:7051");
    for (const p of [ours, slow]) g.comm.deliver(p.alive(), p.pkiId);
    g.disc.initiateSync(2);
    g.comm.deliver(memRes(0n, []), ours.pkiId);
    await g.clock.advance(5_000);
    for (let t = 5_000; t <= 15_000; t += 5_000) {
      g.comm.deliver(ours.alive(), ours.pkiId);
      if (t >= 10_000) g.comm.deliver(later.alive(), later.pkiId);
      await g.clock.advance(5_000);
    }
    const before = requestsOf(g).length;
    g.disc.initiateSync(1);
    assert.deepEqual(requestsOf(g).slice(before).map((r) => r.to), [later.endpoint], "ours (three gaps at Fabric's pace) not asked: known to be ours");
    await g.disc.stop();
  });

  it("asks members once seen at a pace Fabric's never has (two alive messages 250 ms apart, as ours at start) after the others", async () => {
    const f = await following();
    const follower = new RemotePeer("org1-follower:7051");
    const fabric = new RemotePeer("org1-fabric:7051");
    // Ours at start: two alive messages 250 ms apart, then every 5 s (it follows a Fabric peer): four gaps at Fabric's pace.
    f.comm.deliver(follower.alive(), follower.pkiId);
    await f.clock.advance(250);
    for (let t = 0; t <= 20_000; t += 5_000) {
      f.comm.deliver(follower.alive(), follower.pkiId);
      if (t >= 10_000) f.comm.deliver(fabric.alive(), fabric.pkiId);
      await f.clock.advance(5_000);
    }
    // One request: the first suspect in the place of the random target.
    f.disc.initiateSync(1);
    assert.deepEqual(
      requestsOf(f).map((r) => r.to),
      [fabric.endpoint],
      "the Fabric peer (two gaps at its pace) before the follower (four, and one at start)",
    );
    await f.disc.stop();
  });

  it("answers as Fabric does without membershipDelta: the list is ignored", async () => {
    for (const delta of [false, true]) {
      const f = await fixture({ orgOf, options: { membershipDelta: delta } });
      const a = new RemotePeer("org1-a:7051");
      f.comm.deliver(a.alive(), a.pkiId);
      const requester = new RemotePeer("org1-requester:7051");
      f.comm.deliver(requester.memReq(9n, requester.alive().envelope, [a.pkiId, f.self.pkiId]), requester.pkiId);
      const reply = f.comm.sentOf("memRes").at(-1)!;
      const res = reply.msg.message.content?.$case === "memRes" ? reply.msg.message.content.value : undefined;
      const ids = res!.alive.map((e) => fromUtf8(aliveOf(SignedGossipMessage.fromEnvelope(e)).membership!.pkiId)).sort();
      assert.deepEqual(ids, delta ? [] : ["org1-a:7051", "org1-requester:7051", "self:7051"], `membershipDelta ${delta}`);
      await f.disc.stop();
    }
  });
});

describe("aliveFollowsFabricPeers against Fabric's own requests (../shared/vectors, Fabric v2.4.9)", () => {
  it("a periodic sync request captured from a Fabric peer marks it; its connect request (random nonce) does not", async () => {
    const lines = readFileSync(new URL("../../../../shared/vectors/fabric-v2.4.9-wire.jsonl", import.meta.url), "utf8").split("\n");
    const captured = lines
      .filter((l) => l.includes('"kind":"MemReq"'))
      .map((l) => SignedGossipMessage.fromEnvelopeBytes(Buffer.from((JSON.parse(l) as { envelope_hex: string }).envelope_hex, "hex")));
    const connect = captured.find((m) => m.message.nonce !== 0n);
    const sync = captured.find((m) => m.message.nonce === 0n);
    assert.ok(connect !== undefined && sync !== undefined, "the vectors hold both kinds of Fabric's requests");
    assert.equal(sync.message.content?.$case === "memReq" ? sync.message.content.value.known.length : -1, 0, "Fabric lists nothing");
    const sender = (m: SignedGossipMessage): Uint8Array => {
      const c = m.message.content;
      const self = c?.$case === "memReq" && c.value.selfInformation !== undefined ? SignedGossipMessage.fromEnvelope(c.value.selfInformation) : undefined;
      return aliveOf(self!).membership!.pkiId;
    };
    const f = await fixture({ options: { aliveTimeIntervalMs: 15_000, aliveExpirationTimeoutMs: 25_000, membershipDelta: true, aliveFollowsFabricPeers: true } });
    // Its requests make it a member (their alive message); then, 6 s on, the same requests again.
    f.comm.deliver(connect, sender(connect));
    f.comm.deliver(sync, sender(sync));
    await f.clock.advance(6_000);
    f.comm.deliver(connect, sender(connect));
    assert.equal(await aliveIntervalGauge(f), 15, "a connect request does not count");
    f.comm.deliver(sync, sender(sync));
    assert.equal(await aliveIntervalGauge(f), 5, "Fabric's sync request: alive messages at Fabric's pace");
    await f.disc.stop();
  });
});
