/**
 * Private data over real gRPC on 127.0.0.1 (in-process peers, each with its own gRPC server, an ordering
 * service, MSP identities): 2 orgs, Org1 with p0 (static leader, the endorser that distributes), p1 and p2
 * (blocks by gossip), Org2 with p3 (static leader). Collections of `pvtcc` (a collections_config.json):
 * collOrg1 (Org1; requiredPeerCount 1, maxPeerCount 2) and collBoth (both orgs; requiredPeerCount 2,
 * maxPeerCount 3). Figures:
 * - distribution latency: `distributePrivateData` on p0, from the call (the endorsement) until every required
 *   acknowledgement arrived, per collection (p50, p99);
 * - commit latency of a block carrying one private write set, on p1, as its block-committed event measures the
 *   commit (coordinator and ledger): the data pushed at endorsement (from the transient store) versus held by
 *   the endorser only (p1 pulls it from p0 at commit: an eligible peer that missed the push);
 * - reconciliation: p2 commits those same blocks without their data (pullRetryThreshold 0), then one
 *   reconciliation run fetches the 100 missing write sets from the others.
 * Blocks hold one transaction each, sent one at a time (the next after p1 and p2 committed the last).
 */
import "reflect-metadata";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GrpcTransport } from "../src/comm/grpc/index.js";
import { createMspMessageCryptoService, loadPeerMaterial, loadVerifierOrgs, MspVerifier, type PeerMaterial } from "../src/crypto/index.js";
import { silentLogger } from "../src/logging/index.js";
import { memoryMetricsProvider } from "../src/metrics/index.js";
import { broadcastAll } from "../src/orderer/index.js";
import { buildEndorserTransaction, parseCollectionsConfigJson } from "../src/privdata/index.js";
import { Status } from "../src/protos/gen/common/common.pb.js";
import { TxPvtReadWriteSetWithConfigInfo } from "../src/protos/gen/transientstore/transientstore.pb.js";
import { ChannelRegistry, channelJoinBlockOf, createGossipService, type GossipService } from "../src/service/index.js";
import { SystemClock, SystemRandom } from "../src/util/index.js";
import { createTestOrderer, generateTestOrgs, testClientOf } from "../test/utils/channel-setup.js";
import { FAST_GOSSIP_NODE_OPTIONS } from "../test/utils/fast-timers.js";
import { freePort } from "../test/utils/net.js";
import { isMain, printFigures, quantile } from "./stats.js";

const CHANNEL = "pvtbench";
const CC = "pvtcc";
const COLLECTIONS = JSON.stringify([
  { name: "collOrg1", policy: "OR('Org1MSP.member')", requiredPeerCount: 1, maxPeerCount: 2, blockToLive: 0, memberOnlyRead: true },
  { name: "collBoth", policy: "OR('Org1MSP.member','Org2MSP.member')", requiredPeerCount: 2, maxPeerCount: 3, blockToLive: 0, memberOnlyRead: true },
]);
/** Distributions timed per collection (after WARMUP untimed). */
const DISTRIBUTIONS = 200;
const WARMUP = 20;
/** Blocks whose data came by push (transient store). */
const PUSHED_BLOCKS = 30;
/** Blocks whose data p1 pulls at commit, and p2 reconciles afterwards. */
const PULLED_BLOCKS = 100;
const POLL_MS = 5;
const HOUR_MS = 3_600_000;

