import "reflect-metadata";
import { X509Crl } from "@peculiar/x509";
import { decodeAllPem, encodePem } from "../crypto/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { Capabilities, HashingAlgorithm, OrdererAddresses } from "../protos/gen/common/configuration.pb.js";
import type { Config, ConfigGroup } from "../protos/gen/common/configtx.pb.js";
import { ImplicitMetaPolicy, ImplicitMetaPolicy_Rule, Policy_PolicyType } from "../protos/gen/common/policies.pb.js";
import { FabricMSPConfig, type FabricNodeOUs, MSPConfig } from "../protos/gen/msp/msp_config.pb.js";
import { BatchSize, BatchTimeout, ConsensusType } from "../protos/gen/orderer/configuration.pb.js";
import { AnchorPeers } from "../protos/gen/peer/configuration.pb.js";
import { APPLICATION_GROUP, ORDERER_GROUP, ROOT_GROUP, configOfBlock, groupAt, sortedKeys } from "./configtx.js";
import { ChannelConfigError } from "./errors.js";
import { errorMessage } from "../util/index.js";

/** Value keys of the channel configuration (Fabric's channelconfig constants). */
export const CONFIG_VALUE = {
  msp: "MSP",
  anchorPeers: "AnchorPeers",
  endpoints: "Endpoints",
  ordererAddresses: "OrdererAddresses",
  capabilities: "Capabilities",
  hashingAlgorithm: "HashingAlgorithm",
  consensusType: "ConsensusType",
  batchSize: "BatchSize",
  batchTimeout: "BatchTimeout",
} as const;

/** msp.MSPConfig.type (Fabric's `msp.ProviderType`): 0 is the X.509 MSP, 1 Idemix. */
export type MspType = "FABRIC" | "IDEMIX";

/** An org's MSP as the channel configuration defines it. Certificates and CRLs are PEM strings, one per entry. */
export interface ChannelMsp {
  readonly mspId: string;
  readonly type: MspType;
  /** The decoded FabricMSPConfig as it is in the config; undefined for an Idemix MSP. */
  readonly fabric: FabricMSPConfig | undefined;
  readonly rootCerts: readonly string[];
  readonly intermediateCerts: readonly string[];
  readonly tlsRootCerts: readonly string[];
  readonly tlsIntermediateCerts: readonly string[];
  readonly admins: readonly string[];
  /** revocation_list, each as PEM "X509 CRL" (the config may hold PEM or DER: Go's x509.ParseCRL takes both). */
  readonly crls: readonly string[];
  /** Serial numbers revoked by those CRLs: upper-case hex, no leading zeros, in CRL order. */
  readonly revokedSerials: readonly string[];
  readonly nodeOUs: FabricNodeOUs | undefined;
}

/** `host:port` of an anchor peer, as Fabric's gossip forms it. */
export interface AnchorPeerAddress {
  readonly host: string;
  readonly port: number;
}

/** An org group below /Channel/Application or /Channel/Orderer. */
export interface OrgConfig {
  /** The group key (configtx.yaml's Name), e.g. "OrdererOrg"; usually but not always the MSP ID. */
  readonly name: string;
  readonly mspId: string;
  readonly msp: ChannelMsp;
}

export interface ApplicationOrgConfig extends OrgConfig {
  readonly anchorPeers: readonly AnchorPeerAddress[];
}

export interface OrdererOrgConfig extends OrgConfig {
  /** The org's `Endpoints` value (Fabric v1.4.2+), `host:port` each. */
  readonly endpoints: readonly string[];
}

/** common.Policy.type by name; a value outside the enum keeps its number. */
export type PolicyTypeName = "UNKNOWN" | "SIGNATURE" | "MSP" | "IMPLICIT_META" | `TYPE_${number}`;

/** One policy of the configuration tree. */
export interface ChannelPolicy {
  /** "/Channel/Orderer/BlockValidation", "/Channel/Application/Org1MSP/Readers", ... */
  readonly path: string;
  readonly type: PolicyTypeName;
  /** common.Policy.value: a SignaturePolicyEnvelope, an ImplicitMetaPolicy, ... as encoded. */
  readonly value: Uint8Array;
  readonly modPolicy: string;
  /** For IMPLICIT_META: the rule and sub-policy, e.g. { rule: "ANY", subPolicy: "Writers" }. */
  readonly implicitMeta?: { readonly rule: "ANY" | "ALL" | "MAJORITY"; readonly subPolicy: string };
}

