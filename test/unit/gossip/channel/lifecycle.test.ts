import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pkiHex } from "../../../../src/api/index.js";
import type { NetworkMember } from "../../../../src/discovery/index.js";
import {
  ChannelError,
  DEFAULT_CHANNEL_CONFIG,
  describeMembershipChange,
  MembershipTracker,
  resolveChannelConfig,
  TOTAL_PEERS_KNOWN_METRIC,
} from "../../../../src/gossip/channel/index.js";
import type { Gauge, Registry } from "../../../../src/metrics/index.js";
import { fromUtf8, ManualClock } from "../../../../src/util/index.js";
import {
  blockMsg,
  FakeAdapter,
  helloMsg,
  leadershipMsg,
  member,
  newChannel,
  ORG1,
  ORG2,
  pki,
  received,
  snapshotElements,
  stateInfoContent,
  stateInfoMsg,
  stateInfoPullRequest,
  TestJoinMsg,
  TestMcs,
} from "./harness.js";

async function totalPeers(registry: Registry, channel = "A"): Promise<number | undefined> {
  const gauge = registry.getSingleMetric(TOTAL_PEERS_KNOWN_METRIC) as Gauge<"channel"> | undefined;
  if (gauge === undefined) return undefined;
  const { values } = await gauge.get();
  return values.find((v) => v.labels.channel === channel)?.value;
}

const names = (members: readonly NetworkMember[]): string[] => members.map((m) => fromUtf8(m.pkiId)).sort();

/** hasPeer answers for each of `candidates` as membership in getPeers() does. */
function assertHasPeerAgrees(gc: { getPeers(): NetworkMember[]; hasPeer(pkiId: Uint8Array): boolean }, candidates: string[]): void {
  const listed = new Set(names(gc.getPeers()));
  for (const c of candidates) assert.equal(gc.hasPeer(pki(c)), listed.has(c), `hasPeer(${c}) as getPeers() says`);
}

describe("channel: leadership messages", () => {
  it("only those sent and created by our org are demultiplexed, once, and never forwarded (TestFilterForeignOrgLeadershipMessages)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.setOrg(pki("p1"), ORG1).setOrg(pki("p2"), ORG2);
    const { gc, logger } = await newChannel({ adapter, joinMsg: new TestJoinMsg(1, [ORG1, ORG2]) });
    t.after(() => gc.stop());
    gc.handleMessage(received(leadershipMsg(pki("p1"), 1n), pki("p1")));
    assert.equal(adapter.demuxed.length, 1, "same org: relayed");
    gc.handleMessage(received(leadershipMsg(pki("p1"), 2n), pki("p2")));
    assert.equal(adapter.demuxed.length, 1);
    assert.ok(logger.lines.some((l) => l.level === "warn" && l.msg.includes("from a peer of a foreign organization") && l.fields["org"] === "ORG2"));
    gc.handleMessage(received(leadershipMsg(pki("p2"), 3n), pki("p1")));
    assert.equal(adapter.demuxed.length, 1);
    assert.ok(logger.lines.some((l) => l.level === "warn" && l.msg.includes("created by a foreign organization") && l.fields["org"] === "ORG2"));
    // The same message again, and an older one: not new, not demultiplexed.
    gc.handleMessage(received(leadershipMsg(pki("p1"), 1n), pki("p1")));
    gc.handleMessage(received(leadershipMsg(pki("p1"), 0n), pki("p1")));
    assert.equal(adapter.demuxed.length, 1);
    gc.handleMessage(received(leadershipMsg(pki("p1"), 5n), pki("p1")));
    assert.equal(adapter.demuxed.length, 2);
    assert.equal(adapter.forwarded.length, 0, "leadership messages are never forwarded");
  });

  it("the leadership store forgets a message after twice its TTL (100 s by default), so a replay is new again", async (t) => {
    const adapter = new FakeAdapter();
    adapter.setOrg(pki("p1"), ORG1);
    const { gc, clock } = await newChannel({ adapter, config: { leaderMsgExpirationTimeoutMs: DEFAULT_CHANNEL_CONFIG.leaderMsgExpirationTimeoutMs } });
    t.after(() => gc.stop());
    gc.handleMessage(received(leadershipMsg(pki("p1"), 1n), pki("p1")));
    await clock.advance(150_000);
    gc.handleMessage(received(leadershipMsg(pki("p1"), 1n), pki("p1")));
    assert.equal(adapter.demuxed.length, 1, "expired but still remembered");
    await clock.advance(60_000);
    gc.handleMessage(received(leadershipMsg(pki("p1"), 1n), pki("p1")));
    assert.equal(adapter.demuxed.length, 2);
  });
});

