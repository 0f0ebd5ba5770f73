import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ConfigError,
  type ConfigProblem,
  type GossipConfigLayers,
  checkHostPort,
  gossipSectionFromCoreYaml,
  gossipSectionOf,
  isHostPort,
  loadGossipConfig,
  parseOverrideAssignments,
} from "../../../src/config/index.js";
import { GossipError } from "../../../src/util/errors.js";

/** Loads, expects a ConfigError, checks its shape, returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(err instanceof GossipError);
    assert.equal(err.code, "CONFIG_INVALID");
    assert.equal(err.name, "ConfigError");
    assert.ok(err.problems.length > 0);
    for (const p of err.problems) assert.ok(err.message.includes(p.key), `message names ${p.key}`);
    return err;
  }
  assert.fail("expected a ConfigError");
}

function problemFor(layers: GossipConfigLayers, key: string): { problem: ConfigProblem; err: ConfigError } {
  const err = configError(() => loadGossipConfig(layers));
  const problem = err.problems.find((p) => p.key === key);
  assert.ok(problem, `a problem for ${key} in: ${err.message}`);
  return { problem, err };
}

/** [what, layers, full key named, the message says what is wrong and what is expected] */
const CASES: ReadonlyArray<[string, GossipConfigLayers, string, RegExp]> = [
  // unknown keys
  ["unknown top-level key", { yaml: { pullIntervl: "4s" } }, "peer.gossip.pullIntervl", /not a key Fabric knows; did you mean peer\.gossip\.pullInterval\?/],
  ["unknown key in a section", { yaml: { election: { leaderAliveTreshold: "1s" } } }, "peer.gossip.election.leaderAliveTreshold", /did you mean peer\.gossip\.election\.leaderAliveThreshold/],
  ["unknown key far from any", { yaml: { zzzzzzzzzzzzzz: 1 } }, "peer.gossip.zzzzzzzzzzzzzz", /not a key Fabric knows \(see docs\/CONFIG\.md/],
  ["unknown section key", { yaml: { pvtData: { implicitCollectionDisseminationPolicy: { minPeerCount: 1 } } } }, "peer.gossip.pvtData.implicitCollectionDisseminationPolicy.minPeerCount", /not a key/],
  ["unknown env variable", { env: { CORE_PEER_GOSSIP_PULLINTERVL: "4s" } }, "CORE_PEER_GOSSIP_PULLINTERVL", /did you mean CORE_PEER_GOSSIP_PULLINTERVAL\?/],
  ["unknown override", { overrides: { pullintervl: "4s" } }, "peer.gossip.pullintervl", /did you mean peer\.gossip\.pullInterval/],
  ["override naming a section", { overrides: { election: "1s" } }, "peer.gossip.election", /section; name a key inside it/],
  ["a section that is not a mapping", { yaml: { election: "10s" } }, "peer.gossip.election", /is "10s"; expected a mapping of keys/],
  ["a key that is a mapping", { yaml: { pullInterval: { s: 4 } } }, "peer.gossip.pullInterval", /is a mapping; expected a Go duration/],
  ["the same key twice (case-insensitive)", { yaml: { pullInterval: "5s", PULLINTERVAL: "6s" } }, "peer.gossip.pullInterval", /given twice/],
  // ill-typed values
  ["a string where an int is expected (yaml)", { yaml: { propagatePeerNum: "three" } }, "peer.gossip.propagatePeerNum", /got the string "three".*expected a whole number/],
  ["a quoted number where an int is expected (yaml)", { yaml: { sendBuffSize: "200" } }, "peer.gossip.sendBuffSize", /without quotes.*expected a whole number/],
  ["a fraction where an int is expected", { yaml: { pullPeerNum: 2.5 } }, "peer.gossip.pullPeerNum", /got 2\.5; expected a whole number/],
  ["a bool where an int is expected", { yaml: { state: { batchSize: true } } }, "peer.gossip.state.batchSize", /got true; expected a whole number/],
  ["a non-number in env", { env: { CORE_PEER_GOSSIP_RECVBUFFSIZE: "20k" } }, "peer.gossip.recvBuffSize", /got "20k"; expected a whole number/],
  ["an octal-looking number in env", { env: { CORE_PEER_GOSSIP_RECVBUFFSIZE: "020" } }, "peer.gossip.recvBuffSize", /octal/],
  ["a bad duration", { yaml: { pullInterval: "4x" } }, "peer.gossip.pullInterval", /unknown unit "x".*expected one of the units/],
  ["a garbage duration in env", { env: { CORE_PEER_GOSSIP_DIALTIMEOUT: "soon" } }, "peer.gossip.dialTimeout", /invalid duration "soon".*e\.g\. "4s"/],
  ["a duration without unit (yaml number)", { yaml: { connTimeout: 2 } }, "peer.gossip.connTimeout", /number 2, which has no unit.*nanoseconds.*expected a Go duration/],
  ["a duration without unit (string)", { env: { CORE_PEER_GOSSIP_PVTDATA_PUSHACKTIMEOUT: "3000" } }, "peer.gossip.pvtData.pushAckTimeout", /no unit.*expected a Go duration/],
  ["a string where a bool is expected (yaml)", { yaml: { orgLeader: "yes" } }, "peer.gossip.orgLeader", /got the string "yes".*expected true or false/],
  ["a bad bool in env", { env: { CORE_PEER_GOSSIP_STATE_ENABLED: "yes" } }, "peer.gossip.state.enabled", /got "yes".*expected true or false/],
  ["a number where a bool is expected", { yaml: { nonBlockingCommitMode: 1 } }, "peer.gossip.nonBlockingCommitMode", /got 1; expected true or false/],
  ["a number where an endpoint is expected", { yaml: { endpoint: 7051 } }, "peer.gossip.endpoint", /got 7051; expected host:port/],
  // negative counts and durations
  ["a negative count (0-means-default key)", { yaml: { propagatePeerNum: -1 } }, "peer.gossip.propagatePeerNum", /negative \(-1\); expected a value above 0 \(0 or empty means the default, 3\)/],
  ["a negative count in env", { env: { CORE_PEER_GOSSIP_MAXCONNECTIONATTEMPTS: "-5" } }, "peer.gossip.maxConnectionAttempts", /negative/],
  ["a negative requiredPeerCount", { yaml: { pvtData: { implicitCollectionDisseminationPolicy: { requiredPeerCount: -1 } } } }, "peer.gossip.pvtData.implicitCollectionDisseminationPolicy.requiredPeerCount", /negative \(-1\); expected 0 or more \(Fabric panics/],
  ["a negative btlPullMargin", { yaml: { pvtData: { btlPullMargin: -3 } } }, "peer.gossip.pvtData.btlPullMargin", /negative.*ignores a negative margin/],
  ["a negative state.maxRetries", { yaml: { state: { maxRetries: -1 } } }, "peer.gossip.state.maxRetries", /negative.*0 or more/],
  ["a negative duration", { yaml: { aliveTimeInterval: "-5s" } }, "peer.gossip.aliveTimeInterval", /negative \(-5s\)/],
  ["a negative plain duration", { yaml: { pvtData: { pullRetryThreshold: "-1m" } } }, "peer.gossip.pvtData.pullRetryThreshold", /negative \(-1m0s\); expected 0 or more/],
  ["a zero state.checkInterval", { yaml: { state: { checkInterval: "0s" } } }, "peer.gossip.state.checkInterval", /is 0; expected a duration above 0/],
  ["a zero state.batchSize", { yaml: { state: { batchSize: 0 } } }, "peer.gossip.state.batchSize", /is 0; expected 1 or more/],
  ["a zero state.blockBufferSize", { env: { CORE_PEER_GOSSIP_STATE_BLOCKBUFFERSIZE: "0" } }, "peer.gossip.state.blockBufferSize", /is 0; expected 1 or more/],
  // the rules the components rely on without re-checking them (pull engine, channel, batcher, election, state)
  ["a negative pullInterval", { yaml: { pullInterval: "-4s" } }, "peer.gossip.pullInterval", /negative \(-4s\); expected a value above 0/],
  ["a pullInterval longer than a Node timer", { yaml: { pullInterval: "600h" } }, "peer.gossip.pullInterval", /expected at most .*24\.8 days/],
  ["a negative digestWaitTime", { yaml: { digestWaitTime: "-1s" } }, "peer.gossip.digestWaitTime", /negative/],
  ["a negative requestWaitTime", { env: { CORE_PEER_GOSSIP_REQUESTWAITTIME: "-1s" } }, "peer.gossip.requestWaitTime", /negative/],
  ["a negative responseWaitTime", { overrides: { responseWaitTime: "-2s" } }, "peer.gossip.responseWaitTime", /negative/],
  ["a negative blockPullInterval", { yaml: { blockPullInterval: "-1s" } }, "peer.gossip.blockPullInterval", /negative \(-1s\); expected 0 or more/],
  ["a negative publishStateInfoInterval", { yaml: { publishStateInfoInterval: "-4s" } }, "peer.gossip.publishStateInfoInterval", /negative/],
  ["a negative requestStateInfoInterval", { yaml: { requestStateInfoInterval: "-4s" } }, "peer.gossip.requestStateInfoInterval", /negative/],
  ["a negative membershipTrackerInterval", { yaml: { membershipTrackerInterval: "-5s" } }, "peer.gossip.membershipTrackerInterval", /negative/],
  ["a negative maxBlockCountToStore", { yaml: { maxBlockCountToStore: -1 } }, "peer.gossip.maxBlockCountToStore", /negative \(-1\)/],
  ["a fractional maxBlockCountToStore", { yaml: { maxBlockCountToStore: 1.5 } }, "peer.gossip.maxBlockCountToStore", /got 1\.5; expected a whole number/],
  ["a negative pullPeerNum", { yaml: { pullPeerNum: -1 } }, "peer.gossip.pullPeerNum", /negative \(-1\)/],
  ["a negative propagateIterations", { yaml: { propagateIterations: -1 } }, "peer.gossip.propagateIterations", /negative \(-1\)/],
  ["a fractional propagateIterations", { yaml: { propagateIterations: 1.5 } }, "peer.gossip.propagateIterations", /got 1\.5; expected a whole number/],
  ["a negative maxPropagationBurstLatency", { yaml: { maxPropagationBurstLatency: "-10ms" } }, "peer.gossip.maxPropagationBurstLatency", /negative/],
  ["a negative maxPropagationBurstSize", { yaml: { maxPropagationBurstSize: -10 } }, "peer.gossip.maxPropagationBurstSize", /negative/],
  ["a negative election.startupGracePeriod", { yaml: { election: { startupGracePeriod: "-1s" } } }, "peer.gossip.election.startupGracePeriod", /negative/],
  ["a negative election.membershipSampleInterval", { yaml: { election: { membershipSampleInterval: "-1s" } } }, "peer.gossip.election.membershipSampleInterval", /negative/],
  ["a negative election.leaderAliveThreshold", { yaml: { election: { leaderAliveThreshold: "-10s" } } }, "peer.gossip.election.leaderAliveThreshold", /negative/],
  ["a negative election.leaderElectionDuration", { yaml: { election: { leaderElectionDuration: "-5s" } } }, "peer.gossip.election.leaderElectionDuration", /negative/],
  ["a zero state.responseTimeout", { yaml: { state: { responseTimeout: "0s" } } }, "peer.gossip.state.responseTimeout", /is 0; expected a duration above 0/],
  ["a zero state.channelSize", { yaml: { state: { channelSize: 0 } } }, "peer.gossip.state.channelSize", /is 0; expected 1 or more \(a queue of 0 would drop every state request/],
  ["a negative state.channelSize", { env: { CORE_PEER_GOSSIP_STATE_CHANNELSIZE: "-1" } }, "peer.gossip.state.channelSize", /negative/],
  ["a duration longer than a Node timer", { yaml: { pvtData: { reconcileSleepInterval: "600h" } } }, "peer.gossip.pvtData.reconcileSleepInterval", /is 600h0m0s; expected at most .*24\.8 days/],
  // endpoints
  ["endpoint without port", { yaml: { endpoint: "peer0.org1.example.com" } }, "peer.gossip.endpoint", /"peer0\.org1\.example\.com", which has no port; expected host:port/],
  ["externalEndpoint with a bad port", { env: { CORE_PEER_GOSSIP_EXTERNALENDPOINT: "peer0:70510" } }, "peer.gossip.externalEndpoint", /port 70510, outside 1-65535/],
  ["externalEndpoint with a scheme", { overrides: { externalEndpoint: "grpcs://peer0:7051" } }, "peer.gossip.externalEndpoint", /too many colons/],
  ["bootstrap entry without host", { yaml: { bootstrap: ":7051" } }, "peer.gossip.bootstrap", /entry ":7051" has no host/],
  ["bootstrap list with a bad entry", { yaml: { bootstrap: ["a.example.com:7051", "b.example.com"] } }, "peer.gossip.bootstrap", /entry "b\.example\.com" has no port/],
  ["bootstrap separated by commas", { env: { CORE_PEER_GOSSIP_BOOTSTRAP: "a:1,b:2" } }, "peer.gossip.bootstrap", /contains a comma \(separate entries with spaces\)/],
  ["bootstrap list with a non-string", { yaml: { bootstrap: [7051] } }, "peer.gossip.bootstrap", /entry 7051 is not a string/],
  // cross-key rules
  ["pullInterval equal to digestWaitTime + responseWaitTime", { yaml: { pullInterval: "3s" } }, "peer.gossip.pullInterval", /is 3s; expected more than peer\.gossip\.digestWaitTime \+ peer\.gossip\.responseWaitTime \(1s \+ 2s = 3s\)/],
  ["pullInterval below the waits", { yaml: { digestWaitTime: "3s", responseWaitTime: "3s" } }, "peer.gossip.pullInterval", /is 4s; expected more than .*= 6s/],
  ["useLeaderElection with orgLeader", { yaml: { useLeaderElection: true, orgLeader: true } }, "peer.gossip.useLeaderElection", /peer\.gossip\.orgLeader is also true.*Expected at most one of them true/],
  ["useLeaderElection with orgLeader from env", { yaml: { orgLeader: true }, env: { CORE_PEER_GOSSIP_USELEADERELECTION: "true" } }, "peer.gossip.useLeaderElection", /orgLeader/],
  ["maxPeerCount below requiredPeerCount", { yaml: { pvtData: { implicitCollectionDisseminationPolicy: { requiredPeerCount: 2 } } } }, "peer.gossip.pvtData.implicitCollectionDisseminationPolicy.maxPeerCount", /is 1, less than requiredPeerCount \(2\).*Expected maxPeerCount >= requiredPeerCount/],
];

for (const [what, layers, key, re] of CASES) {
  test(`error names the key: ${what}`, () => {
    const { problem } = problemFor(layers, key);
    assert.match(problem.message, re);
    assert.match(problem.message, /expected|Expected|did you mean|given twice|name a key|not a key/);
  });
}

test("the source of the offending value is named", () => {
  assert.deepEqual(problemFor({ yaml: { pullPeerNum: "x" } }, "peer.gossip.pullPeerNum").problem.source, { kind: "yaml" });
  const env = problemFor({ env: { CORE_PEER_GOSSIP_PULLPEERNUM: "x" } }, "peer.gossip.pullPeerNum");
  assert.deepEqual(env.problem.source, { kind: "env", name: "CORE_PEER_GOSSIP_PULLPEERNUM" });
  assert.match(env.err.message, /peer\.gossip\.pullPeerNum \(from env CORE_PEER_GOSSIP_PULLPEERNUM\)/);
  assert.deepEqual(problemFor({ overrides: { pullPeerNum: "x" } }, "peer.gossip.pullPeerNum").problem.source, { kind: "override" });
});

test("all problems are collected and reported together", () => {
  const err = configError(() =>
    loadGossipConfig({
      yaml: {
        pullIntervl: "4s",
        propagatePeerNum: -1,
        endpoint: "nope",
        election: { leaderAliveThreshold: "ten seconds" },
        useLeaderElection: true,
        orgLeader: true,
        state: { batchSize: 0 },
      },
      env: { CORE_PEER_GOSSIP_DIALTIMEOUT: "3", CORE_PEER_GOSSIP_NOPE: "1" },
      overrides: { "pvtData.btlPullMargin": -1 },
    }),
  );
  assert.deepEqual(new Set(err.problems.map((p) => p.key)), new Set([
    "peer.gossip.pullIntervl",
    "peer.gossip.propagatePeerNum",
    "peer.gossip.endpoint",
    "peer.gossip.election.leaderAliveThreshold",
    "peer.gossip.useLeaderElection",
    "peer.gossip.state.batchSize",
    "peer.gossip.dialTimeout",
    "CORE_PEER_GOSSIP_NOPE",
    "peer.gossip.pvtData.btlPullMargin",
  ]));
  assert.match(err.message, /^invalid gossip configuration \(9 problems\):\n {2}- /);
});

test("a broken value in a layer that is overridden is never read, as in viper", () => {
  const { config } = loadGossipConfig({ yaml: { pullInterval: "junk" }, env: { CORE_PEER_GOSSIP_PULLINTERVAL: "5s" } });
  assert.equal(config.pullIntervalMs, 5_000);
});

test("a cross-key rule is not reported on top of a broken value", () => {
  const err = configError(() => loadGossipConfig({ yaml: { digestWaitTime: "junk", pullInterval: "1s" } }));
  assert.deepEqual(err.problems.map((p) => p.key), ["peer.gossip.digestWaitTime"]);
});

test("a bad peer.gossip section, bad YAML text and bad CLI assignments are ConfigErrors", () => {
  assert.match(configError(() => loadGossipConfig({ yaml: "pullInterval: 4s" })).message, /peer\.gossip.*expected a mapping/);
  assert.match(configError(() => loadGossipConfig({ yaml: [1, 2] })).message, /peer\.gossip.*is a list; expected a mapping/);
  assert.match(configError(() => gossipSectionFromCoreYaml("peer:\n  gossip: [\n")).message, /not valid YAML at line \d+, column \d+/);
  assert.match(configError(() => gossipSectionFromCoreYaml("peer:\n  gossip:\n    a: 1\n    a: 2\n")).message, /not valid YAML/);
  assert.match(configError(() => gossipSectionFromCoreYaml("peer: 5\n")).message, /peer.*expected a mapping/);
  assert.equal(gossipSectionFromCoreYaml("orderer:\n  x: 1\n"), undefined);
  assert.equal(gossipSectionFromCoreYaml(""), undefined);
  assert.deepEqual(gossipSectionOf({ Peer: { Gossip: { pullInterval: "5s" } } }), { pullInterval: "5s" });
  const err = configError(() => parseOverrideAssignments(["pullInterval", "=4s", "a=b"]));
  assert.deepEqual(err.problems.map((p) => p.key), ["pullInterval", "=4s"]);
  assert.match(err.message, /expected key=value/);
});

test("checkHostPort accepts host:port as Fabric dials it and says what is wrong otherwise", () => {
  for (const ok of [
    "127.0.0.1:7051",
    "localhost:7051",
    "peer0.org1.example.com:7051",
    "peer0_org1:1",
    "[::1]:7051",
    "[2001:db8::1]:65535",
    "PEER0.ORG1.EXAMPLE.COM:7051",
  ]) {
    assert.equal(checkHostPort(ok), undefined, ok);
    assert.ok(isHostPort(ok));
  }
  const bad: ReadonlyArray<[string, RegExp]> = [
    ["peer0", /no port/],
    ["peer0:", /no port/],
    [":7051", /no host/],
    ["peer0:0", /outside 1-65535/],
    ["peer0:65536", /outside 1-65535/],
    ["peer0:http", /not a number/],
    ["::1:7051", /too many colons/],
    ["[::1]7051", /no ':port'/],
    ["[::1:7051", /without a matching/],
    ["[peer0]:7051", /not an IPv6 address/],
    ["peer 0:7051", /not a host name/],
    ["-peer:7051", /not a host name/],
    [" peer0:7051", /whitespace/],
  ];
  for (const [text, re] of bad) {
    assert.match(checkHostPort(text) ?? "", re, text);
    assert.ok(!isHostPort(text));
  }
});
