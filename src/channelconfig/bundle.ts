import { blockDataHash, blockHeaderBytes, concatBytes } from "../crypto/index.js";
import type { Logger } from "../logging/index.js";
import { type Block, type BlockHeader, BlockMetadataIndex, Metadata, SignatureHeader } from "../protos/gen/common/common.pb.js";
import type { ConfigGroup } from "../protos/gen/common/configtx.pb.js";
import { type Clock, GossipError, errorMessage } from "../util/index.js";
import type { ChannelConfig } from "./channel-config.js";
import { APPLICATION_GROUP, ORDERER_GROUP, ROOT_GROUP, firstEnvelope } from "./configtx.js";
import { ChannelMspManager, channelMspConfigOf } from "./msp-config.js";
import { type PolicyTree, PolicyError, type SignedData, createPolicyTree } from "./policies.js";

/** The policy a block's orderer signatures must satisfy (Fabric's `policies.BlockValidation`). */
export const BLOCK_VALIDATION_POLICY = `/${ROOT_GROUP}/${ORDERER_GROUP}/BlockValidation`;
/** The policy a channel member's signed message must satisfy (Fabric's `policies.ChannelApplicationReaders`). */
export const APPLICATION_READERS_POLICY = `/${ROOT_GROUP}/${APPLICATION_GROUP}/Readers`;

/**
 * Stable codes of block and channel-message verification:
 * - MALFORMED_BLOCK: no header, or no first envelope with a channel header.
 * - WRONG_SEQUENCE: the block is not the number it was claimed or expected to be.
 * - WRONG_CHANNEL: the block's first envelope names another channel.
 * - BAD_DATA_HASH: header.data_hash is not SHA-256 over the block's data entries.
 * - NO_SIGNATURES: the block has no SIGNATURES metadata, or it holds no signature.
 * - MALFORMED_METADATA: the SIGNATURES metadata or one of its signature headers does not decode.
 * - POLICY_NOT_SATISFIED: the signatures do not satisfy the policy (the cause is the PolicyError, whose
 *   `rejected` and `unsatisfied` say why: a foreign, revoked or unknown signer, a bad signature, ...).
 * - BAD_CONFIG_BLOCK: a config block verified, but its configuration cannot be used (the cause says why).
 * - UNKNOWN_CHANNEL: no configuration is known for the channel.
 * - UNKNOWN_IDENTITY: neither the local MSP nor any joined channel's MSPs validate the identity.
 */
export type ChannelVerifyErrorCode =
  | "MALFORMED_BLOCK"
  | "WRONG_SEQUENCE"
  | "WRONG_CHANNEL"
  | "BAD_DATA_HASH"
  | "NO_SIGNATURES"
  | "MALFORMED_METADATA"
  | "POLICY_NOT_SATISFIED"
  | "BAD_CONFIG_BLOCK"
  | "UNKNOWN_CHANNEL"
  | "UNKNOWN_IDENTITY";

/** A block or a signed message was refused under a channel's configuration; `code` says why. */
export class ChannelVerifyError extends GossipError {
  declare readonly code: ChannelVerifyErrorCode;

  constructor(code: ChannelVerifyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }

  /** The policy failure behind POLICY_NOT_SATISFIED, if that is the cause. */
  get policyError(): PolicyError | undefined {
    return this.cause instanceof PolicyError ? this.cause : undefined;
  }
}

/** What a bundle needs besides the configuration. */
export interface ChannelBundleOptions {
  /** "Now", for certificate expiry. */
  clock: Clock;
  logger?: Logger;
}

/**
 * One configuration of a channel made usable: its MSPs and its compiled policies (Fabric's
 * `channelconfig.Bundle`, the parts a peer's gossip and Deliver client use). Immutable: a config block makes
 * a new bundle.
 */
