import { createHash, randomBytes } from "node:crypto";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { blockDataHash } from "../crypto/index.js";
import {
  type Block,
  BlockMetadataIndex,
  ChannelHeader,
  Envelope,
  HeaderType,
  LastConfig,
  Metadata,
  OrdererBlockMetadata,
  Payload,
  SignatureHeader,
} from "../protos/gen/common/common.pb.js";
import { BlockDataHashingStructure, Capabilities, HashingAlgorithm, OrdererAddresses } from "../protos/gen/common/configuration.pb.js";
import { ConfigEnvelope, type ConfigGroup, type ConfigPolicy, type ConfigValue } from "../protos/gen/common/configtx.pb.js";
import { ImplicitMetaPolicy, ImplicitMetaPolicy_Rule, Policy_PolicyType, SignaturePolicyEnvelope } from "../protos/gen/common/policies.pb.js";
import { FabricMSPConfig, type FabricNodeOUs, MSPConfig } from "../protos/gen/msp/msp_config.pb.js";
import { MSPPrincipal_Classification, MSPRole, MSPRole_MSPRoleType } from "../protos/gen/msp/msp_principal.pb.js";
import { BatchSize, BatchTimeout, ConsensusType, ConsensusType_State } from "../protos/gen/orderer/configuration.pb.js";
import { AnchorPeers } from "../protos/gen/peer/configuration.pb.js";
import { CONFIG_VALUE } from "./channel-config.js";
import { APPLICATION_GROUP, ORDERER_GROUP } from "./configtx.js";
import { ChannelConfigError } from "./errors.js";

/** An org's MSP for a genesis block, as PEM strings (what an org's MSP folder holds). */
export interface GenesisMsp {
  mspId: string;
  /** The org's group key (configtx.yaml's Name, e.g. "OrdererOrg"); default the MSP ID. */
  name?: string;
  /** cacerts: at least one. */
  rootCerts: readonly string[];
  intermediateCerts?: readonly string[];
  tlsRootCerts?: readonly string[];
  tlsIntermediateCerts?: readonly string[];
  /** admincerts; may be empty when NodeOUs define the admin OU. */
  admins?: readonly string[];
  /** PEM "X509 CRL" blocks. */
  crls?: readonly string[];
  /**
   * NodeOUs as cryptogen's config.yaml enables them (client, peer, admin, orderer OUs certified by
   * `certificate`, by default the first root certificate); `false` leaves them off. Default: enabled.
   */
  nodeOUs?: false | { certificate?: string };
}

export interface GenesisApplicationOrg extends GenesisMsp {
  /** Anchor peers as "host:port". */
  anchorPeers?: readonly string[];
}

export interface GenesisOrdererOrg extends GenesisMsp {
  /** The org's orderer endpoints, "host:port" (the per-org `Endpoints` value). */
  endpoints: readonly string[];
}

/** An etcdraft consenter: its address and its TLS certificates (PEM). */
export interface GenesisConsenter {
  host: string;
  port: number;
  clientTlsCert: string;
  serverTlsCert: string;
}

/** What a genesis block is made of (a configtx.yaml profile with an Application and an Orderer section). */
export interface GenesisOptions {
  channel: string;
  applicationOrgs: readonly GenesisApplicationOrg[];
  ordererOrgs: readonly GenesisOrdererOrg[];
  /** Default 10 (configtxgen's sample). */
  maxMessageCount?: number;
  /** Default 99 MB (103809024 bytes). */
  absoluteMaxBytes?: number;
  /** Default 512 KB (524288 bytes). */
  preferredMaxBytes?: number;
  /** A Go duration, default "2s". */
  batchTimeout?: string;
  /** Default "etcdraft". */
  consensusType?: string;
  /** etcdraft consenters; none gives empty consensus metadata (enough for a peer, not for a Raft orderer). */
  consenters?: readonly GenesisConsenter[];
  /** The channel header's timestamp; default now. */
  timestamp?: Date;
  /** The signature header's nonce (24 bytes in Fabric); default random. */
  nonce?: Uint8Array;
}

