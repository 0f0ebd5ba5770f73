/**
 * The `peer.gossip.*` configuration of a peer: Fabric's keys, Fabric's code defaults, Fabric's
 * quirks, loaded from layers (defaults <- core.yaml <- CORE_PEER_GOSSIP_* environment <- overrides)
 * and validated once. Components receive plain data with `...Ms` durations and trust it.
 *
 * Fabric counterparts: gossip/gossip/config.go, gossip/service/config.go, gossip/state/config.go,
 * gossip/privdata/config.go (v2.5.16), each a `GlobalConfig()` reading viper.
 */
import { DEFAULT_COMM_OPTIONS, DEFAULT_SOCKET_LIMITS } from "../comm/index.js";
import { type ConfigNote, type ConfigProblem, type ConfigSource, ConfigError } from "./errors.js";
import { formatDurationMs } from "./duration.js";
import { checkHostPort } from "./endpoint.js";
import {
  GOSSIP_ENV_PREFIX,
  GOSSIP_PREFIX,
  type GossipKeySpec,
  closestPath,
  fullKey,
  gossipEnvName,
  isSection,
  keySpecOf,
  keySpecOfEnv,
} from "./gossip-keys.js";
import { type RawEntry as LayerRawEntry, type Resolved as LayerResolved, addEntry, givenOverrides, resolveLayers, setVariables } from "./layers.js";
import {
  type ParsedValue,
  deepFreeze,
  isPlainObject,
  parseBoolValue,
  parseDurationValue,
  parseEndpointValue,
  show,
  timerLimitProblem,
} from "./values.js";

export { MAX_TIMER_MS } from "./values.js";

// ---------------------------------------------------------------------------------------------
// Fabric's code defaults (what an absent key gives). Where sampleconfig/core.yaml says otherwise,
// the yaml value is noted.

/** peer.gossip.membershipTrackerInterval */
export const DEF_MEMBERSHIP_TRACKER_INTERVAL_MS = 5_000;
/** peer.gossip.maxBlockCountToStore (v1.4: 100) */
export const DEF_MAX_BLOCK_COUNT_TO_STORE = 10;
/** peer.gossip.maxPropagationBurstLatency */
export const DEF_MAX_PROPAGATION_BURST_LATENCY_MS = 10;
/** peer.gossip.maxPropagationBurstSize */
export const DEF_MAX_PROPAGATION_BURST_SIZE = 10;
/** peer.gossip.propagateIterations */
export const DEF_PROPAGATE_ITERATIONS = 1;
/** peer.gossip.propagatePeerNum */
export const DEF_PROPAGATE_PEER_NUM = 3;
/** peer.gossip.pullInterval */
export const DEF_PULL_INTERVAL_MS = 4_000;
/** peer.gossip.pullPeerNum */
export const DEF_PULL_PEER_NUM = 3;
/** peer.gossip.requestStateInfoInterval */
export const DEF_REQUEST_STATE_INFO_INTERVAL_MS = 4_000;
/** peer.gossip.publishStateInfoInterval */
export const DEF_PUBLISH_STATE_INFO_INTERVAL_MS = 4_000;
/** peer.gossip.publishCertPeriod */
export const DEF_PUBLISH_CERT_PERIOD_MS = 10_000;
/** peer.gossip.dialTimeout (comm.DefDialTimeout) */
export const DEF_DIAL_TIMEOUT_MS = 3_000;
/** peer.gossip.connTimeout (comm.DefConnTimeout) */
export const DEF_CONN_TIMEOUT_MS = 2_000;
/** peer.gossip.recvBuffSize (comm.DefRecvBuffSize) */
export const DEF_RECV_BUFF_SIZE = 20;
/** peer.gossip.sendBuffSize (comm.DefSendBuffSize). core.yaml says 200; an absent key gives 20. */
export const DEF_SEND_BUFF_SIZE = 20;
/** peer.gossip.digestWaitTime (algo.DefDigestWaitTime) */
export const DEF_DIGEST_WAIT_TIME_MS = 1_000;
/** peer.gossip.requestWaitTime (algo.DefRequestWaitTime) */
export const DEF_REQUEST_WAIT_TIME_MS = 1_500;
/** peer.gossip.responseWaitTime (algo.DefResponseWaitTime) */
export const DEF_RESPONSE_WAIT_TIME_MS = 2_000;
/** peer.gossip.aliveTimeInterval (discovery.DefAliveTimeInterval) */
export const DEF_ALIVE_TIME_INTERVAL_MS = 5_000;
/** peer.gossip.aliveExpirationTimeout when aliveTimeInterval is the default: 5 x aliveTimeInterval. */
export const DEF_ALIVE_EXPIRATION_TIMEOUT_MS = 5 * DEF_ALIVE_TIME_INTERVAL_MS;
/** peer.gossip.reconnectInterval when the two above are defaults: = aliveExpirationTimeout. */
export const DEF_RECONNECT_INTERVAL_MS = DEF_ALIVE_EXPIRATION_TIMEOUT_MS;
/** peer.gossip.maxConnectionAttempts (discovery.DefMaxConnectionAttempts) */
export const DEF_MAX_CONNECTION_ATTEMPTS = 120;
/** peer.gossip.msgExpirationFactor (discovery.DefMsgExpirationFactor) */
export const DEF_MSG_EXPIRATION_FACTOR = 20;
/** peer.gossip.election.startupGracePeriod (election.DefStartupGracePeriod) */
export const DEF_ELECTION_STARTUP_GRACE_PERIOD_MS = 15_000;
/** peer.gossip.election.membershipSampleInterval */
export const DEF_ELECTION_MEMBERSHIP_SAMPLE_INTERVAL_MS = 1_000;
/** peer.gossip.election.leaderAliveThreshold */
export const DEF_ELECTION_LEADER_ALIVE_THRESHOLD_MS = 10_000;
/** peer.gossip.election.leaderElectionDuration */
export const DEF_ELECTION_LEADER_ELECTION_DURATION_MS = 5_000;
/** peer.gossip.pvtData.pullRetryThreshold: no code default, so 0 (core.yaml: 60s). */
export const DEF_PVTDATA_PULL_RETRY_THRESHOLD_MS = 0;
/** peer.gossip.pvtData.transientstoreMaxBlockRetention (v3: 20000) */
export const DEF_PVTDATA_TRANSIENTSTORE_MAX_BLOCK_RETENTION = 1_000;
/** peer.gossip.pvtData.pushAckTimeout: no code default, so 0 (core.yaml: 3s). */
export const DEF_PVTDATA_PUSH_ACK_TIMEOUT_MS = 0;
/** peer.gossip.pvtData.btlPullMargin */
export const DEF_PVTDATA_BTL_PULL_MARGIN = 10;
/** peer.gossip.pvtData.reconcileBatchSize */
export const DEF_PVTDATA_RECONCILE_BATCH_SIZE = 10;
/** peer.gossip.pvtData.reconcileSleepInterval */
export const DEF_PVTDATA_RECONCILE_SLEEP_INTERVAL_MS = 60_000;
/** peer.gossip.pvtData.reconciliationEnabled: viper.GetBool, so false (core.yaml: true). */
export const DEF_PVTDATA_RECONCILIATION_ENABLED = false;
/** peer.gossip.pvtData.implicitCollectionDisseminationPolicy.requiredPeerCount */
export const DEF_PVTDATA_IMPLICIT_REQUIRED_PEER_COUNT = 0;
/** peer.gossip.pvtData.implicitCollectionDisseminationPolicy.maxPeerCount */
export const DEF_PVTDATA_IMPLICIT_MAX_PEER_COUNT = 1;
/** peer.gossip.state.enabled (state.DefStateEnabled; v1.4: true) */
export const DEF_STATE_ENABLED = false;
/** peer.gossip.state.checkInterval */
export const DEF_STATE_CHECK_INTERVAL_MS = 10_000;
/** peer.gossip.state.responseTimeout */
export const DEF_STATE_RESPONSE_TIMEOUT_MS = 3_000;
/** peer.gossip.state.batchSize */
export const DEF_STATE_BATCH_SIZE = 10;
/** peer.gossip.state.blockBufferSize (v1.4: 100) */
export const DEF_STATE_BLOCK_BUFFER_SIZE = 20;
/** peer.gossip.state.maxRetries */
export const DEF_STATE_MAX_RETRIES = 3;
/** peer.gossip.state.channelSize (not in core.yaml) */
export const DEF_STATE_CHANNEL_SIZE = 100;

