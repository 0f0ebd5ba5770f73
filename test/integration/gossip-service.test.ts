import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { stringify as toYaml } from "yaml";
import { PeerEvents, type PeerEventOf } from "../../src/api/index.js";
import { GrpcTransport } from "../../src/comm/grpc/index.js";
import { blockHeaderHash, createMspMessageCryptoService, loadPeerMaterial, loadVerifierOrgs, MspVerifier, type PeerMaterial } from "../../src/crypto/index.js";
import { MemoryNetwork, MemoryTransport } from "../../src/comm/memory/index.js";
import { DevMessageCryptoService } from "../../src/crypto/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { memoryMetricsProvider } from "../../src/metrics/index.js";
import { createSeekInfoEnvelope, createSignedEnvelope } from "../../src/deliver/index.js";
import { broadcastAll, deliver } from "../../src/orderer/index.js";
import { BlockMetadataIndex, HeaderType, Status } from "../../src/protos/gen/common/common.pb.js";
import { TxValidationCode } from "../../src/protos/gen/peer/transaction.pb.js";
import {
  ChannelDefinitionError,
  ChannelRegistry,
  channelJoinBlockOf,
  createGossipService,
  type GossipService,
  loadChannelDefinition,
  parseChannelDefinition,
} from "../../src/service/index.js";
import { ManualClock, SystemClock, SystemRandom, toHex, utf8 } from "../../src/util/index.js";
import { createTestOrderer, generateTestOrgs, testClientOf } from "../utils/channel-setup.js";
import { FAST_GOSSIP_NODE_OPTIONS } from "../utils/fast-timers.js";
import { eventually, freePort } from "../utils/net.js";

const CHANNEL = "mychannel";
const enc = new TextEncoder();

/** How often a wait polls the services. */
const POLL_MS = 50;

test("both useLeaderElection and orgLeader is a configuration error", () => {
  const clock = new ManualClock(0);
  const devMcs = new DevMessageCryptoService();
  assert.throws(
    () =>
      createGossipService(
        {
          transport: new MemoryTransport(new MemoryNetwork(clock), { endpoint: "p0:7051" }),
          mcs: devMcs,
          securityAdvisor: devMcs,
          selfIdentity: utf8("p0:7051"),
          signer: { serialized: new Uint8Array(0), sign: (m) => m },
          clock: new SystemClock(),
          random: new SystemRandom(),
          logger: silentLogger,
          metrics: memoryMetricsProvider(),
        },
        { useLeaderElection: true, orgLeader: true, ledgerRootDir: tmpdir() },
        { internalEndpoint: "p0:7051" },
      ),
    /useLeaderElection and peer.gossip.orgLeader are both true/,
  );
});

test("channel definition YAML (the input of channel genesis --channel-def): parsed, relative MSP folders resolved, errors name the field", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-chdef-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "channel.yaml");
  await writeFile(
    file,
    toYaml({
      name: "mychannel",
      orgs: [{ mspId: "Org1MSP", mspDir: "org1/msp", anchorPeers: ["peer0.org1.example.com:7051"] }],
      orderer: { mspId: "OrdererMSP", mspDir: "/abs/orderer/msp", endpoints: ["127.0.0.1:7050"] },
    }),
  );
  const def = await loadChannelDefinition(file);
  assert.equal(def.name, "mychannel");
  assert.equal(def.orgs[0]?.mspDir, join(dir, "org1/msp"));
  assert.deepEqual(def.orgs[0]?.anchorPeers, ["peer0.org1.example.com:7051"]);
  assert.equal(def.orderer.mspDir, "/abs/orderer/msp");

  const bad = (text: string, field: string): void => {
    assert.throws(
      () => parseChannelDefinition(text),
      (err: unknown) => err instanceof ChannelDefinitionError && err.code === "INVALID_CHANNEL_DEFINITION" && err.message.includes(field),
      field,
    );
  };
  const orderer = "orderer: {mspId: OrdererMSP, mspDir: o, endpoints: ['o:7050']}";
  bad(`name: MyChannel\norgs: [{mspId: A, mspDir: a}]\n${orderer}`, "name");
  bad(`name: ch\norgs: []\n${orderer}`, "orgs");
  bad(`name: ch\norgs: [{mspDir: a}]\n${orderer}`, "orgs[0].mspId");
  bad(`name: ch\norgs: [{mspId: A, mspDir: a, anchorPeers: ['nohost']}]\n${orderer}`, "orgs[0].anchorPeers[0]");
  bad(`name: ch\norgs: [{mspId: A, mspDir: a}, {mspId: A, mspDir: b}]\n${orderer}`, "orgs[1].mspId");
  bad("name: ch\norgs: [{mspId: A, mspDir: a}]\norderer: {mspId: O, mspDir: o, endpoints: []}", "orderer.endpoints");
  bad("name: ch\norgs: [{mspId: A, mspDir: a}]", "orderer");
  bad(`name: ch\norgs: [{mspId: A, mspDir: a, extra: 1}]\n${orderer}`, "orgs[0].extra");
  bad("name: [", "YAML");
});

