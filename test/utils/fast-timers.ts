import { DEFAULT_GOSSIP_NODE_OPTIONS, type GossipNodeOptions } from "../../src/gossip/node/index.js";

/**
 * Fabric's gossip timers compressed, keeping their shape, so that a small network of real peers
 * settles in seconds: as `CORE_PEER_GOSSIP_*` variables for peer processes (set the way an operator
 * would), and as node options for in-process gossip nodes. Tests add or override what they need.
 */

/**
 * Membership and pull rounds of about a second: alive messages every 1 s, pulls every 1 s, and
 * the pull's waits short enough that a round ends before the next begins (pullInterval >
 * digestWaitTime + responseWaitTime; requestWaitTime > digestWaitTime).
 */
export const FAST_GOSSIP_ENV: Readonly<Record<string, string>> = Object.freeze({
  CORE_PEER_GOSSIP_ALIVETIMEINTERVAL: "1s",
  CORE_PEER_GOSSIP_PULLINTERVAL: "1s",
  CORE_PEER_GOSSIP_DIGESTWAITTIME: "200ms",
  CORE_PEER_GOSSIP_REQUESTWAITTIME: "300ms",
  CORE_PEER_GOSSIP_RESPONSEWAITTIME: "300ms",
  CORE_PEER_GOSSIP_PUBLISHSTATEINFOINTERVAL: "1s",
  CORE_PEER_GOSSIP_REQUESTSTATEINFOINTERVAL: "1s",
});

/**
 * Leader election in seconds: a 3 s start-up grace period sampled every 500 ms, and the given
 * leaderAliveThreshold (a follower elects when the leader has been silent this long) and
 * leaderElectionDuration (from a proposal to self-declaration).
 */
export function fastElectionEnv(timers: { leaderAliveThreshold: string; leaderElectionDuration: string }): Record<string, string> {
  return {
    CORE_PEER_GOSSIP_ELECTION_STARTUPGRACEPERIOD: "3s",
    CORE_PEER_GOSSIP_ELECTION_MEMBERSHIPSAMPLEINTERVAL: "500ms",
    CORE_PEER_GOSSIP_ELECTION_LEADERALIVETHRESHOLD: timers.leaderAliveThreshold,
    CORE_PEER_GOSSIP_ELECTION_LEADERELECTIONDURATION: timers.leaderElectionDuration,
  };
}

/**
 * {@link FAST_GOSSIP_ENV} as options of an in-process gossip node, with a peer counted dead after
 * 5 s of silence and reconnected every second.
 */
export const FAST_GOSSIP_NODE_OPTIONS: Readonly<Omit<GossipNodeOptions, "internalEndpoint" | "bootstrapPeers">> = Object.freeze({
  ...DEFAULT_GOSSIP_NODE_OPTIONS,
  aliveTimeIntervalMs: 1_000,
  aliveExpirationTimeoutMs: 5_000,
  reconnectIntervalMs: 1_000,
  pullIntervalMs: 1_000,
  digestWaitTimeMs: 200,
  requestWaitTimeMs: 300,
  responseWaitTimeMs: 300,
  publishStateInfoIntervalMs: 1_000,
  requestStateInfoIntervalMs: 1_000,
  publishCertPeriodMs: 5_000,
  membershipTrackerIntervalMs: 1_000,
  comm: {},
});
