import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  CommitLatency,
  genesisBlockOfPlan,
  consecutivePorts,
  freePorts,
  LiveView,
  NetworkError,
  percentile,
  planNetwork,
  RateMeter,
  renderView,
  type ViewModel,
} from "../../../../src/cli/network/index.js";
import { channelConfigFromBlock, decodeBlock } from "../../../../src/channelconfig/index.js";
import { generateCryptoMaterial, loadPeerMaterial } from "../../../../src/crypto/index.js";
import { readGenesisBlock } from "../../../../src/orderer/index.js";
import { SystemClock } from "../../../../src/util/index.js";

test("network plan: genesis block and process arguments follow the process contracts", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-plan-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const summary = await generateCryptoMaterial({ orgs: 2, peersPerOrg: 2, out: join(dir, "crypto"), orderer: true });
  const base = { summary, dir, channel: "mychannel", ordererPort: 7050, peerPorts: [7051, 7052, 7053, 7054] };

  await t.test("plaintext: peers bootstrap to their org's peer0, report commits, admin on port 0; no TLS flags", () => {
    const plan = planNetwork({ ...base, tls: false, batchSize: 5, batchTimeout: "250ms" });
    assert.deepEqual(
      plan.peers.map((p) => [p.name, p.org, p.endpoint, p.anchor]),
      [
        ["peer0.org1.example.com", "Org1MSP", "127.0.0.1:7051", true],
        ["peer1.org1.example.com", "Org1MSP", "127.0.0.1:7052", false],
        ["peer0.org2.example.com", "Org2MSP", "127.0.0.1:7053", true],
        ["peer1.org2.example.com", "Org2MSP", "127.0.0.1:7054", false],
      ],
    );
    const p1 = plan.peers[1]!.args;
    const flag = (args: string[], name: string): string | undefined => {
      const i = args.indexOf(name);
      return i < 0 ? undefined : args[i + 1];
    };
    assert.deepEqual(p1.slice(0, 2), ["peer", "start"]);
    assert.equal(flag(p1, "--listen"), "127.0.0.1:7052");
    assert.equal(flag(p1, "--external"), "127.0.0.1:7052");
    assert.equal(flag(p1, "--bootstrap"), "127.0.0.1:7051");
    assert.equal(flag(p1, "--msp-id"), "Org1MSP");
    assert.equal(plan.channelBlockFile, join(dir, "channel-mychannel.block"));
    assert.equal(flag(p1, "--channel-block"), plan.channelBlockFile);
    assert.equal(p1.includes("--channel-def"), false, "no YAML channel definition");
    assert.equal(flag(p1, "--ledger-dir"), join(dir, "peers", "peer1.org1.example.com"));
    assert.equal(flag(p1, "--admin"), "127.0.0.1:0");
    assert.ok(p1.includes("--report-commits"));
    assert.equal(plan.peers[0]!.args.includes("--bootstrap"), false, "peer0 has no bootstrap peer");
    assert.equal(p1.includes("--tls-cert"), false);
    const o = plan.orderer.args;
    assert.deepEqual(o.slice(0, 2), ["orderer", "start"]);
    assert.equal(flag(o, "--listen"), "127.0.0.1:7050");
    assert.equal(flag(o, "--msp-id"), "OrdererMSP");
    assert.equal(flag(o, "--channel-block"), plan.channelBlockFile);
    assert.equal(o.includes("--channel-def"), false);
    // The batch settings are the channel's, in its genesis block: no orderer flag overrides them.
    assert.equal(o.includes("--batch-size"), false);
    assert.deepEqual([plan.genesis.maxMessageCount, plan.genesis.batchTimeout], [5, "250ms"]);
    assert.ok(o.includes("--report-blocks"));
    assert.equal(o.includes("--tls-cert"), false);
  });

  await t.test("TLS: the orderer trusts every peer org's TLS CA; peers trust every org's, the orderer's too", () => {
    const plan = planNetwork({ ...base, tls: true });
    const cas = (args: string[]): string[] => {
      const i = args.indexOf("--tls-ca");
      const out: string[] = [];
      for (let j = i + 1; j < args.length && !args[j]!.startsWith("--"); j++) out.push(args[j]!);
      return out;
    };
    const caOf = (org: string): string => join(summary.root, org.startsWith("org") ? "peerOrganizations" : "ordererOrganizations", org);
    const ordererCas = cas(plan.orderer.args);
    assert.equal(ordererCas.length, 2);
    assert.ok(ordererCas[0]!.startsWith(caOf("org1.example.com")) && ordererCas[1]!.startsWith(caOf("org2.example.com")));
    const peerCas = cas(plan.peers[3]!.args);
    assert.equal(peerCas.length, 3);
    assert.ok(peerCas[2]!.startsWith(caOf("example.com")));
    const p = plan.peers[3]!.args;
    assert.equal(p[p.indexOf("--tls-cert") + 1], join(plan.peers[3]!.node.tlsDir, "server.crt"));
    assert.equal(plan.orderer.args[plan.orderer.args.indexOf("--tls-key") + 1], join(plan.orderer.node.tlsDir, "server.key"));
  });

  await t.test("the genesis block is what configtxgen makes for the generated orgs: anchors, orderer endpoint, batch settings; the orderer can serve it", async () => {
    const plan = planNetwork({ ...base, tls: false, batchSize: 7, batchTimeout: "250ms", maxBlockBytes: 200_000 });
    const bytes = await genesisBlockOfPlan(plan.genesis);
    const config = channelConfigFromBlock(decodeBlock(bytes));
    assert.equal(config.channelId, "mychannel");
    assert.deepEqual(
      config.applicationOrgs.map((o) => [o.mspId, o.anchorPeers.map((a) => `${a.host}:${a.port}`)]),
      [
        ["Org1MSP", ["127.0.0.1:7051"]],
        ["Org2MSP", ["127.0.0.1:7053"]],
      ],
    );
    assert.deepEqual(
      config.ordererOrgs.map((o) => [o.mspId, o.endpoints]),
      [["OrdererMSP", ["127.0.0.1:7050"]]],
    );
    assert.ok(config.applicationOrgs.every((o) => o.msp.nodeOUs?.enable === true), "NodeOUs from the folders' config.yaml");
    assert.equal(config.batchSize?.maxMessageCount, 7);
    assert.equal(config.batchSize?.absoluteMaxBytes, 200_000);
    assert.equal(config.batchSize?.preferredMaxBytes, 200_000, "PreferredMaxBytes lowered to AbsoluteMaxBytes");
    assert.equal(config.batchTimeout, "250ms");
    // The network's orderer accepts it as its channel, with these batch settings.
    const ordererId = (await loadPeerMaterial(plan.orderer.node.dir)).signingIdentity;
    const g = readGenesisBlock(bytes, { signer: ordererId, clock: new SystemClock() });
    assert.deepEqual([g.batch.batchSize, g.batch.batchTimeoutMs, g.batch.maxBlockBytes], [7, 250, 200_000]);
  });

  await t.test("wrong inputs are named", () => {
    assert.throws(() => planNetwork({ ...base, tls: false, peerPorts: [7051] }), (e: unknown) => e instanceof NetworkError && /peerPorts: 1 ports for 4 peers/.test(e.message));
    const noOrderer = { ...summary, orgs: summary.orgs.filter((o) => o.kind === "peer") };
    assert.throws(() => planNetwork({ ...base, summary: noOrderer, tls: false }), (e: unknown) => e instanceof NetworkError && /no orderer org/.test(e.message));
  });
});

