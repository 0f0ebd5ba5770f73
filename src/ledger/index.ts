export {
  type BlockStore,
  type BlockStoreComponents,
  type BlockStoreOptions,
  type RecoveryReport,
  DEFAULT_CHECKPOINT_INTERVAL_BLOCKS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_OPEN_FILES,
  MAX_BLOCK_BYTES,
} from "./interface.js";
export { LedgerError } from "./errors.js";
export { openBlockStore } from "./block-store.js";
