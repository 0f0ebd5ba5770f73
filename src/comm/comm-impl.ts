import {
  type PeerEventSink,
  type MessageCryptoService,
  type SecurityAdvisor,
  type PeerIdentityType,
  type PKIidType,
  type PkiHex,
  pkiHex,
  type RemotePeer,
} from "../api/index.js";
import type { MetricsProvider } from "../metrics/index.js";
import { addressOrigin, type LogFields, type Logger, RateLimitedLog, REMOTE_LOG_WINDOW_MS, RemoteLogLimiter } from "../logging/index.js";
import { type GossipMessage, GossipMessage_Tag } from "../protos/gen/gossip/message.pb.js";
import { type ConnectionInfo, type ReceivedMessage, SignedGossipMessage } from "../protoext/index.js";
import { bytesEqual, type Clock, type TimerHandle, errorMessage, type Random, toHex } from "../util/index.js";
import { Connection } from "./connection.js";
import { ConnectionTable } from "./connection-table.js";
import { CommError } from "./errors.js";
import { buildConnEstablish, checkConnEstablish, type RemoteHandshake, VerifiedHandshakes } from "./handshake.js";
import type { AggregatedSendResult, Comm, CommStats, FrameDecoder, MessageAcceptor, SendResult } from "./interface.js";
import { type CommMetrics, createCommMetrics } from "./metrics.js";
import { type CommOptions, DEFAULT_COMM_OPTIONS } from "./options.js";
import { PeerGuard, TokenBuckets } from "./peer-guard.js";
import type { RawStream, Transport } from "./transport.js";

/** What CommImpl is built from. */
export interface CommComponents {
  transport: Transport;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: MetricsProvider;
  mcs: MessageCryptoService;
  securityAdvisor: SecurityAdvisor;
  /** This peer's serialized identity. */
  selfIdentity: PeerIdentityType;
  /** Where refused connections and messages are told. Default: nowhere. */
  events?: PeerEventSink;
  /** Called with every remote identity that passed a handshake (the identity mapper's Put). */
  onIdentity?: (pkiId: PKIidType, identity: PeerIdentityType) => void;
  /**
   * The identity stored for a PKI-ID: the identity mapper's Get, which Fabric's comm asks when a
   * dialed peer proves another PKI-ID (the same org's new identity is a certificate rotation,
   * another org's is refused). Comm keeps no identities of its own beyond its open connections, so
   * a former peer's identity lives as long as the mapper keeps it. Without it, only a connected
   * peer's identity is known.
   */
  identityOf?: (pkiId: PKIidType) => PeerIdentityType | undefined;
  /** How received frames are decoded (after the handshake). Default: `SignedGossipMessage.fromEnvelopeBytes`. */
  decodeFrame?: FrameDecoder;
}

interface Subscription {
  acceptor: MessageAcceptor;
  handler: (msg: ReceivedMessage) => void;
}

interface AckWaiter {
  settle: (error: string) => void;
}

/** A stream that passed the handshake, and the frames that came right after its ConnEstablish. */
interface HandshakeResult {
  remote: RemoteHandshake;
  early: Uint8Array[];
  route: (sink: (b: Uint8Array) => void) => void;
}

/** Two dials that cross within this window are a race, settled the same way on both sides. */
const DIAL_RACE_WINDOW_MS = 1_000;

/**
 * A peer whose certificate expired keeps dialing (Fabric logs every attempt): its handshakes are logged
 * once per PKI-ID per this interval, still counted in the rejected metric and events each time.
 */
export const EXPIRED_IDENTITY_LOG_INTERVAL_MS = 5 * 60_000;

/**
 * Handshake failures that prove the remote address sent forged or garbage input (an honest peer
 * of an org we do not know yet, or with an expired certificate, fails otherwise): counted as
 * offences against the address.
 */
const HANDSHAKE_OFFENCES: ReadonlySet<CommError["code"]> = new Set([
  "BAD_SIGNATURE",
  "PKI_ID_MISMATCH",
  "TLS_HASH_MISMATCH",
  "WRONG_FIRST_MESSAGE",
  "MALFORMED_FRAME",
  "MESSAGE_TOO_LARGE",
  "NO_PKI_ID",
]);

/** The request budget a message draws on, if any. */
function budgetKind(content: GossipMessage["content"]): "membership" | "pull" | undefined {
  switch (content?.$case) {
    case "memReq":
      return "membership";
    case "hello":
    case "dataReq":
    case "stateInfoPullReq":
    case "privateReq":
      return "pull";
    default:
      return undefined;
  }
}

/**
 * Fabric's commImpl over any Transport: signed handshake bound to TLS, one connection per PKI-ID,
 * bounded send queues, acks, presumed-dead reports. Bad input closes that one connection with a
 * CommError code, a metric and a rate-limited log line; it never throws out of a callback.
 */
