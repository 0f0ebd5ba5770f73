import { GossipError } from "../util/index.js";

/** Stable codes of election errors. */
export type ElectionErrorCode = "EMPTY_ID" | "INVALID_OPTIONS" | "CONFLICTING_LEADER_MODE" | "NOT_A_LEADERSHIP_MESSAGE";

/** An error of the leader election (bad construction or configuration; never raised by remote input). */
export class ElectionError extends GossipError {
  declare readonly code: ElectionErrorCode;

  constructor(code: ElectionErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
