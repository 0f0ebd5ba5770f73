/**
 * The peer's core.yaml configuration: the `peer.*` keys fabric-gossip reads (identity, addresses,
 * paths, `peer.tls.*`, `peer.deliveryclient.*`) and `peer.gossip.*` (gossip-config.ts), loaded from
 * layers (defaults <- core.yaml <- CORE_PEER_* environment <- overrides) and validated once.
 *
 * Fabric counterparts (v2.5.16): core/peer/config.go (`GlobalConfig`, `GetServerConfig`,
 * `GetClientCertificate`), core/deliverservice/config.go (`GlobalConfig`, `LoadOverridesMap`),
 * core/config/config.go (`GetPath`, `TranslatePath`), all reading viper.
 */
import { isAbsolute, join } from "node:path";
import { formatDurationMs } from "./duration.js";
import { type ConfigNote, type ConfigProblem, type ConfigSource, ConfigError, describeSource } from "./errors.js";
import { type GossipConfig, defaultGossipConfig, DEFAULT_GOSSIP_CONFIG, loadGossipConfig } from "./gossip-config.js";
import { GOSSIP_ENV_PREFIX } from "./gossip-keys.js";
import { guardedEnvProblems, guardedYamlProblems } from "./guarded-keys.js";
import { type RawEntry as LayerRawEntry, type Resolved as LayerResolved, addEntry, givenOverrides, resolveLayers, setVariables } from "./layers.js";
import {
  PEER_KEYS,
  type PeerKeySpec,
  closestPeerKey,
  isPeerSection,
  notedSectionOf,
  peerEnvName,
  peerKeySpecOf,
  peerKeySpecOfEnv,
} from "./peer-keys.js";
import { type AddressOverride, type PeerValue, PEER_EXPECT, parsePeerValue } from "./peer-values.js";
import { deepFreeze, isPlainObject, show, timerLimitProblem } from "./values.js";

// ---------------------------------------------------------------------------------------------
// Defaults: Fabric v2.5.16 sampleconfig/core.yaml values (where Fabric's code gives something else
// for an absent key, that is noted), so a core.yaml without these keys runs like the sample.

/** peer.id: sampleconfig "jdoe" (code: "", core/peer/config.go). */
export const DEF_PEER_ID = "jdoe";
/** peer.address: sampleconfig (code: "" is an error, "peer.address isn't set", core/peer/config.go). */
export const DEF_PEER_ADDRESS = "0.0.0.0:7051";
/** peer.listenAddress: sampleconfig (code: "", which comm.NewGRPCServer refuses). */
export const DEF_PEER_LISTEN_ADDRESS = "0.0.0.0:7051";
/** peer.fileSystemPath: sampleconfig (code: "", internal/peer/node/config.go). */
export const DEF_PEER_FILE_SYSTEM_PATH = "/var/hyperledger/production";
/** peer.mspConfigPath: sampleconfig "msp", next to core.yaml (code: "", internal/peer/common/common.go). */
export const DEF_PEER_MSP_CONFIG_PATH = "msp";
/** peer.localMspId: sampleconfig (code: ""). */
export const DEF_PEER_LOCAL_MSP_ID = "SampleOrg";
/** peer.deliveryclient.reconnectTotalTimeThreshold: sampleconfig 3600s = DefaultReConnectTotalTimeThreshold. */
export const DEF_DELIVERY_RECONNECT_TOTAL_TIME_THRESHOLD_MS = 3_600_000;
/** peer.deliveryclient.connTimeout: sampleconfig 3s = DefaultConnectionTimeout. */
export const DEF_DELIVERY_CONN_TIMEOUT_MS = 3_000;
/** peer.deliveryclient.reConnectBackoffThreshold: sampleconfig 3600s = DefaultReConnectBackoffThreshold (1h). */
export const DEF_DELIVERY_RECONNECT_BACKOFF_THRESHOLD_MS = 3_600_000;
/** peer.deliveryclient.blockGossipEnabled: sampleconfig true; an absent key is true too (loadDeliverServiceConfig). */
export const DEF_DELIVERY_BLOCK_GOSSIP_ENABLED = true;

// ---------------------------------------------------------------------------------------------

/**
 * `peer.tls.*` (core/peer/config.go `GetServerConfig`, `GetClientCertificate`). File paths are as
 * configured, resolved against the config folder when they came from core.yaml or the environment.
 * Files default to "" (not the sampleconfig's `tls/server.crt` etc., which name files of a sample
 * folder) so that enabling TLS without naming them is reported.
 */
