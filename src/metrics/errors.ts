import { GossipError } from "../util/errors.js";

/** Stable codes of metric registration failures. */
export type MetricsErrorCode = "METRIC_CONFLICT";

/**
 * A metric could not be registered: the registry already holds one of that name with another type,
 * other label names or another help text (two sources of truth for one metric). A programming error,
 * raised at construction time, never for remote input.
 */
export class MetricsError extends GossipError {
  declare readonly code: MetricsErrorCode;

  constructor(code: MetricsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
