import type { Clock, TimerHandle } from "./clock.js";
import { sleepOn } from "./clock.js";

/** Real time. Timers are counted so tests can assert that nothing is left after stop(). */
export class SystemClock implements Clock {
  #pending = new Set<NodeJS.Timeout>();

  now(): number {
    return Date.now();
  }

  nowNs(): bigint {
    // Date.now() has millisecond resolution; add the sub-millisecond part of hrtime so that two
    // processes started in the same millisecond still get distinct inc_num values.
    const subMs = process.hrtime.bigint() % 1_000_000n;
    return BigInt(Date.now()) * 1_000_000n + subMs;
  }

  monotonic(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = setTimeout(() => {
      this.#pending.delete(handle);
      fn();
    }, Math.max(0, ms));
    this.#pending.add(handle);
    return {
      cancel: () => {
        clearTimeout(handle);
        this.#pending.delete(handle);
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers scheduled and neither fired nor cancelled. */
  pendingTimers(): number {
    return this.#pending.size;
  }
}
