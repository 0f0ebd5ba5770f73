import type {
  MessageCryptoService,
  SecurityAdvisor,
  OrgIdentityType,
  PeerIdentityType,
  PKIidType,
} from "../api/index.js";
import type { Logger } from "../logging/index.js";
import { type Block, Metadata, SignatureHeader } from "../protos/gen/common/common.pb.js";
import { bytesEqual, errorMessage, utf8 } from "../util/index.js";
import { blockDataHash, blockHeaderBytes, channelIdOfBlock, concatBytes } from "./block.js";
import { CryptoError } from "./errors.js";
import type { MspVerifier, SigningIdentity, VerifierStats } from "./msp.js";

/** Index of the SIGNATURES entry in `block.metadata.metadata` (`common.BlockMetadataIndex_SIGNATURES`). */
export const BLOCK_METADATA_SIGNATURES = 0;

/** What `MspMessageCryptoService` is built from. */
export interface MspMcsComponents {
  /** This peer's signing identity (its local MSP). */
  signer: SigningIdentity;
  /** The MSPs this peer knows; must include the signer's own. */
  verifier: MspVerifier;
  logger?: Logger;
}

/** Channel knowledge the MCS needs; stand-ins for the channel config's policies. */
export interface MspMcsOptions {
  /**
   * The MSP IDs whose members may read `channelId` (stands in for `/Channel/Application/Readers`),
   * or undefined when this peer does not know the channel. Without it every channel is unknown.
   */
  channelOrgs?: (channelId: string) => ReadonlySet<string> | undefined;
  /**
   * The orderer MSP IDs of `channelId` (stands in for `/Channel/Orderer/BlockValidation`, whose
   * default is "ANY Writers" of the orderer orgs): a block must carry at least one SIGNATURES
   * metadata signature by a valid identity of one of them. Undefined (or no resolver): signatures
   * are not checked, only the data hash.
   */
  ordererOrgs?: (channelId: string) => ReadonlySet<string> | undefined;
  /**
   * The channel's `/Channel/Orderer/BlockValidation` policy under the configuration in force, for a
   * channel that follows its config blocks: it throws when a block's signatures do not satisfy it.
   * When it gives one, it replaces the orderer-orgs check. Undefined: `ordererOrgs` decides.
   */
  blockValidation?: (channelId: string) => ((block: Block) => void) | undefined;
  /**
   * Whether verifyBlock requires the first envelope's channel header to name the channel, as
   * Fabric's VerifyBlock does (`protoutil.GetChannelIDFromBlock`). Default true; turn off only for
   * synthetic blocks whose data are not envelopes.
   */
  checkBlockChannel?: boolean;
}

/** MSP IDs whose bytes orgByPeerIdentity keeps (a channel has a handful of orgs; the bound only guards memory). */
const ORG_BYTES_CACHE_SIZE = 256;

/** An MSP-backed MessageCryptoService and SecurityAdvisor, as `createMspMessageCryptoService` returns it. */
export interface MspMessageCryptoService extends MessageCryptoService, SecurityAdvisor {
  /** This peer's serialized identity. */
  readonly selfIdentity: PeerIdentityType;
  /** This peer's PKI-ID. */
  readonly selfPkiId: PKIidType;
}

/**
 * The MessageCryptoService and SecurityAdvisor of a real peer: Fabric's
 * `internal/peer/gossip/mcs.go` (`MSPMessageCryptoService`) and `sa.go` (`mspSecurityAdvisor`) over
 * X.509 ECDSA P-256 MSPs. Verification of a known identity's signature costs one ECDSA verify: the
 * parsed key and the validation verdict are cached per identity bytes in the MspVerifier.
 */
export class MspMessageCryptoServiceImpl implements MspMessageCryptoService {
  readonly #signer: SigningIdentity;
  readonly #verifier: MspVerifier;
  readonly #logger: Logger | undefined;
  readonly #channelOrgs: MspMcsOptions["channelOrgs"];
  readonly #ordererOrgs: MspMcsOptions["ordererOrgs"];
  readonly #blockValidation: MspMcsOptions["blockValidation"];
  readonly #checkBlockChannel: boolean;
  readonly #orgBytes = new Map<string, OrgIdentityType>();

