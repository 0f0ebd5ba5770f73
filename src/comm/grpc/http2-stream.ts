import * as http2 from "node:http2";
import type { RawStream } from "../index.js";
import { frameMessage, GrpcFrameError, GrpcFrameReader } from "./grpc-frames.js";
import { StreamEnd } from "./stream-end.js";

/** gRPC status codes this transport sends or reads. */
export const GRPC_OK = 0;
export const GRPC_RESOURCE_EXHAUSTED = 8;
export const GRPC_UNIMPLEMENTED = 12;
export const GRPC_INTERNAL = 13;

/** A stream's gRPC status, from its trailers (or a trailers-only response). */
export class GrpcStatusError extends Error {
  constructor(
    readonly grpcCode: number,
    details: string,
  ) {
    super(`gRPC status ${grpcCode}${details === "" ? "" : `: ${details}`}`);
    this.name = "GrpcStatusError";
  }
}

/** The status a trailers block (or trailers-only headers) carries; undefined when it has none. */
export function statusOf(headers: http2.IncomingHttpHeaders): GrpcStatusError | null | undefined {
  const raw = headers["grpc-status"];
  if (raw === undefined) return undefined;
  const code = Number(raw);
  if (code === GRPC_OK) return null;
  const message = headers["grpc-message"];
  let details = typeof message === "string" ? message : "";
  try {
    details = decodeURIComponent(details);
  } catch {
    // a peer's malformed percent-encoding: keep it as sent
  }
  return new GrpcStatusError(Number.isInteger(code) ? code : GRPC_INTERNAL, details);
}

/**
 * A Gossip stream on Node's http2 directly, either side, seen as a RawStream of envelope bytes. The
 * dialer's side ends by cancelling (RST_STREAM), the accepting side with an OK status in trailers, as
 * grpc-js and grpc-go do.
 */
export class Http2RawStream implements RawStream {
  readonly remoteAddress: string;
  readonly #stream: http2.Http2Stream;
  readonly #server: boolean;
  readonly #maxSize: number;
  readonly #certHash: () => Uint8Array | undefined;
  readonly #onFinally: () => void;
  #hash: Uint8Array | undefined | null = null;
  readonly #end = new StreamEnd();
  /** The remote ended its side (for a dialer: the server's status came): ours then half-closes rather than cancel. */
  #remoteEnded = false;
  #onData: ((bytes: Uint8Array) => void) | undefined;
  /** Messages that arrived before the receiver was set (a dialer's receiver is set a microtask after the stream opens). */
  #early: Uint8Array[] = [];
  readonly #reader: GrpcFrameReader;

