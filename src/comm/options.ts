/** Fabric's comm defaults (gossip/comm/comm_impl.go, conn.go). */
export const DEF_DIAL_TIMEOUT_MS = 3_000;
export const DEF_CONN_TIMEOUT_MS = 2_000;
export const DEF_RECV_BUFF_SIZE = 20;
/** comm.DefSendBuffSize; core.yaml says 200 but an absent key gives 20. */
export const DEF_SEND_BUFF_SIZE = 20;
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** peer.maxRecvMsgSize / peer.maxSendMsgSize default: 100 MiB. */
export const DEF_MAX_MESSAGE_SIZE = 100 * 1024 * 1024;

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
}

export const DEFAULT_COMM_OPTIONS: Readonly<CommOptions> = Object.freeze({
  dialTimeoutMs: DEF_DIAL_TIMEOUT_MS,
  connTimeoutMs: DEF_CONN_TIMEOUT_MS,
  sendBuffSize: DEF_SEND_BUFF_SIZE,
  recvBuffSize: DEF_RECV_BUFF_SIZE,
  maxMessageSize: DEF_MAX_MESSAGE_SIZE,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
});
