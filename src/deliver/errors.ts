import { GossipError } from "../util/index.js";

/** Stable codes of deliver client failures. */
export type DeliverErrorCode =
  /** The options or components are unusable (no endpoints, a non-positive duration). */
  | "INVALID_OPTIONS"
  /** Dialing an orderer or opening the Deliver stream failed. */
  | "CONNECT_FAILED"
  /** `fetchBlock`: no orderer sent the requested block (each endpoint's failure is named). */
  | "FETCH_FAILED"
  /** The client is stopped. */
  | "STOPPED";

/** A deliver client failure; `code` says why. What an orderer sends never raises it (it is counted instead). */
export class DeliverError extends GossipError {
  declare readonly code: DeliverErrorCode;

  constructor(code: DeliverErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
