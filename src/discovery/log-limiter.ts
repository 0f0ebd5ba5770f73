import {
  type Logger,
  REMOTE_LOG_LINES_PER_KEY,
  REMOTE_LOG_LINES_PER_WINDOW,
  REMOTE_LOG_WINDOW_MS,
  RemoteLogLimiter,
} from "../logging/index.js";
import type { CounterMetric } from "../metrics/index.js";
import type { Clock } from "../util/index.js";

/** Lines one (code, origin) key may log per window. */
export const LOG_LINES_PER_KEY_PER_WINDOW = REMOTE_LOG_LINES_PER_KEY;
/** Lines all keys together may log per window (the summary line not counted). */
export const LOG_LINES_PER_WINDOW = REMOTE_LOG_LINES_PER_WINDOW;
/** The limiter's window. */
export const LOG_WINDOW_MS = REMOTE_LOG_WINDOW_MS;

/**
 * The one rate limiter of discovery's log lines caused by remote input (bad or badly signed alive
 * messages, members that went silent or expired, limits reached): logging's RemoteLogLimiter with
 * discovery's metric. Not in Fabric, which logs each.
 *
 * Lines are keyed by a code and an origin: the org of the remote member (or its PKI-ID when the org
 * is unknown), never a connection's address or port, so 1,000 identities minted by one CA share a
 * key. What is held back is counted by code and summarised ("N more discovery log lines like these
 * in the last minute"); discovery flushes it on its alive-expiration check.
 */
export class DiscoveryLogLimiter extends RemoteLogLimiter {
  constructor(logger: Logger, clock: Clock, suppressedMetric: CounterMetric<"code">) {
    super(logger, clock, "discovery", (code) => suppressedMetric.inc({ code }));
  }
}
