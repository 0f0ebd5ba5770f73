import type { Clock, TimerHandle } from "./clock.js";
import { sleepOn } from "./clock.js";

interface ScheduledTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * Virtual time. Nothing happens until `advance()`; timers fire in (time, scheduling order) order,
 * and pending promise callbacks are drained between timers, so a run is reproducible.
 */
export class ManualClock implements Clock {
  #nowMs: number;
  #seq = 0;
  #timers: ScheduledTimer[] = [];

  /** @param startMs the wall-clock time the virtual clock starts at (ms since the epoch). */
  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
  }

  now(): number {
    return Math.floor(this.#nowMs);
  }

  nowNs(): bigint {
    // Split so the float's rounding error at epoch scale does not reach the nanoseconds.
    const whole = Math.floor(this.#nowMs);
    return BigInt(whole) * 1_000_000n + BigInt(Math.round((this.#nowMs - whole) * 1_000_000));
  }

  monotonic(): number {
    return this.#nowMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ScheduledTimer = { at: this.#nowMs + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#insert(timer);
    return {
      cancel: () => {
        if (timer.cancelled) return;
        timer.cancelled = true;
        const i = this.#timers.indexOf(timer);
        if (i >= 0) this.#timers.splice(i, 1);
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers scheduled and neither fired nor cancelled. */
  pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.#nowMs + ms);
  }

  /** Moves time forward to `targetMs`, firing every timer due on the way. */
  async advanceTo(targetMs: number): Promise<void> {
    await flushMicrotasks();
    for (;;) {
      const next = this.#timers[0];
      if (next === undefined || next.at > targetMs) break;
      this.#timers.shift();
      this.#nowMs = Math.max(this.#nowMs, next.at);
      next.cancelled = true;
      next.fn();
      await flushMicrotasks();
    }
    this.#nowMs = Math.max(this.#nowMs, targetMs);
  }

  /** Fires timers one by one until none is left or `limitMs` of virtual time has passed. */
  async runAll(limitMs = 3_600_000): Promise<void> {
    await this.advanceTo(this.#nowMs + limitMs);
  }

  #insert(timer: ScheduledTimer): void {
    // Binary search keeps the queue sorted by (at, seq) without re-sorting on every insert.
    let lo = 0;
    let hi = this.#timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.#timers[mid]!;
      if (t.at < timer.at || (t.at === timer.at && t.seq < timer.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.#timers.splice(lo, 0, timer);
  }
}

/** Lets every already-queued promise continuation run (a macrotask boundary). */
export function flushMicrotasks(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