  constructor(components: MspMcsComponents, options: MspMcsOptions = {}) {
    this.#signer = components.signer;
    this.#verifier = components.verifier;
    this.#logger = components.logger;
    this.#channelOrgs = options.channelOrgs;
    this.#ordererOrgs = options.ordererOrgs;
    this.#blockValidation = options.blockValidation;
    this.#checkBlockChannel = options.checkBlockChannel ?? true;
    if (!this.#verifier.knows(this.#signer.mspId)) {
      throw new CryptoError(
        "MSP_CONFIG",
        `the verifier MSP set [${this.#verifier.mspIds().join(", ")}] must include the local MSP ${this.#signer.mspId}`,
      );
    }
  }

  /** This peer's serialized identity. */
  get selfIdentity(): PeerIdentityType {
    return this.#signer.serialized;
  }

  /** This peer's PKI-ID. */
  get selfPkiId(): PKIidType {
    return this.#signer.pkiId;
  }

  /** Fabric's `GetPKIidOfCert`: SHA-256(mspid || id_bytes). Throws MALFORMED_IDENTITY. */
  getPKIidOfCert(peerIdentity: PeerIdentityType): PKIidType {
    return this.#verifier.pkiIdOf(peerIdentity);
  }

  /** Fabric's `Sign`: ECDSA P-256 over SHA-256(msg), low-S, DER. */
  sign(msg: Uint8Array): Uint8Array {
    return this.#signer.sign(msg);
  }

  /** Fabric's `Verify`: the identity is valid, and the signature is its. */
  verify(peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    this.#verifier.verify(peerIdentity, signature, message);
  }

  /** Fabric's `VerifyByChannel`, with channel membership by org in place of the Readers policy. */
  verifyByChannel(channelId: string, peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    const orgs = this.#channelOrgs?.(channelId);
    if (orgs === undefined) {
      throw new CryptoError("UNKNOWN_CHANNEL", `could not acquire the policy of channel ${JSON.stringify(channelId)}: this peer does not know it`);
    }
    const v = this.#verifier.verify(peerIdentity, signature, message);
    if (!orgs.has(v.mspId)) {
      throw new CryptoError("CHANNEL_ACCESS_DENIED", `identity of ${v.mspId} may not read channel ${JSON.stringify(channelId)}: its org is not a member`);
    }
  }

  /** Fabric's `ValidateIdentity`: known MSP, chain, not revoked, not expired. */
  validateIdentity(peerIdentity: PeerIdentityType): void {
    this.#verifier.validate(peerIdentity);
  }

  /** Fabric's `Expiration`: the certificate's NotAfter (even when past). */
  expiration(peerIdentity: PeerIdentityType): Date | undefined {
    return this.#verifier.expiration(peerIdentity);
  }