describe("channel: leaving", () => {
  it("after leaving: left_channel published, no peers, no hellos sent, none answered (TestLeaveChannel)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("pkiIDInOrg1"), ORG1);
    adapter.addMember(pki("pkiIDinOrg2"), ORG2);
    const { gc, clock } = await newChannel({ adapter, joinMsg: new TestJoinMsg(1, [ORG1, ORG2]) });
    t.after(() => gc.stop());
    gc.handleMessage(received(stateInfoMsg(pki("pkiIDInOrg1"), 1n), pki("pkiIDInOrg1")));
    gc.handleMessage(received(stateInfoMsg(pki("pkiIDinOrg2"), 1n), pki("pkiIDinOrg2")));
    gc.handleMessage(received(blockMsg(2n), pki("pkiIDInOrg1")));
    assert.equal(gc.getPeers().length, 2);
    assertHasPeerAgrees(gc, ["pkiIDInOrg1", "pkiIDinOrg2", "pkiIDInOrg1ButNotEligible", "self", "stranger"]);
    // A peer of org2 leaves.
    gc.handleMessage(received(stateInfoMsg(pki("pkiIDinOrg2"), 0n, { leftChannel: true }), pki("pkiIDinOrg2")));
    assert.deepEqual(names(gc.getPeers()), ["pkiIDInOrg1"]);
    assertHasPeerAgrees(gc, ["pkiIDInOrg1", "pkiIDinOrg2", "pkiIDInOrg1ButNotEligible", "self", "stranger"]);

    await clock.advance(1_000);
    assert.equal(adapter.sentOf("hello").length, 1, "a hello before leaving");
    const hello = received(helloMsg(), pki("pkiIDInOrg1"));
    gc.handleMessage(hello);
    await clock.advance(0);
    assert.equal(hello.responses.length, 1, "answered before leaving");

    gc.updateLedgerHeight(3n);
    gc.leaveChannel();
    const si = stateInfoContent(gc.self());
    assert.equal(si.properties?.leftChannel, false, "self() is the last signed message until published");
    assert.deepEqual(gc.getPeers(), []);
    assertHasPeerAgrees(gc, ["pkiIDInOrg1", "pkiIDinOrg2", "pkiIDInOrg1ButNotEligible", "self", "stranger"]);
    const hello2 = received(helloMsg(501n), pki("pkiIDInOrg1"));
    gc.handleMessage(hello2);
    await clock.advance(3_000);
    assert.equal(hello2.responses.length, 0, "not answered after leaving");
    assert.equal(adapter.sentOf("hello").length, 1, "no pull after leaving");
    const published = adapter.gossiped.at(-1)!;
    assert.equal(stateInfoContent(published).properties?.leftChannel, true, "the StateInfo keeps being published, with left_channel");
    assert.equal(stateInfoContent(published).properties?.ledgerHeight, 3n);
    assert.equal(stateInfoContent(gc.self()).properties?.leftChannel, true);
    gc.updateLedgerHeight(4n);
    assert.equal(
      (() => {
        gc.updateChaincodes([]);
        return stateInfoContent(gc.self()).properties?.leftChannel;
      })(),
      true,
      "later updates keep left_channel",
    );
  });
});

