import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEFAULT_LEADER_ELECTION_OPTIONS,
  ElectionError,
  createLeaderElectionService,
  leaderHeartbeatIntervalMs,
  yieldDurationMs,
} from "../../../src/election/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { ManualClock, utf8 } from "../../../src/util/index.js";
import { FakeNetwork, type FakePeer } from "./fake-network.js";

const GRACE_MS = 15_000;
const SAMPLE_MS = 1_000;
const ALIVE_MS = 10_000;
const ELECTION_MS = 5_000;
const HEARTBEAT_MS = ALIVE_MS / 2;
const YIELD_MS = ALIVE_MS * 6;

const names = (ids: number[]) => ids.map((i) => `p${i}`);
const oneLeader = (net: FakeNetwork, peers?: FakePeer[]) => () => net.leaders(peers).length === 1;

test("Fabric's defaults and derived timers", () => {
  assert.deepEqual(DEFAULT_LEADER_ELECTION_OPTIONS, {
    startupGracePeriodMs: 15_000,
    membershipSampleIntervalMs: 1_000,
    leaderAliveThresholdMs: 10_000,
    leaderElectionDurationMs: 5_000,
  });
  assert.equal(leaderHeartbeatIntervalMs(DEFAULT_LEADER_ELECTION_OPTIONS), 5_000);
  assert.equal(yieldDurationMs(DEFAULT_LEADER_ELECTION_OPTIONS), 60_000);
  const clock = new ManualClock();
  const adapter = {
    gossip: () => {},
    accept: () => () => {},
    createMessage: () => ({ senderId: utf8("x"), isProposal: () => true, isDeclaration: () => false }),
    peers: () => [],
    reportMetrics: () => {},
    stop: () => {},
  };
  assert.throws(
    () => createLeaderElectionService({ adapter, clock, logger: silentLogger, pkiId: new Uint8Array(0) }),
    (e: unknown) => e instanceof ElectionError && e.code === "EMPTY_ID",
  );
  assert.throws(
    () => createLeaderElectionService({ adapter, clock, logger: silentLogger, pkiId: utf8("x") }, { leaderAliveThresholdMs: 0 }),
    (e: unknown) => e instanceof ElectionError && e.code === "INVALID_OPTIONS" && /leaderAliveThresholdMs/.test(e.message),
  );
});

test("TestInitPeersAtSameTime: 10 peers started together elect exactly one leader, the smallest PKI-ID, and keep it", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const peers = await net.add(names([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]));
  // A stable view: one sample, then one election.
  await net.advance(SAMPLE_MS + ELECTION_MS + 2 * net.latencyMs);
  assert.deepEqual(net.leaders(), ["p0"]);
  const p0 = peers.at(-1)!;
  assert.deepEqual(p0.callbacks, [true]);
  for (const p of peers.slice(0, -1)) assert.deepEqual(p.callbacks, [], `${p.name}'s callback was never invoked`);
  await net.holds("exactly one leader, p0", () => net.leaders().join() === "p0", 10 * ALIVE_MS, 100);
  assert.deepEqual(p0.callbacks, [true]);
  assert.ok(p0.sentDeclarations >= (10 * ALIVE_MS) / HEARTBEAT_MS, "the leader heartbeats every leaderAliveThreshold/2");
  for (const p of peers.slice(0, -1)) assert.equal(p.sentProposals, 1, `${p.name} proposed only at start-up`);
});

test("TestInitPeersStartAtIntervals: peers started one by one keep the first as leader though its PKI-ID is the largest", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const peers = await net.add(names([3, 2, 1, 0]), {}, false);
  for (const p of peers) {
    await net.start(p);
    await net.advance(GRACE_MS + HEARTBEAT_MS + 123);
  }
  assert.deepEqual(net.leaders(), ["p3"]);
  await net.holds("p3 stays the only leader", () => net.leaders().join() === "p3", 6 * ALIVE_MS, 100);
  for (const p of peers.slice(1)) assert.deepEqual(p.callbacks, []);
});

