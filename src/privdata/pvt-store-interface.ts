import type { Logger } from "../logging/index.js";
import type { TxPvtReadWriteSet } from "../protos/gen/ledger/rwset/rwset.pb.js";
import type { Clock } from "../util/index.js";
import type { KvRecoveryReport } from "./pvt-store-kv.js";

/** Fabric's `ledger.pvtdataStore.deprioritizedDataReconcilerInterval` default (core.yaml): 60 minutes. */
export const DEFAULT_DEPRIORITIZED_DATA_RECONCILER_INTERVAL_MS = 60 * 60 * 1000;

/** Which (namespace, collection) pairs a read wants: Fabric's `ledger.PvtNsCollFilter`. No filter means all. */
export interface PvtNsCollFilter {
  has(namespace: string, collection: string): boolean;
}

/** A filter admitting exactly the given collections, per namespace: `{ mycc: ["coll1", "coll2"] }`. */
export function pvtNsCollFilter(collections: Readonly<Record<string, readonly string[]>>): PvtNsCollFilter {
  const m = new Map<string, Set<string>>();
  for (const [ns, colls] of Object.entries(collections)) m.set(ns, new Set(colls));
  return { has: (ns, coll) => m.get(ns)?.has(coll) ?? false };
}

export interface NsColl {
  namespace: string;
  collection: string;
}

/** A collection's private data that a transaction of a committed block should have but the peer did not get. */
export interface MissingNsColl extends NsColl {
  /** The peer's org is a member of the collection (the data is reconciled later); false: kept only as a record. */
  isEligible: boolean;
}

/** Fabric's `ledger.TxPvtData`: one transaction's private write sets. */
export interface TxPvtData {
  /** The transaction's index in its block (Fabric's SeqInBlock, the txNum of the store's keys). */
  seqInBlock: number;
  writeSet: TxPvtReadWriteSet;
}

/** What a committing block lacks, by transaction index: Fabric's `ledger.TxMissingPvtData`. */
export type TxMissingPvtData = ReadonlyMap<number, readonly MissingNsColl[]>;

/** Missing private data by block and transaction index: Fabric's `ledger.MissingPvtDataInfo`. */
export type MissingPvtDataInfo = Map<bigint, Map<number, NsColl[]>>;

/** How long a collection's data lives: Fabric's `pvtdatapolicy.BTLPolicy`. */
export interface BtlPolicy {
  /**
   * The collection's `blockToLive` (0: forever), or undefined if the collection is unknown (a commit
   * naming it then fails, as Fabric's does with NoSuchCollectionError).
   */
  blockToLive(namespace: string, collection: string): bigint | undefined;
}

/**
 * The block at whose commit data of `committingBlock` with `btl` expires: Fabric's `ComputeExpiringBlock`
 * (data of block N with blockToLive b is readable while blocks up to N+b commit and purged when N+b+1 does).
 * Undefined for btl 0 (never).
 */
export function expiringBlock(committingBlock: bigint, btl: bigint): bigint | undefined {
  return btl > 0n ? committingBlock + btl + 1n : undefined;
}

/** What a private data store records of one block (`PvtDataStore.blockRecord`). */
export interface PvtBlockRecord {
  /** Write sets held, by transaction index, namespace and collection. */
  held: (NsColl & { seqInBlock: number })[];
  /** Missing markers; `deprioritized` for eligible ones asked for and not obtained (Fabric's deprioritized list). */
  missing: (MissingNsColl & { seqInBlock: number; deprioritized: boolean })[];
}

/** What blockToLive removed of one collection since the store opened (`PvtDataStore.purgedSinceOpen`). */
export interface PurgeTally extends NsColl {
  /** Write sets the store held. */
  held: number;
  /** Eligible missing markers (the data never arrived). */
  missingEligible: number;
  /** Ineligible missing markers. */
  missingIneligible: number;
}

/** Plain-data options of a private data store; every field has a default. */
export interface PvtDataStoreOptions {
  /**
   * Every this long, `getMissingPvtDataInfoForMostRecentBlocks` serves the deprioritized list once instead of
   * the prioritized one. Default 60 min (Fabric's `deprioritizedDataReconcilerInterval`).
   */
  deprioritizedDataReconcilerIntervalMs?: number;
  /** Persistent store: compact the log when dead bytes reach max(this, live bytes). Default 4 MiB. */
  compactMinBytes?: number;
}

