import type { CounterMetric, CounterSpec, GaugeMetric, GaugeSpec, MetricsProvider } from "../metrics/index.js";
import type { DiscoveryLimitReason, DiscoveryRejectReason } from "./errors.js";

/** Ours (Fabric has no discovery metrics, the name after Fabric's naming): discovery messages not used, by reason. */
export const DISCOVERY_REJECTED: CounterSpec<"reason"> = {
  name: "fabric_gossip_discovery_rejected_total",
  type: "counter",
  help: "Discovery messages not used, by reason",
  labelNames: ["reason"],
};
/**
 * Ours: peers moved from the alive to the dead list, by cause: `expired` (silent for aliveExpirationTimeout) or
 * `presumed-dead` (comm could not reach it: a failed dial or handshake, as Fabric's PresumedDead).
 */
export const DISCOVERY_EXPIRED: CounterSpec<"cause"> = {
  name: "fabric_gossip_discovery_expired_total",
  type: "counter",
  help: "Peers moved from the alive to the dead list, by cause (expired: silent; presumed-dead: unreachable)",
  labelNames: ["cause"],
};
/** Ours: peers forgotten after the alive message TTL. */
export const DISCOVERY_FORGOTTEN: CounterSpec<never> = {
  name: "fabric_gossip_discovery_forgotten_total",
  type: "counter",
  help: "Peers removed from membership after the alive message TTL",
  labelNames: [],
};

/** Ours: membership entries (or new members) ignored because a limit was reached, by limit. */
export const DISCOVERY_LIMITED: CounterSpec<"reason"> = {
  name: "fabric_gossip_discovery_limited_total",
  type: "counter",
  help: "Membership entries or new members ignored because a membership limit was reached, by limit",
  labelNames: ["reason"],
};
/** Ours: discovery log lines caused by remote input that the rate limiter held back, by code. */
export const DISCOVERY_LOG_SUPPRESSED: CounterSpec<"code"> = {
  name: "fabric_gossip_discovery_log_suppressed_total",
  type: "counter",
  help: "Discovery log lines caused by remote input and held back by the rate limiter, by code",
  labelNames: ["code"],
};
/** Ours: members known (alive and dead). */
export const DISCOVERY_KNOWN_MEMBERS: GaugeSpec<never> = {
  name: "fabric_gossip_discovery_known_members",
  type: "gauge",
  help: "Members known to discovery, alive and dead",
  labelNames: [],
};
/** Ours: pings of dead members in flight. */
export const DISCOVERY_RECONNECT_PINGS_IN_FLIGHT: GaugeSpec<never> = {
  name: "fabric_gossip_discovery_reconnect_pings_in_flight",
  type: "gauge",
  help: "Pings of dead members in flight",
  labelNames: [],
};

/**
 * Ours: the interval our alive messages go at now, in seconds: aliveTimeInterval, or Fabric's 5 s while a member known to
 * be a Fabric peer, by its requests or its answers, is alive (aliveFollowsFabricPeers).
 */
export const DISCOVERY_ALIVE_INTERVAL: GaugeSpec<never> = {
  name: "fabric_gossip_discovery_alive_interval_seconds",
  type: "gauge",
  help: "Interval of our alive messages now: aliveTimeInterval, or Fabric's 5 s beside Fabric peers (aliveFollowsFabricPeers)",
  labelNames: [],
};

/** Fabric has no discovery metrics; ours, after Fabric's naming. */
export interface DiscoveryMetrics {
  /** Received discovery messages (or embedded alive envelopes) not used, by reason. */
  rejected: CounterMetric<"reason">;
  /** Peers moved from the alive to the dead list. */
  expired: CounterMetric<"cause">;
  /** Peers forgotten after the alive store TTL, or on the schedule of second-hand dead members, or replaced at a cap. */
  forgotten: CounterMetric<never>;
  /** Entries or new members ignored at a limit. */
  limited: CounterMetric<"reason">;
  /** Log lines held back by the limiter. */
  logSuppressed: CounterMetric<"code">;
  knownMembers: GaugeMetric<never>;
  pingsInFlight: GaugeMetric<never>;
  aliveIntervalSeconds: GaugeMetric<never>;
}

/** The discovery metrics from `metrics`, created once per provider (get-or-create). */
export function createDiscoveryMetrics(metrics: MetricsProvider): DiscoveryMetrics {
  return {
    rejected: metrics.counter(DISCOVERY_REJECTED),
    expired: metrics.counter(DISCOVERY_EXPIRED),
    forgotten: metrics.counter(DISCOVERY_FORGOTTEN),
    limited: metrics.counter(DISCOVERY_LIMITED),
    logSuppressed: metrics.counter(DISCOVERY_LOG_SUPPRESSED),
    knownMembers: metrics.gauge(DISCOVERY_KNOWN_MEMBERS),
    pingsInFlight: metrics.gauge(DISCOVERY_RECONNECT_PINGS_IN_FLIGHT),
    aliveIntervalSeconds: metrics.gauge(DISCOVERY_ALIVE_INTERVAL),
  };
}

export type { DiscoveryLimitReason, DiscoveryRejectReason };
