import { type GossipMessage, GossipMessage_Tag, PullMsgType } from "../protos/gen/gossip/message.pb.js";

/** The `GossipMessage.content` oneof, present. */
export type GossipContent = NonNullable<GossipMessage["content"]>;
/** The name of a content case, e.g. "aliveMsg". */
export type GossipContentCase = GossipContent["$case"];
/** A GossipMessage whose content is known to be of case `C` (what the predicates narrow to). */
export type GossipMessageOf<C extends GossipContentCase> = GossipMessage & { content: Extract<GossipContent, { $case: C }> };

function is<C extends GossipContentCase>(m: GossipMessage, c: C): m is GossipMessageOf<C> {
  return m.content?.$case === c;
}

/** Fabric's `protoext.IsAliveMsg`. */
export function isAliveMsg(m: GossipMessage): m is GossipMessageOf<"aliveMsg"> {
  return is(m, "aliveMsg");
}

/** A membership request (`mem_req`). */
export function isMembershipRequest(m: GossipMessage): m is GossipMessageOf<"memReq"> {
  return is(m, "memReq");
}

/** A membership response (`mem_res`). */
export function isMembershipResponse(m: GossipMessage): m is GossipMessageOf<"memRes"> {
  return is(m, "memRes");
}

/** Fabric's `protoext.IsDataMsg`: a block. */
export function isDataMsg(m: GossipMessage): m is GossipMessageOf<"dataMsg"> {
  return is(m, "dataMsg");
}

/** Fabric's `protoext.IsHelloMsg`. */
export function isHelloMsg(m: GossipMessage): m is GossipMessageOf<"hello"> {
  return is(m, "hello");
}

/** Fabric's `protoext.IsDigestMsg`. */
export function isDigestMsg(m: GossipMessage): m is GossipMessageOf<"dataDig"> {
  return is(m, "dataDig");
}

/** Fabric's `protoext.IsDataReq`. */
export function isDataReq(m: GossipMessage): m is GossipMessageOf<"dataReq"> {
  return is(m, "dataReq");
}

/** Fabric's `protoext.IsDataUpdate`. */
export function isDataUpdate(m: GossipMessage): m is GossipMessageOf<"dataUpdate"> {
  return is(m, "dataUpdate");
}

/** Fabric's `protoext.IsPullMsg`: hello, digest, request or update. */
export function isPullMsg(m: GossipMessage): m is GossipMessageOf<"hello" | "dataDig" | "dataReq" | "dataUpdate"> {
  const c = m.content?.$case;
  return c === "hello" || c === "dataDig" || c === "dataReq" || c === "dataUpdate";
}

/** Fabric's `protoext.GetPullMsgType`: the pull message's type, or UNDEFINED for other messages. */
export function getPullMsgType(m: GossipMessage): PullMsgType {
  switch (m.content?.$case) {
    case "hello":
    case "dataDig":
    case "dataReq":
    case "dataUpdate":
      return m.content.value.msgType;
    default:
      return PullMsgType.UNDEFINED;
  }
}

/** An empty message (`empty`): only Ping's argument; never gossip content in production. */
export function isEmptyMsg(m: GossipMessage): m is GossipMessageOf<"empty"> {
  return is(m, "empty");
}

/** A handshake message (`conn`). */
export function isConnEstablish(m: GossipMessage): m is GossipMessageOf<"conn"> {
  return is(m, "conn");
}

/** Fabric's `protoext.IsStateInfoMsg`. */
export function isStateInfoMsg(m: GossipMessage): m is GossipMessageOf<"stateInfo"> {
  return is(m, "stateInfo");
}

/** Fabric's `protoext.IsStateInfoSnapshot`. */
export function isStateInfoSnapshot(m: GossipMessage): m is GossipMessageOf<"stateSnapshot"> {
  return is(m, "stateSnapshot");
}

/** Fabric's `protoext.IsStateInfoPullRequestMsg`. */
export function isStateInfoPullRequestMsg(m: GossipMessage): m is GossipMessageOf<"stateInfoPullReq"> {
  return is(m, "stateInfoPullReq");
}

/** Fabric's `protoext.IsRemoteStateMessage`: a state transfer request or response. */
export function isRemoteStateMessage(m: GossipMessage): m is GossipMessageOf<"stateRequest" | "stateResponse"> {
  const c = m.content?.$case;
  return c === "stateRequest" || c === "stateResponse";
}

