import { GossipError } from "../util/index.js";

/**
 * An ordering service operation failed. Codes:
 * - CONFIG: invalid options (batch size, duplicate channel, ...).
 * - BAD_REQUEST: a malformed envelope or SeekInfo.
 * - FORBIDDEN: the requester's signature or identity does not pass, or its org is not a channel member.
 * - NOT_FOUND: unknown channel, or a block not yet there with FAIL_IF_NOT_READY.
 * - SERVICE_UNAVAILABLE: the orderer is stopped or its channel failed to write a block.
 * - RPC_FAILED: a client call failed (connection, deadline, stream ended early).
 */
export class OrdererError extends GossipError {}
