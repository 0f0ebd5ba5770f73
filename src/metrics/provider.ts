import type { CounterSpec, GaugeSpec, HistogramSpec } from "./registry.js";

/** Label values of one series; a label left out is absent from the series (as in prom-client). */
export type Labels<L extends string = string> = Partial<Record<L, string | number>>;

/** A monotonically increasing count (Fabric's `metrics.Counter`). */
export interface CounterMetric<L extends string = string> {
  /** Adds `value` (default 1, never negative) to the series of `labels`. */
  inc(labels: Labels<L>, value?: number): void;
  /** Adds `value` (default 1, never negative) to the unlabelled series. */
  inc(value?: number): void;
}

/** A value that goes up and down (Fabric's `metrics.Gauge`). */
export interface GaugeMetric<L extends string = string> {
  set(labels: Labels<L>, value: number): void;
  set(value: number): void;
  inc(labels: Labels<L>, value?: number): void;
  inc(value?: number): void;
  dec(labels: Labels<L>, value?: number): void;
  dec(value?: number): void;
}

/** A distribution of observed values, seconds for durations (Fabric's `metrics.Histogram`). */
export interface HistogramMetric<L extends string = string> {
  observe(labels: Labels<L>, value: number): void;
  observe(value: number): void;
}

/**
 * Where components get their metrics (Fabric's `metrics.Provider`): each metric is created from its
 * one spec constant, and asking again with the same spec returns the same metric (get-or-create), so
 * the channels of a peer share one metric labelled by channel. Implementations: `promMetricsProvider`
 * (a prom-client Registry, for real peers and their /metrics) and `memoryMetricsProvider` (plain
 * numbers, for the simulator's hundreds of peers).
 * @throws MetricsError METRIC_CONFLICT (from each method) when a metric of that name exists with another type, labels or help.
 */
export interface MetricsProvider {
  counter<L extends string>(spec: CounterSpec<L>): CounterMetric<L>;
  gauge<L extends string>(spec: GaugeSpec<L>): GaugeMetric<L>;
  histogram<L extends string>(spec: HistogramSpec<L>): HistogramMetric<L>;
}
