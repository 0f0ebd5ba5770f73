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
  /** The policy's partition key (all messages share "" when the policy has none). */
  readonly key: string;
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
  // The TTLs derive from config-validated keys (pullInterval, publishStateInfoInterval, aliveExpirationTimeout,
  // election.leaderAliveThreshold). Checked here because tests build stores by hand and a TTL of 0 would
  // make the expiration check (every TTL / 100) re-arm forever at one instant.
  if (options !== undefined && !(Number.isFinite(options.ttlMs) && options.ttlMs > 0)) {
    throw new MessageStoreError(
      "INVALID_OPTIONS",
      `message store TTL must be a positive number of milliseconds, got ${String(options.ttlMs)}; omit the options for a store that never expires`,
    );
  }
  return new MessageStoreImpl(policy, trigger, options);
}

const SINGLE_PARTITION = (): string => "";

/**
 * Entries are kept in insertion order overall (for `get`) and per partition key (for comparisons): a new
 * message is compared only with the messages of its partition, which for gossip messages means the same
 * kind and PKI-ID. Fabric compares it with every stored message; the outcome is the same because the
 * policy answers NoAction across partitions.
 *
 * A partition of one entry (the usual case: the latest alive or StateInfo message of one peer) holds
 * the entry itself; a Set is made only for a second one. A Set costs about 150 bytes, and the
 * stores of every peer hold one partition per known member.
 */
class MessageStoreImpl<T> implements MessageStore<T> {
  readonly #all = new Set<Entry<T>>();
  readonly #parts = new Map<string, Entry<T> | Set<Entry<T>>>();
  readonly #partitionOf: (msg: T) => string;
  #timer: TimerHandle | undefined;
  #stopped = false;
  readonly #policy: MessageReplacingPolicy<T>;
  readonly #trigger: InvalidationTrigger<T>;
  readonly #expiry: ExpirableMessageStoreOptions<T> | undefined;

  constructor(policy: MessageReplacingPolicy<T>, trigger: InvalidationTrigger<T>, expiry: ExpirableMessageStoreOptions<T> | undefined) {
    this.#policy = policy;
    this.#partitionOf = policy.partition ?? SINGLE_PARTITION;
    this.#trigger = trigger;
    this.#expiry = expiry;
    this.#scheduleCheck();
  }

  add(msg: T): boolean {
    const key = this.#partitionOf(msg);
    const bucket = this.#parts.get(key);
    const evicted: Entry<T>[] = [];
    let accepted = true;
    if (bucket instanceof Set) {
      for (const entry of bucket) {
        const verdict = this.#policy(msg, entry.data);
        if (verdict === InvalidationResult.Invalidated) {
          accepted = false;
          break;
        }
        if (verdict === InvalidationResult.Invalidates) evicted.push(entry);
      }
    } else if (bucket !== undefined) {
      const verdict = this.#policy(msg, bucket.data);
      if (verdict === InvalidationResult.Invalidated) accepted = false;
      else if (verdict === InvalidationResult.Invalidates) evicted.push(bucket);
    }
    // As in Fabric, messages evicted before a stored one rejected the new message stay evicted.
    for (const entry of evicted) this.#remove(entry);
    if (accepted) {
      const entry: Entry<T> = { data: msg, key, created: this.#expiry?.clock.monotonic() ?? 0, expired: false };
      this.#all.add(entry);
      const target = this.#parts.get(key);
      if (target === undefined) this.#parts.set(key, entry);
      else if (target instanceof Set) target.add(entry);
      else this.#parts.set(key, new Set([target, entry]));
    }
    for (const old of evicted) this.#trigger(old.data);
    return accepted;
  }

  checkValid(msg: T): boolean {
    const bucket = this.#parts.get(this.#partitionOf(msg));
    if (bucket === undefined) return true;
    if (!(bucket instanceof Set)) return this.#policy(msg, bucket.data) !== InvalidationResult.Invalidated;
    for (const entry of bucket) {
      if (this.#policy(msg, entry.data) === InvalidationResult.Invalidated) return false;
    }
    return true;
  }

  holds(key: string, match: (stored: T) => boolean): boolean {
    const bucket = this.#parts.get(key);
    if (bucket === undefined) return false;
    if (!(bucket instanceof Set)) return match(bucket.data);
    for (const entry of bucket) if (match(entry.data)) return true;
    return false;
  }

  size(): number {
    let n = 0;
    for (const entry of this.#all) if (!entry.expired) n++;
    return n;
  }

  get(): T[] {
    const out: T[] = [];
    for (const entry of this.#all) if (!entry.expired) out.push(entry.data);
    return out;
  }

  purge(shouldBePurged: (msg: T) => boolean): void {
    const purged: Entry<T>[] = [];
    for (const entry of this.#all) if (shouldBePurged(entry.data)) purged.push(entry);
    for (const entry of purged) this.#remove(entry);
    for (const entry of purged) this.#trigger(entry.data);
  }

  #remove(entry: Entry<T>): void {
    this.#all.delete(entry);
    const bucket = this.#parts.get(entry.key);
    if (bucket === undefined) return;
    if (!(bucket instanceof Set)) {
      if (bucket === entry) this.#parts.delete(entry.key);
      return;
    }
    bucket.delete(entry);
    if (bucket.size === 0) this.#parts.delete(entry.key);
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
    const dropped: Entry<T>[] = [];
    for (const entry of this.#all) {
      const age = now - entry.created;
      if (!entry.expired) {
        if (age > ttl) {
          entry.expired = true;
          newlyExpired.push(entry.data);
        }
      } else if (age > 2 * ttl) {
        dropped.push(entry);
      }
    }
    for (const entry of dropped) this.#remove(entry);
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
