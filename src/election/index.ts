/** Leader election per channel and org: Fabric's gossip/election. */
export type {
  LeaderElectionAdapter,
  LeaderElectionComponents,
  LeaderElectionOptions,
  LeaderElectionService,
  LeadershipCallback,
  Msg,
  Peer,
} from "./interface.js";
export {
  DEF_LEADER_ALIVE_THRESHOLD_MS,
  DEF_LEADER_ELECTION_DURATION_MS,
  DEF_MEMBERSHIP_SAMPLE_INTERVAL_MS,
  DEF_STARTUP_GRACE_PERIOD_MS,
  DEFAULT_LEADER_ELECTION_OPTIONS,
  leaderHeartbeatIntervalMs,
  yieldDurationMs,
} from "./interface.js";
export { ELECTION_LOGGER_NAME, LeaderElectionServiceImpl, createLeaderElectionService } from "./election.js";
export type { ElectionGossipNode, ElectionMember, LeaderElectionAdapterComponents } from "./adapter.js";
export { GossipLeaderElectionAdapter, LeadershipMsg, createLeaderElectionAdapter } from "./adapter.js";
export type { ElectionMetrics } from "./metrics.js";
export { LEADER_ELECTION_LEADER_METRIC, createElectionMetrics } from "./metrics.js";
export type { LeaderMode, LeaderModeFlags } from "./static.js";
export { StaticLeaderService, createStaticLeaderService, resolveLeaderMode } from "./static.js";
export type { ElectionErrorCode } from "./errors.js";
export { ElectionError } from "./errors.js";
