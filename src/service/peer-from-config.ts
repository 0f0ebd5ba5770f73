import { join } from "node:path";
import type { MessageCryptoService } from "../api/index.js";
import { type GossipTransportKind, loadTlsMaterial, type TlsMaterial } from "../comm/grpc/index.js";
import { internalEndpointOf, type OperationsTlsConfig, type PeerConfig, type PeerTlsConfig } from "../config/index.js";
import { DEV_ORG, type MspOrgMaterial } from "../crypto/index.js";
import type { Logger } from "../logging/index.js";
import { errorMessage, GossipError } from "../util/index.js";
import { type ChannelJoinBlock, channelJoinBlockOf, storedChannelBlocks } from "./channel-block.js";
import { ChannelRegistry, mspMaterialsOf } from "./channel-definition.js";
import { loadPeerCrypto, oneOrgAdvisor, type PeerCrypto } from "./peer-crypto.js";
import type { AdminTlsOptions } from "./admin-server.js";
import { PeerNode, type PeerNodeComponents } from "./peer-node.js";
import { gossipServiceOptionsOf } from "./service-options.js";

/**
 * Why a peer could not be built from its configuration:
 * - PEER_CRYPTO: the MSP folder is missing or unusable.
 * - PEER_CHANNEL_BLOCK: a channel block is not a usable genesis block (`index` says which of `channelBlocks`),
 *   or two blocks are of one channel.
 * - PEER_TLS: the TLS files of peer.tls or operations.tls cannot be used.
 * - PEER_OPTIONS: the options contradict each other (the message says how).
 */
export type PeerSetupErrorCode = "PEER_CRYPTO" | "PEER_CHANNEL_BLOCK" | "PEER_TLS" | "PEER_OPTIONS";

/** A peer could not be built from its configuration; the message names the file or key at fault. */
export class PeerSetupError extends GossipError {
  declare readonly code: PeerSetupErrorCode;
  /** With PEER_CHANNEL_BLOCK: the position of the block in `channelBlocks`. */
  readonly index: number | undefined;

  constructor(code: PeerSetupErrorCode, message: string, options?: { cause?: unknown; index?: number }) {
    super(code, message, options);
    this.index = options?.index;
  }
}

/** Where a peer's identity comes from. */
export type PeerCryptoChoice =
  /** INSECURE: Fabric's gossip test crypto (identity = endpoint, signature = message), every peer in `org` (default DEV_ORG). */
  | { insecureDevCrypto: true; org?: string }
  /** A local MSP folder. Other orgs are trusted as the configurations of the channels joined define them. */
  | { insecureDevCrypto?: false; msp: string; mspId: string };

/** A peer, as core.yaml, CORE_PEER_* and the command line describe it. */
export interface PeerFromConfigOptions {
  /** The loaded configuration (config's `loadPeerConfig`): addresses, paths, local MSP, TLS, gossip, deliveryclient. */
  config: PeerConfig;
  /**
   * Where gRPC listens. Default peer.listenAddress. Given, it is also the internal endpoint unless
   * peer.gossip.endpoint is set; otherwise the internal endpoint is peer.gossip.endpoint or peer.address.
   */
  listen?: string;
  /** Default: the configuration's local MSP (peer.mspConfigPath, peer.localMspId), only its org trusted. */
  crypto?: PeerCryptoChoice;
  /**
   * Only with `insecureDevCrypto`: gossip-only channels to join (no ledger, no configuration), whose
   * members are the one development org. A peer with an MSP identity knows a channel only from its
   * configuration: it is refused there (join from a genesis block instead).
   */
  channels?: readonly string[];
  /**
   * Channels to join from their genesis blocks (serialized common.Block, as configtxgen or `fabric-gossip
   * channel genesis` writes them; Fabric's `peer channel join -b`): ledger, state transfer, leader election,
   * Deliver from the orderers. Orgs, MSPs, anchor peers and orderers come from the block's configuration,
   * and each config block committed later updates them. Needs an MSP identity.
   */
  channelBlocks?: readonly Uint8Array[];
  /** TLS material (comm/grpc `loadTlsMaterial`), or false for plaintext. Default: peer.tls when enabled. */
  tls?: TlsMaterial | false;
  /** Where the channels' ledgers live. Default <peer.fileSystemPath>/ledgers. */
  ledgerDir?: string;
  /**
   * Admin (operations) endpoint ("host:port", port 0 picks one). Default: operations.listenAddress, as Fabric's
   * peer serves its operations endpoint there; none when that is empty too. operations.tls applies either way.
   */
  admin?: string;
  /** Serve process and Node.js runtime metrics on /metrics (a peer that owns its process: the CLI's). */
  processMetrics?: boolean;
  /** The gossip port's gRPC implementation (PeerNodeOptions.grpcTransport). */
  grpcTransport?: GossipTransportKind;
  /**
   * Build the ledger service (to join channels later, `PeerNode.joinChannelBlock`) even without
   * channel blocks. Needs an MSP identity. Default: only when channel blocks are given or stored.
   */
  ledgers?: boolean;
}