/** Fabric's `protoext.IsLeadershipMsg`. */
export function isLeadershipMsg(m: GossipMessage): m is GossipMessageOf<"leadershipMsg"> {
  return is(m, "leadershipMsg");
}

/** Fabric's `protoext.IsIdentityMsg` (`peer_identity`). */
export function isIdentityMsg(m: GossipMessage): m is GossipMessageOf<"peerIdentity"> {
  return is(m, "peerIdentity");
}

/** Fabric's `protoext.IsAck`. */
export function isAck(m: GossipMessage): m is GossipMessageOf<"ack"> {
  return is(m, "ack");
}

/** A private data pull request (`privateReq`). */
export function isPrivateDataRequest(m: GossipMessage): m is GossipMessageOf<"privateReq"> {
  return is(m, "privateReq");
}

/** A private data pull response (`privateRes`). */
export function isPrivateDataResponse(m: GossipMessage): m is GossipMessageOf<"privateRes"> {
  return is(m, "privateRes");
}

/** A private data push at endorsement (`private_data`). */
export function isPrivateDataPush(m: GossipMessage): m is GossipMessageOf<"privateData"> {
  return is(m, "privateData");
}

/** Fabric's `protoext.IsPrivateDataMsg`: a private data request, response or push. */
export function isPrivateDataMsg(m: GossipMessage): m is GossipMessageOf<"privateReq" | "privateRes" | "privateData"> {
  const c = m.content?.$case;
  return c === "privateReq" || c === "privateRes" || c === "privateData";
}

/** Fabric's `protoext.IsChannelRestricted`: CHAN_AND_ORG, CHAN_ONLY or CHAN_OR_ORG. */
export function isChannelRestricted(m: GossipMessage): boolean {
  return m.tag === GossipMessage_Tag.CHAN_AND_ORG || m.tag === GossipMessage_Tag.CHAN_ONLY || m.tag === GossipMessage_Tag.CHAN_OR_ORG;
}

/** Fabric's `protoext.IsOrgRestricted`: CHAN_AND_ORG or ORG_ONLY. */
export function isOrgRestricted(m: GossipMessage): boolean {
  return m.tag === GossipMessage_Tag.CHAN_AND_ORG || m.tag === GossipMessage_Tag.ORG_ONLY;
}

/** The name of a tag value as Fabric prints it ("CHAN_AND_ORG"), or the number when unknown. */
export function tagName(tag: GossipMessage_Tag): string {
  return GossipMessage_Tag[tag] ?? String(tag);
}

function requireTag(m: GossipMessage, tag: GossipMessage_Tag): string | undefined {
  return m.tag === tag ? undefined : `Tag should be ${tagName(tag)}`;
}

/**
 * Fabric's `protoext.IsTagLegal`: whether the tag is the one the message's type requires
 * (FABRIC-REFERENCE §2.2). Returns undefined when legal, else the reason, worded as Fabric's error.
 * Like Fabric, an UNDEFINED tag is refused before the type is looked at, and types with no rule
 * (conn, empty, ack, private data, no content) are "Unknown message type": those never reach this check.
 */
export function checkTagLegal(m: GossipMessage): string | undefined {
  if (m.tag === GossipMessage_Tag.UNDEFINED) return "Undefined tag";
  switch (m.content?.$case) {
    case "dataMsg":
    case "leadershipMsg":
      return requireTag(m, GossipMessage_Tag.CHAN_AND_ORG);
    case "aliveMsg":
    case "memReq":
    case "memRes":
      return requireTag(m, GossipMessage_Tag.EMPTY);
    case "peerIdentity":
      return requireTag(m, GossipMessage_Tag.ORG_ONLY);
    case "hello":
    case "dataDig":
    case "dataReq":
    case "dataUpdate": {
      const type = m.content.value.msgType;
      if (type === PullMsgType.BLOCK_MSG) return requireTag(m, GossipMessage_Tag.CHAN_AND_ORG);
      if (type === PullMsgType.IDENTITY_MSG) return requireTag(m, GossipMessage_Tag.EMPTY);
      return `Invalid PullMsgType: ${PullMsgType[type] ?? String(type)}`;
    }
    case "stateInfo":
    case "stateInfoPullReq":
    case "stateSnapshot":
    case "stateRequest":
    case "stateResponse":
      return requireTag(m, GossipMessage_Tag.CHAN_OR_ORG);
    default:
      return `Unknown message type: ${m.content?.$case ?? "no content"}`;
  }
}
