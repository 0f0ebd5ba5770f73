/**
 * Comm against misbehaving peers, in virtual time: remote-caused log lines bounded per host and code,
 * offenders (forged handshakes, malformed frames, reported forgeries) refused for a while with
 * doubling, half-open stream limits, per-peer request budgets. The building blocks (RemoteLogLimiter,
 * PeerGuard, TokenBuckets) are checked on their own first.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { EXPIRED_IDENTITY_LOG_INTERVAL_MS, PeerGuard, TokenBuckets } from "../../../src/comm/index.js";
import { addressOrigin, MemoryLogger, RemoteLogLimiter } from "../../../src/logging/index.js";
import { GossipMessage_Tag, type GossipMessage } from "../../../src/protos/gen/gossip/message.pb.js";
import { SignedGossipMessage } from "../../../src/protoext/index.js";
import { ManualClock } from "../../../src/util/index.js";
import { createMemoryCommHarness, type MemoryCommHarness, metricValue, type RawPeer, sha256 } from "../../utils/comm-harness.js";

const EMPTY = new Uint8Array(0);
const MINUTE = 60_000;

function connEstablish(raw: RawPeer, sign: (b: Uint8Array) => Uint8Array = (b) => raw.sign(b)): Uint8Array {
  const msg: GossipMessage = {
    nonce: 0n,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "conn", value: { pkiId: raw.pkiId, identity: raw.identity, tlsCertHash: EMPTY, probe: false } },
  };
  return SignedGossipMessage.sign(msg, sign).bytes;
}

const forge = (b: Uint8Array): Uint8Array => sha256(Uint8Array.from([...b, 0x42]));

/** Any message that is not a request. */
function plain(): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "aliveMsg", value: { membership: undefined, timestamp: undefined, identity: EMPTY } },
  });
}

function memReq(): Uint8Array {
  return SignedGossipMessage.noopSign({
    nonce: 1n,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "memReq", value: { selfInformation: undefined, known: [] } },
  }).bytes;
}

describe("RemoteLogLimiter", () => {
  it("bounds lines per (code, origin) and in total per window, counts and summarises the rest", async () => {
    const clock = new ManualClock();
    const log = new MemoryLogger();
    const suppressed: string[] = [];
    const limiter = new RemoteLogLimiter(log, clock, "comm", (code) => suppressed.push(code));
    for (let i = 0; i < 100; i++) limiter.warn("BAD_SIGNATURE", "10.0.0.1", "forged");
    assert.equal(log.lines.length, 3, "three lines per key");
    for (let host = 0; host < 50; host++) limiter.warn("BAD_SIGNATURE", `10.0.1.${host}`, "forged");
    assert.equal(log.lines.length, 20, "twenty lines in all");
    assert.equal(suppressed.length, 100 + 50 - 20);
    await clock.advance(MINUTE);
    limiter.flush();
    const summary = log.lines.at(-1);
    assert.match(summary?.msg ?? "", /^130 more comm log lines like these in the last minute$/);
    assert.match(String(summary?.fields.byCodeAndOrigin), /BAD_SIGNATURE@10\.0\.0\.1=97/);
    limiter.warn("BAD_SIGNATURE", "10.0.0.1", "forged");
    assert.equal(log.lines.length, 22, "a new window logs again");
  });

  it("keys an address by host, not port", () => {
    assert.equal(addressOrigin("10.1.2.3:51234"), "10.1.2.3");
    assert.equal(addressOrigin("[::1]:7051"), "::1");
    assert.equal(addressOrigin("peer0.org1.example.com:7051"), "peer0.org1.example.com");
    assert.equal(addressOrigin("::1"), "::1");
  });
});

