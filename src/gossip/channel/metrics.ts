import { type Counter, Gauge, type Registry, counter } from "../../metrics/index.js";
import type { ChannelRejectReason } from "./errors.js";

/** Fabric's membership gauge name (`gossip/metrics/metrics.go` TotalOpts). */
export const TOTAL_PEERS_KNOWN_METRIC = "gossip_membership_total_peers_known";
/** Ours: messages the channel did not use, by reason. */
export const CHANNEL_REJECTED_METRIC = "fabric_gossip_channel_rejected_total";

/** The channel's metrics; every channel of a peer shares them, labelled by channel. */
export interface ChannelMetrics {
  /** `len(GetPeers())` per channel, set every membership tracker tick. */
  totalPeersKnown: Gauge<"channel">;
  /** Remote messages not used, by channel and reason. */
  rejected: Counter<"channel" | "reason">;
}

/** The channel metrics on `registry`, created once per registry and shared by its channels. */
export function createChannelMetrics(registry: Registry): ChannelMetrics {
  const existing = registry.getSingleMetric(TOTAL_PEERS_KNOWN_METRIC);
  const totalPeersKnown =
    existing !== undefined
      ? (existing as Gauge<"channel">)
      : new Gauge<"channel">({ name: TOTAL_PEERS_KNOWN_METRIC, help: "Total known peers", labelNames: ["channel"], registers: [registry] });
  return {
    totalPeersKnown,
    rejected: counter(registry, CHANNEL_REJECTED_METRIC, "Channel messages from remote peers not used, by reason", ["channel", "reason"]),
  };
}

export type { ChannelRejectReason };
