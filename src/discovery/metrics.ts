import type { CounterMetric, CounterSpec, MetricsProvider } from "../metrics/index.js";
import type { DiscoveryRejectReason } from "./errors.js";

/** Ours (Fabric has no discovery metrics, the name after Fabric's naming): discovery messages not used, by reason. */
export const DISCOVERY_REJECTED: CounterSpec<"reason"> = {
  name: "fabric_gossip_discovery_rejected_total",
  type: "counter",
  help: "Discovery messages not used, by reason",
  labelNames: ["reason"],
};
/** Ours: peers moved from the alive to the dead list. */
export const DISCOVERY_EXPIRED: CounterSpec<never> = {
  name: "fabric_gossip_discovery_expired_total",
  type: "counter",
  help: "Peers moved from the alive to the dead list",
  labelNames: [],
};
/** Ours: peers forgotten after the alive message TTL. */
export const DISCOVERY_FORGOTTEN: CounterSpec<never> = {
  name: "fabric_gossip_discovery_forgotten_total",
  type: "counter",
  help: "Peers removed from membership after the alive message TTL",
  labelNames: [],
};

/** Fabric has no discovery metrics; ours, after Fabric's naming. */
export interface DiscoveryMetrics {
  /** Received discovery messages (or embedded alive envelopes) not used, by reason. */
  rejected: CounterMetric<"reason">;
  /** Peers moved from the alive to the dead list. */
  expired: CounterMetric<never>;
  /** Peers forgotten after the alive store TTL. */
  forgotten: CounterMetric<never>;
}

/** The discovery metrics from `metrics`, created once per provider (get-or-create). */
export function createDiscoveryMetrics(metrics: MetricsProvider): DiscoveryMetrics {
  return {
    rejected: metrics.counter(DISCOVERY_REJECTED),
    expired: metrics.counter(DISCOVERY_EXPIRED),
    forgotten: metrics.counter(DISCOVERY_FORGOTTEN),
  };
}

export type { DiscoveryRejectReason };
