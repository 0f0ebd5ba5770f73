/** Fabric's batching emitter (`gossip/gossip/batcher.go`): push/forward batching of gossip messages. */
export type { BatchingEmitter, BatchingEmitterOptions, EmitBatch } from "./interface.js";
export { createBatchingEmitter } from "./batching-emitter.js";
