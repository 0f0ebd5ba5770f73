import { GossipError } from "../util/index.js";

/**
 * Stable codes of channel configuration failures. Each names what is malformed; the message adds where
 * (the block number, the config path such as /Channel/Application/Org1MSP/MSP) and why.
 */
export type ChannelConfigErrorCode =
  /** The bytes are not a common.Block, or it has no header or no data. */
  | "MALFORMED_BLOCK"
  /** A block's first data entry is not an Envelope with a Payload and a ChannelHeader. */
  | "MALFORMED_ENVELOPE"
  /** A config block was expected, and the block's first envelope is not of type CONFIG. */
  | "NOT_CONFIG_BLOCK"
  /** The payload data is not a ConfigEnvelope, or its Config has no channel_group. */
  | "MALFORMED_CONFIG"
  /** A config value (AnchorPeers, Endpoints, Capabilities, ...) does not decode as its message. */
  | "MALFORMED_VALUE"
  /** A ConfigPolicy has no policy, or its ImplicitMetaPolicy does not decode. */
  | "MALFORMED_POLICY"
  /** An org's MSP value: not an MSPConfig, not a FabricMSPConfig, a certificate or CRL that is not PEM/DER. */
  | "MALFORMED_MSP"
  /** Block metadata (SIGNATURES, LAST_CONFIG) is missing or does not decode. */
  | "MALFORMED_METADATA"
  /** A uint64 (block number, sequence, index) beyond what a JavaScript number holds exactly. */
  | "NUMBER_TOO_LARGE"
  /** A genesis block cannot be made of these inputs (no org, a bad channel name, endpoint or batch setting). */
  | "INVALID_GENESIS";

/** The channel configuration or a block could not be read; `code` says what is malformed. */
export class ChannelConfigError extends GossipError {
  declare readonly code: ChannelConfigErrorCode;

  constructor(code: ChannelConfigErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
