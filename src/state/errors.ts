import { GossipError } from "../util/index.js";

/** Stable codes of state provider failures. */
export type StateErrorCode =
  /** The options are unusable (a non-positive size or interval). */
  | "INVALID_OPTIONS"
  /** The ledger reported height 0: it must hold at least the genesis block. */
  | "ZERO_HEIGHT"
  /** A non-blocking add of a block too far ahead of the ledger height (or behind it). */
  | "BUFFER_FULL"
  /** The provider is stopped (or stopped while a blocking add was waiting). */
  | "STOPPED";

/** A state provider failure; `code` says why. Remote input never raises it. */
export class StateError extends GossipError {
  declare readonly code: StateErrorCode;

  constructor(code: StateErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
