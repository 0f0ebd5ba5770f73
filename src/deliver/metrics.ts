import type { CounterMetric, CounterSpec, MetricsProvider } from "../metrics/index.js";

/** Ours (Fabric's peer deliver client has no metrics): blocks from the ordering service not passed on, by channel and reason. */
export const DELIVER_BLOCKS_REJECTED: CounterSpec<"channel" | "reason"> = {
  name: "deliver_blocks_rejected",
  type: "counter",
  help: "Blocks from the ordering service rejected, by reason",
  labelNames: ["channel", "reason"],
};
/** Ours: reconnections to the ordering service (after an error, a bad block or a status), by channel. */
export const DELIVER_RECONNECTS: CounterSpec<"channel"> = {
  name: "deliver_reconnects",
  type: "counter",
  help: "Reconnections to the ordering service",
  labelNames: ["channel"],
};
/** Ours: blocks from the ordering service that were verified and passed on, by channel. */
export const DELIVER_BLOCKS_RECEIVED: CounterSpec<"channel"> = {
  name: "deliver_blocks_received",
  type: "counter",
  help: "Blocks from the ordering service verified and passed on",
  labelNames: ["channel"],
};

export const DELIVER_BLOCKS_REJECTED_METRIC = DELIVER_BLOCKS_REJECTED.name;
export const DELIVER_RECONNECTS_METRIC = DELIVER_RECONNECTS.name;
export const DELIVER_BLOCKS_RECEIVED_METRIC = DELIVER_BLOCKS_RECEIVED.name;

/** Why a block from the ordering service was rejected (the `reason` label). */
export type RejectReason =
  /** The DeliverResponse or its block could not be decoded, or the block has no header. */
  | "malformed"
  /** The block number is not the next one expected on this stream. */
  | "unexpected_number"
  /** MessageCryptoService.verifyBlock refused it (data hash, orderer signature, channel). */
  | "verify_failed"
  /** previous_hash is not the hash of the previous block's header. */
  | "hash_chain";

/** The deliver client's metrics; every channel of a peer shares them, labelled by channel. */
export interface DeliverMetrics {
  rejected: CounterMetric<"channel" | "reason">;
  reconnects: CounterMetric<"channel">;
  received: CounterMetric<"channel">;
}

/** The deliver metrics from `metrics`, created once per provider (get-or-create) and shared by its channels. */
export function createDeliverMetrics(metrics: MetricsProvider): DeliverMetrics {
  return {
    rejected: metrics.counter(DELIVER_BLOCKS_REJECTED),
    reconnects: metrics.counter(DELIVER_RECONNECTS),
    received: metrics.counter(DELIVER_BLOCKS_RECEIVED),
  };
}
