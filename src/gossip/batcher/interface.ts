/**
 * Options of the batching emitter (Fabric's `newBatchingEmitter` arguments, from `peer.gossip.*`).
 */
export interface BatchingEmitterOptions {
  /**
   * How many times each message is emitted (`propagateIterations`, default 1). 0 turns the emitter off:
   * `add` does nothing and no timer runs (pull-only mode). Must be a non-negative integer.
   */
  iterations: number;
  /** Emit the whole buffer at once when it holds at least this many messages (`maxPropagationBurstSize`, default 10). */
  burstSize: number;
  /** Period of the flush of the buffer (`maxPropagationBurstLatency`, default 10 ms). Must be positive when iterations > 0. */
  latencyMs: number;
}

/** Receives each emitted batch, oldest message first. */
export type EmitBatch<T> = (batch: T[]) => void;

/**
 * Fabric's `batchingEmitter` (gossip/gossip/batcher.go): buffers messages and emits them in batches,
 * each message a fixed number of times, flushing on a burst or periodically.
 */
export interface BatchingEmitter<T> {
  /** Buffers `msg` for `iterations` emissions; emits the whole buffer at once if it reached `burstSize`. */
  add(msg: T): void;
  /** How many messages are buffered. */
  size(): number;
  /** Starts the periodic flush (idempotent; nothing runs when iterations is 0). */
  start(): Promise<void>;
  /** Stops emitting for good and drops the buffer (idempotent); afterwards no timer is pending. */
  stop(): Promise<void>;
}