test("commit latency: orderer cut to peer commit, whichever event comes first; genesis not counted", () => {
  const lat = new CommitLatency();
  assert.deepEqual(lat.summary(), { count: 0, p50: null, p99: null, max: null });
  lat.recordCommit("p1", 0, 5); // genesis
  lat.recordBlock(1, 1_000);
  lat.recordCommit("p1", 1, 1_010);
  lat.recordCommit("p2", 1, 1_030);
  // The commit arrives before the orderer's block event: it waits for it.
  lat.recordCommit("p1", 2, 2_020);
  assert.equal(lat.summary().count, 2);
  lat.recordBlock(2, 2_000);
  lat.recordCommit("p2", 2, 2_100);
  assert.deepEqual(lat.summary(), { count: 4, p50: 20, p99: 100, max: 100 });
  assert.deepEqual(lat.summary("p1"), { count: 2, p50: 10, p99: 20, max: 20 });
  assert.deepEqual(lat.summary("nobody"), { count: 0, p50: null, p99: null, max: null });
});

test("percentile: nearest rank", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 0.5), 50);
  assert.equal(percentile(xs, 0.99), 99);
  assert.equal(percentile(xs, 1), 100);
  assert.equal(percentile([7], 0.5), 7);
  assert.equal(percentile([], 0.5), null);
});

