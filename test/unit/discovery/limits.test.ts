/**
 * Membership that a liar cannot bloat: an insider whose org CA minted identities lists them in
 * membership responses (validly signed under the development MCS). Bounded entries per response and
 * per sender, per-org quotas and caps, second-hand dead members forgotten on a schedule (with the
 * tombstone that keeps them from coming back from other peers' dead lists), reconnect pings with
 * bounded concurrency and back-off, and log lines under a fixed count per minute. Virtual time.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PKIidType } from "../../../src/api/identity.js";
import type { DiscoveryOptions, NetworkMember } from "../../../src/discovery/index.js";
import { MemoryLogger } from "../../../src/logging/index.js";
import type { Registry } from "../../../src/metrics/index.js";
import { SignedGossipMessage } from "../../../src/protoext/signed-message.js";
import { fromUtf8, utf8 } from "../../../src/util/bytes.js";
import { TEST_OPTIONS } from "./harness.js";
import { type Fixture, fixture, memRes, RecordingComm, RemotePeer } from "./recording-comm.js";

const ALIVE = TEST_OPTIONS.aliveTimeIntervalMs!;
const EXPIRATION = TEST_OPTIONS.aliveExpirationTimeoutMs!;
const CHECK = TEST_OPTIONS.aliveExpirationCheckIntervalMs!;
const RECONNECT = TEST_OPTIONS.reconnectIntervalMs!;
const TTL = EXPIRATION * TEST_OPTIONS.msgExpirationFactor!;
const MINUTE = 60_000;

/** Fake identities are EvilMSP's ("fake..."), "org2-..." Org2MSP's, the rest Org1MSP's. */
function orgOf(pkiId: PKIidType): string {
  const id = fromUtf8(pkiId);
  if (id.startsWith("fake")) return "EvilMSP";
  if (id.startsWith("org2")) return "Org2MSP";
  return "Org1MSP";
}

function fakes(n: number, from = 0): RemotePeer[] {
  return Array.from({ length: n }, (_, i) => new RemotePeer(`fake${from + i}:7051`));
}

function known(f: Fixture): string[] {
  return [...f.disc.getMembership(), ...f.disc.getDeadMembers()].map((m) => fromUtf8(m.pkiId));
}

function fakeCount(f: Fixture): number {
  return known(f).filter((id) => id.startsWith("fake")).length;
}

async function counter(registry: Registry, name: string, label: string, value: string): Promise<number> {
  const metric = await registry.getSingleMetric(name)!.get();
  return metric.values.filter((v) => v.labels[label] === value).reduce((a, v) => a + v.value, 0);
}

/** Advances `ms` of virtual time while `peers` push an alive message of their own every heartbeat. */
async function withHeartbeats(f: Fixture, ms: number, peers: readonly RemotePeer[]): Promise<void> {
  for (let t = 0; t < ms; t += ALIVE) {
    for (const p of peers) f.comm.deliver(p.alive(), p.pkiId);
    await f.clock.advance(Math.min(ALIVE, ms - t));
  }
}

/** Lines a default (info) log level shows. */
function shown(logger: MemoryLogger): number {
  return logger.lines.filter((l) => l.level !== "debug").length;
}

