/** Fabric's `gossip/gossip/channel`: the per-channel state of a gossip node (`GossipChannel`). */
export type {
  AnchorPeer,
  ChannelAdapter,
  ChannelConfig,
  ChannelCryptoService,
  GossipChannel,
  GossipChannelComponents,
  JoinChannelMessage,
  PeerStateInfo,
  SubChannelSelectionCriteria,
} from "./interface.js";
export {
  BLOCK_EXPIRATION_PULL_INTERVALS,
  DEFAULT_CHANNEL_CONFIG,
  DEF_LEADER_ALIVE_THRESHOLD_MS,
  DEF_MSG_EXPIRATION_TIMEOUT_MS,
  STATE_INFO_SWEEP_PULL_INTERVALS,
} from "./interface.js";
export { GossipChannelImpl, createGossipChannel } from "./gossip-channel.js";
export { resolveChannelConfig } from "./config.js";
export { generateMAC } from "./mac.js";
export { MembershipTracker, describeMembershipChange, endpointsOf, type MembershipTrackerOptions } from "./membership-tracker.js";
export { StateInfoCache, stateInfoOf, type StateInfoVerifier } from "./state-info-cache.js";
export { CHANNEL_REJECTED_METRIC, TOTAL_PEERS_KNOWN_METRIC, createChannelMetrics, type ChannelMetrics } from "./metrics.js";
export { ChannelError, type ChannelErrorCode, type ChannelRejectReason } from "./errors.js";