export interface ChannelBundle {
  readonly channelId: string;
  readonly config: ChannelConfig;
  /** The channel's MSPs: the identity deserializer of its policies. */
  readonly msps: ChannelMspManager;
  readonly policies: PolicyTree;
  /**
   * Fabric's peer `MSPMessageCryptoService.VerifyBlock` under this configuration: a header (with `seqNum`
   * when given), the first envelope names this channel, the SIGNATURES metadata is present, the data hash
   * matches, and the signatures satisfy /Channel/Orderer/BlockValidation. Each signature is over
   * `metadata.value || signature_header || BlockHeaderBytes(header)` by the signature header's creator.
   * Throws ChannelVerifyError.
   */
  verifyBlock(block: Block, seqNum?: bigint): void;
  /**
   * The last step of `verifyBlock` alone: the SIGNATURES metadata satisfies /Channel/Orderer/BlockValidation.
   * For a caller that has made the other checks itself (the peer's MCS hashes the data once). Throws
   * ChannelVerifyError NO_SIGNATURES, MALFORMED_METADATA, POLICY_NOT_SATISFIED.
   */
  verifyBlockSignatures(block: Block): void;
  /**
   * Fabric's `VerifyByChannel`: `signature` over `message` by `identity` (a serialized SerializedIdentity)
   * satisfies /Channel/Application/Readers. Throws ChannelVerifyError POLICY_NOT_SATISFIED.
   */
  verifyByChannel(identity: Uint8Array, signature: Uint8Array, message: Uint8Array): void;
  /** Evaluates the policy at `path` over signed data. Throws ChannelVerifyError POLICY_NOT_SATISFIED. */
  evaluatePolicy(path: string, signedData: readonly SignedData[]): void;
}

/**
 * Builds the bundle of one configuration: a ChannelMspManager of every application and orderer org, and the
 * policy tree over every policy path and every group (a child group without the sub-policy of an implicit
 * meta policy counts, and is never satisfied, as in Fabric).
 * Throws ChannelMspError / CryptoError (an unusable MSP), PolicyError (an unusable policy).
 */
export function createChannelBundle(config: ChannelConfig, options: ChannelBundleOptions): ChannelBundle {
  const orgs = [...config.applicationOrgs, ...config.ordererOrgs];
  const msps = new ChannelMspManager(
    orgs.map((o) => channelMspConfigOf(o.msp)),
    { clock: options.clock, ...(options.logger === undefined ? {} : { logger: options.logger }) },
  );
  // Every group of the tree, so that an implicit meta policy counts each child group (policy paths alone
  // would miss a group without policies).
  const groups: string[] = [];
  const walk = (group: ConfigGroup, path: string): void => {
    groups.push(path);
    for (const name of Object.keys(group.groups)) walk(group.groups[name]!, `${path}/${name}`);
  };
  if (config.config.channelGroup !== undefined) walk(config.config.channelGroup, `/${ROOT_GROUP}`);
  const policies = createPolicyTree({
    deserializer: msps,
    policies: new Map([...config.policies].map(([path, p]) => [path, { type: p.type, value: p.value }])),
    groups,
  });
  return new Bundle(config, msps, policies);
}

class Bundle implements ChannelBundle {
  readonly channelId: string;
  readonly config: ChannelConfig;
  readonly msps: ChannelMspManager;
  readonly policies: PolicyTree;

  constructor(config: ChannelConfig, msps: ChannelMspManager, policies: PolicyTree) {
    this.channelId = config.channelId;
    this.config = config;
    this.msps = msps;
    this.policies = policies;
  }