/** configtx.yaml's sample defaults. */
export const GENESIS_DEFAULTS = {
  maxMessageCount: 10,
  absoluteMaxBytes: 99 * 1024 * 1024,
  preferredMaxBytes: 512 * 1024,
  batchTimeout: "2s",
  consensusType: "etcdraft",
} as const;

/** The capabilities configtxgen's TwoOrgsApplicationGenesis profile of Fabric v2.5 switches on. */
const CHANNEL_CAPABILITY = "V2_0";
const ORDERER_CAPABILITY = "V2_0";
const APPLICATION_CAPABILITY = "V2_5";
const ADMINS = "Admins";
const NONCE_BYTES = 24;

/**
 * A channel's genesis block as Fabric's configtxgen makes it for a channel-participation profile (no system
 * channel): block 0, no previous hash, one CONFIG envelope (unsigned, as configtxgen leaves it) whose Config
 * holds the channel group with the Application and Orderer groups, configtxgen's default policies, SHA256
 * hashing and V2_0/V2_5 capabilities; SIGNATURES metadata with an OrdererBlockMetadata of last config 0 and no
 * signature, and an empty LAST_CONFIG.
 * @throws ChannelConfigError INVALID_GENESIS naming the input that cannot make a channel
 */
export function createGenesisBlock(opts: GenesisOptions): Block {
  if (opts.channel === "" || !/^[a-z][a-z0-9.-]*$/.test(opts.channel) || opts.channel.length > 249) {
    throw new ChannelConfigError("INVALID_GENESIS", `channel name ${JSON.stringify(opts.channel)}: Fabric takes [a-z][a-z0-9.-]*, under 250 characters`);
  }
  if (opts.applicationOrgs.length === 0) throw new ChannelConfigError("INVALID_GENESIS", `channel ${opts.channel}: no application org`);
  if (opts.ordererOrgs.length === 0) throw new ChannelConfigError("INVALID_GENESIS", `channel ${opts.channel}: no orderer org`);
  const seen = new Set<string>();
  for (const o of [...opts.applicationOrgs, ...opts.ordererOrgs]) {
    if (seen.has(o.mspId)) throw new ChannelConfigError("INVALID_GENESIS", `channel ${opts.channel}: MSP ID ${o.mspId} is given twice`);
    seen.add(o.mspId);
  }
  for (const list of [opts.applicationOrgs, opts.ordererOrgs]) {
    const names = list.map((o) => o.name ?? o.mspId);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) throw new ChannelConfigError("INVALID_GENESIS", `channel ${opts.channel}: org group ${dup} is given twice`);
  }
  const application = group(
    Object.fromEntries(opts.applicationOrgs.map((o) => [o.name ?? o.mspId, applicationOrgGroup(o)])),
    { [CONFIG_VALUE.capabilities]: capabilities(APPLICATION_CAPABILITY) },
    {
      Admins: implicitMeta(ImplicitMetaPolicy_Rule.MAJORITY, "Admins"),
      Endorsement: implicitMeta(ImplicitMetaPolicy_Rule.MAJORITY, "Endorsement"),
      LifecycleEndorsement: implicitMeta(ImplicitMetaPolicy_Rule.MAJORITY, "Endorsement"),
      Readers: implicitMeta(ImplicitMetaPolicy_Rule.ANY, "Readers"),
      Writers: implicitMeta(ImplicitMetaPolicy_Rule.ANY, "Writers"),
    },
  );
  const orderer = group(
    Object.fromEntries(opts.ordererOrgs.map((o) => [o.name ?? o.mspId, ordererOrgGroup(o)])),
    {
      [CONFIG_VALUE.batchSize]: value(BatchSize.encode({
        maxMessageCount: positive(opts.maxMessageCount ?? GENESIS_DEFAULTS.maxMessageCount, "max message count"),
        absoluteMaxBytes: positive(opts.absoluteMaxBytes ?? GENESIS_DEFAULTS.absoluteMaxBytes, "absolute max bytes"),
        preferredMaxBytes: positive(opts.preferredMaxBytes ?? GENESIS_DEFAULTS.preferredMaxBytes, "preferred max bytes"),
      }).finish()),
      [CONFIG_VALUE.batchTimeout]: value(BatchTimeout.encode({ timeout: goDuration(opts.batchTimeout ?? GENESIS_DEFAULTS.batchTimeout) }).finish()),
      [CONFIG_VALUE.capabilities]: capabilities(ORDERER_CAPABILITY),
      // configtxgen writes an empty ChannelRestrictions (no limit on channels).
      ChannelRestrictions: value(new Uint8Array(0)),
      [CONFIG_VALUE.consensusType]: value(ConsensusType.encode({
        type: opts.consensusType ?? GENESIS_DEFAULTS.consensusType,
        metadata: opts.consenters === undefined || opts.consenters.length === 0 ? new Uint8Array(0) : etcdraftMetadata(opts.consenters),
        state: ConsensusType_State.STATE_NORMAL,
      }).finish()),
    },
    {
      Admins: implicitMeta(ImplicitMetaPolicy_Rule.MAJORITY, "Admins"),
      BlockValidation: implicitMeta(ImplicitMetaPolicy_Rule.ANY, "Writers"),
      Readers: implicitMeta(ImplicitMetaPolicy_Rule.ANY, "Readers"),
      Writers: implicitMeta(ImplicitMetaPolicy_Rule.ANY, "Writers"),
    },
  );
  const channelGroup = group(
    { [APPLICATION_GROUP]: application, [ORDERER_GROUP]: orderer },
    {
      // Fabric's default: Merkle width of max uint32, i.e. a flat hash of the data.
      BlockDataHashingStructure: value(BlockDataHashingStructure.encode({ width: 4294967295 }).finish()),
      [CONFIG_VALUE.capabilities]: capabilities(CHANNEL_CAPABILITY),
      [CONFIG_VALUE.hashingAlgorithm]: value(HashingAlgorithm.encode({ name: "SHA256" }).finish()),
    },
    {
      Admins: implicitMeta(ImplicitMetaPolicy_Rule.MAJORITY, "Admins"),
      Readers: implicitMeta(ImplicitMetaPolicy_Rule.ANY, "Readers"),
      Writers: implicitMeta(ImplicitMetaPolicy_Rule.ANY, "Writers"),
    },
  );
  const configEnvelope = ConfigEnvelope.encode({ config: { sequence: 0n, channelGroup }, lastUpdate: undefined }).finish();

  const nonce = opts.nonce ?? randomBytes(NONCE_BYTES);
  const creator = new Uint8Array(0);
  // Fabric's tx ID: hex SHA-256 of nonce || creator.
  const txId = createHash("sha256").update(nonce).update(creator).digest("hex");
  // configtxgen's timestamp has whole seconds.
  const timestamp = new Date(Math.floor((opts.timestamp ?? new Date()).getTime() / 1000) * 1000);
  const channelHeader = ChannelHeader.encode({
    type: HeaderType.CONFIG,
    version: 1,
    timestamp,
    channelId: opts.channel,
    txId,
    epoch: 0n,
    extension: new Uint8Array(0),
    tlsCertHash: new Uint8Array(0),
  }).finish();
  const signatureHeader = SignatureHeader.encode({ creator, nonce }).finish();
  const payload = Payload.encode({ header: { channelHeader, signatureHeader }, data: configEnvelope }).finish();
  const envelope = Envelope.encode({ payload, signature: new Uint8Array(0) }).finish();

  const data = { data: [envelope] };
  const metadata: Uint8Array[] = Array.from({ length: 5 }, () => new Uint8Array(0));
  metadata[BlockMetadataIndex.SIGNATURES] = Metadata.encode({
    value: OrdererBlockMetadata.encode({ lastConfig: { index: 0n }, consenterMetadata: new Uint8Array(0) }).finish(),
    signatures: [],
  }).finish();
  metadata[BlockMetadataIndex.LAST_CONFIG] = Metadata.encode({ value: LastConfig.encode({ index: 0n }).finish(), signatures: [] }).finish();
  return { header: { number: 0n, previousHash: new Uint8Array(0), dataHash: blockDataHash(data) }, data, metadata: { metadata } };
}

