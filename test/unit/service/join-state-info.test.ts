import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MemoryNetwork, MemoryTransport } from "../../../src/comm/memory/index.js";
import { DevMessageCryptoService } from "../../../src/crypto/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import { channelJoinBlockOf, createGossipService, type GossipService, oneOrgAdvisor } from "../../../src/service/index.js";
import { ManualClock, SeededRandom, utf8 } from "../../../src/util/index.js";

// A real configtxgen genesis block from Fabric v2.5.6 (../shared/vectors, see its README).
const GENESIS = new URL("../../../../shared/vectors/fabric-v2.5.6-channel/blocks/000.block", import.meta.url);
const CHANNEL = "mychannel";
const PUBLISH_STATE_INFO_INTERVAL_MS = 4_000;

function service(network: MemoryNetwork, clock: ManualClock, endpoint: string, dir: string, bootstrap: string[]): GossipService {
  const dev = new DevMessageCryptoService();
  return createGossipService(
    {
      transport: new MemoryTransport(network, { endpoint }),
      mcs: dev,
      // The real channel's members are Org1MSP and Org2MSP (its configuration, not the definition, decides).
      securityAdvisor: oneOrgAdvisor("Org1MSP"),
      selfIdentity: utf8(endpoint),
      signer: { serialized: utf8(endpoint), sign: (m) => m },
      clock,
      random: new SeededRandom(endpoint.length),
      logger: silentLogger,
      metrics: memoryMetricsProvider(),
    },
    { useLeaderElection: false, orgLeader: false, ledgerRootDir: join(dir, endpoint.replace(":", "_")) },
    { internalEndpoint: endpoint, bootstrapPeers: bootstrap, publishStateInfoIntervalMs: PUBLISH_STATE_INFO_INTERVAL_MS },
  );
}

// Fabric's peer publishes its StateInfo at once when it joins a channel (CreateChannel -> initChannel ->
// the chaincode metadata listener -> UpdateChaincodes), so that the peers already in the channel,
// the org's leader among them, count it at once rather than after a publishStateInfo tick.
test("a peer that joins a channel publishes its StateInfo at once, with its ledger height", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-join-si-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const clock = new ManualClock(1_700_000_000_000);
  const network = new MemoryNetwork(clock);
  const a = service(network, clock, "p0:7051", dir, []);
  const b = service(network, clock, "p1:7051", dir, ["p0:7051"]);
  await a.start();
  t.after(() => a.stop());
  await b.start();
  t.after(() => b.stop());
  for (let i = 0; i < 100 && a.node.peers().length === 0; i++) await clock.advance(100);
  assert.equal(a.node.peers().length, 1, "the two peers know each other");

  const genesis = new Uint8Array(await readFile(GENESIS));
  const { def } = channelJoinBlockOf(genesis);
  await a.initializeChannel(def, { genesisBlock: genesis });
  // Well away from a publishStateInfo tick of either peer.
  await clock.advance(PUBLISH_STATE_INFO_INTERVAL_MS / 2);
  assert.deepEqual(a.node.peersOfChannel(CHANNEL), [], "p1 is not in the channel yet");

  await b.initializeChannel(def, { genesisBlock: genesis });
  await clock.advance(100);
  const seen = a.node.peersOfChannel(CHANNEL);
  assert.deepEqual(
    seen.map((m) => [m.internalEndpoint, m.properties?.ledgerHeight]),
    [["p1:7051", 1n]],
    "p0 has p1's StateInfo, with its ledger height, well before p1's first publishStateInfo tick",
  );
});
