import type { Logger } from "../logging/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";

/** Fabric's `ledger.blockfile.maxBlockfileSize` default (core.yaml): 64 MiB per segment file. */
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Blocks between two index checkpoints; recovery rescans at most this many blocks (plus a torn tail). */
export const DEFAULT_CHECKPOINT_INTERVAL_BLOCKS = 1000;
/** Upper bound on one block's serialized size (Fabric's orderer AbsoluteMaxBytes is 10 MiB; we allow more). */
export const MAX_BLOCK_BYTES = 512 * 1024 * 1024;
/** Open read-only segment handles kept per store (least recently used are closed first). */
export const DEFAULT_MAX_OPEN_FILES = 32;

/** Plain-data options of a block store; every field has a default. */
export interface BlockStoreOptions {
  /** A segment file rolls over before a record would make it larger than this. Default 64 MiB. */
  maxFileBytes?: number;
  /** Write an index checkpoint every this many committed blocks (and on close). Default 1000. */
  checkpointIntervalBlocks?: number;
  /** Reject a block whose header.data_hash is not Fabric's BlockDataHash of its data. Default true. */
  verifyDataHash?: boolean;
  /** Read-only segment file handles kept open. Default 32. */
  maxOpenFiles?: number;
}

/** What the store may use from its host. */
export interface BlockStoreComponents {
  /** Warnings about recovery (torn tail truncated, index rebuilt). Default: silent. */
  logger?: Logger;
}

/** What `openBlockStore` found and repaired. */
export interface RecoveryReport {
  /** Height the last checkpoint vouched for (those blocks were not rescanned). */
  checkpointHeight: bigint;
  /** Blocks found by scanning the segments after the checkpoint. */
  scannedBlocks: number;
  /** Bytes of torn or corrupt tail removed from the last segment file (0 if none). */
  truncatedBytes: number;
  /** Why the tail was cut, if it was. */
  truncatedReason?: string;
  /** The index file or checkpoint was missing or unusable and the index was rebuilt from the segments. */
  rebuiltIndex: boolean;
}

/**
 * An append-only, crash-safe store of one channel's blocks: Fabric's `blkstorage.BlockStore`
 * (`AddBlock`, `GetBlockchainInfo`, `RetrieveBlockByNumber`, `RetrieveBlocks`).
 *
 * Blocks are stored as the exact bytes given. A block is committed when `append` resolves: its
 * bytes are then on disk (fdatasync), and a `kill -9` or power loss cannot take it away.
 */
export interface BlockStore {
  /** The directory the store lives in. */
  readonly dir: string;
  /** What opening the store found and repaired. */
  readonly recovery: RecoveryReport;

  /**
   * Appends the next block. It must carry number `height()` (counting blocks whose append is still
   * in flight), and from block 1 on, header.previous_hash must be the SHA-256 of the previous block's
   * ASN.1 header bytes. Rejects synchronously-validated errors with a `LedgerError`
   * (`UNEXPECTED_BLOCK_NUMBER`, `PREVIOUS_HASH_MISMATCH`, `DATA_HASH_MISMATCH`, `MALFORMED_BLOCK`,
   * `BLOCK_TOO_LARGE`, `STORE_CLOSED`, `STORE_FAILED`). Several appends may be in flight at once; they
   * commit in order and share fsyncs (group commit).
   */
  append(block: Block | Uint8Array): Promise<void>;

  /** Number of committed blocks (the next committed block number). */
  height(): bigint;

  /** SHA-256 of the last committed block's ASN.1 header bytes (Fabric's CurrentBlockHash); empty if none. */
  lastBlockHash(): Uint8Array;

  /** The committed block `n`, decoded. `BLOCK_NOT_FOUND` at or past the height; `CORRUPT_BLOCK` if its record is damaged. */
  getBlock(n: bigint): Promise<Block>;

  /** The committed block `n` exactly as it was appended (serialized common.Block). */
  getBlockBytes(n: bigint): Promise<Uint8Array>;

  /**
   * Committed blocks `from`, `from + 1`, ... up to but excluding `to` (default: the height, read
   * again at each step, so blocks committed meanwhile are included). Stops early at the height.
   */
  iterate(from: bigint, to?: bigint): AsyncIterableIterator<Block>;

  /** Resolves once the height is at least `height`; rejects with `STORE_CLOSED` on close or the signal's reason on abort. */
  waitForHeight(height: bigint, signal?: AbortSignal): Promise<void>;

  /** Waits for appends in flight, writes a checkpoint, closes every file and releases the lock. Idempotent. */
  close(): Promise<void>;
}