export class CommImpl implements Comm {
  readonly #c: CommComponents;
  readonly #opts: CommOptions;
  readonly #log: Logger;
  readonly #warn: RateLimitedLog;
  /** Handshakes of expired identities: one line per PKI-ID per EXPIRED_IDENTITY_LOG_INTERVAL_MS. */
  readonly #expiredLog: RateLimitedLog;
  /** Lines caused by remote input: keyed by code and remote host, bounded per minute. */
  readonly #remoteLog: RemoteLogLimiter;
  #flushTimer: TimerHandle | undefined;
  readonly #guard: PeerGuard;
  readonly #budgets: { membership: TokenBuckets; pull: TokenBuckets };
  /** Accepted streams in their handshake, per remote host. */
  readonly #handshakesByHost = new Map<string, number>();
  /** Authenticated inbound connections (primary or side), per remote host. */
  readonly #inboundByHost = new Map<string, number>();
  #inbound = 0;
  readonly #metrics: CommMetrics;
  readonly #decodeFrame: FrameDecoder;
  readonly #pkiId: PKIidType;
  readonly #conns = new ConnectionTable();
  /** Streams that lost a dial race: still read until the remote ends them, never written. */
  readonly #sideConns = new Set<Connection>();
  readonly #dialing = new Map<PkiHex, Promise<Connection>>();
  readonly #pendingStreams = new Set<RawStream>();
  readonly #subs = new Set<Subscription>();
  readonly #deadListeners = new Set<(pkiId: PKIidType, endpoint?: string) => void>();
  readonly #switchListeners = new Set<(pkiId: PKIidType) => void>();
  readonly #ackWaiters = new Map<string, AckWaiter>();
  readonly #tasks = new Set<Promise<unknown>>();
  /** Remote handshakes whose signature verified (see VerifiedHandshakes). */
  readonly #verifiedHandshakes = new VerifiedHandshakes();
  /** Our signed ConnEstablish by side and probe (see #ownConnEstablish). */
  readonly #ownConnMsgs: (Uint8Array | undefined)[] = [];
  #started = false;
  #stopped = false;

