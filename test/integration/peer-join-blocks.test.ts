import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadPeerConfig, type PeerConfig } from "../../src/config/index.js";
import { createSigningIdentity, issueCertificate, loadCa, loadMspFolder, type SigningIdentity } from "../../src/crypto/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { ChannelDefinitionError, GossipServiceError, PeerError, peerFromConfig, PeerSetupError, startPeer, type Peer } from "../../src/service/index.js";
import { utf8 } from "../../src/util/index.js";
import { generateTestOrgs, genesisBlockOf, type TestOrgs } from "../utils/channel-setup.js";
import { freePort } from "../utils/net.js";

/**
 * The library's peer learns channels only from their config blocks: `startPeer({ channelBlocks })` and
 * `peer.joinChannel(block)` join from genesis blocks, a restart rejoins from the ledgers, a channel without
 * configuration (`channels`) is refused for an MSP peer, bad blocks are refused naming their position, and
 * VerifyByChannel is the channel's /Channel/Application/Readers policy, not "the org is a member".
 * No ordering service runs: the channels stay at their genesis blocks.
 */

const CH1 = "channel-one";
const CH2 = "channel-two";

const setupCode = (err: unknown): string => (err instanceof PeerSetupError ? `${err.code}@${err.index ?? "-"}` : `not a PeerSetupError: ${String(err)}`);