/** The capabilities switched on at each level. */
export interface ChannelCapabilities {
  readonly channel: readonly string[];
  readonly orderer: readonly string[];
  readonly application: readonly string[];
}

/** A channel's configuration, read from a config block (Fabric's `channelconfig.Bundle`, the parts a peer uses). */
export interface ChannelConfig {
  readonly channelId: string;
  readonly sequence: bigint;
  /** The decoded common.Config, for what the accessors do not cover. */
  readonly config: Config;
  /** Application orgs in group-key order. */
  readonly applicationOrgs: readonly ApplicationOrgConfig[];
  /** Orderer orgs in group-key order. */
  readonly ordererOrgs: readonly OrdererOrgConfig[];
  /** The older channel-wide `/Channel/OrdererAddresses` (empty in channels made by v2 configtxgen). */
  readonly globalOrdererAddresses: readonly string[];
  /**
   * The orderer endpoints a peer's Deliver client uses: every org's `Endpoints` when any org has some, else the
   * global OrdererAddresses (Fabric's peer treats the global list as a fallback).
   */
  readonly ordererEndpoints: readonly string[];
  readonly capabilities: ChannelCapabilities;
  /** Every policy of the tree by path, in tree order. */
  readonly policies: ReadonlyMap<string, ChannelPolicy>;
  readonly hashingAlgorithm: string;
  /** ConsensusType.type ("etcdraft", "BFT", ...); "" when the config has no Orderer group. */
  readonly consensusType: string;
  readonly batchSize: BatchSize | undefined;
  readonly batchTimeout: string | undefined;
  /** The application org of this MSP ID. */
  applicationOrg(mspId: string): ApplicationOrgConfig | undefined;
  /** The orderer org of this MSP ID. */
  ordererOrg(mspId: string): OrdererOrgConfig | undefined;
  /** The policy at this path ("/Channel/Application/Readers"). */
  policy(path: string): ChannelPolicy | undefined;
}

/**
 * The configuration of a config block.
 * @throws ChannelConfigError naming what is malformed
 */
export function channelConfigFromBlock(block: Block): ChannelConfig {
  const { channelId, config } = configOfBlock(block);
  return parseChannelConfig(channelId, config);
}

/**
 * Reads a common.Config into a ChannelConfig, decoding every value a peer uses.
 * @throws ChannelConfigError naming what is malformed and where
 */
export function parseChannelConfig(channelId: string, config: Config): ChannelConfig {
  const root = config.channelGroup;
  if (root === undefined) throw new ChannelConfigError("MALFORMED_CONFIG", `channel ${channelId}: the Config has no channel_group`);
  const rootPath = `/${ROOT_GROUP}`;
  const app = groupAt(root, [APPLICATION_GROUP]);
  const ord = groupAt(root, [ORDERER_GROUP]);
  const applicationOrgs: ApplicationOrgConfig[] = app === undefined ? [] : sortedKeys(app.groups).map((name) => {
    const g = app.groups[name]!;
    const path = `${rootPath}/${APPLICATION_GROUP}/${name}`;
    const msp = readMsp(g, path);
    const anchors = readValue(g, CONFIG_VALUE.anchorPeers, path, AnchorPeers.decode);
    return {
      name,
      mspId: msp.mspId,
      msp,
      anchorPeers: (anchors?.anchorPeers ?? []).map((a) => ({ host: a.host, port: a.port })),
    };
  });
  const ordererOrgs: OrdererOrgConfig[] = ord === undefined ? [] : sortedKeys(ord.groups).map((name) => {
    const g = ord.groups[name]!;
    const path = `${rootPath}/${ORDERER_GROUP}/${name}`;
    const msp = readMsp(g, path);
    return { name, mspId: msp.mspId, msp, endpoints: readValue(g, CONFIG_VALUE.endpoints, path, OrdererAddresses.decode)?.addresses ?? [] };
  });
  const globalOrdererAddresses = readValue(root, CONFIG_VALUE.ordererAddresses, rootPath, OrdererAddresses.decode)?.addresses ?? [];
  const perOrg = ordererOrgs.flatMap((o) => o.endpoints);
  const capabilities: ChannelCapabilities = {
    channel: capabilitiesOf(root, rootPath),
    orderer: ord === undefined ? [] : capabilitiesOf(ord, `${rootPath}/${ORDERER_GROUP}`),
    application: app === undefined ? [] : capabilitiesOf(app, `${rootPath}/${APPLICATION_GROUP}`),
  };
  const policies = new Map<string, ChannelPolicy>();
  collectPolicies(root, rootPath, policies);
  const ordPath = `${rootPath}/${ORDERER_GROUP}`;
  const batchTimeout = ord === undefined ? undefined : readValue(ord, CONFIG_VALUE.batchTimeout, ordPath, BatchTimeout.decode)?.timeout;
  return {
    channelId,
    sequence: config.sequence,
    config,
    applicationOrgs,
    ordererOrgs,
    globalOrdererAddresses,
    ordererEndpoints: perOrg.length > 0 ? perOrg : globalOrdererAddresses,
    capabilities,
    policies,
    hashingAlgorithm: readValue(root, CONFIG_VALUE.hashingAlgorithm, rootPath, HashingAlgorithm.decode)?.name ?? "",
    consensusType: ord === undefined ? "" : (readValue(ord, CONFIG_VALUE.consensusType, ordPath, ConsensusType.decode)?.type ?? ""),
    batchSize: ord === undefined ? undefined : readValue(ord, CONFIG_VALUE.batchSize, ordPath, BatchSize.decode),
    batchTimeout,
    applicationOrg: (mspId) => applicationOrgs.find((o) => o.mspId === mspId),
    ordererOrg: (mspId) => ordererOrgs.find((o) => o.mspId === mspId),
    policy: (path) => policies.get(path),
  };
}

