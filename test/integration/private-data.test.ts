import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { GrpcTransport } from "../../src/comm/grpc/index.js";
import { createMspMessageCryptoService, loadPeerMaterial, loadVerifierOrgs, MspVerifier, type PeerMaterial } from "../../src/crypto/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { memoryMetricsProvider } from "../../src/metrics/index.js";
import { broadcastAll } from "../../src/orderer/index.js";
import { buildEndorserTransaction, parseCollectionsConfigJson } from "../../src/privdata/index.js";
import { Status } from "../../src/protos/gen/common/common.pb.js";
import { KVRWSet } from "../../src/protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import { TxPvtReadWriteSetWithConfigInfo } from "../../src/protos/gen/transientstore/transientstore.pb.js";
import { ChannelRegistry, channelJoinBlockOf, createGossipService, type GossipService } from "../../src/service/index.js";
import { SystemClock, SystemRandom } from "../../src/util/index.js";
import { createTestOrderer, generateTestOrgs, testClientOf } from "../utils/channel-setup.js";
import { FAST_GOSSIP_NODE_OPTIONS } from "../utils/fast-timers.js";
import { eventually, freePort } from "../utils/net.js";

const CHANNEL = "pvtchannel";
const CC = "pvtcc";
const POLL_MS = 50;
const COLLECTIONS = JSON.stringify([{ name: "collOrg1", policy: "OR('Org1MSP.member')", requiredPeerCount: 0, maxPeerCount: 1, blockToLive: 0, memberOnlyRead: true }]);

/** What a peer's private data store holds for a block: `tx ns/coll key=value` strings. */
async function pvtOf(service: GossipService, block: bigint): Promise<string[]> {
  const data = await service.privateData(CHANNEL).pvtStore.getPvtDataByBlockNum(block);
  return data.flatMap((d) =>
    d.writeSet.nsPvtRwset.flatMap((ns) =>
      ns.collectionPvtRwset.flatMap((c) => KVRWSet.decode(c.rwset).writes.map((w) => `${d.seqInBlock} ${ns.namespace}/${c.collectionName} ${w.key}=${Buffer.from(w.value).toString()}`)),
    ),
  );
}

