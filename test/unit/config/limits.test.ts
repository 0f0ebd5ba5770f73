/** fabric-gossip's `peer.gossip.limits.*` keys (not in Fabric): defaults, layers, validation, and where they go. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_COMM_OPTIONS, DEFAULT_SOCKET_LIMITS } from "../../../src/comm/index.js";
import {
  ConfigError,
  commOptionsOf,
  DEFAULT_LIMITS,
  EXTENSION_READ_IN,
  GOSSIP_KEYS,
  gossipEnvName,
  loadGossipConfig,
  socketLimitsOf,
  stateRequestBudgetOf,
} from "../../../src/config/index.js";
import { resolveDiscoveryOptions } from "../../../src/discovery/index.js";
import { gossipNodeOptionsOf } from "../../../src/service/index.js";
import { DEFAULT_STATE_REQUEST_BUDGET } from "../../../src/state/index.js";

test("absent keys give the components' own defaults", () => {
  const { config } = loadGossipConfig({});
  assert.deepEqual(config.limits, { ...DEFAULT_LIMITS });
  const comm = commOptionsOf(config);
  assert.equal(comm.misbehaviourLimit, DEFAULT_COMM_OPTIONS.misbehaviourLimit);
  assert.deepEqual(comm.requestBudgets, DEFAULT_COMM_OPTIONS.requestBudgets);
  assert.equal(comm.maxHandshakesPerAddress, DEFAULT_COMM_OPTIONS.maxHandshakesPerAddress);
  const sockets = socketLimitsOf(config.limits);
  for (const [k, v] of Object.entries(sockets)) assert.equal(v, DEFAULT_SOCKET_LIMITS[k as keyof typeof DEFAULT_SOCKET_LIMITS], k);
  assert.deepEqual(stateRequestBudgetOf(config.limits), { ...DEFAULT_STATE_REQUEST_BUDGET });
});

test("every layer sets them; they reach comm, the gRPC server and the state provider", () => {
  const { config } = loadGossipConfig({
    yaml: { limits: { misbehaviourLimit: 3, refuseDuration: "30s", refuseAddresses: false, stateRequestsPerSecond: 7 } },
    env: { [gossipEnvName("limits.maxPendingSocketsPerAddress")]: "16", [gossipEnvName("limits.tlsHandshakeTimeout")]: "2s" },
    overrides: { "limits.pullRequestBurst": "99" },
  });
  const comm = commOptionsOf(config);
  assert.equal(comm.misbehaviourLimit, 3);
  assert.equal(comm.refuseMs, 30_000);
  assert.equal(comm.refuseAddresses, false);
  assert.equal(comm.requestBudgets.pull.burst, 99);
  assert.equal(socketLimitsOf(config.limits).maxPendingSocketsPerAddress, 16);
  assert.equal(socketLimitsOf(config.limits).tlsHandshakeTimeoutMs, 2_000);
  assert.equal(stateRequestBudgetOf(config.limits).perSecond, 7);
  assert.equal(gossipEnvName("limits.maxSockets"), "CORE_PEER_GOSSIP_LIMITS_MAXSOCKETS");
});

test("discovery's bounds and the routing preference reach the node's options; the defaults are discovery's", () => {
  const d = gossipNodeOptionsOf(loadGossipConfig({}).config, "127.0.0.1:7051");
  assert.equal(d.preferDirectMembers, true);
  const r = resolveDiscoveryOptions({ reconnectIntervalMs: 1_000, ...d.discoveryLimits });
  const def = resolveDiscoveryOptions({ reconnectIntervalMs: 1_000 });
  assert.deepEqual(r, def, "the config's defaults are discovery's own (maxReconnectBackoff follows reconnectInterval)");
  const { config } = loadGossipConfig({
    yaml: { limits: { preferDirectMembers: false, maxNewMembersPerOrg: 7, memberQuotaInterval: "10s", maxReconnectBackoff: "2m" } },
  });
  const o = gossipNodeOptionsOf(config, "127.0.0.1:7051");
  assert.equal(o.preferDirectMembers, false);
  assert.equal(o.discoveryLimits?.maxNewMembersPerOrgPerInterval, 7);
  assert.equal(o.discoveryLimits?.memberQuotaIntervalMs, 10_000);
  assert.equal(o.discoveryLimits?.maxReconnectBackoffMs, 120_000);
});

test("0 or a negative value is refused, naming the key", () => {
  for (const [k, v] of [
    ["misbehaviourLimit", 0],
    ["maxSockets", -1],
    ["firstCallTimeout", "0s"],
  ] as const) {
    assert.throws(
      () => loadGossipConfig({ yaml: { limits: { [k]: v } } }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`peer.gossip.limits.${k}`),
      k,
    );
  }
});

test("the key table marks them as ours, absent from core.yaml", () => {
  const limits = GOSSIP_KEYS.filter((s) => s.path.startsWith("limits."));
  assert.equal(limits.length, Object.keys(DEFAULT_LIMITS).length);
  for (const s of limits) {
    assert.equal(s.readIn, EXTENSION_READ_IN, s.path);
    assert.equal(s.yaml, undefined, s.path);
    assert.equal(s.read, "ifSet", s.path);
  }
});