// ---------------------------------------------------------------------------------------------

/** `peer.gossip.election.*` (gossip/service/config.go). */
export interface ElectionConfig {
  /** Longest wait for a stable membership view before the first election (startupGracePeriod). */
  startupGracePeriodMs: number;
  /** View sampling period during start-up (membershipSampleInterval). */
  membershipSampleIntervalMs: number;
  /** Time since the last leadership declaration before a follower runs an election (leaderAliveThreshold). */
  leaderAliveThresholdMs: number;
  /** Time between a proposal and self-declaration (leaderElectionDuration). */
  leaderElectionDurationMs: number;
}

/** `peer.gossip.pvtData.implicitCollectionDisseminationPolicy.*` (gossip/privdata/config.go). */
export interface ImplicitCollectionDisseminationPolicyConfig {
  /** Minimum peers that must receive our own implicit collection's private data at endorsement. */
  requiredPeerCount: number;
  /** Maximum peers it is sent to; 0 disables dissemination. */
  maxPeerCount: number;
}

/** `peer.gossip.pvtData.*` (gossip/service/config.go, gossip/privdata/config.go). */
export interface PvtDataConfig {
  /** Longest time spent pulling missing private data before committing without it; 0: no remote pull. */
  pullRetryThresholdMs: number;
  /** Transient data older than blockNum - this is purged on every multiple of this block number. */
  transientstoreMaxBlockRetention: number;
  /** Per-peer ack timeout of the endorsement-time push; 0 makes pushes fail as in Fabric. */
  pushAckTimeoutMs: number;
  /** Do not pull from peers whose height + margin >= blockSeq + BTL. */
  btlPullMargin: number;
  /** Blocks fetched per reconciliation batch. */
  reconcileBatchSize: number;
  /** Reconciliation period. */
  reconcileSleepIntervalMs: number;
  /** Runs the reconciler. */
  reconciliationEnabled: boolean;
  /** Leave private data of invalid transactions to the reconciler instead of pulling it at commit. */
  skipPullingInvalidTransactionsDuringCommit: boolean;
  implicitCollectionDisseminationPolicy: ImplicitCollectionDisseminationPolicyConfig;
}

/** `peer.gossip.state.*` (gossip/state/config.go). */
export interface StateConfig {
  /** Runs anti-entropy (pulling missing blocks from peers). Serving state requests is always on. */
  enabled: boolean;
  /** Anti-entropy period. */
  checkIntervalMs: number;
  /** Wait for a state response. */
  responseTimeoutMs: number;
  /** Blocks per state request; also the largest range served. */
  batchSize: number;
  /** Re-ordering window of the payload buffer. */
  blockBufferSize: number;
  /** Retries per batch. */
  maxRetries: number;
  /** Capacity of the state request/response queues. */
  channelSize: number;
  /** Ours (`state.gapFillDelay`, 0: off): a gap left by gossip starts anti-entropy after this long. */
  gapFillDelayMs: number;
}

/**
 * Fabric's `peer.gossip.*` settings as plain data: durations in milliseconds (`...Ms`), the names of
 * Fabric's keys otherwise. Build one with {@link loadGossipConfig} or start from
 * {@link DEFAULT_GOSSIP_CONFIG}.
 */
export interface GossipConfig {
  /** Same-org peers (`host:port`) to connect to at start; never purged from membership. */
  bootstrap: string[];
  /** Dynamic leader election per channel. Exclusive with orgLeader. */
  useLeaderElection: boolean;
  /** Static org leader: always runs the deliver client. */
  orgLeader: boolean;
  /** Period of the membership-change log and the total_peers_known gauge. */
  membershipTrackerIntervalMs: number;
  /** Endpoint advertised to our own org; "" means peer.address (see {@link internalEndpointOf}). */
  endpoint: string;
  /** Blocks kept in memory per channel for dedup and pull. */
  maxBlockCountToStore: number;
  /** Emitter flush period. */
  maxPropagationBurstLatencyMs: number;
  /** Emitter flush threshold (messages). */
  maxPropagationBurstSize: number;
  /** How many times each message is pushed. */
  propagateIterations: number;
  /** Push fan-out. */
  propagatePeerNum: number;
  /** Period of block and identity pull rounds and of membership sync. */
  pullIntervalMs: number;
  /** Peers per pull round. */
  pullPeerNum: number;
  /** Period of StateInfoPullRequest. */
  requestStateInfoIntervalMs: number;
  /** Period at which changed StateInfo is gossiped. */
  publishStateInfoIntervalMs: number;
  /** How long after start AliveMessages carry the full identity. */
  publishCertPeriodMs: number;
  /** Read by Fabric but never used. */
  skipBlockVerification: boolean;
  /** gRPC dial timeout. */
  dialTimeoutMs: number;
  /** Ping timeout and wait for the remote ConnEstablish. */
  connTimeoutMs: number;
  /** Per-connection receive queue. */
  recvBuffSize: number;
  /** Per-connection send queue. */
  sendBuffSize: number;
  /** Pull: time before the initiator processes digests. */
  digestWaitTimeMs: number;
  /** Pull: how long a responder honours a hello's nonce. */
  requestWaitTimeMs: number;
  /** Pull: time before the initiator ends the round. */
  responseWaitTimeMs: number;
  /** Heartbeat period. */
  aliveTimeIntervalMs: number;
  /** No heartbeat for this long moves a peer to the dead list. */
  aliveExpirationTimeoutMs: number;
  /** Period of probing dead peers; back-off between connect attempts. */
  reconnectIntervalMs: number;
  /** Attempts for Connect and for sendUntilAcked. */
  maxConnectionAttempts: number;
  /** Alive store TTL = aliveExpirationTimeout x this. */
  msgExpirationFactor: number;
  /** Endpoint published to other orgs; "" keeps the peer invisible to them. */
  externalEndpoint: string;
  election: ElectionConfig;
  pvtData: PvtDataConfig;
  state: StateConfig;
  /** Deliver client adds payloads without blocking (may drop blocks). */
  nonBlockingCommitMode: boolean;
  /**
   * Extension, not in Fabric (`peer.gossip.blockPullInterval`; 0, the default, is off): block pull
   * rounds every this long instead of every pullInterval, and at once when a pushed block reveals a
   * gap. Identity pull and membership sync keep pullInterval. Fabric's messages either way.
   */
  blockPullIntervalMs: number;
  /**
   * Extension, not in Fabric (`peer.gossip.pullWaitsFollowRtt`; false, the default, is off): the block
   * puller's digestWaitTime, requestWaitTime and responseWaitTime are floors, raised to cover the round
   * trips it measures from hello to digest; its rounds start at least digest + response wait apart.
   */
  pullWaitsFollowRtt: boolean;
  /**
   * Extension, not in Fabric (`peer.gossip.membershipDelta`; false, the default, is off): periodic
   * membership sync requests list the alive members known (Fabric's unused `known` field) and the
   * response leaves them out. Off, a response ignores a list, as Fabric's do; Fabric's requests carry none.
   */
  membershipDelta: boolean;
  /**
   * Extension, not in Fabric (`peer.gossip.startupSync`; false, the default, is off): membership syncs
   * 0.25-3 s after start (those below pullInterval) that ask a member of every org known, the first two with
   * an alive message, each publishing our changed StateInfo; Fabric's first ones come after pullInterval
   * and aliveTimeInterval.
   */
  startupSync: boolean;
  /**
   * Extension, not in Fabric (`peer.gossip.stateInfoPullWhenMissing`; false, the default, is off): a
   * channel's StateInfo pull round asks pullPeerNum peers only while an alive member of a channel org has no
   * StateInfo with us, otherwise one peer every 8th round; Fabric asks pullPeerNum peers every
   * requestStateInfoInterval.
   */
  stateInfoPullWhenMissing: boolean;
  /**
   * Extension, not in Fabric (`peer.gossip.livenessFromTraffic`; false, the default, is off): any message
   * over a member's own authenticated connection counts as hearing from it for aliveExpirationTimeout, as
   * its alive messages do, and so does its answer to a ping sent when it has been quiet for most of the
   * timeout; Fabric counts only alive messages.
   */
  livenessFromTraffic: boolean;
  /**
   * Extension, not in Fabric (`peer.gossip.aliveFollowsFabricPeers`; false, the default, is off): while an
   * alive member sends Fabric's membership requests (they list no known members), or answers a sync request
   * with the members it listed (every sync target is asked so, and members whose alive messages come every 5 s
   * in the places of random targets), alive messages go at least every 5 s (Fabric's default
   * aliveTimeInterval), since such a peer counts only alive messages.
   */
  aliveFollowsFabricPeers: boolean;
  /** Extension, not in Fabric (`peer.gossip.limits.*`): protections against misbehaving peers and floods. */
  limits: LimitsConfig;
}

