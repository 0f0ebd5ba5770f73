import { blockDataHash, blockHeaderHash } from "../crypto/index.js";
import { blockSignatures, lastConfigIndices } from "./block-metadata.js";
import { channelConfigFromBlock } from "./channel-config.js";
import { blockKind, decodeBlock, firstEnvelope, toSafeNumber } from "./configtx.js";
import { ChannelConfigError } from "./errors.js";

/** An application org as `channel inspect` shows it. */
export interface InspectedOrg {
  mspId: string;
  /** The org group key (configtx.yaml's Name). */
  name: string;
  anchorPeers: string[];
  /** Counts of certificates (the PEM are in the config; `channel inspect` summarises). */
  rootCerts: number;
  intermediateCerts: number;
  tlsRootCerts: number;
  admins: number;
  nodeOUs: boolean;
  /** Serials revoked by the org's CRLs, upper-case hex. */
  revokedSerials: string[];
}

/** What `fabric-gossip channel inspect --json` prints for one block. Config fields only for config blocks. */
export interface BlockInspection {
  number: number;
  channel: string;
  kind: "config" | "data";
  /** Header hash (Fabric's BlockHeaderHash), lower-case hex. */
  hash: string;
  /** "" for a genesis block. */
  previousHash: string;
  dataHash: string;
  /** Whether data_hash equals the hash of the block's data. */
  dataHashValid: boolean;
  txCount: number;
  /** Fabric's GetLastConfigIndexFromBlock. */
  lastConfig: number;
  /** MSP IDs of the signers of the SIGNATURES metadata, in order (not verified here). */
  signers: string[];
  sequence?: number;
  orgs?: InspectedOrg[];
  orderer?: { orgs: string[]; endpoints: string[]; globalAddresses: string[]; consensusType: string };
  capabilities?: { channel: string[]; orderer: string[]; application: string[] };
  policies?: Record<string, { type: string; rule?: string; modPolicy: string }>;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/**
 * What a block says, for `fabric-gossip channel inspect`.
 * @throws ChannelConfigError naming what is malformed
 */
export function inspectBlock(bytes: Uint8Array): BlockInspection {
  const block = decodeBlock(bytes);
  const header = block.header!;
  const number = toSafeNumber(header.number, "block number");
  const kind = blockKind(block);
  const indices = lastConfigIndices(block);
  const lastConfigRaw = indices.signatures ?? indices.lastConfig;
  if (lastConfigRaw === undefined) throw new ChannelConfigError("MALFORMED_METADATA", `block [${number}] has neither a SIGNATURES nor a LAST_CONFIG metadata entry`);
  const out: BlockInspection = {
    number,
    channel: firstEnvelope(block).channelHeader.channelId,
    kind,
    hash: hex(blockHeaderHash(header)),
    previousHash: hex(header.previousHash),
    dataHash: hex(header.dataHash),
    dataHashValid: Buffer.from(blockDataHash(block.data)).equals(Buffer.from(header.dataHash)),
    txCount: block.data!.data.length,
    lastConfig: toSafeNumber(lastConfigRaw, "last config index"),
    signers: blockSignatures(block).map((s) => s.mspId),
  };
  if (kind !== "config") return out;
  const cfg = channelConfigFromBlock(block);
  out.sequence = toSafeNumber(cfg.sequence, "config sequence");
  out.orgs = cfg.applicationOrgs.map((o) => ({
    mspId: o.mspId,
    name: o.name,
    anchorPeers: o.anchorPeers.map((a) => `${a.host}:${a.port}`),
    rootCerts: o.msp.rootCerts.length,
    intermediateCerts: o.msp.intermediateCerts.length,
    tlsRootCerts: o.msp.tlsRootCerts.length,
    admins: o.msp.admins.length,
    nodeOUs: o.msp.nodeOUs?.enable === true,
    revokedSerials: [...o.msp.revokedSerials],
  }));
  out.orderer = {
    orgs: cfg.ordererOrgs.map((o) => o.mspId),
    endpoints: [...cfg.ordererEndpoints],
    globalAddresses: [...cfg.globalOrdererAddresses],
    consensusType: cfg.consensusType,
  };
  out.capabilities = { channel: [...cfg.capabilities.channel], orderer: [...cfg.capabilities.orderer], application: [...cfg.capabilities.application] };
  out.policies = {};
  for (const [path, p] of cfg.policies) {
    out.policies[path] = {
      type: p.type,
      ...(p.implicitMeta === undefined ? {} : { rule: `${p.implicitMeta.rule} ${p.implicitMeta.subPolicy}` }),
      modPolicy: p.modPolicy,
    };
  }
  return out;
}