/**
 * What the host injects: a logger and, for tests, the clock, randomness or transport. What the peer
 * does (commits, leadership, membership) the host hears from the node's `events`.
 */
export interface PeerFromConfigComponents {
  logger: Logger;
  /** The levels of `logger`, for the admin endpoint's /logspec. */
  logLevels?: PeerNodeComponents["logLevels"];
  clock?: PeerNodeComponents["clock"];
  random?: PeerNodeComponents["random"];
  transport?: PeerNodeComponents["transport"];
}

/** A peer ready to start, with what it was built from. */
export interface PeerFromConfig {
  node: PeerNode;
  crypto: PeerCrypto;
  /** Whether the peer has channels with ledgers from the start (given or stored channel blocks). */
  full: boolean;
}

/**
 * The one path from a configuration to a ready-to-start peer, for the `peer start` command and for
 * programs embedding a peer: loads the crypto (the local MSP folder; every other org is trusted as the
 * configuration of a channel joined defines it), the TLS material, and composes the PeerNode (gossip,
 * and with channel blocks, given or found in the ledgers, the GossipService per channel).
 * @throws PeerSetupError naming the file, key or block at fault.
 */
export async function peerFromConfig(options: PeerFromConfigOptions, components: PeerFromConfigComponents): Promise<PeerFromConfig> {
  const { config: peer } = options;
  const { logger } = components;
  const channels = [...new Set(options.channels ?? [])];
  const ledgerDir = options.ledgerDir ?? join(peer.fileSystemPath, "ledgers");
  const choice: PeerCryptoChoice = options.crypto ?? { msp: peer.mspConfigPath, mspId: peer.localMspId };
  const given = joinBlocksOf(options.channelBlocks ?? []);
  if (choice.insecureDevCrypto === true && given.length > 0) {
    throw new PeerSetupError("PEER_OPTIONS", "channel blocks need an MSP identity: the ordering service and the other peers authenticate this peer by it");
  }
  if (choice.insecureDevCrypto !== true && channels.length > 0) {
    throw new PeerSetupError(
      "PEER_OPTIONS",
      `channel ${channels[0]}: a peer with an MSP identity knows a channel only from its configuration (its MSPs and Readers policy decide who may gossip in it); join it from its genesis block, or use the insecure development crypto for a gossip-only channel`,
    );
  }
  // A peer with an MSP identity rejoins the channels whose ledgers it holds, as Fabric's peer does at start.
  const stored = choice.insecureDevCrypto === true ? [] : await storedChannelBlocks(ledgerDir, new Set(given.map((b) => b.def.name)), logger);
  const channelBlocks = [...given, ...stored];
  const channelDefs = channelBlocks.map((b) => b.def);
  const full = channelDefs.length > 0;
  const listen = options.listen ?? peer.listenAddress;
  const internal = options.listen !== undefined ? internalEndpointOf(peer.gossip, options.listen) : peer.gossip.endpoint || peer.address;
  const registry = new ChannelRegistry();

  let crypto: PeerCrypto;
  let channelOrgs: string[];
  if (choice.insecureDevCrypto === true) {
    crypto = await loadPeerCrypto({ listen: internal, external: peer.gossip.externalEndpoint || undefined, insecureDevCrypto: true }, logger);
    const org = choice.org ?? DEV_ORG;
    if (choice.org !== undefined) crypto = { ...crypto, securityAdvisor: oneOrgAdvisor(org) };
    channelOrgs = [org];
  } else {
    channelOrgs = [choice.mspId];
    // The MSPs of the channels to join are trusted from the start (the service trusts them again as it joins).
    const extraOrgs: MspOrgMaterial[] = channelDefs.flatMap((d) => mspMaterialsOf(d));
    try {
      crypto = await loadPeerCrypto(
        {
          listen: internal,
          msp: choice.msp,
          mspId: choice.mspId,
          extraOrgs,
          channelOrgs: registry.channelOrgs,
          ordererOrgs: registry.ordererOrgs,
          blockValidation: registry.blockValidation,
        },
        logger,
      );
    } catch (err) {
      throw new PeerSetupError("PEER_CRYPTO", errorMessage(err), { cause: err });
    }
    crypto = { ...crypto, mcs: withChannelReaders(crypto.mcs, registry) };
  }
  const signer = crypto.signer;
  if (full && signer === undefined) throw new PeerSetupError("PEER_OPTIONS", "channel blocks need an MSP signing identity");
  if (options.ledgers === true && signer === undefined) {
    throw new PeerSetupError("PEER_OPTIONS", "ledgers need an MSP signing identity: the ordering service and the other peers authenticate this peer by it");
  }
  const ledgers = full || options.ledgers === true;

  const tls = options.tls === undefined ? await configuredTls(peer.tls) : options.tls || undefined;
  const grpcTls = tls === undefined ? undefined : { cert: tls.cert, key: tls.key, rootCAs: tls.rootCAs ?? Buffer.alloc(0) };
  const admin = options.admin ?? (peer.operations.listenAddress !== "" ? peer.operations.listenAddress : undefined);
  const adminTls = admin === undefined ? undefined : await configuredOperationsTls(peer.operations.tls);
  const node = new PeerNode(
    {
      mcs: crypto.mcs,
      securityAdvisor: crypto.securityAdvisor,
      selfIdentity: crypto.identity,
      logger,
      ...(components.logLevels !== undefined ? { logLevels: components.logLevels } : {}),
      ...(components.clock !== undefined ? { clock: components.clock } : {}),
      ...(components.random !== undefined ? { random: components.random } : {}),
      ...(components.transport !== undefined ? { transport: components.transport } : {}),
      ...(ledgers && signer !== undefined
        ? {
            service: { signer, channels: registry, ...(crypto.trustOrgs !== undefined ? { trustOrgs: crypto.trustOrgs } : {}) },
          }
        : {}),
    },
    {
      listenAddress: listen,
      config: peer.gossip,
      tls: grpcTls,
      ...(options.grpcTransport !== undefined ? { grpcTransport: options.grpcTransport } : {}),
      channels,
      channelOrgs,
      ...(admin !== undefined ? { admin } : {}),
      ...(adminTls !== undefined ? { adminTls } : {}),
      ...(options.processMetrics === true ? { processMetrics: true } : {}),
      ...(ledgers
        ? {
            service: {
              options: {
                ...gossipServiceOptionsOf(peer, ledgerDir),
                ...(grpcTls !== undefined ? { deliverTls: { rootCAs: grpcTls.rootCAs, cert: grpcTls.cert, key: grpcTls.key } } : {}),
              },
              channels: channelDefs,
              genesisBlocks: new Map(channelBlocks.map((b) => [b.def.name, b.block])),
            },
          }
        : {}),
    },
  );
  return { node, crypto, full };
}