/**
 * fabric-gossip's limits (`peer.gossip.limits.*`, none in Fabric; on by default, far above what honest
 * peers need; docs/CONFIG.md, Extensions). Comm's misbehaviour and connection limits and request
 * budgets, the gRPC server's socket limits, and the state provider's request budget read them.
 */
export interface LimitsConfig {
  /** Offences (forged or malformed input) tolerated per misbehaviourWindow from one PKI-ID or address. */
  misbehaviourLimit: number;
  misbehaviourWindowMs: number;
  /** First refusal of an offender, doubled for repeat offenders up to maxRefuseDuration. */
  refuseDurationMs: number;
  maxRefuseDurationMs: number;
  /** Refuse an offender's address as well as its PKI-ID. */
  refuseAddresses: boolean;
  /** Streams in their handshake, per remote address and in total. */
  maxHandshakesPerAddress: number;
  maxHandshakes: number;
  /** Authenticated inbound connections, per remote address and in total. */
  maxConnectionsPerAddress: number;
  maxConnections: number;
  /** Per-peer budgets: membership requests, pull requests (hello, data, StateInfo and private data requests), state requests. */
  membershipRequestsPerSecond: number;
  membershipRequestBurst: number;
  pullRequestsPerSecond: number;
  pullRequestBurst: number;
  stateRequestsPerSecond: number;
  stateRequestBurst: number;
  /** TCP connections the gossip server holds, in total and per remote address. */
  maxSockets: number;
  maxSocketsPerAddress: number;
  /** Of those, connections that made no gRPC call yet, in total and per remote address. */
  maxPendingSockets: number;
  maxPendingSocketsPerAddress: number;
  /** A connection that makes no gRPC call within this long is closed. */
  firstCallTimeoutMs: number;
  /** The TLS handshake of an incoming connection must finish within this long. */
  tlsHandshakeTimeoutMs: number;
  /**
   * Routing prefers members heard from directly (their own alive message over their own connection) to
   * members known only second-hand, which a liar can invent: at most half of a message's targets go to
   * the latter while the former can take the places. With every member heard from directly (a settled
   * network) routing is Fabric's. False: Fabric's uniform choice always.
   */
  preferDirectMembers: boolean;
  /** Discovery: alive + dead entries looked at per MembershipResponse. */
  maxMembersPerResponse: number;
  /** Discovery: membership entries needing a signature check taken from one sender per memberQuotaInterval. */
  maxMemberEntriesPerSender: number;
  /** Discovery: members not known before learned per org per memberQuotaInterval (a member heard from directly always is). */
  maxNewMembersPerOrg: number;
  memberQuotaIntervalMs: number;
  /** Discovery: members (alive and dead) known per org and in total. */
  maxKnownMembersPerOrg: number;
  maxKnownMembers: number;
  /** Discovery: pings of dead members in flight at once, and the longest back-off between probes of a member known only second-hand. */
  maxReconnectPings: number;
  /** 0 (the default): 16 x reconnectInterval. */
  maxReconnectBackoffMs: number;
}

/** The defaults of `peer.gossip.limits.*` (comm's, the gRPC server's and the state provider's own defaults). */
export const DEFAULT_LIMITS: Readonly<LimitsConfig> = Object.freeze({
  misbehaviourLimit: DEFAULT_COMM_OPTIONS.misbehaviourLimit,
  misbehaviourWindowMs: DEFAULT_COMM_OPTIONS.misbehaviourWindowMs,
  refuseDurationMs: DEFAULT_COMM_OPTIONS.refuseMs,
  maxRefuseDurationMs: DEFAULT_COMM_OPTIONS.maxRefuseMs,
  refuseAddresses: DEFAULT_COMM_OPTIONS.refuseAddresses,
  maxHandshakesPerAddress: DEFAULT_COMM_OPTIONS.maxHandshakesPerAddress,
  maxHandshakes: DEFAULT_COMM_OPTIONS.maxHandshakes,
  maxConnectionsPerAddress: DEFAULT_COMM_OPTIONS.maxConnectionsPerAddress,
  maxConnections: DEFAULT_COMM_OPTIONS.maxConnections,
  membershipRequestsPerSecond: DEFAULT_COMM_OPTIONS.requestBudgets.membership.perSecond,
  membershipRequestBurst: DEFAULT_COMM_OPTIONS.requestBudgets.membership.burst,
  pullRequestsPerSecond: DEFAULT_COMM_OPTIONS.requestBudgets.pull.perSecond,
  pullRequestBurst: DEFAULT_COMM_OPTIONS.requestBudgets.pull.burst,
  // state's DEFAULT_STATE_REQUEST_BUDGET (config sits below state; a test keeps them equal)
  stateRequestsPerSecond: 50,
  stateRequestBurst: 100,
  maxSockets: DEFAULT_SOCKET_LIMITS.maxSockets,
  maxSocketsPerAddress: DEFAULT_SOCKET_LIMITS.maxSocketsPerAddress,
  maxPendingSockets: DEFAULT_SOCKET_LIMITS.maxPendingSockets,
  maxPendingSocketsPerAddress: DEFAULT_SOCKET_LIMITS.maxPendingSocketsPerAddress,
  firstCallTimeoutMs: DEFAULT_SOCKET_LIMITS.firstCallTimeoutMs,
  tlsHandshakeTimeoutMs: DEFAULT_SOCKET_LIMITS.tlsHandshakeTimeoutMs,
  // discovery's DEFAULT_DISCOVERY_OPTIONS (discovery sits beside config; a test keeps them equal)
  preferDirectMembers: true,
  maxMembersPerResponse: 1_000,
  maxMemberEntriesPerSender: 5_000,
  maxNewMembersPerOrg: 500,
  memberQuotaIntervalMs: 60_000,
  maxKnownMembersPerOrg: 2_000,
  maxKnownMembers: 10_000,
  maxReconnectPings: 32,
  maxReconnectBackoffMs: 0,
});

