import assert from "node:assert/strict";
import { test } from "node:test";
import { type PeerEvent, PeerEvents, pkiHex } from "../../../src/api/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { createRegistry } from "../../../src/metrics/index.js";
import { AdminServer, EventLog } from "../../../src/service/index.js";
import { ManualClock } from "../../../src/util/index.js";

const PKI = pkiHex(new Uint8Array([1, 2, 3]));

test("the event bus: listeners by kind and for all; a throwing listener is isolated and reported", () => {
  const errors: unknown[] = [];
  const bus = new PeerEvents((err) => errors.push(err));
  const dead: string[] = [];
  const all: string[] = [];
  const offDead = bus.on("member-dead", (e) => dead.push(`${e.pkiId}/${e.cause}`));
  bus.onAny(() => {
    throw new Error("listener bug");
  });
  bus.onAny((e) => all.push(e.kind));
  assert.equal(bus.listened, true);
  bus.emit({ kind: "member-dead", pkiId: PKI, endpoint: "p1:7051", cause: "expired" });
  bus.emit({ kind: "leadership", channel: "ch", isLeader: true });
  offDead();
  bus.emit({ kind: "member-dead", pkiId: PKI, endpoint: "p1:7051", cause: "presumed-dead" });
  assert.deepEqual(dead, ["010203/expired"]);
  assert.deepEqual(all, ["member-dead", "leadership", "member-dead"]);
  assert.equal(errors.length, 3, "each emit reached the other listeners despite the throwing one");
});

test("the event log keeps the newest events in JSON form, counts every kind, and answers after a sequence number", async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const bus = new PeerEvents();
  const log = new EventLog(bus, clock, 3);
  const commit = (n: bigint): PeerEvent => ({ kind: "block-committed", channel: "ch", number: n, headerHash: new Uint8Array([0xab, n === 1n ? 1 : 2]), txCount: 1, commitMs: 3 });
  bus.emit(commit(1n));
  await clock.advance(1_000);
  bus.emit(commit(2n));
  bus.emit({ kind: "message-rejected", component: "comm", code: "BAD_SIGNATURE" });
  bus.emit({ kind: "member-alive", pkiId: PKI, endpoint: "p1:7051" });
  const v = log.view();
  assert.equal(v.next, 5);
  assert.deepEqual(v.counts, { "block-committed": 2, "message-rejected": 1, "member-alive": 1 });
  assert.deepEqual(
    v.events.map((e) => e.seq),
    [2, 3, 4],
    "the oldest event left the log of 3",
  );
  assert.equal(v.events[0]!["number"], "2", "a bigint becomes a decimal string");
  assert.equal(v.events[0]!["headerHash"], "ab02", "bytes become hex");
  assert.deepEqual(
    log.view(3).events.map((e) => e.kind),
    ["member-alive"],
  );
  log.close();
  bus.emit(commit(3n));
  assert.equal(log.view().next, 5, "a closed log records nothing");
});

test("GET /v1/events serves the log; a bad since is refused with the reason", async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const bus = new PeerEvents();
  const log = new EventLog(bus, clock);
  const admin = new AdminServer({
    listen: "127.0.0.1:0",
    registry: createRegistry(),
    membership: () => ({ self: { endpoint: "", internalEndpoint: "", org: "", pkiId: "" }, alive: [], dead: [], channels: {} }),
    events: (since) => log.view(since),
    logger: silentLogger,
    now: () => new Date(clock.now()),
  });
  await admin.start();
  t.after(() => admin.stop());
  bus.emit({ kind: "member-dead", pkiId: PKI, endpoint: "p1:7051", cause: "presumed-dead" });
  bus.emit({ kind: "leadership", channel: "ch", isLeader: false });
  const res = await fetch(`http://${admin.address}/v1/events?since=1`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { next: number; counts: Record<string, number>; events: { kind: string; isLeader: boolean }[] };
  assert.equal(body.next, 3);
  assert.deepEqual(body.counts, { "member-dead": 1, leadership: 1 });
  assert.deepEqual(body.events.map((e) => [e.kind, e.isLeader]), [["leadership", false]]);
  const bad = await fetch(`http://${admin.address}/v1/events?since=-4`);
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /since must be a non-negative integer/);
});
