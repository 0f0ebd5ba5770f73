import type {
  MessageCryptoService,
  SecurityAdvisor,
  OrgIdentityType,
  PeerIdentityType,
  PKIidType,
} from "../api/index.js";
import type { Logger } from "../logging/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { bytesEqual, utf8 } from "../util/index.js";
import { CryptoError } from "./errors.js";

/** The one org every development identity belongs to, as in Fabric's gossip tests. */
export const DEV_ORG = "ORG1";
const DEV_ORG_BYTES = utf8(DEV_ORG);

/**
 * The crypto of Fabric's own gossip test harness, for interoperating with it: an identity is any
 * byte string (by default the peer's endpoint) and is its own PKI-ID; a signature equals the bytes
 * it signs; every identity is in org ORG1. It authenticates nothing, so it is only ever chosen by an
 * explicit option, and says so loudly.
 */
export class DevMessageCryptoService implements MessageCryptoService, SecurityAdvisor {
  constructor(logger?: Logger) {
    logger?.warn(
      "INSECURE development crypto in use: identities are not authenticated and signatures are not checked cryptographically. Never use this outside tests and local experiments.",
    );
  }

  getPKIidOfCert(peerIdentity: PeerIdentityType): PKIidType {
    return peerIdentity;
  }

  verifyBlock(_channelId: string, _seqNum: bigint, _block: Block): void {}

  sign(msg: Uint8Array): Uint8Array {
    return msg;
  }

  verify(_peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    if (!bytesEqual(signature, message)) {
      throw new CryptoError("BAD_SIGNATURE", "development signature is not equal to the signed bytes");
    }
  }

  verifyByChannel(_channelId: string, peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    this.verify(peerIdentity, signature, message);
  }

  validateIdentity(peerIdentity: PeerIdentityType): void {
    if (peerIdentity.byteLength === 0) throw new CryptoError("MALFORMED_IDENTITY", "empty identity");
  }

  expiration(_peerIdentity: PeerIdentityType): Date | undefined {
    return undefined;
  }

  orgByPeerIdentity(_peerIdentity: PeerIdentityType): OrgIdentityType {
    return DEV_ORG_BYTES;
  }
}
