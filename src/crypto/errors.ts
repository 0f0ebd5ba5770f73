import { GossipError } from "../util/errors.js";

/**
 * A cryptographic check failed. Codes: BAD_SIGNATURE, HIGH_S_SIGNATURE, UNKNOWN_IDENTITY,
 * UNKNOWN_MSP, UNKNOWN_CA, EXPIRED_IDENTITY, REVOKED_IDENTITY, MALFORMED_IDENTITY, BAD_BLOCK,
 * MSP_FOLDER.
 */
export class CryptoError extends GossipError {}
