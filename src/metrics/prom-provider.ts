import type { Registry } from "prom-client";
import type { MetricsProvider } from "./provider.js";
import { counterOf, gaugeOf, histogramOf } from "./registry.js";

/** A MetricsProvider over a prom-client Registry; the registry is what /metrics serves. */
export interface PromMetricsProvider extends MetricsProvider {
  readonly registry: Registry;
}

/**
 * The provider of a real peer: each metric is a prom-client Counter, Gauge or Histogram on `registry`,
 * got or created from its spec (name, type, help and label names exactly as the spec says, so the
 * exposition is the same whichever component creates a metric first). Several providers over one
 * registry share its metrics.
 */
export function promMetricsProvider(registry: Registry): PromMetricsProvider {
  return {
    registry,
    counter: (spec) => counterOf(registry, spec),
    gauge: (spec) => gaugeOf(registry, spec),
    histogram: (spec) => histogramOf(registry, spec),
  };
}
