import type { Counter, Registry } from "prom-client";
import { counter } from "../metrics/index.js";
import type { CommErrorCode } from "./errors.js";

/** Fabric's three comm metrics, and our count of refused connections by reason. */
export interface CommMetrics {
  sent: Counter<string>;
  received: Counter<string>;
  overflow: Counter<string>;
  rejected: Counter<"code">;
}

export function createCommMetrics(registry: Registry): CommMetrics {
  return {
    sent: counter(registry, "gossip_comm_messages_sent", "Number of messages sent"),
    received: counter(registry, "gossip_comm_messages_received", "Number of messages received"),
    overflow: counter(registry, "gossip_comm_overflow_count", "Number of outgoing queue buffer overflows"),
    rejected: counter(registry, "fabric_gossip_comm_rejected_total", "Connections or messages refused, by reason", ["code"]),
  };
}

export type RejectCode = CommErrorCode;
