import {
  type Counter,
  type CounterSpec,
  GOSSIP_COMM_MESSAGES_RECEIVED,
  GOSSIP_COMM_MESSAGES_SENT,
  GOSSIP_COMM_OVERFLOW_COUNT,
  type Registry,
  counterOf,
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
  sent: Counter<never>;
  /** gossip_comm_messages_received */
  received: Counter<never>;
  /** gossip_comm_overflow_count */
  overflow: Counter<never>;
  rejected: Counter<"code">;
}

/** The comm metrics on `registry`, created once per registry (get-or-create) and shared by its users. */
export function createCommMetrics(registry: Registry): CommMetrics {
  return {
    sent: counterOf(registry, GOSSIP_COMM_MESSAGES_SENT),
    received: counterOf(registry, GOSSIP_COMM_MESSAGES_RECEIVED),
    overflow: counterOf(registry, GOSSIP_COMM_OVERFLOW_COUNT),
    rejected: counterOf(registry, COMM_REJECTED),
  };
}

export type RejectCode = CommErrorCode;
