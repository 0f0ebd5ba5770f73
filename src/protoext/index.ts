export { replacePkiId, SignedGossipMessage } from "./signed-message.js";
export type { AuthInfo, ConnectionInfo, ReceivedMessage } from "./received-message.js";
export { MessageError } from "./errors.js";
export type { GossipContent, GossipContentCase, GossipMessageOf } from "./message-kinds.js";
export {
  checkTagLegal,
  getPullMsgType,
  isAck,
  isAliveMsg,
  isChannelRestricted,
  isConnEstablish,
  isDataMsg,
  isDataReq,
  isDataUpdate,
  isDigestMsg,
  isEmptyMsg,
  isHelloMsg,
  isIdentityMsg,
  isLeadershipMsg,
  isMembershipRequest,
  isMembershipResponse,
  isOrgRestricted,
  isPrivateDataMsg,
  isPrivateDataPush,
  isPrivateDataRequest,
  isPrivateDataResponse,
  isPullMsg,
  isRemoteStateMessage,
  isStateInfoMsg,
  isStateInfoPullRequestMsg,
  isStateInfoSnapshot,
  tagName,
} from "./message-kinds.js";
export { ZERO_PEER_TIME, comparePeerTime, peerTimeBefore, peerTimeEqual } from "./peer-time.js";
export { InvalidationResult, alivePartition, createGossipMessageComparator, gossipMessagePartition } from "./comparator.js";
export type { MessageReplacingPolicy } from "./comparator.js";
export { DEFAULT_MAX_MESSAGE_SIZE_BYTES, checkSize, resolveMaxMessageSize } from "./size-limits.js";
export { blockDigest, digestKey, parseBlockDigest } from "./digests.js";
export { peekAlivePkiId, peekStateInfoPkiId } from "./peek.js";
