export type { Comm, CommStats, MessageAcceptor, SendResult, AggregatedSendResult } from "./interface.js";
export type { RawStream, Transport, TransportTls } from "./transport.js";
export { createComm, type CommComponents } from "./comm-impl.js";
export { CommError, type CommErrorCode } from "./errors.js";
export { type CommOptions, DEFAULT_COMM_OPTIONS, DEF_MAX_MESSAGE_SIZE } from "./options.js";
export { buildConnEstablish, checkConnEstablish } from "./handshake.js";
