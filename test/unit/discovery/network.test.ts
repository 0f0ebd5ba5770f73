/**
 * Multi-peer discovery scenarios in virtual time, modelled on Fabric's gossip/discovery/discovery_test.go
 * (FABRIC-REFERENCE 5.3). Each test shuts its network down and checks that no timer is left.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type PeerEventOf, PeerEvents, pkiHex } from "../../../src/api/index.js";

type DuplicateIdentity = PeerEventOf<"duplicate-identity">;
import type { DisclosurePolicy } from "../../../src/discovery/index.js";
import { MemoryLogger } from "../../../src/logging/index.js";
import { SignedGossipMessage } from "../../../src/protoext/signed-message.js";
import { GossipMessage_Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { fromUtf8, utf8 } from "../../../src/util/bytes.js";
import { TEST_OPTIONS, type TestNetwork as Net, TestNetwork, type TestNode } from "./harness.js";

const ALIVE = TEST_OPTIONS.aliveTimeIntervalMs!;
const EXPIRATION = TEST_OPTIONS.aliveExpirationTimeoutMs!;
const CHECK = TEST_OPTIONS.aliveExpirationCheckIntervalMs!;
const RECONNECT = TEST_OPTIONS.reconnectIntervalMs!;
const TTL = EXPIRATION * TEST_OPTIONS.msgExpirationFactor!;

async function finish(net: Net): Promise<void> {
  await net.shutdown();
  assert.equal(net.clock.pendingTimers(), 0, "timers left after every node stopped");
}

/** n nodes peer0..peer{n-1}; every node but the first bootstraps to peer0. */
function star(net: Net, n: number, opts: { external?: (i: number) => string } = {}): TestNode[] {
  const boot = "peer0:7000";
  return Array.from({ length: n }, (_, i) =>
    net.add({
      endpoint: `peer${i}:${7000 + i}`,
      ...(opts.external ? { externalEndpoint: opts.external(i) } : {}),
      bootstrap: i === 0 ? [] : [boot],
    }),
  );
}

function others(nodes: readonly TestNode[], self: TestNode): string[] {
  return nodes
    .filter((n) => n !== self)
    .map((n) => n.endpoint)
    .sort();
}

function isDead(observer: TestNode, target: TestNode): boolean {
  return observer.d.lookup(target.pkiId) !== undefined && !observer.view().includes(target.endpoint);
}

