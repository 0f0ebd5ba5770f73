import { GossipError } from "../util/index.js";

/**
 * Codes of the private-data stores (transient store and private data store):
 * - INVALID_ARGUMENT: bad input (empty transaction ID, negative height, bytes that do not decode as the expected message).
 * - UNEXPECTED_BLOCK_NUMBER: a commit of a block that is not the next one.
 * - BLOCK_NOT_COMMITTED: a read or reconciliation of a block past the last committed one.
 * - CORRUPT_STORE: opening found damaged data that is not a crash's torn tail; the store refuses to open.
 * - CORRUPT_RECORD: a stored value fails its checksum on read.
 * - LOCKED: another live process (or this one) has the store open.
 * - STORE_CLOSED: an operation after close().
 * - STORE_FAILED: a write or fsync failed; the store accepts no more writes and must be reopened.
 */
export type PrivdataStoreErrorCode =
  | "INVALID_ARGUMENT"
  | "UNEXPECTED_BLOCK_NUMBER"
  | "BLOCK_NOT_COMMITTED"
  | "CORRUPT_STORE"
  | "CORRUPT_RECORD"
  | "LOCKED"
  | "STORE_CLOSED"
  | "STORE_FAILED";

export class PrivdataStoreError extends GossipError {
  declare readonly code: PrivdataStoreErrorCode;

  constructor(code: PrivdataStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
