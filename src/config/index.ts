export {
  DurationError,
  MAX_DURATION_NS,
  MIN_DURATION_NS,
  formatDurationMs,
  formatDurationNs,
  msToNs,
  nsToMs,
  parseDurationMs,
  parseDurationNs,
} from "./duration.js";
export { checkHostPort, isHostPort } from "./endpoint.js";
export { ConfigError, type ConfigNote, type ConfigProblem, type ConfigSource, describeSource } from "./errors.js";
export {
  EXTENSION_READ_IN,
  GOSSIP_ENV_PREFIX,
  GOSSIP_KEYS,
  GOSSIP_PREFIX,
  type GossipKeyKind,
  type GossipKeyRead,
  type GossipKeySpec,
  fullKey,
  gossipEnvName,
  keySpecOf,
} from "./gossip-keys.js";
export * from "./gossip-config.js";
export { gossipSectionFromCoreYaml, parseCoreYaml } from "./core-yaml.js";
export { commOptionsOf, socketLimitsOf, stateRequestBudgetOf } from "./comm-options.js";
export {
  DEFAULT_PEER_CONFIG,
  DEF_DELIVERY_BLOCK_GOSSIP_ENABLED,
  DEF_DELIVERY_CONN_TIMEOUT_MS,
  DEF_DELIVERY_RECONNECT_BACKOFF_THRESHOLD_MS,
  DEF_DELIVERY_RECONNECT_TOTAL_TIME_THRESHOLD_MS,
  DEF_PEER_ADDRESS,
  DEF_PEER_FILE_SYSTEM_PATH,
  DEF_PEER_ID,
  DEF_PEER_LISTEN_ADDRESS,
  DEF_PEER_LOCAL_MSP_ID,
  DEF_PEER_MSP_CONFIG_PATH,
  type DeliveryClientConfig,
  type OperationsConfig,
  type OperationsTlsConfig,
  type PeerConfig,
  type PeerConfigLayers,
  type PeerTlsConfig,
  defaultPeerConfig,
  loadPeerConfig,
  tlsClientKeyPairOf,
} from "./peer-config.js";
export { PEER_KEYS, type PeerKeyKind, type PeerKeyRead, type PeerKeySpec, peerEnvName } from "./peer-keys.js";
export { type AddressOverride, splitListText } from "./peer-values.js";
