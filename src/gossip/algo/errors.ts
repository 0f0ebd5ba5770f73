import { GossipError } from "../../util/index.js";

/** Stable codes of pull engine failures. */
export type PullEngineErrorCode = "INVALID_OPTIONS";

/** A pull engine failure; only raised for options that cannot work, never for remote input. */
export class PullEngineError extends GossipError {
  declare readonly code: PullEngineErrorCode;

  constructor(code: PullEngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
