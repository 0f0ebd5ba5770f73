/**
 * The `peer.*` keys outside `peer.gossip` and the `operations.*` keys that fabric-gossip reads, how
 * Fabric v2.5.16 reads each, and its sampleconfig value. This table drives parsing, the environment variable names, the
 * unknown-key checks and docs/CONFIG.md. (`peer.gossip.*` lives in gossip-keys.ts.)
 */
import { KeyIndex, closestOf, envNameOf } from "./key-index.js";

/** How a value is written. */
export type PeerKeyKind =
  /** Free text (an id, an MSP ID). */
  | "text"
  /** `host:port`, port 1-65535. */
  | "endpoint"
  /** `host:port` to listen on; port 0 (any free port) is allowed, as Go's net.Listen allows it. */
  | "listenEndpoint"
  /** A file or folder path; relative ones from core.yaml or the environment are resolved against the config folder. */
  | "path"
  /** Paths: a YAML list, or one string separated by spaces or commas, optionally in brackets. */
  | "pathList"
  /** true or false. */
  | "bool"
  /** A Go duration ("3s"). */
  | "duration"
  /** A list of `{from, to, caCertsFile}` mappings, or that list as a YAML string (env). */
  | "addressOverrides";

/** How Fabric reads the key, which decides what absent, empty and 0 mean. */
export type PeerKeyRead =
  /** `viper.GetString/GetBool/GetStringSlice` or `config.GetPath`: absent means the sampleconfig value here. */
  | "plain"
  /** `viper.GetDuration` then `if v == 0 { v = default }`: absent, empty and 0 mean the code default. */
  | "zeroMeansDefault"
  /** `!viper.IsSet(k) || viper.GetBool(k)`: absent means true. */
  | "absentMeansTrue";

export interface PeerKeySpec {
  /** The full key as Fabric's core.yaml spells it, e.g. "peer.tls.clientRootCAs.files". */
  readonly key: string;
  readonly kind: PeerKeyKind;
  readonly read: PeerKeyRead;
  /** The value in Fabric v2.5.16 `sampleconfig/core.yaml` (as text; "" if the key is there but empty). */
  readonly yaml: string;
  /** What an absent key gives in Fabric's code, as text. */
  readonly codeDefault: string;
  /** The Fabric file that reads it. */
  readonly readIn: string;
}

const PC = "core/peer/config.go";
const DS = "core/deliverservice/config.go";

function k(key: string, kind: PeerKeyKind, read: PeerKeyRead, yaml: string, codeDefault: string, readIn: string): PeerKeySpec {
  return Object.freeze({ key, kind, read, yaml, codeDefault, readIn });
}

/** All keys, in core.yaml order. */
export const PEER_KEYS: readonly PeerKeySpec[] = Object.freeze([
  k("peer.id", "text", "plain", "jdoe", "empty", PC),
  k("peer.listenAddress", "listenEndpoint", "plain", "0.0.0.0:7051", "empty (the gRPC server refuses it)", "internal/peer/node/start.go"),
  k("peer.address", "endpoint", "plain", "0.0.0.0:7051", 'empty ("peer.address isn\'t set")', PC),
  k("peer.tls.enabled", "bool", "plain", "false", "false", PC),
  k("peer.tls.clientAuthRequired", "bool", "plain", "false", "false", PC),
  k("peer.tls.cert.file", "path", "plain", "tls/server.crt", "empty", PC),
  k("peer.tls.key.file", "path", "plain", "tls/server.key", "empty", PC),
  k("peer.tls.rootcert.file", "path", "plain", "tls/ca.crt", "empty", PC),
  k("peer.tls.clientRootCAs.files", "pathList", "plain", "[tls/ca.crt]", "empty list", PC),
  k("peer.tls.clientKey.file", "path", "plain", "", "empty (the server key)", `${PC}, ${DS}`),
  k("peer.tls.clientCert.file", "path", "plain", "", "empty (the server certificate)", `${PC}, ${DS}`),
  k("peer.fileSystemPath", "path", "plain", "/var/hyperledger/production", "empty", "internal/peer/node/config.go"),
  k("peer.mspConfigPath", "path", "plain", "msp", "empty", "internal/peer/common/common.go"),
  k("peer.localMspId", "text", "plain", "SampleOrg", "empty", "internal/peer/common/common.go"),
  k("peer.deliveryclient.blockGossipEnabled", "bool", "absentMeansTrue", "true", "true", DS),
  k("peer.deliveryclient.reconnectTotalTimeThreshold", "duration", "zeroMeansDefault", "3600s", "1h", DS),
  k("peer.deliveryclient.connTimeout", "duration", "zeroMeansDefault", "3s", "3s", DS),
  k("peer.deliveryclient.reConnectBackoffThreshold", "duration", "zeroMeansDefault", "3600s", "1h", DS),
  k("peer.deliveryclient.addressOverrides", "addressOverrides", "plain", "", "empty list", DS),
  // The operations endpoint (core/peer/config.go reads them; internal/peer/node/start.go serves them).
  k("operations.listenAddress", "listenEndpoint", "plain", "127.0.0.1:9443", "empty", PC),
  k("operations.tls.enabled", "bool", "plain", "false", "false", PC),
  k("operations.tls.cert.file", "path", "plain", "", "empty", PC),
  k("operations.tls.key.file", "path", "plain", "", "empty", PC),
  k("operations.tls.clientAuthRequired", "bool", "plain", "false", "false", PC),
  k("operations.tls.clientRootCAs.files", "pathList", "plain", "[]", "empty list", PC),
]);

/**
 * Sections whose unknown keys are reported as notes (unknown keys of the security sections, such as
 * peer.tls, are errors: guarded-keys.ts; other unknown `peer.*` keys are Fabric's business).
 */
export const NOTED_PEER_SECTIONS: readonly string[] = Object.freeze(["peer.deliveryclient"]);

/** The viper environment variable of a key: `CORE_` + the full key uppercased with dots as underscores. */
export function peerEnvName(key: string): string {
  return envNameOf(key);
}

/** Lookups by key, by variable, and of every section holding keys ("peer", "peer.tls", "peer.tls.cert", ...). */
const INDEX = new KeyIndex(PEER_KEYS, (s) => s.key, (s) => peerEnvName(s.key));

/** The spec of a full key, matched case-insensitively as viper does. */
export function peerKeySpecOf(key: string): PeerKeySpec | undefined {
  return INDEX.spec(key);
}

/** The spec of a `CORE_PEER_*` variable name (exact, uppercase). */
export function peerKeySpecOfEnv(name: string): PeerKeySpec | undefined {
  return INDEX.specOfEnv(name);
}

/** True if `key` (any case) is a section holding peer keys, such as "peer.tls.cert" or "operations". */
export function isPeerSection(key: string): boolean {
  return INDEX.isSection(key);
}

/** The noted section (`peer.deliveryclient`) that `key` lies under, if any. */
export function notedSectionOf(key: string): string | undefined {
  const lower = key.toLowerCase();
  return NOTED_PEER_SECTIONS.find((s) => lower.startsWith(`${s.toLowerCase()}.`));
}

const KEYS: readonly string[] = PEER_KEYS.map((s) => s.key);

/** The known key closest to an unknown full key, if it is close enough to be a typo. */
export function closestPeerKey(key: string): string | undefined {
  return closestOf(key, KEYS, 8);
}