test("rate meter: increase per second over the sliding window", () => {
  const r = new RateMeter(5_000);
  assert.equal(r.perSecond(), 0);
  r.sample(0, 1);
  assert.equal(r.perSecond(), 0);
  for (let t = 1_000; t <= 10_000; t += 1_000) r.sample(t, 1 + t / 200); // 5 per second
  assert.equal(r.perSecond(), 5);
  // It stops: the window forgets the old rate.
  for (let t = 11_000; t <= 20_000; t += 1_000) r.sample(t, 51);
  assert.equal(r.perSecond(), 0);
});

test("live view: a frame per peer; redrawn in place on a TTY, appended otherwise", () => {
  const model: ViewModel = {
    title: "net",
    elapsedSeconds: 12,
    orderer: { endpoint: "127.0.0.1:7050", height: 11, blocksPerSecond: 2, txs: 100 },
    feeding: "50 tx/s",
    peers: [
      { name: "peer0.org1.example.com", org: "Org1MSP", state: "running", leader: true, height: 11, members: 3, blocksPerSecond: 2, admin: "127.0.0.1:9443" },
      { name: "peer1.org1.example.com", org: "Org1MSP", state: "exited", leader: false, height: 7, members: undefined, blocksPerSecond: 0, admin: undefined },
    ],
    maxMembers: 3,
    latency: { count: 20, p50: 12.4, p99: 40, max: 41 },
    notes: ["peer1.org1.example.com exited unexpectedly"],
  };
  const lines = renderView(model);
  assert.match(lines[0]!, /^net {2}\[12 s\]$/);
  assert.match(lines[1]!, /orderer 127\.0\.0\.1:7050 {2}height 11 {2}2\.0 blocks\/s {2}100 txs/);
  assert.match(lines[2]!, /blocks\/s {2}admin$/);
  assert.match(lines[3]!, /^peer0\.org1\.example\.com {2}Org1MSP {2}yes +11 +3\/3 +2\.0 {2}127\.0\.0\.1:9443$/);
  assert.match(lines[4]!, /^peer1\.org1\.example\.com {2}Org1MSP {2}exited +7 +\? +0\.0 {2}-$/);
  assert.match(lines[5]!, /p50 12 ms {2}p99 40 ms {2}max 41 ms {2}\(20 commits\)/);
  assert.equal(lines[6], "peer1.org1.example.com exited unexpectedly");

  const written: string[] = [];
  const tty = new LiveView({ write: (s: string) => written.push(s), isTTY: true }, true, undefined);
  tty.show(["a", "b"]);
  tty.show(["c", "d", "e"]);
  assert.deepEqual(written, ["a\nb\n", "\x1b[2F\x1b[0Jc\nd\ne\n"]);
  written.length = 0;
  // A terminal's width of the moment: long lines fold (none is cut), the redraw counts the rows drawn; a
  // resize redraws from the top of the screen, since the terminal may have re-wrapped the last frame.
  const term = { write: (s: string) => written.push(s), isTTY: true, columns: 20 };
  const sized = new LiveView(term, true, 80);
  const long = "orderer 127.0.0.1:7050  height 11  (50 tx/s of 1024 B: 9 sent)";
  sized.show(["short", long]);
  const rows = written[0]!.split("\n").slice(0, -1);
  assert.ok(rows.length > 2 && rows.every((r) => r.length < 20), JSON.stringify(rows));
  assert.equal(rows.slice(1).join("").replace(/ +/g, ""), long.replace(/ +/g, ""), "every character kept");
  sized.show(["x"]);
  assert.equal(written[1], `\x1b[${rows.length}F\x1b[0Jx\n`);
  term.columns = 200;
  sized.show([long]);
  assert.equal(written[2], `\x1b[H\x1b[2J${long}\n`);
  written.length = 0;
  const plain = new LiveView({ write: (s: string) => written.push(s) });
  plain.show(["a"]);
  plain.show(["b"]);
  assert.deepEqual(written, ["a\n\n", "b\n\n"]);
});

test("ports: free ports differ; a taken port in a --base-port range is named", async () => {
  const ports = await freePorts(5);
  assert.equal(new Set(ports).size, 5);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const addr = blocker.address();
  const taken = typeof addr === "object" && addr !== null ? addr.port : 0;
  try {
    await assert.rejects(consecutivePorts(taken, 2), (e: unknown) => e instanceof NetworkError && e.code === "INVALID_OPTIONS" && e.message.includes(`port ${taken}`) && e.message.startsWith("--base-port"));
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
  await assert.rejects(consecutivePorts(65_535, 2), /--base-port 65535: needs 2 consecutive ports/);
});
