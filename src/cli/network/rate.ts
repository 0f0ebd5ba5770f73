/** Default window of a `RateMeter`. */
export const RATE_WINDOW_MS = 5_000;

/**
 * A rate over a sliding window from samples of a growing counter (e.g. a ledger height): the
 * counter's increase across the samples in the window, per second.
 */
export class RateMeter {
  readonly #windowMs: number;
  readonly #samples: { time: number; value: number }[] = [];

  constructor(windowMs = RATE_WINDOW_MS) {
    this.#windowMs = windowMs;
  }

  /** Records the counter's `value` at `time` (ms). */
  sample(time: number, value: number): void {
    this.#samples.push({ time, value });
    // Keep one sample older than the window, so the window is fully covered.
    while (this.#samples.length > 2 && this.#samples[1]!.time <= time - this.#windowMs) this.#samples.shift();
  }

  /** Increase per second over the window; 0 before two samples. */
  perSecond(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (first === undefined || last === undefined || last.time <= first.time) return 0;
    return ((last.value - first.value) * 1000) / (last.time - first.time);
  }
}