describe("discovery network (Fabric's discovery_test.go scenarios)", () => {
  it("TestGetFullMembership: 15 peers learn everyone from one bootstrap peer, with internal endpoints", async () => {
    const net = new TestNetwork({ seed: 7 });
    const nodes = star(net, 15, { external: (i) => `ext${i}.org1.example.com:${7000 + i}` });
    await net.startAll();
    const took = await net.until(() => nodes.every((n) => n.view().length === 14), 10_000);
    assert.ok(took <= 10_000);
    for (const n of nodes) {
      assert.deepEqual(n.view(), others(nodes, n));
      for (const m of n.d.getMembership()) {
        const peer = net.at(fromUtf8(m.pkiId))!;
        assert.equal(m.internalEndpoint, peer.endpoint, "internal endpoints propagate within the org");
        assert.equal(m.endpoint, peer.externalEndpoint);
        assert.ok(m.envelope !== undefined);
      }
      const self = n.d.self();
      assert.equal(self.endpoint, n.externalEndpoint);
      assert.deepEqual(n.d.lookup(n.pkiId)?.internalEndpoint, n.endpoint);
    }
    await finish(net);
  });

  it("TestUpdate: metadata and endpoint changes reach every view", async () => {
    const net = new TestNetwork({ seed: 2 });
    const nodes = star(net, 5);
    await net.startAll();
    await net.until(() => nodes.every((n) => n.view().length === 4), 5_000);
    nodes[0]!.d.updateMetadata(utf8("bla bla"));
    nodes[4]!.d.updateEndpoint("localhost:5511");
    await net.until(
      () =>
        nodes.every((n) =>
          n.d.getMembership().every((m) => {
            const id = fromUtf8(m.pkiId);
            if (id === nodes[0]!.endpoint) return fromUtf8(m.metadata) === "bla bla";
            if (id === nodes[4]!.endpoint) return m.endpoint === "localhost:5511";
            return true;
          }),
        ),
      3 * ALIVE + 100,
    );
    await finish(net);
  });

  it("TestInitiateSync: without heartbeats, periodic InitiateSync(9) builds and keeps the full view", async () => {
    const net = new TestNetwork({ seed: 3 });
    const boots = ["peer0:7000", "peer1:7001"];
    const nodes = Array.from({ length: 10 }, (_, i) => net.add({ endpoint: `peer${i}:${7000 + i}`, bootstrap: boots, gossip: false }));
    await net.startAll();
    const syncLoop = (n: TestNode): void => {
      net.after(() => {
        if (!n.up) return;
        n.d.initiateSync(9);
        syncLoop(n);
      }, EXPIRATION / 3);
    };
    for (const n of nodes) syncLoop(n);
    await net.clock.advance(4 * EXPIRATION);
    for (const n of nodes) assert.deepEqual(n.view(), others(nodes, n));
    await finish(net);
  });

  it("TestNoSigningIfNoMembership: a lonely peer signs nothing, even when asked to sync", async () => {
    const net = new TestNetwork();
    const alone = net.add({ endpoint: "alone:7000" });
    await alone.start();
    await net.clock.advance(10 * ALIVE);
    alone.d.initiateSync(10_000);
    assert.equal(alone.stats.signs, 0);
    await finish(net);
  });

  it("TestExpiration: crashed peers move to the dead list within aliveExpirationTimeout + one check, and their connections are closed", async () => {
    const net = new TestNetwork({ seed: 5 });
    const nodes = star(net, 5);
    await net.startAll();
    await net.until(() => nodes.every((n) => n.view().length === 4), 5_000);
    const [a, b, c, d, e] = nodes as [TestNode, TestNode, TestNode, TestNode, TestNode];
    await d.stop();
    await e.stop();
    const survivors = [a, b, c];
    // Still alive shortly before the timeout: heartbeats arrived until the crash.
    await net.clock.advance(EXPIRATION - ALIVE - 100);
    for (const s of survivors) assert.equal(s.view().length, 4, `${s.endpoint} expired too early`);
    await net.clock.advance(ALIVE + 100 + CHECK + 2 * net.latencyMs);
    for (const s of survivors) {
      assert.deepEqual(s.view(), others(survivors, s));
      assert.ok(isDead(s, d) && isDead(s, e), "crashed peers are known as dead");
      assert.ok(s.stats.closed.includes(d.endpoint) && s.stats.closed.includes(e.endpoint), "connections to the dead are closed");
    }
    await finish(net);
  });

  it("presumed dead: comm's failed sends expire a crashed peer at once", async () => {
    const net = new TestNetwork({ seed: 11, presumeDeadOnFailedSend: true });
    const nodes = star(net, 5);
    await net.startAll();
    await net.until(() => nodes.every((n) => n.view().length === 4), 5_000);
    const victim = nodes[3]!;
    await victim.stop();
    const survivors = nodes.filter((n) => n !== victim);
    const took = await net.until(() => survivors.every((s) => isDead(s, victim)), EXPIRATION, 10);
    assert.ok(took < EXPIRATION / 2, `expired after ${took} ms, expected well before the ${EXPIRATION} ms timeout`);
    await finish(net);
  });

  it("resurrection: a restarted peer is alive again within reconnectInterval + aliveTimeInterval, by the dead-peer reconnect", async () => {
    const net = new TestNetwork({ seed: 9 });
    const nodes = star(net, 5);
    await net.startAll();
    await net.until(() => nodes.every((n) => n.view().length === 4), 5_000);
    const boot = nodes[0]!; // it has no bootstrap peer of its own: only the others' reconnect brings it back
    const oldInc = boot.d.self().envelope;
    await boot.stop();
    const survivors = nodes.slice(1);
    await net.until(() => survivors.every((s) => isDead(s, boot)), EXPIRATION + CHECK + 100);
    await net.clock.advance(RECONNECT / 2);
    await boot.start();
    const took = await net.until(() => survivors.every((s) => s.view().includes(boot.endpoint)), RECONNECT + ALIVE, 10);
    assert.ok(took <= RECONNECT + ALIVE);
    await net.until(() => boot.view().length === 4, ALIVE * 3);
    // The new incarnation has a later inc_num.
    const incOf = (env: typeof oldInc): bigint => {
      const c = SignedGossipMessage.fromEnvelope(env!).message.content;
      return c?.$case === "aliveMsg" ? c.value.timestamp!.incNum : 0n;
    };
    const seen = survivors[0]!.d.getMembership().find((m) => fromUtf8(m.pkiId) === boot.endpoint)!;
    assert.ok(incOf(seen.envelope) > incOf(oldInc));
    assert.ok(survivors.every((s) => s.stats.pings.includes(boot.endpoint)), "dead peers were pinged");
    await finish(net);
  });

  it("TestMsgStoreExpiration / TestPeerIsolation / TestMembershipAfterExpiration: after the alive TTL a dead peer is forgotten, bootstrap and anchor peers never", async () => {
    const logger = new MemoryLogger();
    const net = new TestNetwork({ seed: 13 });
    const anchor = { isAnchorPeer: (endpoint: string) => endpoint === "peer4:7004" };
    const boot = "peer0:7000";
    const nodes = Array.from({ length: 5 }, (_, i) =>
      net.add({
        endpoint: `peer${i}:${7000 + i}`,
        bootstrap: i === 0 ? [] : [boot],
        anchorPeerTracker: anchor,
        ...(i === 1 ? { logger } : {}),
      }),
    );
    await net.startAll();
    await net.until(() => nodes.every((n) => n.view().length === 4), 5_000);
    const [p0, p1, p2, p3, p4] = nodes as [TestNode, TestNode, TestNode, TestNode, TestNode];
    const lastOfP3 = p1.d.getMembership().find((m) => fromUtf8(m.pkiId) === p3.endpoint)!.envelope!;
    await p0.stop();
    await p3.stop();
    await p4.stop();
    const survivors = [p1, p2];
    await net.clock.advance(TTL - 1_000);
    for (const s of survivors) {
      assert.ok(isDead(s, p0) && isDead(s, p3) && isDead(s, p4), "dead, not yet forgotten");
    }
    await net.clock.advance(2_000);
    for (const s of survivors) {
      assert.equal(s.d.lookup(p3.pkiId), undefined, "an ordinary dead peer is forgotten after the TTL");
      assert.ok(isDead(s, p0), "a bootstrap peer is never forgotten");
      assert.ok(isDead(s, p4), "an anchor peer is never forgotten");
    }
    assert.ok(logger.lines.some((l) => l.msg.startsWith("Do not remove bootstrap or anchor peer endpoint")));

    // Replay protection: the forgotten peer's last alive message stays in the store, marked expired,
    // until 2 x TTL, so replaying it (pushed, or as a membership request's self information) changes nothing.
    const replay = SignedGossipMessage.fromEnvelope(lastOfP3);
    p1.inject(replay, p2.pkiId, p2.endpoint);
    const memReq = SignedGossipMessage.noopSign({
      nonce: 0n,
      channel: new Uint8Array(0),
      tag: GossipMessage_Tag.EMPTY,
      content: { $case: "memReq", value: { selfInformation: lastOfP3, known: [] } },
    });
    p1.inject(memReq, p3.pkiId, p3.endpoint);
    await net.clock.advance(10);
    assert.equal(p1.d.lookup(p3.pkiId), undefined, "a stale replay must not bring a forgotten peer back");

    // Peer isolation: the bootstrap and anchor peers are still pinged and come back when restarted.
    const pingsBefore = p1.stats.pings.filter((e) => e === p0.endpoint).length;
    await p0.start();
    await p4.start();
    await net.until(() => survivors.every((s) => s.view().includes(p0.endpoint) && s.view().includes(p4.endpoint)), RECONNECT + ALIVE);
    assert.ok(p1.stats.pings.filter((e) => e === p0.endpoint).length > pingsBefore);
    // A forgotten peer comes back only by itself (its bootstrap connect).
    await p3.start();
    await net.until(() => nodes.every((n) => n.view().length === 4), 5_000);
    await finish(net);
  });

  it("replay window: after 2 x TTL the expired entry is deleted and an old alive message is accepted again (Fabric's limit)", async () => {
    const net = new TestNetwork({ seed: 17 });
    const nodes = star(net, 3);
    await net.startAll();
    await net.until(() => nodes.every((n) => n.view().length === 2), 5_000);
    const [, p1, p2] = nodes as [TestNode, TestNode, TestNode];
    const old = p1.d.getMembership().find((m) => fromUtf8(m.pkiId) === p2.endpoint)!.envelope!;
    await p2.stop();
    await net.clock.advance(2 * TTL + 2_000);
    assert.equal(p1.d.lookup(p2.pkiId), undefined);
    p1.inject(SignedGossipMessage.fromEnvelope(old), nodes[0]!.pkiId);
    await net.clock.advance(10);
    assert.ok(p1.view().includes(p2.endpoint), "beyond 2 x TTL the store no longer remembers the peer");
    await finish(net);
  });

  it("TestDisclosurePolicyWithPull: two orgs, only even peers have external endpoints; views and internal endpoints follow the policy", async () => {
    const net = new TestNetwork({ seed: 21 });
    const port = (i: number): number => 8610 + i;
    const orgOf = (i: number): string => (i < 5 ? "A" : "B");
    const bootOf: Record<number, number> = { 0: 6, 1: 0, 2: 0, 3: 0, 4: 0, 5: 6, 6: 0, 7: 6, 8: 6, 9: 6 };
    const orgByPki = new Map<string, string>();
    // The Node's disclosure policy (gossip_impl.go), with orgs known from the PKI-IDs.
    net.policyFor = (self): DisclosurePolicy => (remote) => {
      const remoteOrg = orgByPki.get(fromUtf8(remote.pkiId));
      if (remoteOrg === undefined) return { sieve: () => false, envelopeFilter: (m) => m.envelope };
      return {
        sieve: (msg) => {
          const c = msg.message.content;
          if (c?.$case !== "aliveMsg") return false;
          const msgOrg = orgByPki.get(fromUtf8(c.value.membership!.pkiId));
          if (msgOrg === undefined) return false;
          if (msgOrg !== remoteOrg && msgOrg !== self.org) return false;
          return self.org === remoteOrg || (c.value.membership!.endpoint !== "" && remote.endpoint !== "");
        },
        envelopeFilter: (msg) => (self.org === remoteOrg ? msg.envelope : msg.withoutSecret().envelope),
      };
    };
    const nodes = Array.from({ length: 10 }, (_, i) => {
      const endpoint = `p${i}:${port(i)}`;
      orgByPki.set(endpoint, orgOf(i));
      return net.add({
        endpoint,
        externalEndpoint: i % 2 === 0 ? endpoint : "",
        org: orgOf(i),
        bootstrap: [`p${bootOf[i]}:${port(bootOf[i]!)}`],
        gossip: false,
      });
    });
    await net.startAll();
    const syncLoop = (n: TestNode): void => {
      net.after(() => {
        if (!n.up) return;
        n.d.initiateSync(10);
        syncLoop(n);
      }, EXPIRATION / 3);
    };
    for (const n of nodes) syncLoop(n);
    const expected = (i: number): string[] => {
      const names: string[] = [];
      for (let j = 0; j < 10; j++) {
        if (j === i) continue;
        const sameOrg = orgOf(i) === orgOf(j);
        if (sameOrg || (i % 2 === 0 && j % 2 === 0)) names.push(`p${j}:${port(j)}`);
      }
      return names.sort();
    };
    await net.until(() => nodes.every((n, i) => n.view().length === expected(i).length), 15_000);
    await net.clock.advance(2 * EXPIRATION);
    nodes.forEach((n, i) => {
      assert.deepEqual(n.view(), expected(i), `view of p${i}`);
      for (const m of n.d.getMembership()) {
        const other = orgByPki.get(fromUtf8(m.pkiId));
        if (other !== n.org) assert.equal(m.internalEndpoint, "", `p${i} knows the internal endpoint of ${fromUtf8(m.pkiId)} of another org`);
        else assert.notEqual(m.internalEndpoint, "");
      }
    });
    // Stop p0: only the peers allowed to know p0 learn that it is dead.
    await nodes[0]!.stop();
    await net.clock.advance(2 * EXPIRATION);
    nodes.slice(1).forEach((n, k) => {
      const i = k + 1;
      const shouldKnow = orgOf(i) === "A" || i % 2 === 0;
      assert.equal(isDead(n, nodes[0]!), shouldKnow, `p${i} dead list`);
      if (!shouldKnow) assert.equal(n.d.lookup(nodes[0]!.pkiId), undefined);
    });
    await finish(net);
  });

  it("TestCertificateChange: an identity switch purges the peer and ends its pinging; other peers keep pinging", async () => {
    const net = new TestNetwork({ seed: 23 });
    const boots = ["d1:42611", "d2:42612", "d3:42613"];
    const [p1, p2, p3] = boots.map((endpoint) => net.add({ endpoint, bootstrap: boots })) as [TestNode, TestNode, TestNode];
    await net.startAll();
    await net.until(() => [p1, p2, p3].every((n) => n.view().length === 2), 5_000);
    await p2.stop();
    await net.until(() => isDead(p1, p2) && isDead(p3, p2), EXPIRATION + CHECK + 100);
    await net.clock.advance(2 * RECONNECT);
    const pinged = (n: TestNode): number => n.stats.pings.filter((e) => e === p2.endpoint).length;
    assert.ok(pinged(p1) > 0 && pinged(p3) > 0);
    p1.identitySwitch(p2.pkiId);
    assert.equal(p1.d.lookup(p2.pkiId), undefined);
    const [before1, before3] = [pinged(p1), pinged(p3)];
    await net.clock.advance(2 * RECONNECT + 100);
    assert.equal(pinged(p1), before1, "p1 no longer pings the purged peer");
    assert.ok(pinged(p3) > before3, "p3 still pings it");
    await finish(net);
  });

  it("TestConvergence: four bootstrap groups joined by one peer converge, and lose it when it stops", async () => {
    const net = new TestNetwork({ seed: 29 });
    const groups = [0, 1, 2, 3].map((g) => {
      const bootEndpoint = `d${g * 4}:${9000 + g * 4}`;
      const boot = net.add({ endpoint: bootEndpoint });
      const minions = [1, 2, 3].map((k) => net.add({ endpoint: `d${g * 4 + k}:${9000 + g * 4 + k}`, bootstrap: [bootEndpoint] }));
      return [boot, ...minions];
    });
    await net.startAll();
    await net.until(() => groups.every((g) => g.every((n) => n.view().length === 3)), 5_000);
    const joiner = net.add({ endpoint: "d16:9016", bootstrap: groups.map((g) => g[0]!.endpoint) });
    await joiner.start();
    const all = net.nodes;
    await net.until(() => all.every((n) => n.view().length === 16), 10_000);
    await joiner.stop();
    await net.until(() => groups.flat().every((n) => n.view().length === 15), EXPIRATION + CHECK + 100);
    await finish(net);
  });
});

