/**
 * Every `peer.gossip.*` key Fabric v2.5.16 knows, how Fabric reads it, and its sampleconfig value,
 * plus fabric-gossip's extension keys (`readIn` is {@link EXTENSION_READ_IN}; Fabric has no such key).
 * This table drives parsing (kind), the "0 means default" quirk (read), unknown-key detection, the
 * environment variable names, and docs/CONFIG.md.
 */
import { KeyIndex, closestOf, envNameOf } from "./key-index.js";

/** How a value is written. */
export type GossipKeyKind =
  /** A Go duration ("4s"); see duration.ts. */
  | "duration"
  /** A whole number. */
  | "int"
  /** true or false. */
  | "bool"
  /** A `host:port`, or empty. */
  | "endpoint"
  /** `host:port` entries: a YAML list, or one string separated by spaces (viper's GetStringSlice). */
  | "endpointList"
  /** Anything: the key is never read. */
  | "any";

/** How Fabric reads the key, which decides what an absent, empty or zero value means. */
export type GossipKeyRead =
  /**
   * `util.GetIntOrDefault` / `GetDurationOrDefault`, or an explicit `if v == 0 { v = default }`:
   * absent, empty and 0 all mean the code default, so the key cannot be set to 0.
   */
  | "zeroMeansDefault"
  /** `viper.GetBool/GetInt/GetDuration/GetString`: absent means the zero value, and 0 is 0. */
  | "plain"
  /** `if viper.IsSet(k)` (or `viper.Get(k) != nil`): absent means the code default, but 0 is 0. */
  | "ifSet"
  /** Never read. */
  | "ignored";

export interface GossipKeySpec {
  /** The key below `peer.gossip`, spelled as in Fabric's core.yaml, e.g. "election.leaderAliveThreshold". */
  readonly path: string;
  readonly kind: GossipKeyKind;
  readonly read: GossipKeyRead;
  /** The value in Fabric v2.5.16 `sampleconfig/core.yaml`; null if the key is there but empty; undefined if absent. */
  readonly yaml: string | null | undefined;
  /** Fabric's code default (what an absent key gives), as text. */
  readonly codeDefault: string;
  /** The Fabric file that reads it. */
  readonly readIn: string;
}

const G = "gossip/gossip/config.go";
const S = "gossip/service/config.go";
const P = "gossip/privdata/config.go";
const ST = "gossip/state/config.go";
/** The `readIn` of a key Fabric does not have: ours, opt-in, off when absent. */
export const EXTENSION_READ_IN = "fabric-gossip extension (not in Fabric)";

function k(
  path: string,
  kind: GossipKeyKind,
  read: GossipKeyRead,
  yaml: string | null | undefined,
  codeDefault: string,
  readIn: string,
): GossipKeySpec {
  return Object.freeze({ path, kind, read, yaml, codeDefault, readIn });
}

