import assert from "node:assert/strict";
import { test } from "node:test";
import { loadPeerConfig } from "../../../src/config/index.js";
import { DEFAULT_DELIVER_CLIENT_OPTIONS } from "../../../src/deliver/index.js";
import { DEFAULT_LEADER_ELECTION_OPTIONS } from "../../../src/election/index.js";
import { gossipServiceOptionsOf } from "../../../src/service/index.js";
import { DEFAULT_STATE_PROVIDER_OPTIONS, DEFAULT_STATE_REQUEST_BUDGET } from "../../../src/state/index.js";

test("every configured value reaches its option", () => {
  const { config } = loadPeerConfig({
    yaml: {
      peer: {
        gossip: {
          useLeaderElection: true,
          orgLeader: false,
          nonBlockingCommitMode: true,
          election: { startupGracePeriod: "20s", membershipSampleInterval: "2s", leaderAliveThreshold: "12s", leaderElectionDuration: "6s" },
          state: { enabled: true, checkInterval: "11s", responseTimeout: "4s", batchSize: 15, blockBufferSize: 30, maxRetries: 5, channelSize: 150, gapFillDelay: "500ms" },
          limits: { stateRequestsPerSecond: 7, stateRequestBurst: 9 },
          pvtData: {
            pullRetryThreshold: "20s",
            transientstoreMaxBlockRetention: 500,
            pushAckTimeout: "2s",
            btlPullMargin: 5,
            reconcileBatchSize: 3,
            reconcileSleepInterval: "15s",
            reconciliationEnabled: true,
            skipPullingInvalidTransactionsDuringCommit: true,
            implicitCollectionDisseminationPolicy: { requiredPeerCount: 1, maxPeerCount: 2 },
          },
        },
        deliveryclient: {
          blockGossipEnabled: false,
          reconnectTotalTimeThreshold: "10m",
          connTimeout: "4s",
          reConnectBackoffThreshold: "30s",
          addressOverrides: [{ from: "o:7050", to: "p:7050" }],
        },
      },
    },
  });
  assert.deepEqual(gossipServiceOptionsOf(config, "/var/ledgers"), {
    useLeaderElection: true,
    orgLeader: false,
    election: { startupGracePeriodMs: 20_000, membershipSampleIntervalMs: 2_000, leaderAliveThresholdMs: 12_000, leaderElectionDurationMs: 6_000 },
    state: {
      enabled: true,
      checkIntervalMs: 11_000,
      responseTimeoutMs: 4_000,
      batchSize: 15,
      maxRetries: 5,
      blockBufferSize: 30,
      channelSize: 150,
      gapFillDelayMs: 500,
      nonBlockingCommitMode: true,
      requestBudget: { perSecond: 7, burst: 9 },
    },
    deliver: { reconnectBackoffThresholdMs: 30_000, reconnectTotalTimeThresholdMs: 600_000, connTimeoutMs: 4_000, blockGossipEnabled: false },
    pvtData: {
      pullRetryThresholdMs: 20_000,
      transientstoreMaxBlockRetention: 500,
      pushAckTimeoutMs: 2_000,
      btlPullMargin: 5,
      reconcileBatchSize: 3,
      reconcileSleepIntervalMs: 15_000,
      reconciliationEnabled: true,
      skipPullingInvalidTransactionsDuringCommit: true,
      implicitCollectionDisseminationPolicy: { requiredPeerCount: 1, maxPeerCount: 2 },
    },
    ledgerRootDir: "/var/ledgers",
  });
});

test("a default configuration gives the parts' own defaults; options without a key are left to them", () => {
  const o = gossipServiceOptionsOf(loadPeerConfig().config, "ledgers");
  assert.equal(o.useLeaderElection, false);
  assert.equal(o.orgLeader, false);
  assert.deepEqual(o.election, { ...DEFAULT_LEADER_ELECTION_OPTIONS });
  const { useLeaderElection: _u, orgLeader: _o, ...stateDefaults } = DEFAULT_STATE_PROVIDER_OPTIONS;
  assert.deepEqual(o.state, { ...stateDefaults, requestBudget: { ...DEFAULT_STATE_REQUEST_BUDGET } }, "the leader flags come from the service, not from here");
  const { reconnectBackoffThresholdMs, reconnectTotalTimeThresholdMs, connTimeoutMs, blockGossipEnabled } = DEFAULT_DELIVER_CLIENT_OPTIONS;
  assert.deepEqual(o.deliver, { reconnectBackoffThresholdMs, reconnectTotalTimeThresholdMs, connTimeoutMs, blockGossipEnabled });
  assert.equal(o.deliverTls, undefined, "TLS toward the orderers is the caller's");
  assert.equal(o.blockStore, undefined);
  assert.equal(o.genesisDialTimeoutMs, undefined);
  // Fabric's code defaults when the keys are absent (a sample core.yaml sets 60s, 3s and true).
  assert.deepEqual(o.pvtData, {
    pullRetryThresholdMs: 0,
    transientstoreMaxBlockRetention: 1_000,
    pushAckTimeoutMs: 0,
    btlPullMargin: 10,
    reconcileBatchSize: 10,
    reconcileSleepIntervalMs: 60_000,
    reconciliationEnabled: false,
    skipPullingInvalidTransactionsDuringCommit: false,
    implicitCollectionDisseminationPolicy: { requiredPeerCount: 0, maxPeerCount: 1 },
  });
});

test("the options share nothing with the configuration", () => {
  const { config } = loadPeerConfig();
  const o = gossipServiceOptionsOf(config, "ledgers");
  o.election!.leaderAliveThresholdMs = 1;
  o.state!.batchSize = 1;
  o.deliver!.connTimeoutMs = 1;
  assert.equal(config.gossip.election.leaderAliveThresholdMs, 10_000);
  assert.equal(config.gossip.state.batchSize, 10);
  assert.equal(config.deliveryclient.connTimeoutMs, 3_000);
});

test("the static leader mode passes through", () => {
  const { config } = loadPeerConfig({ env: { CORE_PEER_GOSSIP_ORGLEADER: "true" } });
  const o = gossipServiceOptionsOf(config, "ledgers");
  assert.equal(o.orgLeader, true);
  assert.equal(o.useLeaderElection, false);
});
