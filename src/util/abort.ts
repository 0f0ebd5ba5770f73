/**
 * Settles like `promise`, or rejects with the signal's reason as soon as `signal` aborts, whichever
 * comes first. The abort listener is removed when `promise` settles, so a long-lived signal does
 * not collect one listener per call. When the signal is already aborted, a later rejection of
 * `promise` is swallowed (nobody awaits it any more).
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