describe("a second process with a peer's identity", () => {
  it("is reported by the peer and by the peers that see both endpoints; the view recovers within expiration + reconnect after it stops", async () => {
    const net = new TestNetwork({ seed: 11 });
    const seen = new Map<string, DuplicateIdentity[]>();
    const bus = (name: string): PeerEvents => {
      const b = new PeerEvents();
      const list: DuplicateIdentity[] = [];
      seen.set(name, list);
      b.on("duplicate-identity", (e) => list.push(e));
      return b;
    };
    const boot = "peer0:7000";
    const peer0 = net.add({ endpoint: boot, events: bus("peer0") });
    const peer1 = net.add({ endpoint: "peer1:7001", bootstrap: [boot], events: bus("peer1") });
    const peer2 = net.add({ endpoint: "peer2:7002", bootstrap: [boot], events: bus("peer2") });
    await net.startAll();
    await net.until(() => [peer0, peer1, peer2].every((n) => n.view().length === 2), 5_000);

    // The twin: peer1's identity, another endpoint, started later (a newer incarnation).
    const twin = net.add({ endpoint: "twin:7009", identity: "peer1:7001", bootstrap: [boot] });
    await twin.start();
    await net.clock.advance(10 * ALIVE + 3 * EXPIRATION);
    assert.ok((seen.get("peer1") ?? []).some((e) => e.endpoint === "twin:7009"), "the peer whose identity it is reports the twin");
    const observers = [...(seen.get("peer0") ?? []), ...(seen.get("peer2") ?? [])];
    assert.ok(observers.length > 0, "a peer that sees the identity alternate between two endpoints reports it");
    assert.ok(observers.every((e) => e.pkiId === pkiHex(peer1.pkiId)));

    await twin.stop();
    const stoppedAt = net.clock.monotonic();
    const endpointOf = (observer: TestNode): string | undefined =>
      observer.view().includes("peer1:7001") ? observer.d.lookup(peer1.pkiId)?.endpoint : undefined;
    await net.until(() => endpointOf(peer0) === "peer1:7001" && endpointOf(peer2) === "peer1:7001", EXPIRATION + RECONNECT);
    assert.ok(net.clock.monotonic() - stoppedAt <= EXPIRATION + RECONNECT);
    // And it stays so: the real peer is not declared dead afterwards.
    await net.clock.advance(3 * EXPIRATION);
    assert.equal(endpointOf(peer0), "peer1:7001");
    assert.equal(endpointOf(peer2), "peer1:7001");
    await finish(net);
  });
});
