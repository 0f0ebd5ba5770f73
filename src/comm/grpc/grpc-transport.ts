import { lookup } from "node:dns/promises";
import { isIPv6 } from "node:net";
import * as net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { type Logger, REMOTE_LOG_WINDOW_MS, RemoteLogLimiter } from "../../logging/index.js";
import type { CounterMetric, CounterSpec, MetricsProvider } from "../../metrics/index.js";
import { type Clock, errorMessage, type TimerHandle } from "../../util/index.js";
import {
  CommError,
  dialNotNeeded,
  DEF_MAX_MESSAGE_SIZE,
  DEFAULT_SOCKET_LIMITS,
  type RawStream,
  type SocketLimits,
  type Transport,
  type TransportTls,
} from "../index.js";
import { certHashOfPem, clientCredentials, peerCertHash } from "./credentials.js";
import { passBytes, takeBytes } from "./raw-bytes.js";
import { GrpcRawStream } from "./raw-stream.js";
import { diagnoseTlsDial, formatTlsDiagnosis } from "./tls-diagnosis.js";
import { TlsTrustStore } from "./trust-store.js";
import { closeClient, waitForReady } from "./wait-ready.js";

/** PEM material for mutual TLS. One certificate may serve as both server and client certificate. */
export interface GrpcTlsOptions {
  /** Server certificate (PEM) and its key. */
  cert: string | Buffer;
  key: string | Buffer;
  /** Client certificate and key; the server pair when absent. */
  clientCert?: string | Buffer;
  clientKey?: string | Buffer;
  /**
   * TLS CA certificates of every org whose peers we accept and dial: fixed PEM (concatenated), or a
   * trust store whose gossip CAs follow the channels' configurations (new connections use the CAs
   * of the moment; connections already open stay).
   */
  rootCAs: string | Buffer | TlsTrustStore;
  /** TLS server name to expect when dialing, instead of the endpoint's host. */
  serverNameOverride?: string;
}

export interface GrpcTransportOptions {
  /** "host:port" to listen on; port 0 picks a free port. */
  listenAddress: string;
  tls?: GrpcTlsOptions;
  maxMessageSize?: number;
  logger: Logger;
  /** Real time: gRPC deadlines are wall-clock instants. */
  clock: Clock;
  /** Where refused sockets are counted (fabric_gossip_comm_sockets_refused_total). Default: nowhere. */
  metrics?: MetricsProvider;
  /** Socket limits of the server; defaults in DEFAULT_SOCKET_LIMITS. Not in Fabric. */
  limits?: Partial<SocketLimits>;
}

/** Ours: sockets the gossip server closed at accept or before their first call, by reason. */
export const COMM_SOCKETS_REFUSED: CounterSpec<"reason"> = {
  name: "fabric_gossip_comm_sockets_refused_total",
  type: "counter",
  help: "TCP connections to the gossip port closed at accept, by reason (too_many, too_many_from_address, too_many_pending, no_call_in_time, refused_address: a host comm refuses for its offences)",
  labelNames: ["reason"],
};

type SocketRefusal = "too_many" | "too_many_from_address" | "too_many_pending" | "no_call_in_time" | "refused_address";

/** A socket the server holds, until it closes. */
interface HeldSocket {
  readonly socket: net.Socket;
  readonly host: string;
  /** True until the socket's first gRPC call. */
  pending: boolean;
  /** Closes the socket if it makes no call in time; armed while pending. */
  firstCall: TimerHandle | undefined;
  /**
   * SHA-256 of the client's TLS certificate, once a call asked: fixed for the connection, and grpc-js rebuilds
   * the whole peer certificate object for each call that asks (a tenth of a fuzzed peer's CPU, one per stream).
   */
  certHash?: Uint8Array | undefined;
}

const EMPTY = Buffer.alloc(0);
/** A failed dial's diagnosis gives up after this long (or the dial timeout, if shorter). */
const DIAL_DIAGNOSIS_TIMEOUT_MS = 2_000;
const GOSSIP_STREAM = "/gossip.Gossip/GossipStream";
const PING = "/gossip.Gossip/Ping";

