/** fabric-gossip's extension key peer.gossip.blockPullInterval: off by default, settable from every layer, validated. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, EXTENSION_READ_IN, GOSSIP_KEYS, gossipEnvName, loadGossipConfig } from "../../../src/config/index.js";

test("off unless set: absent and 0 both give 0 (Fabric's behaviour), with no note", () => {
  assert.equal(loadGossipConfig({}).config.blockPullIntervalMs, 0);
  const zero = loadGossipConfig({ yaml: { blockPullInterval: "0s" } });
  assert.equal(zero.config.blockPullIntervalMs, 0);
  assert.deepEqual(zero.notes.filter((n) => n.key === "peer.gossip.blockPullInterval"), []);
});

test("set from core.yaml, from CORE_PEER_GOSSIP_BLOCKPULLINTERVAL and from overrides, the highest layer winning", () => {
  assert.equal(gossipEnvName("blockPullInterval"), "CORE_PEER_GOSSIP_BLOCKPULLINTERVAL");
  const digest = { digestWaitTime: "10ms", responseWaitTime: "40ms" };
  assert.equal(loadGossipConfig({ yaml: { ...digest, blockPullInterval: "100ms" } }).config.blockPullIntervalMs, 100);
  assert.equal(
    loadGossipConfig({ yaml: { ...digest, blockPullInterval: "100ms" }, env: { CORE_PEER_GOSSIP_BLOCKPULLINTERVAL: "250ms" } }).config.blockPullIntervalMs,
    250,
  );
  assert.equal(
    loadGossipConfig({ yaml: digest, env: { CORE_PEER_GOSSIP_BLOCKPULLINTERVAL: "250ms" }, overrides: { blockPullInterval: "75ms" } }).config.blockPullIntervalMs,
    75,
  );
  // pullInterval is untouched by it
  assert.equal(loadGossipConfig({ yaml: { ...digest, blockPullInterval: "100ms" } }).config.pullIntervalMs, 4_000);
});

test("a block pull interval not above digestWaitTime + responseWaitTime is an error naming the key and the sum", () => {
  assert.throws(
    () => loadGossipConfig({ yaml: { blockPullInterval: "3s" } }),
    (e: unknown) => e instanceof ConfigError && /peer\.gossip\.blockPullInterval/.test(e.message) && /1s \+ 2s = 3s/.test(e.message),
  );
  assert.throws(() => loadGossipConfig({ yaml: { blockPullInterval: "-1s" } }), (e: unknown) => e instanceof ConfigError && /blockPullInterval/.test(e.message));
  assert.throws(() => loadGossipConfig({ yaml: { blockPullInterval: 5 } }), (e: unknown) => e instanceof ConfigError && /blockPullInterval/.test(e.message));
  assert.equal(loadGossipConfig({ yaml: { blockPullInterval: "3001ms" } }).config.blockPullIntervalMs, 3_001);
});

test("the key table marks it as ours: not in core.yaml, read plainly (0 is off)", () => {
  const spec = GOSSIP_KEYS.find((s) => s.path === "blockPullInterval");
  assert.ok(spec !== undefined);
  assert.equal(spec.readIn, EXTENSION_READ_IN);
  assert.equal(spec.yaml, undefined);
  assert.equal(spec.kind, "duration");
  assert.equal(spec.read, "plain");
  assert.deepEqual(
    GOSSIP_KEYS.filter((s) => s.readIn === EXTENSION_READ_IN && !s.path.startsWith("limits.")).map((s) => s.path),
    ["state.gapFillDelay", "blockPullInterval", "pullWaitsFollowRtt", "membershipDelta", "stateInfoPullWhenMissing", "livenessFromTraffic", "aliveFollowsFabricPeers", "startupSync"],
  );
});
