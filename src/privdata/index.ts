/**
 * Fabric's gossip/privdata and the parts of core/common/privdata it needs: collections (explicit, implicit,
 * from `_lifecycle` commits or a collections_config.json), eligibility, a block's transactions down to their
 * hashed collection write sets, private write set hashes, and the metrics. The only entry to src/privdata.
 */

export {
  type ChaincodeDefinitionRecord,
  type CollectionStore,
  type CollectionStoreOptions,
  createCollectionStore,
  type LearnedDefinitions,
} from "./collection-store.js";
export {
  type CollectionDefinition,
  collectionConfigPackageOf,
  collectionDefinitionOf,
  collectionsOfPackage,
  DEFAULT_IMPLICIT_COLLECTION_DISSEMINATION,
  decodeCollectionConfigPackage,
  IMPLICIT_COLLECTION_PREFIX,
  type ImplicitCollectionDisseminationPolicy,
  implicitCollectionFor,
  implicitCollectionMspId,
  implicitCollectionName,
  LIFECYCLE_NAMESPACE,
  memberOrgsOf,
  memberOrgsPolicyBytes,
  parseCollectionsConfigJson,
} from "./collections.js";
export {
  type CoordinatorComponents,
  type CoordinatorOptions,
  createPvtDataCoordinator,
  DEFAULT_PULL_RETRY_THRESHOLD_MS,
  PULL_RETRY_SLEEP_MS,
  type PvtDataCoordinator,
  type StoreBlockResult,
} from "./coordinator.js";
export { PvtDataCommitError, type PvtDataCommitErrorCode } from "./coordinator-errors.js";
export {
  createPvtDataResponder,
  MAX_QUEUED_PVT_REQUESTS,
  type PvtDataResponder,
  type PvtDataResponderComponents,
} from "./data-retriever.js";
export {
  createPvtDataDistributor,
  DEFAULT_PUSH_ACK_TIMEOUT_MS,
  type DisseminationStep,
  type PvtDataDistributor,
  type PvtDataDistributorOptions,
} from "./distributor.js";
export { type CollectionAccess, createCollectionAccess } from "./eligibility.js";
export type { FetchedElement, FetchedPvtData, PvtDataFetcher, PvtDataWanted } from "./fetcher.js";
export { PrivdataError, type PrivdataErrorCode, TxError, type TxErrorCode } from "./errors.js";
export { collectionPvtRwsetMatches, pvtRwsetHashMatches, sha256 } from "./hashes.js";
export {
  type CollectionsFile,
  openPvtDataHandler,
  type PvtDataHandler,
  type PvtDataHandlerComponents,
  type PvtDataHandlerLedger,
  type PvtDataHandlerOptions,
} from "./handler.js";
export { createPrivdataMetrics, type PrivdataMetrics } from "./metrics.js";
export { encodeSignaturePolicy, parseSignaturePolicy, signedByMspMember } from "./policy-dsl.js";
export {
  createPvtDataPuller,
  DEFAULT_BTL_PULL_MARGIN,
  DEFAULT_PULL_RESPONSE_WAIT_MS,
  type PvtDataPuller,
  type PvtDataPullerComponents,
  type PvtDataPullerOptions,
} from "./puller.js";
export {
  createPvtDataPushReceiver,
  MAX_PUSHES_IN_FLIGHT,
  type PushRejectionCode,
  type PvtDataPushReceiver,
  type PvtDataPushReceiverComponents,
} from "./push-receiver.js";
export { createMemoryPvtDataStore, openPvtDataStore } from "./pvt-store.js";
export { alignPvtStoreWithBlockStore, type StoreAlignment, shouldCommitPvtData } from "./pvt-store-align.js";
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
  type PurgeTally,
  type PvtBlockRecord,
  type PvtNsCollFilter,
  pvtNsCollFilter,
  type TxMissingPvtData,
  type TxPvtData,
} from "./pvt-store-interface.js";
export type { KvRecoveryReport } from "./pvt-store-kv.js";
export {
  type BlockPvtdataNeeds,
  type BlockTransaction,
  type CollectionHashedRwSet,
  type CollectionPvtdataNeed,
  type EndorserAction,
  type NsRwSet,
  privateDataNeeds,
  readBlockTransactions,
  readTransaction,
  type TxPvtdataNeeds,
  type TxRead,
  transactionsFilter,
} from "./transactions.js";
export {
  createPvtDataReconciler,
  DEFAULT_RECONCILE_BATCH_SIZE,
  DEFAULT_RECONCILE_SLEEP_INTERVAL_MS,
  type PvtDataReconciler,
  type ReconcileResult,
  type ReconcilerComponents,
  type ReconcilerOptions,
} from "./reconciler.js";
export {
  type BuiltEndorserTx,
  buildEndorserTransaction,
  buildLifecycleCommitTransaction,
  type ChaincodeDefinitionSpec,
  type CollectionRwSpec,
  DEFAULT_ENDORSEMENT_POLICY_REFERENCE,
  type EndorserTxSpec,
  type KvReadSpec,
  type KvWriteSpec,
  type LifecycleCommitSpec,
  lifecycleCommitNamespace,
  type NamespaceRwSpec,
  type TxSigner,
} from "./tx-builder.js";
export { type PvtDataGossip, type PvtTransferComponents, pvtDataDigestKey } from "./transfer-common.js";
export { PvtTransferError, type PvtTransferErrorCode } from "./transfer-errors.js";
export {
  type BlockValidationContext,
  type BlockValidationResult,
  LIFECYCLE_ENDORSEMENT_POLICY,
  type TxValidationResult,
  validateBlockTransactions,
  withTransactionsFilter,
} from "./tx-validator.js";
export { createMemoryTransientStore, openTransientStore } from "./transient-store.js";
export {
  DEFAULT_TRANSIENTSTORE_MAX_BLOCK_RETENTION,
  type EndorserPvtSimulationResults,
  type TransientStore,
  type TransientStoreComponents,
  type TransientStoreOptions,
  transientPurgeHeight,
} from "./transient-store-interface.js";
