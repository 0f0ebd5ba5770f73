import type { Clock, TimerHandle } from "./clock.js";
import { sleepOn } from "./clock.js";

/** The longest delay Node's setTimeout honours. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

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
    // Node fires delays above 2^31-1 ms (about 24.8 days) at once: step towards far deadlines.
    const deadline = performance.now() + Math.max(0, ms);
    let handle: NodeJS.Timeout;
    const arm = (delay: number): void => {
      const capped = delay > MAX_TIMER_DELAY_MS;
      handle = setTimeout(() => {
        this.#pending.delete(handle);
        if (capped) arm(Math.max(0, deadline - performance.now()));
        else fn();
      }, capped ? MAX_TIMER_DELAY_MS : delay);
      this.#pending.add(handle);
    };
    arm(Math.max(0, ms));
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
