import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { Counter, Registry } from "prom-client";
import { silentLogger } from "../../../src/logging/index.js";
import { AdminServer, type DashboardSnapshot, type EventLogView, type MembershipView, peerDashboardSnapshot } from "../../../src/service/index.js";
import { ManualClock } from "../../../src/util/index.js";

/**
 * The live dashboard of the admin endpoint: the page is self-contained, the event stream sends a
 * frame at once and then one per interval of the (virtual) clock, a page that goes away stops the
 * timer, too many pages are refused, and stopping the server ends every stream.
 */

const view: MembershipView = {
  self: { endpoint: "peer0:7051", internalEndpoint: "peer0:7051", org: "Org1MSP", pkiId: "aa".repeat(32) },
  alive: [
    { endpoint: "", internalEndpoint: "peer1:7051", org: "Org1MSP", pkiId: "bb".repeat(32) },
    { endpoint: "peer3:7051", internalEndpoint: "", org: "Org2MSP", pkiId: "dd".repeat(32) },
  ],
  dead: [{ endpoint: "peer2:7051", internalEndpoint: "", org: "Org2MSP", pkiId: "cc".repeat(32) }],
  channels: {
    mychannel: [
      { endpoint: "", internalEndpoint: "peer1:7051", org: "Org1MSP", pkiId: "bb".repeat(32), ledgerHeight: 7, leftChannel: false },
      { endpoint: "peer3:7051", internalEndpoint: "", org: "Org2MSP", pkiId: "dd".repeat(32), ledgerHeight: 5, leftChannel: true },
    ],
  },
};

const events: EventLogView = {
  next: 4,
  counts: { "block-committed": 2, "message-rejected": 1 },
  events: [
    { seq: 1, time: "2026-01-01T00:00:01.000Z", kind: "block-committed", channel: "mychannel", number: "5", commitMs: 4, txCount: 1, headerHash: "ab" },
    { seq: 2, time: "2026-01-01T00:00:02.000Z", kind: "block-committed", channel: "mychannel", number: "6", commitMs: 10, txCount: 1, headerHash: "cd" },
    { seq: 3, time: "2026-01-01T00:00:03.000Z", kind: "message-rejected", component: "comm", code: "BAD_SIGNATURE" },
  ],
};

function frameOf(n: number): DashboardSnapshot {
  return {
    scope: "peer",
    title: `frame ${n}`,
    time: n,
    channels: [],
    nodes: [],
    links: [],
    commit: { what: "x", p50: null, p99: null, max: null, count: 0 },
    messages: {},
    refusals: {},
    events: {},
    recent: [],
  };
}

