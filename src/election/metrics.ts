import { GOSSIP_LEADER_ELECTION_LEADER, type GaugeMetric, type MetricsProvider } from "../metrics/index.js";

/** Fabric's `LeaderDeclerationOpts` (`gossip/metrics/metrics.go`): gossip_leader_election_leader{channel}. */
export const LEADER_ELECTION_LEADER_METRIC = GOSSIP_LEADER_ELECTION_LEADER.name;

/** Fabric's `ElectionMetrics`. */
export interface ElectionMetrics {
  /** 1 while leader (set on each declaration), 0 as follower. */
  declaration: GaugeMetric<"channel">;
}

/** The election metrics from `metrics`, created once per provider (get-or-create) and shared by the channels of a peer. */
export function createElectionMetrics(metrics: MetricsProvider): ElectionMetrics {
  return { declaration: metrics.gauge(GOSSIP_LEADER_ELECTION_LEADER) };
}