function applicationOrgGroup(o: GenesisApplicationOrg): ConfigGroup {
  const anchors = (o.anchorPeers ?? []).map((a) => {
    const { host, port } = hostPort(a, `anchor peer of ${o.mspId}`);
    return { host, port };
  });
  const values: Record<string, ConfigValue> = { [CONFIG_VALUE.msp]: mspValue(o) };
  if (anchors.length > 0) values[CONFIG_VALUE.anchorPeers] = value(AnchorPeers.encode({ anchorPeers: anchors }).finish());
  // configtx.yaml's sample org policies (test-network): readers any role, writers admin or client.
  return group({}, values, {
    Admins: signedByAnyRole(o.mspId, [MSPRole_MSPRoleType.ADMIN]),
    Endorsement: signedByAnyRole(o.mspId, [MSPRole_MSPRoleType.PEER]),
    Readers: signedByAnyRole(o.mspId, [MSPRole_MSPRoleType.ADMIN, MSPRole_MSPRoleType.PEER, MSPRole_MSPRoleType.CLIENT]),
    Writers: signedByAnyRole(o.mspId, [MSPRole_MSPRoleType.ADMIN, MSPRole_MSPRoleType.CLIENT]),
  });
}

function ordererOrgGroup(o: GenesisOrdererOrg): ConfigGroup {
  if (o.endpoints.length === 0) throw new ChannelConfigError("INVALID_GENESIS", `orderer org ${o.mspId}: no endpoint`);
  for (const e of o.endpoints) hostPort(e, `orderer endpoint of ${o.mspId}`);
  return group(
    {},
    { [CONFIG_VALUE.endpoints]: value(OrdererAddresses.encode({ addresses: [...o.endpoints] }).finish()), [CONFIG_VALUE.msp]: mspValue(o) },
    {
      Admins: signedByAnyRole(o.mspId, [MSPRole_MSPRoleType.ADMIN]),
      Readers: signedByAnyRole(o.mspId, [MSPRole_MSPRoleType.MEMBER]),
      Writers: signedByAnyRole(o.mspId, [MSPRole_MSPRoleType.MEMBER]),
    },
  );
}

