import { GossipError } from "../util/index.js";

/**
 * Stable codes of identity mapper failures:
 * - NO_PKI_ID / NO_IDENTITY: `put` got an empty PKI-ID or identity.
 * - UNCLASSIFIABLE_IDENTITY: `mcs.expiration` failed (Fabric's "failed classifying identity").
 * - INVALID_IDENTITY: `mcs.validateIdentity` failed (unknown MSP or CA, revoked, ...; the cause says which).
 * - PKI_ID_MISMATCH: the identity's PKI-ID is not the one it was put under.
 * - EXPIRED_IDENTITY: the identity's certificate has already expired.
 * - UNKNOWN_PKI_ID: `verify` for a PKI-ID with no stored identity.
 * - BAD_SIGNATURE: `verify` failed (the cause is the crypto error).
 * - SELF_IDENTITY: our own identity could not be stored at construction.
 * - STOPPED: `put` after `stop`.
 * - INVALID_OPTIONS: a non-positive usage threshold.
 */
export type IdentityErrorCode =
  | "NO_PKI_ID"
  | "NO_IDENTITY"
  | "UNCLASSIFIABLE_IDENTITY"
  | "INVALID_IDENTITY"
  | "PKI_ID_MISMATCH"
  | "EXPIRED_IDENTITY"
  | "UNKNOWN_PKI_ID"
  | "BAD_SIGNATURE"
  | "SELF_IDENTITY"
  | "STOPPED"
  | "INVALID_OPTIONS";

/** An identity mapper failure; `code` says which check failed. */
export class IdentityError extends GossipError {
  declare readonly code: IdentityErrorCode;

  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
