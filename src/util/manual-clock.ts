import type { Clock, TimerHandle } from "./clock.js";
import { sleepOn } from "./clock.js";

/** Room for this many timers before the heap's key arrays first grow (they double). */
const INITIAL_HEAP = 1024;

/** Timers scheduled and neither fired nor cancelled, shared by a clock and its timers. */
interface LiveCount {
  live: number;
}

/**
 * A scheduled timer is its own handle: no closure per timer (a simulation schedules hundreds of
 * thousands per virtual minute, one per frame in flight).
 */
class ScheduledTimer implements TimerHandle {
  /** Fired or cancelled: left in the heap and skipped when it comes up. */
  done = false;

  constructor(
    readonly at: number,
    readonly fn: () => void,
    private readonly count: LiveCount,
  ) {}

  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.count.live--;
  }
}

/** How a ManualClock lets promise continuations run between two instants. */
export interface ManualClockOptions {
  /**
   * True (default): one event loop turn (setImmediate) per instant, so real I/O and real timers
   * progress too. False: only the microtask queue is drained, through process.nextTick (a callback
   * queued from a microtask runs once that queue is empty); each advance() still starts with one
   * event loop turn. Code that runs entirely on the clock (the simulator) sees the same order
   * either way, at about a quarter of the cost per instant.
   */
  turnPerInstant?: boolean;
}

/**
 * Groups a clock's timers can be scheduled in (see ManualClock.grouped): 2^16 of them, each timer's
 * sort key being group x 2^36 + its scheduling number, which stays exact in a double.
 */
const GROUPS = 2 ** 16;
const GROUP_STRIDE = 2 ** 36;

/**
 * Virtual time. Nothing happens until `advance()`; timers fire in (time, group, scheduling order)
 * order, where the group is 0 unless a timer was scheduled through a `grouped` clock. All timers due
 * at one instant fire, then pending promise continuations run, before time moves on, so a run is
 * reproducible.
 */
export class ManualClock implements Clock {
  #nowMs: number;
  #seq = 0;
  /**
   * A binary min-heap by (at, group x 2^36 + seq); cancelled timers are dropped lazily. The keys sit in typed arrays
   * beside the timers, so sifting reads contiguous memory instead of one timer object per comparison
   * (a large simulation holds thousands of timers, scattered over a heap of hundreds of MB).
   */
  #timers: ScheduledTimer[] = [];
  #keyAt = new Float64Array(INITIAL_HEAP);
  #keySeq = new Float64Array(INITIAL_HEAP);
  readonly #count: LiveCount = { live: 0 };
  readonly #betweenInstants: () => Promise<void>;

  /** @param startMs the wall-clock time the virtual clock starts at (ms since the epoch). */
  constructor(startMs = 1_700_000_000_000, options: ManualClockOptions = {}) {
    this.#nowMs = startMs;
    this.#betweenInstants = options.turnPerInstant === false ? drainMicrotasks : flushMicrotasks;
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
    return this.#schedule(fn, ms, 0);
  }

  /**
   * This clock as seen by one simulated host: its timers are group `group`'s (1 to 65,535). Within an
   * instant the groups fire one after the other in ascending order (the clock's own timers, group 0,
   * first), each group's timers in scheduling order. So a host's events keep the order among themselves
   * that a single group would give them, and each host's due work runs together (its stores and
   * connections stay in the processor's caches instead of being touched once per interleaved event).
   */
  grouped(group: number): Clock {
    if (!Number.isInteger(group) || group < 1 || group >= GROUPS) {
      throw new RangeError(`a clock group is an integer from 1 to ${GROUPS - 1}, got ${group}`);
    }
    const base = group * GROUP_STRIDE;
    return new GroupedClock(this, (fn, ms) => this.#schedule(fn, ms, base));
  }

  #schedule(fn: () => void, ms: number, base: number): TimerHandle {
    const seq = this.#seq++;
    if (seq >= GROUP_STRIDE) throw new RangeError(`more than ${GROUP_STRIDE} timers scheduled on one clock`);
    const timer = new ScheduledTimer(this.#nowMs + Math.max(0, ms), fn, this.#count);
    // The order key lives in the heap's key array only: past 2^31 (any group but 0) it would be a boxed number in the timer.
    this.#push(timer, base + seq);
    this.#count.live++;
    return timer;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers scheduled and neither fired nor cancelled. */
  pendingTimers(): number {
    return this.#count.live;
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
        this.#count.live--;
        t.fn();
      }
      await this.#betweenInstants();
    }
    this.#nowMs = Math.max(this.#nowMs, targetMs);
  }

