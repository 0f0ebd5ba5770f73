import type { Clock } from "../util/index.js";
import type { LogFields, Logger } from "./logger.js";

/**
 * Logs a warning at most once per (key, interval): a peer that floods us with bad input gets one
 * line per interval, not one per message.
 */
export class RateLimitedLog {
  readonly #last = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly intervalMs = 60_000,
  ) {}

  warn(key: string, msg: string, fields?: LogFields): void {
    const now = this.clock.monotonic();
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.intervalMs) return;
    if (this.#last.size > 10_000) this.#last.clear();
    this.#last.set(key, now);
    this.logger.warn(msg, fields);
  }
}
