/** Fabric's gossip/privdata. For now only its metrics: the seam the private data work builds on. */
export { createPrivdataMetrics, type PrivdataMetrics } from "./metrics.js";
export { PrivdataStoreError, type PrivdataStoreErrorCode } from "./pvt-store-errors.js";
export {
  type BtlPolicy,
  DEFAULT_DEPRIORITIZED_DATA_RECONCILER_INTERVAL_MS,
  expiringBlock,
  type MissingNsColl,
  type MissingPvtDataInfo,
  type NsColl,
  type PvtDataStore,
  type PvtDataStoreComponents,
  type PvtDataStoreOptions,
  type PvtNsCollFilter,
  pvtNsCollFilter,
  type TxMissingPvtData,
  type TxPvtData,
} from "./pvt-store-interface.js";
export { type KvRecoveryReport } from "./pvt-store-kv.js";
export { createMemoryPvtDataStore, openPvtDataStore } from "./pvt-store.js";
export { alignPvtStoreWithBlockStore, shouldCommitPvtData, type StoreAlignment } from "./pvt-store-align.js";
export {
  DEFAULT_TRANSIENTSTORE_MAX_BLOCK_RETENTION,
  type EndorserPvtSimulationResults,
  type TransientStore,
  type TransientStoreComponents,
  type TransientStoreOptions,
  transientPurgeHeight,
} from "./transient-store-interface.js";
export { createMemoryTransientStore, openTransientStore } from "./transient-store.js";