describe("a membership response listing 1,000 fake members", () => {
  it("leaves at most the org quota learned, other orgs' members are still learned, and the fakes are forgotten by the schedule", async (t) => {
    const f = await fixture({ orgOf });
    const liar = new RemotePeer("fakeliar:7051");
    const honest = [new RemotePeer("p1:7051"), new RemotePeer("org2-0:7051"), new RemotePeer("org2-1:7051")];
    for (const p of [liar, ...honest]) f.comm.deliver(p.alive(), p.pkiId);
    const flood = fakes(1_000);
    // 500 alive and 500 dead entries: with the liar's own entry, one over maxMembersPerResponse.
    const res = memRes(0n, [liar.alive(), ...flood.slice(0, 500).map((p) => p.alive())], flood.slice(500).map((p) => p.alive()));
    f.comm.deliver(res, liar.pkiId);
    await f.clock.advance(0); // a response's checks run in slices
    const held = fakeCount(f);
    t.diagnostic(`members of EvilMSP held after one response with 1,000 fakes: ${held} (before: 1,001)`);
    assert.equal(held, 500, "the org quota: 500 new EvilMSP members per interval, the liar itself one of them");
    assert.equal(await counter(f.registry, "fabric_gossip_discovery_limited_total", "reason", "RESPONSE_LIMIT"), 1);
    assert.equal(await counter(f.registry, "fabric_gossip_discovery_limited_total", "reason", "ORG_QUOTA"), 500);

    // Another response from the liar in the same interval teaches nothing more...
    f.comm.deliver(memRes(0n, fakes(1_000, 1_000).map((p) => p.alive())), liar.pkiId);
    await f.clock.advance(0);
    assert.equal(fakeCount(f), 500);
    // ...while members of the other orgs are still learned, from a response and from a push.
    const newcomers = [new RemotePeer("org2-2:7051"), new RemotePeer("p2:7051")];
    f.comm.deliver(memRes(0n, [honest[1]!.alive(), newcomers[0]!.alive()]), honest[1]!.pkiId);
    await f.clock.advance(0);
    f.comm.deliver(newcomers[1]!.alive(), newcomers[1]!.pkiId);
    const everyHonest = [...honest, ...newcomers];
    for (const p of everyHonest) assert.ok(f.disc.lookup(p.pkiId) !== undefined, `${p.endpoint} learned`);

    // The fakes go silent: dead after the expiration timeout, the alive view is the honest set.
    await withHeartbeats(f, EXPIRATION + 2 * CHECK, everyHonest);
    assert.deepEqual(
      f.disc
        .getMembership()
        .map((m) => fromUtf8(m.pkiId))
        .sort(),
      everyHonest.map((p) => p.endpoint).sort(),
    );
    // Known only second-hand, they are forgotten aliveExpirationTimeout x msgExpirationFactor after
    // they were last heard of (Fabric keeps members learned from a response for good).
    await withHeartbeats(f, TTL - EXPIRATION, everyHonest);
    assert.equal(fakeCount(f), 0, "every fake member forgotten");
    assert.ok(f.disc.lookup(liar.pkiId) === undefined);
    assert.deepEqual(known(f).sort(), everyHonest.map((p) => p.endpoint).sort(), "the membership is the honest set again");
    t.diagnostic(`members held ${TTL / 1000} s later: ${known(f).length} (the honest ${everyHonest.length}; before: ${everyHonest.length + 2_000})`);

    // Replaying the response brings none of the forgotten back (its alive entries are not newer than
    // what was forgotten); the entries that were over the quota the first time count against this
    // interval's quota, as second-hand dead members again.
    f.comm.deliver(res, honest[0]!.pkiId);
    await f.clock.advance(0);
    const back = known(f).filter((id) => id.startsWith("fake"));
    assert.equal(back.filter((id) => Number(/^fake(\d+):/.exec(id)?.[1] ?? -1) < 499 || id === "fakeliar:7051").length, 0, "no forgotten member is learned again");
    assert.equal(back.length, 500, "the quota of this interval");
    assert.deepEqual(
      f.disc
        .getMembership()
        .map((m) => fromUtf8(m.pkiId))
        .filter((id) => id.startsWith("fake")),
      ["fake499:7051"],
      "alive again: only the alive entry that was over the quota the first time",
    );
    await f.disc.stop();
  });

  it("a member of the flooded org speaking for itself is still learned past the org quota, and only it counts as heard from directly", async () => {
    const f = await fixture({ orgOf, options: { maxNewMembersPerOrgPerInterval: 10 } });
    const liar = new RemotePeer("fakeliar:7051");
    f.comm.deliver(liar.alive(), liar.pkiId);
    f.comm.deliver(memRes(0n, fakes(50).map((p) => p.alive())), liar.pkiId);
    await f.clock.advance(0);
    assert.equal(fakeCount(f), 10, "the quota, the liar itself included");
    // An honest member of EvilMSP (the org whose quota the liar spent) pushes its own alive message.
    const honestOfOrg = new RemotePeer("fakehonest:7051");
    f.comm.deliver(honestOfOrg.alive(), honestOfOrg.pkiId);
    assert.ok(f.disc.lookup(honestOfOrg.pkiId) !== undefined, "learned past the quota: it proved it exists");
    // The same alive message relayed by another member is second-hand: the quota holds.
    const relayed = new RemotePeer("fakerelayed:7051");
    f.comm.deliver(relayed.alive(), liar.pkiId);
    assert.equal(f.disc.lookup(relayed.pkiId), undefined, "a relayed new member past the quota is not learned");
    assert.equal(f.disc.heardDirectly(honestOfOrg.pkiId), true);
    assert.equal(f.disc.heardDirectly(liar.pkiId), true);
    assert.equal(f.disc.heardDirectly(fakes(1)[0]!.pkiId), false, "a listed member was never heard from");
    // Any message over a connection authenticated as a member proves it exists.
    f.disc.heardFrom(fakes(1)[0]!.pkiId);
    assert.equal(f.disc.heardDirectly(fakes(1)[0]!.pkiId), true, "heard from over its own connection");
    f.disc.heardFrom(new RemotePeer("unknown:7051").pkiId);
    assert.equal(f.disc.lookup(new RemotePeer("unknown:7051").pkiId), undefined, "a member not known is not learned by it");
    await f.disc.stop();
  });

  it("a large response's signature checks run in slices, not all in one turn; stop() drops the rest", async () => {
    const f = await fixture({ orgOf });
    const sender = new RemotePeer("p1:7051");
    f.comm.deliver(memRes(0n, fakes(300).map((p) => p.alive())), sender.pkiId);
    assert.equal(fakeCount(f), 8, "the first slice (8 checks) at once");
    await f.clock.advance(0);
    assert.equal(fakeCount(f), 300, "the rest in later turns, without time passing");
    f.comm.deliver(memRes(0n, fakes(150, 300).map((p) => p.alive())), sender.pkiId);
    await f.disc.stop();
    assert.equal(f.clock.pendingTimers(), 0, "the rest of the response is dropped with every timer");
  });

  it("maxMembersPerResponse: entries past the bound are ignored, alive ones first, the rest processed", async () => {
    const f = await fixture({ orgOf, options: { maxMembersPerResponse: 100 } });
    const sender = new RemotePeer("p1:7051");
    const alive = fakes(80);
    const dead = fakes(80, 80);
    f.comm.deliver(memRes(0n, alive.map((p) => p.alive()), dead.map((p) => p.alive())), sender.pkiId);
    await f.clock.advance(0);
    assert.equal(f.disc.getMembership().length, 80, "every alive entry");
    assert.equal(f.disc.getDeadMembers().length, 20, "the first 20 dead entries");
    assert.equal(await counter(f.registry, "fabric_gossip_discovery_limited_total", "reason", "RESPONSE_LIMIT"), 60);
    await f.disc.stop();
  });

  it("the sender's budget bounds the entries it makes us verify per interval; the next interval has a new one", async () => {
    const f = await fixture({ orgOf, options: { maxMemberEntriesPerSenderPerInterval: 50 } });
    const liar = new RemotePeer("p1:7051");
    f.comm.deliver(memRes(0n, fakes(40).map((p) => p.alive())), liar.pkiId);
    await f.clock.advance(0);
    const before = f.stats.validations;
    f.comm.deliver(memRes(0n, fakes(40, 40).map((p) => p.alive())), liar.pkiId);
    await f.clock.advance(0);
    assert.equal(f.stats.validations - before, 10, "10 verified, 30 over the budget");
    assert.equal(fakeCount(f), 50);
    // Entries that bring nothing new cost nothing: known members, not newer.
    const known50 = f.stats.validations;
    f.comm.deliver(memRes(0n, fakes(40).map((p) => p.alive({ seq: 1n }))), liar.pkiId);
    await f.clock.advance(0);
    assert.equal(f.stats.validations, known50, "no signature check for news already held");
    // Another sender has its own budget.
    f.comm.deliver(memRes(0n, fakes(5, 100).map((p) => p.alive())), utf8("p2:7051"));
    await f.clock.advance(0);
    assert.equal(fakeCount(f), 55);
    await f.clock.advance(MINUTE);
    const next = fakes(20, 200);
    f.comm.deliver(memRes(0n, next.map((p) => p.alive())), liar.pkiId);
    await f.clock.advance(0);
    assert.ok(
      next.every((p) => f.disc.lookup(p.pkiId) !== undefined),
      "a new interval, a new budget",
    );
    await f.disc.stop();
  });

  it("caps: at maxKnownMembersPerOrg a new member replaces the org's longest-dead second-hand member, else it is ignored", async () => {
    const f = await fixture({ orgOf, options: { maxKnownMembersPerOrg: 100, maxKnownMembers: 150 } });
    const liar = new RemotePeer("p1:7051");
    // 100 dead EvilMSP members: the org is full.
    f.comm.deliver(memRes(0n, [], fakes(100).map((p) => p.alive())), liar.pkiId);
    await f.clock.advance(0);
    assert.equal(fakeCount(f), 100);
    // 100 more alive ones: each replaces a dead one.
    f.comm.deliver(memRes(0n, fakes(100, 100).map((p) => p.alive())), liar.pkiId);
    await f.clock.advance(0);
    assert.equal(fakeCount(f), 100);
    assert.equal(f.disc.getDeadMembers().length, 0, "the dead ones made room");
    // Now every EvilMSP member is alive: no room, nothing more learned.
    f.comm.deliver(memRes(0n, fakes(10, 200).map((p) => p.alive())), liar.pkiId);
    await f.clock.advance(0);
    assert.equal(fakeCount(f), 100);
    assert.equal(await counter(f.registry, "fabric_gossip_discovery_limited_total", "reason", "MEMBER_LIMIT"), 10);
    // Other orgs are still learned up to the total cap.
    const org2 = Array.from({ length: 60 }, (_, i) => new RemotePeer(`org2-${i}:7051`));
    for (const p of org2) f.comm.deliver(p.alive(), p.pkiId);
    assert.equal(known(f).filter((id) => id.startsWith("org2")).length, 50, "150 in total");
    await f.disc.stop();
  });
});

