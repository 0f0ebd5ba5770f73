import type { ClientDuplexStream, ServerDuplexStream } from "@grpc/grpc-js";
import type { RawStream } from "../index.js";
import { peerCertHash } from "./credentials.js";
import { StreamEnd } from "./stream-end.js";

type GrpcDuplex = ServerDuplexStream<Uint8Array, Uint8Array> | ClientDuplexStream<Uint8Array, Uint8Array>;

/** A gRPC GossipStream call (either side) seen as a RawStream of envelope bytes. */
export class GrpcRawStream implements RawStream {
  readonly remoteAddress: string;
  #certHash: Uint8Array | undefined | null = null;
  readonly #end = new StreamEnd();

  /** `certHash`: how to learn the remote's TLS certificate hash when the caller caches it per connection. */
  constructor(
    private readonly call: GrpcDuplex,
    remoteAddress: string,
    private readonly onFinally: () => void,
    private readonly certHash?: () => Uint8Array | undefined,
  ) {
    this.remoteAddress = remoteAddress;
    call.on("drain", () => this.#end.drained());
    call.on("error", (err: Error) => this.#finish(err));
    call.on("end", () => {
      // The other side half-closed: finish ours too, so the RPC completes.
      this.#finish(undefined);
    });
    call.on("close", () => this.#finish(undefined));
    if ("cancelled" in call) call.on("cancelled", () => this.#finish(new Error("stream cancelled")));
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
    if (this.#end.ended) return Promise.reject(this.#end.error ?? new Error("stream closed"));
    let more: boolean;
    try {
      more = this.call.write(bytes);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return more ? undefined : this.#end.waitDrain();
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.call.removeAllListeners("data");
    this.call.on("data", handler);
  }

  onClose(handler: (err?: Error) => void): void {
    this.#end.onClose(handler);
  }

  close(): void {
    this.#finish(undefined);
  }

  closeWrite(): void {
    if (this.#end.ended) return;
    try {
      // Half-close: the client's frames in flight are still delivered; the server's end of the RPC
      // (or our own close) completes the call.
      this.call.end();
    } catch {
      this.#finish(undefined);
    }
  }

  #finish(err: Error | undefined): void {
    const ended = this.#end.end(err, () => {
      try {
        this.call.end();
      } catch {
        // already finished
      }
      if ("cancel" in this.call) this.call.cancel();
      this.call.removeAllListeners("data");
    });
    if (ended) this.onFinally();
  }
}
