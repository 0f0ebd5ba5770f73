import {
  type CounterMetric,
  type CounterSpec,
  GOSSIP_PAYLOAD_BUFFER_SIZE,
  GOSSIP_STATE_COMMIT_DURATION,
  GOSSIP_STATE_HEIGHT,
  type GaugeMetric,
  type HistogramMetric,
  type MetricsProvider,
} from "../metrics/index.js";

/** Fabric's state metric names (`gossip/metrics/metrics.go` StateMetrics). */
export const STATE_HEIGHT_METRIC = GOSSIP_STATE_HEIGHT.name;
export const STATE_COMMIT_DURATION_METRIC = GOSSIP_STATE_COMMIT_DURATION.name;
export const PAYLOAD_BUFFER_SIZE_METRIC = GOSSIP_PAYLOAD_BUFFER_SIZE.name;

/**
 * Ours (Fabric only logs these): blocks the state provider refused, by channel and reason. Blocks
 * pushed by gossip are verified earlier, by the channel (`fabric_gossip_channel_rejected_total`,
 * reason BAD_BLOCK); blocks from the ordering service by the deliver client (`deliver_blocks_rejected`).
 * Payloads turned away only because the buffer has no room are flow control, not counted here.
 */
export const STATE_BLOCKS_REJECTED: CounterSpec<"channel" | "reason"> = {
  name: "fabric_gossip_state_blocks_rejected_total",
  type: "counter",
  help: "Blocks the state provider refused to buffer or commit, by reason",
  labelNames: ["channel", "reason"],
};
export const STATE_BLOCKS_REJECTED_METRIC = STATE_BLOCKS_REJECTED.name;

/** Why the state provider refused a block (the `reason` label of STATE_BLOCKS_REJECTED). */
export type StateRejectReason =
  /** A state-transfer payload whose block MessageCryptoService.verifyBlock refused (orderer signature, data hash, channel, number). */
  | "verify_failed"
  /** A payload that is not a block, lacks header or data, has another number than its sequence, or carries undecodable private data. */
  | "malformed";

/** Ours: state requests not served, by channel and reason ("budget": the requester is over its request budget; "backlog": the queue of channelSize is full). */
export const STATE_REQUESTS_DROPPED: CounterSpec<"channel" | "reason"> = {
  name: "fabric_gossip_state_requests_dropped_total",
  type: "counter",
  help: "State requests dropped unserved, by channel and reason (budget: the requester exceeded its budget; backlog: the queue was full)",
  labelNames: ["channel", "reason"],
};

/** Fabric's `StateMetrics`, and our rejection count; every channel of a peer shares them, labelled by channel. */
export interface StateMetrics {
  /** Ledger height after each commit. */
  height: GaugeMetric<"channel">;
  /** Seconds per commit (Fabric observes `time.Since(t).Seconds()`). */
  commitDuration: HistogramMetric<"channel">;
  /** Size of the re-ordering buffer after each push and pop. */
  payloadBufferSize: GaugeMetric<"channel">;
  /** Blocks refused, by reason. */
  rejected: CounterMetric<"channel" | "reason">;
  /** State requests dropped unserved, by reason. */
  requestsDropped: CounterMetric<"channel" | "reason">;
}

/** The state metrics from `metrics`, created once per provider (get-or-create) and shared by its channels. */
export function createStateMetrics(metrics: MetricsProvider): StateMetrics {
  return {
    height: metrics.gauge(GOSSIP_STATE_HEIGHT),
    commitDuration: metrics.histogram(GOSSIP_STATE_COMMIT_DURATION),
    payloadBufferSize: metrics.gauge(GOSSIP_PAYLOAD_BUFFER_SIZE),
    rejected: metrics.counter(STATE_BLOCKS_REJECTED),
    requestsDropped: metrics.counter(STATE_REQUESTS_DROPPED),
  };
}
