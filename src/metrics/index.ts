/** Metric definitions, the MetricsProvider interface, and its prom-client and in-memory implementations. */
export { Registry, Counter, Gauge, Histogram } from "prom-client";
export { registerProcessMetrics } from "./process-metrics.js";
export {
  type MetricType,
  type MetricSpec,
  type CounterSpec,
  type GaugeSpec,
  type HistogramSpec,
  PROMETHEUS_DEFAULT_BUCKETS,
  createRegistry,
  counterOf,
  gaugeOf,
  histogramOf,
  ensureMetric,
} from "./registry.js";
export { MetricsError, type MetricsErrorCode } from "./errors.js";
// The provider components create their metrics from (Fabric's metrics.Provider) and its two implementations.
export type { MetricsProvider, CounterMetric, GaugeMetric, HistogramMetric, Labels } from "./provider.js";
export { type PromMetricsProvider, promMetricsProvider } from "./prom-provider.js";
export { type MemoryMetricsProvider, type MemorySeries, memoryMetricsProvider } from "./memory-provider.js";
// Fabric's 17 gossip metrics: every export of the table (specs, lists, registerFabricGossipMetrics).
export * from "./fabric-metrics.js";
