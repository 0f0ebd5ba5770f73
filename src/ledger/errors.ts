import { GossipError } from "../util/index.js";

/**
 * A block store operation failed. Codes:
 * - UNEXPECTED_BLOCK_NUMBER: append of a block whose number is not the next one.
 * - PREVIOUS_HASH_MISMATCH: append of a block whose previous_hash is not the hash of the last block header.
 * - DATA_HASH_MISMATCH: append of a block whose data_hash is not the hash of its data.
 * - MALFORMED_BLOCK: the bytes are not a common.Block, or it has no header.
 * - BLOCK_TOO_LARGE: the serialized block exceeds MAX_BLOCK_BYTES.
 * - BLOCK_NOT_FOUND: a read at or past the height.
 * - CORRUPT_BLOCK: a committed block's record fails its checksum or framing on read.
 * - CORRUPT_LEDGER: opening found committed data damaged or missing (not a torn tail); the store refuses to open.
 * - LOCKED: another live process (or this one) has the store open.
 * - STORE_CLOSED: an operation after close().
 * - STORE_FAILED: a write or fsync failed; the store accepts no more appends and must be reopened.
 */
export class LedgerError extends GossipError {}
