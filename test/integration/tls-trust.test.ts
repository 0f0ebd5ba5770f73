import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { clientCredentials, GrpcTransport, passBytes, takeBytes } from "../../src/comm/grpc/index.js";
import { defaultGossipConfig, type GossipConfig } from "../../src/config/index.js";
import { blockHeaderHash, type BlockSigner, loadPeerMaterial, type OrgSummary, type PeerMaterial } from "../../src/crypto/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { buildBlock } from "../../src/orderer/index.js";
import { Block, Envelope, Payload } from "../../src/protos/gen/common/common.pb.js";
import { ConfigEnvelope } from "../../src/protos/gen/common/configtx.pb.js";
import { ChannelRegistry, loadPeerCrypto, PeerNode } from "../../src/service/index.js";
import { pkiHex } from "../../src/api/index.js";
import { SystemClock } from "../../src/util/index.js";
import { genesisBlockOf, generateTestOrgs } from "../utils/channel-setup.js";
import { eventually, freePort } from "../utils/net.js";
import { StaticDeliverServer } from "../utils/static-deliver.js";

/**
 * TLS trust comes from the channel configuration, as Fabric's peer takes it (updateTrustedRoots,
 * the orderer connection source): a peer configured with only its own org's TLS CA accepts and
 * dials the peers of the other orgs of a channel it joins, reaches the channel's orderer whose TLS
 * CA only the configuration holds, and follows config updates without a restart: an org added is
 * accepted at once, an org removed is refused by new TLS handshakes while connections already open
 * go on.
 */

const CHANNEL = "tlschannel";
const POLL_MS = 50;
const DIAL_MS = 1_500;
const clock = new SystemClock();

/** Block `number` carrying the configuration of `configOf` (a genesis block) at `sequence`, signed by the orderer. */
function configUpdateBlock(number: bigint, previous: Uint8Array, configOf: Uint8Array, sequence: bigint, signer: BlockSigner): Uint8Array {
  const env = Envelope.decode(Block.decode(configOf).data!.data[0]!);
  const payload = Payload.decode(env.payload);
  const configEnvelope = ConfigEnvelope.decode(payload.data);
  configEnvelope.config!.sequence = sequence;
  const updated = Envelope.encode({ payload: Payload.encode({ ...payload, data: ConfigEnvelope.encode(configEnvelope).finish() }).finish(), signature: new Uint8Array(0) }).finish();
  return Block.encode(buildBlock(number, blockHeaderHash(Block.decode(previous).header!), [updated], signer, number)).finish();
}

/** A GrpcTransport with a node's TLS pair that trusts `cas` (for pinging the peer under test as another org's peer would). */
function transportOf(m: PeerMaterial, cas: string): GrpcTransport {
  return new GrpcTransport({ listenAddress: "127.0.0.1:0", tls: { cert: m.tls.cert, key: m.tls.key, rootCAs: cas }, logger: silentLogger, clock });
}

/** Whether a fresh connection (a new TLS handshake) from `from` to `endpoint` gets a Ping answered. */
async function pings(from: GrpcTransport, endpoint: string): Promise<boolean> {
  try {
    await from.ping(endpoint, DIAL_MS, DIAL_MS);
    return true;
  } catch {
    return false;
  }
}

/** A gRPC client kept open on one connection, to see that a trust change leaves open connections alone. */
function heldClient(endpoint: string, m: PeerMaterial, cas: string): { ping(): Promise<boolean>; close(): void } {
  const options: grpc.ChannelOptions = { "grpc.use_local_subchannel_pool": 1 };
  const client = new grpc.Client(endpoint, clientCredentials(endpoint, { rootCAs: cas, cert: m.tls.cert, key: m.tls.key }, options), options);
  return {
    ping: () =>
      new Promise((resolve) => {
        client.makeUnaryRequest("/gossip.Gossip/Ping", passBytes, takeBytes, new Uint8Array(0), { deadline: Date.now() + DIAL_MS }, (err) => resolve(err === null));
      }),
    close: () => client.close(),
  };
}

