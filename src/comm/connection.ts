import type { PkiHex } from "../api/index.js";
import type { ConnectionInfo } from "../protoext/index.js";
import type { RawStream } from "./transport.js";

/**
 * Ours: a blocking send that does not wait for its write (a response, an ack, sendWithAck) is refused
 * once the queue holds this many times sendBuffSize. Fabric's blocking send waits for room in the
 * sendBuffSize buffer, holding up the goroutine that answers; here it is queued instead, further
 * out: a member that keeps asking within its request budgets but stops reading would otherwise grow
 * the queue without end (responses of up to a state batch of blocks each). A sender that waits for
 * its writes (sendAndWait) paces itself and is always queued.
 */
export const BLOCKING_QUEUE_FACTOR = 4;

interface Outgoing {
  bytes: Uint8Array;
  onError: ((err: Error) => void) | undefined;
  onWritten: (() => void) | undefined;
}

/**
 * One authenticated stream to one peer (Fabric's comm `connection`): a bounded send queue drained
 * by a single writer that honours the transport's flow control.
 */
export class Connection {
  readonly key: PkiHex;
  readonly info: ConnectionInfo;
  readonly stream: RawStream;
  /** True when this side dialed. */
  readonly outbound: boolean;
  /** Monotonic ms when the connection was registered. */
  readonly since: number;
  #queue: Outgoing[] = [];
  #writing = false;
  /** No more sends: closed, retired, or read-only. */
  #writeClosed = false;
  /** The connection that took over from this one when it was retired (see retire). */
  #successor: Connection | undefined;
  #closed = false;
  #idle: Promise<void> = Promise.resolve();

  constructor(
    init: { key: PkiHex; info: ConnectionInfo; stream: RawStream; outbound: boolean; since: number },
    private readonly hooks: {
      sendBuffSize: number;
      onSent: () => void;
      onWriteFailure: (conn: Connection, err: Error) => void;
    },
  ) {
    this.key = init.key;
    this.info = init.info;
    this.stream = init.stream;
    this.outbound = init.outbound;
    this.since = init.since;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** False once closed, retired or read-only. */
  get writable(): boolean {
    return !this.#writeClosed;
  }

  /**
   * Queues an envelope. A non-blocking send is dropped (returns false) when the queue holds
   * sendBuffSize items; a blocking send (responses, acks, sendWithAck) when it holds
   * BLOCKING_QUEUE_FACTOR x sendBuffSize, and then `onError` hears it; a blocking send that waits
   * for its write (`onWritten`, sendAndWait) is always queued.
   */
  enqueue(bytes: Uint8Array, blocking: boolean, onError?: (err: Error) => void, onWritten?: () => void): boolean {
    // A sender may still hold a connection retired after it was handed out (a dial's result, when the peer's
    // own dial was settled as the winner in the same instant): its message goes where the queued ones went.
    if (this.#successor !== undefined) return this.#successor.enqueue(bytes, blocking, onError, onWritten);
    if (this.#writeClosed) {
      onError?.(new Error("connection closed"));
      return false;
    }
    if (!blocking && this.#queue.length >= this.hooks.sendBuffSize) return false;
    if (blocking && onWritten === undefined && this.#queue.length >= BLOCKING_QUEUE_FACTOR * this.hooks.sendBuffSize) {
      onError?.(new Error(`send queue to ${this.info.endpoint} full: ${this.#queue.length} messages not yet taken by the transport`));
      return false;
    }
    this.#accept({ bytes, onError, onWritten });
    return true;
  }

  #accept(item: Outgoing): void {
    if (!this.#writing && this.#queue.length === 0) {
      // Nothing waits before it: written at once, and only a write the transport holds up starts the writer.
      const pending = this.#write(item.bytes);
      if (pending === undefined) this.#written(item);
      else this.#idle = this.#pump({ pending, item });
      return;
    }
    this.#queue.push(item);
    if (!this.#writing) this.#idle = this.#pump(undefined);
  }

  /** Resolves once the writer has nothing left to do. */
  drained(): Promise<void> {
    return this.#idle;
  }

  /**
   * Stops sending on this connection because `successor` replaces it: messages not yet written move
   * to the successor. With `endWrite`, this side of the stream ends gracefully once the write in
   * progress is done, so nothing already sent is lost; without, the remote is expected to end it.
   */
  retire(successor: Connection, endWrite: boolean): void {
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    // Only a writable successor: it has none of its own yet, so the chain never loops back.
    if (!successor.#writeClosed) this.#successor = successor;
    const pending = this.#queue;
    this.#queue = [];
    // Taken over whatever the successor holds: these were accepted once already.
    for (const item of pending) {
      if (successor.#writeClosed) item.onError?.(new Error("connection closed"));
      else successor.#accept(item);
    }
    if (endWrite) void this.#idle.then(() => (this.stream.closeWrite ? this.stream.closeWrite() : this.stream.close()));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writeClosed = true;
    const pending = this.#queue;
    this.#queue = [];
    for (const item of pending) item.onError?.(new Error("connection closed"));
    this.stream.close();
  }

  /** The writer: drains the queue in order, waiting whenever the transport pushes back. `first` is a write already under way. */
  async #pump(first: { pending: Promise<void>; item: Outgoing } | undefined): Promise<void> {
    this.#writing = true;
    try {
      if (first !== undefined && !(await this.#settled(first.pending, first.item))) return;
      while (this.#queue.length > 0 && !this.#closed) {
        const item = this.#queue.shift()!;
        const pending = this.#write(item.bytes);
        if (pending === undefined) this.#written(item);
        else if (!(await this.#settled(pending, item))) return;
      }
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Writes `bytes`: undefined when the transport took them at once (writeNow), else a promise to wait
   * for (write() on a stream without writeNow). A throw becomes the rejected promise write() would give.
   */
  #write(bytes: Uint8Array): Promise<void> | undefined {
    try {
      return this.stream.writeNow !== undefined ? this.stream.writeNow(bytes) : this.stream.write(bytes);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Waits for a write the transport held up; false when it failed (the writer then stops). */
  async #settled(pending: Promise<void>, item: Outgoing): Promise<boolean> {
    try {
      await pending;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      item.onError?.(error);
      if (!this.#closed) this.hooks.onWriteFailure(this, error);
      return false;
    }
    this.#written(item);
    return true;
  }

  #written(item: Outgoing): void {
    this.hooks.onSent();
    item.onWritten?.();
  }
}
