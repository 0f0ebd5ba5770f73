export { AdminServer, type AdminServerOptions, splitHostPort } from "./admin-server.js";
export type { MembershipView, PeerView, ChannelPeerView, ChannelStatusView } from "./membership-view.js";
export {
  ChannelDefinitionError,
  type ChannelDefinitionErrorCode,
  type ChannelDefinition,
  type ChannelOrdererDefinition,
  type ChannelOrgDefinition,
  ChannelRegistry,
  joinMessageOf,
  loadChannelDefinition,
  loadChannelMspOrgs,
  parseChannelDefinition,
  validateChannelDefinition,
} from "./channel-definition.js";
export {
  GossipService,
  GossipServiceError,
  type GossipServiceErrorCode,
  type GossipServiceComponents,
  type GossipServiceOptions,
  type InitializeChannelOptions,
  blockStoreLedger,
  createGossipService,
} from "./gossip-service.js";
export { gossipServiceOptionsOf } from "./service-options.js";
export { gossipNodeOptionsOf, staticJoinMessage, PeerNode, PeerNodeError, type PeerNodeComponents, type PeerNodeOptions } from "./peer-node.js";
