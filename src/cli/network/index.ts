export { NetworkError, type NetworkErrorCode } from "./errors.js";
export {
  LocalNetwork,
  type LocalNetworkOptions,
  type NetworkPeer,
  type NetworkOrderer,
  type NetworkEvent,
  type PeerStatus,
  type FeedOptions,
  type ProcessState,
  LOCAL_NETWORK_PEER_ENV,
  DEFAULT_ORGS,
  DEFAULT_PEERS_PER_ORG,
  DEFAULT_CHANNEL,
  DEFAULT_READY_TIMEOUT_MS,
} from "./local-network.js";
export {
  planNetwork,
  genesisBlockOfPlan,
  orgTlsCaFile,
  tlsCaFiles,
  LOCAL_HOST,
  type GenesisPlan,
  type NetworkPlan,
  type NetworkPlanOptions,
  type PeerPlan,
  type OrdererPlan,
} from "./plan.js";
export { writeClientUser, writeClientUsers } from "./users.js";
export { freePorts, consecutivePorts } from "./ports.js";
export { TxFeeder, type TxFeederOptions, type FeederStats } from "./feeder.js";
export { CommitLatency, percentile, summarize, type LatencySummary } from "./latency.js";
export { RateMeter, RATE_WINDOW_MS } from "./rate.js";
export { renderView, LiveView, type ViewModel, type PeerRow, type ViewOutput } from "./view.js";
export { fetchChannelStatus, parseChannel as parseChannelStatus } from "./admin-client.js";
export { durationFlag, nonNegativeIntFlag, positiveIntFlag, positiveNumberFlag, repeatableFlag } from "./flags.js";
export { type NetworkStreamOptions, runNetworkStream } from "./stream.js";
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
