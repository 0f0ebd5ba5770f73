export {
  type Orderer,
  type OrdererOptions,
  type OrdererComponents,
  type OrdererTlsOptions,
  DEFAULT_BATCH_SIZE,
  DEFAULT_BATCH_TIMEOUT_MS,
  DEFAULT_MAX_BLOCK_BYTES,
  MAX_BATCH_BYTES,
  ORDERER_MAX_MESSAGE_SIZE,
  SEEK_MAX,
} from "./interface.js";
export { OrdererError } from "./errors.js";
export { ORDERER_BLOCKS_CUT, ORDERER_LEDGER_HEIGHT, ORDERER_TRANSACTIONS_ORDERED, createOrdererMetrics, type OrdererMetrics } from "./metrics.js";
export { createOrderer } from "./orderer.js";
export { OrdererChain, buildBlock, BLOCK_METADATA_ENTRIES, type BatchOptions, type ChainComponents } from "./chain.js";
export { type ParsedEnvelope, parseEnvelope } from "./envelope.js";
export { CHANNEL_READERS_POLICY, CHANNEL_WRITERS_POLICY, checkAccess } from "./access.js";
export { type GenesisChannel, type GenesisContext, readGenesisBlock } from "./genesis.js";
export { evaluateSeek, streamBlocks, statusOf, deliverResponseBlockBytes, type DeliverRange, type DeliverContext } from "./deliver.js";
export { broadcast, broadcastAll, deliver, type DeliverItem, type OrdererClientOptions } from "./client.js";
export { ATOMIC_BROADCAST_SERVICE, BROADCAST_PATH, DELIVER_PATH } from "./service.js";