/** All keys, in core.yaml order (the two keys absent from core.yaml, then our extensions, last). */
export const GOSSIP_KEYS: readonly GossipKeySpec[] = Object.freeze([
  k("bootstrap", "endpointList", "plain", "127.0.0.1:7051", "empty list", "internal/peer/node/start.go"),
  k("useLeaderElection", "bool", "plain", "false", "false", S),
  k("orgLeader", "bool", "plain", "true", "false", S),
  k("membershipTrackerInterval", "duration", "zeroMeansDefault", "5s", "5s", G),
  k("endpoint", "endpoint", "plain", null, "empty (peer.address is used)", S),
  k("maxBlockCountToStore", "int", "zeroMeansDefault", "10", "10", G),
  k("maxPropagationBurstLatency", "duration", "zeroMeansDefault", "10ms", "10ms", G),
  k("maxPropagationBurstSize", "int", "zeroMeansDefault", "10", "10", G),
  k("propagateIterations", "int", "zeroMeansDefault", "1", "1", G),
  k("propagatePeerNum", "int", "zeroMeansDefault", "3", "3", G),
  k("pullInterval", "duration", "zeroMeansDefault", "4s", "4s", G),
  k("pullPeerNum", "int", "zeroMeansDefault", "3", "3", G),
  k("requestStateInfoInterval", "duration", "zeroMeansDefault", "4s", "4s", G),
  k("publishStateInfoInterval", "duration", "zeroMeansDefault", "4s", "4s", G),
  k("stateInfoRetentionInterval", "any", "ignored", null, "not read", "-"),
  k("publishCertPeriod", "duration", "zeroMeansDefault", "10s", "10s", G),
  k("skipBlockVerification", "bool", "plain", "false", "false", G),
  k("dialTimeout", "duration", "zeroMeansDefault", "3s", "3s", G),
  k("connTimeout", "duration", "zeroMeansDefault", "2s", "2s", G),
  k("recvBuffSize", "int", "zeroMeansDefault", "20", "20", G),
  k("sendBuffSize", "int", "zeroMeansDefault", "200", "20", G),
  k("digestWaitTime", "duration", "zeroMeansDefault", "1s", "1s", G),
  k("requestWaitTime", "duration", "zeroMeansDefault", "1500ms", "1500ms", G),
  k("responseWaitTime", "duration", "zeroMeansDefault", "2s", "2s", G),
  k("aliveTimeInterval", "duration", "zeroMeansDefault", "5s", "5s", G),
  k("aliveExpirationTimeout", "duration", "zeroMeansDefault", "25s", "5 x aliveTimeInterval", G),
  k("reconnectInterval", "duration", "zeroMeansDefault", "25s", "aliveExpirationTimeout", G),
  k("maxConnectionAttempts", "int", "zeroMeansDefault", "120", "120", G),
  k("msgExpirationFactor", "int", "zeroMeansDefault", "20", "20", G),
  k("externalEndpoint", "endpoint", "plain", null, "empty", G),
  k("election.startupGracePeriod", "duration", "zeroMeansDefault", "15s", "15s", S),
  k("election.membershipSampleInterval", "duration", "zeroMeansDefault", "1s", "1s", S),
  k("election.leaderAliveThreshold", "duration", "zeroMeansDefault", "10s", "10s", `${S}, ${G}`),
  k("election.leaderElectionDuration", "duration", "zeroMeansDefault", "5s", "5s", S),
  k("pvtData.pullRetryThreshold", "duration", "plain", "60s", "0", S),
  k("pvtData.transientstoreMaxBlockRetention", "int", "zeroMeansDefault", "1000", "1000", S),
  k("pvtData.pushAckTimeout", "duration", "plain", "3s", "0", S),
  k("pvtData.btlPullMargin", "int", "ifSet", "10", "10", S),
  k("pvtData.reconcileBatchSize", "int", "zeroMeansDefault", "10", "10", P),
  k("pvtData.reconcileSleepInterval", "duration", "zeroMeansDefault", "1m", "1m", P),
  k("pvtData.reconciliationEnabled", "bool", "plain", "true", "false", P),
  k("pvtData.skipPullingInvalidTransactionsDuringCommit", "bool", "plain", "false", "false", S),
  k("pvtData.implicitCollectionDisseminationPolicy.requiredPeerCount", "int", "plain", "0", "0", P),
  k("pvtData.implicitCollectionDisseminationPolicy.maxPeerCount", "int", "ifSet", "1", "1", P),
  k("state.enabled", "bool", "ifSet", "false", "false", ST),
  k("state.checkInterval", "duration", "ifSet", "10s", "10s", ST),
  k("state.responseTimeout", "duration", "ifSet", "3s", "3s", ST),
  k("state.batchSize", "int", "ifSet", "10", "10", ST),
  k("state.blockBufferSize", "int", "ifSet", "20", "20", ST),
  k("state.maxRetries", "int", "ifSet", "3", "3", ST),
  k("state.channelSize", "int", "ifSet", undefined, "100", ST),
  k("state.gapFillDelay", "duration", "plain", undefined, "0 (off: a gap waits for checkInterval, as in Fabric)", EXTENSION_READ_IN),
  k("nonBlockingCommitMode", "bool", "plain", undefined, "false", S),
  // Block pull rounds every this long, and at once on a gap in pushed blocks (docs/CONFIG.md, Extensions).
  k("blockPullInterval", "duration", "plain", undefined, "0 (off: block pull every pullInterval, as in Fabric)", EXTENSION_READ_IN),
  // Block pull waits that follow the measured round trip (docs/CONFIG.md, Extensions).
  k("pullWaitsFollowRtt", "bool", "plain", undefined, "false (off: the configured waits, as in Fabric)", EXTENSION_READ_IN),
  // Membership sync requests list the members known; responses carry only news (docs/CONFIG.md, Extensions).
  k("membershipDelta", "bool", "plain", undefined, "false (off: whole responses, as in Fabric)", EXTENSION_READ_IN),
  // StateInfo pull only while a channel member's StateInfo is missing (docs/CONFIG.md, Extensions).
  k("stateInfoPullWhenMissing", "bool", "plain", undefined, "false (off: a pull every requestStateInfoInterval, as in Fabric)", EXTENSION_READ_IN),
  // Any message over a member's own connection keeps it alive, as its alive messages do (docs/CONFIG.md, Extensions).
  k("livenessFromTraffic", "bool", "plain", undefined, "false (off: only alive messages, as in Fabric)", EXTENSION_READ_IN),
  // Alive messages at Fabric's pace while a member known to be a Fabric peer is alive (docs/CONFIG.md, Extensions).
  k("aliveFollowsFabricPeers", "bool", "plain", undefined, "false (off: alive messages every aliveTimeInterval, as in Fabric)", EXTENSION_READ_IN),
  // Early membership syncs after start, asking every org known (docs/CONFIG.md, Extensions).
  k("startupSync", "bool", "plain", undefined, "false (off: the first sync after pullInterval, as in Fabric)", EXTENSION_READ_IN),
  // Limits against misbehaving peers and floods, on by default (docs/CONFIG.md, Extensions).
  k("limits.misbehaviourLimit", "int", "ifSet", undefined, "10", EXTENSION_READ_IN),
  k("limits.misbehaviourWindow", "duration", "ifSet", undefined, "1m", EXTENSION_READ_IN),
  k("limits.refuseDuration", "duration", "ifSet", undefined, "1m", EXTENSION_READ_IN),
  k("limits.maxRefuseDuration", "duration", "ifSet", undefined, "1h", EXTENSION_READ_IN),
  k("limits.refuseAddresses", "bool", "ifSet", undefined, "true", EXTENSION_READ_IN),
  k("limits.maxHandshakesPerAddress", "int", "ifSet", undefined, "32", EXTENSION_READ_IN),
  k("limits.maxHandshakes", "int", "ifSet", undefined, "256", EXTENSION_READ_IN),
  k("limits.maxConnectionsPerAddress", "int", "ifSet", undefined, "256", EXTENSION_READ_IN),
  k("limits.maxConnections", "int", "ifSet", undefined, "1024", EXTENSION_READ_IN),
  k("limits.membershipRequestsPerSecond", "int", "ifSet", undefined, "5", EXTENSION_READ_IN),
  k("limits.membershipRequestBurst", "int", "ifSet", undefined, "20", EXTENSION_READ_IN),
  k("limits.pullRequestsPerSecond", "int", "ifSet", undefined, "100", EXTENSION_READ_IN),
  k("limits.pullRequestBurst", "int", "ifSet", undefined, "400", EXTENSION_READ_IN),
  k("limits.stateRequestsPerSecond", "int", "ifSet", undefined, "50", EXTENSION_READ_IN),
  k("limits.stateRequestBurst", "int", "ifSet", undefined, "100", EXTENSION_READ_IN),
  k("limits.maxSockets", "int", "ifSet", undefined, "2048", EXTENSION_READ_IN),
  k("limits.maxSocketsPerAddress", "int", "ifSet", undefined, "512", EXTENSION_READ_IN),
  k("limits.maxPendingSockets", "int", "ifSet", undefined, "512", EXTENSION_READ_IN),
  k("limits.maxPendingSocketsPerAddress", "int", "ifSet", undefined, "64", EXTENSION_READ_IN),
  k("limits.firstCallTimeout", "duration", "ifSet", undefined, "10s", EXTENSION_READ_IN),
  k("limits.tlsHandshakeTimeout", "duration", "ifSet", undefined, "5s", EXTENSION_READ_IN),
  k("limits.preferDirectMembers", "bool", "ifSet", undefined, "true", EXTENSION_READ_IN),
  k("limits.maxMembersPerResponse", "int", "ifSet", undefined, "1000", EXTENSION_READ_IN),
  k("limits.maxMemberEntriesPerSender", "int", "ifSet", undefined, "5000", EXTENSION_READ_IN),
  k("limits.maxNewMembersPerOrg", "int", "ifSet", undefined, "500", EXTENSION_READ_IN),
  k("limits.memberQuotaInterval", "duration", "ifSet", undefined, "1m", EXTENSION_READ_IN),
  k("limits.maxKnownMembersPerOrg", "int", "ifSet", undefined, "2000", EXTENSION_READ_IN),
  k("limits.maxKnownMembers", "int", "ifSet", undefined, "10000", EXTENSION_READ_IN),
  k("limits.maxReconnectPings", "int", "ifSet", undefined, "32", EXTENSION_READ_IN),
  k("limits.maxReconnectBackoff", "duration", "ifSet", undefined, "0 (16 x reconnectInterval)", EXTENSION_READ_IN),
]);