function mspValue(m: GenesisMsp): ConfigValue {
  if (m.mspId === "") throw new ChannelConfigError("INVALID_GENESIS", "an org without an MSP ID");
  const root = m.rootCerts[0];
  if (root === undefined) throw new ChannelConfigError("INVALID_GENESIS", `MSP ${m.mspId}: no root certificate`);
  const bytes = (list: readonly string[] | undefined): Uint8Array[] => (list ?? []).map((p) => Buffer.from(p, "latin1"));
  let fabricNodeOus: FabricNodeOUs | undefined;
  if (m.nodeOUs !== false) {
    const certificate = Buffer.from(m.nodeOUs?.certificate ?? root, "latin1");
    const ou = (id: string): { certificate: Uint8Array; organizationalUnitIdentifier: string } => ({ certificate, organizationalUnitIdentifier: id });
    fabricNodeOus = { enable: true, clientOuIdentifier: ou("client"), peerOuIdentifier: ou("peer"), adminOuIdentifier: ou("admin"), ordererOuIdentifier: ou("orderer") };
  } else if ((m.admins ?? []).length === 0) {
    throw new ChannelConfigError("INVALID_GENESIS", `MSP ${m.mspId}: without NodeOUs the MSP needs admin certificates`);
  }
  const config = FabricMSPConfig.encode({
    name: m.mspId,
    rootCerts: bytes(m.rootCerts),
    intermediateCerts: bytes(m.intermediateCerts),
    admins: bytes(m.admins),
    revocationList: bytes(m.crls),
    signingIdentity: undefined,
    organizationalUnitIdentifiers: [],
    cryptoConfig: { signatureHashFamily: "SHA2", identityIdentifierHashFunction: "SHA256" },
    tlsRootCerts: bytes(m.tlsRootCerts),
    tlsIntermediateCerts: bytes(m.tlsIntermediateCerts),
    fabricNodeOus,
  }).finish();
  return value(MSPConfig.encode({ type: 0, config }).finish());
}