describe("channel: reconfiguration", () => {
  it("empty org lists and older sequence numbers are ignored; a newer one replaces the orgs (TestChannelReconfigureChannel)", async (t) => {
    const adapter = new FakeAdapter();
    adapter.setOrg(pki("pkiIDInOrg1"), ORG1).setOrg(pki("pkiIDinOrg2"), ORG2);
    const { gc } = await newChannel({ adapter, joinMsg: new TestJoinMsg(100, [ORG1]) });
    t.after(() => gc.stop());
    gc.configureChannel(new TestJoinMsg(100, [ORG1]));
    assert.ok(gc.isOrgInChannel(ORG1) && !gc.isOrgInChannel(ORG2));
    gc.configureChannel(new TestJoinMsg(50, [ORG2]));
    assert.ok(gc.isOrgInChannel(ORG1) && !gc.isOrgInChannel(ORG2), "outdated");
    gc.configureChannel(new TestJoinMsg(200, []));
    assert.ok(gc.isOrgInChannel(ORG1), "empty org list");
    gc.configureChannel(new TestJoinMsg(200, [ORG2]));
    gc.configureChannel(new TestJoinMsg(200, [ORG2]));
    assert.ok(!gc.isOrgInChannel(ORG1) && gc.isOrgInChannel(ORG2));
    assert.equal(gc.isMemberInChan({ pkiId: pki("pkiIDInOrg1") }), false);
    assert.equal(gc.isMemberInChan({ pkiId: pki("pkiIDinOrg2") }), true);
    const req = received(stateInfoPullRequest(pki("pkiIDInOrg1")), pki("pkiIDInOrg1"));
    gc.handleMessage(req);
    assert.equal(req.responses.length, 0, "org1 is not in the channel any more");
  });

  it("a join message without orgs at creation leaves the channel with none until configured", async (t) => {
    const adapter = new FakeAdapter();
    adapter.setOrg(pki("p1"), ORG1);
    const { gc } = await newChannel({ adapter, joinMsg: new TestJoinMsg(5, []) });
    t.after(() => gc.stop());
    assert.equal(gc.isOrgInChannel(ORG1), false);
    gc.configureChannel(new TestJoinMsg(1, [ORG1]));
    assert.equal(gc.isOrgInChannel(ORG1), true, "the first non-empty message is taken whatever its number");
  });

  it("re-validates the StateInfo cache: removed orgs and revoked readers are evicted (TestGossipChannelEligibility)", async (t) => {
    const adapter = new FakeAdapter();
    for (const [name, org] of [
      ["pkiIDInOrg1", ORG1],
      ["pkiIDInOrg1ButNotEligible", ORG1],
      ["pkiIDinOrg2", ORG2],
    ] as const) {
      adapter.addMember(pki(name), org);
    }
    const mcs = new TestMcs();
    const { gc, clock } = await newChannel({ adapter, mcs, joinMsg: new TestJoinMsg(1, [ORG1, ORG2]) });
    t.after(() => gc.stop());
    gc.updateLedgerHeight(1n);
    await clock.advance(100);
    for (const m of adapter.members) gc.handleMessage(received(stateInfoMsg(m.pkiId, 1n), m.pkiId));
    assert.deepEqual(names(gc.getPeers()), ["pkiIDInOrg1", "pkiIDInOrg1ButNotEligible", "pkiIDinOrg2"]);
    assertHasPeerAgrees(gc, ["pkiIDInOrg1", "pkiIDinOrg2", "pkiIDInOrg1ButNotEligible", "self", "stranger"]);

    gc.configureChannel(new TestJoinMsg(2, [ORG1]));
    assert.deepEqual(names(gc.getPeers()), ["pkiIDInOrg1", "pkiIDInOrg1ButNotEligible"]);
    assertHasPeerAgrees(gc, ["pkiIDInOrg1", "pkiIDinOrg2", "pkiIDInOrg1ButNotEligible", "self", "stranger"]);
    assert.equal(gc.eligibleForChannel({ pkiId: pki("pkiIDinOrg2") }), false);

    mcs.notReaders.add(pkiHex(pki("pkiIDInOrg1ButNotEligible")));
    gc.configureChannel(new TestJoinMsg(3, [ORG1]));
    assert.deepEqual(names(gc.getPeers()), ["pkiIDInOrg1"]);
    assertHasPeerAgrees(gc, ["pkiIDInOrg1", "pkiIDinOrg2", "pkiIDInOrg1ButNotEligible", "self", "stranger"]);
    // Our own StateInfo is never re-verified away.
    const req = received(stateInfoPullRequest(pki("pkiIDInOrg1")), pki("pkiIDInOrg1"));
    gc.handleMessage(req);
    assert.deepEqual(
      snapshotElements(req.responses[0]!)
        .map((m) => fromUtf8(stateInfoContent(m).pkiId))
        .sort(),
      ["pkiIDInOrg1", "self"],
    );
    // Newer StateInfo of evicted peers is still refused.
    gc.handleMessage(received(stateInfoMsg(pki("pkiIDinOrg2"), 2n), pki("pkiIDInOrg1")));
    gc.handleMessage(received(stateInfoMsg(pki("pkiIDInOrg1ButNotEligible"), 2n), pki("pkiIDInOrg1")));
    assert.deepEqual(names(gc.getPeers()), ["pkiIDInOrg1"]);
  });
});

