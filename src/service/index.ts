export { AdminServer, AdminServerError, type AdminServerOptions, type AdminTlsOptions, exposureWarningOf, isLoopback, splitHostPort } from "./admin-server.js";
export type { MembershipView, PeerView, ChannelPeerView, ChannelStatusView, DuplicateIdentityView } from "./membership-view.js";
export {
  ChannelDefinitionError,
  type ChannelDefinitionErrorCode,
  type ChannelDefinition,
  type ChannelOrdererDefinition,
  type ChannelOrgDefinition,
  ChannelRegistry,
  joinMessageOf,
  mspMaterialsOf,
  loadChannelDefinition,
  parseChannelDefinition,
  validateChannelDefinition,
} from "./channel-definition.js";
export {
  type GossipService,
  GossipServiceError,
  type GossipServiceErrorCode,
  type GossipServiceComponents,
  type GossipServiceOptions,
  type InitializeChannelOptions,
  type ServiceNodeOptions,
  createGossipService,
} from "./gossip-service.js";
export { gossipServiceOptionsOf } from "./service-options.js";
export { gossipNodeOptionsOf, staticJoinMessage, PeerNode, PeerNodeError, type PeerNodeComponents, type PeerNodeOptions } from "./peer-node.js";
export { loadPeerCrypto, oneOrgAdvisor, PeerCryptoError, type PeerCrypto, type PeerCryptoArgs } from "./peer-crypto.js";
export {
  configuredOperationsTls,
  configuredTls,
  peerFromConfig,
  PeerSetupError,
  type PeerSetupErrorCode,
  type PeerCryptoChoice,
  type PeerFromConfig,
  type PeerFromConfigComponents,
  type PeerFromConfigOptions,
} from "./peer-from-config.js";
export { type ChannelLedger, type LedgerProvider, blockStoreLedgers, stateLedgerOf, blockHashAt } from "./ledger.js";
export { type CommittedBlock, type Peer, PeerError, type PeerErrorCode, type StartPeerOptions, startPeer } from "./peer.js";
export { EventLog, type EventLogView, type RecordedEvent, DEFAULT_EVENT_LOG_CAPACITY } from "./event-log.js";
export { type ChannelJoinBlock, channelDefinitionOf, channelJoinBlockOf, checkJoinBlock, loadChannelJoinBlock, storedChannelBlocks } from "./channel-block.js";
export {
  createPvtDataViews,
  type PvtCollectionSummary,
  type PvtCollectionView,
  type PvtDataSummary,
  type PvtDataView,
  type PvtDataViews,
  type PvtEntryStatus,
  type PvtTxView,
  PvtViewError,
  type PvtViewErrorCode,
  type PvtWriteView,
} from "./pvtdata-view.js";
export { dashboardPage } from "./dashboard-page.js";
export {
  type DashboardLatency,
  type DashboardNode,
  type DashboardSnapshot,
  DASHBOARD_RECENT_EVENTS,
  latencyOf,
  type PeerDashboardSource,
  peerDashboardSnapshot,
} from "./dashboard-snapshot.js";
export { DASHBOARD_INTERVAL_MS, DASHBOARD_MAX_BUFFERED_BYTES, DASHBOARD_MAX_CLIENTS, DashboardEndpoint, type DashboardEndpointOptions } from "./dashboard-stream.js";