export interface PvtDataStoreComponents {
  btlPolicy: BtlPolicy;
  /** For the deprioritized-list schedule. Default: the system clock. */
  clock?: Clock;
  /** Recovery warnings. Default: silent. */
  logger?: Logger;
  /** Called after each purge with the number of collection write sets and missing markers removed. */
  onPurge?: (event: { blockNum: bigint; dataEntries: number; missingEntries: number }) => void;
}

/**
 * Committed private write sets of one channel, beside its block store: Fabric's
 * `core/ledger/pvtdatastorage.Store`. Entries are keyed by (block, transaction index, namespace, collection);
 * what a block lacked is kept as "missing" markers, eligible (prioritized or deprioritized) or ineligible;
 * data expires `blockToLive` blocks after the block that wrote it.
 *
 * Commit order with the block store (as Fabric's kvledger): the private data of block N is committed here
 * first, then block N is appended to the block store. See `alignPvtStoreWithBlockStore` for restart.
 */
export interface PvtDataStore {
  /** What opening found and repaired (persistent store; zeros in memory). */
  readonly recovery: KvRecoveryReport;

  /** Blocks committed (the next block number). Fabric's `LastCommittedBlockHeight`. */
  lastCommittedBlockHeight(): bigint;

  /**
   * Commits block `blockNum`'s private data and missing markers, and purges everything that expires at this
   * block. `blockNum` must be `lastCommittedBlockHeight()` (`UNEXPECTED_BLOCK_NUMBER`); a collection the BTL
   * policy does not know is `INVALID_ARGUMENT`. Durable when it resolves.
   */
  commit(blockNum: bigint, pvtData: readonly TxPvtData[], missing?: TxMissingPvtData): Promise<void>;

  /**
   * Block `blockNum`'s private data, by transaction index, then namespace and collection, restricted to the
   * filter. `BLOCK_NOT_COMMITTED` past the last committed block.
   */
  getPvtDataByBlockNum(blockNum: bigint, filter?: PvtNsCollFilter): Promise<TxPvtData[]>;

  /**
   * Eligible missing data of the most recent blocks (at most `maxBlocks` blocks, newest first, each block
   * whole): from the prioritized list, except once every deprioritized interval, from the deprioritized one.
   * Fabric's `GetMissingPvtDataInfoForMostRecentBlocks`.
   */
  getMissingPvtDataInfoForMostRecentBlocks(maxBlocks: number): Promise<MissingPvtDataInfo>;

  /**
   * Stores reconciled private data of committed blocks, clearing their missing markers; data that has
   * expired meanwhile is dropped. `unreconciled` (data asked for and not obtained) moves from the prioritized
   * to the deprioritized list. Fabric's `CommitPvtDataOfOldBlocks`.
   */
  commitPvtDataOfOldBlocks(blocksPvtData: ReadonlyMap<bigint, readonly TxPvtData[]>, unreconciled?: MissingPvtDataInfo): Promise<void>;

  /**
   * The peer became eligible for these collections at block `committingBlock`: their ineligible missing
   * markers of blocks up to it become eligible (prioritized). Fabric's `ProcessCollsEligibilityEnabled`
   * (done at once here, where Fabric converts in a background routine).
   */
  processCollsEligibilityEnabled(committingBlock: bigint, nsColls: Readonly<Record<string, readonly string[]>>): Promise<void>;

  /** Ineligible missing markers (for tests and the admin view): by block and transaction index. */
  getIneligibleMissingPvtDataInfo(): MissingPvtDataInfo;

  /**
   * What the store records of block `blockNum` without reading any value (the admin view): the write sets held
   * and the missing markers, each with its transaction index. Empty for a block it never committed or with
   * nothing recorded. Read-only: unlike `getMissingPvtDataInfoForMostRecentBlocks`, it moves no schedule.
   */
  blockRecord(blockNum: bigint): PvtBlockRecord;

  /** Per collection, the write sets and missing markers blockToLive removed since the store opened (the admin view). */
  purgedSinceOpen(): PurgeTally[];

  /** Rewrites the persistent log without dead records (purged values then leave the disk). */
  compact(): Promise<void>;

  /** Waits for writes in flight, closes files and releases the lock. Idempotent. */
  close(): Promise<void>;
}
