/** Fabric's comm defaults (gossip/comm/comm_impl.go, conn.go). */
export const DEF_DIAL_TIMEOUT_MS = 3_000;
export const DEF_CONN_TIMEOUT_MS = 2_000;
export const DEF_RECV_BUFF_SIZE = 20;
/** comm.DefSendBuffSize; core.yaml says 200 but an absent key gives 20. */
export const DEF_SEND_BUFF_SIZE = 20;
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** peer.maxRecvMsgSize / peer.maxSendMsgSize default: 100 MiB. */
export const DEF_MAX_MESSAGE_SIZE = 100 * 1024 * 1024;

/** Ours (not in Fabric): offences one peer or address may commit per window before it is refused (RELIABILITY.md S13). */
export const DEF_MISBEHAVIOUR_LIMIT = 10;
export const DEF_MISBEHAVIOUR_WINDOW_MS = 60_000;
/** Ours: the first refusal of an offender; doubled for each earlier one, at most DEF_MAX_REFUSE_MS. */
export const DEF_REFUSE_MS = 60_000;
export const DEF_MAX_REFUSE_MS = 3_600_000;
/** Ours: accepted streams still in their handshake, per remote address and in total. */
export const DEF_MAX_HANDSHAKES_PER_ADDRESS = 32;
export const DEF_MAX_HANDSHAKES = 256;
/** Ours: authenticated inbound connections per remote address and in total (a local network puts every peer on one address). */
export const DEF_MAX_CONNECTIONS_PER_ADDRESS = 256;
export const DEF_MAX_CONNECTIONS = 1_024;

/** A per-peer token bucket: `perSecond` sustained, `burst` at once (after a quiet spell). */
export interface RequestBudget {
  perSecond: number;
  burst: number;
}

/**
 * Ours: what one peer may ask per second of the requests that make us work for it. Fabric answers
 * every one (bounded only by its receive buffers); these are far above what an honest peer sends.
 */
export interface RequestBudgets {
  /** MembershipRequests (an honest peer sends one per reconnect or bootstrap round). */
  membership: RequestBudget;
  /** Pull hellos, data requests, StateInfo pull requests and private data requests, all channels together. */
  pull: RequestBudget;
}

export const DEF_REQUEST_BUDGETS: Readonly<RequestBudgets> = Object.freeze({
  membership: Object.freeze({ perSecond: 5, burst: 20 }),
  pull: Object.freeze({ perSecond: 100, burst: 400 }),
});

/** Comm settings as plain data; config/ validates them. */
export interface CommOptions {
  /** gRPC dial timeout (peer.gossip.dialTimeout). */
  dialTimeoutMs: number;
  /** Ping timeout and wait for the remote ConnEstablish (peer.gossip.connTimeout). */
  connTimeoutMs: number;
  /** Per-connection send queue; plain sends are dropped when it is full (peer.gossip.sendBuffSize). */
  sendBuffSize: number;
  /** Per-connection receive queue (peer.gossip.recvBuffSize). */
  recvBuffSize: number;
  /** Largest envelope sent or accepted, in bytes. */
  maxMessageSize: number;
  /** Timeout of a probe handshake. */
  handshakeTimeoutMs: number;
  /**
   * Ours: offences tolerated from one PKI-ID or remote address per `misbehaviourWindowMs` (forged or
   * malformed frames, failed handshake proofs, messages other components report as forged); the
   * next one closes its connections and refuses it. Default 10 a minute.
   */
  misbehaviourLimit: number;
  misbehaviourWindowMs: number;
  /** Ours: how long an offender is refused the first time (doubling for repeat offenders, up to `maxRefuseMs`). */
  refuseMs: number;
  maxRefuseMs: number;
  /**
   * Ours: also refuse the address of a refused PKI-ID, and count failed handshake proofs per
   * address. Every peer behind that address (a NAT, or a local network on one host) is refused with it.
   */
  refuseAddresses: boolean;
  /** Ours: accepted streams in their handshake per remote address and in total; more are closed at once. */
  maxHandshakesPerAddress: number;
  maxHandshakes: number;
  /** Ours: authenticated inbound connections per remote address and in total; more are closed after the handshake. */
  maxConnectionsPerAddress: number;
  maxConnections: number;
  /** Ours: per-peer budgets of requests that make us work; the excess is dropped and counted. */
  requestBudgets: RequestBudgets;
}

export const DEFAULT_COMM_OPTIONS: Readonly<CommOptions> = Object.freeze({
  dialTimeoutMs: DEF_DIAL_TIMEOUT_MS,
  connTimeoutMs: DEF_CONN_TIMEOUT_MS,
  sendBuffSize: DEF_SEND_BUFF_SIZE,
  recvBuffSize: DEF_RECV_BUFF_SIZE,
  maxMessageSize: DEF_MAX_MESSAGE_SIZE,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  misbehaviourLimit: DEF_MISBEHAVIOUR_LIMIT,
  misbehaviourWindowMs: DEF_MISBEHAVIOUR_WINDOW_MS,
  refuseMs: DEF_REFUSE_MS,
  maxRefuseMs: DEF_MAX_REFUSE_MS,
  refuseAddresses: true,
  maxHandshakesPerAddress: DEF_MAX_HANDSHAKES_PER_ADDRESS,
  maxHandshakes: DEF_MAX_HANDSHAKES,
  maxConnectionsPerAddress: DEF_MAX_CONNECTIONS_PER_ADDRESS,
  maxConnections: DEF_MAX_CONNECTIONS,
  requestBudgets: DEF_REQUEST_BUDGETS,
});

/**
 * Limits on the TCP connections the gossip server holds, enforced on each socket as it is accepted,
 * before TLS or HTTP/2 costs anything. Fabric's server takes every connection and gives each 5 s to
 * be established (TLS handshake and HTTP/2 preface: grpc.ConnectionTimeout, comm's
 * DefaultConnectionTimeout); Node's TLS server would give 120 s and grpc-js no limit at all.
 */
export interface SocketLimits {
  /** Sockets held at once, from all addresses. */
  maxSockets: number;
  /** Sockets held at once from one remote address (every peer of a local network shares 127.0.0.1). */
  maxSocketsPerAddress: number;
  /** Sockets that have not made a gRPC call yet (TLS and HTTP/2 setup, or silent), from all addresses. */
  maxPendingSockets: number;
  /** Such sockets from one remote address. */
  maxPendingSocketsPerAddress: number;
  /** A socket that made no gRPC call (Ping or GossipStream) within this long is closed (ours: a silent plaintext socket has no handshake to time out). */
  firstCallTimeoutMs: number;
  /** The TLS handshake must finish within this long (Fabric's DefaultConnectionTimeout; Node's default is 120 s). */
  tlsHandshakeTimeoutMs: number;
  /** HTTP/2 streams one connection may have open at once (a gossip connection uses one, and a ping). */
  maxConcurrentStreams: number;
}

export const DEFAULT_SOCKET_LIMITS: Readonly<SocketLimits> = Object.freeze({
  maxSockets: 2_048,
  maxSocketsPerAddress: 512,
  maxPendingSockets: 512,
  maxPendingSocketsPerAddress: 64,
  firstCallTimeoutMs: 10_000,
  tlsHandshakeTimeoutMs: 5_000,
  maxConcurrentStreams: 100,
});