/** Reads server-sent events from a streaming response. */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";

  constructor(res: Response) {
    assert.ok(res.body);
    this.#reader = res.body.getReader();
  }

  /** The next `snapshot` event's data; undefined when the stream ended. */
  async next(): Promise<DashboardSnapshot | undefined> {
    for (;;) {
      const m = /event: snapshot\ndata: (.*)\n\n/.exec(this.#buffer);
      if (m !== null) {
        this.#buffer = this.#buffer.slice(m.index + m[0].length);
        return JSON.parse(m[1] ?? "") as DashboardSnapshot;
      }
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

test("the page is one self-contained document: inline script and style, nothing loaded from elsewhere", async (t) => {
  const server = new AdminServer({
    listen: "127.0.0.1:0",
    registry: new Registry(),
    membership: () => view,
    logger: silentLogger,
    now: () => new Date(0),
    dashboard: { clock: new ManualClock(), snapshot: async () => frameOf(0) },
  });
  await server.start();
  t.after(() => server.stop());
  const res = await fetch(`http://${server.address}/dashboard`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
  const page = await res.text();
  assert.match(page, /<script>[\s\S]*new EventSource\("\/v1\/stream"\)[\s\S]*<\/script>/);
  assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=|@import|url\(/, "nothing external");
  const urls = [...page.matchAll(/https?:\/\/[^\s"'`]+/g)].map((m) => m[0]);
  assert.deepEqual([...new Set(urls)], ["http://www.w3.org/2000/svg"], "the only URL is SVG's namespace");
  assert.doesNotMatch(page, /innerHTML/, "network strings reach the page as text only");
});

test("the stream sends a frame at once and one per interval while a page is connected; a page that leaves stops the timer", async (t) => {
  const clock = new ManualClock();
  let built = 0;
  const server = new AdminServer({
    listen: "127.0.0.1:0",
    registry: new Registry(),
    membership: () => view,
    logger: silentLogger,
    now: () => new Date(0),
    dashboard: { clock, snapshot: async () => frameOf(++built) },
  });
  await server.start();
  t.after(() => server.stop());
  assert.equal(clock.pendingTimers(), 0, "no page, no timer");
  const res = await fetch(`http://${server.address}/v1/stream`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = new EventReader(res);
  assert.equal((await reader.next())?.title, "frame 1");
  assert.equal(clock.pendingTimers(), 1);
  await clock.advance(999);
  assert.equal(built, 1, "nothing before the interval");
  await clock.advance(1);
  assert.equal((await reader.next())?.title, "frame 2");
  await clock.advance(1000);
  assert.equal((await reader.next())?.title, "frame 3");

  const one = await (await fetch(`http://${server.address}/v1/dashboard`)).json();
  assert.equal((one as DashboardSnapshot).title, "frame 4", "/v1/dashboard answers one frame");

  await reader.cancel();
  await eventually(() => clock.pendingTimers() === 0, "the timer stops once the last page left");
  await clock.advance(5000);
  assert.equal(built, 4, "no frames built for nobody");
});

test("pages beyond the limit get 503; stopping the server ends every stream and leaves no timer", async () => {
  const clock = new ManualClock();
  const server = new AdminServer({
    listen: "127.0.0.1:0",
    registry: new Registry(),
    membership: () => view,
    logger: silentLogger,
    now: () => new Date(0),
    dashboard: { clock, snapshot: async () => frameOf(0), maxClients: 2 },
  });
  await server.start();
  const a = new EventReader(await fetch(`http://${server.address}/v1/stream`));
  const b = new EventReader(await fetch(`http://${server.address}/v1/stream`));
  await a.next();
  await b.next();
  const third = await fetch(`http://${server.address}/v1/stream`);
  assert.equal(third.status, 503);
  assert.match(((await third.json()) as { error: string }).error, /too many dashboards are open \(at most 2\)/);
  assert.equal(clock.pendingTimers(), 1, "one timer for every page");
  await server.stop();
  assert.equal(clock.pendingTimers(), 0);
  assert.equal(await a.next(), undefined, "the stream ended");
  assert.equal(await b.next(), undefined);
});

test("a peer's frame: itself and the members it knows by org, channel heights, its leadership, commit latency, counters and refusals", async () => {
  const registry = new Registry();
  new Counter({ name: "gossip_comm_messages_sent", help: "s", registers: [registry] }).inc(30);
  new Counter({ name: "gossip_comm_messages_received", help: "r", registers: [registry] }).inc(12);
  const rejected = new Counter({ name: "fabric_gossip_comm_rejected_total", help: "x", labelNames: ["code"], registers: [registry] });
  rejected.inc({ code: "BAD_SIGNATURE" }, 2);
  rejected.inc({ code: "UNKNOWN_ORG" }, 0);
  const stateRejected = new Counter({ name: "fabric_gossip_state_blocks_rejected_total", help: "y", labelNames: ["channel", "reason"], registers: [registry] });
  stateRejected.inc({ channel: "a", reason: "verify" }, 1);
  stateRejected.inc({ channel: "b", reason: "verify" }, 2);
  const s = await peerDashboardSnapshot({
    title: "peer0",
    membership: () => view,
    channels: () => [{ channel: "mychannel", height: 8, lastBlockHash: "", leader: true, delivering: true, members: 1, alive: 2 }],
    events: () => events,
    registry,
    now: () => 42,
  });
  assert.equal(s.time, 42);
  assert.deepEqual(s.channels, ["mychannel"]);
  const byName = new Map(s.nodes.map((n) => [n.name, n]));
  assert.deepEqual([...byName.keys()].sort(), ["peer0:7051", "peer1:7051", "peer2:7051", "peer3:7051"]);
  assert.deepEqual(byName.get("peer0:7051"), { id: "aa".repeat(32), name: "peer0:7051", org: "Org1MSP", state: "self", leaderOf: ["mychannel"], heights: { mychannel: 8 }, channels: ["mychannel"] });
  assert.deepEqual(byName.get("peer1:7051")?.heights, { mychannel: 7 });
  assert.deepEqual(byName.get("peer3:7051")?.channels, [], "a peer that left the channel is not drawn in it");
  assert.equal(byName.get("peer2:7051")?.state, "dead");
  assert.deepEqual(s.links, [
    ["aa".repeat(32), "bb".repeat(32)],
    ["aa".repeat(32), "dd".repeat(32)],
  ]);
  assert.deepEqual(s.commit, { what: "ledger commit (this peer)", p50: 4, p99: 10, max: 10, count: 2 });
  assert.deepEqual(s.messages, { sent: 30, received: 12 });
  assert.deepEqual(s.refusals, { "comm BAD_SIGNATURE": 2, "state verify": 3 });
  assert.deepEqual(s.events, { "block-committed": 2, "message-rejected": 1 });
  assert.equal(s.recent.length, 3);
  assert.match(s.recent[2] ?? "", /^00:00:03\.000 message-rejected component=comm code=BAD_SIGNATURE$/);
});

test("a page that stops reading is dropped once its unsent frames pass the limit, and the timer stops with it", async () => {
  const clock = new ManualClock();
  const big = "x".repeat(1024 * 1024);
  const server = new AdminServer({
    listen: "127.0.0.1:0",
    registry: new Registry(),
    membership: () => view,
    logger: silentLogger,
    now: () => new Date(0),
    dashboard: { clock, snapshot: async () => ({ ...frameOf(0), title: big }), maxBufferedBytes: 256 * 1024 },
  });
  await server.start();
  try {
    const [host, port] = server.address.split(":");
    const socket = connect(Number(port), host);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write("GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n");
    // It reads the headers and then nothing: the kernel's buffers fill, then the server's.
    await new Promise<void>((resolve) => socket.once("data", () => resolve()));
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => undefined);
    for (let i = 0; i < 64 && clock.pendingTimers() > 0; i++) {
      await clock.advance(1000);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(clock.pendingTimers(), 0, "the page was dropped and the timer stopped");
    socket.resume();
    await closed;
  } finally {
    await server.stop();
  }
});
