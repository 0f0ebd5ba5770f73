import { type PeerConfig, stateRequestBudgetOf } from "../config/index.js";
import type { GossipServiceOptions } from "./gossip-service.js";

/**
 * GossipServiceOptions (src/service/gossip-service.ts) from the peer configuration: election.*,
 * state.*, pvtData.*, deliveryclient.*, leader mode. What Fabric's `gossip/service` takes from
 * `ServiceConfig`, `election.ElectionConfig`, `state.StateConfig` and `deliverservice.DeliverServiceConfig`.
 *
 * Options without a config key (backoff shape, message size, block store, genesis dial timeout)
 * keep their defaults; state's leader flags and deliver's yieldLeadership follow the leader mode
 * inside the service. TLS toward the orderers (`deliverTls`) is the caller's: it needs file contents.
 */
export function gossipServiceOptionsOf(config: PeerConfig, ledgerRootDir: string): GossipServiceOptions {
  const g = config.gossip;
  const dc = config.deliveryclient;
  return {
    useLeaderElection: g.useLeaderElection,
    orgLeader: g.orgLeader,
    election: {
      startupGracePeriodMs: g.election.startupGracePeriodMs,
      membershipSampleIntervalMs: g.election.membershipSampleIntervalMs,
      leaderAliveThresholdMs: g.election.leaderAliveThresholdMs,
      leaderElectionDurationMs: g.election.leaderElectionDurationMs,
    },
    state: {
      enabled: g.state.enabled,
      checkIntervalMs: g.state.checkIntervalMs,
      responseTimeoutMs: g.state.responseTimeoutMs,
      batchSize: g.state.batchSize,
      maxRetries: g.state.maxRetries,
      blockBufferSize: g.state.blockBufferSize,
      channelSize: g.state.channelSize,
      gapFillDelayMs: g.state.gapFillDelayMs,
      nonBlockingCommitMode: g.nonBlockingCommitMode,
      requestBudget: stateRequestBudgetOf(g.limits),
    },
    deliver: {
      reconnectBackoffThresholdMs: dc.reConnectBackoffThresholdMs,
      reconnectTotalTimeThresholdMs: dc.reconnectTotalTimeThresholdMs,
      connTimeoutMs: dc.connTimeoutMs,
      blockGossipEnabled: dc.blockGossipEnabled,
    },
    // Passed as read: absent keys are Fabric's code defaults (0 for pullRetryThreshold and pushAckTimeout,
    // false for reconciliationEnabled), not the sample core.yaml's, as a Fabric peer reads them (docs/CONFIG.md).
    pvtData: {
      pullRetryThresholdMs: g.pvtData.pullRetryThresholdMs,
      transientstoreMaxBlockRetention: g.pvtData.transientstoreMaxBlockRetention,
      pushAckTimeoutMs: g.pvtData.pushAckTimeoutMs,
      btlPullMargin: g.pvtData.btlPullMargin,
      reconcileBatchSize: g.pvtData.reconcileBatchSize,
      reconcileSleepIntervalMs: g.pvtData.reconcileSleepIntervalMs,
      reconciliationEnabled: g.pvtData.reconciliationEnabled,
      skipPullingInvalidTransactionsDuringCommit: g.pvtData.skipPullingInvalidTransactionsDuringCommit,
      implicitCollectionDisseminationPolicy: { ...g.pvtData.implicitCollectionDisseminationPolicy },
    },
    ledgerRootDir,
  };
}
