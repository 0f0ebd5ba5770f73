import { join } from "node:path";
import { createGenesisBlock, GENESIS_DEFAULTS, genesisMspOfFolder } from "../../channelconfig/index.js";
import type { CryptoMaterialSummary, NodeSummary, OrgSummary } from "../../crypto/index.js";
import { Block } from "../../protos/gen/common/common.pb.js";
import { NetworkError } from "./errors.js";

/** The host every process of a local network listens on. */
export const LOCAL_HOST = "127.0.0.1";

/** What `planNetwork` lays out. */
export interface NetworkPlanOptions {
  /** Crypto material made with `orderer: true`. */
  summary: CryptoMaterialSummary;
  /** The network folder: the channel's genesis block, orderer store and peer ledgers go below it. */
  dir: string;
  channel: string;
  tls: boolean;
  ordererPort: number;
  /** One port per peer, in the order of the summary's peer orgs and their nodes. */
  peerPorts: readonly number[];
  /** The channel's BatchSize.MaxMessageCount; configtxgen's sample default (10) when absent. */
  batchSize?: number;
  /** The channel's BatchTimeout, a Fabric duration such as "2s" or "250ms"; default "2s". */
  batchTimeout?: string;
  /** The channel's BatchSize.AbsoluteMaxBytes (PreferredMaxBytes is lowered to it); configtxgen's defaults when absent. */
  maxBlockBytes?: number;
}

/** One peer process: who it is and the `fabric-gossip` arguments that start it. */
export interface PeerPlan {
  /** Host name, e.g. peer0.org1.example.com. */
  name: string;
  /** MSP ID of its org, e.g. Org1MSP. */
  org: string;
  /** "127.0.0.1:port": listen, internal and external endpoint. */
  endpoint: string;
  ledgerDir: string;
  /** Whether it is its org's peer0: the org's anchor peer and the others' bootstrap peer. */
  anchor: boolean;
  node: NodeSummary;
  args: string[];
}

/** The orderer process. */
export interface OrdererPlan {
  name: string;
  org: string;
  endpoint: string;
  dir: string;
  node: NodeSummary;
  args: string[];
}

/**
 * What the channel's genesis block is made of, as a configtx.yaml profile would say it for the generated orgs:
 * every peer org (MSP folder, its peer0 as anchor peer) and the orderer org with the orderer's endpoint.
 */
export interface GenesisPlan {
  channel: string;
  applicationOrgs: { mspId: string; mspDir: string; anchorPeers: string[] }[];
  ordererOrgs: { mspId: string; mspDir: string; endpoints: string[] }[];
  maxMessageCount?: number;
  batchTimeout?: string;
  absoluteMaxBytes?: number;
}

/** A whole local network, before anything runs. */
export interface NetworkPlan {
  channel: string;
  tls: boolean;
  /** `<dir>/channel-<name>.block`: the genesis block the orderer and every peer start from. */
  channelBlockFile: string;
  genesis: GenesisPlan;
  orderer: OrdererPlan;
  peers: PeerPlan[];
}

/** An org's TLS CA certificate (the copy in its first node's tls/ folder). */
export function orgTlsCaFile(org: OrgSummary): string {
  const node = org.nodes[0];
  return node === undefined ? join(org.tlsCaDir, `tlsca.${org.name}-cert.pem`) : join(node.tlsDir, "ca.crt");
}

/** Every org's TLS CA certificate file, in the summary's order. */
export function tlsCaFiles(summary: CryptoMaterialSummary): string[] {
  return summary.orgs.filter((o) => o.nodes.length > 0).map(orgTlsCaFile);
}

function tlsFlags(node: NodeSummary, cas: readonly string[]): string[] {
  return ["--tls-cert", join(node.tlsDir, "server.crt"), "--tls-key", join(node.tlsDir, "server.key"), "--tls-ca", ...cas];
}

/**
 * Lays out a local network: the channel's genesis block (every peer org with its MSP folder and its
 * peer0 as anchor peer; the orderer org with the orderer endpoint; the batch settings), the orderer's
 * `orderer start --channel-block` arguments and one `peer start --channel-block` argument list per peer.
 * Pure: it touches no file (`genesisBlockOfPlan` makes the block).
 * @throws NetworkError INVALID_OPTIONS when the summary has no orderer org or the ports do not fit.
 */
