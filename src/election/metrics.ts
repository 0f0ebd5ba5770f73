import { GOSSIP_LEADER_ELECTION_LEADER, type Gauge, type Registry, gaugeOf } from "../metrics/index.js";

/** Fabric's `LeaderDeclerationOpts` (`gossip/metrics/metrics.go`): gossip_leader_election_leader{channel}. */
export const LEADER_ELECTION_LEADER_METRIC = GOSSIP_LEADER_ELECTION_LEADER.name;

/** Fabric's `ElectionMetrics`. */
export interface ElectionMetrics {
  /** 1 while leader (set on each declaration), 0 as follower. */
  declaration: Gauge<"channel">;
}

/** The election metrics on `registry`, created once per registry (get-or-create) and shared by the channels of a peer. */
export function createElectionMetrics(registry: Registry): ElectionMetrics {
  return { declaration: gaugeOf(registry, GOSSIP_LEADER_ELECTION_LEADER) };
}