test("private data over real gRPC: an Org1 endorser's write set reaches the other Org1 peer by push (transient store) or by pull at commit; the Org2 peer records it as ineligible missing", async (t) => {
  const clock = new SystemClock();
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-pvt-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const orgs = await generateTestOrgs(root, 2, 2);
  const [org1, org2] = orgs.peerOrgs as [(typeof orgs.peerOrgs)[0], (typeof orgs.peerOrgs)[0]];
  const collectionsFile = join(root, "collections_config.json");
  await writeFile(collectionsFile, COLLECTIONS);
  const verifierOrgs = await loadVerifierOrgs(orgs.summary.root);

  // p0 (Org1, static leader), p1 (Org1, standby: blocks by gossip), p2 (Org2, static leader).
  const materials: PeerMaterial[] = [await loadPeerMaterial(org1.nodes[0]!.dir), await loadPeerMaterial(org1.nodes[1]!.dir), await loadPeerMaterial(org2.nodes[0]!.dir)];
  const endpoints = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  const orderer = await createTestOrderer(root, orgs, clock, {
    channel: CHANNEL,
    batchSize: 1,
    batchTimeoutMs: 200,
    anchorPeers: { Org1MSP: [endpoints[0]!], Org2MSP: [endpoints[2]!] },
  });
  await orderer.start();
  t.after(() => orderer.stop());
  const { def } = channelJoinBlockOf(orderer.genesis);

  const services: GossipService[] = [];
  const metrics = [memoryMetricsProvider(), memoryMetricsProvider(), memoryMetricsProvider()];
  let stopped = false;
  t.after(async () => {
    if (!stopped) for (const s of services) await s.stop();
  });
  for (let i = 0; i < 3; i++) {
    const material = materials[i]!;
    const endpoint = endpoints[i]!;
    const channels = new ChannelRegistry();
    const mcs = createMspMessageCryptoService(
      { signer: material.signingIdentity, verifier: new MspVerifier(verifierOrgs, { clock }) },
      { channelOrgs: channels.channelOrgs, ordererOrgs: channels.ordererOrgs, blockValidation: channels.blockValidation },
    );
    const service = createGossipService(
      {
        transport: new GrpcTransport({ listenAddress: endpoint, logger: silentLogger, clock }),
        mcs,
        securityAdvisor: mcs,
        selfIdentity: material.signingIdentity.serialized,
        signer: material.signingIdentity,
        channels,
        clock,
        random: new SystemRandom(),
        logger: silentLogger,
        metrics: metrics[i]!,
      },
      {
        useLeaderElection: false,
        orgLeader: i !== 1,
        // p1 takes blocks from gossip only: state transfer would bring k2 with its block (the cache) instead of the pull.
        state: { enabled: i !== 1, checkIntervalMs: 1_000, responseTimeoutMs: 1_000 },
        deliver: { initialBackoffMs: 100, connTimeoutMs: 2_000, reconnectBackoffThresholdMs: 1_000 },
        pvtData: { pullRetryThresholdMs: 15_000, pushAckTimeoutMs: 3_000, reconciliationEnabled: true },
        collectionsFiles: [{ chaincode: CC, file: collectionsFile }],
        ledgerRootDir: join(root, `peer${i}`, "ledgers"),
      },
      { ...FAST_GOSSIP_NODE_OPTIONS, internalEndpoint: endpoint, externalEndpoint: endpoint, bootstrapPeers: i === 1 ? [endpoints[0]!] : [] },
    );
    services.push(service);
    await service.start();
  }
  const [p0, p1, p2] = services as [GossipService, GossipService, GossipService];
  await Promise.all(services.map((s) => s.initializeChannel(def, { genesisBlock: orderer.genesis })));
  await eventually(
    "every peer sees the two others in the channel",
    () => services.every((s) => s.node.peersOfChannel(CHANNEL).length === 2),
    20_000,
    POLL_MS,
  );

  const client = await testClientOf(org1);
  const endorser = materials[0]!.signingIdentity;
  const pkg = parseCollectionsConfigJson(COLLECTIONS);
  const tx = (key: string, value: string) =>
    buildEndorserTransaction({
      channelId: CHANNEL,
      chaincode: CC,
      namespaces: [{ namespace: CC, writes: [{ key: `public-${key}`, value: Buffer.from("x") }], collections: [{ name: "collOrg1", writes: [{ key, value: Buffer.from(value) }] }] }],
      creator: client,
      endorsers: [endorser],
      collectionConfigs: { [CC]: pkg },
      endorsedAt: 1n,
      clock,
    });

  // 1. Pushed at endorsement: p0 distributes (to p1, the only other eligible peer) and keeps it.
  const pushed = tx("k1", "pushed-secret");
  assert.ok(pushed.pvtWithConfig !== undefined);
  await p0.distributePrivateData(CHANNEL, pushed.txId, TxPvtReadWriteSetWithConfigInfo.encode(pushed.pvtWithConfig).finish(), 1n);
  await eventually("p1 received the push into its transient store", () => p1.privateData(CHANNEL).transientStore.txIds().includes(pushed.txId), 10_000, POLL_MS);
  assert.deepEqual(p2.privateData(CHANNEL).transientStore.txIds(), [], "never pushed to the Org2 peer");

  // 2. Kept by the endorser only: p1 must pull it from p0 when the block commits.
  const pulled = tx("k2", "pulled-secret");
  await p0.privateData(CHANNEL).transientStore.persist(pulled.txId, 1n, pulled.pvtWithConfig!);

  const responses = await broadcastAll(orderer.address, [pushed.envelope, pulled.envelope]);
  assert.deepEqual(
    responses.map((r) => r.status),
    [Status.SUCCESS, Status.SUCCESS],
  );
  await orderer.waitForHeight(CHANNEL, 3n);
  await eventually("every peer committed both blocks", () => services.every((s) => s.ledgerHeight(CHANNEL) >= 3n), 30_000, POLL_MS);

  // Which block holds which transaction: batch size 1, in broadcast order.
  for (const s of [p0, p1]) {
    assert.deepEqual(await pvtOf(s, 1n), ["0 pvtcc/collOrg1 k1=pushed-secret"]);
    assert.deepEqual(await pvtOf(s, 2n), ["0 pvtcc/collOrg1 k2=pulled-secret"]);
    assert.equal((await s.privateData(CHANNEL).pvtStore.getMissingPvtDataInfoForMostRecentBlocks(10)).size, 0, "nothing missing on an eligible peer");
  }
  // Only p1 asked other peers (for k2); p0 had both in its transient store, p2 is eligible for nothing.
  assert.deepEqual(
    metrics.map((m) => m.observations("gossip_privdata_fetch_duration").count),
    [0, 1, 0],
  );
  assert.equal(metrics[1]!.observations("gossip_privdata_pull_duration").count, 1, "one element pulled by p1");
  assert.deepEqual(await pvtOf(p2, 1n), [], "the Org2 peer holds nothing of collOrg1");
  assert.deepEqual(await pvtOf(p2, 2n), []);
  const ineligible = p2.privateData(CHANNEL).pvtStore.getIneligibleMissingPvtDataInfo();
  assert.deepEqual(
    [...ineligible.keys()].sort(),
    [1n, 2n],
    "recorded as ineligible missing",
  );
  await eventually("the transient stores are purged once the blocks committed", () => services.every((s) => s.privateData(CHANNEL).transientStore.txIds().length === 0), 5_000, POLL_MS);

  for (const s of [...services].reverse()) await s.stop();
  stopped = true;
});
