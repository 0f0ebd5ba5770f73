import { join } from "node:path";
import { loadTlsMaterial, type TlsMaterial } from "../comm/grpc/index.js";
import { internalEndpointOf, type PeerConfig, type PeerTlsConfig } from "../config/index.js";
import { DEV_ORG, type MspOrgMaterial } from "../crypto/index.js";
import type { Logger } from "../logging/index.js";
import { errorMessage, GossipError } from "../util/index.js";
import { type ChannelJoinBlock, storedChannelBlocks } from "./channel-block.js";
import { type ChannelDefinition, ChannelRegistry, loadChannelMspOrgs } from "./channel-definition.js";
import { loadPeerCrypto, oneOrgAdvisor, type PeerCrypto, peerOrgsOf } from "./peer-crypto.js";
import { PeerNode, type PeerNodeComponents } from "./peer-node.js";
import { gossipServiceOptionsOf } from "./service-options.js";

/**
 * Why a peer could not be built from its configuration:
 * - PEER_CRYPTO: the MSP folder, or an org's material, is missing or unusable.
 * - PEER_CHANNEL_ORGS: the MSP folders a channel definition names cannot be loaded (`channel` says which).
 * - PEER_TLS: the TLS files of peer.tls cannot be used.
 * - PEER_OPTIONS: the options contradict each other (the message says how).
 */
export type PeerSetupErrorCode = "PEER_CRYPTO" | "PEER_CHANNEL_ORGS" | "PEER_TLS" | "PEER_OPTIONS";

/** A peer could not be built from its configuration; the message names the file or key at fault. */
export class PeerSetupError extends GossipError {
  declare readonly code: PeerSetupErrorCode;
  /** With PEER_CHANNEL_ORGS: the channel whose definition names the material. */
  readonly channel: string | undefined;

  constructor(code: PeerSetupErrorCode, message: string, options?: { cause?: unknown; channel?: string }) {
    super(code, message, options);
    this.channel = options?.channel;
  }
}

/** Where a peer's identity comes from. */
export type PeerCryptoChoice =
  /** INSECURE: Fabric's gossip test crypto (identity = endpoint, signature = message), every peer in `org` (default DEV_ORG). */
  | { insecureDevCrypto: true; org?: string }
  /** A local MSP folder; `orgsDir` (a `crypto generate` root) names the other orgs to trust. */
  | { insecureDevCrypto?: false; msp: string; mspId: string; orgsDir?: string };

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
  /** Gossip-only channels to join (no ledger); their members are the orgs this peer trusts, with no anchor peers. */
  channels?: readonly string[];
  /** Full-peer channels: ledger, state transfer, leader election, Deliver from the definition's orderers. */
  channelDefs?: readonly ChannelDefinition[];
  /** Full-peer channels joined from their genesis blocks (`loadChannelJoinBlock`): orgs, MSPs, anchors and orderers come from the block. */
  channelBlocks?: readonly ChannelJoinBlock[];
  /** TLS material (comm/grpc `loadTlsMaterial`), or false for plaintext. Default: peer.tls when enabled. */
  tls?: TlsMaterial | false;
  /** Where the channels' ledgers live. Default <peer.fileSystemPath>/ledgers. */
  ledgerDir?: string;
  /** Admin HTTP endpoint ("host:port", port 0 picks one). None when absent. */
  admin?: string;
  /**
   * Build the ledger service (to join channels later, `service.initializeChannel`) even without
   * channel definitions. Needs an MSP identity. Default: only when channel definitions are given.
   */
  ledgers?: boolean;
}

/**
 * What the host injects: a logger and, for tests, the clock, randomness or transport. What the peer
 * does (commits, leadership, membership) the host hears from the node's `events`.
 */
export interface PeerFromConfigComponents {
  logger: Logger;
  clock?: PeerNodeComponents["clock"];
  random?: PeerNodeComponents["random"];
  transport?: PeerNodeComponents["transport"];
}

/** A peer ready to start, with what it was built from. */
export interface PeerFromConfig {
  node: PeerNode;
  crypto: PeerCrypto;
  /** Whether the peer was given channel definitions (it runs ledgers from the start). */
  full: boolean;
}

/**
 * The one path from a configuration to a ready-to-start peer, for the `peer start` command and for
 * programs embedding a peer: loads the crypto (MSP folders of the local org, of `orgsDir` and of the
 * channel definitions), the TLS material, and composes the PeerNode (gossip, and with channel
 * definitions the GossipService per channel).
 * @throws PeerSetupError naming the file or key at fault.
 */