/**
 * The TLS material peer.tls names, when TLS is enabled (Fabric's `GetServerConfig`): the server
 * certificate and key, the root certificate and, only when peer.tls.clientAuthRequired is true, the
 * client root CAs (Fabric reads them only then, so a core.yaml naming absent files starts without it).
 * @throws PeerSetupError PEER_TLS naming the key (peer.tls.key.file, ...) and file at fault.
 */
export async function configuredTls(conf: PeerTlsConfig): Promise<TlsMaterial | undefined> {
  if (!conf.enabled) return undefined;
  try {
    return await loadTlsMaterial({
      cert: { what: "peer.tls.cert.file", file: conf.certFile },
      key: { what: "peer.tls.key.file", file: conf.keyFile },
      cas: [
        ...(conf.rootCertFile !== "" ? [{ what: "peer.tls.rootcert.file", file: conf.rootCertFile }] : []),
        ...(conf.clientAuthRequired ? conf.clientRootCAFiles : []).filter((f) => f !== "").map((file) => ({ what: "peer.tls.clientRootCAs.files", file })),
      ],
    });
  } catch (err) {
    throw new PeerSetupError("PEER_TLS", errorMessage(err), { cause: err });
  }
}

/**
 * The TLS of the operations endpoint operations.tls names, when enabled (Fabric's fabhttp `TLS.Config`): the
 * server pair and the client root CAs, which Fabric reads whenever TLS is on (they verify the certificates the
 * endpoints beyond /healthz and /version require).
 * @throws PeerSetupError PEER_TLS naming the key (operations.tls.cert.file, ...) and file at fault.
 */
