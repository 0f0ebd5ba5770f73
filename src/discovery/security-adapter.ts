import type { MessageCryptoService, PeerIdentityType, PKIidType } from "../api/index.js";
import type { Logger } from "../logging/index.js";
import { SignedGossipMessage } from "../protoext/index.js";
import type { GossipMessage } from "../protos/gen/gossip/message.pb.js";
import { toHex, type Clock, errorMessage } from "../util/index.js";
import { type AliveCheck, type CryptoService, DEF_PUBLISH_CERT_PERIOD_MS } from "./interface.js";

/** The part of the identity mapper the security adapter uses (Fabric's `identity.Mapper`). */
export interface AliveIdentityStore {
  /** Stores an identity claimed for `pkiId`; throws when it is invalid or does not match the PKI-ID. */
  put(pkiId: PKIidType, identity: PeerIdentityType): void;
  /** The identity known for `pkiId`, or undefined. */
  get(pkiId: PKIidType): PeerIdentityType | undefined;
}

export interface DiscoverySecurityAdapterComponents {
  mcs: Pick<MessageCryptoService, "sign" | "verify">;
  identities: AliveIdentityStore;
  /** Our serialized identity, put into alive messages during the publish-cert period. */
  selfIdentity: PeerIdentityType;
  clock: Clock;
  logger: Logger;
}

export interface DiscoverySecurityAdapterOptions {
  /** peer.gossip.publishCertPeriod: alive messages carry our identity this long after creation. Default 10 s. */
  publishCertPeriodMs: number;
}

/**
 * Fabric's `discoverySecurityAdapter` (gossip_impl.go): signs our alive messages (with our identity
 * during the publish-cert period, and the internal endpoint in a separately signed secret), and
 * validates received ones against the identity they carry (stored into the mapper) or the mapper's.
 */
export function createDiscoverySecurityAdapter(
  components: DiscoverySecurityAdapterComponents,
  options: Partial<DiscoverySecurityAdapterOptions> = {},
): CryptoService {
  const { mcs, identities, selfIdentity, clock } = components;
  const logger = components.logger;
  const publishCertPeriodMs = options.publishCertPeriodMs ?? DEF_PUBLISH_CERT_PERIOD_MS;
  const includeIdentityUntil = clock.monotonic() + publishCertPeriodMs;
  const signer = (bytes: Uint8Array): Uint8Array => mcs.sign(bytes);
  const verifier = (identity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void =>
    mcs.verify(identity, signature, message);

  return {
    signMessage(msg: GossipMessage, internalEndpoint: string): SignedGossipMessage | undefined {
      let toSign = msg;
      if (msg.content?.$case === "aliveMsg" && clock.monotonic() < includeIdentityUntil) {
        toSign = { ...msg, content: { $case: "aliveMsg", value: { ...msg.content.value, identity: selfIdentity } } };
      }
      let signed: SignedGossipMessage;
      try {
        signed = SignedGossipMessage.sign(toSign, signer);
        if (internalEndpoint === "") return signed;
        return signed.withSecret({ content: { $case: "internalEndpoint", value: internalEndpoint } }, signer);
      } catch (err) {
        logger.warn("Failed signing message", { error: errorMessage(err) });
        return undefined;
      }
    },

    validateAliveMsg(msg: SignedGossipMessage): boolean {
      return checkAlive(msg) === "ok";
    },
    checkAliveMsg: (msg) => checkAlive(msg),
  };

  // Failures are logged at debug: discovery logs each rejection, rate-limited per sender (remote input).
  function checkAlive(msg: SignedGossipMessage): AliveCheck {
    const content = msg.message.content;
    const am = content?.$case === "aliveMsg" ? content.value : undefined;
    const pkiId = am?.membership?.pkiId;
    if (am === undefined || pkiId === undefined || pkiId.byteLength === 0 || !msg.isSigned()) {
      logger.debug("Invalid alive message");
      return "malformed";
    }
    let identity: PeerIdentityType | undefined;
    if (am.identity.byteLength > 0) {
      identity = am.identity;
      try {
        identities.put(pkiId, identity);
      } catch (err) {
        logger.debug("Failed validating identity of alive message", { pkiId: toHex(pkiId), error: errorMessage(err) });
        return "bad-identity";
      }
    } else {
      identity = identities.get(pkiId);
    }
    if (identity === undefined || identity.byteLength === 0) {
      logger.debug("Don't have certificate for alive message", { pkiId: toHex(pkiId) });
      return "no-identity";
    }
    try {
      msg.verify(identity, verifier);
    } catch (err) {
      logger.debug("Failed verifying alive message", { pkiId: toHex(pkiId), error: errorMessage(err) });
      return "forged";
    }
    return "ok";
  }
}