test("a late joiner with the smallest PKI-ID does not take over", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  await net.add(names([1, 2, 3, 4]));
  await net.until("one leader", oneLeader(net), GRACE_MS + ELECTION_MS);
  assert.deepEqual(net.leaders(), ["p1"]);
  await net.advance(3 * ALIVE_MS + 777);
  const [late] = await net.add(["p0"]);
  await net.holds("p1 stays the only leader", () => net.leaders().join() === "p1", 10 * ALIVE_MS, 50);
  assert.deepEqual(late!.callbacks, []);
  assert.equal(late!.sentProposals, 1, "it proposed once, then saw the leader's declaration");
});

test("TestLeadershipTakeover: after the leader crashes, one new leader within leaderAliveThreshold + leaderElectionDuration", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const peers = await net.add(names([5, 4, 3, 2]), {}, false);
  for (const p of peers) {
    await net.start(p);
    await net.advance(GRACE_MS + HEARTBEAT_MS);
  }
  assert.deepEqual(net.leaders(), ["p5"]);
  await net.crash(peers[0]!);
  const rest = peers.slice(1);
  // The follower elects once leaderAliveThreshold has passed since the last declaration (Fabric
  // checks the same rule only at the end of fixed rounds: up to 2 x leaderAliveThreshold). The last
  // declaration came at most a heartbeat (leaderAliveThreshold / 2) before the crash.
  const took = await net.until("a new leader", oneLeader(net, rest), ALIVE_MS + ELECTION_MS + 2 * net.latencyMs);
  assert.ok(took >= ALIVE_MS / 2 + ELECTION_MS, `not before leaderAliveThreshold without declarations, then an election (took ${took} ms)`);
  assert.deepEqual(net.leaders(rest), ["p2"], "the smallest PKI-ID takes over");
  await net.holds("p2 stays the only leader", () => net.leaders(rest).join() === "p2", 5 * ALIVE_MS, 100);
});

test("a leader crash in a 6-peer org started together: a new leader within leaderAliveThreshold + leaderElectionDuration, never before the threshold since the last declaration", async (t) => {
  for (const crashOffset of [1, 1_234, 2_500, 4_999]) {
    const net = new FakeNetwork();
    t.after(() => net.stopAll());
    const peers = await net.add(names([0, 1, 2, 3, 4, 5]));
    await net.until("one leader", oneLeader(net), SAMPLE_MS + ELECTION_MS + 100);
    await net.advance(ALIVE_MS + crashOffset);
    await net.crash(peers[0]!);
    const took = await net.until("a new leader", oneLeader(net), ALIVE_MS + ELECTION_MS + 2 * net.latencyMs);
    assert.ok(took >= ALIVE_MS / 2 + ELECTION_MS && took <= ALIVE_MS + ELECTION_MS + 2 * net.latencyMs, `took ${took} ms (crash offset ${crashOffset})`);
    assert.deepEqual(net.leaders(), ["p1"]);
  }
});

test("a partition into two groups elects two leaders; on healing the larger steps down within a heartbeat", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const peers = await net.add(names([0, 1, 2, 3, 4, 5, 6, 7]));
  await net.until("one leader", oneLeader(net), SAMPLE_MS + ELECTION_MS + 100);
  assert.deepEqual(net.leaders(), ["p0"]);
  const [left, right] = [peers.slice(0, 4), peers.slice(4)];
  net.partition(left, right);
  await net.until("two leaders", () => net.leaders().length === 2, 2 * ALIVE_MS + ELECTION_MS + 100);
  assert.deepEqual(net.leaders(), ["p0", "p4"]);
  await net.holds("two leaders while partitioned", () => net.leaders().join() === "p0,p4", 6 * ALIVE_MS, 100);

  net.heal();
  const took = await net.until("one leader again", oneLeader(net), HEARTBEAT_MS + 2 * net.latencyMs, 1);
  assert.ok(took <= HEARTBEAT_MS + 2 * net.latencyMs, `took ${took} ms`);
  assert.deepEqual(net.leaders(), ["p0"]);
  assert.deepEqual(peers[4]!.callbacks, [true, false], "the larger leader's callback turned false");
  assert.deepEqual(peers[0]!.callbacks, [true], "the smaller never lost leadership");
  await net.holds("p0 stays the only leader", () => net.leaders().join() === "p0", 6 * ALIVE_MS, 100);
});