export interface PeerTlsConfig {
  /** peer.tls.enabled: the gRPC server and every client (gossip, deliver) use TLS. Default false. */
  enabled: boolean;
  /** peer.tls.clientAuthRequired: the server requires client certificates. Default false. */
  clientAuthRequired: boolean;
  /** peer.tls.cert.file: PEM server certificate. Required with TLS. */
  certFile: string;
  /** peer.tls.key.file: PEM key of certFile. Required with TLS. */
  keyFile: string;
  /** peer.tls.rootcert.file: PEM TLS CA certificates to trust. Required with TLS. */
  rootCertFile: string;
  /** peer.tls.clientRootCAs.files: more PEM CA files trusted for client certificates. */
  clientRootCAFiles: string[];
  /** peer.tls.clientCert.file: client certificate; "" uses certFile (see {@link tlsClientKeyPairOf}). */
  clientCertFile: string;
  /** peer.tls.clientKey.file: key of clientCertFile; "" uses keyFile. */
  clientKeyFile: string;
}

/** `peer.deliveryclient.*` (core/deliverservice/config.go `DeliverServiceConfig`). */
export interface DeliveryClientConfig {
  /** blockGossipEnabled: gossip the blocks pulled from the ordering service to the org. Default true. */
  blockGossipEnabled: boolean;
  /** reconnectTotalTimeThreshold: reconnecting this long without success gives up. Default 1h. */
  reconnectTotalTimeThresholdMs: number;
  /** connTimeout: dialing an orderer. Default 3s. */
  connTimeoutMs: number;
  /** reConnectBackoffThreshold: the longest wait between reconnections. Default 1h. */
  reConnectBackoffThresholdMs: number;
  /** addressOverrides: orderer endpoints to dial elsewhere (caCertsFile resolved like the other paths). */
  addressOverrides: AddressOverride[];
}

/**
 * `operations.tls.*` (core/peer/config.go; served by common/fabhttp): TLS for the operations (admin)
 * endpoint. Paths as for {@link PeerTlsConfig}.
 */
export interface OperationsTlsConfig {
  /** operations.tls.enabled: the endpoint serves HTTPS (TLS 1.2+). Default false. */
  enabled: boolean;
  /** operations.tls.cert.file: PEM server certificate. Required with TLS. */
  certFile: string;
  /** operations.tls.key.file: PEM key of certFile. Required with TLS. */
  keyFile: string;
  /**
   * operations.tls.clientAuthRequired: a client without a certificate from clientRootCAFiles is refused
   * in the TLS handshake. Default false: then only /healthz and /version answer such a client (Fabric's
   * operations endpoint requires a verified client certificate for the rest whenever TLS is on).
   */
  clientAuthRequired: boolean;
  /** operations.tls.clientRootCAs.files: PEM CA files client certificates are verified against. */
  clientRootCAFiles: string[];
}

/** `operations.*`: Fabric's operations endpoint, which fabric-gossip's admin endpoint is. */
export interface OperationsConfig {
  /**
   * operations.listenAddress: where the admin endpoint listens ("host:port", port 0 picks one). Default ""
   * (no endpoint), not the sampleconfig's 127.0.0.1:9443: a core.yaml that does not name it opens nothing.
   */
  listenAddress: string;
  tls: OperationsTlsConfig;
}

/** The peer configuration fabric-gossip runs with: a subset of Fabric's `peer` section, and `operations`. */
export interface PeerConfig {
  /** peer.id: this peer's name. */
  id: string;
  /** peer.address: the endpoint other peers dial (gossip's `endpoint` falls back to it). */
  address: string;
  /** peer.listenAddress: where the gRPC server listens. */
  listenAddress: string;
  /** peer.fileSystemPath: the peer's data folder. */
  fileSystemPath: string;
  /** peer.mspConfigPath: the local MSP folder. */
  mspConfigPath: string;
  /** peer.localMspId: the local MSP's ID. */
  localMspId: string;
  tls: PeerTlsConfig;
  gossip: GossipConfig;
  deliveryclient: DeliveryClientConfig;
  operations: OperationsConfig;
}