/** Decodes the value `key` of a group, or undefined when the group has no such value. */
function readValue<T>(group: ConfigGroup, key: string, path: string, decode: (bytes: Uint8Array) => T): T | undefined {
  if (!Object.hasOwn(group.values, key)) return undefined;
  const v = group.values[key];
  if (v === undefined) return undefined;
  try {
    return decode(v.value);
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_VALUE", `${path}/${key}: the value does not decode (${errorMessage(err)})`, { cause: err });
  }
}

function capabilitiesOf(group: ConfigGroup, path: string): string[] {
  return sortedKeys(readValue(group, CONFIG_VALUE.capabilities, path, Capabilities.decode)?.capabilities ?? {});
}

const IMPLICIT_META_RULES = { [ImplicitMetaPolicy_Rule.ANY]: "ANY", [ImplicitMetaPolicy_Rule.ALL]: "ALL", [ImplicitMetaPolicy_Rule.MAJORITY]: "MAJORITY" } as const;

function policyTypeName(type: number): PolicyTypeName {
  switch (type) {
    case Policy_PolicyType.UNKNOWN:
      return "UNKNOWN";
    case Policy_PolicyType.SIGNATURE:
      return "SIGNATURE";
    case Policy_PolicyType.MSP:
      return "MSP";
    case Policy_PolicyType.IMPLICIT_META:
      return "IMPLICIT_META";
    default:
      return `TYPE_${type}`;
  }
}

/** Every policy of `group` and its sub-groups (group policies first, then sub-groups, each in key order). */
function collectPolicies(group: ConfigGroup, path: string, out: Map<string, ChannelPolicy>): void {
  for (const name of sortedKeys(group.policies)) {
    const p = group.policies[name]!;
    const at = `${path}/${name}`;
    if (p.policy === undefined) throw new ChannelConfigError("MALFORMED_POLICY", `${at}: ConfigPolicy without a policy`);
    const type = policyTypeName(p.policy.type);
    let implicitMeta: ChannelPolicy["implicitMeta"];
    if (p.policy.type === Policy_PolicyType.IMPLICIT_META) {
      let imp: ImplicitMetaPolicy;
      try {
        imp = ImplicitMetaPolicy.decode(p.policy.value);
      } catch (err) {
        throw new ChannelConfigError("MALFORMED_POLICY", `${at}: the IMPLICIT_META value is not an ImplicitMetaPolicy (${errorMessage(err)})`, { cause: err });
      }
      const rule = IMPLICIT_META_RULES[imp.rule as keyof typeof IMPLICIT_META_RULES];
      if (rule === undefined) throw new ChannelConfigError("MALFORMED_POLICY", `${at}: unknown ImplicitMetaPolicy rule ${imp.rule}`);
      implicitMeta = { rule, subPolicy: imp.subPolicy };
    }
    out.set(at, { path: at, type, value: p.policy.value, modPolicy: p.modPolicy, ...(implicitMeta === undefined ? {} : { implicitMeta }) });
  }
  for (const name of sortedKeys(group.groups)) collectPolicies(group.groups[name]!, `${path}/${name}`, out);
}

