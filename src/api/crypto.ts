import type { Block } from "../protos/gen/common/common.pb.js";
import type { OrgIdentityType, PeerIdentityType, PKIidType } from "./identity.js";

/**
 * Fabric's `api.MessageCryptoService`: what gossip needs from the peer's cryptography. Failures are
 * thrown as `CryptoError` (a GossipError with a stable code); callers on the receive path catch and
 * turn them into a reject, never a crash.
 */
export interface MessageCryptoService {
  /** The PKI-ID of a serialized identity. Throws when the identity cannot be parsed. */
  getPKIidOfCert(peerIdentity: PeerIdentityType): PKIidType;
  /** Checks a block of `channelId` with sequence number `seqNum`: data hash, and the orderer's signature. */
  verifyBlock(channelId: string, seqNum: bigint, block: Block): void;
  /** Signs `msg` with this peer's signing identity. */
  sign(msg: Uint8Array): Uint8Array;
  /** Checks that `signature` over `message` was made by `peerIdentity`. */
  verify(peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void;
  /** As `verify`, and also that `peerIdentity` may read `channelId` (its Readers policy). */
  verifyByChannel(
    channelId: string,
    peerIdentity: PeerIdentityType,
    signature: Uint8Array,
    message: Uint8Array,
  ): void;
  /** Checks that an identity is valid: a known MSP, its CA chain, not expired, not revoked. */
  validateIdentity(peerIdentity: PeerIdentityType): void;
  /** When the identity expires, or undefined when it never does (Fabric's zero time). */
  expiration(peerIdentity: PeerIdentityType): Date | undefined;
}

/** Fabric's `api.SecurityAdvisor`. */
export interface SecurityAdvisor {
  /** The organization of a peer's identity, or an empty array when it cannot be told. */
  orgByPeerIdentity(peerIdentity: PeerIdentityType): OrgIdentityType;
}

/** Signs bytes: Fabric's `api.MessageCryptoService.Sign` seen as a function. */
export type Signer = (msg: Uint8Array) => Uint8Array;

/** Checks a signature; throws when it is bad. */
export type Verifier = (peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array) => void;

/** Fabric's `api.PeerSignature`. */
export interface PeerSignature {
  signature: Uint8Array;
  message: Uint8Array;
  peerIdentity: PeerIdentityType;
}
