import { GossipError } from "../util/index.js";

/** Why the gossip service refused a call. */
export type GossipServiceErrorCode = "CHANNEL_EXISTS" | "UNKNOWN_CHANNEL" | "NO_GENESIS_BLOCK" | "BAD_GENESIS_BLOCK" | "NO_LEDGER" | "STOPPED" | "BAD_PRIVATE_DATA" | "BAD_COLLECTIONS_FILE";

/** A gossip service failure. */
export class GossipServiceError extends GossipError {
  declare readonly code: GossipServiceErrorCode;

  constructor(code: GossipServiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
