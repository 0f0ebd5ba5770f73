import { GossipError } from "../../util/index.js";

/** Stable codes of message store failures. */
export type MessageStoreErrorCode = "INVALID_OPTIONS";

/** A message store was misconfigured; `code` says how. */
export class MessageStoreError extends GossipError {
  declare readonly code: MessageStoreErrorCode;

  constructor(code: MessageStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