/** The layers of a peer configuration, lowest first; each is optional. */
export interface PeerConfigLayers {
  /** The whole parsed core.yaml document (not just peer.gossip). */
  yaml?: unknown;
  /**
   * Folder of the core.yaml: relative file paths (mspConfigPath, fileSystemPath, tls files,
   * caCertsFile) from the yaml are resolved against it, as Fabric's config.TranslatePath does;
   * so are those from the environment, since Fabric's `config.GetPath` reads env values the same
   * way. Override values and defaults are never resolved. Default: process cwd is NOT assumed;
   * paths stay as given.
   */
  configDir?: string;
  /** An environment such as `process.env`; `CORE_PEER_*` variables are read, empty ones ignored. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Highest layer, keyed by full key: "peer.listenAddress", "peer.gossip.bootstrap", "peer.fileSystemPath", ... */
  overrides?: Readonly<Record<string, unknown>>;
}

function buildDefaults(gossip: GossipConfig): PeerConfig {
  return {
    id: DEF_PEER_ID,
    address: DEF_PEER_ADDRESS,
    listenAddress: DEF_PEER_LISTEN_ADDRESS,
    fileSystemPath: DEF_PEER_FILE_SYSTEM_PATH,
    mspConfigPath: DEF_PEER_MSP_CONFIG_PATH,
    localMspId: DEF_PEER_LOCAL_MSP_ID,
    tls: {
      enabled: false,
      clientAuthRequired: false,
      certFile: "",
      keyFile: "",
      rootCertFile: "",
      clientRootCAFiles: [],
      clientCertFile: "",
      clientKeyFile: "",
    },
    gossip,
    deliveryclient: {
      blockGossipEnabled: DEF_DELIVERY_BLOCK_GOSSIP_ENABLED,
      reconnectTotalTimeThresholdMs: DEF_DELIVERY_RECONNECT_TOTAL_TIME_THRESHOLD_MS,
      connTimeoutMs: DEF_DELIVERY_CONN_TIMEOUT_MS,
      reConnectBackoffThresholdMs: DEF_DELIVERY_RECONNECT_BACKOFF_THRESHOLD_MS,
      addressOverrides: [],
    },
    operations: {
      listenAddress: "",
      tls: { enabled: false, certFile: "", keyFile: "", clientAuthRequired: false, clientRootCAFiles: [] },
    },
  };
}

/** What a peer with no configuration at all runs with (gossip: {@link DEFAULT_GOSSIP_CONFIG}). Deeply frozen. */
export const DEFAULT_PEER_CONFIG: Readonly<PeerConfig> = deepFreeze(buildDefaults(DEFAULT_GOSSIP_CONFIG));

/** A fresh, mutable copy of the defaults. */
export function defaultPeerConfig(): PeerConfig {
  return buildDefaults(defaultGossipConfig());
}

/**
 * The key pair the peer presents as a TLS client: peer.tls.clientCert.file/clientKey.file when set,
 * else the server pair (Fabric's `GetClientCertificate`, core/peer/config.go).
 */
export function tlsClientKeyPairOf(tls: PeerTlsConfig): { certFile: string; keyFile: string } {
  return tls.clientCertFile !== "" || tls.clientKeyFile !== ""
    ? { certFile: tls.clientCertFile, keyFile: tls.clientKeyFile }
    : { certFile: tls.certFile, keyFile: tls.keyFile };
}

// ---------------------------------------------------------------------------------------------
// Loading

/** The prefixes of the variables of the keys read here (CORE_PEER_GOSSIP_* is gossip-config.ts's). */
const PEER_ENV_PREFIXES = ["CORE_PEER_", "CORE_OPERATIONS_"];
/** Environment variables of the noted sections: unknown ones become notes (CORE_PEER_TLS_* ones are errors: guarded-keys.ts). */
const NOTED_ENV_PREFIXES = ["CORE_PEER_DELIVERYCLIENT_"];

type RawEntry = LayerRawEntry<PeerKeySpec>;
type Resolved = LayerResolved<PeerKeySpec, PeerValue>;

function unknownHint(key: string): string {
  const near = closestPeerKey(key);
  return near === undefined ? "" : `; did you mean ${near}?`;
}

/** Collects the entries of each layer (lowercased full key -> entry) and the peer.gossip parts. */
class LayerReader {
  gossipYaml: unknown = undefined;
  readonly gossipOverrides: Record<string, unknown> = {};

  constructor(
    private readonly problems: ConfigProblem[],
    private readonly notes: ConfigNote[],
  ) {}

