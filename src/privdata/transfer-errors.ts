import { GossipError } from "../util/index.js";

/**
 * What moving private data between peers (distribution, push receipt, pull) could not do. Codes:
 * - NO_COLLECTION_CONFIG: a write set names a namespace or collection whose config the message or the
 *   collection store does not hold (Fabric: "collection config package for <ns> chaincode is not provided",
 *   "no configuration for collection <c> found").
 * - BAD_COLLECTION_CONFIG: the config is there but cannot be used (not static, no member orgs policy, the
 *   policy does not compile with the channel's MSPs).
 * - NOT_ENOUGH_PEERS: fewer eligible peers than the collection's requiredPeerCount (Fabric: "required to
 *   disseminate to at least N peers, but know of only M eligible peers").
 * - DISSEMINATION_FAILED: some sends of a dissemination plan failed (Fabric: "Failed disseminating N out of
 *   M private dissemination plans").
 * - MALFORMED: a received message lacks what it must carry (payload, tx ID, write set, namespace).
 * - UNAUTHORIZED: the sender's handshake does not satisfy the channel's Readers policy, or it is not a member
 *   of the channel.
 * - NOT_ELIGIBLE: our own peer may not hold the collection's data.
 * - STORE_FAILED: the transient store refused the data.
 * - BUSY: too many received messages are being handled; this one was refused.
 * - STOPPED: the component was stopped.
 */
export type PvtTransferErrorCode =
  | "NO_COLLECTION_CONFIG"
  | "BAD_COLLECTION_CONFIG"
  | "NOT_ENOUGH_PEERS"
  | "DISSEMINATION_FAILED"
  | "MALFORMED"
  | "UNAUTHORIZED"
  | "NOT_ELIGIBLE"
  | "STORE_FAILED"
  | "BUSY"
  | "STOPPED";

export class PvtTransferError extends GossipError {
  declare readonly code: PvtTransferErrorCode;

  constructor(code: PvtTransferErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
