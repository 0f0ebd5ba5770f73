/** Fabric's `gossip/discovery`: membership (alive and dead peers), heartbeats, membership sync, reconnection. */
export type {
  AnchorPeerTracker,
  CommService,
  AliveCheck,
  CryptoService,
  DisclosurePolicy,
  Discovery,
  DiscoveryComponents,
  DiscoveryOptions,
  EnvelopeFilter,
  Identifier,
  PeerIdentification,
  Sieve,
  SyncOptions,
} from "./interface.js";
export {
  DEFAULT_DISCOVERY_OPTIONS,
  DEF_ALIVE_EXPIRATION_CHECK_INTERVAL_MS,
  DEF_ALIVE_EXPIRATION_TIMEOUT_MS,
  DEF_ALIVE_TIME_INTERVAL_MS,
  DEF_MAX_CONNECTION_ATTEMPTS,
  DEF_MAX_KNOWN_MEMBERS,
  DEF_MAX_KNOWN_MEMBERS_PER_ORG,
  DEF_MAX_MEMBER_ENTRIES_PER_SENDER_PER_INTERVAL,
  DEF_MAX_MEMBERS_PER_RESPONSE,
  DEF_MAX_NEW_MEMBERS_PER_ORG_PER_INTERVAL,
  DEF_MAX_RECONNECT_BACKOFF_FACTOR,
  DEF_MAX_RECONNECT_PINGS_IN_FLIGHT,
  DEF_MEMBER_QUOTA_INTERVAL_MS,
  DEF_MSG_EXPIRATION_FACTOR,
  DEF_PUBLISH_CERT_PERIOD_MS,
  DEF_RECONNECT_INTERVAL_MS,
  NOOP_DISCLOSURE_POLICY,
  NO_ANCHOR_PEERS,
  SEND_UNTIL_ACKED_WAIT_MS,
} from "./interface.js";
export type { NetworkMember } from "./network-member.js";
export {
  cloneNetworkMember,
  copyNetworkMember,
  hasExternalEndpoint,
  intersectMembers,
  membersById,
  networkMemberToString,
  preferredEndpoint,
} from "./network-member.js";
export { createDiscovery, resolveDiscoveryOptions } from "./discovery-impl.js";
export {
  createDiscoverySecurityAdapter,
  type AliveIdentityStore,
  type DiscoverySecurityAdapterComponents,
  type DiscoverySecurityAdapterOptions,
} from "./security-adapter.js";
export { DiscoveryError, type DiscoveryErrorCode, type DiscoveryLimitReason, type DiscoveryRejectReason } from "./errors.js";
export { LOG_LINES_PER_KEY_PER_WINDOW, LOG_LINES_PER_WINDOW, LOG_WINDOW_MS } from "./log-limiter.js";
export { createDiscoveryMetrics, type DiscoveryMetrics } from "./metrics.js";