/** Fabric's `gossip.Gossip` service, carrying envelopes as raw bytes so they are never re-encoded. */
const GOSSIP_SERVICE: grpc.ServiceDefinition = {
  GossipStream: {
    path: GOSSIP_STREAM,
    requestStream: true,
    responseStream: true,
    requestSerialize: passBytes,
    requestDeserialize: takeBytes,
    responseSerialize: passBytes,
    responseDeserialize: takeBytes,
  },
  Ping: {
    path: PING,
    requestStream: false,
    responseStream: false,
    requestSerialize: passBytes,
    requestDeserialize: takeBytes,
    responseSerialize: passBytes,
    responseDeserialize: takeBytes,
  },
};

/**
 * gRPC as Fabric runs it: serves `/gossip.Gossip/GossipStream` and `/gossip.Gossip/Ping`; dials
 * with a timeout, pings, then opens the stream; 100 MiB message limits; client keepalive no more
 * often than a Fabric server permits (once a minute).
 */
export class GrpcTransport implements Transport {
  readonly tls: TransportTls;
  #listenAddress: string;
  #server: grpc.Server | undefined;
  readonly #clients = new Set<grpc.Client>();
  readonly #streams = new Set<GrpcRawStream>();
  readonly #maxSize: number;
  readonly #log: Logger;
  readonly #dialLog: RemoteLogLimiter;
  /** Comm's verdict on a remote host, consulted at accept (see Transport.setAcceptFilter). */
  #acceptFilter: ((remoteHost: string) => boolean) | undefined;
  /** Endpoints whose failed dial is being diagnosed, with the diagnosis (awaited by close). */
  readonly #diagnosing = new Map<string, Promise<void>>();
  /** Aborts diagnoses in flight at close. */
  readonly #diagnosisAbort = new AbortController();
  readonly #trust: TlsTrustStore | undefined;
  #unsubscribeTrust: (() => void) | undefined;
  #closed = false;
  readonly #limits: SocketLimits;
  #netServers: net.Server[] = [];
  /** Held sockets by "remoteAddress:remotePort" (what grpc-js's getPeer() says of a call). */
  readonly #sockets = new Map<string, HeldSocket>();
  readonly #socketsByHost = new Map<string, number>();
  readonly #pendingByHost = new Map<string, number>();
  #pending = 0;
  readonly #refusedLog: RemoteLogLimiter;
  #flushTimer: TimerHandle | undefined;
  readonly #refusedMetric: CounterMetric<"reason"> | undefined;

  constructor(private readonly options: GrpcTransportOptions) {
    this.#listenAddress = options.listenAddress;
    this.#maxSize = options.maxMessageSize ?? DEF_MAX_MESSAGE_SIZE;
    this.#log = options.logger.child("gossip.comm.grpc");
    this.#limits = { ...DEFAULT_SOCKET_LIMITS, ...options.limits };
    this.#refusedMetric = options.metrics?.counter(COMM_SOCKETS_REFUSED);
    this.#refusedLog = new RemoteLogLimiter(this.#log, options.clock, "gossip socket");
    this.#dialLog = new RemoteLogLimiter(this.#log, options.clock, "gossip dial");
    const tls = options.tls;
    this.#trust = tls === undefined ? undefined : tls.rootCAs instanceof TlsTrustStore ? tls.rootCAs : new TlsTrustStore(tls.rootCAs);
    this.tls = {
      serverCertHash: tls ? certHashOfPem(tls.cert) : undefined,
      clientCertHash: tls ? certHashOfPem(tls.clientCert ?? tls.cert) : undefined,
    };
  }

  /** The TLS CAs this transport trusts (undefined without TLS). */
  get trustStore(): TlsTrustStore | undefined {
    return this.#trust;
  }

  get listenAddress(): string {
    return this.#listenAddress;
  }

