import { GossipError } from "../../util/index.js";

/** Stable codes of pull mediator failures. */
export type PullMediatorErrorCode = "INVALID_OPTIONS";

/** A pull mediator failure; only raised for a configuration that cannot work, never for remote input. */
export class PullMediatorError extends GossipError {
  declare readonly code: PullMediatorErrorCode;

  constructor(code: PullMediatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
