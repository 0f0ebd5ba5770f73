/**
 * fabric-gossip's public API (`import ... from "fabric-gossip"`), documented in docs/API.md: start a
 * peer from options or a core.yaml, join channels, read committed blocks and membership, stop it;
 * load configuration; run a deterministic simulation; the insecure development crypto for tests.
 * Everything else is internal and may change without notice.
 */

// A peer.
export {
  type CommittedBlock,
  type Peer,
  PeerError,
  type PeerErrorCode,
  type StartPeerOptions,
  startPeer,
  peerFromConfig,
  type PeerCryptoChoice,
  type PeerFromConfig,
  type PeerFromConfigComponents,
  type PeerFromConfigOptions,
  PeerSetupError,
  type PeerSetupErrorCode,
  PeerNode,
  PeerNodeError,
  // What joinChannel / channelBlocks throw for a block that is no usable genesis block.
  ChannelDefinitionError,
  type MembershipView,
  type PeerView,
  type ChannelPeerView,
  type ChannelStatusView,
} from "./service/index.js";

// What a peer tells as it happens.
export { type PeerEvent, type PeerEventKind, type PeerEventOf, type MemberDeathCause, PeerEvents } from "./api/index.js";

// Configuration: core.yaml, CORE_PEER_* and overrides, with Fabric's defaults; errors name the key.
export {
  ConfigError,
  type ConfigProblem,
  type GossipConfig,
  loadGossipConfig,
  loadPeerConfig,
  type PeerConfig,
  type PeerConfigLayers,
  gossipSectionFromCoreYaml,
  parseCoreYaml,
} from "./config/index.js";

// TLS material for `startPeer({ tls })`, checked (the key must be the certificate's).
export { loadTlsMaterial, type TlsMaterial, type TlsMaterialSource, TlsMaterialError } from "./comm/grpc/index.js";

// Crypto: Fabric's insecure test crypto (identity = endpoint; never in production) and cryptogen-shaped material.
export { DevMessageCryptoService, DEV_ORG, generateCryptoMaterial, type CryptoMaterialSummary } from "./crypto/index.js";

// The deterministic simulation.
export { simulate, type SimulateOptions, type SimOptions, type SimResult, type SimReport, PRESETS, type PresetName, SimError, SimInvariantError } from "./sim/index.js";

// Logging and errors.
export { createLogger, silentLogger, type Logger } from "./logging/index.js";
export { GossipError } from "./util/index.js";