  private add(into: Map<string, RawEntry>, e: RawEntry, given: string): void {
    addEntry(into, e, { id: e.spec.key, key: e.spec.key, given }, this.problems);
  }

  yaml(doc: unknown): Map<string, RawEntry> {
    const out = new Map<string, RawEntry>();
    const source: ConfigSource = { kind: "yaml" };
    if (doc === null || doc === undefined) return out;
    if (!isPlainObject(doc)) {
      this.problems.push({ key: "(core.yaml)", source, message: `is ${show(doc)}; expected a mapping with a peer section` });
      return out;
    }
    let gossipSeen = false;
    const walk = (obj: Record<string, unknown>, prefix: string): void => {
      for (const [name, raw] of Object.entries(obj)) {
        const key = prefix === "" ? name : `${prefix}.${name}`;
        const lower = key.toLowerCase();
        if (lower === "peer.gossip") {
          if (gossipSeen) {
            this.problems.push({ key, source, message: "is given twice (keys are case-insensitive); keep one" });
            continue;
          }
          gossipSeen = true;
          this.gossipYaml = raw;
          continue;
        }
        const spec = peerKeySpecOf(key);
        if (spec !== undefined) {
          if (raw === null || raw === undefined) continue; // viper: a key with no value is not set
          if (isPlainObject(raw)) {
            this.problems.push({ key: spec.key, source, message: `is a mapping; expected ${PEER_EXPECT[spec.kind]}` });
            continue;
          }
          this.add(out, { spec, raw, textual: false, source }, key);
        } else if (isPeerSection(key)) {
          if (raw === null || raw === undefined) continue;
          if (!isPlainObject(raw)) {
            const inside = prefix === "" ? "" : ` (${this.childrenOf(key)})`;
            this.problems.push({ key, source, message: `is ${show(raw)}; expected a mapping of keys${inside}` });
            continue;
          }
          walk(raw, key);
        } else if (notedSectionOf(key) !== undefined) {
          this.notes.push({ key, message: `is not a key fabric-gossip reads${unknownHint(key)}; ignored` });
        }
        // Any other key (peer.keepalive, peer.gateway, chaincode, ledger, ...) is Fabric's, not ours.
      }
    };
    walk(doc, "");
    return out;
  }

  /** "file" for peer.tls.cert, "enabled, clientAuthRequired, cert, ..." for peer.tls. */
  private childrenOf(section: string): string {
    const prefix = `${section.toLowerCase()}.`;
    const names = new Set<string>();
    for (const spec of PEER_KEYS) {
      if (spec.key.toLowerCase().startsWith(prefix)) names.add(spec.key.slice(prefix.length).split(".")[0]!);
    }
    return [...names].join(", ");
  }

  env(env: Readonly<Record<string, string | undefined>> | undefined): Map<string, RawEntry> {
    const out = new Map<string, RawEntry>();
    for (const [name, raw] of PEER_ENV_PREFIXES.flatMap((prefix) => setVariables(env, prefix))) {
      if (name.startsWith(GOSSIP_ENV_PREFIX)) continue;
      const spec = peerKeySpecOfEnv(name);
      if (spec !== undefined) {
        this.add(out, { spec, raw, textual: true, source: { kind: "env", name } }, name);
      } else if (NOTED_ENV_PREFIXES.some((p) => name.startsWith(p))) {
        const guess = closestPeerKey(name.slice("CORE_".length).toLowerCase().replace(/_/g, "."));
        const hint = guess === undefined ? "" : `; did you mean ${peerEnvName(guess)}?`;
        this.notes.push({ key: name, message: `is not the variable of any key fabric-gossip reads${hint}; ignored` });
      }
    }
    return out;
  }

  overrides(overrides: Readonly<Record<string, unknown>> | undefined): Map<string, RawEntry> {
    const out = new Map<string, RawEntry>();
    const source: ConfigSource = { kind: "override" };
    for (const [name, raw] of givenOverrides(overrides)) {
      const lower = name.toLowerCase();
      if (lower === "peer.gossip" || lower.startsWith("peer.gossip.")) {
        this.gossipOverrides[name] = raw;
        continue;
      }
      const spec = peerKeySpecOf(name);
      if (spec === undefined) {
        const what = isPeerSection(name)
          ? "is a section; name a key inside it"
          : `is not a key fabric-gossip reads${unknownHint(name)} (overrides take full keys such as peer.listenAddress; see docs/CONFIG.md)`;
        this.problems.push({ key: name, source, message: what });
        continue;
      }
      this.add(out, { spec, raw, textual: typeof raw === "string", source }, name);
    }
    return out;
  }
}

