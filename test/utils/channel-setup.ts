import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import {
  type CryptoMaterialSummary,
  generateCryptoMaterial,
  loadPeerMaterial,
  loadVerifierOrgs,
  MspVerifier,
  type OrgSummary,
} from "../../src/crypto/index.js";
import { createGenesisBlock, type GenesisOptions, genesisMspOfFolder } from "../../src/channelconfig/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { Block } from "../../src/protos/gen/common/common.pb.js";
import { createOrderer, type Orderer } from "../../src/orderer/index.js";
import type { ChannelDefinition } from "../../src/service/index.js";
import type { Clock } from "../../src/util/index.js";

/**
 * The setup of tests that run a channel with real identities: crypto material with an orderer
 * org, the channel definition a peer joins by (as an object or as the YAML file of
 * `--channel-def`), and an in-process ordering service of the channel.
 */

/** Generated crypto material and its orgs. */
export interface TestOrgs {
  summary: CryptoMaterialSummary;
  ordererOrg: OrgSummary;
  /** The peer orgs in order: Org1MSP first. */
  peerOrgs: OrgSummary[];
}

/** Generates `orgs` peer orgs of `peersPerOrg` peers each and an orderer org under `<root>/crypto`. */
export async function generateTestOrgs(root: string, orgs: number, peersPerOrg: number): Promise<TestOrgs> {
  const summary = await generateCryptoMaterial({ orgs, peersPerOrg, out: join(root, "crypto"), orderer: true });
  const ordererOrg = summary.orgs.find((o) => o.kind === "orderer");
  const peerOrgs = summary.orgs.filter((o) => o.kind === "peer");
  assert.ok(ordererOrg?.nodes[0] !== undefined && peerOrgs.length === orgs);
  return { summary, ordererOrg, peerOrgs };
}

/**
 * The definition of channel `name`: `members` (each org with its anchor peers, none by default)
 * and the orderer org at `ordererEndpoints`.
 */
export function channelDefinitionOf(
  name: string,
  members: readonly { org: OrgSummary; anchorPeers?: string[] }[],
  ordererOrg: OrgSummary,
  ordererEndpoints: string[],
): ChannelDefinition {
  return {
    name,
    orgs: members.map((m) => ({ mspId: m.org.mspId, mspDir: m.org.mspDir, anchorPeers: m.anchorPeers ?? [] })),
    orderer: { mspId: ordererOrg.mspId, mspDir: ordererOrg.mspDir, endpoints: ordererEndpoints },
  };
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

/** Writes `def` as the YAML file the CLI's `--channel-def` and `loadChannelDefinition` read. */
export async function writeChannelDefinition(file: string, def: ChannelDefinition): Promise<void> {
  await writeFile(file, toYaml(def));
}

/**
 * An ordering service of channel `channel` (not started) on 127.0.0.1 (any port), plaintext, run by
 * the orderer org's first node, with the peer orgs as the channel's members and its ledger under
 * `<root>/orderer/<channel>`.
 */
export async function createTestOrderer(
  root: string,
  orgs: TestOrgs,
  clock: Clock,
  opts: { channel: string; batchSize: number; batchTimeoutMs: number },
): Promise<Orderer> {
  const ordererMaterial = await loadPeerMaterial(orgs.ordererOrg.nodes[0]!.dir);
  return createOrderer(
    {
      listen: "127.0.0.1:0",
      channels: [{ name: opts.channel, dir: join(root, "orderer", opts.channel), memberOrgs: orgs.peerOrgs.map((o) => o.mspId) }],
      batchSize: opts.batchSize,
      batchTimeoutMs: opts.batchTimeoutMs,
    },
    { signer: ordererMaterial.signingIdentity, verifier: new MspVerifier(await loadVerifierOrgs(orgs.summary.root), { clock }), clock, logger: silentLogger },
  );
}
