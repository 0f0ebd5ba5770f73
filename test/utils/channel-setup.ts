import assert from "node:assert/strict";
import { join } from "node:path";
import { createGenesisBlock, type GenesisOptions, genesisMspOfFolder } from "../../src/channelconfig/index.js";
import { type CryptoMaterialSummary, generateCryptoMaterial, loadPeerMaterial, type OrgSummary, orgUser, type SigningIdentity } from "../../src/crypto/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { createOrderer, type Orderer } from "../../src/orderer/index.js";
import { Block } from "../../src/protos/gen/common/common.pb.js";
import type { Clock } from "../../src/util/index.js";
import { freePort } from "./net.js";

/**
 * The setup of tests that run a channel with real identities: crypto material with an orderer
 * org, the channel's genesis block a peer joins from, and an in-process ordering service of the channel.
 */

/** Generated crypto material and its orgs. */
export interface TestOrgs {
  summary: CryptoMaterialSummary;
  ordererOrg: OrgSummary;
  /** The peer orgs in order: Org1MSP first. */
  peerOrgs: OrgSummary[];
}

/**
 * Generates `orgs` peer orgs of `peersPerOrg` peers each and an orderer org under `<root>/crypto`; `clock` is
 * the "now" of the certificates' validity (default the system clock).
 */
export async function generateTestOrgs(root: string, orgs: number, peersPerOrg: number, clock?: Clock): Promise<TestOrgs> {
  const summary = await generateCryptoMaterial({ orgs, peersPerOrg, out: join(root, "crypto"), orderer: true, ...(clock === undefined ? {} : { clock }) });
  const ordererOrg = summary.orgs.find((o) => o.kind === "orderer");
  const peerOrgs = summary.orgs.filter((o) => o.kind === "peer");
  assert.ok(ordererOrg?.nodes[0] !== undefined && peerOrgs.length === orgs);
  return { summary, ordererOrg, peerOrgs };
}

/**
 * The genesis block of channel `name`, as `channel genesis` makes it from the orgs' MSP folders: `members` (each
 * with its anchor peers, none by default) and the orderer org with `ordererEndpoints`. `more` overrides batch
 * settings. Returns the block's bytes (what `--channel-block` files and `POST /v1/channels/join` carry).
 */
export async function genesisBlockOf(
  name: string,
  members: readonly { org: OrgSummary; anchorPeers?: string[] }[],
  ordererOrg: OrgSummary,
  ordererEndpoints: string[],
  more: Partial<Omit<GenesisOptions, "channel" | "applicationOrgs" | "ordererOrgs">> = {},
): Promise<Uint8Array> {
  const applicationOrgs = [];
  for (const m of members) applicationOrgs.push({ ...(await genesisMspOfFolder(m.org.mspDir, m.org.mspId)), anchorPeers: m.anchorPeers ?? [] });
  const orderer = { ...(await genesisMspOfFolder(ordererOrg.mspDir, ordererOrg.mspId)), endpoints: ordererEndpoints };
  return Block.encode(createGenesisBlock({ ...more, channel: name, applicationOrgs, ordererOrgs: [orderer] })).finish();
}

/** An in-process ordering service of the tests, with the genesis block it started its channel from. */
export type TestOrderer = Orderer & {
  /** The channel's genesis block (serialized): what peers join from (`--channel-block`, `POST /v1/channels/join`). */
  readonly genesis: Uint8Array;
  /** "127.0.0.1:port": where it listens, and the orderer endpoint the genesis block names. */
  readonly endpoint: string;
};

/**
 * An ordering service of channel `channel` (not started) on 127.0.0.1, plaintext, run by the orderer org's
 * first node, started from the channel's genesis block: `opts.genesis`, or one made by `genesisBlockOf` with
 * every peer org as a member (`anchorPeers` by MSP ID, none by default) and this orderer's endpoint. Without
 * `listen` it takes a free port (the genesis block must name the real endpoint: peers Deliver from it). Its
 * chains are under `<root>/orderer/<channel>`. With `tls` it serves mutual TLS (its node's pair, every peer org's TLS CA
 * trusted). Broadcast needs /Channel/Writers: a client of a member org
 * (`testClientOf`), not a peer.
 */
export async function createTestOrderer(
  root: string,
  orgs: TestOrgs,
  clock: Clock,
  opts: { channel: string; batchSize: number; batchTimeoutMs: number; listen?: string; genesis?: Uint8Array; anchorPeers?: Record<string, string[]>; tls?: boolean },
): Promise<TestOrderer> {
  const ordererMaterial = await loadPeerMaterial(orgs.ordererOrg.nodes[0]!.dir);
  const endpoint = opts.listen ?? `127.0.0.1:${await freePort()}`;
  const genesis =
    opts.genesis ??
    (await genesisBlockOf(
      opts.channel,
      orgs.peerOrgs.map((org) => ({ org, anchorPeers: opts.anchorPeers?.[org.mspId] ?? [] })),
      orgs.ordererOrg,
      [endpoint],
      { maxMessageCount: opts.batchSize },
    ));
  const orderer = createOrderer(
    {
      listen: endpoint,
      dir: join(root, "orderer"),
      channels: [genesis],
      batchSize: opts.batchSize,
      batchTimeoutMs: opts.batchTimeoutMs,
      // Mutual TLS with the orderer node's own pair, trusting every peer org's TLS CA.
      ...(opts.tls === true
        ? { tls: { cert: ordererMaterial.tls.cert, key: ordererMaterial.tls.key, rootCAs: (await Promise.all(orgs.peerOrgs.map((o) => loadPeerMaterial(o.nodes[0]!.dir)))).map((m) => m.tls.ca).join("") } }
        : {}),
    },
    { signer: ordererMaterial.signingIdentity, clock, logger: silentLogger },
  );
  return Object.assign(orderer, { genesis, endpoint });
}

/**
 * A client identity of `org` (User1@<domain>, OU=client, issued by the org's CA and written by crypto generation in
 * cryptogen's `users/` layout): what may Broadcast under configtxgen's default Writers policies, as an application would.
 */
export async function testClientOf(org: OrgSummary): Promise<SigningIdentity> {
  const user = orgUser(org);
  return (await loadPeerMaterial(user.dir, { mspId: org.mspId })).signingIdentity;
}
