import { MetricsError } from "./errors.js";
import type { CounterMetric, GaugeMetric, HistogramMetric, Labels, MetricsProvider } from "./provider.js";
import { type CounterSpec, type GaugeSpec, type HistogramSpec, type MetricSpec, conflictError } from "./registry.js";

/** One labelled series of a memory metric: its label values as strings, its value, and for histograms the sum. */
export interface MemorySeries {
  readonly labels: Readonly<Record<string, string>>;
  /** Counter or gauge value; a histogram's observation count. */
  readonly value: number;
  /** A histogram's sum of observed values; 0 for counters and gauges. */
  readonly sum: number;
}

/** A MetricsProvider that keeps plain numbers and can be read back: the simulator's, and tests'. */
export interface MemoryMetricsProvider extends MetricsProvider {
  /**
   * The total of metric `name` over its series whose labels include `labels` (all of them when
   * absent): with every label given, the one series' value. A histogram's value is its
   * observation count. 0 when no series matches or the metric was never created.
   */
  value(name: string, labels?: Labels): number;
  /** A histogram's observation count and sum over its series whose labels include `labels`. */
  observations(name: string, labels?: Labels): { count: number; sum: number };
  /** Every series of metric `name` (empty when it was never created). */
  series(name: string): readonly MemorySeries[];
}

class Series implements MemorySeries {
  value = 0;
  sum = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}
}

/** The labels of a value given without any. */
const NO_LABELS: Labels = Object.freeze({});

/** First argument of inc/set/observe: labels, or the value of the unlabelled series. */
type LabelsOrValue = Labels | number | undefined;

/**
 * One metric: a Map from label values to a series. Implements all three metric interfaces, since a
 * spec's type decides which methods its users can reach; updates are a map lookup and an add.
 */
class MemoryMetric implements CounterMetric, GaugeMetric, HistogramMetric {
  readonly #series = new Map<string, Series>();
  readonly #unlabelled: Series | undefined;

  constructor(readonly spec: MetricSpec) {
    if (spec.labelNames.length === 0) {
      this.#unlabelled = new Series({});
      this.#series.set("", this.#unlabelled);
    }
  }

  #at(labels: Labels): Series {
    const names = this.spec.labelNames;
    if (this.#unlabelled !== undefined) return this.#unlabelled;
    // "\u0000" joins values; "\u0001" marks a label left out, so it differs from an empty value.
    let key = "";
    for (const n of names) {
      const v = labels[n];
      key += v === undefined ? "\u0001\u0000" : `${v}\u0000`;
    }
    let s = this.#series.get(key);
    if (s === undefined) {
      const own: Record<string, string> = {};
      for (const n of names) {
        const v = labels[n];
        if (v !== undefined) own[n] = String(v);
      }
      s = new Series(own);
      this.#series.set(key, s);
    }
    return s;
  }

  /**
   * Splits (labels?, value?) as prom-client does: a number first is the value of the unlabelled series.
   * Two functions rather than one returning a pair: metrics are updated on every message, and a pair
   * is an allocation each time.
   */
  #seriesOf(a: LabelsOrValue): Series {
    return typeof a === "number" || a === undefined ? this.#at(NO_LABELS) : this.#at(a);
  }

  #valueOf(a: LabelsOrValue, b: number | undefined, dflt: number): number {
    if (typeof a === "number") return a;
    return a === undefined ? dflt : (b ?? dflt);
  }

  inc(a?: LabelsOrValue, b?: number): void {
    const v = this.#valueOf(a, b, 1);
    if (this.spec.type === "counter" && v < 0) {
      throw new MetricsError("NEGATIVE_INCREMENT", `counter ${this.spec.name} cannot be increased by ${v}: counters only go up`);
    }
    this.#seriesOf(a).value += v;
  }

  dec(a?: LabelsOrValue, b?: number): void {
    this.#seriesOf(a).value -= this.#valueOf(a, b, 1);
  }

  set(a: LabelsOrValue, b?: number): void {
    this.#seriesOf(a).value = this.#valueOf(a, b, 0);
  }

  observe(a: LabelsOrValue, b?: number): void {
    const s = this.#seriesOf(a);
    s.value += 1;
    s.sum += this.#valueOf(a, b, 0);
  }

  matching(labels: Labels | undefined): Series[] {
    const out: Series[] = [];
    const wanted = labels === undefined ? [] : Object.entries(labels).filter(([, v]) => v !== undefined);
    for (const s of this.#series.values()) {
      if (wanted.every(([k, v]) => s.labels[k] === String(v))) out.push(s);
    }
    return out;
  }
}

function sameSpec(a: MetricSpec, b: MetricSpec): boolean {
  return a.type === b.type && a.help === b.help && a.labelNames.length === b.labelNames.length && a.labelNames.every((l, i) => l === b.labelNames[i]);
}

/**
 * The simulator's provider: every metric is a few numbers in Maps, no prom-client objects (no
 * exposition, no histogram buckets: a count and a sum), because a simulation builds hundreds of
 * peers, each incarnation with its own metrics, and only ever reads a few counters back. Same
 * get-or-create and conflict check as `promMetricsProvider`.
 */
export function memoryMetricsProvider(): MemoryMetricsProvider {
  const metrics = new Map<string, MemoryMetric>();
  const of = (spec: CounterSpec | GaugeSpec | HistogramSpec): MemoryMetric => {
    const found = metrics.get(spec.name);
    if (found === undefined) {
      const m = new MemoryMetric(spec);
      metrics.set(spec.name, m);
      return m;
    }
    if (!sameSpec(found.spec, spec)) throw conflictError(spec, found.spec.type, found.spec.labelNames, found.spec.help);
    return found;
  };
  return {
    counter: (spec) => of(spec),
    gauge: (spec) => of(spec),
    histogram: (spec) => of(spec),
    value: (name, labels) => (metrics.get(name)?.matching(labels) ?? []).reduce((total, s) => total + s.value, 0),
    observations(name: string, labels?: Labels): { count: number; sum: number } {
      let count = 0;
      let sum = 0;
      for (const s of metrics.get(name)?.matching(labels) ?? []) {
        count += s.value;
        sum += s.sum;
      }
      return { count, sum };
    },
    series: (name) => [...(metrics.get(name)?.matching(undefined) ?? [])],
  };
}
