import { CommError, type RawStream } from "../index.js";

/** What a MemoryStream asks of the network it lives on. */
export interface StreamCarrier {
  /** Queues `bytes` from `from` towards its peer end; a promise when the write must wait (uplink busy). */
  transmit(from: MemoryStream, bytes: Uint8Array): Promise<void> | undefined;
  /** `end` closed itself cleanly: its peer end hears it after the data already in flight. */
  finish(end: MemoryStream): void;
}

/**
 * One end of an in-memory GossipStream. Frames reach the other end through the network's clock
 * (asynchronously, in order); close handlers run synchronously when this end closes, as the gRPC
 * stream's do.
 */
export class MemoryStream implements RawStream {
  readonly remoteAddress: string;
  readonly remoteCertHash: Uint8Array | undefined;
  /** The endpoint of the transport that owns this end. */
  readonly localAddress: string;
  /** True for the end that dialed. */
  readonly dialer: boolean;
  /** Identifies the stream pair in network listings. */
  readonly id: number;
  peer: MemoryStream | undefined;

  #carrier: StreamCarrier;
  #handler: ((bytes: Uint8Array) => void) | undefined;
  #backlog: Uint8Array[] = [];
  #closeHandlers: ((err?: Error) => void)[] = [];
  #closed = false;
  #closeError: Error | undefined;

  constructor(init: {
    id: number;
    carrier: StreamCarrier;
    localAddress: string;
    remoteAddress: string;
    remoteCertHash: Uint8Array | undefined;
    dialer: boolean;
  }) {
    this.id = init.id;
    this.#carrier = init.carrier;
    this.localAddress = init.localAddress;
    this.remoteAddress = init.remoteAddress;
    this.remoteCertHash = init.remoteCertHash;
    this.dialer = init.dialer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why this end closed: undefined for a clean close, or while open. */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.writeNow(bytes) ?? Promise.resolve();
  }

  writeNow(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#closed) {
      return Promise.reject(this.#closeError ?? new CommError("CONNECTION_CLOSED", `stream to ${this.remoteAddress} is closed`));
    }
    return this.#carrier.transmit(this, bytes);
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.#handler = handler;
    if (this.#backlog.length > 0) {
      // Frames that arrived before a receiver was set: hand them over in order, after this call.
      queueMicrotask(() => this.#drainBacklog());
    }
  }

  onClose(handler: (err?: Error) => void): void {
    if (this.#closed) handler(this.#closeError);
    else this.#closeHandlers.push(handler);
  }

  close(): void {
    if (this.#closed) return;
    this.#end(undefined);
    this.#carrier.finish(this);
  }

  /** The network delivers a frame that arrived. */
  deliver(bytes: Uint8Array): void {
    if (this.#closed) return;
    if (this.#handler === undefined || this.#backlog.length > 0) {
      this.#backlog.push(bytes);
      return;
    }
    this.#handler(bytes);
  }

  /** The network ends this side: `err` undefined for the peer's clean close, an error for a reset. */
  end(err: Error | undefined): void {
    if (this.#closed) return;
    this.#end(err);
  }

  #end(err: Error | undefined): void {
    this.#closed = true;
    this.#closeError = err;
    this.#backlog = [];
    const handlers = this.#closeHandlers;
    this.#closeHandlers = [];
    for (const h of handlers) h(err);
  }

  #drainBacklog(): void {
    while (this.#backlog.length > 0 && !this.#closed && this.#handler !== undefined) {
      const bytes = this.#backlog.shift()!;
      this.#handler(bytes);
    }
  }
}