function buildDefaults(): GossipConfig {
  return {
    bootstrap: [],
    useLeaderElection: false,
    orgLeader: false,
    membershipTrackerIntervalMs: DEF_MEMBERSHIP_TRACKER_INTERVAL_MS,
    endpoint: "",
    maxBlockCountToStore: DEF_MAX_BLOCK_COUNT_TO_STORE,
    maxPropagationBurstLatencyMs: DEF_MAX_PROPAGATION_BURST_LATENCY_MS,
    maxPropagationBurstSize: DEF_MAX_PROPAGATION_BURST_SIZE,
    propagateIterations: DEF_PROPAGATE_ITERATIONS,
    propagatePeerNum: DEF_PROPAGATE_PEER_NUM,
    pullIntervalMs: DEF_PULL_INTERVAL_MS,
    pullPeerNum: DEF_PULL_PEER_NUM,
    requestStateInfoIntervalMs: DEF_REQUEST_STATE_INFO_INTERVAL_MS,
    publishStateInfoIntervalMs: DEF_PUBLISH_STATE_INFO_INTERVAL_MS,
    publishCertPeriodMs: DEF_PUBLISH_CERT_PERIOD_MS,
    skipBlockVerification: false,
    dialTimeoutMs: DEF_DIAL_TIMEOUT_MS,
    connTimeoutMs: DEF_CONN_TIMEOUT_MS,
    recvBuffSize: DEF_RECV_BUFF_SIZE,
    sendBuffSize: DEF_SEND_BUFF_SIZE,
    digestWaitTimeMs: DEF_DIGEST_WAIT_TIME_MS,
    requestWaitTimeMs: DEF_REQUEST_WAIT_TIME_MS,
    responseWaitTimeMs: DEF_RESPONSE_WAIT_TIME_MS,
    aliveTimeIntervalMs: DEF_ALIVE_TIME_INTERVAL_MS,
    aliveExpirationTimeoutMs: DEF_ALIVE_EXPIRATION_TIMEOUT_MS,
    reconnectIntervalMs: DEF_RECONNECT_INTERVAL_MS,
    maxConnectionAttempts: DEF_MAX_CONNECTION_ATTEMPTS,
    msgExpirationFactor: DEF_MSG_EXPIRATION_FACTOR,
    externalEndpoint: "",
    election: {
      startupGracePeriodMs: DEF_ELECTION_STARTUP_GRACE_PERIOD_MS,
      membershipSampleIntervalMs: DEF_ELECTION_MEMBERSHIP_SAMPLE_INTERVAL_MS,
      leaderAliveThresholdMs: DEF_ELECTION_LEADER_ALIVE_THRESHOLD_MS,
      leaderElectionDurationMs: DEF_ELECTION_LEADER_ELECTION_DURATION_MS,
    },
    pvtData: {
      pullRetryThresholdMs: DEF_PVTDATA_PULL_RETRY_THRESHOLD_MS,
      transientstoreMaxBlockRetention: DEF_PVTDATA_TRANSIENTSTORE_MAX_BLOCK_RETENTION,
      pushAckTimeoutMs: DEF_PVTDATA_PUSH_ACK_TIMEOUT_MS,
      btlPullMargin: DEF_PVTDATA_BTL_PULL_MARGIN,
      reconcileBatchSize: DEF_PVTDATA_RECONCILE_BATCH_SIZE,
      reconcileSleepIntervalMs: DEF_PVTDATA_RECONCILE_SLEEP_INTERVAL_MS,
      reconciliationEnabled: DEF_PVTDATA_RECONCILIATION_ENABLED,
      skipPullingInvalidTransactionsDuringCommit: false,
      implicitCollectionDisseminationPolicy: {
        requiredPeerCount: DEF_PVTDATA_IMPLICIT_REQUIRED_PEER_COUNT,
        maxPeerCount: DEF_PVTDATA_IMPLICIT_MAX_PEER_COUNT,
      },
    },
    state: {
      enabled: DEF_STATE_ENABLED,
      checkIntervalMs: DEF_STATE_CHECK_INTERVAL_MS,
      responseTimeoutMs: DEF_STATE_RESPONSE_TIMEOUT_MS,
      batchSize: DEF_STATE_BATCH_SIZE,
      blockBufferSize: DEF_STATE_BLOCK_BUFFER_SIZE,
      maxRetries: DEF_STATE_MAX_RETRIES,
      channelSize: DEF_STATE_CHANNEL_SIZE,
      gapFillDelayMs: 0,
    },
    nonBlockingCommitMode: false,
    blockPullIntervalMs: 0,
    pullWaitsFollowRtt: false,
    membershipDelta: false,
    startupSync: false,
    stateInfoPullWhenMissing: false,
    livenessFromTraffic: false,
    aliveFollowsFabricPeers: false,
    limits: { ...DEFAULT_LIMITS },
  };
}

/** Fabric's code defaults: what a peer with no `peer.gossip` section runs with. Deeply frozen. */
export const DEFAULT_GOSSIP_CONFIG: Readonly<GossipConfig> = deepFreeze(buildDefaults());

/** A fresh, mutable copy of the defaults (for tests and for building Options by hand). */
export function defaultGossipConfig(): GossipConfig {
  return buildDefaults();
}

// ---------------------------------------------------------------------------------------------
// Derived, non-configurable timers (FABRIC-REFERENCE.md 3.1). Go divides durations in whole
// nanoseconds; these divide milliseconds, which differs only below a nanosecond.

/** How often discovery checks for expired peers: aliveExpirationTimeout / 10 (2.5 s). gossip/config.go */
export function aliveExpirationCheckIntervalMs(c: Pick<GossipConfig, "aliveExpirationTimeoutMs">): number {
  return c.aliveExpirationTimeoutMs / 10;
}

/** Alive message store TTL: aliveExpirationTimeout x msgExpirationFactor (500 s). discovery_impl.go:newAliveMsgStore */
export function aliveMsgStoreTtlMs(c: Pick<GossipConfig, "aliveExpirationTimeoutMs" | "msgExpirationFactor">): number {
  return c.aliveExpirationTimeoutMs * c.msgExpirationFactor;
}

/** A message store drops an expired entry physically at 2 x TTL. msgstore/msgs.go */
export function msgStorePhysicalDeleteMs(ttlMs: number): number {
  return ttlMs * 2;
}

/** A message store checks for expiry every TTL / 100 (5 s for the alive store). msgstore/msgs.go */
export function msgStoreCheckIntervalMs(ttlMs: number): number {
  return ttlMs / 100;
}

/** Node-level StateInfo store TTL (channels the peer is not in): publishStateInfoInterval x 100 (400 s). gossip_impl.go */
export function stateInfoMsgStoreTtlMs(c: Pick<GossipConfig, "publishStateInfoIntervalMs">): number {
  return c.publishStateInfoIntervalMs * 100;
}

/** Channel block store TTL (BlockExpirationInterval): pullInterval x 100 (400 s). chanstate.go:GetConf */
export function blockExpirationIntervalMs(c: Pick<GossipConfig, "pullIntervalMs">): number {
  return c.pullIntervalMs * 100;
}

/** StateInfo cache sweep (StateInfoCacheSweepInterval): pullInterval x 5 (20 s). chanstate.go:GetConf */
export function stateInfoCacheSweepIntervalMs(c: Pick<GossipConfig, "pullIntervalMs">): number {
  return c.pullIntervalMs * 5;
}

/** Leadership message store TTL (MsgExpirationTimeout): leaderAliveThreshold x 10 (100 s). gossip/config.go */
export function leadershipMsgExpirationTimeoutMs(c: { election: Pick<ElectionConfig, "leaderAliveThresholdMs"> }): number {
  return c.election.leaderAliveThresholdMs * 10;
}

/** The leader's heartbeat (declaration) period: leaderAliveThreshold / 2 (5 s). election.go */
export function leaderHeartbeatIntervalMs(c: { election: Pick<ElectionConfig, "leaderAliveThresholdMs"> }): number {
  return c.election.leaderAliveThresholdMs / 2;
}

