import { GossipError } from "../util/index.js";

/** Stable codes of comm failures: metric labels and test assertions rely on them. */
export type CommErrorCode =
  | "DIAL_FAILED"
  | "PING_FAILED"
  | "HANDSHAKE_TIMEOUT"
  | "MALFORMED_FRAME"
  | "WRONG_FIRST_MESSAGE"
  | "NO_PKI_ID"
  | "PKI_ID_MISMATCH"
  | "UNEXPECTED_PEER"
  | "BAD_IDENTITY"
  | "UNKNOWN_CA"
  | "EXPIRED_IDENTITY"
  | "NO_TLS_CERT"
  | "TLS_HASH_MISMATCH"
  | "BAD_SIGNATURE"
  | "MESSAGE_TOO_LARGE"
  | "PROBE"
  /** A dial given up after its ping, before opening a stream: the connection it was for came the other way. */
  | "DIAL_NOT_NEEDED"
  | "CONNECTION_CLOSED"
  /** A PKI-ID refused for a while after too many offences. */
  | "REFUSED_PEER"
  /** A remote address refused for a while after too many offences. */
  | "REFUSED_ADDRESS"
  /** A client TLS certificate refused for a while after too many offences by connections presenting it. */
  | "REFUSED_CERTIFICATE"
  /** Too many streams in their handshake from one address, or in total. */
  | "TOO_MANY_HANDSHAKES"
  /** Too many authenticated connections from one address, or in total. */
  | "TOO_MANY_CONNECTIONS"
  | "STOPPED";

/** A comm failure; `code` says which check failed. */
export class CommError extends GossipError {
  declare readonly code: CommErrorCode;

  constructor(code: CommErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** What a transport's dial throws when `stillNeeded` said no after the ping (see Transport.dial). */
export function dialNotNeeded(endpoint: string): CommError {
  return new CommError("DIAL_NOT_NEEDED", `dial to ${endpoint} given up after its ping: the connection came the other way`);
}
