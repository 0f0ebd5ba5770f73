import { GossipError } from "../util/index.js";

/**
 * A cryptographic check failed. Codes:
 * - BAD_SIGNATURE: malformed signature, or it does not verify.
 * - HIGH_S_SIGNATURE: an ECDSA signature with s > n/2, which Fabric rejects.
 * - UNKNOWN_IDENTITY: no identity known for a PKI-ID.
 * - UNKNOWN_MSP: the identity's MSP ID is not one of the known MSPs.
 * - UNKNOWN_CA: the certificate does not chain to a root CA of its MSP.
 * - EXPIRED_IDENTITY: the certificate is past its NotAfter.
 * - REVOKED_IDENTITY: the certificate is on a CRL signed by its issuing CA.
 * - MALFORMED_IDENTITY: not a SerializedIdentity, not one PEM certificate, a CA certificate, not ECDSA P-256.
 * - UNKNOWN_CHANNEL: verifyByChannel for a channel this peer does not know.
 * - CHANNEL_ACCESS_DENIED: the identity's org is not a member of the channel.
 * - BAD_BLOCK: verifyBlock failed (seq, channel, metadata, data hash, orderer signature).
 * - MSP_FOLDER: an MSP folder misses something (the message names the path and what).
 * - MSP_CONFIG: an org's MSP material is unusable (unparseable certificates or CRLs, a root that is not a CA).
 */
export class CryptoError extends GossipError {}