  async listen(onStream: (stream: RawStream) => void): Promise<void> {
    const server = new grpc.Server({
      "grpc.max_receive_message_length": this.#maxSize,
      "grpc.max_send_message_length": this.#maxSize,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.max_concurrent_streams": this.#limits.maxConcurrentStreams,
      interceptors: [refuseCompressedRequests],
    });
    server.addService(GOSSIP_SERVICE, {
      GossipStream: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => {
        if (this.#closed) {
          call.end();
          return;
        }
        const held = this.#calledFrom(call.getPeer());
        const certHash = held === undefined ? undefined : (): Uint8Array | undefined => (held.certHash ??= peerCertHash(call));
        const stream = new GrpcRawStream(call, peerAddress(call.getPeer()), () => this.#streams.delete(stream), certHash);
        this.#streams.add(stream);
        onStream(stream);
      },
      Ping: (call: grpc.ServerUnaryCall<Uint8Array, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        this.#calledFrom(call.getPeer());
        callback(null, EMPTY);
      },
    });
    const tls = this.options.tls;
    const trust = this.#trust;
    // Fabric's server only requests a client certificate (clientAuthRequired off) and relies on the
    // ConnEstablish hash binding. grpc-js exposes the peer certificate only once it verified it, so we
    // require a client certificate from one of the trusted TLS CAs (every channel org's, as Fabric's
    // SetClientRootCAs keeps them), replaced in the running server when the trust store changes.
    let creds: grpc.ServerCredentials;
    if (tls !== undefined && trust !== undefined) {
      const updatable = new UpdatableServerCredentials(Buffer.from(tls.cert), Buffer.from(tls.key), trust.peerRoots(), this.#limits.tlsHandshakeTimeoutMs);
      this.#unsubscribeTrust = trust.onPeerRootsChange((roots) => updatable.setClientRootCAs(roots));
      creds = updatable;
    } else {
      creds = grpc.ServerCredentials.createInsecure();
    }
    // Our own listener hands grpc-js each socket it admits (a connection injector): grpc-js's own
    // listener would take every connection, and tells nothing of the sockets under its sessions.
    const injector = server.createConnectionInjector(creds);
    const { host, port: wanted } = splitListenAddress(this.options.listenAddress);
    // As grpc-js's bindAsync: every address the host resolves to ("localhost": 127.0.0.1 and ::1), the
    // first on the port asked for (0: a free one), the others on the port it got.
    const addresses = host === "" ? [undefined] : (await lookup(host, { all: true })).map((a) => a.address);
    let port = wanted;
    for (const [i, address] of addresses.entries()) {
      const netServer = net.createServer((socket) => this.#admit(socket, injector));
      try {
        port = await new Promise<number>((resolve, reject) => {
          netServer.once("error", reject);
          netServer.listen(port, address, () => {
            netServer.off("error", reject);
            const a = netServer.address();
            resolve(typeof a === "object" && a !== null ? a.port : port);
          });
        });
      } catch (err) {
        if (i === 0) {
          for (const n of this.#netServers) n.close();
          this.#netServers = [];
          injector.destroy();
          throw err;
        }
        this.#log.warn("gossip service not listening on one of its addresses", { address, error: errorMessage(err) });
        continue;
      }
      netServer.on("error", (err) => this.#log.error("gossip listener failed", { error: err.message }));
      this.#netServers.push(netServer);
    }
    this.#listenAddress = `${this.options.listenAddress.slice(0, this.options.listenAddress.lastIndexOf(":"))}:${port}`;
    this.#server = server;
    this.#log.info("gossip service listening", { address: this.#listenAddress, tls: this.options.tls !== undefined });
  }

  async dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number, stillNeeded?: () => boolean): Promise<RawStream> {
    const client = await this.#connect(endpoint, dialTimeoutMs);
    try {
      await this.#ping(client, endpoint, pingTimeoutMs);
    } catch (err) {
      this.#closeClient(client);
      throw err;
    }
    if (stillNeeded !== undefined && !stillNeeded()) {
      this.#closeClient(client);
      throw dialNotNeeded(endpoint);
    }
    const call = client.makeBidiStreamRequest<Uint8Array, Uint8Array>(GOSSIP_STREAM, passBytes, takeBytes, new grpc.Metadata(), {});
    const stream = new GrpcRawStream(call, endpoint, () => {
      this.#streams.delete(stream);
      this.#closeClient(client);
    });
    this.#streams.add(stream);
    return stream;
  }

  async ping(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<void> {
    const client = await this.#connect(endpoint, dialTimeoutMs);
    try {
      await this.#ping(client, endpoint, pingTimeoutMs);
    } finally {
      this.#closeClient(client);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribeTrust?.();
    this.#unsubscribeTrust = undefined;
    for (const s of [...this.#streams]) s.close();
    for (const c of [...this.#clients]) closeClient(c);
    this.#clients.clear();
    const netServers = this.#netServers;
    this.#netServers = [];
    this.#flushTimer?.cancel();
    this.#flushTimer = undefined;
    for (const n of netServers) n.close();
    for (const held of this.#sockets.values()) this.#unpend(held);
    const server = this.#server;
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = this.options.clock.setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1_000);
        server.tryShutdown(() => {
          timer.cancel();
          resolve();
        });
      });
    }
    // What grpc-js's shutdown left open (sockets still in their TLS handshake, silent ones).
    for (const held of [...this.#sockets.values()]) held.socket.destroy();
    this.#diagnosisAbort.abort();
    await Promise.allSettled([...this.#diagnosing.values()]);
  }

  setAcceptFilter(filter: (remoteHost: string) => boolean): void {
    this.#acceptFilter = filter;
  }

  disconnectHost(remoteHost: string): void {
    for (const held of [...this.#sockets.values()]) if (held.host === remoteHost) held.socket.destroy();
  }

  /** Creates a client with its own connection and waits until it is ready (Fabric's WithBlock dial). */
  async #connect(endpoint: string, dialTimeoutMs: number): Promise<grpc.Client> {
    if (this.#closed) throw new CommError("STOPPED", "transport is closed");
    const options: grpc.ChannelOptions = {
      "grpc.max_receive_message_length": this.#maxSize,
      "grpc.max_send_message_length": this.#maxSize,
      // Fabric's server allows a client keepalive ping at most once a minute.
      "grpc.keepalive_time_ms": 60_000,
      "grpc.keepalive_timeout_ms": 20_000,
      // One connection per dial, as Fabric's comm makes one grpc.ClientConn per connection.
      "grpc.use_local_subchannel_pool": 1,
    };
    const client = new grpc.Client(endpoint, this.#credentials(endpoint, options), options);
    this.#clients.add(client);
    try {
      await waitForReady(client, this.options.clock.now() + dialTimeoutMs);
    } catch (err) {
      this.#closeClient(client);
      this.#diagnoseLater(endpoint, dialTimeoutMs);
      throw new CommError("DIAL_FAILED", `cannot connect to ${endpoint} within ${dialTimeoutMs} ms: ${(err as Error).message}`, { cause: err });
    }
    return client;
  }

  /**
   * grpc-js says only "Failed to connect before the deadline", whatever the cause. After a failed dial the
   * endpoint is dialed again with node:tls (at most one diagnosis per endpoint in flight) and the cause is
   * logged in words (an unknown CA, an expired certificate, TLS against plaintext, ...): in the background, so
   * that a failing dial is not slowed down, and through the limiter, so that a dead peer costs a line a minute.
   */
  #diagnoseLater(endpoint: string, dialTimeoutMs: number): void {
    if (this.#closed || this.#diagnosing.has(endpoint)) return;
    const tls = this.options.tls;
    const run = diagnoseTlsDial(endpoint, {
      tls:
        tls === undefined || this.#trust === undefined
          ? undefined
          : { rootCAs: this.#trust.peerRoots(), cert: tls.clientCert ?? tls.cert, key: tls.clientKey ?? tls.key, serverNameOverride: tls.serverNameOverride },
      timeoutMs: Math.min(dialTimeoutMs, DIAL_DIAGNOSIS_TIMEOUT_MS),
      what: "peer",
      signal: this.#diagnosisAbort.signal,
    })
      .then((d) => {
        if (this.#closed || d.code === "OK") return;
        this.#dialLog.warn(d.code, endpoint, `cannot connect to ${endpoint}: ${formatTlsDiagnosis(d)}`, { endpoint, cause: d.code });
      })
      .finally(() => this.#diagnosing.delete(endpoint));
    this.#diagnosing.set(endpoint, run);
  }

  #ping(client: grpc.Client, endpoint: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest<Uint8Array, Uint8Array>(PING, passBytes, takeBytes, EMPTY, { deadline: this.options.clock.now() + timeoutMs }, (err) => {
        if (err) reject(new CommError("PING_FAILED", `ping of ${endpoint} failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  #credentials(endpoint: string, options: grpc.ChannelOptions): grpc.ChannelCredentials {
    const tls = this.options.tls;
    if (!tls || this.#trust === undefined) return clientCredentials(endpoint, undefined, options);
    // The CAs of the moment: a channel joined or updated since the last dial counts.
    return clientCredentials(
      endpoint,
      { rootCAs: this.#trust.peerRoots(), cert: tls.clientCert ?? tls.cert, key: tls.clientKey ?? tls.key, serverNameOverride: tls.serverNameOverride },
      options,
    );
  }

  #closeClient(client: grpc.Client): void {
    if (this.#clients.delete(client)) closeClient(client);
  }

  /** Open streams (for tests and the admin view). */
  openStreams(): number {
    return this.#streams.size;
  }

  /** Sockets the server holds, and how many of them made no gRPC call yet (for tests and the admin view). */
  openSockets(): { held: number; pending: number } {
    return { held: this.#sockets.size, pending: this.#pending };
  }

  /** Admits `socket` within the limits and hands it to grpc-js, or closes it at once. */
  #admit(socket: net.Socket, injector: { injectConnection(s: net.Socket): void }): void {
    const address = socket.remoteAddress;
    if (this.#closed || address === undefined) {
      socket.destroy();
      return;
    }
    socket.on("error", () => undefined); // a reset before grpc-js took it over must not crash us
    const host = address.startsWith("::ffff:") ? address.slice(7) : address;
    const l = this.#limits;
    const here = this.#socketsByHost.get(host) ?? 0;
    const pendingHere = this.#pendingByHost.get(host) ?? 0;
    const refusal: SocketRefusal | undefined =
      this.#acceptFilter?.(host) === false
        ? "refused_address"
        : this.#sockets.size >= l.maxSockets
        ? "too_many"
        : here >= l.maxSocketsPerAddress
          ? "too_many_from_address"
          : this.#pending >= l.maxPendingSockets || pendingHere >= l.maxPendingSocketsPerAddress
            ? "too_many_pending"
            : undefined;
    if (refusal !== undefined) {
      socket.destroy();
      this.#refused(refusal, host, `closed a connection from ${host}: ${refusal.replace(/_/g, " ")} (held ${this.#sockets.size}, ${here} from it; ${this.#pending} without a call yet, ${pendingHere} from it)`);
      return;
    }
    const key = `${address}:${socket.remotePort ?? 0}`;
    const held: HeldSocket = { socket, host, pending: true, firstCall: undefined };
    this.#sockets.set(key, held);
    bump(this.#socketsByHost, host, 1);
    bump(this.#pendingByHost, host, 1);
    this.#pending++;
    held.firstCall = this.options.clock.setTimeout(() => {
      held.firstCall = undefined;
      this.#unpend(held);
      socket.destroy();
      this.#refused("no_call_in_time", host, `closed a connection from ${host}: no gRPC call within ${l.firstCallTimeoutMs} ms`);
    }, l.firstCallTimeoutMs);
    socket.once("close", () => {
      if (this.#sockets.get(key) === held) this.#sockets.delete(key);
      bump(this.#socketsByHost, host, -1);
      this.#unpend(held);
    });
    injector.injectConnection(socket);
  }

  /** A call arrived from `peer` ("address:port"): its held socket (undefined when not ours) is in use, no longer pending. */
  #calledFrom(peer: string): HeldSocket | undefined {
    const held = this.#sockets.get(stripScheme(peer));
    if (held !== undefined) this.#unpend(held);
    return held;
  }

  #unpend(held: HeldSocket): void {
    if (!held.pending) return;
    held.pending = false;
    held.firstCall?.cancel();
    held.firstCall = undefined;
    this.#pending--;
    bump(this.#pendingByHost, held.host, -1);
  }

  #refused(reason: SocketRefusal, host: string, message: string): void {
    this.#refusedMetric?.inc({ reason });
    this.#refusedLog.warn(reason, host, message);
    // The summary of what was held back is due when the window ends, even if the flood stopped.
    if (this.#refusedLog.suppressedInWindow > 0 && this.#flushTimer === undefined && !this.#closed) {
      this.#flushTimer = this.options.clock.setTimeout(() => {
        this.#flushTimer = undefined;
        this.#refusedLog.flush();
      }, REMOTE_LOG_WINDOW_MS);
    }
  }
}

/** Adds `delta` to a count by key, dropping keys that reach 0. */
function bump(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

/**
 * Answers a call whose messages come compressed (grpc-encoding gzip or deflate) with UNIMPLEMENTED
 * before reading any, as Fabric's peers do (their gRPC has no decompressor registered). grpc-js would
 * inflate each message up to the 100 MiB receive limit before any check of ours: eight concurrent
 * calls of one 100 KB gzip bomb each took the process from 105 to 925 MiB. grpc-js drops the header
 * from the metadata it shows, so the encoding is read from its call (a field of grpc-js 1.14; the
 * test in test/unit/comm/compressed-requests.test.ts fails if a new version moves it).
 */
const refuseCompressedRequests: grpc.ServerInterceptor = (_method, call) => {
  const encoding = (call as unknown as { incomingEncoding?: unknown }).incomingEncoding;
  if (encoding === undefined || encoding === "identity") return new grpc.ServerInterceptingCall(call);
  return new grpc.ServerInterceptingCall(call, {
    start: () => {
      call.sendStatus({ code: grpc.status.UNIMPLEMENTED, details: `compressed messages (grpc-encoding ${String(encoding)}) are not accepted`, metadata: null });
    },
  });
};

/** "host:port" of a listen address; IPv6 hosts in brackets lose them. */
function splitListenAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  let host = address.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port: Number(address.slice(colon + 1)) };
}

/** grpc-js's "address:port" of a call as "host:port", with an IPv6 host in brackets. */
function peerAddress(peer: string): string {
  const plain = stripScheme(peer);
  const colon = plain.lastIndexOf(":");
  if (colon <= 0) return plain;
  const host = plain.slice(0, colon);
  if (host.startsWith("::ffff:") && !host.slice(7).includes(":")) return `${host.slice(7)}:${plain.slice(colon + 1)}`;
  return isIPv6(host) ? `[${host}]:${plain.slice(colon + 1)}` : plain;
}

/**
 * Mutual-TLS server credentials whose client CAs can be replaced while the server runs: grpc-js
 * hands each new context to its TLS server (`setSecureContext`), so new handshakes verify client
 * certificates against the new CAs while open connections go on.
 */
class UpdatableServerCredentials extends grpc.ServerCredentials {
  readonly #cert: Buffer;
  readonly #key: Buffer;

  constructor(cert: Buffer, key: Buffer, clientRootCAs: Buffer, handshakeTimeoutMs: number) {
    // handshakeTimeout: a client that starts a TLS handshake and goes silent is dropped in seconds.
    super({ requestCert: true, rejectUnauthorized: true, handshakeTimeout: handshakeTimeoutMs }, { ca: clientRootCAs, cert: [cert], key: [key] });
    this.#cert = cert;
    this.#key = key;
  }

  setClientRootCAs(roots: Buffer): void {
    this.updateSecureContextOptions({ ca: roots, cert: [this.#cert], key: [this.#key] });
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

function stripScheme(peer: string): string {
  return peer.replace(/^ipv[46]:/, "");
}

export { GOSSIP_SERVICE };
