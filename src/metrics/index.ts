/** Metric definitions and get-or-create helpers over prom-client (one Registry per peer). */
export { Registry, Counter, Gauge, Histogram } from "prom-client";
export {
  type MetricType,
  type MetricSpec,
  type CounterSpec,
  type GaugeSpec,
  type HistogramSpec,
  PROMETHEUS_DEFAULT_BUCKETS,
  createRegistry,
  counter,
  counterOf,
  gaugeOf,
  histogramOf,
  ensureMetric,
} from "./registry.js";
export { MetricsError, type MetricsErrorCode } from "./errors.js";
// Fabric's 17 gossip metrics: every export of the table (specs, lists, registerFabricGossipMetrics).
export * from "./fabric-metrics.js";
