import { type Logger, RemoteLogLimiter } from "../../logging/index.js";
import type { MetricsProvider } from "../../metrics/index.js";
import type { Clock } from "../../util/index.js";
import { CommError, DEF_MAX_MESSAGE_SIZE, DEFAULT_SOCKET_LIMITS, dialNotNeeded, type RawStream, type SocketLimits, type Transport, type TransportTls } from "../index.js";
import { certHashOfPem, type ClientTlsMaterial } from "./credentials.js";
import { SocketGate } from "./socket-gate.js";
import { diagnoseTlsDial, formatTlsDiagnosis } from "./tls-diagnosis.js";
import { TlsTrustStore } from "./trust-store.js";

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

/** The options of either gRPC transport of the gossip port. */
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

/** A failed dial's diagnosis gives up after this long (or the dial timeout, if shorter). */
const DIAL_DIAGNOSIS_TIMEOUT_MS = 2_000;

/**
 * What both gRPC transports of the gossip port keep alike: their settings, the socket gate, the TLS trust
 * store and certificate hashes, the streams open, and the diagnosis of failed dials.
 */
export abstract class GossipPortTransport<S extends RawStream, C> implements Transport {
  readonly tls: TransportTls;
  protected readonly options: GrpcTransportOptions;
  protected readonly maxSize: number;
  protected readonly limits: SocketLimits;
  protected readonly log: Logger;
  /** The port's listeners and the sockets they hold, by "remoteAddress:remotePort". */
  protected readonly gate: SocketGate;
  protected readonly trust: TlsTrustStore | undefined;
  /** The address listened on, with its port once bound. */
  protected boundAddress: string;
  protected readonly streams = new Set<S>();
  protected unsubscribeTrust: (() => void) | undefined;
  protected closed = false;
  readonly #dialLog: RemoteLogLimiter;
  /** Endpoints whose failed dial is being diagnosed, with the diagnosis (awaited at close). */
  readonly #diagnosing = new Map<string, Promise<void>>();
  readonly #diagnosisAbort = new AbortController();

  constructor(options: GrpcTransportOptions) {
    this.options = options;
    this.boundAddress = options.listenAddress;
    this.maxSize = options.maxMessageSize ?? DEF_MAX_MESSAGE_SIZE;
    this.log = options.logger.child("gossip.comm.grpc");
    this.limits = { ...DEFAULT_SOCKET_LIMITS, ...options.limits };
    this.gate = new SocketGate(this.limits, options.clock, this.log, options.metrics);
    this.#dialLog = new RemoteLogLimiter(this.log, options.clock, "gossip dial");
    const tls = options.tls;
    this.trust = tls === undefined ? undefined : tls.rootCAs instanceof TlsTrustStore ? tls.rootCAs : new TlsTrustStore(tls.rootCAs);
    this.tls = {
      serverCertHash: tls ? certHashOfPem(tls.cert) : undefined,
      clientCertHash: tls ? certHashOfPem(tls.clientCert ?? tls.cert) : undefined,
    };
  }

  abstract listen(onStream: (stream: RawStream) => void): Promise<void>;
  abstract close(): Promise<void>;
  /** A connection of its own to `endpoint`, up within `dialTimeoutMs` (Fabric's WithBlock dial). */
  protected abstract connect(endpoint: string, dialTimeoutMs: number): Promise<C>;
  /** The Ping call over `conn` within `timeoutMs`. */
  protected abstract pingOver(conn: C, endpoint: string, timeoutMs: number): Promise<void>;
  /** Closes `conn`. */
  protected abstract release(conn: C): void;
  /** Opens the Gossip stream over `conn` (which then goes with the stream). */
  protected abstract openStream(conn: C, endpoint: string): S;

  /** Fabric's createConnection up to the handshake: connect, ping, then the stream unless no longer needed. */
  async dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number, stillNeeded?: () => boolean): Promise<RawStream> {
    const conn = await this.connect(endpoint, dialTimeoutMs);
    try {
      await this.pingOver(conn, endpoint, pingTimeoutMs);
    } catch (err) {
      this.release(conn);
      throw err;
    }
    if (this.closed || (stillNeeded !== undefined && !stillNeeded())) {
      this.release(conn);
      throw this.closed ? new CommError("STOPPED", "transport is closed") : dialNotNeeded(endpoint);
    }
    const stream = this.openStream(conn, endpoint);
    this.streams.add(stream);
    return stream;
  }

  /** Fabric's Probe: connect and ping, no stream. */
  async ping(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<void> {
    const conn = await this.connect(endpoint, dialTimeoutMs);
    try {
      await this.pingOver(conn, endpoint, pingTimeoutMs);
    } finally {
      this.release(conn);
    }
  }

  /** The TLS CAs this transport trusts (undefined without TLS). */
  get trustStore(): TlsTrustStore | undefined {
    return this.trust;
  }

  get listenAddress(): string {
    return this.boundAddress;
  }

  setAcceptFilter(filter: (remoteHost: string) => boolean): void {
    this.gate.acceptFilter = filter;
  }

  disconnectHost(remoteHost: string): void {
    this.gate.disconnectHost(remoteHost);
  }

  /** Open streams (for tests and the admin view). */
  openStreams(): number {
    return this.streams.size;
  }

  /** Sockets the server holds, and how many of them made no gRPC call yet (for tests and the admin view). */
  openSockets(): { held: number; pending: number } {
    return this.gate.stats();
  }

  /** Our client side's TLS of the moment (the CAs as the trust store has them now); undefined in plaintext. */
  protected clientTls(): ClientTlsMaterial | undefined {
    const tls = this.options.tls;
    if (tls === undefined || this.trust === undefined) return undefined;
    return { rootCAs: this.trust.peerRoots(), cert: tls.clientCert ?? tls.cert, key: tls.clientKey ?? tls.key, serverNameOverride: tls.serverNameOverride };
  }

  /**
   * A gRPC dial says little of why it failed. After a failed dial the endpoint is dialed again with node:tls
   * (at most one diagnosis per endpoint in flight) and the cause is logged in words (an unknown CA, an expired
   * certificate, TLS against plaintext, ...): in the background, so that a failing dial is not slowed down, and
   * through the limiter, so that a dead peer costs a line a minute.
   */
  protected diagnoseLater(endpoint: string, dialTimeoutMs: number): void {
    if (this.closed || this.#diagnosing.has(endpoint)) return;
    const run = diagnoseTlsDial(endpoint, {
      tls: this.clientTls(),
      timeoutMs: Math.min(dialTimeoutMs, DIAL_DIAGNOSIS_TIMEOUT_MS),
      what: "peer",
      signal: this.#diagnosisAbort.signal,
    })
      .then((d) => {
        if (this.closed || d.code === "OK") return;
        this.#dialLog.warn(d.code, endpoint, `cannot connect to ${endpoint}: ${formatTlsDiagnosis(d)}`, { endpoint, cause: d.code });
      })
      .finally(() => this.#diagnosing.delete(endpoint));
    this.#diagnosing.set(endpoint, run);
  }

  /** Stops the diagnoses in flight and waits for them (at close). */
  protected async stopDiagnoses(): Promise<void> {
    this.#diagnosisAbort.abort();
    await Promise.allSettled([...this.#diagnosing.values()]);
  }
}