/** The MSP value of an org group (Fabric requires one in every org group). */
function readMsp(group: ConfigGroup, path: string): ChannelMsp {
  const at = `${path}/${CONFIG_VALUE.msp}`;
  const v = Object.hasOwn(group.values, CONFIG_VALUE.msp) ? group.values[CONFIG_VALUE.msp] : undefined;
  if (v === undefined) throw new ChannelConfigError("MALFORMED_MSP", `${path}: the org group has no MSP value`);
  let mspConfig: MSPConfig;
  try {
    mspConfig = MSPConfig.decode(v.value);
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_MSP", `${at}: not an msp.MSPConfig (${errorMessage(err)})`, { cause: err });
  }
  if (mspConfig.type === 1) {
    // Idemix: no X.509 material. Its config's name is field 1 too, which is all a peer's gossip needs.
    let mspId = "";
    try {
      mspId = FabricMSPConfig.decode(mspConfig.config).name;
    } catch {
      // an Idemix config need not decode as FabricMSPConfig beyond its name; leave the ID empty
    }
    return { mspId, type: "IDEMIX", fabric: undefined, rootCerts: [], intermediateCerts: [], tlsRootCerts: [], tlsIntermediateCerts: [], admins: [], crls: [], revokedSerials: [], nodeOUs: undefined };
  }
  if (mspConfig.type !== 0) throw new ChannelConfigError("MALFORMED_MSP", `${at}: unknown MSP type ${mspConfig.type} (0 is FABRIC, 1 IDEMIX)`);
  let fabric: FabricMSPConfig;
  try {
    fabric = FabricMSPConfig.decode(mspConfig.config);
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_MSP", `${at}: the config is not an msp.FabricMSPConfig (${errorMessage(err)})`, { cause: err });
  }
  if (fabric.name === "") throw new ChannelConfigError("MALFORMED_MSP", `${at}: the FabricMSPConfig has no name (MSP ID)`);
  const certs = (list: readonly Uint8Array[], field: string): string[] => list.map((c, i) => pemCertificate(c, `${at} ${field}[${i}]`));
  const crls = fabric.revocationList.map((c, i) => pemCrl(c, `${at} revocation_list[${i}]`));
  return {
    mspId: fabric.name,
    type: "FABRIC",
    fabric,
    rootCerts: certs(fabric.rootCerts, "root_certs"),
    intermediateCerts: certs(fabric.intermediateCerts, "intermediate_certs"),
    tlsRootCerts: certs(fabric.tlsRootCerts, "tls_root_certs"),
    tlsIntermediateCerts: certs(fabric.tlsIntermediateCerts, "tls_intermediate_certs"),
    admins: certs(fabric.admins, "admins"),
    crls,
    revokedSerials: crls.flatMap((pem, i) => revokedSerialsOf(pem, `${at} revocation_list[${i}]`)),
    nodeOUs: fabric.fabricNodeOus,
  };
}

/** A certificate entry must be PEM, as Fabric's MSP reads it (`getCertFromPem`). */
function pemCertificate(bytes: Uint8Array, what: string): string {
  const text = Buffer.from(bytes).toString("latin1");
  const blocks = decodeAllPem(text);
  if (blocks.length === 0 || blocks[0]!.type !== "CERTIFICATE") {
    throw new ChannelConfigError("MALFORMED_MSP", `${what}: not a PEM CERTIFICATE`);
  }
  return text;
}

/** A CRL entry as PEM "X509 CRL"; DER is wrapped, as Go's x509.ParseCRL accepts both. */
function pemCrl(bytes: Uint8Array, what: string): string {
  const text = Buffer.from(bytes).toString("latin1");
  if (text.includes("-----BEGIN")) {
    const blocks = decodeAllPem(text);
    if (blocks.length === 0 || blocks[0]!.type !== "X509 CRL") throw new ChannelConfigError("MALFORMED_MSP", `${what}: PEM that is not an X509 CRL`);
    return text;
  }
  return encodePem("X509 CRL", bytes);
}

function revokedSerialsOf(pem: string, what: string): string[] {
  const der = decodeAllPem(pem)[0]?.der;
  if (der === undefined) throw new ChannelConfigError("MALFORMED_MSP", `${what}: not a PEM X509 CRL`);
  let crl: X509Crl;
  try {
    crl = new X509Crl(der);
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_MSP", `${what}: the CRL does not parse (${errorMessage(err)})`, { cause: err });
  }
  return crl.entries.map((e) => {
    const hex = e.serialNumber.toUpperCase().replace(/[^0-9A-F]/g, "").replace(/^0+/, "");
    return hex === "" ? "0" : hex;
  });
}
