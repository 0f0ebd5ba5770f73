import type { MessageReplacingPolicy } from "../../protoext/index.js";
import type { Logger } from "../../logging/index.js";
import type { Clock } from "../../util/index.js";

export type { MessageReplacingPolicy };

/**
 * Called for every stored message that leaves the store because a newer message invalidated it, or
 * because `purge` selected it (Fabric's `msgstore.invalidationTrigger`).
 */
export type InvalidationTrigger<T> = (msg: T) => void;

/**
 * Fabric's `msgstore.MessageStore`: a de-duplicating buffer driven by a replacing policy. A new message
 * may be added, be discarded because a stored message invalidates it, or evict the stored messages it
 * invalidates.
 */
export interface MessageStore<T> {
  /**
   * Adds `msg` unless a stored message invalidates it. Stored messages that `msg` invalidates are removed
   * and handed to the trigger. Returns whether `msg` was added.
   */
  add(msg: T): boolean;
  /** Whether `add(msg)` would accept `msg` (nothing stored invalidates it); changes nothing. */
  checkValid(msg: T): boolean;
  /**
   * Whether a stored message of partition `key` (expired or not: `checkValid` compares with those too)
   * satisfies `match`; changes nothing. For callers that can name a message's partition before
   * decoding it. A store whose policy has no partition keeps every message under "".
   */
  holds(key: string, match: (stored: T) => boolean): boolean;
  /** How many messages are stored and not expired. */
  size(): number;
  /** The stored messages that have not expired, oldest first (a fresh array). */
  get(): T[];
  /** Removes every stored message (expired or not) that `shouldBePurged` accepts, calling the trigger for each. */
  purge(shouldBePurged: (msg: T) => boolean): void;
  /**
   * Stops the expiration routine (idempotent); afterwards no timer of the store is pending. The store stays
   * usable as a plain store, as in Fabric.
   */
  stop(): void;
}

/** What makes a store expirable (the TTL part of Fabric's `NewMessageStoreExpirable`). */
export interface ExpirableMessageStoreOptions<T> {
  /**
   * A message older than this is expired: hidden from `get` and `size` and reported to `onExpire`, yet
   * still compared against new messages so old replays stay rejected. It is deleted once older than
   * twice this. Checked every `ttlMs / 100` (at least 1 ms). Must be positive.
   */
  ttlMs: number;
  /** Time source of message ages and of the expiration check chain. */
  clock: Clock;
  /**
   * Called once per message when it expires (Fabric's `externalExpire`). Fabric runs it under an external
   * lock (discovery's); here it runs synchronously inside the check, so nothing interleaves with it.
   */
  onExpire?: (msg: T) => void;
  /** Where a throwing `onExpire` is reported (it is caught so the check chain goes on). */
  logger?: Logger;
}