describe("forgetting dead members heard of only second-hand", () => {
  it("a forgotten dead peer relearned as dead from a membership response expires again (it used to stay for good)", async () => {
    const f = await fixture({ orgOf });
    const gone = new RemotePeer("gone:7051");
    const other = new RemotePeer("other:7051");
    f.comm.deliver(gone.alive(), gone.pkiId);
    // Its newer alive message reaches us only in a response: it never enters the alive store.
    const newer = gone.alive();
    f.comm.deliver(memRes(0n, [other.alive(), newer]), other.pkiId);
    await f.clock.advance(0);
    await withHeartbeats(f, TTL + TTL / 50 + CHECK, [other]);
    assert.equal(f.disc.lookup(gone.pkiId), undefined, "forgotten once its pushed alive message expired");
    // Another peer still lists it as dead, with an alive message newer than the one that expired.
    const last = gone.alive();
    f.comm.deliver(memRes(0n, [other.alive()], [last]), other.pkiId);
    await f.clock.advance(0);
    assert.equal(f.disc.lookup(gone.pkiId), undefined, "a dead list does not bring back a member forgotten within the TTL");
    // Once the tombstone ran out the dead entry teaches it again, as second-hand: forgotten after the TTL.
    await withHeartbeats(f, TTL + CHECK, [other]);
    f.comm.deliver(memRes(0n, [other.alive()], [last]), other.pkiId);
    await f.clock.advance(0);
    assert.ok(f.disc.lookup(gone.pkiId) !== undefined, "learned again as dead");
    await withHeartbeats(f, TTL + 2 * CHECK, [other]);
    assert.equal(f.disc.lookup(gone.pkiId), undefined, "and forgotten again");
    // A genuinely newer alive message of its own is accepted at any time.
    f.comm.deliver(gone.alive(), gone.pkiId);
    assert.ok(f.disc.getMembership().some((m) => fromUtf8(m.pkiId) === "gone:7051"));
    await f.disc.stop();
  });

  it("a dead member heard from directly follows Fabric's alive store rule; bootstrap and anchor peers are never forgotten", async () => {
    const f = await fixture({ orgOf, options: { bootstrapPeers: ["boot:7051"] } });
    const direct = new RemotePeer("direct:7051");
    const boot = new RemotePeer("boot:7051");
    const relay = new RemotePeer("relay:7051");
    // Heard from directly only in a membership request: never in the store, kept as in Fabric.
    f.comm.deliver(direct.memReq(0n), direct.pkiId);
    f.comm.deliver(memRes(0n, [], [boot.alive()]), relay.pkiId);
    await f.clock.advance(0);
    await f.clock.advance(3 * TTL);
    assert.ok(f.disc.lookup(direct.pkiId) !== undefined);
    assert.ok(f.disc.lookup(boot.pkiId) !== undefined);
    await f.disc.stop();
  });
});

