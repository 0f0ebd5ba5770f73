import * as http2 from "node:http2";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from "node:tls";
import type { TimerHandle } from "../../util/index.js";
import { CommError, type RawStream } from "../index.js";
import { endpointHost, socketCertHash } from "./credentials.js";
import { GossipPortTransport } from "./gossip-port.js";
import { FRAME_HEADER_BYTES } from "./grpc-frames.js";
import { GRPC_OK, GRPC_UNIMPLEMENTED, Http2RawStream, statusOf } from "./http2-stream.js";
import { type HeldSocket, hostPort } from "./socket-gate.js";
import { certificateErrorFix } from "./tls-diagnosis.js";

const GOSSIP_STREAM = "/gossip.Gossip/GossipStream";
const PING = "/gossip.Gossip/Ping";
/** A ping's request and reply: one empty message (google.protobuf.Empty), uncompressed. */
const EMPTY_FRAME = Buffer.alloc(FRAME_HEADER_BYTES);
const USER_AGENT = "fabric-gossip (node http2)";
/** Fabric's client keepalive: a ping a minute (what its servers permit), the connection dropped when one goes unanswered for 20 s. */
const KEEPALIVE_INTERVAL_MS = 60_000;
const KEEPALIVE_TIMEOUT_MS = 20_000;
/** grpc's connection backoff (initial 1 s, x1.6, at most 120 s), within one dial's timeout. */
const RECONNECT_BACKOFF_MS = 1_000;
const RECONNECT_BACKOFF_FACTOR = 1.6;
const MAX_RECONNECT_BACKOFF_MS = 120_000;
/** Sessions our server closes at stop get this long to finish gracefully. */
const SHUTDOWN_GRACE_MS = 1_000;
/** nghttp2's memory for a session, in MB: as grpc-js, no limit of its own (gRPC's message limit and flow control bound it). */
const MAX_SESSION_MEMORY_MB = Number.MAX_SAFE_INTEGER;

/** A connection we dialed, with its keepalive. */
interface Dialed {
  readonly session: http2.ClientHttp2Session;
  keepalive: TimerHandle | undefined;
}

/**
 * gRPC as Fabric runs it, written on Node's http2 module directly rather than through grpc-js: the same
 * wire (`/gossip.Gossip/GossipStream` and `/gossip.Gossip/Ping`, gRPC's length-prefixed messages, status
 * in trailers, mutual TLS), the same dial (connect within the timeout, ping, then the stream), limits and
 * socket admission as GrpcTransport; each message passes through no call layers (client, resolving,
 * retrying, load-balancing and subchannel calls, server interceptors), only the HTTP/2 stream.
 */
export class Http2Transport extends GossipPortTransport<Http2RawStream, Dialed> {
  readonly #serverSessions = new Set<http2.ServerHttp2Session>();
  readonly #dialed = new Set<Dialed>();
  /** Dials still connecting (between attempts too): each stops its dial. */
  readonly #connecting = new Set<() => void>();

