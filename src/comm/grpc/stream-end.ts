/**
 * How a gRPC stream (either transport) ends, once: who waits for its end, and the writes that wait for
 * room (flow control), which fail when it ends.
 */
export class StreamEnd {
  #ended = false;
  #error: Error | undefined;
  #handlers: ((err?: Error) => void)[] = [];
  #drainWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  get ended(): boolean {
    return this.#ended;
  }

  /** Why it ended; undefined while open or when it ended cleanly. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Calls `handler` when the stream ends (at once if it has). */
  onClose(handler: (err?: Error) => void): void {
    if (this.#ended) handler(this.#error);
    else this.#handlers.push(handler);
  }

  /** A write's wait for room: settles when the transport drains, or fails when the stream ends. */
  waitDrain(): Promise<void> {
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /** The transport has room again. */
  drained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /**
   * Marks the end (false when it had ended already) and fails the writes waiting for room; `after` runs the
   * transport's own cleanup before the close handlers are told.
   */
  end(err: Error | undefined, after: () => void): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#error = err;
    const broken = err ?? new Error("stream closed");
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.reject(broken);
    after();
    const handlers = this.#handlers;
    this.#handlers = [];
    for (const h of handlers) h(err);
    return true;
  }
}
