import { Counter, Registry } from "prom-client";

export { Registry, Counter, Gauge, Histogram } from "prom-client";

/** One registry per peer: many peers share a process in tests and in the simulator. */
export function createRegistry(): Registry {
  return new Registry();
}

/** A counter registered on `registry`, or the one already there under that name. */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}