function gossipConfigOf(endpoint: string): GossipConfig {
  return {
    ...defaultGossipConfig(),
    endpoint,
    externalEndpoint: endpoint,
    aliveTimeIntervalMs: 1_000,
    pullIntervalMs: 1_000,
    digestWaitTimeMs: 200,
    requestWaitTimeMs: 300,
    responseWaitTimeMs: 300,
    publishStateInfoIntervalMs: 1_000,
    requestStateInfoIntervalMs: 1_000,
    reconnectIntervalMs: 1_000,
    dialTimeoutMs: DIAL_MS,
    connTimeoutMs: DIAL_MS,
  };
}

/**
 * A full peer of `org` listening on `endpoint` over mutual TLS, configured with its own org's TLS CA
 * only (for gossip and for Deliver), a static org leader when `leader` (it runs the Deliver client).
 */
async function peerOf(root: string, org: OrgSummary, m: PeerMaterial, endpoint: string, leader: boolean): Promise<{ node: PeerNode; transport: GrpcTransport }> {
  const registry = new ChannelRegistry();
  const crypto = await loadPeerCrypto(
    {
      listen: endpoint,
      msp: join(org.nodes[0]!.dir, "msp"),
      mspId: org.mspId,
      channelOrgs: registry.channelOrgs,
      ordererOrgs: registry.ordererOrgs,
      blockValidation: registry.blockValidation,
    },
    silentLogger,
  );
  const transport = new GrpcTransport({ listenAddress: endpoint, tls: { cert: m.tls.cert, key: m.tls.key, rootCAs: m.tls.ca }, logger: silentLogger, clock });
  const node = new PeerNode(
    {
      mcs: crypto.mcs,
      securityAdvisor: crypto.securityAdvisor,
      selfIdentity: crypto.identity,
      logger: silentLogger,
      transport,
      service: { signer: crypto.signer!, channels: registry, ...(crypto.trustOrgs !== undefined ? { trustOrgs: crypto.trustOrgs } : {}) },
    },
    {
      listenAddress: endpoint,
      config: gossipConfigOf(endpoint),
      channels: [],
      channelOrgs: [],
      service: {
        options: {
          useLeaderElection: false,
          orgLeader: leader,
          // Not the orderer's TLS CA: only the channel configuration names it.
          deliverTls: { rootCAs: m.tls.ca, cert: m.tls.cert, key: m.tls.key },
          deliver: { initialBackoffMs: 100, connTimeoutMs: 2_000, reconnectBackoffThresholdMs: 60_000 },
          ledgerRootDir: join(root, org.mspId, "ledgers"),
        },
        channels: [],
      },
    },
  );
  return { node, transport };
}

