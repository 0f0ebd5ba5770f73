/** A cancellable timer. `cancel()` is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time as protocol code sees it. Protocol code never calls Date.now() or setTimeout directly: a
 * SystemClock runs it in real time, a ManualClock in deterministic virtual time.
 */
export interface Clock {
  /** Wall-clock time in milliseconds since the Unix epoch. */
  now(): number;
  /** Wall-clock time in nanoseconds since the Unix epoch (Fabric's inc_num is UnixNano). */
  nowNs(): bigint;
  /** Monotonic milliseconds, for measuring intervals. */
  monotonic(): number;
  /** Runs `fn` once after `ms` milliseconds unless cancelled. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Resolves after `ms`; rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Implements `sleep` on top of `setTimeout` for any clock. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
