import type { ClientDuplexStream, ServerDuplexStream } from "@grpc/grpc-js";
import type { RawStream } from "../index.js";
import { peerCertHash } from "./credentials.js";

type GrpcDuplex = ServerDuplexStream<Uint8Array, Uint8Array> | ClientDuplexStream<Uint8Array, Uint8Array>;

/** A gRPC GossipStream call (either side) seen as a RawStream of envelope bytes. */
export class GrpcRawStream implements RawStream {
  readonly remoteAddress: string;
  #certHash: Uint8Array | undefined | null = null;
  #closeHandlers: ((err?: Error) => void)[] = [];
  #ended = false;
  #endError: Error | undefined;
  #drainWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  /** `certHash`: how to learn the remote's TLS certificate hash when the caller caches it per connection. */
  constructor(
    private readonly call: GrpcDuplex,
    remoteAddress: string,
    private readonly onFinally: () => void,
    private readonly certHash?: () => Uint8Array | undefined,
  ) {
    this.remoteAddress = remoteAddress;
    call.on("drain", () => {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w.resolve();
    });
    call.on("error", (err: Error) => this.#end(err));
    call.on("end", () => {
      // The other side half-closed: finish ours too, so the RPC completes.
      this.#end(undefined);
    });
    call.on("close", () => this.#end(undefined));
    if ("cancelled" in call) call.on("cancelled", () => this.#end(new Error("stream cancelled")));
  }

  get remoteCertHash(): Uint8Array | undefined {
    if (this.#certHash === null) {
      const hash = this.certHash !== undefined ? this.certHash() : peerCertHash(this.call);
      if (hash === undefined) return undefined; // not known yet, or no TLS
      this.#certHash = hash;
    }
    return this.#certHash;
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.writeNow(bytes) ?? Promise.resolve();
  }

  writeNow(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#ended) return Promise.reject(this.#endError ?? new Error("stream closed"));
    let more: boolean;
    try {
      more = this.call.write(bytes);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (more) return undefined;
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.call.removeAllListeners("data");
    this.call.on("data", handler);
  }

  onClose(handler: (err?: Error) => void): void {
    if (this.#ended) handler(this.#endError);
    else this.#closeHandlers.push(handler);
  }

  close(): void {
    this.#end(undefined);
  }

  closeWrite(): void {
    if (this.#ended) return;
    try {
      // Half-close: the client's frames in flight are still delivered; the server's end of the RPC
      // (or our own close) completes the call.
      this.call.end();
    } catch {
      this.#end(undefined);
    }
  }

  #end(err: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endError = err;
    const broken = err ?? new Error("stream closed");
    for (const w of this.#drainWaiters) w.reject(broken);
    this.#drainWaiters = [];
    try {
      this.call.end();
    } catch {
      // already finished
    }
    if ("cancel" in this.call) this.call.cancel();
    this.call.removeAllListeners("data");
    const handlers = this.#closeHandlers;
    this.#closeHandlers = [];
    for (const h of handlers) h(err);
    this.onFinally();
  }
}
