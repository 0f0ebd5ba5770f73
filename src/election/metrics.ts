import { Gauge, type Registry } from "../metrics/index.js";

/** Fabric's `LeaderDeclerationOpts` (`gossip/metrics/metrics.go`): gossip_leader_election_leader{channel}. */
export const LEADER_ELECTION_LEADER_METRIC = "gossip_leader_election_leader";

/** Fabric's `ElectionMetrics`. */
export interface ElectionMetrics {
  /** 1 while leader (set on each declaration), 0 as follower. */
  declaration: Gauge<"channel">;
}

/** The election metrics on `registry`, created once per registry and shared by the channels of a peer. */
export function createElectionMetrics(registry: Registry): ElectionMetrics {
  const existing = registry.getSingleMetric(LEADER_ELECTION_LEADER_METRIC);
  const declaration =
    existing !== undefined
      ? (existing as Gauge<"channel">)
      : new Gauge<"channel">({
          name: LEADER_ELECTION_LEADER_METRIC,
          help: "Peer is leader (1) or follower (0)",
          labelNames: ["channel"],
          registers: [registry],
        });
  return { declaration };
}
