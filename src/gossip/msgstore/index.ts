/** Fabric's `gossip/gossip/msgstore`: a de-duplicating message store with invalidation and optional TTL. */
export type { ExpirableMessageStoreOptions, InvalidationTrigger, MessageReplacingPolicy, MessageStore } from "./interface.js";
export { EXPIRATION_CHECK_DIVISOR, MIN_EXPIRATION_CHECK_INTERVAL_MS, createMessageStore } from "./msg-store.js";
export { MessageStoreError } from "./errors.js";
export type { MessageStoreErrorCode } from "./errors.js";
