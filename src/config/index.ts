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
export { gossipSectionFromCoreYaml } from "./core-yaml.js";
export { commOptionsOf } from "./comm-options.js";
