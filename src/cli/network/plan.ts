import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import type { CryptoMaterialSummary, NodeSummary, OrgSummary } from "../../crypto/index.js";
import { NetworkError } from "./errors.js";

/** The host every process of a local network listens on. */
export const LOCAL_HOST = "127.0.0.1";

/** What `planNetwork` lays out. */
export interface NetworkPlanOptions {
  /** Crypto material made with `orderer: true`. */
  summary: CryptoMaterialSummary;
  /** The network folder: channel definition, orderer store and peer ledgers go below it. */
  dir: string;
  channel: string;
  tls: boolean;
  ordererPort: number;
  /** One port per peer, in the order of the summary's peer orgs and their nodes. */
  peerPorts: readonly number[];
  /** Orderer flags; the orderer's defaults when absent. */
  batchSize?: number;
  /** A Fabric duration such as "2s" or "250ms". */
  batchTimeout?: string;
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

/** A whole local network, before anything runs. */
export interface NetworkPlan {
  channel: string;
  tls: boolean;
  channelDefFile: string;
  /** The channel definition (src/service/channel-definition.ts format), ready for YAML. */
  channelDef: ChannelDefinitionDocument;
  orderer: OrdererPlan;
  peers: PeerPlan[];
}

/** The YAML document of a channel definition, as `loadChannelDefinition` reads it. */
export interface ChannelDefinitionDocument {
  name: string;
  orgs: { mspId: string; mspDir: string; anchorPeers: string[] }[];
  orderer: { mspId: string; mspDir: string; endpoints: string[] };
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
 * Lays out a local network: the channel definition (every peer org with its MSP folder and its
 * peer0 as anchor peer; the orderer org with the orderer endpoint), the orderer's `orderer start`
 * arguments and one `peer start` argument list per peer. Pure: it touches no file.
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

  const channelDefFile = join(dir, `channel-${channel}.yaml`);
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
      args.push("--msp", node.mspDir, "--msp-id", org.mspId, "--orgs-dir", summary.root);
      if (tls) args.push(...tlsFlags(node, allCas));
      args.push("--channel-def", channelDefFile, "--ledger-dir", ledgerDir, "--admin", `${LOCAL_HOST}:0`, "--report-commits");
      peerPlans.push({ name: node.name, org: org.mspId, endpoint, ledgerDir, anchor: isAnchor, node, args });
    }
    anchorsOf.set(org.mspId, anchor === undefined ? [] : [anchor]);
  }

  const ordererDir = join(dir, "orderer");
  const ordererArgs = ["orderer", "start", "--listen", ordererEndpoint, "--msp", ordererNode.mspDir, "--msp-id", ordererOrg.mspId];
  ordererArgs.push("--channel-def", channelDefFile, "--dir", ordererDir, "--report-blocks");
  if (opts.batchSize !== undefined) ordererArgs.push("--batch-size", String(opts.batchSize));
  if (opts.batchTimeout !== undefined) ordererArgs.push("--batch-timeout", opts.batchTimeout);
  if (opts.maxBlockBytes !== undefined) ordererArgs.push("--max-block-bytes", String(opts.maxBlockBytes));
  if (tls) ordererArgs.push(...tlsFlags(ordererNode, peerOrgCas));

  const channelDef: ChannelDefinitionDocument = {
    name: channel,
    orgs: peerOrgs.map((o) => ({ mspId: o.mspId, mspDir: o.mspDir, anchorPeers: anchorsOf.get(o.mspId) ?? [] })),
    orderer: { mspId: ordererOrg.mspId, mspDir: ordererOrg.mspDir, endpoints: [ordererEndpoint] },
  };
  return {
    channel,
    tls,
    channelDefFile,
    channelDef,
    orderer: { name: ordererNode.name, org: ordererOrg.mspId, endpoint: ordererEndpoint, dir: ordererDir, node: ordererNode, args: ordererArgs },
    peers: peerPlans,
  };
}

/** The channel definition as YAML text. */
export function channelDefinitionYaml(plan: NetworkPlan): string {
  return `# channel ${plan.channel} of a fabric-gossip local network (network up)\n${toYaml(plan.channelDef)}`;
}
