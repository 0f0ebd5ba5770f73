import {
  type CounterMetric,
  type CounterSpec,
  GOSSIP_MEMBERSHIP_TOTAL_PEERS_KNOWN,
  type GaugeMetric,
  type MetricsProvider,
} from "../../metrics/index.js";
import type { ChannelRejectReason } from "./errors.js";

/** Fabric's membership gauge name (`gossip/metrics/metrics.go` TotalOpts). */
export const TOTAL_PEERS_KNOWN_METRIC = GOSSIP_MEMBERSHIP_TOTAL_PEERS_KNOWN.name;

/** Ours: messages the channel did not use, by channel and reason (a ChannelRejectReason). */
export const CHANNEL_REJECTED: CounterSpec<"channel" | "reason"> = {
  name: "fabric_gossip_channel_rejected_total",
  type: "counter",
  help: "Channel messages from remote peers not used, by reason",
  labelNames: ["channel", "reason"],
};
export const CHANNEL_REJECTED_METRIC = CHANNEL_REJECTED.name;

/** The channel's metrics (Fabric's `MembershipMetrics`, and ours); every channel of a peer shares them, labelled by channel. */
export interface ChannelMetrics {
  /** `len(GetPeers())` per channel, set every membership tracker tick. */
  totalPeersKnown: GaugeMetric<"channel">;
  /** Remote messages not used, by channel and reason. */
  rejected: CounterMetric<"channel" | "reason">;
}

/** The channel metrics from `metrics`, created once per provider (get-or-create) and shared by its channels. */
export function createChannelMetrics(metrics: MetricsProvider): ChannelMetrics {
  return {
    totalPeersKnown: metrics.gauge(GOSSIP_MEMBERSHIP_TOTAL_PEERS_KNOWN),
    rejected: metrics.counter(CHANNEL_REJECTED),
  };
}

export type { ChannelRejectReason };