test("TestConvergence: two groups that each elected a leader merge into one leader, the smallest", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const peers = await net.add(names([3, 2, 1, 0, 4, 5, 6, 7]), {}, false);
  const [g1, g2] = [peers.slice(0, 4), peers.slice(4)];
  net.partition(g1, g2);
  for (const p of peers) await net.start(p);
  await net.until("a leader per group", () => net.leaders().length === 2, GRACE_MS + ELECTION_MS);
  assert.deepEqual(net.leaders().sort(), ["p0", "p4"]);
  net.heal();
  await net.advance(5 * ALIVE_MS);
  assert.deepEqual(net.leaders(), ["p0"]);
  for (const p of peers) assert.equal(p.leaderFromCallback, p.name === "p0", `${p.name}'s callback`);
  assert.deepEqual(peers.find((p) => p.name === "p4")!.callbacks, [true, false]);
});

test("TestPartition: a full partition makes every peer a leader; healing leaves p0 alone", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const peers = await net.add(names([5, 4, 3, 2, 1, 0]));
  await net.until("one leader", oneLeader(net), SAMPLE_MS + ELECTION_MS + 100);
  for (const a of peers) net.partition([a], peers.filter((b) => b !== a));
  await net.advance(HEARTBEAT_MS + 2 * ALIVE_MS + ELECTION_MS);
  assert.equal(net.leaders().length, 6);
  for (const p of peers) assert.equal(p.leaderFromCallback, true);
  net.heal();
  await net.advance(HEARTBEAT_MS + 2 * ALIVE_MS);
  assert.deepEqual(net.leaders(), ["p0"]);
  for (const p of peers) {
    assert.equal(p.leaderFromCallback, p.name === "p0");
    if (p.name !== "p0") assert.deepEqual(p.callbacks, [true, false]);
  }
});

test("TestYield: the leader hands over; yielding twice calls back once; it does not take leadership back", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const peers = await net.add(names([0, 1, 2, 3, 4, 5]));
  await net.until("one leader", oneLeader(net), SAMPLE_MS + ELECTION_MS + 100);
  const p0 = peers[0]!;
  assert.deepEqual(net.leaders(), ["p0"]);
  p0.svc.yield();
  assert.equal(p0.svc.isLeader(), false);
  assert.deepEqual(p0.callbacks, [true, false]);
  p0.svc.yield();
  assert.deepEqual(p0.callbacks, [true, false], "a second yield does not call back");

  await net.until("a new leader", oneLeader(net), HEARTBEAT_MS + 2 * ALIVE_MS + ELECTION_MS);
  assert.notEqual(net.leaders()[0], "p0");
  await net.holds("p0 does not take it back", () => net.leaders().length === 1 && !p0.svc.isLeader(), YIELD_MS + 3 * ALIVE_MS, 100);
  assert.equal(p0.svc.isYielding(), false, "seeing the new leader ended the yield");
});

test("TestYieldSinglePeer: alone, the yielder is leader again only after the yield duration", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const [p0] = await net.add(["p0"]);
  await net.until("leader", () => p0!.svc.isLeader(), SAMPLE_MS + ELECTION_MS + 100);
  p0!.svc.yield();
  await net.holds("not leader while yielding", () => !p0!.svc.isLeader(), YIELD_MS, 100);
  await net.until("leader again", () => p0!.svc.isLeader(), ALIVE_MS + ELECTION_MS + 100);
  assert.deepEqual(p0!.callbacks, [true, false, true]);
});

test("TestYieldAllPeers: two peers hand leadership back and forth", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const [p0, p1] = await net.add(["p0", "p1"]);
  await net.until("one leader", oneLeader(net), SAMPLE_MS + ELECTION_MS + 100);
  assert.deepEqual(net.leaders(), ["p0"]);
  p0!.svc.yield();
  await net.until("p1 leads", () => net.leaders().join() === "p1", HEARTBEAT_MS + 2 * ALIVE_MS + ELECTION_MS);
  p1!.svc.yield();
  await net.until("p0 leads", () => net.leaders().join() === "p0", HEARTBEAT_MS + 2 * ALIVE_MS + ELECTION_MS);
});