describe("channel: membership tracker", () => {
  const m = (name: string, internal = name): NetworkMember => member(pki(name), name, internal);

  it("describes changes as Fabric does (TestChangesInPeers)", () => {
    assert.equal(describeMembershipChange([m("a"), m("b")], [m("b"), m("a")]), undefined, "no change");
    assert.equal(
      describeMembershipChange([m("pkiID1")], [m("pkiID1"), m("pkiID3")]),
      "Membership view has changed. peers went online: [[pkiID3]], current view: [[pkiID1] [pkiID3]]",
    );
    assert.equal(
      describeMembershipChange([m("pkiID1"), m("pkiID2")], [m("pkiID1"), m("pkiID3")]),
      "Membership view has changed. peers went offline: [[pkiID2]], peers went online: [[pkiID3]], current view: [[pkiID1] [pkiID3]]",
    );
    assert.equal(describeMembershipChange([], [m("pkiID1")]), "Membership view has changed. peers went online: [[pkiID1]], current view: [[pkiID1]]");
    assert.equal(describeMembershipChange([m("pkiID1")], []), "Membership view has changed. peers went offline: [[pkiID1]], current view: []");
    assert.equal(
      describeMembershipChange([m("pkiID01"), m("pkiID02"), m("pkiID03")], [m("pkiID01"), m("pkiID02")]),
      "Membership view has changed. peers went offline: [[pkiID03]], current view: [[pkiID01] [pkiID02]]",
    );
    assert.equal(
      describeMembershipChange([], [m("x", "x.internal")]),
      "Membership view has changed. peers went online: [[x x.internal]], current view: [[x x.internal]]",
    );
  });

  it("ticks every interval from start, sets the total and reports; stops cleanly (TestMembershiptrackerStopWhenGCStops)", async () => {
    const clock = new ManualClock(0);
    let view = [m("a")];
    const lines: string[] = [];
    const totals: number[] = [];
    const tracker = new MembershipTracker({
      getPeersToTrack: () => view,
      report: (line) => lines.push(line),
      setTotal: (n) => totals.push(n),
      onError: () => {},
      clock,
      intervalMs: 10,
    });
    tracker.start();
    view = [m("b")];
    await clock.advance(10);
    assert.deepEqual(lines, ["Membership view has changed. peers went offline: [[a]], peers went online: [[b]], current view: [[b]]"]);
    assert.deepEqual(totals, [1]);
    tracker.stop();
    view = [];
    await clock.advance(100);
    assert.equal(totals.length, 1);
    assert.equal(clock.pendingTimers(), 0);
  });

  it("the channel logs membership changes and sets gossip_membership_total_peers_known{channel}", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("a"), ORG1, "a");
    adapter.addMember(pki("b"), ORG1, "b");
    const { gc, clock, registry, logger } = await newChannel({ adapter, config: { publishStateInfoIntervalMs: 60_000, requestStateInfoIntervalMs: 60_000 } });
    t.after(() => gc.stop());
    gc.handleMessage(received(stateInfoMsg(pki("a"), 1n), pki("a")));
    await clock.advance(5_000);
    assert.equal(await totalPeers(registry), 1);
    assert.ok(logger.lines.some((l) => l.level === "info" && l.msg === "[A] Membership view has changed. peers went online: [[a]], current view: [[a]]"));
    gc.handleMessage(received(stateInfoMsg(pki("b"), 1n), pki("b")));
    adapter.members = adapter.members.filter((x) => fromUtf8(x.pkiId) === "b");
    await clock.advance(5_000);
    assert.equal(await totalPeers(registry), 1);
    assert.ok(logger.lines.some((l) => l.msg === "[A] Membership view has changed. peers went offline: [[a]], peers went online: [[b]], current view: [[b]]"));
  });
});