/** How long a yielding leader stays out of elections: leaderAliveThreshold x 6 (60 s). election.go */
export function leaderYieldDurationMs(c: { election: Pick<ElectionConfig, "leaderAliveThresholdMs"> }): number {
  return c.election.leaderAliveThresholdMs * 6;
}

/** The endpoint advertised to our org: peer.gossip.endpoint if set, else peer.address (start.go). */
export function internalEndpointOf(c: Pick<GossipConfig, "endpoint">, peerAddress: string): string {
  return c.endpoint !== "" ? c.endpoint : peerAddress;
}

/** discovery: wait per sendUntilAcked attempt. discovery_impl.go */
export const SEND_UNTIL_ACKED_WAIT_MS = 5_000;
/** comm: handshake stream timeout. comm_impl.go:handshakeTimeout */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** identity: an identity unused this long is purged. identity.go:usageThreshold */
export const IDENTITY_USAGE_THRESHOLD_MS = 3_600_000;
/** identity: the purge check runs every usageThreshold / 10 (6 min). identity.go */
export const IDENTITY_PURGE_CHECK_INTERVAL_MS = IDENTITY_USAGE_THRESHOLD_MS / 10;
/** privdata pull: wait for responses. privdata/pull.go:responseWaitTime */
export const PVTDATA_PULL_RESPONSE_WAIT_MS = 5_000;
/** privdata pull: membership polls before giving up. privdata/pull.go:maxMembershipPollIterations */
export const PVTDATA_MEMBERSHIP_POLL_ITERATIONS = 5;
/** privdata pull: pause between membership polls. privdata/pull.go:membershipPollingBackoff */
export const PVTDATA_MEMBERSHIP_POLL_BACKOFF_MS = 1_000;
/** privdata coordinator: sleep between pull retries at commit. coordinator.go:pullRetrySleepInterval */
export const PVTDATA_PULL_RETRY_SLEEP_MS = 1_000;
/** state: blocking enqueue retry. state.go:enqueueRetryInterval */
export const STATE_ENQUEUE_RETRY_INTERVAL_MS = 100;
/** state: a block this far ahead of our height makes us a straggler (warning). state.go */
export const STATE_STRAGGLER_WARNING_THRESHOLD = 100;
/** util: pub/sub subscription buffer. util/pubsub.go */
export const PUBSUB_SUBSCRIPTION_BUFFER_SIZE = 50;
/** comm: per-Accept channel capacity. comm_impl.go */
export const COMM_ACCEPT_CHANNEL_SIZE = 10;
/** comm: demultiplexer channel capacity. comm/demux.go */
export const DEMUX_CHANNEL_SIZE = 10;
/** gossip Node: Accept channel capacity. gossip_impl.go:acceptChanSize */
export const NODE_ACCEPT_CHANNEL_SIZE = 100;

// ---------------------------------------------------------------------------------------------
// Loading

/**
 * The layers of a gossip configuration, lowest first; each is optional.
 * - `yaml`: the `peer.gossip` mapping of a core.yaml (see {@link gossipSectionOf}), keys as Fabric
 *   spells them, nested election / pvtData / state. Keys match case-insensitively, as in viper.
 * - `env`: an environment such as `process.env`; only `CORE_PEER_GOSSIP_*` variables are read,
 *   empty ones are ignored (viper without AllowEmptyEnv).
 * - `overrides`: explicit settings such as CLI flags, keyed by the path below `peer.gossip` (or the
 *   full key), e.g. `{ "pullInterval": "10s", "election.leaderAliveThreshold": "5s" }`. String values
 *   are read like environment values; typed values (numbers, booleans, string arrays) like YAML.
 */
export interface GossipConfigLayers {
  yaml?: unknown;
  env?: Readonly<Record<string, string | undefined>>;
  overrides?: Readonly<Record<string, unknown>>;
}

/** A validated configuration and the notes made while loading it. */
export interface LoadedGossipConfig {
  config: GossipConfig;
  /** Dead keys seen, quirks applied, settings worth a second look. Not errors. */
  notes: ConfigNote[];
}

type RawEntry = LayerRawEntry<GossipKeySpec>;

type Parsed = ParsedValue<number | boolean | string | string[]>;

const EXPECT: Record<GossipKeySpec["kind"], string> = {
  duration: 'a Go duration such as "4s", "1500ms" or "1m30s"',
  int: "a whole number",
  bool: "true or false",
  endpoint: 'host:port, e.g. "peer0.org1.example.com:7051"',
  endpointList: 'host:port entries separated by spaces (or a YAML list), e.g. "peer0.org1.example.com:7051 peer1.org1.example.com:7051"',
  any: "anything",
};

/** Parses one raw value by its key's kind. Returns the parsed value or what is wrong. */
function parseEntry(e: RawEntry): Parsed | { error: string } {
  const { spec, raw, textual } = e;
  const expected = EXPECT[spec.kind];
  const bad = (what: string): { error: string } => ({ error: `${what}; expected ${expected}` });
  switch (spec.kind) {
    case "any":
      return { empty: false, value: show(raw) };
    case "duration":
      return parseDurationValue(raw, expected);
    case "int": {
      if (typeof raw === "number") {
        if (!Number.isSafeInteger(raw)) return bad(`got ${show(raw)}`);
        return { empty: false, value: raw };
      }
      if (typeof raw === "string") {
        const t = raw.trim();
        if (t === "") return { empty: true };
        if (!textual) return bad(`got the string ${show(raw)} (write the number without quotes)`);
        if (!/^[+-]?[0-9]+$/.test(t)) return bad(`got ${show(raw)}`);
        if (/^[+-]?0[0-9]/.test(t)) return bad(`got ${show(raw)}, which Fabric (viper) would read as octal; drop the leading zero`);
        const n = Number(t);
        if (!Number.isSafeInteger(n)) return bad(`got ${show(raw)}, which is too large`);
        return { empty: false, value: n };
      }
      return bad(`got ${show(raw)}`);
    }
    case "bool":
      return parseBoolValue(raw, textual, expected);
    case "endpoint":
      return parseEndpointValue(raw, expected, checkHostPort);
    case "endpointList": {
      let items: unknown[];
      if (typeof raw === "string") items = raw.split(/\s+/).filter((s) => s !== "");
      else if (Array.isArray(raw)) items = raw;
      else return bad(`got ${show(raw)}`);
      const out: string[] = [];
      const wrong: string[] = [];
      for (const item of items) {
        if (typeof item !== "string") {
          wrong.push(`entry ${show(item)} is not a string`);
          continue;
        }
        const why = item.includes(",") ? "contains a comma (separate entries with spaces)" : checkHostPort(item.trim());
        if (why !== undefined) wrong.push(`entry ${show(item)} ${why}`);
        else out.push(item.trim());
      }
      if (wrong.length > 0) return bad(wrong.join("; "));
      if (out.length === 0) return { empty: true };
      return { empty: false, value: out };
    }
  }
}

/** Collects the entries of one layer into `into` (lowercased path -> entry). */
class LayerReader {
  constructor(
    private readonly problems: ConfigProblem[],
    private readonly present: Set<string>,
  ) {}

  private add(into: Map<string, RawEntry>, e: RawEntry, given: string): void {
    this.present.add(e.spec.path.toLowerCase());
    addEntry(into, e, { id: e.spec.path, key: fullKey(e.spec.path), given }, this.problems);
  }

  private unknown(path: string, source: ConfigSource, what: string): void {
    const near = closestPath(path);
    const hint = near === undefined ? "" : `; did you mean ${fullKey(near)}?`;
    this.problems.push({
      key: fullKey(path),
      source,
      message: `is not a ${what} Fabric knows${hint} (see docs/CONFIG.md for the keys)`,
    });
  }