  /** Fabric's `OrgByPeerIdentity`: the MSP ID bytes, or empty when no known MSP can read it. */
  orgByPeerIdentity(peerIdentity: PeerIdentityType): OrgIdentityType {
    const mspId = this.#verifier.orgOf(peerIdentity);
    if (mspId === undefined) return new Uint8Array(0);
    // One array per MSP ID: the identity mapper keeps the org of every member it knows.
    let org = this.#orgBytes.get(mspId);
    if (org === undefined) {
      if (this.#orgBytes.size >= ORG_BYTES_CACHE_SIZE) this.#orgBytes.clear();
      org = utf8(mspId);
      this.#orgBytes.set(mspId, org);
    }
    return org;
  }

  /**
   * Fabric's `VerifyBlock`: header present, seqNum equals header.number, the first envelope names
   * the channel, SIGNATURES metadata present and decodable, header.data_hash equals
   * SHA-256(concatenation of data entries), and, when the channel has orderer orgs, at least one
   * metadata signature over `value || signature_header || BlockHeaderBytes(header)` verifies with a
   * valid identity of one of them. Throws CryptoError BAD_BLOCK.
   */
  verifyBlock(channelId: string, seqNum: bigint, block: Block): void {
    const header = block.header;
    if (header === undefined) throw new CryptoError("BAD_BLOCK", `invalid block on channel ${channelId}: header must be present`);
    if (header.number !== seqNum) {
      throw new CryptoError("BAD_BLOCK", `claimed seqNum is [${seqNum}] but actual seqNum inside block is [${header.number}]`);
    }
    if (this.#checkBlockChannel) {
      const inBlock = channelIdOfBlock(block.data);
      if (inBlock !== channelId) {
        throw new CryptoError("BAD_BLOCK", `invalid block's channel id: expected [${channelId}], given [${inBlock}]`);
      }
    }
    const md = block.metadata?.metadata;
    if (md === undefined || md.length === 0) {
      throw new CryptoError("BAD_BLOCK", `block [${header.number}] on channel [${channelId}] does not have metadata`);
    }
    let sigs: Metadata;
    try {
      sigs = Metadata.decode(md[BLOCK_METADATA_SIGNATURES]!);
    } catch (err) {
      throw new CryptoError("BAD_BLOCK", `failed unmarshalling the signatures metadata of block [${header.number}]`, { cause: err });
    }
    if (!bytesEqual(blockDataHash(block.data), header.dataHash)) {
      throw new CryptoError("BAD_BLOCK", `header.data_hash is different from SHA-256(block.data) for block [${header.number}] on channel [${channelId}]`);
    }
    const policy = this.#blockValidation?.(channelId);
    if (policy !== undefined) {
      try {
        policy(block);
      } catch (err) {
        throw new CryptoError("BAD_BLOCK", `block [${header.number}] on channel [${channelId}] fails /Channel/Orderer/BlockValidation: ${errorMessage(err)}`, { cause: err });
      }
      return;
    }
    const ordererOrgs = this.#ordererOrgs?.(channelId);
    if (ordererOrgs === undefined) return;

    const headerBytes = blockHeaderBytes(header);
    const signed: Array<{ creator: Uint8Array; data: Uint8Array; signature: Uint8Array }> = [];
    for (const ms of sigs.signatures) {
      let shdr: SignatureHeader;
      try {
        shdr = SignatureHeader.decode(ms.signatureHeader);
      } catch (err) {
        throw new CryptoError("BAD_BLOCK", `failed unmarshalling a signature header of block [${header.number}]`, { cause: err });
      }
      signed.push({ creator: shdr.creator, data: concatBytes(sigs.value, ms.signatureHeader, headerBytes), signature: ms.signature });
    }
    const reasons: string[] = [];
    for (const s of signed) {
      try {
        const v = this.#verifier.verify(s.creator, s.signature, s.data);
        if (ordererOrgs.has(v.mspId)) return;
        reasons.push(`signer of ${v.mspId} is not an orderer org`);
      } catch (err) {
        reasons.push(err instanceof CryptoError ? err.code : String(err));
      }
    }
    this.#logger?.debug("block signature policy not satisfied", { channelId, block: header.number.toString(), reasons });
    throw new CryptoError(
      "BAD_BLOCK",
      `block [${header.number}] on channel [${channelId}] carries no valid signature of an orderer org [${[...ordererOrgs].join(", ")}]` +
        (reasons.length > 0 ? ` (${reasons.join("; ")})` : " (no signatures)"),
    );
  }

  /** Cache counters of the identity verifier. */
  stats(): VerifierStats {
    return this.#verifier.stats();
  }
}

/** Creates the MSP-backed MessageCryptoService. */
export function createMspMessageCryptoService(components: MspMcsComponents, options: MspMcsOptions = {}): MspMessageCryptoService {
  return new MspMessageCryptoServiceImpl(components, options);
}