describe("channel: lifecycle and config", () => {
  it("stop leaves no timers, ignores later messages and is idempotent; start after stop does nothing (TestChannelStop)", async () => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    const { gc, clock } = await newChannel({ adapter });
    gc.handleMessage(received(stateInfoMsg(pki("p1"), 1n), pki("p1")));
    gc.handleMessage(received(blockMsg(1n), pki("p1")));
    gc.handleMessage(received(leadershipMsg(pki("p1"), 1n), pki("p1")));
    gc.updateLedgerHeight(2n);
    await clock.advance(2_500);
    assert.ok(adapter.sent.length > 0);
    await gc.stop();
    assert.equal(clock.pendingTimers(), 0);
    await gc.stop();
    await gc.start();
    assert.equal(clock.pendingTimers(), 0);
    const sent = adapter.sent.length;
    const demuxed = adapter.demuxed.length;
    gc.handleMessage(received(blockMsg(2n), pki("p1")));
    gc.updateLedgerHeight(3n);
    await clock.advance(10_000);
    assert.equal(adapter.sent.length, sent);
    assert.equal(adapter.demuxed.length, demuxed);
  });

  it("before start nothing periodic runs but the store expiration checks", async () => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    const { gc, clock } = await newChannel({ adapter, start: false });
    gc.updateLedgerHeight(2n);
    await clock.advance(10_000);
    assert.equal(adapter.sent.length, 0);
    assert.equal(adapter.gossiped.length, 0);
    assert.equal(clock.pendingTimers(), 2, "the block and leadership stores' expiration checks");
    await gc.stop();
    assert.equal(clock.pendingTimers(), 0);
  });

  it("a channel whose initial StateInfo cannot be signed is not created", async () => {
    const adapter = new FakeAdapter();
    adapter.signFails = true;
    const clock = new ManualClock();
    await assert.rejects(newChannel({ adapter, clock }), (err: unknown) => err instanceof ChannelError && err.code === "SIGN_FAILED");
    assert.equal(clock.pendingTimers(), 0);
  });

  it("defaults are Fabric's; block expiration and sweep follow the pull interval; bad values are refused", () => {
    const def = resolveChannelConfig();
    assert.deepEqual(def, {
      publishStateInfoIntervalMs: 4_000,
      maxBlockCountToStore: 10,
      pullPeerNum: 3,
      pullIntervalMs: 4_000,
      requestStateInfoIntervalMs: 4_000,
      blockExpirationIntervalMs: 400_000,
      stateInfoCacheSweepIntervalMs: 20_000,
      timeForMembershipTrackerMs: 5_000,
      digestWaitTimeMs: 1_000,
      requestWaitTimeMs: 1_500,
      responseWaitTimeMs: 2_000,
      leaderMsgExpirationTimeoutMs: 100_000,
    });
    const derived = resolveChannelConfig({ pullIntervalMs: 1_000 });
    assert.equal(derived.blockExpirationIntervalMs, 100_000);
    assert.equal(derived.stateInfoCacheSweepIntervalMs, 5_000);
    assert.equal(resolveChannelConfig({ pullIntervalMs: 1_000, blockExpirationIntervalMs: 7 }).blockExpirationIntervalMs, 7);
    // Only the periods of the channel's repeating timers are guarded here; every other rule is
    // config's (test/unit/config/gossip-config-errors.test.ts names the keys).
    for (const bad of [{ pullIntervalMs: 0 }, { publishStateInfoIntervalMs: -1 }, { requestStateInfoIntervalMs: 0 }, { timeForMembershipTrackerMs: Number.NaN }]) {
      assert.throws(() => resolveChannelConfig(bad), (err: unknown) => err instanceof ChannelError && err.code === "INVALID_OPTIONS");
    }
  });
});