  constructor(components: CommComponents, options: Partial<CommOptions> = {}) {
    this.#c = components;
    this.#opts = { ...DEFAULT_COMM_OPTIONS, ...options };
    this.#log = components.logger.child("gossip.comm");
    this.#warn = new RateLimitedLog(this.#log, components.clock);
    this.#expiredLog = new RateLimitedLog(this.#log, components.clock, EXPIRED_IDENTITY_LOG_INTERVAL_MS);
    this.#metrics = createCommMetrics(components.metrics);
    this.#decodeFrame = components.decodeFrame ?? SignedGossipMessage.fromEnvelopeBytes;
    this.#remoteLog = new RemoteLogLimiter(this.#log, components.clock, "comm", (code) => this.#metrics.logSuppressed.inc({ code }));
    this.#guard = new PeerGuard(components.clock, this.#opts);
    this.#budgets = {
      membership: new TokenBuckets(components.clock, this.#opts.requestBudgets.membership),
      pull: new TokenBuckets(components.clock, this.#opts.requestBudgets.pull),
    };
    this.#pkiId = components.mcs.getPKIidOfCert(components.selfIdentity);
  }

  getPKIid(): PKIidType {
    return this.#pkiId;
  }

  /** Open connections and in-flight work, for tests and the admin view. */
  stats(): CommStats {
    return {
      connections: this.#conns.size,
      dialing: this.#dialing.size,
      pendingHandshakes: this.#pendingStreams.size,
      refused: this.#guard.refusedKeys().length,
    };
  }

  /** The PKI-IDs this peer has an open connection with. */
  connectedPeers(): PKIidType[] {
    return [...this.#conns.values()].map((c) => c.info.id);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Refused addresses are turned away by the transport before TLS, where it can (the gRPC one can).
    this.#c.transport.setAcceptFilter?.((host) => !this.#opts.refuseAddresses || this.#guard.refusedFor(`ip:${host}`) <= 0);
    await this.#c.transport.listen((stream) => this.#track(this.#acceptStream(stream)));
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#flushTimer?.cancel();
    this.#flushTimer = undefined;
    for (const conn of this.#conns.values()) conn.close();
    this.#conns.clear();
    for (const conn of this.#sideConns) conn.close();
    this.#sideConns.clear();
    for (const stream of this.#pendingStreams) stream.close();
    this.#pendingStreams.clear();
    for (const waiter of [...this.#ackWaiters.values()]) waiter.settle("comm stopped");
    this.#ackWaiters.clear();
    await this.#c.transport.close();
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    this.#subs.clear();
    this.#deadListeners.clear();
    this.#switchListeners.clear();
  }

  send(msg: SignedGossipMessage, ...peers: RemotePeer[]): void {
    if (this.#stopped || peers.length === 0) return;
    const bytes = msg.bytes;
    if (!this.#fitsSendLimit(bytes)) return;
    for (const peer of peers) {
      const conn = this.#conns.of(peer.pkiId);
      if (conn !== undefined) {
        this.#enqueue(conn, bytes, false);
        continue;
      }
      this.#track(
        this.#getConnection(peer).then(
          (c) => this.#enqueue(c, bytes, false),
          (err: unknown) => this.#dialFailed(peer, err),
        ),
      );
    }
  }

  /**
   * Sends `msg` to `peer` without dropping it: resolves once the transport took it, rejects when the
   * peer cannot be reached. For bulk transfers that must lose nothing (benchmarks, state transfer).
   */
  async sendAndWait(msg: SignedGossipMessage, peer: RemotePeer): Promise<void> {
    const conn = this.#conns.get(pkiHex(peer.pkiId)) ?? (await this.#getConnection(peer));
    await new Promise<void>((resolve, reject) => {
      if (!conn.enqueue(msg.bytes, true, reject, resolve)) reject(new CommError("CONNECTION_CLOSED", `connection to ${peer.endpoint} is closed`));
    });
  }

  async sendWithAck(msg: SignedGossipMessage, timeoutMs: number, minAck: number, ...peers: RemotePeer[]): Promise<AggregatedSendResult> {
    const nonce = this.#c.random.uint64();
    const withNonce = SignedGossipMessage.noopSign({ ...msg.message, nonce });
    const bytes = withNonce.bytes;
    const results: SendResult[] = [];
    let acks = 0;
    let nacks = 0;
    if (this.#stopped || !this.#fitsSendLimit(bytes)) {
      const error = this.#stopped ? "comm is stopped" : `message of ${bytes.byteLength} bytes exceeds the limit of ${this.#opts.maxMessageSize}`;
      return { results: peers.map((peer) => ({ peer, error })), ackCount: 0, nackCount: peers.length };
    }
    if (peers.length === 0) return { results, ackCount: 0, nackCount: 0 };
    return await new Promise<AggregatedSendResult>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        if (acks >= minAck || results.length === peers.length) {
          done = true;
          resolve({ results: results.slice(), ackCount: acks, nackCount: nacks });
        }
      };
      for (const peer of peers) {
        const key = `${nonce} ${pkiHex(peer.pkiId)}`;
        let timer: TimerHandle | undefined;
        let settled = false;
        const settle = (error: string): void => {
          if (settled) return;
          settled = true;
          timer?.cancel();
          this.#ackWaiters.delete(key);
          results.push({ peer, error });
          if (error === "") acks++;
          else nacks++;
          finish();
        };
        this.#ackWaiters.set(key, { settle });
        timer = this.#c.clock.setTimeout(() => settle("timed out waiting for an ack"), timeoutMs);
        this.#track(
          this.#getConnection(peer).then(
            (conn) => this.#enqueue(conn, bytes, true, (err) => settle(`send failed: ${err.message}`)),
            (err: unknown) => {
              settle(`cannot connect: ${errorMessage(err)}`);
              this.#dialFailed(peer, err);
            },
          ),
        );
      }
    });
  }

  async probe(peer: RemotePeer): Promise<void> {
    this.#assertRunning();
    await this.#c.transport.ping(peer.endpoint, this.#opts.dialTimeoutMs, this.#opts.connTimeoutMs);
  }

  async handshake(peer: RemotePeer): Promise<PeerIdentityType> {
    this.#assertRunning();
    const stream = await this.#c.transport.dial(peer.endpoint, this.#opts.dialTimeoutMs, this.#opts.connTimeoutMs);
    let remote: RemoteHandshake;
    try {
      ({ remote } = await this.#handshakeStream(stream, true, true, Math.min(this.#opts.connTimeoutMs, this.#opts.handshakeTimeoutMs)));
    } finally {
      stream.close();
    }
    if (peer.pkiId.byteLength > 0 && !bytesEqual(peer.pkiId, remote.info.id)) {
      throw new CommError("UNEXPECTED_PEER", `${peer.endpoint} answered with a PKI-ID other than the expected one`);
    }
    return remote.info.identity;
  }

  accept(acceptor: MessageAcceptor, handler: (msg: ReceivedMessage) => void): () => void {
    const sub: Subscription = { acceptor, handler };
    this.#subs.add(sub);
    return () => this.#subs.delete(sub);
  }

  onPresumedDead(listener: (pkiId: PKIidType, endpoint?: string) => void): () => void {
    this.#deadListeners.add(listener);
    return () => this.#deadListeners.delete(listener);
  }

  onIdentitySwitch(listener: (oldPkiId: PKIidType) => void): () => void {
    this.#switchListeners.add(listener);
    return () => this.#switchListeners.delete(listener);
  }

  closeConn(peer: RemotePeer): void {
    const key = pkiHex(peer.pkiId);
    const conn = this.#conns.get(key);
    if (conn === undefined) return;
    this.#conns.delete(key);
    conn.close();
  }

  reportMisbehaviour(pkiId: PKIidType, code: string): void {
    if (this.#stopped) return;
    const key = pkiHex(pkiId);
    const conn = this.#conns.get(key);
    this.#offend(key, conn?.stream.remoteAddress, code);
  }

  identitySwitched(pkiId: PKIidType): void {
    for (const l of this.#switchListeners) l(pkiId);
    this.closeConn({ endpoint: "", pkiId });
  }

  // --- connections ---

  #getConnection(peer: RemotePeer): Promise<Connection> {
    if (this.#stopped) return Promise.reject(new CommError("STOPPED", "comm is stopped"));
    const key = pkiHex(peer.pkiId);
    const existing = this.#conns.get(key);
    if (existing !== undefined) return Promise.resolve(existing);
    const inflight = this.#dialing.get(key);
    if (inflight !== undefined) return inflight;
    const refusedMs = this.#guard.refusedFor(`id:${key}`);
    if (refusedMs > 0) return Promise.reject(new CommError("REFUSED_PEER", `${peer.endpoint} is refused for ${Math.ceil(refusedMs / 1_000)} s more after too many offences`));
    const dial = this.#dial(peer, key).finally(() => this.#dialing.delete(key));
    this.#dialing.set(key, dial);
    return dial;
  }

  /** Dials `peer`, whose PKI-ID's map key is `key` (empty for a peer known by its endpoint only). */
  async #dial(peer: RemotePeer, key: PkiHex): Promise<Connection> {
    // Two peers that start sending to each other within a few round trips both dial, and both handshakes (each
    // with a certificate) complete before the race is settled. A dial whose peer's own connection was adopted
    // meanwhile stops after its ping instead (100 peers at start: 1,307 of 4,950 pairs dialed both ways).
    let stream: RawStream;
    try {
      stream = await this.#c.transport.dial(peer.endpoint, this.#opts.dialTimeoutMs, this.#opts.connTimeoutMs, () => key === "" || !this.#conns.has(key));
    } catch (err) {
      const existing = err instanceof CommError && err.code === "DIAL_NOT_NEEDED" ? this.#conns.get(key) : undefined;
      if (existing !== undefined) return existing;
      throw err;
    }
    if (this.#stopped) {
      stream.close();
      throw new CommError("STOPPED", "comm is stopped");
    }
    let handshake: HandshakeResult;
    try {
      handshake = await this.#handshakeStream(stream, true, false, this.#opts.connTimeoutMs);
    } catch (err) {
      stream.close();
      throw err;
    }
    if (this.#stopped) {
      stream.close();
      throw new CommError("STOPPED", "comm is stopped");
    }
    const { remote } = handshake;
    if (peer.pkiId.byteLength > 0 && !bytesEqual(peer.pkiId, remote.info.id)) {
      // Fabric treats a new PKI-ID of the same org as a certificate rotation.
      const old = this.#conns.get(key)?.info.identity ?? this.#c.identityOf?.(peer.pkiId);
      const sameOrg = old !== undefined && this.#sameOrg(old, remote.info.identity);
      if (!sameOrg) {
        stream.close();
        this.#reject("UNEXPECTED_PEER", peer.endpoint, `${peer.endpoint} authenticated as another peer of another org`);
        throw new CommError("UNEXPECTED_PEER", `${peer.endpoint} authenticated as an unexpected peer`);
      }
      this.#log.info("peer changed its identity", { endpoint: peer.endpoint });
      for (const l of this.#switchListeners) l(peer.pkiId);
    }
    return this.#adopt(stream, remote, true, handshake);
  }

  async #acceptStream(stream: RawStream): Promise<void> {
    if (this.#stopped) {
      stream.close();
      return;
    }
    // Cheap refusals first: no decoding, no signature check, no ConnEstablish of ours.
    const host = addressOrigin(stream.remoteAddress);
    const refusedMs = this.#opts.refuseAddresses ? this.#guard.refusedFor(`ip:${host}`) : 0;
    if (refusedMs > 0) {
      stream.close();
      this.#reject("REFUSED_ADDRESS", stream.remoteAddress, `${host} is refused for ${Math.ceil(refusedMs / 1_000)} s more after too many offences`);
      return;
    }
    // A certificate refused after offences by the connections that presented it: an insider who moves to
    // another address keeps its certificate, and the new address is refused with it.
    const certKey = certKeyOf(stream.remoteCertHash);
    const certMs = certKey === undefined ? 0 : this.#guard.refusedFor(certKey);
    if (certMs > 0) {
      stream.close();
      this.#reject("REFUSED_CERTIFICATE", stream.remoteAddress, `${stream.remoteAddress} presents a TLS certificate refused for ${Math.ceil(certMs / 1_000)} s more after too many offences`);
      this.#refuseAddress(host, certMs, stream.remoteAddress, "REFUSED_CERTIFICATE");
      return;
    }
    const pendingHere = this.#handshakesByHost.get(host) ?? 0;
    if (pendingHere >= this.#opts.maxHandshakesPerAddress || this.#pendingStreams.size >= this.#opts.maxHandshakes) {
      stream.close();
      this.#reject(
        "TOO_MANY_HANDSHAKES",
        stream.remoteAddress,
        `refused a stream from ${host}: ${pendingHere} of its streams and ${this.#pendingStreams.size} in all are in their handshake`,
      );
      return;
    }
    this.#handshakesByHost.set(host, pendingHere + 1);
    let handshake: HandshakeResult;
    try {
      handshake = await this.#handshakeStream(stream, false, false, this.#opts.connTimeoutMs);
    } catch (err) {
      stream.close();
      if (err instanceof CommError && HANDSHAKE_OFFENCES.has(err.code)) this.#offend(undefined, stream.remoteAddress, err.code, stream.remoteCertHash);
      return;
    } finally {
      const n = (this.#handshakesByHost.get(host) ?? 1) - 1;
      if (n <= 0) this.#handshakesByHost.delete(host);
      else this.#handshakesByHost.set(host, n);
    }
    if (handshake.remote.probe) {
      this.#log.debug("peer probed us", { endpoint: stream.remoteAddress });
      stream.close();
      return;
    }
    if (this.#stopped) {
      stream.close();
      return;
    }
    const hereNow = this.#inboundByHost.get(host) ?? 0;
    if (hereNow >= this.#opts.maxConnectionsPerAddress || this.#inbound >= this.#opts.maxConnections) {
      stream.close();
      this.#reject(
        "TOO_MANY_CONNECTIONS",
        stream.remoteAddress,
        `refused a connection from ${host}: it holds ${hereNow} and all peers ${this.#inbound} inbound connections`,
      );
      return;
    }
    this.#inboundByHost.set(host, hereNow + 1);
    this.#inbound++;
    stream.onClose(() => {
      this.#inbound--;
      const n = (this.#inboundByHost.get(host) ?? 1) - 1;
      if (n <= 0) this.#inboundByHost.delete(host);
      else this.#inboundByHost.set(host, n);
    });
    this.#adopt(stream, handshake.remote, false, handshake);
  }

  /**
   * Makes an authenticated stream the connection to its peer, or a side stream, and returns the
   * peer's connection. Fabric: a new inbound stream replaces the existing one; a finished dial
   * yields to an existing connection. When both peers dial each other at once, Fabric's rules close
   * both streams; we settle such a race the same way on both sides instead (the stream dialed by
   * the smaller PKI-ID carries the traffic) and lose no message on the other stream: its unsent
   * messages move over, and it is read until its dialer ends it.
   */
  #adopt(stream: RawStream, remote: RemoteHandshake, outbound: boolean, handshake: HandshakeResult): Connection {
    const conn = this.#wrap(stream, remote, outbound, handshake);
    const primary = this.#place(conn);
    // Watch the end only once placed: a stream that already ended is cleaned up at once.
    stream.onClose(() => {
      if (this.#conns.get(conn.key) === conn) this.#conns.delete(conn.key);
      this.#sideConns.delete(conn);
      conn.close();
    });
    return primary;
  }

  /** Puts `conn` in the connection map or among the side streams; returns the peer's primary connection. */
  #place(conn: Connection): Connection {
    const { outbound } = conn;
    const remote = conn.info;
    const existing = this.#conns.get(conn.key);
    if (existing === undefined) return this.#makePrimary(conn);
    const race = existing.outbound !== outbound && this.#c.clock.monotonic() - existing.since < DIAL_RACE_WINDOW_MS;
    let newWins: boolean;
    if (race) {
      const weDialFirst = Buffer.compare(this.#pkiId, remote.id) < 0;
      newWins = outbound === weDialFirst;
    } else {
      newWins = !outbound;
    }
    if (newWins) {
      this.#makePrimary(conn);
      this.#demote(existing, conn, race);
      return conn;
    }
    this.#demote(conn, existing, race);
    return existing;
  }

  #makePrimary(conn: Connection): Connection {
    this.#conns.set(conn.key, conn);
    this.#c.onIdentity?.(conn.info.id, conn.info.identity);
    return conn;
  }

  /**
   * Stops sending on `loser` in favour of `winner`. We end a stream we dialed (or any stream outside
   * a race) once its writes are done; a stream the remote dialed in a race is read until the remote
   * ends it, within the handshake timeout.
   */
  #demote(loser: Connection, winner: Connection, race: boolean): void {
    this.#sideConns.add(loser);
    const endWrite = loser.outbound || !race;
    loser.retire(winner, endWrite);
    if (!endWrite) {
      const timer = this.#c.clock.setTimeout(() => loser.close(), this.#opts.handshakeTimeoutMs);
      loser.stream.onClose(() => timer.cancel());
    }
  }

  #wrap(stream: RawStream, remote: RemoteHandshake, outbound: boolean, handshake: HandshakeResult): Connection {
    const key = pkiHex(remote.info.id);
    const conn = new Connection(
      { key, info: remote.info, stream, outbound, since: this.#c.clock.monotonic() },
      {
        sendBuffSize: this.#opts.sendBuffSize,
        onSent: () => this.#metrics.sent.inc(),
        onWriteFailure: (c, err) => {
          if (this.#conns.get(c.key) !== c) {
            c.close(); // a replaced stream failing says nothing about the peer
            return;
          }
          this.#log.debug("send failed, peer presumed dead", { endpoint: c.info.endpoint, error: err.message });
          this.#disconnect(c);
        },
      },
    );
    handshake.route((bytes) => this.#onFrame(conn, bytes));
    for (const bytes of handshake.early) this.#onFrame(conn, bytes);
    return conn;
  }

  /**
   * Both sides send their signed ConnEstablish at once and wait `timeoutMs` for the other's.
   * Frames that arrive after the remote's ConnEstablish and before the connection is registered
   * are kept in `early`.
   */
  #handshakeStream(
    stream: RawStream,
    initiator: boolean,
    probe: boolean,
    timeoutMs: number,
  ): Promise<HandshakeResult> {
    this.#pendingStreams.add(stream);
    const tls = this.#c.transport.tls;
    const ownHash = initiator ? tls.clientCertHash : tls.serverCertHash;
    const tlsEnabled = tls.clientCertHash !== undefined || tls.serverCertHash !== undefined;
    const early: Uint8Array[] = [];
    let sink: ((bytes: Uint8Array) => void) | undefined;
    const route = (s: (b: Uint8Array) => void): void => {
      sink = s;
    };
    return new Promise((resolve, reject) => {
      let settled = false;
      if (tlsEnabled && !initiator && stream.remoteCertHash === undefined) {
        // As Fabric: refuse before saying who we are to a client that presented no certificate.
        this.#pendingStreams.delete(stream);
        this.#reject("NO_TLS_CERT", stream.remoteAddress, `${stream.remoteAddress} presented no TLS certificate`);
        reject(new CommError("NO_TLS_CERT", `${stream.remoteAddress} presented no TLS certificate`));
        return;
      }
      const fail = (err: CommError, identity?: Uint8Array): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        this.#pendingStreams.delete(stream);
        this.#reject(err.code, stream.remoteAddress, err.message, identity);
        reject(err);
      };
      const timer = this.#c.clock.setTimeout(
        () => fail(new CommError("HANDSHAKE_TIMEOUT", `no ConnEstablish from ${stream.remoteAddress} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      stream.onClose((err) => {
        if (!settled) fail(new CommError("CONNECTION_CLOSED", `${stream.remoteAddress} closed the stream during the handshake${err ? `: ${err.message}` : ""}`));
      });
      stream.onData((bytes) => {
        if (sink !== undefined) {
          sink(bytes);
          return;
        }
        if (settled) {
          early.push(bytes);
          return;
        }
        if (bytes.byteLength > this.#opts.maxMessageSize) {
          fail(new CommError("MESSAGE_TOO_LARGE", `first message from ${stream.remoteAddress} is ${bytes.byteLength} bytes`));
          return;
        }
        let remote: RemoteHandshake;
        let identity: Uint8Array | undefined;
        try {
          const first = SignedGossipMessage.fromEnvelopeBytes(bytes);
          identity = first.message.content?.$case === "conn" ? first.message.content.value.identity : undefined;
          const claimed = first.message.content?.$case === "conn" ? first.message.content.value.pkiId : undefined;
          // Before the identity and signature checks: a refused peer costs no verification.
          const refusedMs = claimed === undefined || claimed.byteLength === 0 ? 0 : this.#guard.refusedFor(`id:${pkiHex(claimed)}`);
          if (refusedMs > 0) {
            throw new CommError("REFUSED_PEER", `${stream.remoteAddress} claims a PKI-ID refused for ${Math.ceil(refusedMs / 1_000)} s more after too many offences`);
          }
          remote = checkConnEstablish(first, {
            mcs: this.#c.mcs,
            clock: this.#c.clock,
            tlsEnabled,
            remoteCertHash: stream.remoteCertHash,
            remoteAddress: stream.remoteAddress,
            verified: this.#verifiedHandshakes,
          });
        } catch (err) {
          fail(err instanceof CommError ? err : new CommError("MALFORMED_FRAME", `first message from ${stream.remoteAddress} cannot be decoded: ${errorMessage(err)}`), identity);
          return;
        }
        settled = true;
        timer.cancel();
        this.#pendingStreams.delete(stream);
        resolve({ remote, early, route });
      });
      const own = this.#ownConnEstablish(ownHash, initiator, probe);
      stream.write(own).then(
        () => undefined, // Fabric's gossip_comm_messages_sent counts queued messages, not the handshake
        (err: unknown) => fail(new CommError("CONNECTION_CLOSED", `cannot send ConnEstablish to ${stream.remoteAddress}: ${errorMessage(err)}`)),
      );
    });
  }

  /**
   * Our signed ConnEstablish for one side of a stream. Its content (PKI-ID, identity, our TLS certificate's
   * hash, probe) never changes for a transport and carries no nonce or time, so it is signed once per kind
   * rather than per stream (Fabric signs each time; the bytes on the wire are as valid): a stream opened by
   * anyone, authentic or not, costs no signature.
   */
  #ownConnEstablish(ownHash: Uint8Array | undefined, initiator: boolean, probe: boolean): Uint8Array {
    const key = (initiator ? 2 : 0) + (probe ? 1 : 0);
    let bytes = this.#ownConnMsgs[key];
    if (bytes === undefined) {
      bytes = buildConnEstablish({ pkiId: this.#pkiId, identity: this.#c.selfIdentity, tlsCertHash: ownHash, probe }, (m) => this.#c.mcs.sign(m)).bytes;
      this.#ownConnMsgs[key] = bytes;
    }
    return bytes;
  }

  // --- receiving ---

  #onFrame(conn: Connection, bytes: Uint8Array): void {
    if (conn.closed) return;
    this.#metrics.received.inc();
    if (bytes.byteLength > this.#opts.maxMessageSize) {
      this.#dropConn(conn, "MESSAGE_TOO_LARGE", `${bytes.byteLength}-byte message from ${conn.info.endpoint} exceeds ${this.#opts.maxMessageSize}`);
      this.#offend(conn.key, conn.stream.remoteAddress, "MESSAGE_TOO_LARGE");
      return;
    }
    let msg: SignedGossipMessage;
    try {
      msg = this.#decodeFrame(bytes);
    } catch (err) {
      this.#dropConn(conn, "MALFORMED_FRAME", `undecodable message from ${conn.info.endpoint}: ${errorMessage(err)}`);
      this.#offend(conn.key, conn.stream.remoteAddress, "MALFORMED_FRAME");
      return;
    }
    const content = msg.message.content;
    if (content?.$case === "ack") {
      const waiter = this.#ackWaiters.get(`${msg.message.nonce} ${conn.key}`);
      waiter?.settle(content.value.error);
      return;
    }
    const kind = budgetKind(content);
    if (kind !== undefined && !this.#budgets[kind].take(conn.key)) {
      this.#metrics.budgetDropped.inc({ kind });
      this.#limitedWarn("BUDGET_EXCEEDED", conn.stream.remoteAddress, `dropping a ${content?.$case} from ${conn.info.endpoint}: over its ${kind} request budget`, {
        pkiId: conn.key,
      });
      return;
    }
    const received = this.#receivedMessage(conn, msg);
    for (const sub of this.#subs) {
      let wanted = false;
      try {
        wanted = sub.acceptor(received);
        if (wanted) sub.handler(received);
      } catch (err) {
        this.#log.error("message handler failed", { error: errorMessage(err), endpoint: conn.info.endpoint });
      }
    }
  }

  #receivedMessage(conn: Connection, msg: SignedGossipMessage): ReceivedMessage {
    return new ReceivedOverConnection(msg, conn, this.#replier);
  }

  /** How a received message answers its sender (one object for every message, see ReceivedOverConnection). */
  readonly #replier: Replier = {
    reply: (conn, reply) => {
      const signed = SignedGossipMessage.noopSign(reply);
      // Every reply path checks the limit, as send does: an oversized frame would tear the stream down.
      if (!this.#fitsSendLimit(signed.bytes)) return;
      // A stream that lost a dial race is only read: answer on the peer's current connection.
      const target = conn.writable ? conn : (this.#conns.get(conn.key) ?? conn);
      this.#enqueue(target, signed.bytes, true);
    },
  };

  // --- helpers ---

  #enqueue(conn: Connection, bytes: Uint8Array, blocking: boolean, onError?: (err: Error) => void): void {
    if (!conn.enqueue(bytes, blocking, onError)) {
      if (!conn.writable) return;
      this.#metrics.overflow.inc();
      this.#warn.warn(`overflow ${conn.key}`, "send buffer full, dropping messages", { endpoint: conn.info.endpoint });
    }
  }

  /** Oversized messages are not sent (gRPC would fail the stream); logged, not counted as a refusal. */
  #fitsSendLimit(bytes: Uint8Array): boolean {
    if (bytes.byteLength <= this.#opts.maxMessageSize) return true;
    this.#warn.warn("oversized send", `not sending a ${bytes.byteLength}-byte message: the limit is ${this.#opts.maxMessageSize}`);
    return false;
  }

  #disconnect(conn: Connection): void {
    if (this.#conns.get(conn.key) === conn) this.#conns.delete(conn.key);
    conn.close();
    this.#presumeDead(conn.info.id, conn.outbound ? conn.info.endpoint : undefined);
  }

  #dialFailed(peer: RemotePeer, err: unknown): void {
    if (this.#stopped) return;
    this.#log.debug("cannot connect", { endpoint: peer.endpoint, error: errorMessage(err) });
    this.#presumeDead(peer.pkiId, peer.endpoint);
  }

  #presumeDead(pkiId: PKIidType, endpoint: string | undefined): void {
    for (const l of this.#deadListeners) l(pkiId, endpoint);
  }

  #dropConn(conn: Connection, code: CommError["code"], message: string): void {
    this.#reject(code, conn.info.endpoint, message);
    if (this.#conns.get(conn.key) === conn) this.#conns.delete(conn.key);
    conn.close();
  }

  /** `identity`: the one the remote's ConnEstablish carried, when it got that far (it keys the expired-identity lines). */
  #reject(code: CommError["code"], endpoint: string, message: string, identity?: Uint8Array): void {
    this.#metrics.rejected.inc({ code });
    this.#c.events?.emit({ kind: "message-rejected", component: "comm", code });
    // Keyed by the PKI-ID of the expired identity itself (not the claimed one): every line it would log says the same.
    const expired = code === "EXPIRED_IDENTITY" && identity !== undefined ? this.#pkiIdOf(identity) : undefined;
    if (expired !== undefined) {
      this.#expiredLog.warn(expired, message, { code, endpoint, pkiId: expired });
      return;
    }
    this.#limitedWarn(code, endpoint, message, { endpoint });
  }

  #pkiIdOf(identity: Uint8Array): PkiHex | undefined {
    try {
      return pkiHex(this.#c.mcs.getPKIidOfCert(identity));
    } catch {
      return undefined;
    }
  }

  /** A line caused by remote input: keyed by code and remote host (never the port), bounded per minute. */
  #limitedWarn(code: string, endpoint: string, message: string, fields: LogFields): void {
    this.#remoteLog.warn(code, addressOrigin(endpoint), message, fields);
    // The summary of what was held back is due when the window ends, even if nothing else is logged.
    if (this.#remoteLog.suppressedInWindow > 0 && this.#flushTimer === undefined && !this.#stopped) {
      this.#flushTimer = this.#c.clock.setTimeout(() => {
        this.#flushTimer = undefined;
        this.#remoteLog.flush();
      }, REMOTE_LOG_WINDOW_MS);
    }
  }

  /**
   * Counts an offence against a PKI-ID (when the sender is authenticated), else against the client TLS
   * certificate it presented (when any), and against its address. One that crosses the limit is refused:
   * its connections close, and new ones and dials are refused.
   */
  #offend(key: PkiHex | undefined, address: string | undefined, code: string, certHash?: Uint8Array): void {
    this.#metrics.offences.inc({ code });
    const host = address === undefined ? undefined : addressOrigin(address);
    const byAddress = this.#opts.refuseAddresses && host !== undefined && host !== "";
    const certKey = key === undefined ? certKeyOf(certHash) : undefined;
    if (certKey !== undefined) {
      const certMs = this.#guard.offend(certKey);
      if (certMs > 0) {
        this.#metrics.refusals.inc({ what: "certificate" });
        this.#limitedWarn("REFUSED_CERTIFICATE", address ?? "", `refusing the TLS certificate presented by ${address ?? "a peer"} for ${Math.ceil(certMs / 1_000)} s: more than ${this.#opts.misbehaviourLimit} offences within ${this.#opts.misbehaviourWindowMs} ms by connections presenting it, the last ${code}`, {});
        if (host !== undefined) this.#refuseAddress(host, certMs, address, code);
        return;
      }
    }
    let peerMs = 0;
    if (key !== undefined) {
      peerMs = this.#guard.offend(`id:${key}`);
      if (peerMs > 0) {
        this.#metrics.refusals.inc({ what: "peer" });
        this.#closeAll(key);
        this.#limitedWarn("REFUSED_PEER", address ?? "", `refusing peer ${key} for ${Math.ceil(peerMs / 1_000)} s: more than ${this.#opts.misbehaviourLimit} offences within ${this.#opts.misbehaviourWindowMs} ms, the last ${code}`, { pkiId: key });
      }
    }
    if (!byAddress) return;
    // An authenticated offender's address is refused with it; otherwise the address counts its own offences.
    if (peerMs > 0) this.#refuseAddress(host, peerMs, address, code);
    else if (key === undefined) {
      const addressMs = this.#guard.offend(`ip:${host}`);
      if (addressMs > 0) this.#addressRefused(host, addressMs, address, code);
    }
  }

  /** Refuses `host` for `ms` (unless refused longer already, or addresses are not refused). */
  #refuseAddress(host: string, ms: number, address: string | undefined, code: string): void {
    if (!this.#opts.refuseAddresses || host === "") return;
    if (this.#guard.refuse(`ip:${host}`, ms) > 0) this.#addressRefused(host, ms, address, code);
  }

  #addressRefused(host: string, ms: number, address: string | undefined, code: string): void {
    this.#metrics.refusals.inc({ what: "address" });
    // Its connections close too: each call on one would otherwise still cost a gRPC call's work. Not
    // from within the call that crossed the limit (the transport is in the middle of delivering it).
    this.#c.clock.setTimeout(() => this.#c.transport.disconnectHost?.(host), 0);
    this.#limitedWarn("REFUSED_ADDRESS", address ?? "", `refusing connections from ${host} for ${Math.ceil(ms / 1_000)} s: too many offences, the last ${code}`, {});
  }

  /** Closes every connection (primary and side streams) of a PKI-ID. */
  #closeAll(key: PkiHex): void {
    const conn = this.#conns.get(key);
    if (conn !== undefined) {
      this.#conns.delete(key);
      conn.close();
    }
    for (const side of [...this.#sideConns]) {
      if (side.key === key) {
        this.#sideConns.delete(side);
        side.close();
      }
    }
  }

  #sameOrg(a: PeerIdentityType, b: PeerIdentityType): boolean {
    const orgA = this.#c.securityAdvisor.orgByPeerIdentity(a);
    return orgA.byteLength > 0 && bytesEqual(orgA, this.#c.securityAdvisor.orgByPeerIdentity(b));
  }

  #assertRunning(): void {
    if (this.#stopped) throw new CommError("STOPPED", "comm is stopped");
  }

  #track(task: Promise<unknown>): void {
    const t = task.catch((err: unknown) => this.#log.error("comm task failed", { error: errorMessage(err) }));
    this.#tasks.add(t);
    void t.finally(() => this.#tasks.delete(t));
  }
}

