import type { CounterMetric, CounterSpec, MetricsProvider } from "../../metrics/index.js";

/** Ours (Fabric only logs these): messages the node itself refused, by reason (ILLEGAL_TAG, BAD_STATE_INFO, ...). */
export const NODE_REJECTED: CounterSpec<"reason"> = {
  name: "fabric_gossip_node_rejected_total",
  type: "counter",
  help: "Messages the node refused, by reason",
  labelNames: ["reason"],
};

/** The node's own metrics; comm, discovery and the channels create theirs from the same provider. */
export interface NodeMetrics {
  rejected: CounterMetric<"reason">;
}

/** The node metrics from `metrics`, created once per provider (get-or-create). */
export function createNodeMetrics(metrics: MetricsProvider): NodeMetrics {
  return { rejected: metrics.counter(NODE_REJECTED) };
}