/** Go's filepath.Join(base, p) unless p is absolute (core/config/config.go TranslatePath). */
function translatePath(base: string, p: string): string {
  return isAbsolute(p) ? p : join(base, p);
}

/** Resolves the relative paths of a parsed value against configDir (core.yaml and env values only). */
function resolvePaths(spec: PeerKeySpec, v: PeerValue, source: ConfigSource, configDir: string | undefined): PeerValue {
  if (v.empty || configDir === undefined || (source.kind !== "yaml" && source.kind !== "env")) return v;
  switch (spec.kind) {
    case "path":
      return { ...v, value: translatePath(configDir, v.value as string) };
    case "pathList":
      return { ...v, value: (v.value as string[]).map((p) => translatePath(configDir, p)) };
    case "addressOverrides":
      return {
        ...v,
        value: (v.value as AddressOverride[]).map((o) => (o.caCertsFile === "" ? o : { ...o, caCertsFile: translatePath(configDir, o.caCertsFile) })),
      };
    default:
      return v;
  }
}

/** Reads each key's winning value by its read mode, with range rules; records problems and notes. */
class Resolver {
  constructor(
    private readonly values: ReadonlyMap<string, Resolved>,
    private readonly problems: ConfigProblem[],
    private readonly notes: ConfigNote[],
  ) {}

  entry(key: string): Resolved | undefined {
    return this.values.get(key.toLowerCase());
  }

  /** " (from env X)" for the value of `key`, or "" when it is the default. */
  from(key: string): string {
    const r = this.entry(key);
    return r === undefined ? "" : ` (from ${describeSource(r.source)})`;
  }

  problem(key: string, message: string): void {
    const r = this.entry(key);
    this.problems.push({ key, message, ...(r === undefined ? {} : { source: r.source }) });
  }

  /** A required text, path or endpoint: absent gives the default, explicitly empty is an error. */
  required(key: string, fallback: string, what: string): string {
    const r = this.entry(key);
    if (r === undefined) return fallback;
    if (r.parsed.empty) {
      this.problem(key, `is empty; expected ${what}`);
      return fallback;
    }
    return r.parsed.value as string;
  }

  /** An optional text or path: absent and empty give "". */
  optional(key: string): string {
    const r = this.entry(key);
    return r === undefined || r.parsed.empty ? "" : (r.parsed.value as string);
  }

  bool(key: string, fallback: boolean): boolean {
    const r = this.entry(key);
    if (r === undefined) return fallback;
    return r.parsed.empty ? false : (r.parsed.value as boolean);
  }

  list(key: string): string[] {
    const r = this.entry(key);
    return r === undefined || r.parsed.empty ? [] : [...(r.parsed.value as string[])];
  }

  /** A zeroMeansDefault duration: absent, empty and 0 give the default (0 and empty with a note). */
  duration(key: string, fallback: number): number {
    const r = this.entry(key);
    if (r === undefined) return fallback;
    const v = r.parsed.empty ? 0 : (r.parsed.value as number);
    if (v === 0) {
      this.notes.push({ key, message: `is ${r.parsed.empty ? "empty" : "0"}, which Fabric reads as "use the default": ${formatDurationMs(fallback)}` });
      return fallback;
    }
    if (v < 0) {
      this.problem(key, `is negative (${formatDurationMs(v)}); expected a duration above 0 (0 or empty means the default, ${formatDurationMs(fallback)})`);
    } else {
      const tooLong = timerLimitProblem(v);
      if (tooLong !== undefined) this.problem(key, tooLong);
    }
    return v;
  }

  addressOverrides(key: string): AddressOverride[] {
    const r = this.entry(key);
    if (r === undefined || r.parsed.empty) return [];
    for (const n of r.parsed.notes ?? []) this.notes.push({ key: `${key}${n.at}`, message: n.message });
    return (r.parsed.value as AddressOverride[]).map((o) => ({ ...o }));
  }
}

function isUnspecifiedHost(endpoint: string): boolean {
  let host = endpoint.slice(0, endpoint.lastIndexOf(":"));
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return host === "0.0.0.0" || (host.includes(":") && /^[0:]+$/.test(host));
}

