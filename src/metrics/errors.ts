import { GossipError } from "../util/index.js";

/**
 * Stable codes of metric failures: METRIC_CONFLICT when registering; NEGATIVE_INCREMENT when a counter
 * of the memory provider is asked to go down (prom-client refuses that too).
 */
export type MetricsErrorCode = "METRIC_CONFLICT" | "NEGATIVE_INCREMENT";

/**
 * A metric could not be registered (the registry already holds one of that name with another type,
 * other label names or another help text: two sources of truth for one metric) or updated (a counter
 * decreased). A programming error, never raised for remote input.
 */
export class MetricsError extends GossipError {
  declare readonly code: MetricsErrorCode;

  constructor(code: MetricsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
