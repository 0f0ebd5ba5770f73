import type { Clock } from "../util/index.js";
import type { LogFields, Logger } from "./logger.js";

/** How a {@link RemoteLogLimiter} bounds its lines. */
export interface RemoteLogLimits {
  /** Lines one (code, origin) key may log per window. */
  perKey: number;
  /** Lines all keys together may log per window (the summary line not counted). */
  total: number;
  /** The window, in ms of the clock's monotonic time. */
  windowMs: number;
}

/** Lines one (code, origin) key may log per window by default. */
export const REMOTE_LOG_LINES_PER_KEY = 3;
/** Lines all keys together may log per window by default. */
export const REMOTE_LOG_LINES_PER_WINDOW = 20;
/** The default window: a minute. */
export const REMOTE_LOG_WINDOW_MS = 60_000;
/** Keys named in a summary line. */
const SUMMARY_KEYS = 10;
/** Distinct keys remembered per window; past it new keys share one catch-all entry per code. */
const MAX_KEYS = 1_000;

/**
 * A rate limiter for log lines caused by remote input, so that no flood of any kind drives the
 * log (Fabric logs each). Lines are keyed by a code and an origin chosen by the caller: a remote
 * org, PKI-ID or IP address, never a port, so a new connection per attempt shares its key.
 *
 * Per window a key logs at most `perKey` lines and all keys together at most `total`; what is held
 * back is reported to `onSuppressed` (a metric by code) and told in one summary line ("N more
 * <what> log lines like these in the last minute") when the window has run out: at the next line
 * or the next {@link flush}, which owners call periodically. A flood thus costs at most `total` + 1
 * lines per window. Typed events and metrics are not affected: callers emit them for every occurrence.
 */
export class RemoteLogLimiter {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #what: string;
  readonly #limits: RemoteLogLimits;
  readonly #onSuppressed: (code: string) => void;
  #window: number | undefined;
  #lines = 0;
  readonly #perKey = new Map<string, number>();
  readonly #suppressed = new Map<string, number>();
  #suppressedTotal = 0;

  /**
   * @param what names the lines in the summary ("discovery", "comm").
   * @param onSuppressed is called with the code of each line held back.
   */
  constructor(
    logger: Logger,
    clock: Clock,
    what: string,
    onSuppressed: (code: string) => void = () => undefined,
    limits: Partial<RemoteLogLimits> = {},
  ) {
    this.#logger = logger;
    this.#clock = clock;
    this.#what = what;
    this.#onSuppressed = onSuppressed;
    this.#limits = {
      perKey: limits.perKey ?? REMOTE_LOG_LINES_PER_KEY,
      total: limits.total ?? REMOTE_LOG_LINES_PER_WINDOW,
      windowMs: limits.windowMs ?? REMOTE_LOG_WINDOW_MS,
    };
  }

  warn(code: string, origin: string, msg: string, fields?: LogFields): void {
    if (this.#admit(code, origin)) this.#logger.warn(msg, { code, ...fields });
  }

  error(code: string, origin: string, msg: string, fields?: LogFields): void {
    if (this.#admit(code, origin)) this.#logger.error(msg, { code, ...fields });
  }

  info(code: string, origin: string, msg: string, fields?: LogFields): void {
    if (this.#admit(code, origin)) this.#logger.info(msg, { code, ...fields });
  }

  /** Lines held back in the current window (for tests and the admin view). */
  get suppressedInWindow(): number {
    return this.#suppressedTotal;
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
      const span = this.#limits.windowMs === 60_000 ? "minute" : `${this.#limits.windowMs} ms`;
      this.#logger.warn(`${this.#suppressedTotal} more ${this.#what} log lines like these in the last ${span}`, {
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
    if (used < this.#limits.perKey && this.#lines < this.#limits.total) {
      // Bounded: past the cap, keys are not remembered and the global ceiling alone applies.
      if (this.#perKey.size < MAX_KEYS || this.#perKey.has(key)) this.#perKey.set(key, used + 1);
      this.#lines++;
      return true;
    }
    this.#onSuppressed(code);
    this.#suppressedTotal++;
    const slot = this.#suppressed.has(key) || this.#suppressed.size < MAX_KEYS ? key : `${code}@(other)`;
    this.#suppressed.set(slot, (this.#suppressed.get(slot) ?? 0) + 1);
    return false;
  }

  #currentWindow(): number {
    return Math.floor(this.#clock.monotonic() / this.#limits.windowMs);
  }
}

/**
 * The origin key of a remote address: its host without the port ("10.0.0.7:51234" → "10.0.0.7",
 * "[::1]:7051" → "::1"), so a new connection per attempt shares one key.
 */
export function addressOrigin(address: string): string {
  if (address.startsWith("[")) {
    const end = address.indexOf("]");
    return end > 0 ? address.slice(1, end) : address;
  }
  const colon = address.lastIndexOf(":");
  // More than one colon without brackets is a bare IPv6 address.
  if (colon <= 0 || address.indexOf(":") !== colon) return address;
  return address.slice(0, colon);
}