  yaml(root: unknown): Map<string, RawEntry> {
    const out = new Map<string, RawEntry>();
    if (root === undefined || root === null) return out;
    const source: ConfigSource = { kind: "yaml" };
    if (!isPlainObject(root)) {
      this.problems.push({ key: "peer.gossip", source, message: `is ${show(root)}; expected a mapping of gossip keys` });
      return out;
    }
    const walk = (obj: Record<string, unknown>, prefix: string): void => {
      for (const [name, raw] of Object.entries(obj)) {
        const path = prefix === "" ? name : `${prefix}.${name}`;
        const spec = keySpecOf(path);
        if (spec !== undefined) {
          if (raw === null || raw === undefined) {
            // viper: a key with no value is not set.
            this.present.add(spec.path.toLowerCase());
            continue;
          }
          if (isPlainObject(raw) && spec.kind !== "any") {
            this.problems.push({ key: fullKey(spec.path), source, message: `is a mapping; expected ${EXPECT[spec.kind]}` });
            continue;
          }
          this.add(out, { spec, raw, textual: false, source }, path);
        } else if (isSection(path)) {
          if (raw === null || raw === undefined) continue;
          if (!isPlainObject(raw)) {
            this.problems.push({ key: fullKey(path), source, message: `is ${show(raw)}; expected a mapping of keys` });
            continue;
          }
          walk(raw, path);
        } else {
          this.unknown(path, source, "key");
        }
      }
    };
    walk(root, "");
    return out;
  }

  env(env: Readonly<Record<string, string | undefined>> | undefined): Map<string, RawEntry> {
    const out = new Map<string, RawEntry>();
    for (const [name, raw] of setVariables(env, GOSSIP_ENV_PREFIX)) {
      const spec = keySpecOfEnv(name);
      const source: ConfigSource = { kind: "env", name };
      if (spec === undefined) {
        const guess = closestPath(name.slice(GOSSIP_ENV_PREFIX.length).toLowerCase().replace(/_/g, "."));
        const hint = guess === undefined ? "" : `; did you mean ${gossipEnvName(guess)}?`;
        this.problems.push({
          key: name,
          message: `is not the variable of any peer.gossip key${hint} (CORE_ + the key uppercased, dots as underscores)`,
        });
        continue;
      }
      this.add(out, { spec, raw, textual: true, source }, name);
    }
    return out;
  }

  overrides(overrides: Readonly<Record<string, unknown>> | undefined): Map<string, RawEntry> {
    const out = new Map<string, RawEntry>();
    const source: ConfigSource = { kind: "override" };
    for (const [name, raw] of givenOverrides(overrides)) {
      const path = name.toLowerCase().startsWith(`${GOSSIP_PREFIX.toLowerCase()}.`) ? name.slice(GOSSIP_PREFIX.length + 1) : name;
      const spec = keySpecOf(path);
      if (spec === undefined) {
        this.unknown(path, source, isSection(path) ? "key (it is a section; name a key inside it)" : "key");
        continue;
      }
      this.add(out, { spec, raw, textual: typeof raw === "string", source }, name);
    }
    return out;
  }
}

type Resolved = LayerResolved<GossipKeySpec, Parsed>;

type RangeRule = "nonNegative" | "positive";

/** Applies each key's read mode to its winning value, and range rules; records problems and notes. */
class Resolver {
  constructor(
    private readonly values: ReadonlyMap<string, Resolved>,
    private readonly problems: ConfigProblem[],
    private readonly notes: ConfigNote[],
  ) {}

  private entry(path: string): Resolved | undefined {
    return this.values.get(path.toLowerCase());
  }

  /** The value for `path`, or `fallback` per the read mode; undefined if the value is broken. */
  private pick<T>(path: string, fallback: T, zero: T, isZero: (v: T) => boolean, explain: (v: T) => string): T {
    const spec = keySpecOf(path);
    const r = this.entry(path);
    if (spec === undefined) throw new Error(`config: unknown key ${path} (a bug in gossip-config.ts)`);
    if (r === undefined) return fallback;
    if (r.parsed.empty) {
      if (spec.read === "zeroMeansDefault") {
        this.notes.push({
          key: fullKey(spec.path),
          message: `is empty, which Fabric reads as "use the default": ${explain(fallback)}`,
        });
        return fallback;
      }
      return zero;
    }
    const v = r.parsed.value as T;
    if (spec.read === "zeroMeansDefault" && isZero(v)) {
      this.notes.push({
        key: fullKey(spec.path),
        message: `is 0, which Fabric reads as "use the default" (GetIntOrDefault/GetDurationOrDefault): ${explain(fallback)}`,
      });
      return fallback;
    }
    return v;
  }

  private problem(path: string, message: string): void {
    const r = this.entry(path);
    this.problems.push({ key: fullKey(keySpecOf(path)?.path ?? path), message, ...(r ? { source: r.source } : {}) });
  }

  duration(path: string, fallback: number, rule: RangeRule = "nonNegative", why?: string): number {
    const v = this.pick<number>(path, fallback, 0, (x) => x === 0, formatDurationMs);
    if (v < 0) this.problem(path, `is negative (${formatDurationMs(v)}); expected ${this.expectedMin(path, formatDurationMs(fallback))}`);
    else if (rule === "positive" && v === 0) this.problem(path, `is 0; expected a duration above 0${why ? ` (${why})` : ""}`);
    else {
      const tooLong = timerLimitProblem(v);
      if (tooLong !== undefined) this.problem(path, tooLong);
    }
    return v;
  }

  int(path: string, fallback: number, rule: RangeRule = "nonNegative", why?: string): number {
    const v = this.pick<number>(path, fallback, 0, (x) => x === 0, (x) => String(x));
    if (v < 0) this.problem(path, `is negative (${v}); expected ${this.expectedMin(path, String(fallback))}${why ? ` (${why})` : ""}`);
    else if (rule === "positive" && v === 0) this.problem(path, `is 0; expected 1 or more${why ? ` (${why})` : ""}`);
    return v;
  }

  /** "a positive value (0 or empty means the default, X)" or "0 or more". */
  private expectedMin(path: string, fallback: string): string {
    return keySpecOf(path)?.read === "zeroMeansDefault"
      ? `a value above 0 (0 or empty means the default, ${fallback})`
      : "0 or more";
  }

  bool(path: string, fallback: boolean): boolean {
    return this.pick<boolean>(path, fallback, false, () => false, String);
  }

  string(path: string): string {
    return this.pick<string>(path, "", "", () => false, String);
  }

  list(path: string): string[] {
    return [...this.pick<string[]>(path, [], [], () => false, (x) => x.join(" "))];
  }
}

/**
 * Builds a validated {@link GossipConfig} from layers: Fabric's code defaults <- core.yaml
 * `peer.gossip` <- `CORE_PEER_GOSSIP_*` environment <- overrides. For each key the highest layer
 * that sets it wins, and Fabric's reading of that value applies (for most keys 0 or empty means the
 * default; see {@link GOSSIP_KEYS}). Problems are collected and thrown together.
 * @throws ConfigError (code CONFIG_INVALID) listing every problem, each naming its full key.
 */
