import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChannelBundle, channelConfigFromBlock, createChannelBundle, decodeBlock } from "../../../src/channelconfig/index.js";
import { blockDataHash, loadPeerMaterial, type SigningIdentity } from "../../../src/crypto/index.js";
import { parseSignaturePolicy } from "../../../src/privdata/index.js";
import type { Block } from "../../../src/protos/gen/common/common.pb.js";
import type { CollectionConfigPackage } from "../../../src/protos/gen/peer/collection.pb.js";
import { SystemClock } from "../../../src/util/index.js";
import { generateTestOrgs, genesisBlockOf, type TestOrgs, testClientOf } from "../../utils/channel-setup.js";

/**
 * A channel of two generated orgs (one peer each) and an orderer org, with the signing identities that build
 * transactions on it: each org's peer0 (an endorser) and User1 (a client), and an outsider org's client that
 * the channel does not know.
 */
export interface TxChannel {
  readonly channel: string;
  readonly orgs: TestOrgs;
  readonly genesis: Block;
  readonly bundle: ChannelBundle;
  readonly peers: readonly SigningIdentity[];
  readonly clients: readonly SigningIdentity[];
  /** A client of an org that is not a member of the channel. */
  readonly outsider: SigningIdentity;
  /** The orderer's identity: a channel MSP, but neither a client nor a peer of an application org. */
  readonly orderer: SigningIdentity;
  cleanup(): Promise<void>;
}

export async function createTxChannel(channel = "txchannel"): Promise<TxChannel> {
  const root = await mkdtemp(join(tmpdir(), "fg-tx-"));
  const orgs = await generateTestOrgs(root, 3, 1);
  const members = orgs.peerOrgs.slice(0, 2);
  const genesisBytes = await genesisBlockOf(
    channel,
    members.map((org) => ({ org })),
    orgs.ordererOrg,
    ["127.0.0.1:7050"],
  );
  const genesis = decodeBlock(genesisBytes);
  const bundle = createChannelBundle(channelConfigFromBlock(genesis), { clock: new SystemClock() });
  const peers = await Promise.all(members.map(async (o) => (await loadPeerMaterial(o.nodes[0]!.dir)).signingIdentity));
  const clients = await Promise.all(members.map((o) => testClientOf(o)));
  const outsider = await testClientOf(orgs.peerOrgs[2]!);
  const orderer = (await loadPeerMaterial(orgs.ordererOrg.nodes[0]!.dir)).signingIdentity;
  return { channel, orgs, genesis, bundle, peers, clients, outsider, orderer, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** collOrg1 (Org1MSP only, blockToLive 3) and collBoth (both orgs), as the vectors' chaincode defines them. */
export function twoCollections(): CollectionConfigPackage {
  const coll = (name: string, policy: string, blockToLive: bigint, maximumPeerCount: number): CollectionConfigPackage["config"][number] => ({
    payload: {
      $case: "staticCollectionConfig",
      value: {
        name,
        memberOrgsPolicy: { payload: { $case: "signaturePolicy", value: parseSignaturePolicy(policy) } },
        requiredPeerCount: 1,
        maximumPeerCount,
        blockToLive,
        memberOnlyRead: true,
        memberOnlyWrite: false,
        endorsementPolicy: undefined,
      },
    },
  });
  return { config: [coll("collOrg1", "OR('Org1MSP.member')", 3n, 2), coll("collBoth", "OR('Org1MSP.member','Org2MSP.member')", 0n, 3)] };
}

/** A block of the given envelopes with a correct data hash and empty metadata (as an orderer cuts it, unsigned). */
export function blockOf(number: bigint, envelopes: readonly Uint8Array[]): Block {
  const data = { data: [...envelopes] };
  return {
    header: { number, previousHash: new Uint8Array(32), dataHash: blockDataHash(data) },
    data,
    metadata: { metadata: [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)] },
  };
}