function group(groups: Record<string, ConfigGroup>, values: Record<string, ConfigValue>, policies: Record<string, ConfigPolicy>): ConfigGroup {
  return { version: 0n, groups, values, policies, modPolicy: ADMINS };
}

function value(bytes: Uint8Array): ConfigValue {
  return { version: 0n, value: bytes, modPolicy: ADMINS };
}

function capabilities(name: string): ConfigValue {
  return value(Capabilities.encode({ capabilities: { [name]: {} } }).finish());
}

function implicitMeta(rule: ImplicitMetaPolicy_Rule, subPolicy: string): ConfigPolicy {
  return { version: 0n, modPolicy: ADMINS, policy: { type: Policy_PolicyType.IMPLICIT_META, value: ImplicitMetaPolicy.encode({ rule, subPolicy }).finish() } };
}

/** "OR('Org1MSP.admin', 'Org1MSP.peer', ...)": 1 out of one SignedBy per role, as configtxgen compiles it. */
function signedByAnyRole(mspId: string, roles: readonly MSPRole_MSPRoleType[]): ConfigPolicy {
  const envelope = SignaturePolicyEnvelope.encode({
    version: 0,
    rule: { Type: { $case: "nOutOf", value: { n: 1, rules: roles.map((_, i) => ({ Type: { $case: "signedBy", value: i } })) } } },
    identities: roles.map((role) => ({
      principalClassification: MSPPrincipal_Classification.ROLE,
      principal: MSPRole.encode({ mspIdentifier: mspId, role }).finish(),
    })),
  }).finish();
  return { version: 0n, modPolicy: ADMINS, policy: { type: Policy_PolicyType.SIGNATURE, value: envelope } };
}

/** etcdraft.ConfigMetadata (orderer/etcdraft/configuration.proto) with configtx.yaml's sample options. */
function etcdraftMetadata(consenters: readonly GenesisConsenter[]): Uint8Array {
  const w = new BinaryWriter();
  for (const c of consenters) {
    w.uint32((1 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(c.host);
    w.uint32(2 << 3).uint32(c.port);
    w.uint32((3 << 3) | 2).bytes(Buffer.from(c.clientTlsCert, "latin1"));
    w.uint32((4 << 3) | 2).bytes(Buffer.from(c.serverTlsCert, "latin1"));
    w.join();
  }
  w.uint32((2 << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string("500ms");
  w.uint32(2 << 3).uint32(10);
  w.uint32(3 << 3).uint32(1);
  w.uint32(4 << 3).uint32(5);
  w.uint32(5 << 3).uint32(16 * 1024 * 1024);
  w.join();
  return w.finish();
}

function hostPort(s: string, what: string): { host: string; port: number } {
  const i = s.lastIndexOf(":");
  const host = i > 0 ? s.slice(0, i).replace(/^\[(.*)\]$/, "$1") : "";
  const port = i > 0 ? Number(s.slice(i + 1)) : Number.NaN;
  if (host === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ChannelConfigError("INVALID_GENESIS", `${what} ${JSON.stringify(s)} is not host:port`);
  }
  return { host, port };
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new ChannelConfigError("INVALID_GENESIS", `${what} must be a positive 32-bit integer, got ${n}`);
  return n;
}

/** The batch timeout must be a Go duration Fabric's orderer parses ("2s", "500ms", "1m30s"). */
function goDuration(s: string): string {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s) || /^0+(\.0+)?[a-zµ]+$/.test(s)) {
    throw new ChannelConfigError("INVALID_GENESIS", `batch timeout ${JSON.stringify(s)} is not a positive Go duration such as "2s"`);
  }
  return s;
}