/**
 * Builds a validated {@link PeerConfig} from layers: defaults (Fabric's sampleconfig values; for
 * peer.gossip Fabric's code defaults) <- core.yaml <- `CORE_PEER_*` environment <- overrides. For
 * each key the highest layer that sets it wins; keys match case-insensitively, as in viper.
 * Unknown keys under the security sections (peer.tls, peer.authentication, peer.BCCSP,
 * operations.tls, peer.gossip) and near misses of security keys (peer.listenAddress, peer.address,
 * peer.mspConfigPath, peer.localMspId, ...), and their variables, are errors (guarded-keys.ts);
 * unknown keys under peer.deliveryclient become notes; other unknown keys are ignored; unknown
 * override keys are errors. Problems of every part,
 * peer.gossip included, are collected and thrown together.
 * @throws ConfigError (code CONFIG_INVALID) listing every problem, each naming its full key and source.
 */
export function loadPeerConfig(layers: PeerConfigLayers = {}): { config: PeerConfig; notes: ConfigNote[] } {
  const problems: ConfigProblem[] = [];
  const notes: ConfigNote[] = [];
  const reader = new LayerReader(problems, notes);
  const stack = [reader.yaml(layers.yaml), reader.env(layers.env), reader.overrides(layers.overrides)];
  problems.push(...guardedYamlProblems(layers.yaml), ...guardedEnvProblems(layers.env));

  const values: ReadonlyMap<string, Resolved> = resolveLayers(stack, (e) => {
    const parsed = parsePeerValue(e.spec.kind, e.raw, e.textual);
    if (!("errors" in parsed)) return resolvePaths(e.spec, parsed, e.source, layers.configDir);
    for (const err of parsed.errors) problems.push({ key: `${e.spec.key}${err.at}`, source: e.source, message: err.message });
    return undefined;
  });

  const r = new Resolver(values, problems, notes);
  const d = DEFAULT_PEER_CONFIG;
  const dc = d.deliveryclient;
  const base: Omit<PeerConfig, "gossip"> = {
    id: r.required("peer.id", d.id, "a name for this peer"),
    address: r.required("peer.address", d.address, 'the host:port other peers reach this peer at, e.g. "peer0.org1.example.com:7051"'),
    listenAddress: r.required("peer.listenAddress", d.listenAddress, PEER_EXPECT.listenEndpoint),
    fileSystemPath: r.required("peer.fileSystemPath", d.fileSystemPath, "the folder of the peer's data"),
    mspConfigPath: r.required("peer.mspConfigPath", d.mspConfigPath, "the local MSP folder"),
    localMspId: r.required("peer.localMspId", d.localMspId, "the local MSP's ID, e.g. Org1MSP"),
    tls: {
      enabled: r.bool("peer.tls.enabled", false),
      clientAuthRequired: r.bool("peer.tls.clientAuthRequired", false),
      certFile: r.optional("peer.tls.cert.file"),
      keyFile: r.optional("peer.tls.key.file"),
      rootCertFile: r.optional("peer.tls.rootcert.file"),
      clientRootCAFiles: r.list("peer.tls.clientRootCAs.files"),
      clientCertFile: r.optional("peer.tls.clientCert.file"),
      clientKeyFile: r.optional("peer.tls.clientKey.file"),
    },
    deliveryclient: {
      blockGossipEnabled: r.bool("peer.deliveryclient.blockGossipEnabled", dc.blockGossipEnabled),
      reconnectTotalTimeThresholdMs: r.duration("peer.deliveryclient.reconnectTotalTimeThreshold", dc.reconnectTotalTimeThresholdMs),
      connTimeoutMs: r.duration("peer.deliveryclient.connTimeout", dc.connTimeoutMs),
      reConnectBackoffThresholdMs: r.duration("peer.deliveryclient.reConnectBackoffThreshold", dc.reConnectBackoffThresholdMs),
      addressOverrides: r.addressOverrides("peer.deliveryclient.addressOverrides"),
    },
    operations: {
      listenAddress: r.optional("operations.listenAddress"),
      tls: {
        enabled: r.bool("operations.tls.enabled", false),
        certFile: r.optional("operations.tls.cert.file"),
        keyFile: r.optional("operations.tls.key.file"),
        clientAuthRequired: r.bool("operations.tls.clientAuthRequired", false),
        clientRootCAFiles: r.list("operations.tls.clientRootCAs.files"),
      },
    },
  };
  crossChecks(base, r, problems, notes);

  let gossip: GossipConfig = defaultGossipConfig();
  try {
    const loaded = loadGossipConfig({ yaml: reader.gossipYaml, env: layers.env, overrides: reader.gossipOverrides });
    gossip = loaded.config;
    notes.push(...loaded.notes);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { config: { ...base, gossip }, notes };
}

function crossChecks(c: Omit<PeerConfig, "gossip">, r: Resolver, problems: ConfigProblem[], notes: ConfigNote[]): void {
  const broken = new Set(problems.map((p) => p.key));
  const tls = c.tls;
  if (tls.enabled && !broken.has("peer.tls.enabled")) {
    const because = `peer.tls.enabled is true${r.from("peer.tls.enabled")}`;
    const need = (key: string, value: string, what: string): void => {
      if (value === "" && !broken.has(key)) r.problem(key, `is not set, but ${because}; expected ${what}`);
    };
    need("peer.tls.cert.file", tls.certFile, "the PEM file of this peer's TLS certificate");
    need("peer.tls.key.file", tls.keyFile, "the PEM file of the key of peer.tls.cert.file");
    // Fabric tolerates no rootcert (it also trusts the joined channels' orgs' TLS CAs, as we do); we
    // require it so that our own org's peers (bootstrap) can be dialed and accepted before any channel.
    need("peer.tls.rootcert.file", tls.rootCertFile, "the PEM file of the TLS CA certificates this peer trusts when it dials and accepts peers");
    const cert = "peer.tls.clientCert.file";
    const key = "peer.tls.clientKey.file";
    if (!broken.has(cert) && !broken.has(key) && (tls.clientCertFile === "") !== (tls.clientKeyFile === "")) {
      const [unset, set] = tls.clientCertFile === "" ? [cert, key] : [key, cert];
      r.problem(
        unset,
        `is not set, but ${set} is${r.from(set)}; expected both or neither (neither: the server pair peer.tls.cert.file and peer.tls.key.file is presented as the client certificate)`,
      );
    }
    if (tls.clientAuthRequired && tls.clientRootCAFiles.length === 0) {
      notes.push({
        key: "peer.tls.clientRootCAs.files",
        message: "is empty while peer.tls.clientAuthRequired is true: client certificates are checked against peer.tls.rootcert.file and the TLS CAs of the joined channels' orgs only",
      });
    }
  } else if (tls.clientAuthRequired) {
    notes.push({ key: "peer.tls.clientAuthRequired", message: "is true but peer.tls.enabled is false, so it has no effect" });
  }
  operationsChecks(c.operations.tls, r, broken, notes);
  if (!broken.has("peer.address") && isUnspecifiedHost(c.address)) {
    notes.push({
      key: "peer.address",
      message: `is ${c.address}, an unspecified host, which other peers cannot dial (Fabric replaces it with an auto-detected IP address); set it to the host:port other peers reach this peer at`,
    });
  }
}

/** operations.tls: the files TLS needs (Fabric fails at start on them), and client auth with nobody to trust. */
function operationsChecks(tls: OperationsTlsConfig, r: Resolver, broken: ReadonlySet<string>, notes: ConfigNote[]): void {
  if (broken.has("operations.tls.enabled")) return;
  if (!tls.enabled) {
    if (tls.clientAuthRequired) notes.push({ key: "operations.tls.clientAuthRequired", message: "is true but operations.tls.enabled is false, so it has no effect" });
    return;
  }
  const because = `operations.tls.enabled is true${r.from("operations.tls.enabled")}`;
  const need = (key: string, value: string, what: string): void => {
    if (value === "" && !broken.has(key)) r.problem(key, `is not set, but ${because}; expected ${what}`);
  };
  need("operations.tls.cert.file", tls.certFile, "the PEM file of the operations endpoint's TLS certificate");
  need("operations.tls.key.file", tls.keyFile, "the PEM file of the key of operations.tls.cert.file");
  const cas = "operations.tls.clientRootCAs.files";
  if (tls.clientAuthRequired && tls.clientRootCAFiles.length === 0 && !broken.has(cas) && !broken.has("operations.tls.clientAuthRequired")) {
    // Fabric starts and then refuses every client (an empty pool verifies no certificate).
    r.problem(cas, `is empty, but operations.tls.clientAuthRequired is true${r.from("operations.tls.clientAuthRequired")}; expected the PEM files of the CAs whose client certificates may use the operations endpoint (empty: no client could)`);
  }
}