/** A comm whose pings answer `false` after `delayMs` of virtual time, counting pings in flight. */
class SlowPingComm extends RecordingComm {
  inFlight = 0;
  maxInFlight = 0;
  readonly times = new Map<string, number[]>();
  clockRef: Fixture["clock"] | undefined;

  constructor(readonly delayMs: number) {
    super();
  }

  override ping(peer: NetworkMember): Promise<boolean> {
    this.pinged.push(peer);
    const clock = this.clockRef!;
    const id = fromUtf8(peer.pkiId);
    this.times.set(id, [...(this.times.get(id) ?? []), clock.monotonic()]);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve) => {
      clock.setTimeout(() => {
        this.inFlight--;
        resolve(false);
      }, this.delayMs);
    });
  }
}

async function slowFixture(delayMs: number, options: Partial<DiscoveryOptions> = {}): Promise<{ f: Fixture; comm: SlowPingComm }> {
  const comm = new SlowPingComm(delayMs);
  const f = await fixture({ orgOf, comm, start: false, options: { msgExpirationFactor: 1_000, ...options } });
  comm.clockRef = f.clock;
  await f.disc.start();
  return { f, comm };
}

describe("reconnect rounds", () => {
  it("never more pings in flight than the bound, members heard from directly first", async (t) => {
    const { f, comm } = await slowFixture(1_000);
    const honest = new RemotePeer("p1:7051");
    f.comm.deliver(honest.alive(), honest.pkiId);
    for (const l of f.comm.deadListeners) l(honest.pkiId);
    f.comm.deliver(memRes(0n, [], fakes(300).map((p) => p.alive())), utf8("liar:7051"));
    await f.clock.advance(0);
    await f.clock.advance(RECONNECT);
    assert.equal(comm.pinged[0] && fromUtf8(comm.pinged[0].pkiId), "p1:7051", "the member heard from directly is pinged first");
    await f.clock.advance(20 * RECONNECT);
    t.diagnostic(`pings in flight at most ${comm.maxInFlight} with 301 dead members (before: 301 at once)`);
    assert.equal(comm.maxInFlight, 32, "maxReconnectPingsInFlight");
    assert.ok(comm.pinged.length > 301, "every dead member is pinged in time");
    assert.ok(new Set(comm.pinged.map((m) => fromUtf8(m.pkiId))).size === 301);
    await f.disc.stop();
    // The pings still in flight end without effect; nothing new starts.
    const pings = comm.pinged.length;
    const sent = comm.sent.length;
    await f.clock.advance(10 * RECONNECT);
    assert.equal(comm.pinged.length, pings);
    assert.equal(comm.sent.length, sent);
    assert.equal(f.clock.pendingTimers(), 0, "no timer left once the comm's pings answered");
  });

  it("back-off: a second-hand member that failed k pings is pinged again reconnectInterval x 2^k later, up to the cap; a member heard from directly every round", async () => {
    const { f, comm } = await slowFixture(100, { maxReconnectBackoffMs: 8 * RECONNECT });
    const honest = new RemotePeer("p1:7051");
    f.comm.deliver(honest.alive(), honest.pkiId);
    for (const l of f.comm.deadListeners) l(honest.pkiId);
    f.comm.deliver(memRes(0n, [], fakes(20).map((p) => p.alive())), utf8("liar:7051"));
    await f.clock.advance(0);
    await f.clock.advance(40 * RECONNECT);
    const gaps = (id: string): number[] => {
      const times = comm.times.get(id) ?? [];
      return times.slice(1).map((at, i) => Math.round((at - times[i]!) / RECONNECT));
    };
    const fake = gaps("fake7:7051");
    assert.deepEqual(fake.slice(0, 3), [2, 4, 8], "in rounds: 2^k...");
    assert.ok(fake.length > 3 && fake.slice(3).every((g) => g === 8), `...up to the cap of 8 rounds: ${fake.join(", ")}`);
    assert.ok(gaps("p1:7051").every((g) => g === 1), "the member heard from directly: every round");
    await f.disc.stop();
  });

  it("a member that answers again is sent a membership request, and its back-off is reset", async () => {
    const { f, comm } = await slowFixture(100);
    f.comm.deliver(memRes(0n, [], fakes(1).map((p) => p.alive())), utf8("liar:7051"));
    await f.clock.advance(0);
    await f.clock.advance(10 * RECONNECT);
    const before = comm.times.get("fake0:7051")!.length;
    assert.ok(before >= 2 && before < 10, `backed off (${before} pings in 10 rounds)`);
    comm.ping = (peer) => {
      comm.pinged.push(peer);
      return Promise.resolve(true);
    };
    await f.clock.advance(16 * RECONNECT);
    assert.ok(comm.sentOf("memReq").some((s) => fromUtf8(s.peer.pkiId) === "fake0:7051"));
    const after = comm.pinged.length;
    await f.clock.advance(4 * RECONNECT);
    assert.ok(comm.pinged.length - after >= 3, "pinged every round again");
    await f.disc.stop();
  });
});