describe("PeerGuard", () => {
  const opts = { misbehaviourLimit: 5, misbehaviourWindowMs: MINUTE, refuseMs: 60_000, maxRefuseMs: 240_000 };

  it("refuses a key past the limit within the window, doubling for a repeat offender up to the cap", async () => {
    const clock = new ManualClock();
    const g = new PeerGuard(clock, opts);
    for (let i = 0; i < 5; i++) assert.equal(g.offend("id:a"), 0);
    assert.equal(g.offend("id:a"), 60_000, "the sixth offence in a minute refuses it");
    assert.equal(g.refusedFor("id:a"), 60_000);
    assert.equal(g.offend("id:a"), 0, "offences while refused change nothing");
    await clock.advance(60_000);
    assert.equal(g.refusedFor("id:a"), 0);
    for (let i = 0; i < 5; i++) g.offend("id:a");
    assert.equal(g.offend("id:a"), 120_000, "twice as long the second time");
    await clock.advance(120_000);
    for (let i = 0; i < 6; i++) g.offend("id:a");
    await clock.advance(240_000);
    for (let i = 0; i < 5; i++) g.offend("id:a");
    assert.equal(g.offend("id:a"), 240_000, "never beyond maxRefuseMs");
  });

  it("does not refuse offences spread beyond the window", async () => {
    const clock = new ManualClock();
    const g = new PeerGuard(clock, opts);
    for (let i = 0; i < 100; i++) {
      assert.equal(g.offend("ip:10.0.0.1"), 0);
      await clock.advance(15_000);
    }
    assert.deepEqual(g.refusedKeys(), []);
  });

  it("refuse() sets a refusal at once and keeps memory bounded", () => {
    const clock = new ManualClock();
    const g = new PeerGuard(clock, opts);
    assert.equal(g.refuse("ip:10.0.0.9", 30_000), 30_000);
    assert.equal(g.refusedFor("ip:10.0.0.9"), 30_000);
    for (let i = 0; i < 20_000; i++) g.offend(`ip:10.${i >> 8}.${i & 255}.1`);
    assert.ok(g.size <= 10_000);
    assert.ok(g.refusedFor("ip:10.0.0.9") > 0, "a refused key is kept while others can go");
  });
});

describe("TokenBuckets", () => {
  it("allows the burst, then the rate", async () => {
    const clock = new ManualClock();
    const b = new TokenBuckets(clock, { perSecond: 2, burst: 5 });
    let ok = 0;
    for (let i = 0; i < 20; i++) if (b.take("p")) ok++;
    assert.equal(ok, 5);
    assert.equal(b.take("q"), true, "buckets are per key");
    await clock.advance(1_000);
    ok = 0;
    for (let i = 0; i < 20; i++) if (b.take("p")) ok++;
    assert.equal(ok, 2);
  });
});

