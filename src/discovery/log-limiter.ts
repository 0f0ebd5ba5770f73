import type { LogFields, Logger } from "../logging/index.js";
import type { CounterMetric } from "../metrics/index.js";
import type { Clock } from "../util/index.js";

/** Lines one (code, origin) key may log per window. */
export const LOG_LINES_PER_KEY_PER_WINDOW = 3;
/** Lines all keys together may log per window (the summary line not counted). */
export const LOG_LINES_PER_WINDOW = 20;
/** The limiter's window. */
export const LOG_WINDOW_MS = 60_000;
/** Keys named in a summary line. */
const SUMMARY_KEYS = 10;

/**
 * The one rate limiter of discovery's log lines caused by remote input (bad or badly signed alive
 * messages, members that went silent or expired, limits reached). Not in Fabric, which logs each.
 *
 * Lines are keyed by a code and an origin: the org of the remote member (or its PKI-ID when the org
 * is unknown), never a connection's address or port, so 1,000 identities minted by one CA share a
 * key. Per window (the clock's minutes) a key logs at most LOG_LINES_PER_KEY_PER_WINDOW lines and all keys together
 * at most LOG_LINES_PER_WINDOW; what is held back is counted in a metric by code and told in one
 * summary line ("N more discovery log lines like these in the last minute") early in the next one.
 * So a flood of any kind costs at most LOG_LINES_PER_WINDOW + 1 lines per minute of the clock. Typed events and
 * metrics are not affected: callers emit them for every occurrence.
 */
export class DiscoveryLogLimiter {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #suppressedMetric: CounterMetric<"code">;
  /** The current window: floor(clock.monotonic() / LOG_WINDOW_MS). */
  #window: number | undefined;
  #lines = 0;
  readonly #perKey = new Map<string, number>();
  readonly #suppressed = new Map<string, number>();
  #suppressedTotal = 0;

  constructor(logger: Logger, clock: Clock, suppressedMetric: CounterMetric<"code">) {
    this.#logger = logger;
    this.#clock = clock;
    this.#suppressedMetric = suppressedMetric;
  }

  warn(code: string, origin: string, msg: string, fields?: LogFields): void {
    if (this.#admit(code, origin)) this.#logger.warn(msg, { code, ...fields });
  }

  info(code: string, origin: string, msg: string, fields?: LogFields): void {
    if (this.#admit(code, origin)) this.#logger.info(msg, { code, ...fields });
  }

  /** Closes the window when it has run out, logging the summary of what it held back. Call it periodically. */
  flush(): void {
    const window = this.#window;
    if (window === undefined || this.#currentWindow() === window) return;
    if (this.#suppressedTotal > 0) {
      const top = [...this.#suppressed.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, SUMMARY_KEYS)
        .map(([key, n]) => `${key}=${n}`)
        .join(", ");
      this.#logger.warn(`${this.#suppressedTotal} more discovery log lines like these in the last minute`, {
        suppressed: this.#suppressedTotal,
        byCodeAndOrigin: top,
      });
    }
    this.#window = undefined;
    this.#lines = 0;
    this.#perKey.clear();
    this.#suppressed.clear();
    this.#suppressedTotal = 0;
  }

  #admit(code: string, origin: string): boolean {
    this.flush();
    this.#window ??= this.#currentWindow();
    const key = `${code}@${origin}`;
    const used = this.#perKey.get(key) ?? 0;
    if (used < LOG_LINES_PER_KEY_PER_WINDOW && this.#lines < LOG_LINES_PER_WINDOW) {
      this.#perKey.set(key, used + 1);
      this.#lines++;
      return true;
    }
    this.#suppressedMetric.inc({ code });
    this.#suppressedTotal++;
    // Bounded: past the cap a new key is counted under one catch-all entry.
    const slot = this.#suppressed.has(key) || this.#suppressed.size < 1_000 ? key : `${code}@(other)`;
    this.#suppressed.set(slot, (this.#suppressed.get(slot) ?? 0) + 1);
    return false;
  }

  #currentWindow(): number {
    return Math.floor(this.#clock.monotonic() / LOG_WINDOW_MS);
  }
}