export function loadGossipConfig(layers: GossipConfigLayers = {}): LoadedGossipConfig {
  const problems: ConfigProblem[] = [];
  const notes: ConfigNote[] = [];
  const present = new Set<string>();
  const reader = new LayerReader(problems, present);
  const stack = [reader.yaml(layers.yaml), reader.env(layers.env), reader.overrides(layers.overrides)];

  const values: ReadonlyMap<string, Resolved> = resolveLayers(stack, (e) => {
    const parsed = parseEntry(e);
    if (!("error" in parsed)) return parsed;
    problems.push({ key: fullKey(e.spec.path), source: e.source, message: parsed.error });
    return undefined;
  });

  const r = new Resolver(values, problems, notes);
  const d = DEFAULT_GOSSIP_CONFIG;
  const aliveTimeIntervalMs = r.duration("aliveTimeInterval", d.aliveTimeIntervalMs);
  const aliveExpirationTimeoutMs = r.duration("aliveExpirationTimeout", 5 * aliveTimeIntervalMs);
  const reconnectIntervalMs = r.duration("reconnectInterval", aliveExpirationTimeoutMs);
  const stateZeroBreaks = "Fabric takes 0 literally here and the state provider then spins or never asks";
  const config: GossipConfig = {
    bootstrap: r.list("bootstrap"),
    useLeaderElection: r.bool("useLeaderElection", false),
    orgLeader: r.bool("orgLeader", false),
    membershipTrackerIntervalMs: r.duration("membershipTrackerInterval", d.membershipTrackerIntervalMs),
    endpoint: r.string("endpoint"),
    maxBlockCountToStore: r.int("maxBlockCountToStore", d.maxBlockCountToStore),
    maxPropagationBurstLatencyMs: r.duration("maxPropagationBurstLatency", d.maxPropagationBurstLatencyMs),
    maxPropagationBurstSize: r.int("maxPropagationBurstSize", d.maxPropagationBurstSize),
    propagateIterations: r.int("propagateIterations", d.propagateIterations),
    propagatePeerNum: r.int("propagatePeerNum", d.propagatePeerNum),
    pullIntervalMs: r.duration("pullInterval", d.pullIntervalMs),
    pullPeerNum: r.int("pullPeerNum", d.pullPeerNum),
    requestStateInfoIntervalMs: r.duration("requestStateInfoInterval", d.requestStateInfoIntervalMs),
    publishStateInfoIntervalMs: r.duration("publishStateInfoInterval", d.publishStateInfoIntervalMs),
    publishCertPeriodMs: r.duration("publishCertPeriod", d.publishCertPeriodMs),
    skipBlockVerification: r.bool("skipBlockVerification", false),
    dialTimeoutMs: r.duration("dialTimeout", d.dialTimeoutMs),
    connTimeoutMs: r.duration("connTimeout", d.connTimeoutMs),
    recvBuffSize: r.int("recvBuffSize", d.recvBuffSize),
    sendBuffSize: r.int("sendBuffSize", d.sendBuffSize),
    digestWaitTimeMs: r.duration("digestWaitTime", d.digestWaitTimeMs),
    requestWaitTimeMs: r.duration("requestWaitTime", d.requestWaitTimeMs),
    responseWaitTimeMs: r.duration("responseWaitTime", d.responseWaitTimeMs),
    aliveTimeIntervalMs,
    aliveExpirationTimeoutMs,
    reconnectIntervalMs,
    maxConnectionAttempts: r.int("maxConnectionAttempts", d.maxConnectionAttempts),
    msgExpirationFactor: r.int("msgExpirationFactor", d.msgExpirationFactor),
    externalEndpoint: r.string("externalEndpoint"),
    election: {
      startupGracePeriodMs: r.duration("election.startupGracePeriod", d.election.startupGracePeriodMs),
      membershipSampleIntervalMs: r.duration("election.membershipSampleInterval", d.election.membershipSampleIntervalMs),
      leaderAliveThresholdMs: r.duration("election.leaderAliveThreshold", d.election.leaderAliveThresholdMs),
      leaderElectionDurationMs: r.duration("election.leaderElectionDuration", d.election.leaderElectionDurationMs),
    },
    pvtData: {
      pullRetryThresholdMs: r.duration("pvtData.pullRetryThreshold", d.pvtData.pullRetryThresholdMs),
      transientstoreMaxBlockRetention: r.int("pvtData.transientstoreMaxBlockRetention", d.pvtData.transientstoreMaxBlockRetention),
      pushAckTimeoutMs: r.duration("pvtData.pushAckTimeout", d.pvtData.pushAckTimeoutMs),
      btlPullMargin: r.int("pvtData.btlPullMargin", d.pvtData.btlPullMargin, "nonNegative", "Fabric silently ignores a negative margin and uses 10"),
      reconcileBatchSize: r.int("pvtData.reconcileBatchSize", d.pvtData.reconcileBatchSize),
      reconcileSleepIntervalMs: r.duration("pvtData.reconcileSleepInterval", d.pvtData.reconcileSleepIntervalMs),
      reconciliationEnabled: r.bool("pvtData.reconciliationEnabled", d.pvtData.reconciliationEnabled),
      skipPullingInvalidTransactionsDuringCommit: r.bool("pvtData.skipPullingInvalidTransactionsDuringCommit", false),
      implicitCollectionDisseminationPolicy: {
        requiredPeerCount: r.int(
          "pvtData.implicitCollectionDisseminationPolicy.requiredPeerCount",
          d.pvtData.implicitCollectionDisseminationPolicy.requiredPeerCount,
          "nonNegative",
          "Fabric panics on a negative count",
        ),
        maxPeerCount: r.int(
          "pvtData.implicitCollectionDisseminationPolicy.maxPeerCount",
          d.pvtData.implicitCollectionDisseminationPolicy.maxPeerCount,
        ),
      },
    },
    state: {
      enabled: r.bool("state.enabled", d.state.enabled),
      checkIntervalMs: r.duration("state.checkInterval", d.state.checkIntervalMs, "positive", stateZeroBreaks),
      responseTimeoutMs: r.duration("state.responseTimeout", d.state.responseTimeoutMs, "positive", stateZeroBreaks),
      batchSize: r.int("state.batchSize", d.state.batchSize, "positive", stateZeroBreaks),
      blockBufferSize: r.int("state.blockBufferSize", d.state.blockBufferSize, "positive", stateZeroBreaks),
      maxRetries: r.int("state.maxRetries", d.state.maxRetries),
      channelSize: r.int("state.channelSize", d.state.channelSize, "positive", "a queue of 0 would drop every state request and response"),
      gapFillDelayMs: r.duration("state.gapFillDelay", 0),
    },
    nonBlockingCommitMode: r.bool("nonBlockingCommitMode", false),
    blockPullIntervalMs: r.duration("blockPullInterval", 0),
    pullWaitsFollowRtt: r.bool("pullWaitsFollowRtt", false),
    membershipDelta: r.bool("membershipDelta", false),
    startupSync: r.bool("startupSync", false),
    stateInfoPullWhenMissing: r.bool("stateInfoPullWhenMissing", false),
    livenessFromTraffic: r.bool("livenessFromTraffic", false),
    aliveFollowsFabricPeers: r.bool("aliveFollowsFabricPeers", false),
    limits: readLimits(r),
  };

  crossChecks(config, values, problems, notes, present);
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, notes };
}

