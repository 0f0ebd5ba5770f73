import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { MetricsError } from "./errors.js";

/** The Prometheus exposition type of a metric. */
export type MetricType = "counter" | "gauge" | "histogram";

/**
 * A metric's definition: the one source of truth for its name, type, help and label names, shared by
 * the component that updates it and by `registerFabricGossipMetrics` (Fabric's `metrics.CounterOpts`,
 * `GaugeOpts`, `HistogramOpts`, with the Prometheus name already joined as `namespace_subsystem_name`).
 */
export interface MetricSpec<L extends string = string> {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labelNames: readonly L[];
}

export interface CounterSpec<L extends string = string> extends MetricSpec<L> {
  readonly type: "counter";
}

export interface GaugeSpec<L extends string = string> extends MetricSpec<L> {
  readonly type: "gauge";
}

export interface HistogramSpec<L extends string = string> extends MetricSpec<L> {
  readonly type: "histogram";
  /** Upper bounds of the buckets. Default: PROMETHEUS_DEFAULT_BUCKETS. */
  readonly buckets?: readonly number[];
}

/**
 * Prometheus' default histogram buckets in seconds (client_golang's `prometheus.DefBuckets`). Fabric's
 * gossip histograms set no `Buckets`, so its Prometheus provider uses these; prom-client's defaults are
 * the same values, and we pass them explicitly so a prom-client change cannot move them.
 */
export const PROMETHEUS_DEFAULT_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** One registry per peer: many peers share a process in tests and in the simulator. */
export function createRegistry(): Registry {
  return new Registry();
}

/** What prom-client keeps on every metric object at run time (not in its typings). */
interface MetricShape {
  readonly help?: string;
  readonly labelNames?: readonly string[];
}

function typeOf(metric: unknown): MetricType | "other" {
  if (metric instanceof Counter) return "counter";
  if (metric instanceof Gauge) return "gauge";
  if (metric instanceof Histogram) return "histogram";
  return "other";
}

/** The metric already registered under spec.name, after checking it is the same metric; undefined when there is none. */
function existing(registry: Registry, spec: MetricSpec): unknown {
  const found: unknown = registry.getSingleMetric(spec.name);
  if (found === undefined) return undefined;
  const shape = found as MetricShape;
  const type = typeOf(found);
  const labels = [...(shape.labelNames ?? [])];
  const sameLabels = labels.length === spec.labelNames.length && labels.every((l, i) => l === spec.labelNames[i]);
  if (type !== spec.type || !sameLabels || shape.help !== spec.help) throw conflictError(spec, type, labels, shape.help);
  return found;
}

/** METRIC_CONFLICT: `spec.name` already exists as another metric (shared by both providers, so the message is the same). */
export function conflictError(spec: MetricSpec, type: string, labels: readonly string[], help: string | undefined): MetricsError {
  return new MetricsError(
    "METRIC_CONFLICT",
    `metric ${spec.name} is already registered as a ${type} with labels [${labels.join(", ")}] and help ${JSON.stringify(help)}; ` +
      `wanted a ${spec.type} with labels [${spec.labelNames.join(", ")}] and help ${JSON.stringify(spec.help)}: define each metric once and create it from that definition`,
  );
}

/** The counter `spec` on `registry`: the one already there (checked to match), or a new one. */
export function counterOf<L extends string>(registry: Registry, spec: CounterSpec<L>): Counter<L> {
  const found = existing(registry, spec);
  if (found !== undefined) return found as Counter<L>;
  return new Counter<L>({ name: spec.name, help: spec.help, labelNames: spec.labelNames, registers: [registry] });
}

/** The gauge `spec` on `registry`: the one already there (checked to match), or a new one. */
export function gaugeOf<L extends string>(registry: Registry, spec: GaugeSpec<L>): Gauge<L> {
  const found = existing(registry, spec);
  if (found !== undefined) return found as Gauge<L>;
  return new Gauge<L>({ name: spec.name, help: spec.help, labelNames: spec.labelNames, registers: [registry] });
}

/** The histogram `spec` on `registry`: the one already there (checked to match), or a new one. */
export function histogramOf<L extends string>(registry: Registry, spec: HistogramSpec<L>): Histogram<L> {
  const found = existing(registry, spec);
  if (found !== undefined) return found as Histogram<L>;
  return new Histogram<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    buckets: [...(spec.buckets ?? PROMETHEUS_DEFAULT_BUCKETS)],
    registers: [registry],
  });
}

/** Any metric spec, made sure to exist on `registry` (get-or-create). */
export function ensureMetric(registry: Registry, spec: CounterSpec | GaugeSpec | HistogramSpec): void {
  if (spec.type === "counter") counterOf(registry, spec);
  else if (spec.type === "gauge") gaugeOf(registry, spec);
  else histogramOf(registry, spec);
}
