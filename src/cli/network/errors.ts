import { GossipError } from "../../util/index.js";

/** Why a local network operation failed. */
export type NetworkErrorCode =
  /** An option is out of range or inconsistent; the message names it. */
  | "INVALID_OPTIONS"
  /** A process did not start, or exited before it was ready. */
  | "START_FAILED"
  /** Something awaited (heights, leaders, final blocks) did not happen in time. */
  | "TIMEOUT"
  /** A peer name that is not in the network. */
  | "UNKNOWN_PEER"
  /** The operation does not fit the network's state (e.g. start() twice, restart of a running peer). */
  | "BAD_STATE"
  /** The transaction feeder could not reach or use the orderer. */
  | "FEED_FAILED"
  /** A peer's admin endpoint did not answer as expected. */
  | "ADMIN_FAILED";

/** A local network failure; `code` is stable and the message says what to look at. */
export class NetworkError extends GossipError {
  declare readonly code: NetworkErrorCode;

  constructor(code: NetworkErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