describe("Comm against misbehaving peers (memory transport, virtual time)", () => {
  const harnesses: MemoryCommHarness[] = [];
  after(async () => {
    for (const h of harnesses) await h.teardown();
  });
  const setup = (log = new MemoryLogger()): { h: MemoryCommHarness; log: MemoryLogger } => {
    const h = createMemoryCommHarness({ logger: log, defaults: { dialTimeoutMs: 1_000, connTimeoutMs: 1_000 } });
    harnesses.push(h);
    return { h, log };
  };

  it("forged handshakes from one host: bounded log lines, counted, the host refused early after ten", async () => {
    const { h, log } = setup();
    const a = await h.createPeer();
    const raw = await h.rawPeer();
    const conns = [];
    for (let i = 0; i < 200; i++) {
      const c = await h.within("dial", raw.dial(a.endpoint), 5_000);
      await c.write(connEstablish(raw, forge)).catch(() => undefined);
      conns.push(c);
      await h.settle(10);
    }
    await h.settle(100);
    assert.ok(conns.every((c) => c.closed), "every forged stream is closed");
    const bad = await metricValue(a.metrics, "fabric_gossip_comm_rejected_total", { code: "BAD_SIGNATURE" });
    const refused = await metricValue(a.metrics, "fabric_gossip_comm_rejected_total", { code: "REFUSED_ADDRESS" });
    assert.equal(bad, 11, "the signature is checked eleven times: ten tolerated, the eleventh refuses the host");
    assert.equal(refused, 189, "later streams are refused before any check");
    assert.equal(await metricValue(a.metrics, "fabric_gossip_comm_refusals_total", { what: "address" }), 1);
    const commLines = log.lines.filter((l) => l.level === "warn" && l.name.startsWith("p1"));
    assert.ok(commLines.length <= 21, `at most 20 lines and a summary, got ${commLines.length}`);
    assert.ok((await metricValue(a.metrics, "fabric_gossip_comm_log_suppressed_total")) >= 180);
    // The summary comes when the minute ends, with no further input.
    await h.settle(MINUTE);
    assert.ok(log.lines.some((l) => /more comm log lines like these in the last minute/.test(l.msg)), "a summary line");
    // After the refusal a valid handshake from that host is accepted again.
    await h.settle(MINUTE);
    const ok = await h.within("dial", raw.dial(a.endpoint), 5_000);
    await ok.write(connEstablish(raw));
    await h.settle(100);
    assert.equal(ok.closed, false, "accepted once the refusal ran out");
    await h.waitFor("a connection", () => a.comm.stats().connections === 1, 1_000);
  });

  it("a peer with an expired certificate that keeps dialing: every handshake refused and counted, one line per PKI-ID per 5 minutes", async () => {
    const { h, log } = setup();
    const a = await h.createPeer();
    const expired = await h.rawPeer({ identity: "expired" });
    const other = await h.rawPeer({ identity: "expired" });
    const attempt = async (raw: RawPeer): Promise<void> => {
      const c = await h.within("dial", raw.dial(a.endpoint), 5_000);
      await c.write(connEstablish(raw)).catch(() => undefined);
      await h.settle(10);
      assert.ok(c.closed, "the expired peer's stream is closed");
    };
    // A reconnect every second for four minutes.
    for (let i = 0; i < 240; i++) {
      await attempt(expired);
      await h.settle(1_000);
    }
    await attempt(other);
    const lines = (): string[] => log.lines.filter((l) => l.level === "warn" && l.fields?.["code"] === "EXPIRED_IDENTITY").map((l) => String(l.fields?.["pkiId"]));
    assert.equal(await metricValue(a.metrics, "fabric_gossip_comm_rejected_total", { code: "EXPIRED_IDENTITY" }), 241, "every handshake counted");
    assert.equal(lines().length, 2, "one line for each expired PKI-ID");
    assert.deepEqual(new Set(lines()).size, 2, "the lines name the PKI-IDs");
    assert.equal(await metricValue(a.metrics, "fabric_gossip_comm_refusals_total", { what: "address" }), 0, "an expired certificate is no offence: its host is not refused");
    // Five minutes after the first line, the next attempt logs again.
    await h.settle(EXPIRED_IDENTITY_LOG_INTERVAL_MS - 240 * 1_000);
    await attempt(expired);
    assert.equal(lines().length, 3);
  });

  it("reported misbehaviour closes the peer's connection and refuses its PKI-ID both ways, doubling on repeat", async () => {
    const { h } = setup();
    const [a, b] = await h.createPeers(2, { options: { refuseMs: 10_000, dialTimeoutMs: 1_000, connTimeoutMs: 1_000 } });
    const got: unknown[] = [];
    a.comm.accept(() => true, (m) => got.push(m));
    b.comm.send(plain(), a.remote);
    await h.waitFor("a connection", () => a.comm.stats().connections === 1 && got.length === 1, 3_000);
    for (let i = 0; i < 10; i++) a.comm.reportMisbehaviour(b.pkiId, "INVALID_SIGNATURE");
    assert.equal(a.comm.stats().connections, 1, "ten offences are tolerated");
    a.comm.reportMisbehaviour(b.pkiId, "INVALID_SIGNATURE");
    await h.settle(10);
    assert.equal(a.comm.stats().connections, 0, "the eleventh closes the connection");
    assert.equal(a.comm.stats().refused, 2, "its PKI-ID and its address");
    await assert.rejects(h.within("a sends to b", a.comm.sendAndWait(plain(), b.remote), 5_000), /refused/);
    // b cannot come back while refused.
    const before = got.length;
    b.comm.send(plain(), a.remote);
    await h.settle(2_000);
    assert.equal(got.length, before, "nothing from b gets through");
    assert.ok((await metricValue(a.metrics, "fabric_gossip_comm_rejected_total", { code: "REFUSED_ADDRESS" })) >= 1);
    // After 10 s it may connect again; a second round of offences refuses it for 20 s.
    await h.settle(10_000);
    b.comm.send(plain(), a.remote);
    await h.waitFor("b is back", () => got.length === before + 1, 5_000);
    for (let i = 0; i < 11; i++) a.comm.reportMisbehaviour(b.pkiId, "INVALID_SIGNATURE");
    await h.settle(15_000);
    assert.equal(a.comm.stats().refused, 2, "still refused after 15 s: the second refusal lasts 20 s");
    await h.settle(5_001);
    assert.equal(a.comm.stats().refused, 0);
  });

  it("malformed frames after the handshake count against the sender: refused after ten", async () => {
    const { h } = setup();
    const a = await h.createPeer();
    const raw = await h.rawPeer();
    let closedAfterGarbage = 0;
    for (let i = 0; i < 15; i++) {
      const c = await h.within("dial", raw.dial(a.endpoint), 5_000);
      await c.write(connEstablish(raw)).catch(() => undefined);
      await h.settle(10);
      if (c.closed) continue;
      await c.write(Uint8Array.from([0xff, 0xff, 0xff, 0x01])).catch(() => undefined);
      await h.settle(10);
      if (c.closed) closedAfterGarbage++;
    }
    assert.equal(closedAfterGarbage, 11, "eleven handshakes pass and their garbage closes them; then the peer is refused");
    assert.equal(await metricValue(a.metrics, "fabric_gossip_comm_offences_total", { code: "MALFORMED_FRAME" }), 11);
    assert.ok((await metricValue(a.metrics, "fabric_gossip_comm_rejected_total", { code: "REFUSED_ADDRESS" })) >= 4);
  });

  it("streams in their handshake are limited per host: the excess is closed at once", async () => {
    const { h } = setup();
    const a = await h.createPeer({ options: { maxHandshakesPerAddress: 8, connTimeoutMs: 5_000 } });
    const raw = await h.rawPeer();
    const conns = [];
    for (let i = 0; i < 20; i++) conns.push(await h.within("dial", raw.dial(a.endpoint), 5_000));
    await h.settle(10);
    assert.equal(conns.filter((c) => !c.closed).length, 8);
    assert.equal(a.comm.stats().pendingHandshakes, 8);
    assert.equal(await metricValue(a.metrics, "fabric_gossip_comm_rejected_total", { code: "TOO_MANY_HANDSHAKES" }), 12);
    // Silent streams time out (connTimeout), and are not offences.
    await h.settle(5_000);
    assert.equal(a.comm.stats().pendingHandshakes, 0);
    assert.equal(a.comm.stats().refused, 0);
  });

  it("membership requests beyond the peer's budget are dropped and counted", async () => {
    const { h } = setup();
    const a = await h.createPeer({ options: { requestBudgets: { membership: { perSecond: 2, burst: 5 }, pull: { perSecond: 100, burst: 400 } } } });
    const got: unknown[] = [];
    a.comm.accept((m) => m.message.message.content?.$case === "memReq", (m) => got.push(m));
    const raw = await h.rawPeer();
    const c = await h.within("dial", raw.dial(a.endpoint), 5_000);
    await c.write(connEstablish(raw));
    await h.settle(10);
    for (let i = 0; i < 100; i++) await c.write(memReq());
    await h.settle(10);
    assert.equal(got.length, 5, "the burst");
    assert.equal(await metricValue(a.metrics, "fabric_gossip_comm_budget_dropped_total", { kind: "membership" }), 95);
    await h.settle(1_000);
    for (let i = 0; i < 10; i++) await c.write(memReq());
    await h.settle(10);
    assert.equal(got.length, 7, "two more a second");
    assert.equal(c.closed, false, "an over-budget peer is not disconnected");
  });
});