test("TestMetrics: reportMetrics(true) as leader, false after yielding", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const [p0] = await net.add(["p0"]);
  await net.until("leader", () => p0!.svc.isLeader(), SAMPLE_MS + ELECTION_MS + 100);
  assert.equal(p0!.reports.at(-1), true);
  p0!.svc.yield();
  await net.advance(HEARTBEAT_MS + 10);
  assert.equal(p0!.reports.at(-1), false);
});

test("start-up waits while the view grows, at most the grace period, and no longer once a declaration came", async () => {
  const run = async (view: (n: number) => number, declareAt?: number) => {
    const net = new FakeNetwork();
    const [p] = await net.add(["p9"], {}, false);
    let samples = 0;
    p!.viewOverride = () => Array.from({ length: view(samples++) }, (_, i) => ({ id: utf8(`q${i}`) }));
    await net.start(p!);
    if (declareAt !== undefined) {
      await net.advance(declareAt);
      p!.inject(utf8("q0"), true);
    }
    const took = await net.until("first proposal", () => p!.sentProposals > 0 || net.clock.pendingTimers() === 0, 30_000, 100);
    await p!.svc.stop();
    return took + (declareAt ?? 0);
  };
  assert.equal(await run(() => 3), SAMPLE_MS, "a stable view: one sample");
  // The view grows for 4 samples (sizes 0,1,2,3,4,4): two equal samples at the 5th interval.
  assert.equal(await run((n) => Math.min(n, 4)), 5 * SAMPLE_MS);
  // Never stable: the grace period bounds the wait (Fabric checks After(endTime) after each sample).
  assert.equal(await run((n) => n), GRACE_MS + SAMPLE_MS);
  // A declaration during start-up ends it at the next sample, and no proposal follows (a leader is known).
  const net = new FakeNetwork();
  const [p] = await net.add(["p9"], {}, false);
  let samples = 0;
  p!.viewOverride = () => Array.from({ length: samples++ + 1 }, (_, i) => ({ id: utf8(`q${i}`) }));
  await net.start(p!);
  await net.advance(2_500);
  p!.inject(utf8("q0"), true);
  await net.advance(500);
  assert.equal(p!.sentProposals, 0);
  assert.deepEqual(p!.reports, [false], "it went straight to the follower round");
  await p!.svc.stop();
});

test("messages from peers outside the view are ignored; a smaller declaration makes the leader step down", async (t) => {
  const net = new FakeNetwork();
  t.after(() => net.stopAll());
  const [p5, p6] = await net.add(["p5", "p6"]);
  await net.until("one leader", oneLeader(net), SAMPLE_MS + ELECTION_MS + 100);
  assert.deepEqual(net.leaders(), ["p5"]);
  p5!.inject(utf8("p0"), true);
  assert.equal(p5!.svc.isLeader(), true, "p0 is not in the view");
  // Declared by a larger PKI-ID in the view: nothing changes.
  p5!.inject(p6!.id, true);
  assert.equal(p5!.svc.isLeader(), true);
  const [p1] = await net.add(["p1"], {}, false);
  p1!.up = true; // in the view, but not running an election
  p5!.inject(p1!.id, true);
  assert.equal(p5!.svc.isLeader(), false);
  assert.deepEqual(p5!.callbacks, [true, false]);
  p1!.up = false;
});

test("TestStop: no gossip and no timer after stop(), also while yielding; start and stop are idempotent", async () => {
  const net = new FakeNetwork();
  const peers = await net.add(names([3, 2, 1, 0]));
  await net.until("one leader", oneLeader(net), SAMPLE_MS + ELECTION_MS + 100);
  const p0 = peers[3]!;
  p0.svc.yield();
  await p0.svc.start();
  const sent = () => peers.reduce((n, p) => n + p.sentProposals + p.sentDeclarations, 0);
  for (const p of peers) {
    await p.svc.stop();
    await p.svc.stop();
  }
  await net.advance(net.latencyMs);
  assert.equal(net.clock.pendingTimers(), 0, "no timer left, not even the yield timer");
  const before = sent();
  await net.advance(YIELD_MS);
  assert.equal(sent(), before);
  await p0.svc.start();
  assert.equal(net.clock.pendingTimers(), 0, "a stopped service does not start again");
  p0.svc.yield();
  assert.equal(net.clock.pendingTimers(), 0);
});
