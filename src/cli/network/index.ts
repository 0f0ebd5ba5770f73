export {
  type AdminAnswer,
  type AdminEndpoint,
  type AdminTlsFlags,
  addAdminTlsOptions,
  adminEndpointOf,
  adminGetJson,
  adminRequest,
  fetchChannelStatus,
  parseChannel as parseChannelStatus,
} from "./admin-client.js";
export { NetworkError, type NetworkErrorCode } from "./errors.js";
export { type FeederStats, TxFeeder, type TxFeederOptions } from "./feeder.js";
export {
  COLL_BOTH,
  COLL_BOTH_BLOCK_TO_LIVE,
  COLL_ORG1,
  FEED_CHAINCODE,
  type PrivateDataDistributor,
  type PrivateDataLayout,
  type PrivateDataTxSourceOptions,
  type PrivateDataTxStats,
  PVT_CHAINCODE,
  postPrivateData,
  privateDataTxSource,
  publicTxSource,
  pvtCollections,
  type TxSource,
  type TxSourceOptions,
} from "./feeder-sources.js";
export { NetworkDashboard, type NetworkDashboardSource } from "./dashboard.js";
export { durationFlag, hostPortFlag, nonNegativeIntFlag, positiveIntFlag, positiveNumberFlag, repeatableFlag } from "./flags.js";
export { CommitLatency, type LatencySummary, percentile, summarize } from "./latency.js";
export {
  DEFAULT_CHANNEL,
  DEFAULT_ORGS,
  DEFAULT_PEERS_PER_ORG,
  DEFAULT_READY_TIMEOUT_MS,
  type FeedOptions,
  LOCAL_NETWORK_PEER_ENV,
  LocalNetwork,
  type LocalNetworkOptions,
  logFileName,
  type NetworkEvent,
  type NetworkOrderer,
  type NetworkPeer,
  type PeerStatus,
  type ProcessState,
} from "./local-network.js";
export {
  type GenesisPlan,
  genesisBlockOfPlan,
  LOCAL_HOST,
  type NetworkPlan,
  type NetworkPlanOptions,
  type OrdererPlan,
  orgTlsCaFile,
  type PeerPlan,
  planNetwork,
  tlsCaFiles,
} from "./plan.js";
export { consecutivePorts, freePorts } from "./ports.js";
export { RATE_WINDOW_MS, RateMeter } from "./rate.js";
export { type NetworkStreamOptions, runNetworkStream } from "./stream.js";
export {
  DEFAULT_SUBMIT_RATE,
  DEFAULT_SUBMIT_TIMEOUT_MS,
  DEFAULT_SUBMIT_TX_SIZE,
  submitTransactions,
  type TxSubmitOptions,
  type TxSubmitResult,
} from "./submit.js";
export {
  DEFAULT_BATCH_SIZE,
  DEFAULT_BATCH_TIMEOUT,
  DEFAULT_PHASE_TIMEOUT_MS,
  DEFAULT_TX_RATE,
  DEFAULT_TX_SIZE,
  type NetworkUpIo,
  type NetworkUpOptions,
  type NetworkUpResult,
  type PeerResult,
  runNetworkUp,
} from "./up.js";
export { clientUsers } from "./users.js";
export { foldLine, LiveView, type PeerRow, renderView, type ViewModel, type ViewOutput } from "./view.js";