  constructor(
    stream: http2.Http2Stream,
    opts: { server: boolean; remoteAddress: string; maxSize: number; certHash: () => Uint8Array | undefined; onFinally: () => void },
  ) {
    this.#stream = stream;
    this.#server = opts.server;
    this.remoteAddress = opts.remoteAddress;
    this.#maxSize = opts.maxSize;
    this.#certHash = opts.certHash;
    this.#onFinally = opts.onFinally;
    this.#reader = new GrpcFrameReader(opts.maxSize, (m) => {
      if (this.#onData !== undefined) this.#onData(m);
      else this.#early.push(m);
    });
    stream.on("data", (chunk: Buffer) => {
      if (this.#end.ended) return;
      try {
        this.#reader.push(chunk);
      } catch (err) {
        this.#fail(err as Error);
      }
    });
    stream.on("drain", () => this.#end.drained());
    stream.on("error", (err: Error) => this.#finish(err));
    // The other side half-closed: finish ours too, so that the call completes.
    stream.on("end", () => {
      this.#remoteEnded = true;
      this.#finish(undefined);
    });
    stream.on("close", () => this.#finish(stream.rstCode === http2.constants.NGHTTP2_NO_ERROR ? undefined : new Error(`stream reset (HTTP/2 code ${stream.rstCode})`)));
    if (!this.#server) {
      stream.on("response", (headers: http2.IncomingHttpHeaders) => {
        const status = headers[":status"];
        const s = statusOf(headers);
        if (Number(status) !== 200) this.#finish(new Error(`the server answered the stream with HTTP status ${String(status)}`));
        else if (s) this.#finish(s);
      });
      stream.on("trailers", (trailers: http2.IncomingHttpHeaders) => {
        const s = statusOf(trailers);
        if (s) this.#finish(s);
      });
    } else {
      stream.on("wantTrailers", () => sendTrailers(stream as http2.ServerHttp2Stream, { "grpc-status": String(GRPC_OK) }));
    }
  }

  get remoteCertHash(): Uint8Array | undefined {
    if (this.#hash === null) {
      const hash = this.#certHash();
      if (hash === undefined) return undefined;
      this.#hash = hash;
    }
    return this.#hash;
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.writeNow(bytes) ?? Promise.resolve();
  }

  writeNow(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#end.ended || this.#stream.destroyed) return Promise.reject(this.#end.error ?? new Error("stream closed"));
    if (bytes.byteLength > this.#maxSize) return Promise.reject(new Error(`message of ${bytes.byteLength} bytes is above the send limit of ${this.#maxSize}`));
    let more: boolean;
    try {
      more = this.#stream.write(frameMessage(bytes));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return more ? undefined : this.#end.waitDrain();
  }

  onData(handler: (bytes: Uint8Array) => void): void {
    this.#onData = handler;
    const early = this.#early;
    this.#early = [];
    for (const m of early) if (!this.#end.ended) handler(m);
  }

  onClose(handler: (err?: Error) => void): void {
    this.#end.onClose(handler);
  }

  close(): void {
    this.#finish(undefined);
  }

  closeWrite(): void {
    if (this.#end.ended) return;
    if (this.#server) {
      // Our end of the call (an OK status once what was written is out); what the client still sends is read
      // until it ends too.
      endServerStream(this.#stream as http2.ServerHttp2Stream, GRPC_OK, "");
      return;
    }
    // Half-close: frames in flight still reach the server, whose end (or our close) completes the call.
    this.#stream.end();
  }

  /** Bytes the remote sent that are not gRPC messages we take: the call ends with a status saying why. */
  #fail(err: Error): void {
    const code = err instanceof GrpcFrameError && err.code === "TOO_LARGE" ? GRPC_RESOURCE_EXHAUSTED : GRPC_INTERNAL;
    this.#finish(err, code);
  }

  #finish(err: Error | undefined, status = GRPC_OK): void {
    const ended = this.#end.end(err, () => {
      this.#onData = undefined;
      this.#early = [];
      const stream = this.#stream;
      if (stream.destroyed) return;
      if (this.#server) endServerStream(stream as http2.ServerHttp2Stream, status, err?.message ?? "");
      else if (!this.#remoteEnded) stream.close(http2.constants.NGHTTP2_CANCEL);
      // After the server's status: our half-close completes the call (a reset would read as a cancel there).
      else if (!stream.writableEnded) stream.end();
    });
    if (ended) this.#onFinally();
  }
}

/** Ends an accepted call with `status` in its trailers (graceful: what was written still goes first). */
function endServerStream(stream: http2.ServerHttp2Stream, status: number, details: string): void {
  if (status === GRPC_OK) {
    // The trailers go from the 'wantTrailers' handler once the data is out.
    if (!stream.writableEnded) stream.end();
    return;
  }
  stream.removeAllListeners("wantTrailers");
  stream.once("wantTrailers", () => sendTrailers(stream, { "grpc-status": String(status), "grpc-message": encodeURIComponent(details) }));
  if (!stream.writableEnded) stream.end();
}

/** Sends a call's trailers; a stream reset meanwhile has no one to tell. */
function sendTrailers(stream: http2.ServerHttp2Stream, trailers: http2.OutgoingHttpHeaders): void {
  if (stream.destroyed) return;
  try {
    stream.sendTrailers(trailers);
  } catch {
    // reset between the data and the trailers
  }
}
