import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { networkUpOptions } from "../../../../src/cli/commands/network.js";
import { NetworkDashboard, type NetworkDashboardSource, type PeerStatus, renderView } from "../../../../src/cli/network/index.js";
import type { DashboardSnapshot } from "../../../../src/service/index.js";

/**
 * `network up`'s dashboard: --dashboard and --no-dashboard, the live view's line, and a frame of the
 * whole network made from the network's processes, the live view's polls and each peer's own frame.
 */

const baseFlags = {
  orgs: "2",
  peersPerOrg: "2",
  channel: "mychannel",
  txRate: "10",
  txSize: "10",
  batchSize: "2",
  batchTimeout: "2s",
  timeout: "60s",
};

test("--dashboard takes host:port (port 0 allowed); --no-dashboard turns it off; a bad address names the flag", () => {
  assert.equal(networkUpOptions({ ...baseFlags, dashboard: "127.0.0.1:0" }).dashboard, "127.0.0.1:0");
  assert.equal(networkUpOptions({ ...baseFlags, dashboard: "[::1]:8080" }).dashboard, "[::1]:8080");
  assert.equal("dashboard" in networkUpOptions({ ...baseFlags, dashboard: false }), false);
  assert.equal("dashboard" in networkUpOptions(baseFlags), false);
  for (const bad of ["8080", "host:", "host:70000", ":80"]) {
    assert.throws(() => networkUpOptions({ ...baseFlags, dashboard: bad }), /^NetworkError: --dashboard ".*": expected host:port/, bad);
  }
});

test("the live view shows the dashboard's address under its title", () => {
  const lines = renderView({
    title: "net",
    elapsedSeconds: 1,
    orderer: { endpoint: "127.0.0.1:7050", height: 1, blocksPerSecond: 0, txs: 0 },
    feeding: "not feeding",
    peers: [],
    maxMembers: 0,
    latency: { p50: null, p99: null, max: null, count: 0 },
    notes: [],
    dashboard: "127.0.0.1:9443",
  });
  assert.equal(lines[1], "dashboard http://127.0.0.1:9443/");
});

/** A peer admin endpoint that serves one fixed frame at /v1/dashboard. */
async function fakeAdmin(frame: unknown): Promise<{ address: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const body = JSON.stringify(frame);
    res.writeHead(req.url === "/v1/dashboard" ? 200 : 404, { "content-type": "application/json" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === "object");
  return {
    address: `127.0.0.1:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function peerFrame(selfPki: string, alive: string[], sent: number, refused: Record<string, number>, recent: string[]): DashboardSnapshot {
  return {
    scope: "peer",
    title: "p",
    time: 0,
    channels: ["mychannel"],
    nodes: [],
    links: alive.map((a): [string, string] => [selfPki, a]),
    commit: { what: "x", p50: 1, p99: 1, max: 1, count: 1 },
    messages: { sent, received: sent },
    refusals: refused,
    events: { "block-committed": 2 },
    recent,
  };
}

test("a frame of the whole network: every process by org with its height and leadership, links from the peers' frames, counters summed", async (t) => {
  const a = await fakeAdmin(peerFrame("aa", ["bb", "cc"], 10, { "comm BAD_SIGNATURE": 1 }, ["00:00:02.000 block-committed number=3"]));
  const b = await fakeAdmin(peerFrame("bb", ["aa"], 5, { "comm BAD_SIGNATURE": 2, "discovery STALE": 4 }, ["00:00:01.000 leadership isLeader=true"]));
  // A peer whose admin endpoint answers nonsense counts for nothing, and breaks nothing.
  const junk = await fakeAdmin({ links: "no" });
  t.after(() => Promise.all([a.close(), b.close(), junk.close()]));
  const status = new Map<string, PeerStatus>([
    ["p0", { peer: "p0", org: "Org1MSP", error: undefined, status: { channel: "mychannel", height: 9, lastBlockHash: "", leader: true, delivering: true, members: 2, alive: 2 } }],
  ]);
  const source: NetworkDashboardSource = {
    title: "net",
    channel: "mychannel",
    peers: () => [
      { name: "p0", org: "Org1MSP", state: "running", height: 7, leader: false, admin: a.address, pkiId: "aa" },
      { name: "p1", org: "Org2MSP", state: "running", height: 8, leader: true, admin: b.address, pkiId: "bb" },
      { name: "p2", org: "Org2MSP", state: "running", height: 8, leader: false, admin: junk.address, pkiId: "cc" },
      { name: "p3", org: "Org2MSP", state: "starting", height: 0, leader: false, admin: undefined, pkiId: undefined },
    ],
    orderer: () => ({ name: "orderer", org: "OrdererMSP", state: "running", height: 10 }),
    commitLatency: () => ({ p50: 12.34, p99: 50, max: 80, count: 6 }),
    status: () => status,
  };
  const dashboard = new NetworkDashboard("127.0.0.1:0", source);
  const s = await dashboard.snapshot();
  assert.equal(s.scope, "network");
  assert.deepEqual(
    s.nodes.map((n) => [n.name, n.org, n.state, n.leaderOf, n.heights, n.channels]),
    [
      ["orderer", "OrdererMSP", "running", [], { mychannel: 10 }, ["mychannel"]],
      ["p0", "Org1MSP", "running", ["mychannel"], { mychannel: 9 }, ["mychannel"]],
      ["p1", "Org2MSP", "running", ["mychannel"], { mychannel: 8 }, ["mychannel"]],
      ["p2", "Org2MSP", "running", [], { mychannel: 8 }, ["mychannel"]],
      ["p3", "Org2MSP", "starting", [], {}, []],
    ],
  );
  assert.deepEqual(
    s.nodes.map((n) => n.admin),
    [undefined, a.address, b.address, junk.address, undefined],
    "a running peer's own dashboard is linked",
  );
  assert.deepEqual(s.links, [
    ["p0", "p1"],
    ["p0", "p2"],
  ]);
  assert.deepEqual(s.messages, { sent: 15, received: 15 });
  assert.deepEqual(s.refusals, { "comm BAD_SIGNATURE": 3, "discovery STALE": 4 });
  assert.deepEqual(s.events, { "block-committed": 4 });
  assert.deepEqual(s.recent, ["00:00:01.000 p1 leadership isLeader=true", "00:00:02.000 p0 block-committed number=3"]);
  assert.deepEqual(s.commit, { what: "orderer cut to peer commit (every peer)", p50: 12.3, p99: 50, max: 80, count: 6 });
});

test("the network's dashboard serves the page at / and the stream, and closes its port and streams on stop", async () => {
  const source: NetworkDashboardSource = {
    title: "net",
    channel: "mychannel",
    peers: () => [],
    orderer: () => undefined,
    commitLatency: () => ({ p50: null, p99: null, max: null, count: 0 }),
    status: () => new Map(),
  };
  const dashboard = new NetworkDashboard("127.0.0.1:0", source);
  await dashboard.start();
  const base = `http://${dashboard.address}`;
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>fabric-gossip dashboard<\/title>/);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  const stream = await fetch(`${base}/v1/stream`);
  assert.match(stream.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = stream.body?.getReader();
  assert.ok(reader);
  let text = "";
  while (!text.includes("event: snapshot")) text += new TextDecoder().decode((await reader.read()).value);
  await dashboard.stop();
  for (;;) if ((await reader.read()).done) break;
  await assert.rejects(fetch(`${base}/`));
  await assert.rejects(new NetworkDashboard("127.0.0.1:99999", source).start(), /--dashboard: "127\.0\.0\.1:99999" is not host:port/);
});
