import { GossipError } from "../../util/index.js";

/** Stable codes of channel failures (raised only at creation, never for remote input). */
export type ChannelErrorCode = "INVALID_OPTIONS" | "SIGN_FAILED";

/** A GossipChannel could not be created; `code` says why. Remote input never raises it. */
export class ChannelError extends GossipError {
  declare readonly code: ChannelErrorCode;

  constructor(code: ChannelErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Why a message from a remote peer was not used by the channel: the label of
 * `fabric_gossip_channel_rejected_total` and the key of the rate-limited warning.
 */
export type ChannelRejectReason =
  /** The connection has no PKI-ID. */
  | "NO_PKI_ID"
  /** A StateInfo or StateInfoPullRequest whose MAC is not MAC(pki_id, channel). */
  | "WRONG_MAC"
  /** A message whose `channel` field is not this channel. */
  | "WRONG_CHANNEL"
  /** A message whose tag is not channel-restricted. */
  | "NOT_CHANNEL_RESTRICTED"
  /** The sender's org is unknown. */
  | "UNKNOWN_ORG"
  /** The sender's org is not in the channel. */
  | "ORG_NOT_IN_CHANNEL"
  /** A block without payload. */
  | "EMPTY_PAYLOAD"
  /** A block that cannot be decoded or that the MCS rejects. */
  | "BAD_BLOCK"
  /** A StateInfo snapshot with an element that fails a check (the rest of the snapshot is dropped). */
  | "BAD_SNAPSHOT"
  /** A block pull message after we left the channel. */
  | "LEFT_CHANNEL"
  /** A block pull message from a peer whose StateInfo we do not hold. */
  | "NO_STATE_INFO"
  /** A block pull message from a peer not in our org or not eligible for the channel. */
  | "NOT_ELIGIBLE"
  /** A DataUpdate with a bad item (undecodable, foreign channel, not a block, or failing verification). */
  | "BAD_UPDATE"
  /** A leadership message sent or created by a peer of another org. */
  | "FOREIGN_LEADERSHIP"
  /** A newer StateInfo the cache refused: unknown identity, org not in the channel, not a reader, or a bad signature. */
  | "BAD_STATE_INFO";