describe("log lines caused by remote input", () => {
  it("a flood stays under 21 lines per minute, the rest counted and summarised; typed events still fire for each member", async (t) => {
    const logger = new MemoryLogger();
    const f = await fixture({ orgOf, logger });
    const liar = new RemotePeer("fakeliar:7051");
    const honest = new RemotePeer("p1:7051");
    const perMinute: number[] = [];
    let window = Math.floor(f.clock.monotonic() / MINUTE);
    let lines = shown(logger);
    const tick = async (ms: number): Promise<void> => {
      for (let t0 = 0; t0 < ms; t0 += 100) {
        await f.clock.advance(100);
        const w = Math.floor(f.clock.monotonic() / MINUTE);
        if (w !== window) {
          perMinute.push(shown(logger) - lines);
          lines = shown(logger);
          window = w;
        }
      }
    };
    const forged = (p: RemotePeer): SignedGossipMessage => {
      const env = p.alive().envelope;
      return SignedGossipMessage.fromEnvelope({ ...env, signature: utf8("forged") });
    };
    // Five minutes: each minute 500 fake members learned (then silent: 1,000 would-be lines when
    // they expire), and 100 badly signed alive messages a second from the liar.
    for (let minute = 0; minute < 5; minute++) {
      f.comm.deliver(memRes(0n, fakes(500, minute * 500).map((p) => p.alive())), liar.pkiId);
      await f.clock.advance(0);
      for (let s = 0; s < 60; s++) {
        f.comm.deliver(honest.alive(), honest.pkiId);
        for (let i = 0; i < 100; i++) f.comm.deliver(forged(new RemotePeer(`fake${i}:7051`)), liar.pkiId);
        await tick(1_000);
      }
    }
    await tick(2 * MINUTE);
    const fakeHex = Buffer.from("fake").toString("hex");
    const deaths = f.events.filter((e) => e.kind === "member-dead" && e.pkiId.startsWith(fakeHex)).length;
    const suppressed = await counter(f.registry, "fabric_gossip_discovery_log_suppressed_total", "code", "PEER_SILENT");
    t.diagnostic(`log lines per minute: ${perMinute.join(", ")} (before: about 1,000 per minute from expiring fakes plus one per forged message's sender)`);
    t.diagnostic(`member-dead events ${deaths}, PEER_SILENT lines suppressed ${suppressed}`);
    assert.ok(
      perMinute.every((n) => n <= 21),
      `at most 20 lines and one summary per minute: ${perMinute.join(", ")}`,
    );
    assert.equal(deaths, 2_500, "a member-dead event for every fake member");
    assert.ok(suppressed > 2_000);
    assert.ok(
      logger.lines.some((l) => /more discovery log lines like these in the last minute/.test(l.msg)),
      "the suppressed lines are summarised",
    );
    await f.disc.stop();
  });

  it("an honest member's death is still logged with its PKI-ID", async () => {
    const logger = new MemoryLogger();
    const f = await fixture({ orgOf, logger });
    const peer = new RemotePeer("p1:7051");
    f.comm.deliver(peer.alive(), peer.pkiId);
    await f.clock.advance(EXPIRATION + 2 * CHECK);
    const silent = logger.lines.filter((l) => l.msg === "Haven't heard from peer");
    assert.equal(silent.length, 1);
    assert.equal(silent[0]!.fields["pkiId"], Buffer.from("p1:7051").toString("hex"));
    assert.equal(logger.lines.filter((l) => l.msg === "Closing connection to expired peer").length, 1);
    await f.disc.stop();
  });
});
