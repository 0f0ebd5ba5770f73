import {
  type CounterMetric,
  type CounterSpec,
  GOSSIP_COMM_MESSAGES_RECEIVED,
  GOSSIP_COMM_MESSAGES_SENT,
  GOSSIP_COMM_OVERFLOW_COUNT,
  type MetricsProvider,
} from "../metrics/index.js";
import type { CommErrorCode } from "./errors.js";

/** Ours: connections or messages comm refused, by error code. */
export const COMM_REJECTED: CounterSpec<"code"> = {
  name: "fabric_gossip_comm_rejected_total",
  type: "counter",
  help: "Connections or messages refused, by reason",
  labelNames: ["code"],
};

/** Fabric's `CommMetrics` (`gossip/metrics/metrics.go`), and our count of refused connections by reason. */
export interface CommMetrics {
  /** gossip_comm_messages_sent */
  sent: CounterMetric<never>;
  /** gossip_comm_messages_received */
  received: CounterMetric<never>;
  /** gossip_comm_overflow_count */
  overflow: CounterMetric<never>;
  rejected: CounterMetric<"code">;
}

/** The comm metrics from `metrics`, created once per provider (get-or-create) and shared by its users. */
export function createCommMetrics(metrics: MetricsProvider): CommMetrics {
  return {
    sent: metrics.counter(GOSSIP_COMM_MESSAGES_SENT),
    received: metrics.counter(GOSSIP_COMM_MESSAGES_RECEIVED),
    overflow: metrics.counter(GOSSIP_COMM_OVERFLOW_COUNT),
    rejected: metrics.counter(COMM_REJECTED),
  };
}

export type RejectCode = CommErrorCode;
