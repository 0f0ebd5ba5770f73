export type { Comm, CommStats, FrameDecoder, MessageAcceptor, SendResult, AggregatedSendResult } from "./interface.js";
export type { RawStream, Transport, TransportTls } from "./transport.js";
export { createComm, type CommComponents, EXPIRED_IDENTITY_LOG_INTERVAL_MS } from "./comm-impl.js";
export { CommError, type CommErrorCode, dialNotNeeded } from "./errors.js";
export {
  type CommOptions,
  DEFAULT_COMM_OPTIONS,
  DEF_MAX_MESSAGE_SIZE,
  type RequestBudget,
  type RequestBudgets,
  DEF_REQUEST_BUDGETS,
  type SocketLimits,
  DEFAULT_SOCKET_LIMITS,
} from "./options.js";
export { PeerGuard, type PeerGuardOptions, TokenBuckets } from "./peer-guard.js";
export { buildConnEstablish, checkConnEstablish } from "./handshake.js";