describe("a library peer joins channels from their genesis blocks", () => {
  let root: string;
  let orgs: TestOrgs;
  let config: PeerConfig;
  let block1: Uint8Array;
  let block2: Uint8Array;
  const peers: Peer[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-peer-blocks-"));
    orgs = await generateTestOrgs(root, 2, 1);
    // The orderer endpoint has nobody listening: a leader's Deliver client retries quietly.
    const orderer = [`127.0.0.1:${await freePort()}`];
    block1 = await genesisBlockOf(CH1, [{ org: orgs.peerOrgs[0]! }], orgs.ordererOrg, orderer);
    block2 = await genesisBlockOf(CH2, [{ org: orgs.peerOrgs[0]! }, { org: orgs.peerOrgs[1]! }], orgs.ordererOrg, orderer);
    config = loadPeerConfig({ yaml: undefined, env: {}, overrides: { "peer.gossip.useLeaderElection": false, "peer.gossip.orgLeader": false } }).config;
  });

  after(async () => {
    for (const p of peers) await p.stop();
    await rm(root, { recursive: true, force: true });
  });

  const crypto = (): { msp: string; mspId: string } => ({ msp: orgs.peerOrgs[0]!.nodes[0]!.mspDir, mspId: orgs.peerOrgs[0]!.mspId });

  it("refuses, before listening, a channel without configuration, a block that is no genesis block, a channel given twice, and blocks without an MSP identity", async () => {
    const base = { config, listen: `127.0.0.1:${await freePort()}`, ledgerDir: join(root, "refused") };
    await assert.rejects(peerFromConfig({ ...base, crypto: crypto(), channels: [CH1] }, { logger: silentLogger }), (err: unknown) => {
      assert.equal(setupCode(err), "PEER_OPTIONS@-");
      assert.match((err as Error).message, /channel channel-one: a peer with an MSP identity knows a channel only from its configuration/);
      return true;
    });
    await assert.rejects(peerFromConfig({ ...base, crypto: crypto(), channelBlocks: [block1, utf8("junk")] }, { logger: silentLogger }), (err: unknown) => {
      assert.equal(setupCode(err), "PEER_CHANNEL_BLOCK@1");
      assert.match((err as Error).message, /^channel block 1: /);
      return true;
    });
    await assert.rejects(peerFromConfig({ ...base, crypto: crypto(), channelBlocks: [block1, block1] }, { logger: silentLogger }), (err: unknown) => {
      assert.equal(setupCode(err), "PEER_CHANNEL_BLOCK@1");
      assert.match((err as Error).message, /channel channel-one is given twice/);
      return true;
    });
    await assert.rejects(peerFromConfig({ ...base, crypto: { insecureDevCrypto: true }, channelBlocks: [block1] }, { logger: silentLogger }), (err: unknown) => {
      assert.equal(setupCode(err), "PEER_OPTIONS@-");
      return true;
    });
  });

  it("startPeer({ channelBlocks }) joins at start, joinChannel(block) while running; blocks() yields block 0; a second join is refused", async () => {
    const ledgerDir = join(root, "peer0");
    const peer = await startPeer({ config, listen: `127.0.0.1:${await freePort()}`, crypto: crypto(), channelBlocks: [block1], ledgerDir, logger: silentLogger });
    peers.push(peer);
    assert.deepEqual(
      peer.node.channelsView().map((c) => [c.channel, c.height, c.orgs]),
      [[CH1, 1, ["Org1MSP"]]],
    );
    const status = await peer.joinChannel(block2);
    assert.deepEqual([status.channel, status.height, status.orgs], [CH2, 1, ["Org1MSP", "Org2MSP"]]);
    await assert.rejects(peer.joinChannel(block2), (err: unknown) => err instanceof GossipServiceError && err.code === "CHANNEL_EXISTS");
    await assert.rejects(peer.joinChannel(utf8("not a block")), (err: unknown) => err instanceof ChannelDefinitionError && err.code === "INVALID_CHANNEL_DEFINITION");
    for await (const { number, block } of peer.blocks(CH2)) {
      assert.equal(number, 0n);
      assert.equal(block.header?.number, 0n);
      break;
    }
    await peer.stop();
    await assert.rejects(peer.joinChannel(block1), (err: unknown) => err instanceof PeerError && err.code === "PEER_STOPPED");
  });

  it("a restart with the same ledgers rejoins both channels without being given a block", async () => {
    const peer = await startPeer({ config, listen: `127.0.0.1:${await freePort()}`, crypto: crypto(), ledgerDir: join(root, "peer0"), logger: silentLogger });
    peers.push(peer);
    assert.deepEqual(peer.node.channelsView().map((c) => [c.channel, c.height]).sort(), [
      [CH1, 1],
      [CH2, 1],
    ]);
    await peer.stop();
  });

  it("a development-crypto peer cannot join a channel from a block (NO_LEDGER)", async () => {
    const peer = await startPeer({ config, listen: `127.0.0.1:${await freePort()}`, crypto: { insecureDevCrypto: true }, logger: silentLogger });
    peers.push(peer);
    await assert.rejects(peer.joinChannel(block1), (err: unknown) => err instanceof PeerError && err.code === "NO_LEDGER");
    await peer.stop();
  });

  it("VerifyByChannel is /Channel/Application/Readers of the channel's configuration: a member org's identity outside its Readers is refused", async () => {
    const { node, crypto: built } = await peerFromConfig(
      { config, listen: `127.0.0.1:${await freePort()}`, crypto: crypto(), channelBlocks: [block2], ledgerDir: join(root, "peer-readers") },
      { logger: silentLogger },
    );
    await node.start();
    try {
      const org1 = orgs.peerOrgs[0]!;
      const org2Peer: SigningIdentity = (await loadMspFolder(orgs.peerOrgs[1]!.nodes[0]!.mspDir, "Org2MSP")).signingIdentity;
      // Org1's CA, but the "orderer" NodeOU: valid in Org1MSP, yet neither admin, peer nor client (the org's Readers).
      const issued = await issueCertificate({ ca: await loadCa(org1.caDir), commonName: "odd.org1.example.com", organizationalUnits: ["orderer"] });
      const odd = createSigningIdentity({ mspId: "Org1MSP", certPem: issued.certPem, keyPem: issued.keyPem });
      const msg = utf8("a channel message");
      assert.doesNotThrow(() => built.mcs.verifyByChannel(CH2, org2Peer.serialized, org2Peer.sign(msg), msg), "a peer of a member org reads the channel");
      assert.doesNotThrow(() => built.mcs.verify(odd.serialized, odd.sign(msg), msg), "the identity is valid in its org");
      assert.throws(
        () => built.mcs.verifyByChannel(CH2, odd.serialized, odd.sign(msg), msg),
        (err: unknown) => err instanceof Error && /\/Channel\/Application\/Readers/.test(err.message),
        "outside the Readers policy although its org is a member",
      );
      assert.throws(() => built.mcs.verifyByChannel(CH2, org2Peer.serialized, org2Peer.sign(utf8("other")), msg), "a bad signature is refused");
    } finally {
      await node.stop();
    }
  });
});