type BlockCommitted = PeerEventOf<"block-committed">;

test("gossip service: 3 peers with leader election commit the orderer's chain over real gRPC; a new leader takes over", async (t) => {
  const clock = new SystemClock();
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-service-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const orgs = await generateTestOrgs(root, 1, 3);
  const { summary } = orgs;
  const peerOrg = orgs.peerOrgs[0]!;
  const peerMaterials: PeerMaterial[] = [];
  for (const n of peerOrg.nodes) peerMaterials.push(await loadPeerMaterial(n.dir));
  assert.equal(peerMaterials.length, 3);
  const verifierOrgs = await loadVerifierOrgs(summary.root);

  const orderer = await createTestOrderer(root, orgs, clock, { channel: CHANNEL, batchSize: 10, batchTimeoutMs: 200 });
  await orderer.start();
  let ordererStopped = false;
  t.after(async () => {
    if (!ordererStopped) await orderer.stop();
  });

  // The channel as the genesis block the orderer started from defines it: what a peer joins from.
  const { def } = channelJoinBlockOf(orderer.genesis);

  const ports = [await freePort(), await freePort(), await freePort()];
  const endpoints = ports.map((p) => `127.0.0.1:${p}`);
  const services: GossipService[] = [];
  const committed = new Map<GossipService, BlockCommitted[]>();
  const transports: GrpcTransport[] = [];
  let servicesStopped = false;
  t.after(async () => {
    if (!servicesStopped) for (const s of services) await s.stop();
  });

  for (let i = 0; i < 3; i++) {
    const material = peerMaterials[i]!;
    const endpoint = endpoints[i]!;
    const channels = new ChannelRegistry();
    const mcs = createMspMessageCryptoService(
      { signer: material.signingIdentity, verifier: new MspVerifier(verifierOrgs, { clock }) },
      { channelOrgs: channels.channelOrgs, ordererOrgs: channels.ordererOrgs, blockValidation: channels.blockValidation },
    );
    const metrics = memoryMetricsProvider();
    const random = new SystemRandom();
    const transport = new GrpcTransport({ listenAddress: endpoint, logger: silentLogger, clock });
    transports.push(transport);
    const events = new PeerEvents();
    const commits: BlockCommitted[] = [];
    events.on("block-committed", (e) => commits.push(e));
    const service = createGossipService(
      { transport, mcs, securityAdvisor: mcs, selfIdentity: material.signingIdentity.serialized, signer: material.signingIdentity, channels, clock, random, logger: silentLogger, metrics, events },
      {
        useLeaderElection: true,
        orgLeader: false,
        election: { startupGracePeriodMs: 3_000, membershipSampleIntervalMs: 500, leaderAliveThresholdMs: 2_000, leaderElectionDurationMs: 1_000 },
        state: { enabled: true, checkIntervalMs: 1_000, responseTimeoutMs: 1_000 },
        deliver: { initialBackoffMs: 100, connTimeoutMs: 2_000, reconnectBackoffThresholdMs: 1_000 },
        ledgerRootDir: join(root, `peer${i}`, "ledgers"),
      },
      { ...FAST_GOSSIP_NODE_OPTIONS, internalEndpoint: endpoint, bootstrapPeers: i === 0 ? [] : [endpoints[0]!], leaderAliveThresholdMs: 2_000 },
    );
    services.push(service);
    committed.set(service, commits);
    await service.start();
  }
  await Promise.all(services.map((s) => s.initializeChannel(def, { genesisBlock: orderer.genesis })));
  for (const s of services) assert.equal(s.ledgerHeight(CHANNEL), 1n, "every peer starts from the genesis block");

  await eventually("one leader elected", () => services.filter((s) => s.isLeader(CHANNEL)).length === 1, 15_000, POLL_MS);

  // Broadcast needs /Channel/Writers: a client of the org, as an application would send.
  const sender = await testClientOf(peerOrg);
  const envs = Array.from({ length: 30 }, (_, i) => createSignedEnvelope(sender, CHANNEL, HeaderType.ENDORSER_TRANSACTION, enc.encode(`tx-${i}`), { clock }));
  const responses = await broadcastAll(orderer.address, envs);
  assert.deepEqual(
    responses.map((r) => r.status),
    Array(30).fill(Status.SUCCESS),
  );
  await orderer.waitForHeight(CHANNEL, 4n);
  await new Promise((r) => setTimeout(r, 400)); // past the batch timeout: nothing more is cut
  const target = orderer.height(CHANNEL);
  assert.ok(target !== undefined && target >= 4n);

  let newestHash = "";
  for await (const item of deliver(orderer.address, createSeekInfoEnvelope(sender, CHANNEL, { start: target - 1n, stop: target - 1n }))) {
    if ("block" in item && item.block.header !== undefined) newestHash = toHex(blockHeaderHash(item.block.header));
  }
  assert.notEqual(newestHash, "");

  await eventually("every peer at the orderer's height", () => services.every((s) => s.ledgerHeight(CHANNEL) === target), 20_000, POLL_MS);
  for (const s of services) assert.equal(toHex(s.lastBlockHash(CHANNEL)), newestHash, "same chain as the orderer");
  // Each commit event tells the block's transactions: together, the 30 broadcast, on every peer.
  for (const s of services) {
    const all = committed.get(s) ?? [];
    assert.deepEqual(
      all.map((e) => e.number),
      Array.from({ length: Number(target) - 1 }, (_, i) => BigInt(i + 1)),
    );
    assert.equal(all.reduce((n, e) => n + e.txCount, 0), 30, "the 30 transactions, counted by the commit events");
    assert.ok(all.every((e) => e.commitMs >= 0));
    // Validated before commit: each block carries one TxValidationCode per transaction. These "transactions"
    // are 'tx-N' bytes, not ChaincodeActionPayloads, so none is VALID (0).
    const b = await s.ledger(CHANNEL).getBlock(1n);
    const flags = b.metadata?.metadata[BlockMetadataIndex.TRANSACTIONS_FILTER] ?? new Uint8Array(0);
    assert.equal(flags.length, b.data?.data.length, "a flag per transaction");
    assert.ok(flags.every((f) => f !== TxValidationCode.VALID), `flags ${[...flags].join(",")}`);
  }
  const leaders = services.filter((s) => s.isLeader(CHANNEL));
  assert.equal(leaders.length, 1, "exactly one leader");
  assert.ok(leaders[0]!.isDelivering(CHANNEL), "the leader runs the deliver client");
  for (const s of services) if (s !== leaders[0]) assert.equal(s.isDelivering(CHANNEL), false, "followers do not deliver");

  // The leader goes away: another peer takes over delivery and the chain goes on.
  const oldLeader = leaders[0]!;
  await oldLeader.stop();
  const rest = services.filter((s) => s !== oldLeader);
  await eventually("a new leader among the others", () => rest.filter((s) => s.isLeader(CHANNEL)).length === 1, 15_000, POLL_MS);
  const more = Array.from({ length: 10 }, (_, i) => createSignedEnvelope(sender, CHANNEL, HeaderType.ENDORSER_TRANSACTION, enc.encode(`more-${i}`), { clock }));
  assert.ok((await broadcastAll(orderer.address, more)).every((r) => r.status === Status.SUCCESS));
  await orderer.waitForHeight(CHANNEL, target + 1n);
  await new Promise((r) => setTimeout(r, 400));
  const target2 = orderer.height(CHANNEL) ?? 0n;
  await eventually("the remaining peers at the new height", () => rest.every((s) => s.ledgerHeight(CHANNEL) === target2), 20_000, POLL_MS);
  assert.equal(toHex(rest[0]!.lastBlockHash(CHANNEL)), toHex(rest[1]!.lastBlockHash(CHANNEL)));

  for (const s of [...services].reverse()) await s.stop();
  servicesStopped = true;
  await orderer.stop();
  ordererStopped = true;
  for (const tr of transports) assert.equal(tr.openStreams(), 0, "no gossip stream left open");
  await eventually("no timer left", () => clock.pendingTimers() === 0, 2_000, POLL_MS);
});
