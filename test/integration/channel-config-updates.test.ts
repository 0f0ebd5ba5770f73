import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type MessageCryptoService, type PeerEvent, PeerEvents } from "../../src/api/index.js";
import { MemoryNetwork, MemoryTransport } from "../../src/comm/memory/index.js";
import { serializeIdentity } from "../../src/crypto/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { memoryMetricsProvider } from "../../src/metrics/index.js";
import { Block } from "../../src/protos/gen/common/common.pb.js";
import { ChannelRegistry, channelJoinBlockOf, createGossipService, type GossipService, loadPeerCrypto, mspMaterialsOf } from "../../src/service/index.js";
import { ManualClock, SeededRandom } from "../../src/util/index.js";
import { eventually } from "../utils/net.js";

/**
 * A peer joined from Fabric v2.5.6's real genesis block and fed the real blocks 1-9 (../shared/vectors:
 * an anchor peer added in block 4, a CRL revoking peer2.org1 in block 6, Org3 added in block 7, a
 * second orderer endpoint in block 8) applies each config update as Fabric's peer does, and keeps
 * the configuration in force across a restart.
 */
const VECTORS = fileURLToPath(new URL("../../../shared/vectors/fabric-v2.5.6-channel/", import.meta.url));
const block = async (n: number): Promise<Uint8Array> => new Uint8Array(await readFile(join(VECTORS, "blocks", `${String(n).padStart(3, "0")}.block`)));
const org1Peer = (name: string): string => join(VECTORS, "crypto", "peerOrganizations", "org1.example.com", "peers", `${name}.org1.example.com`, "msp");
const identityOf = async (name: string): Promise<Uint8Array> =>
  serializeIdentity("Org1MSP", new Uint8Array(await readFile(join(org1Peer(name), "signcerts", `${name}.org1.example.com-cert.pem`))));

test("config blocks take effect at commit: anchors, a CRL, a new org and orderer endpoints; kept across a restart", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-config-updates-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const genesis = channelJoinBlockOf(await block(0), "000.block");
  const clock = new ManualClock(Date.parse("2026-12-05T00:00:00Z"));
  const network = new MemoryNetwork(clock);

  const startService = async (): Promise<{ service: GossipService; registry: ChannelRegistry; events: PeerEvent[]; mcs: MessageCryptoService; validate: (id: Uint8Array) => void }> => {
    const registry = new ChannelRegistry();
    const crypto = await loadPeerCrypto(
      {
        listen: "127.0.0.1:25051",
        msp: org1Peer("peer0"),
        mspId: "Org1MSP",
        extraOrgs: mspMaterialsOf(genesis.def),
        channelOrgs: registry.channelOrgs,
        ordererOrgs: registry.ordererOrgs,
        blockValidation: registry.blockValidation,
      },
      silentLogger,
    );
    const bus = new PeerEvents();
    const events: PeerEvent[] = [];
    bus.onAny((e) => events.push(e));
    const service = createGossipService(
      {
        transport: new MemoryTransport(network, { endpoint: "127.0.0.1:25051" }),
        mcs: crypto.mcs,
        securityAdvisor: crypto.securityAdvisor,
        selfIdentity: crypto.identity,
        signer: crypto.signer!,
        channels: registry,
        ...(crypto.trustOrgs !== undefined ? { trustOrgs: crypto.trustOrgs } : {}),
        clock,
        random: new SeededRandom(3),
        logger: silentLogger,
        metrics: memoryMetricsProvider(),
        events: bus,
      },
      // Standby: no orderer of this channel runs here; blocks come by addPayload, as gossip would bring them.
      // Blocks 1 and 2 approve a chaincode: _lifecycle's implicit-collection data of Org1, which no other peer here
      // holds. Committing without pulling (as Fabric's code default 0) records it missing instead of waiting 60 s.
      { useLeaderElection: false, orgLeader: false, ledgerRootDir: dir, pvtData: { pullRetryThresholdMs: 0 } },
      { internalEndpoint: "127.0.0.1:25051" },
    );
    await service.start();
    return { service, registry, events, mcs: crypto.mcs, validate: (id) => crypto.mcs.validateIdentity(id) };
  };

  const first = await startService();
  await first.service.initializeChannel(genesis.def, { genesisBlock: genesis.block });
  const peer2 = await identityOf("peer2");
  const peer1 = await identityOf("peer1");
  first.validate(peer2); // not yet revoked

  for (let n = 1; n <= 9; n++) await first.service.addPayload("mychannel", { seqNum: BigInt(n), data: await block(n), privateData: [] });
  // The block store writes to disk (real I/O): wait in real time.
  await eventually("blocks 1-9 verified and committed", () => first.service.ledgerHeight("mychannel") === 10n, 20_000, 20);

  // Blocks are now checked against /Channel/Orderer/BlockValidation of the configuration in force: block 9
  // carrying block 5's signatures (valid orderer signatures over another header) is refused.
  const tampered = Block.decode(await block(9));
  tampered.metadata!.metadata[0] = Block.decode(await block(5)).metadata!.metadata[0]!;
  assert.throws(() => first.mcs.verifyBlock("mychannel", 9n, tampered), /BlockValidation/);
  first.mcs.verifyBlock("mychannel", 9n, Block.decode(await block(9)));
  assert.deepEqual(
    first.events.filter((e) => e.kind === "config-updated").map((e) => (e.kind === "config-updated" ? e.sequence : -1n)),
    [1n, 2n, 3n, 4n],
    "blocks 4, 6, 7 and 8 each took effect",
  );
  const def = first.registry.get("mychannel");
  assert.deepEqual(
    def?.orgs.map((o) => [o.mspId, o.anchorPeers]),
    [
      ["Org1MSP", ["127.0.0.1:25051"]],
      ["Org2MSP", ["127.0.0.1:26051"]],
      ["Org3MSP", ["127.0.0.1:26151"]],
    ],
  );
  assert.deepEqual(def?.orderer.endpoints, ["127.0.0.1:25050", "127.0.0.1:25150"]);
  assert.equal(first.registry.channelOrgs("mychannel")?.has("Org3MSP"), true, "Org3 may read the channel");
  assert.throws(() => first.validate(peer2), /revoked/i, "peer2.org1 is refused after block 6's CRL");
  first.validate(peer1);
  await first.service.stop();

  // Restarted over the same ledger, given only the genesis definition, it resumes at block 8's configuration.
  const second = await startService();
  t.after(() => second.service.stop());
  await second.service.initializeChannel(genesis.def);
  assert.equal(second.service.ledgerHeight("mychannel"), 10n);
  assert.deepEqual(
    second.registry.get("mychannel")?.orgs.map((o) => o.mspId),
    ["Org1MSP", "Org2MSP", "Org3MSP"],
  );
  assert.deepEqual(second.registry.get("mychannel")?.orderer.endpoints, ["127.0.0.1:25050", "127.0.0.1:25150"]);
  assert.throws(() => second.validate(peer2), /revoked/i, "the CRL is in force after the restart");
});
