import type { Logger } from "../../logging/index.js";
import { type Clock, type TimerHandle, errorMessage } from "../../util/index.js";
import type { BatchingEmitter, BatchingEmitterOptions, EmitBatch } from "./interface.js";

interface Batched<T> {
  readonly data: T;
  iterationsLeft: number;
}

/**
 * Fabric's `newBatchingEmitter(iterations, burstSize, latency, cb)`. Every emission hands the whole
 * buffer to `emit` and decrements each message's remaining iterations, dropping those that reach 0; with
 * the default single iteration each message is pushed exactly once, within `latencyMs` or as soon as
 * `burstSize` messages are buffered. Flushes happen on Fabric's ticker grid (every `latencyMs` from
 * `start()`), but a tick is scheduled only while messages wait: an idle emitter holds no timer (a
 * simulation of hundreds of peers would otherwise spend half its events on empty ticks), and the
 * messages go out at the same instants as with a ticker that never stops. A burst emits from `add`
 * itself, also before `start()` (Fabric's emitter is live from construction). An `emit` that throws is
 * logged; the messages still count the emission.
 */
export function createBatchingEmitter<T>(
  options: BatchingEmitterOptions,
  emit: EmitBatch<T>,
  clock: Clock,
  logger?: Logger,
): BatchingEmitter<T> {
  // Taken as given: config validates peer.gossip.propagateIterations, maxPropagationBurstSize and
  // maxPropagationBurstLatency (whole numbers above 0, 0 meaning the default).
  const { iterations, burstSize, latencyMs } = options;
  return new BatchingEmitterImpl(iterations, burstSize, latencyMs, emit, clock, logger);
}

class BatchingEmitterImpl<T> implements BatchingEmitter<T> {
  #buffer: Batched<T>[] = [];
  #timer: TimerHandle | undefined;
  #started = false;
  /** When start() ran: the ticker grid's origin. */
  #startedAt = 0;
  #stopped = false;
  #emitting = false;

  constructor(
    private readonly iterations: number,
    private readonly burstSize: number,
    private readonly latencyMs: number,
    private readonly emitBatch: EmitBatch<T>,
    private readonly clock: Clock,
    private readonly logger: Logger | undefined,
  ) {}

  add(msg: T): void {
    if (this.iterations === 0 || this.#stopped) return;
    this.#buffer.push({ data: msg, iterationsLeft: this.iterations });
    if (this.#buffer.length >= this.burstSize) this.#emit();
    this.#schedule();
  }

  size(): number {
    return this.#buffer.length;
  }

  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#startedAt = this.clock.monotonic();
    this.#schedule();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#buffer = [];
  }

  /** Arms the next tick of the grid, if messages wait and none is armed. */
  #schedule(): void {
    if (!this.#started || this.#stopped || this.#timer !== undefined || this.#buffer.length === 0) return;
    const now = this.clock.monotonic();
    const next = this.#startedAt + (Math.floor((now - this.#startedAt) / this.latencyMs) + 1) * this.latencyMs;
    this.#timer = this.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#emit();
      this.#schedule();
    }, next - now);
  }

  /** Fabric's `emit` followed by `decrementCounters`. */
  #emit(): void {
    // An emit callback that adds messages must not start a nested emission; they wait for the next one.
    if (this.#stopped || this.#emitting || this.#buffer.length === 0) return;
    const emitted = this.#buffer.slice();
    this.#emitting = true;
    try {
      this.emitBatch(emitted.map((b) => b.data));
    } catch (err) {
      this.logger?.error("emitting a batch failed", { error: errorMessage(err), size: emitted.length });
    } finally {
      this.#emitting = false;
    }
    if (this.#stopped) return;
    for (const b of emitted) b.iterationsLeft--;
    // Messages the callback added were not emitted: they keep all their iterations.
    this.#buffer = this.#buffer.filter((b) => b.iterationsLeft > 0);
  }
}
