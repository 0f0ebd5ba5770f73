import { deserializeIdentity } from "../crypto/index.js";
import {
  type Block,
  BlockMetadataIndex,
  LastConfig,
  Metadata,
  OrdererBlockMetadata,
  SignatureHeader,
} from "../protos/gen/common/common.pb.js";
import { ChannelConfigError } from "./errors.js";
import { errorMessage } from "../util/index.js";

/**
 * Fabric's `protoutil.GetMetadataFromBlock`: the Metadata message at `index` of block.metadata. An entry of
 * empty bytes decodes to an empty Metadata (proto3), which is how orderers leave unused entries.
 * @throws ChannelConfigError MALFORMED_METADATA (no entry at that index, or not a Metadata)
 */
export function metadataAt(block: Block, index: BlockMetadataIndex): Metadata {
  const n = block.header?.number ?? 0n;
  const entries = block.metadata?.metadata ?? [];
  const raw = entries[index];
  if (raw === undefined) {
    throw new ChannelConfigError("MALFORMED_METADATA", `block [${n}] has ${entries.length} metadata entries, none at index ${BlockMetadataIndex[index]} (${index})`);
  }
  try {
    return Metadata.decode(raw);
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_METADATA", `block [${n}]: metadata ${BlockMetadataIndex[index]} is not a common.Metadata (${errorMessage(err)})`, { cause: err });
  }
}

/** The two places a block names its last config block; undefined where that metadata is absent. */
export interface LastConfigIndices {
  /** SIGNATURES metadata's value, an OrdererBlockMetadata (Fabric v2 orderers). */
  readonly signatures: bigint | undefined;
  /** The deprecated LAST_CONFIG metadata's value, a LastConfig (still written by v2.5 orderers). */
  readonly lastConfig: bigint | undefined;
}

/**
 * Both recorded last config indices. Empty bytes anywhere on the way (the entry, its value, the LastConfig)
 * mean index 0, as proto3 encodes it.
 * @throws ChannelConfigError MALFORMED_METADATA when a present value does not decode
 */
export function lastConfigIndices(block: Block): LastConfigIndices {
  const n = block.header?.number ?? 0n;
  const entries = block.metadata?.metadata ?? [];
  let signatures: bigint | undefined;
  if (entries.length > BlockMetadataIndex.SIGNATURES) {
    const value = metadataAt(block, BlockMetadataIndex.SIGNATURES).value;
    if (value.length > 0) {
      let obm: OrdererBlockMetadata;
      try {
        obm = OrdererBlockMetadata.decode(value);
      } catch (err) {
        throw new ChannelConfigError("MALFORMED_METADATA", `block [${n}]: the SIGNATURES metadata value is not an OrdererBlockMetadata (${errorMessage(err)})`, { cause: err });
      }
      signatures = obm.lastConfig?.index ?? 0n;
    }
  }
  let lastConfig: bigint | undefined;
  if (entries.length > BlockMetadataIndex.LAST_CONFIG) {
    const value = metadataAt(block, BlockMetadataIndex.LAST_CONFIG).value;
    try {
      lastConfig = LastConfig.decode(value).index;
    } catch (err) {
      throw new ChannelConfigError("MALFORMED_METADATA", `block [${n}]: the LAST_CONFIG metadata value is not a LastConfig (${errorMessage(err)})`, { cause: err });
    }
  }
  return { signatures, lastConfig };
}

/**
 * Fabric's `protoutil.GetLastConfigIndexFromBlock`: the OrdererBlockMetadata in the SIGNATURES metadata when its
 * value is not empty, else (blocks of orderers older than v1.4.1) the LAST_CONFIG metadata.
 * @throws ChannelConfigError MALFORMED_METADATA
 */
export function lastConfigIndex(block: Block): bigint {
  const n = block.header?.number ?? 0n;
  const sigValue = metadataAt(block, BlockMetadataIndex.SIGNATURES).value;
  if (sigValue.length > 0) {
    const { signatures } = lastConfigIndices(block);
    return signatures ?? 0n;
  }
  const { lastConfig } = lastConfigIndices(block);
  if (lastConfig === undefined) throw new ChannelConfigError("MALFORMED_METADATA", `block [${n}] has neither an OrdererBlockMetadata nor a LAST_CONFIG metadata`);
  return lastConfig;
}

/** One signature of the SIGNATURES metadata, with its signer decoded. */
export interface BlockSignature {
  /** MSP ID of the signature header's creator. */
  readonly mspId: string;
  /** The creator: a serialized msp.SerializedIdentity. */
  readonly creator: Uint8Array;
  readonly signatureHeader: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * The signatures of a block's SIGNATURES metadata and who made them (no verification: the MCS verifies).
 * A block without a SIGNATURES entry (as some genesis blocks) has none.
 * @throws ChannelConfigError MALFORMED_METADATA when a signature header or its creator does not decode
 */
export function blockSignatures(block: Block): BlockSignature[] {
  const n = block.header?.number ?? 0n;
  if ((block.metadata?.metadata.length ?? 0) <= BlockMetadataIndex.SIGNATURES) return [];
  return metadataAt(block, BlockMetadataIndex.SIGNATURES).signatures.map((s, i) => {
    try {
      const creator = SignatureHeader.decode(s.signatureHeader).creator;
      return { mspId: deserializeIdentity(creator).mspId, creator, signatureHeader: s.signatureHeader, signature: s.signature };
    } catch (err) {
      throw new ChannelConfigError("MALFORMED_METADATA", `block [${n}]: signature ${i} of the SIGNATURES metadata has no decodable signature header and creator (${errorMessage(err)})`, { cause: err });
    }
  });
}
