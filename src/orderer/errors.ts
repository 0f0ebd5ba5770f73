import { GossipError } from "../util/index.js";

/**
 * An ordering service operation failed. Codes:
 * - CONFIG: invalid options (batch size, duplicate channel, ...), or a genesis block that cannot make a channel
 *   (not block 0, not a config block, an unusable MSP or policy), or a chain whose block 0 is another block.
 * - ORDERER_ORG: the orderer's MSP is not one of the channel's orderer orgs, or its signature would not
 *   satisfy the channel's /Channel/Orderer/BlockValidation.
 * - BAD_REQUEST: a malformed envelope or SeekInfo, or a config transaction (this orderer takes no config updates).
 * - FORBIDDEN: the request does not satisfy the channel's /Channel/Readers (Deliver) or /Channel/Writers
 *   (Broadcast) policy: a bad signature, an identity of an org outside the channel, revoked or expired.
 * - NOT_FOUND: unknown channel, or a block not yet there with FAIL_IF_NOT_READY.
 * - SERVICE_UNAVAILABLE: the orderer is stopped or its channel failed to write a block.
 * - RPC_FAILED: a client call failed (connection, deadline, stream ended early).
 */
export class OrdererError extends GossipError {}