/** The prefix of every key. */
export const GOSSIP_PREFIX = "peer.gossip";

/** `peer.gossip.<path>`. */
export function fullKey(path: string): string {
  return `${GOSSIP_PREFIX}.${path}`;
}

/** The viper environment variable of a key: `CORE_` + the full key uppercased with dots as underscores. */
export function gossipEnvName(path: string): string {
  return envNameOf(fullKey(path));
}

/** The prefix of every gossip environment variable. */
export const GOSSIP_ENV_PREFIX = "CORE_PEER_GOSSIP_";

/** Lookups by path, by variable, and of the sections (nested mappings) such as "election". */
const INDEX = new KeyIndex(GOSSIP_KEYS, (s) => s.path, (s) => gossipEnvName(s.path));

/** The key spec for a path below peer.gossip, matched case-insensitively as viper does. */
export function keySpecOf(path: string): GossipKeySpec | undefined {
  return INDEX.spec(path);
}

/** The key spec for a `CORE_PEER_GOSSIP_*` variable name (exact, uppercase). */
export function keySpecOfEnv(name: string): GossipKeySpec | undefined {
  return INDEX.specOfEnv(name);
}

/** True if `path` (below peer.gossip, any case) is a section holding keys, such as "election". */
export function isSection(path: string): boolean {
  return INDEX.isSection(path);
}

const PATHS_AND_SECTIONS: readonly string[] = [
  ...GOSSIP_KEYS.map((s) => s.path),
  "election",
  "pvtData",
  "pvtData.implicitCollectionDisseminationPolicy",
  "state",
];

/** The closest known key or section path to an unknown one, if it is close enough to be a typo. */
export function closestPath(path: string): string | undefined {
  return closestOf(path, PATHS_AND_SECTIONS, 4);
}
