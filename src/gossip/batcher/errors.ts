import { GossipError } from "../../util/index.js";

/** Stable codes of batching emitter failures. */
export type BatcherErrorCode = "INVALID_OPTIONS";

/** The batching emitter was misconfigured; `code` says how. */
export class BatcherError extends GossipError {
  declare readonly code: BatcherErrorCode;

  constructor(code: BatcherErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