  async listen(onStream: (stream: RawStream) => void): Promise<void> {
    const settings: http2.Settings = { maxConcurrentStreams: this.limits.maxConcurrentStreams };
    const tls = this.options.tls;
    const trust = this.trust;
    let server: http2.Http2Server | http2.Http2SecureServer;
    if (tls !== undefined && trust !== undefined) {
      // As GrpcTransport: a client certificate from one of the trusted TLS CAs is required (Fabric's server
      // requests one and binds it in the handshake); the CAs follow the trust store in the running server.
      const cert = Buffer.from(tls.cert);
      const key = Buffer.from(tls.key);
      const secure = http2.createSecureServer({
        cert,
        key,
        ca: trust.peerRoots(),
        requestCert: true,
        rejectUnauthorized: true,
        handshakeTimeout: this.limits.tlsHandshakeTimeoutMs,
        settings,
        maxSessionMemory: MAX_SESSION_MEMORY_MB,
      });
      this.unsubscribeTrust = trust.onPeerRootsChange((roots) => secure.setSecureContext({ cert, key, ca: roots }));
      secure.on("tlsClientError", () => undefined); // the socket closes; the client learns why from its handshake
      server = secure;
    } else {
      server = http2.createServer({ settings, maxSessionMemory: MAX_SESSION_MEMORY_MB });
    }
    server.on("session", (session: http2.ServerHttp2Session) => {
      this.#serverSessions.add(session);
      session.on("error", () => undefined); // its streams end with it
      session.once("close", () => this.#serverSessions.delete(session));
    });
    server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => this.#accept(stream, headers, onStream));
    // Our own listeners hand each socket they admit to the HTTP/2 server, as a connection of its own.
    this.boundAddress = await this.gate.listen(this.options.listenAddress, (socket) => server.emit("connection", socket));
    this.log.info("gossip service listening", { address: this.boundAddress, tls: tls !== undefined, transport: "http2" });
  }

  protected openStream(dialed: Dialed, endpoint: string): Http2RawStream {
    const session = dialed.session;
    let request: http2.ClientHttp2Stream;
    try {
      request = session.request(requestHeaders(GOSSIP_STREAM));
    } catch (err) {
      this.release(dialed);
      throw new CommError("DIAL_FAILED", `cannot open a stream to ${endpoint}: ${(err as Error).message}`, { cause: err });
    }
    const stream = new Http2RawStream(request, {
      server: false,
      remoteAddress: endpoint,
      maxSize: this.maxSize,
      certHash: () => socketCertHash(session.socket as TLSSocket | undefined),
      onFinally: () => {
        this.streams.delete(stream);
        // The connection goes once the call has closed: a half-close after the server's status must reach it first.
        if (request.closed || request.destroyed) this.release(dialed);
        else request.once("close", () => this.release(dialed));
      },
    });
    return stream;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribeTrust?.();
    this.unsubscribeTrust = undefined;
    for (const s of [...this.streams]) s.close();
    for (const stop of [...this.#connecting]) stop();
    for (const d of [...this.#dialed]) this.release(d);
    this.gate.stopListening();
    const sessions = [...this.#serverSessions];
    if (sessions.length > 0) {
      // GOAWAY to each, then a moment for the calls in flight (ended above) to finish, as grpc-js's tryShutdown.
      await new Promise<void>((resolve) => {
        let open = sessions.length;
        const timer = this.options.clock.setTimeout(() => {
          for (const s of sessions) s.destroy();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        for (const s of sessions) {
          const done = (): void => {
            if (--open === 0) {
              timer.cancel();
              resolve();
            }
          };
          if (s.closed || s.destroyed) done();
          else s.close(done);
        }
      });
    }
    // What the sessions' end left open (sockets still in their TLS handshake, silent ones).
    this.gate.destroyAll();
    await this.stopDiagnoses();
  }

  /** A call arrived: the gossip stream, a ping, or something we answer with a status. */
  #accept(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, onStream: (stream: RawStream) => void): void {
    stream.on("error", () => undefined); // a reset call is not our failure; its RawStream, if any, ends with it
    const socket = stream.session?.socket;
    if (this.closed || socket === undefined || stream.destroyed || stream.closed) {
      // Stopping, or the client reset the call before we saw it.
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const address = socket.remoteAddress ?? "";
    const port = socket.remotePort ?? 0;
    const held = this.gate.calledFrom(`${address}:${port}`);
    const contentType = headers["content-type"];
    if (headers[":method"] !== "POST" || typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
      // As grpc-go: what is not a gRPC request gets HTTP's own answer.
      stream.respond({ ":status": 415 }, { endStream: true });
      return;
    }
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") {
      // As Fabric's peers (their gRPC has no decompressor registered), before reading a byte of the messages.
      trailersOnly(stream, GRPC_UNIMPLEMENTED, `compressed messages (grpc-encoding ${String(encoding)}) are not accepted`);
      return;
    }
    const path = headers[":path"];
    if (path === PING) {
      answerPing(stream);
      return;
    }
    if (path !== GOSSIP_STREAM) {
      trailersOnly(stream, GRPC_UNIMPLEMENTED, `unknown method ${String(path)}`);
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    const raw = new Http2RawStream(stream, {
      server: true,
      remoteAddress: hostPort(address, port),
      maxSize: this.maxSize,
      // Fixed for the connection: computed once per socket, not per call.
      certHash: () => (held === undefined ? socketCertHash(socket as TLSSocket) : cachedCertHash(held, socket as TLSSocket)),
      onFinally: () => this.streams.delete(raw),
    });
    this.streams.add(raw);
    onStream(raw);
  }

  /** Connects to `endpoint` with a connection of its own and waits until HTTP/2 is up (Fabric's WithBlock dial). */
  protected connect(endpoint: string, dialTimeoutMs: number): Promise<Dialed> {
    if (this.closed) return Promise.reject(new CommError("STOPPED", "transport is closed"));
    // The CAs of the moment: a channel joined or updated since the last dial counts.
    const tls = this.clientTls();
    const options: http2.SecureClientSessionOptions = { settings: { enablePush: false }, maxSessionMemory: MAX_SESSION_MEMORY_MB };
    if (tls !== undefined) {
      const host = endpointHost(endpoint);
      const expectedName = tls.serverNameOverride ?? host;
      // The name is checked here, so that an IP endpoint needs no SNI (Node warns when the servername is an address).
      options.ca = Buffer.from(tls.rootCAs);
      if (tls.cert !== undefined) options.cert = Buffer.from(tls.cert);
      if (tls.key !== undefined) options.key = Buffer.from(tls.key);
      options.checkServerIdentity = (_name: string, cert: PeerCertificate) => checkServerIdentity(expectedName, cert);
      const sni = tls.serverNameOverride ?? (isIP(host) === 0 ? host : undefined);
      if (sni !== undefined) options.servername = sni;
    }
    const authority = `${tls !== undefined ? "https" : "http"}://${endpoint}`;
    const clock = this.options.clock;
    const deadline = clock.now() + dialTimeoutMs;
    return new Promise<Dialed>((resolve, reject) => {
      let settled = false;
      let attempts = 0;
      let current: Dialed | undefined;
      let retry: TimerHandle | undefined;
      let lastError: Error | undefined;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        overall.cancel();
        retry?.cancel();
        this.#connecting.delete(stop);
        if (current !== undefined) this.release(current);
        if (this.closed) {
          reject(new CommError("STOPPED", "transport is closed"));
          return;
        }
        this.diagnoseLater(endpoint, dialTimeoutMs);
        // Node's TLS names a certificate's fault (grpc-js would say only that the deadline passed): say what to do too.
        const code = (err as NodeJS.ErrnoException).code;
        const fix = code === undefined ? undefined : certificateErrorFix(code, "peer", endpoint);
        const why = fix === undefined ? err.message : `${err.message} [${code}]; ${fix}`;
        reject(new CommError("DIAL_FAILED", `cannot connect to ${endpoint} within ${dialTimeoutMs} ms: ${why}`, { cause: err }));
      };
      const stop = (): void => fail(new Error("transport is closed"));
      this.#connecting.add(stop);
      const overall = clock.setTimeout(() => fail(lastError ?? new Error("Failed to connect before the deadline")), dialTimeoutMs);
      // As grpc's blocking dial (Fabric's WithBlock): a connection refused or reset is tried again after a backoff
      // until the dial timeout, so that a peer starting a moment later is still reached by this dial.
      const attempt = (): void => {
        retry = undefined;
        if (settled) return;
        let session: http2.ClientHttp2Session;
        try {
          session = http2.connect(authority, options);
        } catch (err) {
          fail(err as Error);
          return;
        }
        const dialed: Dialed = { session, keepalive: undefined };
        this.#dialed.add(dialed);
        current = dialed;
        session.once("close", () => {
          dialed.keepalive?.cancel();
          dialed.keepalive = undefined;
          this.#dialed.delete(dialed);
        });
        const attemptFailed = (err: Error): void => {
          if (settled || current !== dialed) return;
          current = undefined;
          this.release(dialed);
          lastError = err;
          const code = (err as NodeJS.ErrnoException).code;
          const backoff = Math.min(RECONNECT_BACKOFF_MS * RECONNECT_BACKOFF_FACTOR ** attempts, MAX_RECONNECT_BACKOFF_MS);
          attempts++;
          // A certificate's fault will not mend by trying again.
          if ((code !== undefined && certificateErrorFix(code, "peer", endpoint) !== undefined) || clock.now() + backoff >= deadline) fail(err);
          else retry = clock.setTimeout(attempt, backoff);
        };
        session.once("error", attemptFailed);
        session.once("close", () => attemptFailed(new Error("The connection closed")));
        session.once("connect", () => {
          if (settled || current !== dialed) return;
          settled = true;
          overall.cancel();
          this.#connecting.delete(stop);
          session.off("error", attemptFailed);
          session.on("error", () => undefined); // later errors end its stream, which says so
          this.#armKeepalive(dialed);
          resolve(dialed);
        });
      };
      attempt();
    });
  }

  /** Fabric's client keepalive on a dialed connection. */
  #armKeepalive(dialed: Dialed): void {
    const clock = this.options.clock;
    dialed.keepalive = clock.setTimeout(() => {
      dialed.keepalive = undefined;
      const session = dialed.session;
      if (session.closed || session.destroyed) return;
      const deadline = clock.setTimeout(() => session.destroy(new Error(`keepalive ping not answered within ${KEEPALIVE_TIMEOUT_MS} ms`)), KEEPALIVE_TIMEOUT_MS);
      try {
        session.ping((err) => {
          deadline.cancel();
          if (err === null && this.#dialed.has(dialed)) this.#armKeepalive(dialed);
        });
      } catch {
        deadline.cancel();
      }
    }, KEEPALIVE_INTERVAL_MS);
  }

  /** The Ping call on a dialed connection, within `timeoutMs`. */
  protected pingOver(dialed: Dialed, endpoint: string, timeoutMs: number): Promise<void> {
    const session = dialed.session;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let status: Error | null | undefined;
      const done = (err: Error | undefined): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        if (err === undefined) resolve();
        else reject(new CommError("PING_FAILED", `ping of ${endpoint} failed: ${err.message}`, { cause: err }));
      };
      const timer = this.options.clock.setTimeout(() => {
        request?.close(http2.constants.NGHTTP2_CANCEL);
        done(new Error("Deadline exceeded"));
      }, timeoutMs);
      let request: http2.ClientHttp2Stream | undefined;
      try {
        request = session.request(requestHeaders(PING));
      } catch (err) {
        done(err as Error);
        return;
      }
      request.on("response", (headers: http2.IncomingHttpHeaders) => {
        if (Number(headers[":status"]) !== 200) done(new Error(`HTTP status ${String(headers[":status"])}`));
        else status = statusOf(headers) ?? status;
      });
      request.on("trailers", (trailers: http2.IncomingHttpHeaders) => {
        status = statusOf(trailers);
      });
      request.on("data", () => undefined); // the reply: one empty message
      request.on("error", (err: Error) => done(err));
      request.on("close", () => done(status === null ? undefined : (status ?? new Error("the call ended without a gRPC status"))));
      request.end(EMPTY_FRAME);
    });
  }

  protected release(dialed: Dialed): void {
    if (!this.#dialed.delete(dialed)) return;
    dialed.keepalive?.cancel();
    dialed.keepalive = undefined;
    if (!dialed.session.destroyed) dialed.session.destroy();
  }
}

/** A gRPC request's headers, as grpc-js and grpc-go send them (less the timeout: Fabric sets none on these calls). */
function requestHeaders(path: string): http2.OutgoingHttpHeaders {
  return { ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", "user-agent": USER_AGENT };
}

/** Answers a ping: one empty message and an OK status. The request (one empty message) is read and dropped. */
function answerPing(stream: http2.ServerHttp2Stream): void {
  stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": String(GRPC_OK) }));
  stream.resume();
  stream.end(EMPTY_FRAME);
}

/** A call answered with its status alone (a trailers-only response), before any message. */
function trailersOnly(stream: http2.ServerHttp2Stream, code: number, details: string): void {
  stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(code), "grpc-message": encodeURIComponent(details) }, { endStream: true });
}

/** The certificate hash of an accepted socket, computed once and kept with the gate's record of it. */
function cachedCertHash(held: HeldSocket, socket: TLSSocket): Uint8Array | undefined {
  held.certHash ??= socketCertHash(socket);
  return held.certHash;
}

