import { GossipError } from "../util/index.js";

/** Stable codes of discovery failures. */
export type DiscoveryErrorCode = "BAD_SELF_ENDPOINT" | "STOPPED";

/** A discovery failure raised to the host (bad configuration, use after stop). */
export class DiscoveryError extends GossipError {
  declare readonly code: DiscoveryErrorCode;

  constructor(code: DiscoveryErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Why a received discovery message was not used. A reject is a message that is malformed or not
 * authentic; an ignore is a valid message that brings nothing new.
 */
export type DiscoveryRejectReason =
  | "WRONG_TYPE"
  | "MALFORMED"
  | "MISSING_SELF_INFORMATION"
  | "NOT_ALIVE_MESSAGE"
  | "STALE"
  | "INVALID_SIGNATURE";
