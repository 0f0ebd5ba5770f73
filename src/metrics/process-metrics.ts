import { collectDefaultMetrics, type Registry } from "prom-client";

const withProcessMetrics = new WeakSet<Registry>();

/**
 * Adds the process and Node.js runtime metrics (prom-client's defaults: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_open_fds, nodejs_eventloop_lag_seconds, nodejs_heap_size_used_bytes,
 * nodejs_gc_duration_seconds, ...) to `registry`, as Fabric's operations endpoint serves go_* and process_*
 * beside its own. Once per registry; meant for a peer that owns its process (a CLI peer), since the collectors
 * observe the whole process and are never removed.
 */
export function registerProcessMetrics(registry: Registry): void {
  if (withProcessMetrics.has(registry)) return;
  withProcessMetrics.add(registry);
  collectDefaultMetrics({ register: registry });
}
