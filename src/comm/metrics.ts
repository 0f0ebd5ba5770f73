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

/** Ours: comm log lines caused by remote input and held back by the rate limiter, by code. */
export const COMM_LOG_SUPPRESSED: CounterSpec<"code"> = {
  name: "fabric_gossip_comm_log_suppressed_total",
  type: "counter",
  help: "Comm log lines caused by remote input and held back by the rate limiter, by code",
  labelNames: ["code"],
};

/** Ours: offences counted against peers and addresses (forged or malformed input), by code. */
export const COMM_OFFENCES: CounterSpec<"code"> = {
  name: "fabric_gossip_comm_offences_total",
  type: "counter",
  help: "Forged or invalid input counted against the peer or address that sent it, by code",
  labelNames: ["code"],
};

/**
 * Ours: refusals imposed on a PKI-ID ("peer"), a remote address ("address") or a client TLS certificate
 * ("certificate") after too many offences.
 */
export const COMM_REFUSALS: CounterSpec<"what"> = {
  name: "fabric_gossip_comm_refusals_total",
  type: "counter",
  help: "PKI-IDs and remote addresses refused for a while after too many offences",
  labelNames: ["what"],
};

/** Ours: requests dropped because the sending peer spent its budget, by kind. */
export const COMM_BUDGET_DROPPED: CounterSpec<"kind"> = {
  name: "fabric_gossip_comm_budget_dropped_total",
  type: "counter",
  help: "Requests dropped because the sending peer exceeded its request budget, by kind",
  labelNames: ["kind"],
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
  logSuppressed: CounterMetric<"code">;
  offences: CounterMetric<"code">;
  refusals: CounterMetric<"what">;
  budgetDropped: CounterMetric<"kind">;
}

/** The comm metrics from `metrics`, created once per provider (get-or-create) and shared by its users. */
export function createCommMetrics(metrics: MetricsProvider): CommMetrics {
  return {
    sent: metrics.counter(GOSSIP_COMM_MESSAGES_SENT),
    received: metrics.counter(GOSSIP_COMM_MESSAGES_RECEIVED),
    overflow: metrics.counter(GOSSIP_COMM_OVERFLOW_COUNT),
    rejected: metrics.counter(COMM_REJECTED),
    logSuppressed: metrics.counter(COMM_LOG_SUPPRESSED),
    offences: metrics.counter(COMM_OFFENCES),
    refusals: metrics.counter(COMM_REFUSALS),
    budgetDropped: metrics.counter(COMM_BUDGET_DROPPED),
  };
}

export type RejectCode = CommErrorCode;
