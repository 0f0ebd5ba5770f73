import type { Clock, TimerHandle } from "./clock.js";
import { sleepOn } from "./clock.js";

interface ScheduledTimer {
  at: number;
  seq: number;
  fn: () => void;
  /** Fired or cancelled: left in the heap and skipped when it comes up. */
  done: boolean;
}

/**
 * Virtual time. Nothing happens until `advance()`; timers fire in (time, scheduling order) order.
 * All timers due at one instant fire, then pending promise continuations run, before time moves
 * on, so a run is reproducible.
 */
export class ManualClock implements Clock {
  #nowMs: number;
  #seq = 0;
  /** A binary min-heap by (at, seq); cancelled timers are dropped lazily. */
  #heap: ScheduledTimer[] = [];
  #live = 0;

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
    const timer: ScheduledTimer = { at: this.#nowMs + Math.max(0, ms), seq: this.#seq++, fn, done: false };
    this.#push(timer);
    this.#live++;
    return {
      cancel: () => {
        if (timer.done) return;
        timer.done = true;
        this.#live--;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers scheduled and neither fired nor cancelled. */
  pendingTimers(): number {
    return this.#live;
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.#nowMs + ms);
  }

  /** Moves time forward to `targetMs`, firing every timer due on the way. */
  async advanceTo(targetMs: number): Promise<void> {
    await flushMicrotasks();
    for (;;) {
      const next = this.#peek();
      if (next === undefined || next.at > targetMs) break;
      // Fire every timer due at this instant, then let promise continuations run once: a macrotask
      // turn per instant instead of per timer (a simulation has thousands of timers per second).
      const at = next.at;
      this.#nowMs = Math.max(this.#nowMs, at);
      for (let t = this.#peek(); t !== undefined && t.at === at; t = this.#peek()) {
        this.#pop();
        t.done = true;
        this.#live--;
        t.fn();
      }
      await flushMicrotasks();
    }
    this.#nowMs = Math.max(this.#nowMs, targetMs);
  }

  /** Fires timers until none is left or `limitMs` of virtual time has passed. */
  async runAll(limitMs = 3_600_000): Promise<void> {
    await this.advanceTo(this.#nowMs + limitMs);
  }

  /** The earliest live timer, dropping cancelled ones from the top. */
  #peek(): ScheduledTimer | undefined {
    while (this.#heap.length > 0 && this.#heap[0]!.done) this.#pop();
    return this.#heap[0];
  }

  #push(timer: ScheduledTimer): void {
    const h = this.#heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function before(a: ScheduledTimer, b: ScheduledTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets every already-queued promise continuation run (a macrotask boundary). */
export function flushMicrotasks(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
