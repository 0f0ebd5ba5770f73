import { Gauge, Histogram, type Registry } from "../metrics/index.js";

/** Fabric's state metric names (`gossip/metrics/metrics.go` StateMetrics). */
export const STATE_HEIGHT_METRIC = "gossip_state_height";
export const STATE_COMMIT_DURATION_METRIC = "gossip_state_commit_duration";
export const PAYLOAD_BUFFER_SIZE_METRIC = "gossip_payload_buffer_size";

/** The state metrics; every channel of a peer shares them, labelled by channel. */
export interface StateMetrics {
  /** Ledger height after each commit. */
  height: Gauge<"channel">;
  /** Seconds per commit. */
  commitDuration: Histogram<"channel">;
  /** Size of the re-ordering buffer after each push and pop. */
  payloadBufferSize: Gauge<"channel">;
}

/** The state metrics on `registry`, created once per registry and shared by its channels. */
export function createStateMetrics(registry: Registry): StateMetrics {
  const gauge = (name: string, help: string): Gauge<"channel"> =>
    (registry.getSingleMetric(name) as Gauge<"channel"> | undefined) ??
    new Gauge<"channel">({ name, help, labelNames: ["channel"], registers: [registry] });
  const commitDuration =
    (registry.getSingleMetric(STATE_COMMIT_DURATION_METRIC) as Histogram<"channel"> | undefined) ??
    new Histogram<"channel">({
      name: STATE_COMMIT_DURATION_METRIC,
      help: "Time it takes to commit a block in seconds",
      labelNames: ["channel"],
      registers: [registry],
    });
  return {
    height: gauge(STATE_HEIGHT_METRIC, "Current ledger height"),
    commitDuration,
    payloadBufferSize: gauge(PAYLOAD_BUFFER_SIZE_METRIC, "Size of the payload buffer"),
  };
}