export function planNetwork(opts: NetworkPlanOptions): NetworkPlan {
  const { summary, dir, channel, tls } = opts;
  const peerOrgs = summary.orgs.filter((o) => o.kind === "peer");
  const ordererOrg = summary.orgs.find((o) => o.kind === "orderer");
  const ordererNode = ordererOrg?.nodes[0];
  if (ordererOrg === undefined || ordererNode === undefined) {
    throw new NetworkError("INVALID_OPTIONS", "the crypto material has no orderer org: generate it with orderer: true");
  }
  const peerCount = peerOrgs.reduce((n, o) => n + o.nodes.length, 0);
  if (peerCount === 0) throw new NetworkError("INVALID_OPTIONS", "the crypto material has no peers");
  if (opts.peerPorts.length !== peerCount) {
    throw new NetworkError("INVALID_OPTIONS", `peerPorts: ${opts.peerPorts.length} ports for ${peerCount} peers`);
  }

  const channelBlockFile = join(dir, `channel-${channel}.block`);
  const ordererEndpoint = `${LOCAL_HOST}:${opts.ordererPort}`;
  const peerPlans: PeerPlan[] = [];
  const anchorsOf = new Map<string, string[]>();
  // Peers dial every org's TLS CA (the orderer's too, for Deliver); the orderer accepts the peer orgs'.
  const allCas = summary.orgs.map(orgTlsCaFile);
  const peerOrgCas = peerOrgs.map(orgTlsCaFile);
  let i = 0;
  for (const org of peerOrgs) {
    let anchor: string | undefined;
    for (const node of org.nodes) {
      const endpoint = `${LOCAL_HOST}:${opts.peerPorts[i++]!}`;
      const isAnchor = anchor === undefined;
      anchor ??= endpoint;
      const ledgerDir = join(dir, "peers", node.name);
      const args = ["peer", "start", "--listen", endpoint, "--external", endpoint];
      if (!isAnchor) args.push("--bootstrap", anchor);
      args.push("--msp", node.mspDir, "--msp-id", org.mspId);
      if (tls) args.push(...tlsFlags(node, allCas));
      args.push("--channel-block", channelBlockFile, "--ledger-dir", ledgerDir, "--admin", `${LOCAL_HOST}:0`, "--report-commits");
      peerPlans.push({ name: node.name, org: org.mspId, endpoint, ledgerDir, anchor: isAnchor, node, args });
    }
    anchorsOf.set(org.mspId, anchor === undefined ? [] : [anchor]);
  }

  const ordererDir = join(dir, "orderer");
  const ordererArgs = ["orderer", "start", "--listen", ordererEndpoint, "--msp", ordererNode.mspDir, "--msp-id", ordererOrg.mspId];
  // The batch settings are the channel's (in its genesis block), not orderer flags.
  ordererArgs.push("--channel-block", channelBlockFile, "--dir", ordererDir, "--report-blocks");
  if (tls) ordererArgs.push(...tlsFlags(ordererNode, peerOrgCas));

  const genesis: GenesisPlan = {
    channel,
    applicationOrgs: peerOrgs.map((o) => ({ mspId: o.mspId, mspDir: o.mspDir, anchorPeers: anchorsOf.get(o.mspId) ?? [] })),
    ordererOrgs: [{ mspId: ordererOrg.mspId, mspDir: ordererOrg.mspDir, endpoints: [ordererEndpoint] }],
    ...(opts.batchSize !== undefined ? { maxMessageCount: opts.batchSize } : {}),
    ...(opts.batchTimeout !== undefined ? { batchTimeout: opts.batchTimeout } : {}),
    ...(opts.maxBlockBytes !== undefined ? { absoluteMaxBytes: opts.maxBlockBytes } : {}),
  };
  return {
    channel,
    tls,
    channelBlockFile,
    genesis,
    orderer: { name: ordererNode.name, org: ordererOrg.mspId, endpoint: ordererEndpoint, dir: ordererDir, node: ordererNode, args: ordererArgs },
    peers: peerPlans,
  };
}

/**
 * The channel's genesis block (serialized) as configtxgen would make it for the plan's orgs (channelconfig's
 * `createGenesisBlock` over each org's MSP folder). Reads the MSP folders.
 * @throws ChannelConfigError naming the folder or setting that cannot make a channel
 */
export async function genesisBlockOfPlan(g: GenesisPlan): Promise<Uint8Array> {
  const applicationOrgs = [];
  for (const o of g.applicationOrgs) applicationOrgs.push({ ...(await genesisMspOfFolder(o.mspDir, o.mspId)), anchorPeers: o.anchorPeers });
  const ordererOrgs = [];
  for (const o of g.ordererOrgs) ordererOrgs.push({ ...(await genesisMspOfFolder(o.mspDir, o.mspId)), endpoints: o.endpoints });
  const absolute = g.absoluteMaxBytes;
  const block = createGenesisBlock({
    channel: g.channel,
    applicationOrgs,
    ordererOrgs,
    ...(g.maxMessageCount !== undefined ? { maxMessageCount: g.maxMessageCount } : {}),
    ...(g.batchTimeout !== undefined ? { batchTimeout: g.batchTimeout } : {}),
    // PreferredMaxBytes may not exceed AbsoluteMaxBytes (Fabric refuses such a config).
    ...(absolute !== undefined ? { absoluteMaxBytes: absolute, preferredMaxBytes: Math.min(absolute, GENESIS_DEFAULTS.preferredMaxBytes) } : {}),
  });
  return Block.encode(block).finish();
}