  verifyBlock(block: Block, seqNum?: bigint): void {
    const header = block.header;
    if (header === undefined) throw new ChannelVerifyError("MALFORMED_BLOCK", `a block on channel ${this.channelId} has no header`);
    const n = header.number;
    if (seqNum !== undefined && seqNum !== n) {
      throw new ChannelVerifyError("WRONG_SEQUENCE", `block claimed as [${seqNum}] on channel ${this.channelId} is block [${n}]`);
    }
    let inBlock: string;
    try {
      inBlock = firstEnvelope(block).channelHeader.channelId;
    } catch (err) {
      throw new ChannelVerifyError("MALFORMED_BLOCK", `block [${n}] on channel ${this.channelId}: ${errorMessage(err)}`, { cause: err });
    }
    if (inBlock !== this.channelId) {
      throw new ChannelVerifyError("WRONG_CHANNEL", `block [${n}] is of channel ${JSON.stringify(inBlock)}, not ${JSON.stringify(this.channelId)}`);
    }
    // Fabric checks the data hash after decoding the metadata and before the signatures.
    const md = this.#signaturesMetadata(block, n);
    if (Buffer.compare(blockDataHash(block.data), header.dataHash) !== 0) {
      throw new ChannelVerifyError("BAD_DATA_HASH", `block [${n}] on channel ${this.channelId}: header.data_hash is not SHA-256 of the block's data`);
    }
    this.#verifySignatures(header, md);
  }

  verifyBlockSignatures(block: Block): void {
    const header = block.header;
    if (header === undefined) throw new ChannelVerifyError("MALFORMED_BLOCK", `a block on channel ${this.channelId} has no header`);
    this.#verifySignatures(header, this.#signaturesMetadata(block, header.number));
  }

  #signaturesMetadata(block: Block, n: bigint): Metadata {
    const raw = block.metadata?.metadata[BlockMetadataIndex.SIGNATURES];
    if (raw === undefined) throw new ChannelVerifyError("NO_SIGNATURES", `block [${n}] on channel ${this.channelId} has no SIGNATURES metadata`);
    try {
      return Metadata.decode(raw);
    } catch (err) {
      throw new ChannelVerifyError("MALFORMED_METADATA", `block [${n}] on channel ${this.channelId}: the SIGNATURES metadata is not a common.Metadata (${errorMessage(err)})`, { cause: err });
    }
  }

  #verifySignatures(header: BlockHeader, md: Metadata): void {
    const n = header.number;
    if (md.signatures.length === 0) {
      throw new ChannelVerifyError("NO_SIGNATURES", `block [${n}] on channel ${this.channelId} carries no signature (${BLOCK_VALIDATION_POLICY} needs the orderer's)`);
    }
    const headerBytes = blockHeaderBytes(header);
    // Fabric v2.5's MetadataSignature has only signature_header and signature (the identifier_header of BFT
    // orderers came with v3): the signer is always the signature header's creator.
    const signedData = md.signatures.map((ms, i): SignedData => {
      let creator: Uint8Array;
      try {
        creator = SignatureHeader.decode(ms.signatureHeader).creator;
      } catch (err) {
        throw new ChannelVerifyError("MALFORMED_METADATA", `block [${n}] on channel ${this.channelId}: signature ${i} has no decodable signature header (${errorMessage(err)})`, { cause: err });
      }
      return { identity: creator, data: concatBytes(md.value, ms.signatureHeader, headerBytes), signature: ms.signature };
    });
    this.#evaluate(BLOCK_VALIDATION_POLICY, signedData, `block [${n}] on channel ${this.channelId}`);
  }

  verifyByChannel(identity: Uint8Array, signature: Uint8Array, message: Uint8Array): void {
    this.#evaluate(APPLICATION_READERS_POLICY, [{ identity, signature, data: message }], `a message on channel ${this.channelId}`);
  }

  evaluatePolicy(path: string, signedData: readonly SignedData[]): void {
    this.#evaluate(path, signedData, `signed data on channel ${this.channelId}`);
  }

  #evaluate(path: string, signedData: readonly SignedData[], what: string): void {
    try {
      this.policies.evaluate(path, signedData);
    } catch (err) {
      if (err instanceof PolicyError) {
        // A meta policy's own message only counts; its sub-policies' reasons say who signed and why it failed.
        const detail = err.unsatisfied.length > 0 ? ` [${err.unsatisfied.join(" | ")}]` : "";
        throw new ChannelVerifyError("POLICY_NOT_SATISFIED", `${what} does not satisfy ${path} (config sequence ${this.config.sequence}): ${err.message}${detail}`, { cause: err });
      }
      throw err;
    }
  }
}
