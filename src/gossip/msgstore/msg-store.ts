import { InvalidationResult } from "../../protoext/index.js";
import { type TimerHandle, errorMessage } from "../../util/index.js";
import { MessageStoreError } from "./errors.js";
import type { ExpirableMessageStoreOptions, InvalidationTrigger, MessageReplacingPolicy, MessageStore } from "./interface.js";

/** The expiration check runs every TTL divided by this (Fabric's `expirationCheckInterval`). */
export const EXPIRATION_CHECK_DIVISOR = 100;

/** Never check more often than this, whatever the TTL (Fabric's `ttl/100` could be 0, a busy loop). */
export const MIN_EXPIRATION_CHECK_INTERVAL_MS = 1;

interface Entry<T> {
  readonly data: T;
  /** `clock.monotonic()` when added; 0 for a store without TTL. */
  readonly created: number;
  expired: boolean;
}

const noop = (): void => {};

/**
 * Fabric's `msgstore.NewMessageStore` / `NewMessageStoreExpirable`. Without `options` the store never
 * expires anything; with them it runs an expiration check every `ttlMs / 100` as a chain of clock
 * timeouts, from construction until `stop()` (as Fabric starts its `expirationRoutine` in the constructor).
 *
 * Triggers and `onExpire` run after the store has been updated, so they may read the store.
 * Departure from Fabric: `size()` counts the unexpired messages exactly, whereas Fabric's `expiredCount`
 * drifts when an expired message is removed by invalidation or `Purge`.
 */
export function createMessageStore<T>(
  policy: MessageReplacingPolicy<T>,
  trigger: InvalidationTrigger<T> = noop,
  options?: ExpirableMessageStoreOptions<T>,
): MessageStore<T> {
  if (options !== undefined && !(Number.isFinite(options.ttlMs) && options.ttlMs > 0)) {
    throw new MessageStoreError(
      "INVALID_OPTIONS",
      `message store TTL must be a positive number of milliseconds, got ${String(options.ttlMs)}; omit the options for a store that never expires`,
    );
  }
  return new MessageStoreImpl(policy, trigger, options);
}

class MessageStoreImpl<T> implements MessageStore<T> {
  #entries: Entry<T>[] = [];
  #timer: TimerHandle | undefined;
  #stopped = false;
  readonly #policy: MessageReplacingPolicy<T>;
  readonly #trigger: InvalidationTrigger<T>;
  readonly #expiry: ExpirableMessageStoreOptions<T> | undefined;

  constructor(policy: MessageReplacingPolicy<T>, trigger: InvalidationTrigger<T>, expiry: ExpirableMessageStoreOptions<T> | undefined) {
    this.#policy = policy;
    this.#trigger = trigger;
    this.#expiry = expiry;
    this.#scheduleCheck();
  }

  add(msg: T): boolean {
    const kept: Entry<T>[] = [];
    const evicted: T[] = [];
    let accepted = true;
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const verdict = this.#policy(msg, entry.data);
      if (verdict === InvalidationResult.Invalidated) {
        // As in Fabric: messages evicted before this point stay evicted, the rest are kept as they are.
        accepted = false;
        for (let j = i; j < entries.length; j++) kept.push(entries[j]!);
        break;
      }
      if (verdict === InvalidationResult.Invalidates) evicted.push(entry.data);
      else kept.push(entry);
    }
    if (accepted) kept.push({ data: msg, created: this.#expiry?.clock.monotonic() ?? 0, expired: false });
    this.#entries = kept;
    for (const old of evicted) this.#trigger(old);
    return accepted;
  }

  checkValid(msg: T): boolean {
    for (const entry of this.#entries) {
      if (this.#policy(msg, entry.data) === InvalidationResult.Invalidated) return false;
    }
    return true;
  }

  size(): number {
    let n = 0;
    for (const entry of this.#entries) if (!entry.expired) n++;
    return n;
  }

  get(): T[] {
    const out: T[] = [];
    for (const entry of this.#entries) if (!entry.expired) out.push(entry.data);
    return out;
  }

  purge(shouldBePurged: (msg: T) => boolean): void {
    const kept: Entry<T>[] = [];
    const purged: T[] = [];
    for (const entry of this.#entries) {
      if (shouldBePurged(entry.data)) purged.push(entry.data);
      else kept.push(entry);
    }
    if (purged.length === 0) return;
    this.#entries = kept;
    for (const old of purged) this.#trigger(old);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #scheduleCheck(): void {
    const expiry = this.#expiry;
    if (expiry === undefined || this.#stopped) return;
    const interval = Math.max(MIN_EXPIRATION_CHECK_INTERVAL_MS, expiry.ttlMs / EXPIRATION_CHECK_DIVISOR);
    this.#timer = expiry.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#expireMessages(expiry);
      this.#scheduleCheck();
    }, interval);
  }

  /** Fabric's `expireMessages`: mark those older than the TTL, delete expired ones older than twice the TTL. */
  #expireMessages(expiry: ExpirableMessageStoreOptions<T>): void {
    const now = expiry.clock.monotonic();
    const ttl = expiry.ttlMs;
    const newlyExpired: T[] = [];
    const kept: Entry<T>[] = [];
    for (const entry of this.#entries) {
      const age = now - entry.created;
      if (!entry.expired) {
        if (age > ttl) {
          entry.expired = true;
          newlyExpired.push(entry.data);
        }
        kept.push(entry);
      } else if (age <= 2 * ttl) {
        kept.push(entry);
      }
    }
    if (kept.length !== this.#entries.length) this.#entries = kept;
    const onExpire = expiry.onExpire;
    if (onExpire === undefined) return;
    for (const msg of newlyExpired) {
      try {
        onExpire(msg);
      } catch (err) {
        // One failing callback must neither stop the others nor break the check chain.
        expiry.logger?.error("message store expiration callback failed", { error: errorMessage(err) });
      }
    }
  }
}
