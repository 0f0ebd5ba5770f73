import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createLeaderElectionAdapter,
  createStaticLeaderService,
  ElectionError,
  type ElectionGossipNode,
  type ElectionMember,
  LEADER_ELECTION_LEADER_METRIC,
  resolveLeaderMode,
} from "../../../src/election/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { createRegistry, memoryMetricsProvider, promMetricsProvider } from "../../../src/metrics/index.js";
import { type GossipMessage, GossipMessage_Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { fromUtf8, ManualClock, utf8 } from "../../../src/util/index.js";

class FakeNode implements ElectionGossipNode {
  readonly sent: GossipMessage[] = [];
  readonly subs = new Set<{ acceptor: (m: GossipMessage) => boolean; handler: (m: GossipMessage) => void }>();
  members: Record<string, ElectionMember[]> = {};
  readonly myOrg = new Set<string>();

  pkiId(): Uint8Array {
    return utf8("self");
  }
  gossip(msg: GossipMessage): void {
    this.sent.push(msg);
  }
  accept(acceptor: (msg: GossipMessage) => boolean, handler: (msg: GossipMessage) => void): () => void {
    const s = { acceptor, handler };
    this.subs.add(s);
    return () => this.subs.delete(s);
  }
  peersOfChannel(channel: string): ElectionMember[] {
    return this.members[channel] ?? [];
  }
  isInMyOrg(member: ElectionMember): boolean {
    return this.myOrg.has(fromUtf8(member.pkiId));
  }
  demux(m: GossipMessage): void {
    for (const s of this.subs) if (s.acceptor(m)) s.handler(m);
  }
}

function leadership(channel: string, tag: GossipMessage_Tag, pkiId: string, isDeclaration: boolean): GossipMessage {
  return {
    nonce: 0n,
    channel: utf8(channel),
    tag,
    content: { $case: "leadershipMsg", value: { pkiId: utf8(pkiId), isDeclaration, timestamp: { incNum: 1n, seqNum: 1n } } },
  };
}

test("createMessage: LeadershipMessage{pki_id, timestamp{inc_num = creation time ns, seq_num 1, 2, ...}, is_declaration}, CHAN_AND_ORG, channel set, nonce 0", async () => {
  const clock = new ManualClock(1_700_000_000_123);
  const node = new FakeNode();
  const a = createLeaderElectionAdapter({ node, clock, logger: silentLogger, metrics: memoryMetricsProvider() }, "mychannel");
  await clock.advance(5_000);
  const p = a.createMessage(false);
  const d = a.createMessage(true);
  for (const [i, m] of [p, d].entries()) {
    assert.equal(m.message.tag, GossipMessage_Tag.CHAN_AND_ORG);
    assert.equal(fromUtf8(m.message.channel), "mychannel");
    assert.equal(m.message.nonce, 0n);
    assert.deepEqual(m.message.content.value.pkiId, utf8("self"));
    assert.deepEqual(m.message.content.value.timestamp, { incNum: 1_700_000_000_123_000_000n, seqNum: BigInt(i + 1) });
    assert.deepEqual(m.senderId, utf8("self"));
  }
  assert.equal(p.isProposal(), true);
  assert.equal(p.isDeclaration(), false);
  assert.equal(d.isDeclaration(), true);
  assert.equal(d.message.content.value.isDeclaration, true);
  a.gossip(d);
  assert.equal(node.sent.length, 1);
  assert.equal(node.sent[0], d.message, "the node signs and sends the message as built");
});

test("peers(): the channel's members of our org only", () => {
  const node = new FakeNode();
  node.members = { ch: [{ pkiId: utf8("a") }, { pkiId: utf8("b") }, { pkiId: utf8("c") }], other: [{ pkiId: utf8("d") }] };
  node.myOrg.add("a").add("c").add("d");
  const a = createLeaderElectionAdapter({ node, clock: new ManualClock(), logger: silentLogger, metrics: memoryMetricsProvider() }, "ch");
  assert.deepEqual(
    a.peers().map((p) => fromUtf8(p.id)),
    ["a", "c"],
  );
});

test("isAlive(): one of peers(), whether the node answers per peer or only with lists", () => {
  const members = { ch: [{ pkiId: utf8("a") }, { pkiId: utf8("b") }, { pkiId: utf8("c") }], other: [{ pkiId: utf8("d") }] };
  const listOnly = new FakeNode();
  const perPeer = Object.assign(new FakeNode(), {
    asked: 0,
    isPeerOfChannel(this: FakeNode & { asked: number }, channel: string, pkiId: Uint8Array): boolean {
      this.asked++;
      return this.peersOfChannel(channel).some((m) => fromUtf8(m.pkiId) === fromUtf8(pkiId));
    },
  });
  for (const node of [listOnly, perPeer]) {
    node.members = members;
    node.myOrg.add("a").add("c").add("d");
    const a = createLeaderElectionAdapter({ node, clock: new ManualClock(), logger: silentLogger, metrics: memoryMetricsProvider() }, "ch");
    for (const id of ["a", "b", "c", "d", "self", "nobody"]) {
      assert.equal(a.isAlive?.(utf8(id)), ["a", "c"].includes(id), `isAlive(${id})`);
    }
  }
  assert.equal(perPeer.asked, 6, "the node was asked per peer");
});

test("accept(): only CHAN_AND_ORG leadership messages of our channel; stop() unsubscribes", () => {
  const node = new FakeNode();
  const a = createLeaderElectionAdapter({ node, clock: new ManualClock(), logger: silentLogger, metrics: memoryMetricsProvider() }, "ch");
  const got: string[] = [];
  a.accept((m) => got.push(`${fromUtf8(m.senderId)}:${m.isDeclaration() ? "D" : "P"}`));
  node.demux(leadership("ch", GossipMessage_Tag.CHAN_AND_ORG, "x", true));
  node.demux(leadership("ch", GossipMessage_Tag.CHAN_AND_ORG, "y", false));
  node.demux(leadership("other", GossipMessage_Tag.CHAN_AND_ORG, "z", true));
  node.demux(leadership("ch", GossipMessage_Tag.CHAN_OR_ORG, "w", true));
  node.demux({ nonce: 0n, channel: utf8("ch"), tag: GossipMessage_Tag.CHAN_AND_ORG, content: { $case: "empty", value: {} } });
  assert.deepEqual(got, ["x:D", "y:P"]);
  const unsub = a.accept(() => got.push("second"));
  unsub();
  unsub();
  assert.equal(node.subs.size, 1);
  a.stop();
  a.stop();
  assert.equal(node.subs.size, 0);
  node.demux(leadership("ch", GossipMessage_Tag.CHAN_AND_ORG, "x", true));
  assert.deepEqual(got, ["x:D", "y:P"]);
  a.gossip(a.createMessage(true));
  assert.equal(node.sent.length, 0, "a stopped adapter sends nothing");
});

test("reportMetrics: gossip_leader_election_leader{channel} is 1 as leader and 0 as follower; channels share the gauge", async () => {
  const registry = createRegistry();
  const node = new FakeNode();
  const c = { node, clock: new ManualClock(), logger: silentLogger, metrics: promMetricsProvider(registry) };
  const a = createLeaderElectionAdapter(c, "ch1");
  const b = createLeaderElectionAdapter(c, "ch2");
  a.reportMetrics(true);
  b.reportMetrics(false);
  const values = async () => {
    const m = await registry.getSingleMetric(LEADER_ELECTION_LEADER_METRIC)!.get();
    return Object.fromEntries(m.values.map((v) => [String(v.labels["channel"]), v.value]));
  };
  assert.deepEqual(await values(), { ch1: 1, ch2: 0 });
  a.reportMetrics(false);
  assert.deepEqual(await values(), { ch1: 0, ch2: 0 });
  assert.match(await registry.metrics(), /# TYPE gossip_leader_election_leader gauge/);
});

test("leader modes: useLeaderElection, orgLeader, standby; both set is a configuration error naming both keys", async () => {
  assert.equal(resolveLeaderMode({ useLeaderElection: true, orgLeader: false }), "election");
  assert.equal(resolveLeaderMode({ useLeaderElection: false, orgLeader: true }), "static-leader");
  assert.equal(resolveLeaderMode({ useLeaderElection: false, orgLeader: false }), "standby");
  assert.throws(
    () => resolveLeaderMode({ useLeaderElection: true, orgLeader: true }),
    (e: unknown) =>
      e instanceof ElectionError &&
      e.code === "CONFLICTING_LEADER_MODE" &&
      e.message.includes("peer.gossip.useLeaderElection") &&
      e.message.includes("peer.gossip.orgLeader"),
  );

  const calls: boolean[] = [];
  const leader = createStaticLeaderService(true, (b) => calls.push(b));
  assert.equal(leader.isLeader(), true);
  await leader.start();
  await leader.start();
  leader.yield();
  assert.equal(leader.isLeader(), true, "a static leader does not yield");
  await leader.stop();
  assert.deepEqual(calls, [true]);

  const standby = createStaticLeaderService(false, (b) => calls.push(b));
  await standby.start();
  assert.equal(standby.isLeader(), false);
  await standby.stop();
  assert.deepEqual(calls, [true]);
});
