import type { Payload } from "../protos/gen/gossip/message.pb.js";

/** Hooks of a {@link PayloadsBuffer}. */
export interface PayloadsBufferHooks {
  /**
   * Fabric's `Ready()` channel: called when a push stores the payload the buffer expects next, so
   * the consumer can pop a run of consecutive payloads.
   */
  onReady?: () => void;
  /** Called with the new size after every push that stores and every pop that removes (Fabric's metricsBuffer). */
  onSizeChange?: (size: number) => void;
}

/**
 * Fabric's `PayloadsBuffer` (`gossip/state/payloads_buffer.go`): payloads by sequence number, in
 * order from `next`. A push of a sequence below `next`, or of one already held, is ignored; a push
 * of `next` signals ready; `pop()` hands out `next` and moves on.
 */
export class PayloadsBuffer {
  readonly #buf = new Map<bigint, Payload>();
  readonly #hooks: PayloadsBufferHooks;
  #next: bigint;

  /** @param next the first sequence number expected (the ledger height). */
  constructor(next: bigint, hooks: PayloadsBufferHooks = {}) {
    this.#next = next;
    this.#hooks = hooks;
  }

  /** The sequence number expected next. */
  next(): bigint {
    return this.#next;
  }

  /** Payloads held. */
  size(): number {
    return this.#buf.size;
  }

  /** Whether the payload expected next is held (a pop would return it). */
  isReady(): boolean {
    return this.#buf.has(this.#next);
  }

  /** Whether a payload with this sequence number is held. */
  has(seqNum: bigint): boolean {
    return this.#buf.has(seqNum);
  }

  /**
   * Stores `payload` unless its sequence is below `next` or already held. Returns whether it was
   * stored. Signals ready when it is the one expected next.
   */
  push(payload: Payload): boolean {
    const seq = payload.seqNum;
    if (seq < this.#next || this.#buf.has(seq)) return false;
    this.#buf.set(seq, payload);
    this.#hooks.onSizeChange?.(this.#buf.size);
    if (seq === this.#next) this.#hooks.onReady?.();
    return true;
  }

  /** Removes and returns the payload expected next, or undefined when it has not arrived. */
  pop(): Payload | undefined {
    const payload = this.#buf.get(this.#next);
    if (payload === undefined) return undefined;
    this.#buf.delete(this.#next);
    this.#next++;
    this.#hooks.onSizeChange?.(this.#buf.size);
    return payload;
  }

  /**
   * Expects `next` from now on: payloads below it are dropped. Used when a popped payload could not
   * be committed, so the ledger height and the buffer agree again (not in Fabric, which panics
   * on the next commit instead).
   */
  reset(next: bigint): void {
    this.#next = next;
    let dropped = false;
    for (const seq of this.#buf.keys()) {
      if (seq < next) {
        this.#buf.delete(seq);
        dropped = true;
      }
    }
    if (dropped) this.#hooks.onSizeChange?.(this.#buf.size);
    if (this.#buf.has(next)) this.#hooks.onReady?.();
  }
}
