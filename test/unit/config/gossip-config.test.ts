import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { DEFAULT_COMM_OPTIONS } from "../../../src/comm/index.js";
import {
  DEFAULT_GOSSIP_CONFIG,
  GOSSIP_KEYS,
  type GossipConfig,
  aliveExpirationCheckIntervalMs,
  aliveMsgStoreTtlMs,
  blockExpirationIntervalMs,
  commOptionsOf,
  defaultGossipConfig,
  gossipEnvName,
  gossipSectionFromCoreYaml,
  internalEndpointOf,
  leaderHeartbeatIntervalMs,
  leaderYieldDurationMs,
  leadershipMsgExpirationTimeoutMs,
  loadGossipConfig,
  msgStoreCheckIntervalMs,
  msgStorePhysicalDeleteMs,
  parseOverrideAssignments,
  stateInfoCacheSweepIntervalMs,
  stateInfoMsgStoreTtlMs,
} from "../../../src/config/index.js";
import { SAMPLE_CORE_YAML } from "./fixtures.js";

/** Reads a dotted field path of a GossipConfig. */
function field(c: GossipConfig, path: string): unknown {
  let v: unknown = c;
  for (const part of path.split(".")) {
    assert.ok(v !== null && typeof v === "object", `${path}: ${part} is not reachable`);
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Every GossipConfig leaf path. */
function leaves(o: object, prefix = ""): string[] {
  return Object.entries(o).flatMap(([k, v]) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? leaves(v as object, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

/**
 * FABRIC-REFERENCE.md section 3, transcribed independently of src/: Fabric key, GossipConfig field,
 * code default (what an absent key gives), core.yaml value.
 */
const TABLE: ReadonlyArray<[key: string, field: string, codeDefault: unknown, yaml: unknown]> = [
  ["bootstrap", "bootstrap", [], ["127.0.0.1:7051"]],
  ["useLeaderElection", "useLeaderElection", false, false],
  ["orgLeader", "orgLeader", false, true],
  ["membershipTrackerInterval", "membershipTrackerIntervalMs", 5_000, 5_000],
  ["endpoint", "endpoint", "", ""],
  ["maxBlockCountToStore", "maxBlockCountToStore", 10, 10],
  ["maxPropagationBurstLatency", "maxPropagationBurstLatencyMs", 10, 10],
  ["maxPropagationBurstSize", "maxPropagationBurstSize", 10, 10],
  ["propagateIterations", "propagateIterations", 1, 1],
  ["propagatePeerNum", "propagatePeerNum", 3, 3],
  ["pullInterval", "pullIntervalMs", 4_000, 4_000],
  ["pullPeerNum", "pullPeerNum", 3, 3],
  ["requestStateInfoInterval", "requestStateInfoIntervalMs", 4_000, 4_000],
  ["publishStateInfoInterval", "publishStateInfoIntervalMs", 4_000, 4_000],
  ["publishCertPeriod", "publishCertPeriodMs", 10_000, 10_000],
  ["skipBlockVerification", "skipBlockVerification", false, false],
  ["dialTimeout", "dialTimeoutMs", 3_000, 3_000],
  ["connTimeout", "connTimeoutMs", 2_000, 2_000],
  ["recvBuffSize", "recvBuffSize", 20, 20],
  ["sendBuffSize", "sendBuffSize", 20, 200],
  ["digestWaitTime", "digestWaitTimeMs", 1_000, 1_000],
  ["requestWaitTime", "requestWaitTimeMs", 1_500, 1_500],
  ["responseWaitTime", "responseWaitTimeMs", 2_000, 2_000],
  ["aliveTimeInterval", "aliveTimeIntervalMs", 5_000, 5_000],
  ["aliveExpirationTimeout", "aliveExpirationTimeoutMs", 25_000, 25_000],
  ["reconnectInterval", "reconnectIntervalMs", 25_000, 25_000],
  ["maxConnectionAttempts", "maxConnectionAttempts", 120, 120],
  ["msgExpirationFactor", "msgExpirationFactor", 20, 20],
  ["externalEndpoint", "externalEndpoint", "", ""],
  ["election.startupGracePeriod", "election.startupGracePeriodMs", 15_000, 15_000],
  ["election.membershipSampleInterval", "election.membershipSampleIntervalMs", 1_000, 1_000],
  ["election.leaderAliveThreshold", "election.leaderAliveThresholdMs", 10_000, 10_000],
  ["election.leaderElectionDuration", "election.leaderElectionDurationMs", 5_000, 5_000],
  ["pvtData.pullRetryThreshold", "pvtData.pullRetryThresholdMs", 0, 60_000],
  ["pvtData.transientstoreMaxBlockRetention", "pvtData.transientstoreMaxBlockRetention", 1_000, 1_000],
  ["pvtData.pushAckTimeout", "pvtData.pushAckTimeoutMs", 0, 3_000],
  ["pvtData.btlPullMargin", "pvtData.btlPullMargin", 10, 10],
  ["pvtData.reconcileBatchSize", "pvtData.reconcileBatchSize", 10, 10],
  ["pvtData.reconcileSleepInterval", "pvtData.reconcileSleepIntervalMs", 60_000, 60_000],
  ["pvtData.reconciliationEnabled", "pvtData.reconciliationEnabled", false, true],
  [
    "pvtData.skipPullingInvalidTransactionsDuringCommit",
    "pvtData.skipPullingInvalidTransactionsDuringCommit",
    false,
    false,
  ],
  [
    "pvtData.implicitCollectionDisseminationPolicy.requiredPeerCount",
    "pvtData.implicitCollectionDisseminationPolicy.requiredPeerCount",
    0,
    0,
  ],
  [
    "pvtData.implicitCollectionDisseminationPolicy.maxPeerCount",
    "pvtData.implicitCollectionDisseminationPolicy.maxPeerCount",
    1,
    1,
  ],
  ["state.enabled", "state.enabled", false, false],
  ["state.checkInterval", "state.checkIntervalMs", 10_000, 10_000],
  ["state.responseTimeout", "state.responseTimeoutMs", 3_000, 3_000],
  ["state.batchSize", "state.batchSize", 10, 10],
  ["state.blockBufferSize", "state.blockBufferSize", 20, 20],
  ["state.maxRetries", "state.maxRetries", 3, 3],
  // not in core.yaml: the yaml column is the code default
  ["state.channelSize", "state.channelSize", 100, 100],
  ["nonBlockingCommitMode", "nonBlockingCommitMode", false, false],
  // fabric-gossip's extension (not in Fabric, not in core.yaml): off unless set
  ["blockPullInterval", "blockPullIntervalMs", 0, 0],
  ["pullWaitsFollowRtt", "pullWaitsFollowRtt", false, false],
  ["membershipDelta", "membershipDelta", false, false],
  ["stateInfoPullWhenMissing", "stateInfoPullWhenMissing", false, false],
  ["livenessFromTraffic", "livenessFromTraffic", false, false],
  ["aliveFollowsFabricPeers", "aliveFollowsFabricPeers", false, false],
  ["startupSync", "startupSync", false, false],
  ["state.gapFillDelay", "state.gapFillDelayMs", 0, 0],
  // fabric-gossip's limits against misbehaving peers and floods (not in Fabric): on unless set otherwise
  ["limits.misbehaviourLimit", "limits.misbehaviourLimit", 10, 10],
  ["limits.misbehaviourWindow", "limits.misbehaviourWindowMs", 60_000, 60_000],
  ["limits.refuseDuration", "limits.refuseDurationMs", 60_000, 60_000],
  ["limits.maxRefuseDuration", "limits.maxRefuseDurationMs", 3_600_000, 3_600_000],
  ["limits.refuseAddresses", "limits.refuseAddresses", true, true],
  ["limits.maxHandshakesPerAddress", "limits.maxHandshakesPerAddress", 32, 32],
  ["limits.maxHandshakes", "limits.maxHandshakes", 256, 256],
  ["limits.maxConnectionsPerAddress", "limits.maxConnectionsPerAddress", 256, 256],
  ["limits.maxConnections", "limits.maxConnections", 1_024, 1_024],
  ["limits.membershipRequestsPerSecond", "limits.membershipRequestsPerSecond", 5, 5],
  ["limits.membershipRequestBurst", "limits.membershipRequestBurst", 20, 20],
  ["limits.pullRequestsPerSecond", "limits.pullRequestsPerSecond", 100, 100],
  ["limits.pullRequestBurst", "limits.pullRequestBurst", 400, 400],
  ["limits.stateRequestsPerSecond", "limits.stateRequestsPerSecond", 50, 50],
  ["limits.stateRequestBurst", "limits.stateRequestBurst", 100, 100],
  ["limits.maxSockets", "limits.maxSockets", 2_048, 2_048],
  ["limits.maxSocketsPerAddress", "limits.maxSocketsPerAddress", 512, 512],
  ["limits.maxPendingSockets", "limits.maxPendingSockets", 512, 512],
  ["limits.maxPendingSocketsPerAddress", "limits.maxPendingSocketsPerAddress", 64, 64],
  ["limits.firstCallTimeout", "limits.firstCallTimeoutMs", 10_000, 10_000],
  ["limits.tlsHandshakeTimeout", "limits.tlsHandshakeTimeoutMs", 5_000, 5_000],
  ["limits.preferDirectMembers", "limits.preferDirectMembers", true, true],
  ["limits.maxMembersPerResponse", "limits.maxMembersPerResponse", 1_000, 1_000],
  ["limits.maxMemberEntriesPerSender", "limits.maxMemberEntriesPerSender", 5_000, 5_000],
  ["limits.maxNewMembersPerOrg", "limits.maxNewMembersPerOrg", 500, 500],
  ["limits.memberQuotaInterval", "limits.memberQuotaIntervalMs", 60_000, 60_000],
  ["limits.maxKnownMembersPerOrg", "limits.maxKnownMembersPerOrg", 2_000, 2_000],
  ["limits.maxKnownMembers", "limits.maxKnownMembers", 10_000, 10_000],
  ["limits.maxReconnectPings", "limits.maxReconnectPings", 32, 32],
  ["limits.maxReconnectBackoff", "limits.maxReconnectBackoffMs", 0, 0],
];

/** Keys read with GetIntOrDefault / GetDurationOrDefault or an explicit zero check (0 means the default). */
const ZERO_MEANS_DEFAULT: readonly string[] = [
  "membershipTrackerInterval",
  "maxBlockCountToStore",
  "maxPropagationBurstLatency",
  "maxPropagationBurstSize",
  "propagateIterations",
  "propagatePeerNum",
  "pullInterval",
  "pullPeerNum",
  "requestStateInfoInterval",
  "publishStateInfoInterval",
  "publishCertPeriod",
  "dialTimeout",
  "connTimeout",
  "recvBuffSize",
  "sendBuffSize",
  "digestWaitTime",
  "requestWaitTime",
  "responseWaitTime",
  "aliveTimeInterval",
  "aliveExpirationTimeout",
  "reconnectInterval",
  "maxConnectionAttempts",
  "msgExpirationFactor",
  "election.startupGracePeriod",
  "election.membershipSampleInterval",
  "election.leaderAliveThreshold",
  "election.leaderElectionDuration",
  "pvtData.transientstoreMaxBlockRetention",
  "pvtData.reconcileBatchSize",
  "pvtData.reconcileSleepInterval",
];

const DURATION_FIELDS = new Set(TABLE.filter(([, f]) => f.endsWith("Ms")).map(([k]) => k));

test("the table covers every GossipConfig field and every key config/ knows (besides the dead one)", () => {
  assert.deepEqual(new Set(TABLE.map(([, f]) => f)), new Set(leaves(DEFAULT_GOSSIP_CONFIG)));
  assert.deepEqual(
    new Set(TABLE.map(([k]) => k)),
    new Set(GOSSIP_KEYS.filter((s) => s.read !== "ignored").map((s) => s.path)),
  );
  assert.deepEqual(
    GOSSIP_KEYS.filter((s) => s.read === "ignored").map((s) => s.path),
    ["stateInfoRetentionInterval"],
  );
  assert.deepEqual(
    new Set(GOSSIP_KEYS.filter((s) => s.read === "zeroMeansDefault").map((s) => s.path)),
    new Set(ZERO_MEANS_DEFAULT),
  );
});

test("every default equals Fabric's code default (section 3), not the core.yaml value", () => {
  for (const [key, f, codeDefault] of TABLE) {
    assert.deepEqual(field(DEFAULT_GOSSIP_CONFIG, f), codeDefault, key);
  }
  const loaded = loadGossipConfig({});
  assert.deepEqual(loaded.config, defaultGossipConfig());
  assert.deepEqual(loaded.config, { ...DEFAULT_GOSSIP_CONFIG });
  // the quirks called out in section 7
  assert.equal(DEFAULT_GOSSIP_CONFIG.sendBuffSize, 20);
  assert.equal(DEFAULT_GOSSIP_CONFIG.pvtData.pullRetryThresholdMs, 0);
  assert.equal(DEFAULT_GOSSIP_CONFIG.pvtData.pushAckTimeoutMs, 0);
  assert.ok(Object.isFrozen(DEFAULT_GOSSIP_CONFIG) && Object.isFrozen(DEFAULT_GOSSIP_CONFIG.pvtData.implicitCollectionDisseminationPolicy));
  // a fresh copy is independent
  const copy = defaultGossipConfig();
  copy.election.leaderAliveThresholdMs = 1;
  assert.equal(DEFAULT_GOSSIP_CONFIG.election.leaderAliveThresholdMs, 10_000);
});

test("the derived defaults follow the resolved values: aliveExpirationTimeout = 5 x aliveTimeInterval, reconnectInterval = aliveExpirationTimeout", () => {
  const a = loadGossipConfig({ yaml: { aliveTimeInterval: "2s" } }).config;
  assert.equal(a.aliveExpirationTimeoutMs, 10_000);
  assert.equal(a.reconnectIntervalMs, 10_000);
  assert.equal(aliveExpirationCheckIntervalMs(a), 1_000);
  const b = loadGossipConfig({ yaml: { aliveTimeInterval: "2s", aliveExpirationTimeout: "7s" } }).config;
  assert.equal(b.aliveExpirationTimeoutMs, 7_000);
  assert.equal(b.reconnectIntervalMs, 7_000);
  const c = loadGossipConfig({ yaml: { aliveTimeInterval: "2s", aliveExpirationTimeout: "7s", reconnectInterval: "3s" } }).config;
  assert.equal(c.reconnectIntervalMs, 3_000);
  // 0 means the default, and the default is the derived one
  const d = loadGossipConfig({ yaml: { aliveTimeInterval: "1s", aliveExpirationTimeout: 0, reconnectInterval: "0s" } }).config;
  assert.equal(d.aliveExpirationTimeoutMs, 5_000);
  assert.equal(d.reconnectIntervalMs, 5_000);
});

test("the derived timers of section 3.1 at the defaults", () => {
  const c = DEFAULT_GOSSIP_CONFIG;
  assert.equal(aliveExpirationCheckIntervalMs(c), 2_500);
  const ttl = aliveMsgStoreTtlMs(c);
  assert.equal(ttl, 500_000);
  assert.equal(msgStorePhysicalDeleteMs(ttl), 1_000_000);
  assert.equal(msgStoreCheckIntervalMs(ttl), 5_000);
  assert.equal(stateInfoMsgStoreTtlMs(c), 400_000);
  assert.equal(blockExpirationIntervalMs(c), 400_000);
  assert.equal(stateInfoCacheSweepIntervalMs(c), 20_000);
  assert.equal(leadershipMsgExpirationTimeoutMs(c), 100_000);
  assert.equal(leaderHeartbeatIntervalMs(c), 5_000);
  assert.equal(leaderYieldDurationMs(c), 60_000);
  assert.equal(internalEndpointOf(c, "peer0.org1:7051"), "peer0.org1:7051");
  assert.equal(internalEndpointOf({ endpoint: "p:1" }, "peer0.org1:7051"), "p:1");
});

test("commOptionsOf carries the comm keys, and Fabric's comm defaults agree with comm/", () => {
  assert.deepEqual(commOptionsOf(DEFAULT_GOSSIP_CONFIG), DEFAULT_COMM_OPTIONS);
  const c = loadGossipConfig({ yaml: { sendBuffSize: 200, dialTimeout: "1s" } }).config;
  const o = commOptionsOf(c, { maxMessageSize: 1024 });
  assert.equal(o.sendBuffSize, 200);
  assert.equal(o.dialTimeoutMs, 1_000);
  assert.equal(o.maxMessageSize, 1024);
  assert.equal(o.handshakeTimeoutMs, DEFAULT_COMM_OPTIONS.handshakeTimeoutMs);
});

test("Fabric's sampleconfig core.yaml loads to the yaml column", () => {
  const section = gossipSectionFromCoreYaml(SAMPLE_CORE_YAML);
  const { config, notes } = loadGossipConfig({ yaml: section });
  for (const [key, f, , yaml] of TABLE) {
    assert.deepEqual(field(config, f), yaml, key);
  }
  // the spec table's yaml column agrees with the fixture
  for (const spec of GOSSIP_KEYS) {
    const parts = spec.path.split(".");
    let v: unknown = section;
    for (const p of parts) v = v === undefined || v === null ? undefined : (v as Record<string, unknown>)[p];
    if (spec.yaml === undefined) assert.equal(v, undefined, spec.path);
    else if (spec.yaml === null) assert.equal(v, null, spec.path);
    else assert.equal(String(v), spec.yaml, spec.path);
  }
  const noted = notes.map((n) => n.key);
  assert.ok(noted.includes("peer.gossip.stateInfoRetentionInterval"), "the dead key is noted");
  assert.ok(!noted.includes("peer.gossip.pvtData.pushAckTimeout"));
});

test("environment variables are viper's: CORE_ + the full key uppercased, dots as underscores", () => {
  assert.equal(gossipEnvName("useLeaderElection"), "CORE_PEER_GOSSIP_USELEADERELECTION");
  assert.equal(gossipEnvName("election.leaderAliveThreshold"), "CORE_PEER_GOSSIP_ELECTION_LEADERALIVETHRESHOLD");
  assert.equal(
    gossipEnvName("pvtData.implicitCollectionDisseminationPolicy.maxPeerCount"),
    "CORE_PEER_GOSSIP_PVTDATA_IMPLICITCOLLECTIONDISSEMINATIONPOLICY_MAXPEERCOUNT",
  );
  assert.equal(gossipEnvName("externalEndpoint"), "CORE_PEER_GOSSIP_EXTERNALENDPOINT");
});

test("env overrides yaml for every kind of key; bootstrap is a space-separated list", () => {
  const yaml = gossipSectionFromCoreYaml(SAMPLE_CORE_YAML);
  const env = {
    CORE_PEER_GOSSIP_BOOTSTRAP: "peer1.org1.example.com:7051   peer2.org1.example.com:8051 [::1]:7051",
    CORE_PEER_GOSSIP_USELEADERELECTION: "true",
    CORE_PEER_GOSSIP_ORGLEADER: "false",
    CORE_PEER_GOSSIP_ENDPOINT: "peer0.org1.example.com:7051",
    CORE_PEER_GOSSIP_EXTERNALENDPOINT: "peer0.org1.example.com:7051",
    CORE_PEER_GOSSIP_PULLINTERVAL: "1m",
    CORE_PEER_GOSSIP_PROPAGATEPEERNUM: "7",
    CORE_PEER_GOSSIP_SENDBUFFSIZE: "+300",
    CORE_PEER_GOSSIP_ELECTION_LEADERALIVETHRESHOLD: "2500ms",
    CORE_PEER_GOSSIP_PVTDATA_PULLRETRYTHRESHOLD: "1.5m",
    CORE_PEER_GOSSIP_PVTDATA_RECONCILIATIONENABLED: "F",
    CORE_PEER_GOSSIP_PVTDATA_IMPLICITCOLLECTIONDISSEMINATIONPOLICY_MAXPEERCOUNT: "4",
    CORE_PEER_GOSSIP_STATE_ENABLED: "1",
    CORE_PEER_GOSSIP_STATE_CHANNELSIZE: "5",
    CORE_PEER_GOSSIP_NONBLOCKINGCOMMITMODE: "TRUE",
    // ignored: empty (viper without AllowEmptyEnv) and not ours
    CORE_PEER_GOSSIP_DIALTIMEOUT: "",
    CORE_PEER_ADDRESS: "x",
    PATH: "/bin",
  };
  const { config } = loadGossipConfig({ yaml, env });
  assert.deepEqual(config.bootstrap, ["peer1.org1.example.com:7051", "peer2.org1.example.com:8051", "[::1]:7051"]);
  assert.equal(config.useLeaderElection, true);
  assert.equal(config.orgLeader, false);
  assert.equal(config.endpoint, "peer0.org1.example.com:7051");
  assert.equal(config.externalEndpoint, "peer0.org1.example.com:7051");
  assert.equal(config.pullIntervalMs, 60_000);
  assert.equal(config.propagatePeerNum, 7);
  assert.equal(config.sendBuffSize, 300);
  assert.equal(config.election.leaderAliveThresholdMs, 2_500);
  assert.equal(config.pvtData.pullRetryThresholdMs, 90_000);
  assert.equal(config.pvtData.reconciliationEnabled, false);
  assert.equal(config.pvtData.implicitCollectionDisseminationPolicy.maxPeerCount, 4);
  assert.equal(config.state.enabled, true);
  assert.equal(config.state.channelSize, 5);
  assert.equal(config.nonBlockingCommitMode, true);
  assert.equal(config.dialTimeoutMs, 3_000, "empty env var leaves the yaml value");
  assert.equal(config.recvBuffSize, 20, "untouched keys keep the yaml value");
});

test("overrides (CLI flags) beat env, env beats yaml, yaml beats defaults", () => {
  const yaml = { pullInterval: "5s", pullPeerNum: 4, election: { leaderElectionDuration: "6s" } };
  const env = { CORE_PEER_GOSSIP_PULLINTERVAL: "6s", CORE_PEER_GOSSIP_PULLPEERNUM: "5" };
  const overrides = {
    pullInterval: "7s",
    "peer.gossip.election.leaderElectionDuration": "8s",
    "pvtData.btlPullMargin": 3,
    bootstrap: ["a.example.com:7051", "b.example.com:7051"],
    orgLeader: "true",
    "state.enabled": true,
    dialTimeout: undefined,
    connTimeout: null,
  };
  const c1 = loadGossipConfig({ yaml }).config;
  assert.equal(c1.pullIntervalMs, 5_000);
  assert.equal(c1.pullPeerNum, 4);
  const c2 = loadGossipConfig({ yaml, env }).config;
  assert.equal(c2.pullIntervalMs, 6_000);
  assert.equal(c2.pullPeerNum, 5);
  const c3 = loadGossipConfig({ yaml, env, overrides }).config;
  assert.equal(c3.pullIntervalMs, 7_000);
  assert.equal(c3.pullPeerNum, 5);
  assert.equal(c3.election.leaderElectionDurationMs, 8_000);
  assert.equal(c3.pvtData.btlPullMargin, 3);
  assert.deepEqual(c3.bootstrap, ["a.example.com:7051", "b.example.com:7051"]);
  assert.equal(c3.orgLeader, true);
  assert.equal(c3.state.enabled, true);
  assert.equal(c3.dialTimeoutMs, 3_000, "an undefined override sets nothing");
  assert.equal(c3.connTimeoutMs, 2_000, "a null override sets nothing");
});

test("parseOverrideAssignments turns key=value arguments into overrides", () => {
  const o = parseOverrideAssignments(["pullInterval=10s", "peer.gossip.bootstrap=a.b:1 c.d:2", "endpoint="]);
  assert.deepEqual(o, { pullInterval: "10s", "peer.gossip.bootstrap": "a.b:1 c.d:2", endpoint: "" });
  const c = loadGossipConfig({ overrides: o }).config;
  assert.equal(c.pullIntervalMs, 10_000);
  assert.deepEqual(c.bootstrap, ["a.b:1", "c.d:2"]);
  assert.equal(c.endpoint, "");
});

test("keys match case-insensitively in yaml and overrides, as in viper", () => {
  const c = loadGossipConfig({
    yaml: { PullInterval: "9s", ELECTION: { leaderalivethreshold: "3s" } },
    overrides: { PROPAGATEPEERNUM: "6" },
  }).config;
  assert.equal(c.pullIntervalMs, 9_000);
  assert.equal(c.election.leaderAliveThresholdMs, 3_000);
  assert.equal(c.propagatePeerNum, 6);
});

test("zero means default: 0 or empty for a GetIntOrDefault/GetDurationOrDefault key gives the code default, with a note", () => {
  for (const key of ZERO_MEANS_DEFAULT) {
    const [, f, codeDefault] = TABLE.find(([k]) => k === key)!;
    const isDuration = DURATION_FIELDS.has(key);
    const envName = gossipEnvName(key);
    const nested = (v: unknown): Record<string, unknown> => {
      const parts = key.split(".");
      let o: unknown = v;
      for (const p of parts.slice().reverse()) o = { [p]: o };
      return o as Record<string, unknown>;
    };
    for (const layers of [
      { yaml: nested(0) },
      { yaml: nested("") },
      ...(isDuration ? [{ yaml: nested("0s") }, { yaml: nested("0ms") }, { yaml: nested("0") }] : []),
      { env: { [envName]: "0" } },
      { overrides: { [key]: 0 } },
      { overrides: { [key]: isDuration ? "0s" : "0" } },
      // 0 in a higher layer wins over the yaml value and then means the default, as in viper
      { yaml: nested(isDuration ? "45s" : 45), env: { [envName]: isDuration ? "0h" : "0" } },
    ]) {
      const { config, notes } = loadGossipConfig(layers);
      assert.deepEqual(field(config, f), codeDefault, `${key} ${JSON.stringify(layers)}`);
      assert.ok(
        notes.some((n) => n.key === `peer.gossip.${key}` && /use the default/.test(n.message)),
        `${key}: note for ${JSON.stringify(layers)}`,
      );
    }
  }
  // propagateIterations: 0 cannot be configured (section 7, item 1)
  assert.equal(loadGossipConfig({ yaml: { propagateIterations: 0 } }).config.propagateIterations, 1);
});

test("keys read plainly or with IsSet keep an explicit 0", () => {
  const { config, notes } = loadGossipConfig({
    yaml: {
      pvtData: {
        pullRetryThreshold: 0,
        pushAckTimeout: "0s",
        btlPullMargin: 0,
        implicitCollectionDisseminationPolicy: { requiredPeerCount: 0, maxPeerCount: 0 },
      },
      state: { maxRetries: 0 },
    },
  });
  assert.equal(config.pvtData.pullRetryThresholdMs, 0);
  assert.equal(config.pvtData.pushAckTimeoutMs, 0);
  assert.equal(config.pvtData.btlPullMargin, 0);
  assert.equal(config.pvtData.implicitCollectionDisseminationPolicy.maxPeerCount, 0);
  assert.equal(config.state.maxRetries, 0);
  assert.ok(notes.some((n) => n.key === "peer.gossip.pvtData.pushAckTimeout" && /Timeout should be specified/.test(n.message)));
  assert.ok(notes.some((n) => n.key === "peer.gossip.pvtData.pullRetryThreshold"));
  // empty (not null) for a plain key is its zero value, as viper's GetX("") gives
  const e = loadGossipConfig({ yaml: { pvtData: { pullRetryThreshold: "", reconciliationEnabled: "" }, orgLeader: "" } }).config;
  assert.equal(e.pvtData.pullRetryThresholdMs, 0);
  assert.equal(e.pvtData.reconciliationEnabled, false);
  assert.equal(e.orgLeader, false);
});

test("a key with no value (YAML null) is not set, so a lower layer or the default applies", () => {
  const { config } = loadGossipConfig({
    yaml: { pullInterval: null, pvtData: { implicitCollectionDisseminationPolicy: { maxPeerCount: null } }, state: null, election: null },
  });
  assert.equal(config.pullIntervalMs, 4_000);
  assert.equal(config.pvtData.implicitCollectionDisseminationPolicy.maxPeerCount, 1);
  assert.deepEqual(config.state, DEFAULT_GOSSIP_CONFIG.state);
});

test("the dead key stateInfoRetentionInterval is accepted with any value and ignored, with a note", () => {
  for (const v of [null, "10s", 12, "anything", { a: 1 }]) {
    const { config, notes } = loadGossipConfig({ yaml: { stateInfoRetentionInterval: v } });
    assert.deepEqual(config, defaultGossipConfig());
    assert.ok(notes.some((n) => n.key === "peer.gossip.stateInfoRetentionInterval" && /not read/.test(n.message)));
  }
  const env = loadGossipConfig({ env: { CORE_PEER_GOSSIP_STATEINFORETENTIONINTERVAL: "5s" } });
  assert.ok(env.notes.some((n) => n.key === "peer.gossip.stateInfoRetentionInterval"));
  const skip = loadGossipConfig({ yaml: { skipBlockVerification: true } });
  assert.equal(skip.config.skipBlockVerification, true);
  assert.ok(skip.notes.some((n) => n.key === "peer.gossip.skipBlockVerification"));
});

test("property: any valid duration for any duration key loads to its milliseconds through every layer", () => {
  const durationKeys = TABLE.filter(([k]) => DURATION_FIELDS.has(k));
  fc.assert(
    fc.property(
      fc.constantFrom(...durationKeys),
      fc.integer({ min: 1, max: 86_400_000 }),
      fc.constantFrom("yaml", "env", "override"),
      ([key, f], ms, layer) => {
        // keep the pull timing rule satisfied
        const base = { pullInterval: "25h" };
        const text = `${ms}ms`;
        const nested = key.split(".").reverse().reduce<unknown>((o, p) => ({ [p]: o }), text) as Record<string, unknown>;
        const layers =
          layer === "yaml"
            ? { yaml: { ...base, ...nested } }
            : layer === "env"
              ? { yaml: base, env: { [gossipEnvName(key)]: text } }
              : { yaml: base, overrides: { [key]: text } };
        // The pull intervals must exceed digestWaitTime + responseWaitTime (3 s): covered by the error tests.
        if ((key === "pullInterval" || key === "blockPullInterval") && ms <= 3_000) return;
        const { config } = loadGossipConfig(layers);
        assert.equal(field(config, f), ms);
      },
    ),
    { numRuns: 300 },
  );
});
