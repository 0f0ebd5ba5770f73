import type { Logger } from "../logging/index.js";
import type { TxPvtReadWriteSetWithConfigInfo } from "../protos/gen/transientstore/transientstore.pb.js";
import type { PvtNsCollFilter } from "./pvt-store-interface.js";
import type { KvRecoveryReport } from "./pvt-store-kv.js";

/** Fabric's `peer.gossip.pvtData.transientstoreMaxBlockRetention` default (core.yaml): 1000 blocks. */
export const DEFAULT_TRANSIENTSTORE_MAX_BLOCK_RETENTION = 1000n;

/**
 * After block `blockNum` commits, the height below which the transient store is purged, or undefined if not
 * at this block: Fabric's coordinator purges below `blockNum - retention` when `blockNum` is a multiple of the
 * retention and greater than it (`pvtdataprovider.go`).
 */
export function transientPurgeHeight(blockNum: bigint, retention: bigint = DEFAULT_TRANSIENTSTORE_MAX_BLOCK_RETENTION): bigint | undefined {
  if (retention <= 0n) return undefined;
  return blockNum % retention === 0n && blockNum > retention ? blockNum - retention : undefined;
}

/** One endorsement's private write sets: Fabric's `transientstore.EndorserPvtSimulationResults`. */
export interface EndorserPvtSimulationResults {
  /** The ledger height at which the data was received (Fabric's ReceivedAtBlockHeight). */
  receivedAtBlockHeight: bigint;
  /** The data restricted to the read's filter (`pvtRwset` undefined if nothing passes it). */
  pvtSimulationResultsWithConfig: TxPvtReadWriteSetWithConfigInfo;
}

export interface TransientStoreOptions {
  /** Persistent store: compact the log when dead bytes reach max(this, live bytes). Default 4 MiB. */
  compactMinBytes?: number;
}

export interface TransientStoreComponents {
  /** Recovery warnings. Default: silent. */
  logger?: Logger;
}

/**
 * Private write sets of endorsed, not yet committed transactions, for one channel: Fabric's
 * `core/transientstore.Store`. A transaction may have several entries (one per endorsement received). The
 * coordinator reads them at commit, then purges them by transaction ID; entries of transactions that never
 * commit are purged by height (`transientPurgeHeight`).
 */
export interface TransientStore {
  readonly recovery: KvRecoveryReport;

  /**
   * Stores one endorsement's private data for `txId`, received at ledger height `blockHeight`. `data` may be
   * the serialized message; bytes that do not decode are `INVALID_ARGUMENT`. Durable when it resolves.
   */
  persist(txId: string, blockHeight: bigint, data: TxPvtReadWriteSetWithConfigInfo | Uint8Array): Promise<void>;

  /** Every entry of `txId`, in the order persisted, trimmed to the filter (Fabric's `GetTxPvtRWSetByTxid`). */
  getTxPvtRWSetByTxid(txId: string, filter?: PvtNsCollFilter): Promise<EndorserPvtSimulationResults[]>;

  /** Removes every entry of these transactions (after their block commits). */
  purgeByTxids(txIds: readonly string[]): Promise<void>;

  /** Removes every entry received at a height below `maxBlockNumToRetain`. */
  purgeBelowHeight(maxBlockNumToRetain: bigint): Promise<void>;

  /** The lowest height of any entry, or undefined if the store is empty (Fabric's ErrStoreEmpty). */
  getMinTransientBlkHt(): bigint | undefined;

  /** Transaction IDs with at least one entry. */
  txIds(): string[];

  compact(): Promise<void>;
  close(): Promise<void>;
}
