/** Fabric's `gossip/identity`: the identity mapper (PKI-ID to certificate, expiry, purge). */
export type {
  IdentityMapper,
  IdentityMapperComponents,
  IdentityMapperOptions,
  PeerSuspector,
  PurgeTrigger,
} from "./interface.js";
export { EXPIRATION_GRACE_MS, IDENTITY_USAGE_THRESHOLD_MS, PURGE_INTERVAL_DIVISOR } from "./interface.js";
export { MAX_TIMER_DELAY_MS, createIdentityMapper } from "./identity-mapper.js";
export { IdentityError } from "./errors.js";
export type { IdentityErrorCode } from "./errors.js";