async function until(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

const ms = (v: number): number => Math.round(v * 10) / 10;

export async function benchPrivdata(): Promise<Record<string, number>> {
  const clock = new SystemClock();
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-bench-pvt-"));
  const services: GossipService[] = [];
  let orderer: Awaited<ReturnType<typeof createTestOrderer>> | undefined;
  try {
    const orgs = await generateTestOrgs(root, 2, 3);
    const [org1, org2] = orgs.peerOrgs as [(typeof orgs.peerOrgs)[0], (typeof orgs.peerOrgs)[0]];
    const collectionsFile = join(root, "collections_config.json");
    await writeFile(collectionsFile, COLLECTIONS);
    const verifierOrgs = await loadVerifierOrgs(orgs.summary.root);
    const materials: PeerMaterial[] = [
      await loadPeerMaterial(org1.nodes[0]!.dir),
      await loadPeerMaterial(org1.nodes[1]!.dir),
      await loadPeerMaterial(org1.nodes[2]!.dir),
      await loadPeerMaterial(org2.nodes[0]!.dir),
    ];
    const endpoints: string[] = [];
    for (let i = 0; i < 4; i++) endpoints.push(`127.0.0.1:${await freePort()}`);
    const ord = await createTestOrderer(root, orgs, clock, {
      channel: CHANNEL,
      batchSize: 1,
      batchTimeoutMs: 200,
      anchorPeers: { Org1MSP: [endpoints[0]!], Org2MSP: [endpoints[3]!] },
    });
    orderer = ord;
    await ord.start();
    const { def } = channelJoinBlockOf(ord.genesis);

    for (let i = 0; i < 4; i++) {
      const material = materials[i]!;
      const endpoint = endpoints[i]!;
      const channels = new ChannelRegistry();
      const mcs = createMspMessageCryptoService(
        { signer: material.signingIdentity, verifier: new MspVerifier(verifierOrgs, { clock }) },
        { channelOrgs: channels.channelOrgs, ordererOrgs: channels.ordererOrgs, blockValidation: channels.blockValidation },
      );
      const leader = i === 0 || i === 3;
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
          metrics: memoryMetricsProvider(),
        },
        {
          useLeaderElection: false,
          orgLeader: leader,
          // Followers take blocks from gossip only: a state response would bring the data with the block.
          state: { enabled: leader, checkIntervalMs: 1_000, responseTimeoutMs: 1_000 },
          deliver: { initialBackoffMs: 100, connTimeoutMs: 2_000, reconnectBackoffThresholdMs: 1_000 },
          pvtData: {
            // p2 commits without waiting for peers; its reconciler runs only when called below.
            pullRetryThresholdMs: i === 2 ? 0 : 15_000,
            pushAckTimeoutMs: 3_000,
            reconciliationEnabled: true,
            reconcileSleepIntervalMs: HOUR_MS,
          },
          collectionsFiles: [{ chaincode: CC, file: collectionsFile }],
          ledgerRootDir: join(root, `peer${i}`, "ledgers"),
        },
        { ...FAST_GOSSIP_NODE_OPTIONS, internalEndpoint: endpoint, externalEndpoint: endpoint, bootstrapPeers: leader ? [] : [endpoints[0]!] },
      );
      services.push(service);
      await service.start();
    }
    const [p0, p1, p2] = services as [GossipService, GossipService, GossipService, GossipService];
    await Promise.all(services.map((s) => s.initializeChannel(def, { genesisBlock: ord.genesis })));
    await until("every peer sees the three others in the channel", () => services.every((s) => s.node.peersOfChannel(CHANNEL).length === 3), 60_000);

    const commitMs = new Map<bigint, number>();
    p1.events.on("block-committed", (e) => {
      if (e.channel === CHANNEL) commitMs.set(e.number, e.commitMs);
    });

    const client = await testClientOf(org1);
    const endorser = materials[0]!.signingIdentity;
    const pkg = parseCollectionsConfigJson(COLLECTIONS);
    let seq = 0;
    const tx = (collection: string) => {
      const key = `k${seq++}`;
      const built = buildEndorserTransaction({
        channelId: CHANNEL,
        chaincode: CC,
        namespaces: [{ namespace: CC, writes: [{ key: `public-${key}`, value: Buffer.from("x") }], collections: [{ name: collection, writes: [{ key, value: Buffer.alloc(256, 7) }] }] }],
        creator: client,
        endorsers: [endorser],
        collectionConfigs: { [CC]: pkg },
        endorsedAt: p0.ledgerHeight(CHANNEL),
        clock,
      });
      return { ...built, pvtBytes: TxPvtReadWriteSetWithConfigInfo.encode(built.pvtWithConfig!).finish() };
    };

    // 1. Distribution latency.
    const figures: Record<string, number> = {};
    for (const collection of ["collOrg1", "collBoth"]) {
      const lat: number[] = [];
      for (let i = 0; i < WARMUP + DISTRIBUTIONS; i++) {
        const t = tx(collection);
        const started = performance.now();
        await p0.distributePrivateData(CHANNEL, t.txId, t.pvtBytes, t.pvtWithConfig!.endorsedAt);
        if (i >= WARMUP) lat.push(performance.now() - started);
      }
      figures[`distribute ${collection} (${collection === "collOrg1" ? 1 : 2} required acks) p50 ms`] = ms(quantile(lat, 0.5));
      figures[`distribute ${collection} p99 ms`] = ms(quantile(lat, 0.99));
    }

    // 2. and 3. Commit latency on p1, pushed then pulled.
    const commitOne = async (pushed: boolean): Promise<bigint> => {
      const t = tx("collOrg1");
      if (pushed) await p0.distributePrivateData(CHANNEL, t.txId, t.pvtBytes, t.pvtWithConfig!.endorsedAt);
      else await p0.privateData(CHANNEL).transientStore.persist(t.txId, t.pvtWithConfig!.endorsedAt, t.pvtWithConfig!);
      const block = p1.ledgerHeight(CHANNEL);
      const [r] = await broadcastAll(ord.address, [t.envelope]);
      if (r?.status !== Status.SUCCESS) throw new Error(`broadcast: ${r?.status}`);
      await until(`block ${block} committed by p1 and p2`, () => p1.ledgerHeight(CHANNEL) > block && p2.ledgerHeight(CHANNEL) > block, 60_000);
      return block;
    };
    const pushedMs: number[] = [];
    for (let i = 0; i < PUSHED_BLOCKS; i++) pushedMs.push(commitMs.get(await commitOne(true)) ?? Number.NaN);
    const pulledBlocks: bigint[] = [];
    for (let i = 0; i < PULLED_BLOCKS; i++) pulledBlocks.push(await commitOne(false));
    const pulledMs = pulledBlocks.map((b) => commitMs.get(b) ?? Number.NaN);
    figures["p1 commit, data from transient store p50 ms"] = ms(quantile(pushedMs, 0.5));
    figures["p1 commit, data from transient store p99 ms"] = ms(quantile(pushedMs, 0.99));
    figures["p1 commit, data pulled from p0 p50 ms"] = ms(quantile(pulledMs, 0.5));
    figures["p1 commit, data pulled from p0 p99 ms"] = ms(quantile(pulledMs, 0.99));
    const p1Store = p1.privateData(CHANNEL).pvtStore;
    let p1Held = 0;
    for (const b of pulledBlocks) p1Held += (await p1Store.getPvtDataByBlockNum(b)).length;
    figures["p1 write sets pulled and committed"] = p1Held;

    // 4. Reconciliation of what p2 committed without.
    const p2Store = p2.privateData(CHANNEL).pvtStore;
    const missingBefore = pulledBlocks.reduce((n, b) => n + p2Store.blockRecord(b).missing.length, 0);
    const started = performance.now();
    let reconciled = 0;
    let rounds = 0;
    while (reconciled < missingBefore && rounds < 20) {
      reconciled += (await p2.privateData(CHANNEL).reconciler.reconcile()).reconciled;
      rounds++;
    }
    figures["p2 missing write sets before reconciliation"] = missingBefore;
    figures["reconcile: write sets reconciled"] = reconciled;
    figures["reconcile: runs"] = rounds;
    figures["reconcile: total ms"] = ms(performance.now() - started);
    return figures;
  } finally {
    for (const s of [...services].reverse()) await s.stop();
    await orderer?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) printFigures(await benchPrivdata());
