import { GossipError } from "../util/index.js";

/**
 * Why the private data coordinator or the reconciler could not do its work. Codes:
 * - STOPPED: the channel's private data handler stopped while a block waited for its private data; the
 *   block is not committed (it is fetched and committed again after a restart).
 * - BAD_BLOCK: the block to commit lacks its header or data, or is not the next block of the ledger.
 * - COMMIT_FAILED: the private data store or the block store refused the commit.
 */
export type PvtDataCommitErrorCode = "STOPPED" | "BAD_BLOCK" | "COMMIT_FAILED";

export class PvtDataCommitError extends GossipError {
  declare readonly code: PvtDataCommitErrorCode;

  constructor(code: PvtDataCommitErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
