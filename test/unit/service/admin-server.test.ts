import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Registry } from "prom-client";
import { formatMembership } from "../../../src/cli/commands/peers.js";
import { readFile } from "node:fs/promises";
import { LogLevels, MemoryLogger, silentLogger } from "../../../src/logging/index.js";
import { FABRIC_GOSSIP_VERSION } from "../../../src/util/index.js";
import { AdminServer, type ChannelStatusView, isLoopback, type MembershipView, splitHostPort } from "../../../src/service/index.js";

const view: MembershipView = {
  self: { endpoint: "peer0:7051", internalEndpoint: "peer0:7051", org: "Org1MSP", pkiId: "aa".repeat(32) },
  alive: [{ endpoint: "", internalEndpoint: "peer1:7051", org: "Org1MSP", pkiId: "bb".repeat(32) }],
  dead: [{ endpoint: "peer2:7051", internalEndpoint: "", org: "Org2MSP", pkiId: "cc".repeat(32) }],
  channels: { mychannel: [{ endpoint: "", internalEndpoint: "peer1:7051", org: "Org1MSP", pkiId: "bb".repeat(32), ledgerHeight: 7, leftChannel: false }] },
};

test("serves /healthz, /metrics and /v1/membership, refuses the rest, and stops cleanly", async (t) => {
  const registry = new Registry();
  new Counter({ name: "gossip_comm_messages_sent", help: "sent", registers: [registry] }).inc(3);
  const server = new AdminServer({ listen: "127.0.0.1:0", registry, membership: () => view, logger: silentLogger, now: () => new Date(0) });
  await server.start();
  t.after(() => server.stop());
  const base = `http://${server.address}`;

  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "OK", time: "1970-01-01T00:00:00.000Z" });

  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /^gossip_comm_messages_sent 3$/m);

  assert.deepEqual(await (await fetch(`${base}/v1/membership`)).json(), view);
  assert.deepEqual(await (await fetch(`${base}/v1/channels`)).json(), { channels: [] }, "a gossip-only peer has no ledger channels");
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/healthz`, { method: "POST" })).status, 405);

  await server.stop();
  await assert.rejects(fetch(`${base}/healthz`));
});

test("answers for unknown paths and methods do not echo what the client sent; only a bind beyond loopback is warned about", async (t) => {
  const logger = new MemoryLogger();
  const server = new AdminServer({ listen: "127.0.0.1:0", registry: new Registry(), membership: () => view, logger, now: () => new Date(0) });
  await server.start();
  t.after(() => server.stop());
  const base = `http://${server.address}`;
  const injected = "/%3Cscript%3Ealert(1)%3C/script%3E";
  const notFound = await fetch(`${base}${injected}`);
  assert.equal(notFound.status, 404);
  const body = await notFound.text();
  assert.doesNotMatch(body, /script|alert/, body);
  const refused = await fetch(`${base}${injected}`, { method: "DELETE" });
  assert.equal(refused.status, 405);
  assert.doesNotMatch(await refused.text(), /script|alert|DELETE/);
  assert.deepEqual(logger.lines.filter((l) => l.level === "warn"), [], "127.0.0.1 is loopback: no warning");
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) assert.ok(isLoopback(h), h);
  for (const h of ["0.0.0.0", "::", "10.0.0.1", "peer0.org1.example.com", "127.0.0.1.example.com"]) assert.ok(!isLoopback(h), h);
});

test("/v1/channels shows each ledger channel's height, last block hash and leadership", async (t) => {
  const channels: ChannelStatusView[] = [
    { channel: "mychannel", height: 12, lastBlockHash: "ab".repeat(32), leader: true, delivering: true, members: 5, alive: 5 },
  ];
  const server = new AdminServer({
    listen: "127.0.0.1:0",
    registry: new Registry(),
    membership: () => view,
    channels: () => channels,
    logger: silentLogger,
    now: () => new Date(0),
  });
  await server.start();
  t.after(() => server.stop());
  assert.deepEqual(await (await fetch(`http://${server.address}/v1/channels`)).json(), { channels });
  channels[0]!.height = 13;
  const again = (await (await fetch(`http://${server.address}/v1/channels`)).json()) as { channels: ChannelStatusView[] };
  assert.equal(again.channels[0]?.height, 13, "read live, not cached");
});

test("the peers table lists self, alive and dead peers with their channels and heights", () => {
  const lines = formatMembership(view).trim().split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^STATE\s+ENDPOINT\s+INTERNAL\s+ORG\s+PKI-ID\s+CHANNELS$/);
  assert.match(lines[1]!, /^self\s+peer0:7051\s+peer0:7051\s+Org1MSP\s+aaaa/);
  assert.match(lines[2]!, /^alive\s+-\s+peer1:7051\s+Org1MSP\s+bbbb.*mychannel@7$/);
  assert.match(lines[3]!, /^dead\s+peer2:7051\s+-\s+Org2MSP\s+cccc.*\s-$/);
});

test("host:port parsing names the bad value", () => {
  assert.deepEqual(splitHostPort("127.0.0.1:7051"), { host: "127.0.0.1", port: 7051 });
  assert.deepEqual(splitHostPort("[::1]:80"), { host: "::1", port: 80 });
  assert.throws(() => splitHostPort("7051"), /"7051" is not host:port/);
  assert.throws(() => splitHostPort("h:99999"), /not host:port/);
});

test("/logspec reads and changes the peer's log levels as Fabric's operations endpoint does; /version answers", async (t) => {
  const levels = new LogLevels("info");
  const server = new AdminServer({ listen: "127.0.0.1:0", registry: new Registry(), membership: () => view, logger: silentLogger, logLevels: levels, version: { Version: "9.9.9", CommitSHA: "abc" }, now: () => new Date(0) });
  await server.start();
  t.after(() => server.stop());
  const base = `http://${server.address}`;
  assert.deepEqual(await (await fetch(`${base}/logspec`)).json(), { spec: "info" });
  const put = await fetch(`${base}/logspec`, { method: "PUT", body: JSON.stringify({ spec: "warn:gossip.comm=debug" }) });
  assert.equal(put.status, 204);
  assert.equal(levels.spec.text, "warn:gossip.comm=debug");
  assert.deepEqual(await (await fetch(`${base}/logspec`)).json(), { spec: "warn:gossip.comm=debug" });
  const bad = await fetch(`${base}/logspec`, { method: "PUT", body: JSON.stringify({ spec: "gossip=chatty" }) });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { Error: string }).Error, /unknown level "chatty"/);
  assert.equal(levels.spec.text, "warn:gossip.comm=debug", "a refused spec changes nothing");
  assert.equal((await fetch(`${base}/logspec`, { method: "PUT", body: "not json" })).status, 400);
  assert.deepEqual(await (await fetch(`${base}/version`)).json(), { Version: "9.9.9", CommitSHA: "abc" });
});

test("the version constant is package.json's", async () => {
  const pkg = JSON.parse(await readFile(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  assert.equal(FABRIC_GOSSIP_VERSION, pkg.version);
});