export async function configuredOperationsTls(conf: OperationsTlsConfig): Promise<AdminTlsOptions | undefined> {
  if (!conf.enabled) return undefined;
  try {
    const m = await loadTlsMaterial({
      cert: { what: "operations.tls.cert.file", file: conf.certFile },
      key: { what: "operations.tls.key.file", file: conf.keyFile },
      cas: conf.clientRootCAFiles.filter((f) => f !== "").map((file) => ({ what: "operations.tls.clientRootCAs.files", file })),
    });
    return { cert: m.cert, key: m.key, ...(m.rootCAs !== undefined ? { clientRootCAs: m.rootCAs } : {}), clientAuthRequired: conf.clientAuthRequired };
  } catch (err) {
    throw new PeerSetupError("PEER_TLS", errorMessage(err), { cause: err });
  }
}

/**
 * The join blocks of `channelBlocks`, each checked (block 0 of a channel, with a configuration a peer can use).
 * @throws PeerSetupError PEER_CHANNEL_BLOCK naming the block's position and what is wrong, or a channel given twice.
 */
function joinBlocksOf(blocks: readonly Uint8Array[]): ChannelJoinBlock[] {
  const out: ChannelJoinBlock[] = [];
  blocks.forEach((bytes, index) => {
    let joined: ChannelJoinBlock;
    try {
      joined = channelJoinBlockOf(bytes, `channel block ${index}`);
    } catch (err) {
      throw new PeerSetupError("PEER_CHANNEL_BLOCK", errorMessage(err), { cause: err, index });
    }
    if (out.some((b) => b.def.name === joined.def.name)) {
      throw new PeerSetupError("PEER_CHANNEL_BLOCK", `channel block ${index}: channel ${joined.def.name} is given twice`, { index });
    }
    out.push(joined);
  });
  return out;
}

/**
 * The MCS with Fabric's `VerifyByChannel` for every channel that follows its configuration:
 * /Channel/Application/Readers of the configuration in force (the channel's MSPs validate the
 * identity), rather than "the identity's org is a member".
 */
function withChannelReaders(inner: MessageCryptoService, registry: ChannelRegistry): MessageCryptoService {
  return {
    getPKIidOfCert: (id) => inner.getPKIidOfCert(id),
    verifyBlock: (ch, seq, block) => inner.verifyBlock(ch, seq, block),
    sign: (msg) => inner.sign(msg),
    verify: (id, sig, msg) => inner.verify(id, sig, msg),
    verifyByChannel: (ch, id, sig, msg) => {
      const readers = registry.readers(ch);
      if (readers === undefined) inner.verifyByChannel(ch, id, sig, msg);
      else readers(id, sig, msg);
    },
    validateIdentity: (id) => inner.validateIdentity(id),
    expiration: (id) => inner.expiration(id),
  };
}