/** Creates a Comm over `components.transport`. */
export function createComm(components: CommComponents, options: Partial<CommOptions> = {}): Comm {
  return new CommImpl(components, options);
}

/** The guard's key for a client TLS certificate, by its SHA-256 (undefined without TLS). */
function certKeyOf(certHash: Uint8Array | undefined): string | undefined {
  return certHash === undefined || certHash.byteLength === 0 ? undefined : `tls:${toHex(certHash)}`;
}

/** What a received message needs of comm to answer its sender. */
interface Replier {
  reply(conn: Connection, reply: GossipMessage): void;
}

/**
 * A message read off a connection. Its answers go through comm's replier: one object per message
 * received, instead of an object and a closure each for respond and ack.
 */
class ReceivedOverConnection implements ReceivedMessage {
  readonly message: SignedGossipMessage;
  readonly connectionInfo: ConnectionInfo;
  readonly #conn: Connection;
  readonly #replier: Replier;

  constructor(message: SignedGossipMessage, conn: Connection, replier: Replier) {
    this.message = message;
    this.connectionInfo = conn.info;
    this.#conn = conn;
    this.#replier = replier;
  }

  respond(reply: GossipMessage): void {
    this.#replier.reply(this.#conn, reply);
  }

  ack(err?: Error): void {
    this.respond({
      nonce: this.message.message.nonce,
      channel: new Uint8Array(0),
      tag: GossipMessage_Tag.UNDEFINED,
      content: { $case: "ack", value: { error: err?.message ?? "" } },
    });
  }
}
