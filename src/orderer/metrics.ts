import type { CounterMetric, CounterSpec, GaugeMetric, GaugeSpec, MetricsProvider } from "../metrics/index.js";

/** Fabric's orderer (and peer) ledger gauge `ledger_blockchain_height`: blocks in each channel's chain. */
export const ORDERER_LEDGER_HEIGHT: GaugeSpec<"channel"> = {
  name: "ledger_blockchain_height",
  type: "gauge",
  help: "Height of the chain in blocks.",
  labelNames: ["channel"],
};
/** Ours: blocks cut from broadcast envelopes and persisted, by channel. */
export const ORDERER_BLOCKS_CUT: CounterSpec<"channel"> = {
  name: "fabric_gossip_orderer_blocks_total",
  type: "counter",
  help: "Blocks cut from broadcast envelopes and persisted",
  labelNames: ["channel"],
};
/** Ours: envelopes ordered into persisted blocks, by channel. */
export const ORDERER_TRANSACTIONS_ORDERED: CounterSpec<"channel"> = {
  name: "fabric_gossip_orderer_transactions_total",
  type: "counter",
  help: "Envelopes ordered into persisted blocks",
  labelNames: ["channel"],
};

/** The ordering service's metrics, labelled by channel. */
export interface OrdererMetrics {
  /** Set when a chain opens and after each block is persisted. */
  height: GaugeMetric<"channel">;
  blocksCut: CounterMetric<"channel">;
  txsOrdered: CounterMetric<"channel">;
}

/** The orderer metrics from `metrics`, created once per provider (get-or-create). */
export function createOrdererMetrics(metrics: MetricsProvider): OrdererMetrics {
  return {
    height: metrics.gauge(ORDERER_LEDGER_HEIGHT),
    blocksCut: metrics.counter(ORDERER_BLOCKS_CUT),
    txsOrdered: metrics.counter(ORDERER_TRANSACTIONS_ORDERED),
  };
}