  /** Fires timers until none is left or `limitMs` of virtual time has passed. */
  async runAll(limitMs = 3_600_000): Promise<void> {
    await this.advanceTo(this.#nowMs + limitMs);
  }

  /** The earliest live timer, dropping cancelled ones from the top. */
  #peek(): ScheduledTimer | undefined {
    while (this.#timers.length > 0 && this.#timers[0]!.done) this.#pop();
    return this.#timers[0];
  }

  /** Sifts up with a hole (one store per level instead of a swap). */
  #push(timer: ScheduledTimer, seq: number): void {
    const items = this.#timers;
    if (items.length === this.#keyAt.length) this.#grow();
    const keyAt = this.#keyAt;
    const keySeq = this.#keySeq;
    const at = timer.at;
    let i = items.length;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!keyBefore(at, seq, keyAt[parent]!, keySeq[parent]!)) break;
      items[i] = items[parent]!;
      keyAt[i] = keyAt[parent]!;
      keySeq[i] = keySeq[parent]!;
      i = parent;
    }
    items[i] = timer;
    keyAt[i] = at;
    keySeq[i] = seq;
  }

  /** Removes the root: the last timer sifts down from the top with a hole. */
  #pop(): void {
    const items = this.#timers;
    const keyAt = this.#keyAt;
    const keySeq = this.#keySeq;
    const n = items.length - 1;
    const last = items[n]!;
    const lastAt = keyAt[n]!;
    const lastSeq = keySeq[n]!;
    items.length = n;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && keyBefore(keyAt[r]!, keySeq[r]!, keyAt[l]!, keySeq[l]!) ? r : l;
      if (!keyBefore(keyAt[c]!, keySeq[c]!, lastAt, lastSeq)) break;
      items[i] = items[c]!;
      keyAt[i] = keyAt[c]!;
      keySeq[i] = keySeq[c]!;
      i = c;
    }
    items[i] = last;
    keyAt[i] = lastAt;
    keySeq[i] = lastSeq;
  }

  #grow(): void {
    const keyAt = new Float64Array(this.#keyAt.length * 2);
    keyAt.set(this.#keyAt);
    this.#keyAt = keyAt;
    const keySeq = new Float64Array(this.#keySeq.length * 2);
    keySeq.set(this.#keySeq);
    this.#keySeq = keySeq;
  }
}

/** A ManualClock's view for one group of timers (ManualClock.grouped): the same time, its own place within an instant. */
class GroupedClock implements Clock {
  readonly #clock: ManualClock;
  readonly #schedule: (fn: () => void, ms: number) => TimerHandle;

  constructor(clock: ManualClock, schedule: (fn: () => void, ms: number) => TimerHandle) {
    this.#clock = clock;
    this.#schedule = schedule;
  }

  now(): number {
    return this.#clock.now();
  }

  nowNs(): bigint {
    return this.#clock.nowNs();
  }

  monotonic(): number {
    return this.#clock.monotonic();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#schedule(fn, ms);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }
}

/** Whether the key (atA, seqA) sorts before (atB, seqB): by time, ties by group, then scheduling order. */
function keyBefore(atA: number, seqA: number, atB: number, seqB: number): boolean {
  return atA < atB || (atA === atB && seqA < seqB);
}

/** Lets every already-queued promise continuation run (a macrotask boundary). */
export function flushMicrotasks(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Awaited from a microtask (as advanceTo's loop is, after its first await), resolves once the
 * microtask queue is empty: Node runs nextTick callbacks only between full drains of that queue.
 */
function drainMicrotasks(): Promise<void> {
  return new Promise<void>((resolve) => process.nextTick(resolve));
}