export async function peerFromConfig(options: PeerFromConfigOptions, components: PeerFromConfigComponents): Promise<PeerFromConfig> {
  const { config: peer } = options;
  const { logger } = components;
  const channels = [...new Set(options.channels ?? [])];
  const ledgerDir = options.ledgerDir ?? join(peer.fileSystemPath, "ledgers");
  const choice: PeerCryptoChoice = options.crypto ?? { msp: peer.mspConfigPath, mspId: peer.localMspId };
  const given = [...(options.channelDefs ?? []).map((d) => d.name), ...(options.channelBlocks ?? []).map((b) => b.def.name), ...channels];
  // A peer with an MSP identity rejoins the channels whose ledgers it holds, as Fabric's peer does at start.
  const stored = choice.insecureDevCrypto === true ? [] : await storedChannelBlocks(ledgerDir, new Set(given), logger);
  const channelBlocks = [...(options.channelBlocks ?? []), ...stored];
  const channelDefs = [...(options.channelDefs ?? []), ...channelBlocks.map((b) => b.def)];
  const full = channelDefs.length > 0;
  const listen = options.listen ?? peer.listenAddress;
  const internal = options.listen !== undefined ? internalEndpointOf(peer.gossip, options.listen) : peer.gossip.endpoint || peer.address;
  const registry = new ChannelRegistry();

  let crypto: PeerCrypto;
  let channelOrgs: string[];
  if (choice.insecureDevCrypto === true) {
    if (full) throw new PeerSetupError("PEER_OPTIONS", "channel definitions need an MSP identity: the ordering service and the other peers authenticate this peer by it");
    crypto = await loadPeerCrypto({ listen: internal, external: peer.gossip.externalEndpoint || undefined, insecureDevCrypto: true }, logger);
    const org = choice.org ?? DEV_ORG;
    if (choice.org !== undefined) crypto = { ...crypto, securityAdvisor: oneOrgAdvisor(org) };
    channelOrgs = [org];
  } else {
    channelOrgs = choice.orgsDir === undefined ? [choice.mspId] : await peerOrgsOf(choice.orgsDir, choice.mspId);
    const extraOrgs: MspOrgMaterial[] = [];
    for (const def of channelDefs) {
      try {
        extraOrgs.push(...(await loadChannelMspOrgs(def)));
      } catch (err) {
        throw new PeerSetupError("PEER_CHANNEL_ORGS", errorMessage(err), { cause: err, channel: def.name });
      }
    }
    // Without channel config blocks, a gossip-only channel's readers are the peer orgs this peer
    // trusts; a defined channel's are the orgs its definition names.
    const readers = new Set(channelOrgs);
    const joined = new Set(channels);
    try {
      crypto = await loadPeerCrypto(
        {
          listen: internal,
          msp: choice.msp,
          mspId: choice.mspId,
          orgsDir: choice.orgsDir,
          extraOrgs,
          channelOrgs: (ch) => registry.channelOrgs(ch) ?? (joined.has(ch) ? readers : undefined),
          ordererOrgs: registry.ordererOrgs,
          blockValidation: registry.blockValidation,
        },
        logger,
      );
    } catch (err) {
      throw new PeerSetupError("PEER_CRYPTO", errorMessage(err), { cause: err });
    }
  }
  const signer = crypto.signer;
  if (full && signer === undefined) throw new PeerSetupError("PEER_OPTIONS", "channel definitions need an MSP signing identity");
  if (options.ledgers === true && signer === undefined) {
    throw new PeerSetupError("PEER_OPTIONS", "ledgers need an MSP signing identity: the ordering service and the other peers authenticate this peer by it");
  }
  const ledgers = full || options.ledgers === true;

  const tls = options.tls === undefined ? await configuredTls(peer.tls) : options.tls || undefined;
  const grpcTls = tls === undefined ? undefined : { cert: tls.cert, key: tls.key, rootCAs: tls.rootCAs ?? Buffer.alloc(0) };
  const node = new PeerNode(
    {
      mcs: crypto.mcs,
      securityAdvisor: crypto.securityAdvisor,
      selfIdentity: crypto.identity,
      logger,
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
      channels,
      channelOrgs,
      ...(options.admin !== undefined ? { admin: options.admin } : {}),
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