/** `peer.gossip.limits.*`: absent keys take DEFAULT_LIMITS; every count and duration must be above 0. */
function readLimits(r: Resolver): LimitsConfig {
  const d = DEFAULT_LIMITS;
  const int = (k: keyof LimitsConfig & string): number => r.int(`limits.${k}`, d[k] as number, "positive");
  const dur = (k: string, fallback: number): number => r.duration(`limits.${k}`, fallback, "positive");
  return {
    misbehaviourLimit: int("misbehaviourLimit"),
    misbehaviourWindowMs: dur("misbehaviourWindow", d.misbehaviourWindowMs),
    refuseDurationMs: dur("refuseDuration", d.refuseDurationMs),
    maxRefuseDurationMs: dur("maxRefuseDuration", d.maxRefuseDurationMs),
    refuseAddresses: r.bool("limits.refuseAddresses", d.refuseAddresses),
    maxHandshakesPerAddress: int("maxHandshakesPerAddress"),
    maxHandshakes: int("maxHandshakes"),
    maxConnectionsPerAddress: int("maxConnectionsPerAddress"),
    maxConnections: int("maxConnections"),
    membershipRequestsPerSecond: int("membershipRequestsPerSecond"),
    membershipRequestBurst: int("membershipRequestBurst"),
    pullRequestsPerSecond: int("pullRequestsPerSecond"),
    pullRequestBurst: int("pullRequestBurst"),
    stateRequestsPerSecond: int("stateRequestsPerSecond"),
    stateRequestBurst: int("stateRequestBurst"),
    maxSockets: int("maxSockets"),
    maxSocketsPerAddress: int("maxSocketsPerAddress"),
    maxPendingSockets: int("maxPendingSockets"),
    maxPendingSocketsPerAddress: int("maxPendingSocketsPerAddress"),
    firstCallTimeoutMs: dur("firstCallTimeout", d.firstCallTimeoutMs),
    tlsHandshakeTimeoutMs: dur("tlsHandshakeTimeout", d.tlsHandshakeTimeoutMs),
    preferDirectMembers: r.bool("limits.preferDirectMembers", d.preferDirectMembers),
    maxMembersPerResponse: int("maxMembersPerResponse"),
    maxMemberEntriesPerSender: int("maxMemberEntriesPerSender"),
    maxNewMembersPerOrg: int("maxNewMembersPerOrg"),
    memberQuotaIntervalMs: dur("memberQuotaInterval", d.memberQuotaIntervalMs),
    maxKnownMembersPerOrg: int("maxKnownMembersPerOrg"),
    maxKnownMembers: int("maxKnownMembers"),
    maxReconnectPings: int("maxReconnectPings"),
    maxReconnectBackoffMs: r.duration("limits.maxReconnectBackoff", d.maxReconnectBackoffMs),
  };
}

function crossChecks(
  c: GossipConfig,
  values: ReadonlyMap<string, Resolved>,
  problems: ConfigProblem[],
  notes: ConfigNote[],
  present: ReadonlySet<string>,
): void {
  const src = (path: string): { source?: ConfigSource } => {
    const r = values.get(path.toLowerCase());
    return r === undefined ? {} : { source: r.source };
  };
  const brokenKeys = new Set(problems.map((p) => p.key));
  const ok = (...paths: string[]): boolean => paths.every((p) => !brokenKeys.has(fullKey(p)));

  if (c.useLeaderElection && c.orgLeader) {
    problems.push({
      key: fullKey("useLeaderElection"),
      ...src("useLeaderElection"),
      message:
        "is true and peer.gossip.orgLeader is also true; Fabric aborts on this (\"Setting both orgLeader and useLeaderElection to true isn't supported\"). Expected at most one of them true: dynamic election or a static leader",
    });
  }
  if (ok("pullInterval", "digestWaitTime", "responseWaitTime") && c.pullIntervalMs <= c.digestWaitTimeMs + c.responseWaitTimeMs) {
    problems.push({
      key: fullKey("pullInterval"),
      ...src("pullInterval"),
      message: `is ${formatDurationMs(c.pullIntervalMs)}; expected more than peer.gossip.digestWaitTime + peer.gossip.responseWaitTime (${formatDurationMs(c.digestWaitTimeMs)} + ${formatDurationMs(c.responseWaitTimeMs)} = ${formatDurationMs(c.digestWaitTimeMs + c.responseWaitTimeMs)}), or a pull round would not end before the next begins`,
    });
  }
  if (ok("blockPullInterval", "digestWaitTime", "responseWaitTime") && c.blockPullIntervalMs > 0 && c.blockPullIntervalMs <= c.digestWaitTimeMs + c.responseWaitTimeMs) {
    problems.push({
      key: fullKey("blockPullInterval"),
      ...src("blockPullInterval"),
      message: `is ${formatDurationMs(c.blockPullIntervalMs)}; expected 0 (off) or more than peer.gossip.digestWaitTime + peer.gossip.responseWaitTime (${formatDurationMs(c.digestWaitTimeMs)} + ${formatDurationMs(c.responseWaitTimeMs)} = ${formatDurationMs(c.digestWaitTimeMs + c.responseWaitTimeMs)}), or a block pull round would not end before the next begins`,
    });
  }
  const ip = c.pvtData.implicitCollectionDisseminationPolicy;
  const ipBase = "pvtData.implicitCollectionDisseminationPolicy";
  if (ok(`${ipBase}.maxPeerCount`, `${ipBase}.requiredPeerCount`) && ip.requiredPeerCount >= 0 && ip.maxPeerCount < ip.requiredPeerCount) {
    problems.push({
      key: fullKey(`${ipBase}.maxPeerCount`),
      ...src(`${ipBase}.maxPeerCount`),
      message: `is ${ip.maxPeerCount}, less than requiredPeerCount (${ip.requiredPeerCount}); Fabric panics on this. Expected maxPeerCount >= requiredPeerCount`,
    });
  }

  if (present.has("stateinforetentioninterval")) {
    notes.push({
      key: fullKey("stateInfoRetentionInterval"),
      message: "is not read by Fabric (v1.4-v2.5; removed from the v3 sampleconfig); ignored",
    });
  }
  if (c.skipBlockVerification) {
    notes.push({ key: fullKey("skipBlockVerification"), message: "is true, but Fabric never uses it; blocks are verified anyway" });
  }
  if (c.pvtData.pushAckTimeoutMs === 0) {
    notes.push({
      key: fullKey("pvtData.pushAckTimeout"),
      message: 'is 0 (Fabric has no code default): private data pushes at endorsement fail with "Timeout should be specified"; core.yaml sets 3s',
    });
  }
  if (c.pvtData.pullRetryThresholdMs === 0) {
    notes.push({
      key: fullKey("pvtData.pullRetryThreshold"),
      message: "is 0 (Fabric has no code default): missing private data is not pulled from peers at commit; core.yaml sets 60s",
    });
  }
  if (!c.useLeaderElection && !c.orgLeader) {
    notes.push({
      key: fullKey("orgLeader"),
      message: "and peer.gossip.useLeaderElection are both false: this peer never connects to the ordering service (standby); another peer of the org must lead",
    });
  }
  if (ok("requestWaitTime", "digestWaitTime") && c.requestWaitTimeMs <= c.digestWaitTimeMs) {
    notes.push({
      key: fullKey("requestWaitTime"),
      message: `(${formatDurationMs(c.requestWaitTimeMs)}) should be slightly bigger than peer.gossip.digestWaitTime (${formatDurationMs(c.digestWaitTimeMs)}), or responders forget nonces before requests arrive`,
    });
  }
}

/**
 * The `peer.gossip` mapping of a parsed core.yaml document (`peer` and `gossip` matched
 * case-insensitively, as viper does), or undefined if there is none.
 * @throws ConfigError if `peer` is not a mapping.
 */
export function gossipSectionOf(coreYaml: unknown): unknown {
  if (coreYaml === null || coreYaml === undefined) return undefined;
  if (!isPlainObject(coreYaml)) {
    throw new ConfigError([{ key: "(core.yaml)", source: { kind: "yaml" }, message: `is ${show(coreYaml)}; expected a mapping with a peer section` }]);
  }
  const find = (o: Record<string, unknown>, name: string): unknown => {
    for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === name) return v;
    return undefined;
  };
  const peer = find(coreYaml, "peer");
  if (peer === null || peer === undefined) return undefined;
  if (!isPlainObject(peer)) {
    throw new ConfigError([{ key: "peer", source: { kind: "yaml" }, message: `is ${show(peer)}; expected a mapping` }]);
  }
  return find(peer, "gossip");
}

/**
 * Splits CLI assignments such as `pullInterval=10s` or `peer.gossip.election.leaderAliveThreshold=5s`
 * into an overrides record for {@link loadGossipConfig}.
 * @throws ConfigError naming each argument without '='.
 */
export function parseOverrideAssignments(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: ConfigProblem[] = [];
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq <= 0) {
      problems.push({ key: a, source: { kind: "override" }, message: 'expected key=value, e.g. "pullInterval=10s"' });
      continue;
    }
    out[a.slice(0, eq).trim()] = a.slice(eq + 1);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}
