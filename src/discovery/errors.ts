import { GossipError } from "../util/index.js";

/** Stable codes of discovery failures. */
export type DiscoveryErrorCode = "BAD_SELF_ENDPOINT" | "STOPPED";

/** A discovery failure raised to the host (bad configuration, use after stop). */
export class DiscoveryError extends GossipError {
  declare readonly code: DiscoveryErrorCode;

  constructor(code: DiscoveryErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Why a received discovery message was not used. A reject is a message that is malformed or not
 * authentic; an ignore is a valid message that brings nothing new.
 */
export type DiscoveryRejectReason =
  | "WRONG_TYPE"
  | "MALFORMED"
  | "MISSING_SELF_INFORMATION"
  | "NOT_ALIVE_MESSAGE"
  | "STALE"
  | "INVALID_SIGNATURE";

/**
 * Why a valid membership entry, or a new member, was ignored: a limit against members that lie about
 * the membership (none of them is in Fabric).
 * - RESPONSE_LIMIT: beyond maxMembersPerResponse entries of one response.
 * - SENDER_BUDGET: beyond maxMemberEntriesPerSenderPerInterval entries verified from one sender.
 * - ORG_QUOTA: beyond maxNewMembersPerOrgPerInterval new members of one org.
 * - MEMBER_LIMIT: maxKnownMembersPerOrg or maxKnownMembers reached with no second-hand dead member to replace.
 * - FORGOTTEN: a dead entry about a member forgotten less than the alive message TTL ago.
 */
export type DiscoveryLimitReason = "RESPONSE_LIMIT" | "SENDER_BUDGET" | "ORG_QUOTA" | "MEMBER_LIMIT" | "FORGOTTEN";