test("TLS trust follows the channel configuration: other orgs' peers and the orderer are trusted from the join block, an added org at once, a removed one for new connections only", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-tls-trust-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const orgs = await generateTestOrgs(root, 3, 1);
  const [org1, org2, org3] = orgs.peerOrgs as [OrgSummary, OrgSummary, OrgSummary];
  const m1 = await loadPeerMaterial(org1.nodes[0]!.dir);
  const m2 = await loadPeerMaterial(org2.nodes[0]!.dir);
  const m3 = await loadPeerMaterial(org3.nodes[0]!.dir);
  const mo = await loadPeerMaterial(orgs.ordererOrg.nodes[0]!.dir);
  for (const [a, b] of [
    [m1, m2],
    [m1, m3],
    [m1, mo],
  ] as const) {
    assert.notEqual(a.tls.ca, b.tls.ca, "every org has its own TLS CA");
  }

  const [p1, p2, po] = [await freePort(), await freePort(), await freePort()];
  const [ep1, ep2, epo] = [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`, `127.0.0.1:${po}`];
  const twoOrgs = [
    { org: org1, anchorPeers: [ep1] },
    { org: org2, anchorPeers: [ep2] },
  ];
  const genesis = await genesisBlockOf(CHANNEL, twoOrgs, orgs.ordererOrg, [epo]);
  const withOrg3 = await genesisBlockOf(CHANNEL, [...twoOrgs, { org: org3 }], orgs.ordererOrg, [epo]);
  const block1 = configUpdateBlock(1n, genesis, withOrg3, 1n, mo.signingIdentity);
  const block2 = configUpdateBlock(2n, block1, genesis, 2n, mo.signingIdentity);

  // The ordering service over TLS with the orderer's own certificate (server-side TLS, as in Fabric's test network).
  const orderer = new StaticDeliverServer([genesis, block1, block2]);
  await orderer.listen(epo, grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(mo.tls.key), cert_chain: Buffer.from(mo.tls.cert) }], false));
  t.after(() => orderer.stop());

  const a = await peerOf(root, org1, m1, ep1, true);
  const b = await peerOf(root, org2, m2, ep2, false);
  t.after(() => a.node.stop());
  t.after(() => b.node.stop());
  await a.node.start();
  await b.node.start();

  // Other orgs' peers, trusting Org1's TLS CA and their own: only Org1's peer can tell them from strangers.
  const org2Client = transportOf(m2, m1.tls.ca + m2.tls.ca);
  const org3Client = transportOf(m3, m1.tls.ca + m3.tls.ca);
  t.after(() => org2Client.close());
  t.after(() => org3Client.close());

  // (1) Before any channel, the peer trusts Org1's TLS CA only: Org2's peer is refused, and Org2's server is not trusted.
  assert.equal(await pings(org2Client, ep1), false, "Org2's TLS client is refused before the channel is joined");
  assert.equal(await pings(a.transport, ep2), false, "Org2's TLS server is not trusted before the channel is joined");

  await a.node.joinChannelBlock(genesis);
  await b.node.joinChannelBlock(genesis);
  assert.equal(await pings(org2Client, ep1), true, "Org2's TLS client is accepted once a channel holding its TLS CA is joined");
  assert.equal(await pings(a.transport, ep2), true, "Org2's TLS server is trusted once a channel holding its TLS CA is joined");
  assert.equal(await pings(org3Client, ep1), false, "Org3 is in no channel yet");
  // Gossip across the orgs over those connections: each peer sees the other in the channel.
  await eventually(
    "Org1's and Org2's peers see each other in the channel",
    () =>
      a.node.node.peersOfChannel(CHANNEL).some((p) => pkiHex(p.pkiId) === b.node.pkiId) &&
      b.node.node.peersOfChannel(CHANNEL).some((p) => pkiHex(p.pkiId) === a.node.pkiId),
    20_000,
    POLL_MS,
  );

  // (2) Deliver over TLS from the orderer whose TLS CA only the channel configuration holds: block 1 comes, and
  // (3) it adds Org3, whose TLS client is accepted at once, without a restart.
  orderer.release(2);
  await eventually("block 1 delivered over TLS and committed", () => a.node.service!.ledgerHeight(CHANNEL) === 2n, 20_000, POLL_MS);
  assert.ok(orderer.seeks.length > 0);
  assert.deepEqual(
    a.node.channelsView().find((c) => c.channel === CHANNEL)?.orgs,
    ["Org1MSP", "Org2MSP", "Org3MSP"],
  );
  assert.equal(await pings(org3Client, ep1), true, "Org3's TLS client is accepted after the config update that adds Org3");
  const held = heldClient(ep1, m3, m1.tls.ca);
  t.after(() => held.close());
  assert.equal(await held.ping(), true);

  // A config update without Org3: new TLS handshakes from Org3 fail, the connection already open goes on.
  orderer.release(3);
  await eventually("block 2 delivered and committed", () => a.node.service!.ledgerHeight(CHANNEL) === 3n, 20_000, POLL_MS);
  assert.equal(await pings(org3Client, ep1), false, "Org3's TLS client is refused once its TLS CA left the configuration");
  assert.equal(await held.ping(), true, "a connection open before the change stays open");
  assert.equal(await pings(org2Client, ep1), true, "Org2 is still trusted");
});
