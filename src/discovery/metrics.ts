import type { Counter, Registry } from "prom-client";
import { counter } from "../metrics/index.js";
import type { DiscoveryRejectReason } from "./errors.js";

/** Fabric has no discovery metrics; ours, after Fabric's naming. */
export interface DiscoveryMetrics {
  /** Received discovery messages (or embedded alive envelopes) not used, by reason. */
  rejected: Counter<"reason">;
  /** Peers moved from the alive to the dead list. */
  expired: Counter<string>;
  /** Peers forgotten after the alive store TTL. */
  forgotten: Counter<string>;
}

export function createDiscoveryMetrics(registry: Registry): DiscoveryMetrics {
  return {
    rejected: counter(registry, "fabric_gossip_discovery_rejected_total", "Discovery messages not used, by reason", ["reason"]),
    expired: counter(registry, "fabric_gossip_discovery_expired_total", "Peers moved from the alive to the dead list"),
    forgotten: counter(registry, "fabric_gossip_discovery_forgotten_total", "Peers removed from membership after the alive message TTL"),
  };
}

export type { DiscoveryRejectReason };
