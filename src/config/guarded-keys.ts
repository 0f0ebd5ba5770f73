/**
 * Misspelt security settings are errors. viper ignores a key it does not know, so in Fabric
 * `peer.tls.enabeld: true` leaves TLS off without a word and `peer.listenAddres` leaves the default
 * address. Here an unknown key under a security section (peer.tls, peer.authentication, peer.BCCSP,
 * operations.tls), or an unknown key that is a near miss of a security key or section
 * (peer.listenAddress, peer.address, peer.mspConfigPath, peer.localMspId, peer.gossip,
 * operations.listenAddress, ...), is a problem naming the key it probably meant. Other unknown keys
 * stay Fabric's business: Fabric's own core.yaml files carry keys from other releases.
 *
 * The names below are Fabric's core.yaml keys (v2.5.16 sampleconfig, plus keys earlier releases'
 * files still carry and Fabric still reads: peer.tls.serverhostoverride, peer.gomaxprocs, ...).
 * Sections listed without their keys (peer.keepalive, peer.handlers, vm, ...) are not looked into.
 */
import type { ConfigProblem } from "./errors.js";
import { GOSSIP_KEYS, fullKey } from "./gossip-keys.js";
import { closestOf, envNameOf, typoOf } from "./key-index.js";
import { PEER_KEYS } from "./peer-keys.js";
import { isPlainObject } from "./values.js";

/** Sections every key of which is checked: an unknown key there is an error. peer.gossip is checked by gossip-config.ts. */
const GUARDED_SECTIONS: readonly string[] = ["peer.tls", "peer.authentication", "peer.BCCSP", "operations.tls", "peer.gossip"];

/** Keys and sections outside GUARDED_SECTIONS whose near misses are errors. */
const GUARDED_KEYS: readonly string[] = [
  "peer",
  "operations",
  "peer.listenAddress",
  "peer.address",
  "peer.mspConfigPath",
  "peer.localMspId",
  "operations.listenAddress",
  ...GUARDED_SECTIONS,
];

const FABRIC_KEYS: readonly string[] = [
  // Top-level sections.
  "peer",
  "vm",
  "chaincode",
  "ledger",
  "operations",
  "metrics",
  // peer: keys and sections not looked into.
  "peer.id",
  "peer.networkId",
  "peer.listenAddress",
  "peer.chaincodeListenAddress",
  "peer.chaincodeAddress",
  "peer.address",
  "peer.addressAutoDetect",
  "peer.gateway",
  "peer.keepalive",
  "peer.fileSystemPath",
  "peer.mspConfigPath",
  "peer.localMspId",
  "peer.localMspType",
  "peer.client",
  "peer.deliveryclient",
  "peer.profile",
  "peer.handlers",
  "peer.validatorPoolSize",
  "peer.discovery",
  "peer.limits",
  "peer.maxRecvMsgSize",
  "peer.maxSendMsgSize",
  "peer.gomaxprocs",
  "peer.adminService",
  "peer.connectiontimeout",
  // peer.tls (fabric-gossip reads all but serverhostoverride, a peer CLI key).
  "peer.tls.enabled",
  "peer.tls.clientAuthRequired",
  "peer.tls.cert.file",
  "peer.tls.key.file",
  "peer.tls.rootcert.file",
  "peer.tls.clientRootCAs.files",
  "peer.tls.clientKey.file",
  "peer.tls.clientCert.file",
  "peer.tls.serverhostoverride",
  "peer.authentication.timewindow",
  // BCCSP factory options (bccsp/factory, bccsp/pkcs11; PKCS11.FileKeyStore is v1.4's).
  "peer.BCCSP.Default",
  "peer.BCCSP.SW.Hash",
  "peer.BCCSP.SW.Security",
  "peer.BCCSP.SW.FileKeyStore.KeyStore",
  "peer.BCCSP.PKCS11.Library",
  "peer.BCCSP.PKCS11.Label",
  "peer.BCCSP.PKCS11.Pin",
  "peer.BCCSP.PKCS11.Hash",
  "peer.BCCSP.PKCS11.Security",
  "peer.BCCSP.PKCS11.SoftwareVerify",
  "peer.BCCSP.PKCS11.Immutable",
  "peer.BCCSP.PKCS11.AltID",
  "peer.BCCSP.PKCS11.KeyIds",
  "peer.BCCSP.PKCS11.FileKeyStore.KeyStore",
  "operations.listenAddress",
  "operations.tls.enabled",
  "operations.tls.cert.file",
  "operations.tls.key.file",
  "operations.tls.clientAuthRequired",
  "operations.tls.clientRootCAs.files",
];

/** Every key known (Fabric's, fabric-gossip's peer and gossip keys), full and as spelt in core.yaml. */
const ALL_KEYS: readonly string[] = [...new Set([...FABRIC_KEYS, ...PEER_KEYS.map((s) => s.key), ...GOSSIP_KEYS.map((s) => fullKey(s.path))])];

/** Lowercased key or section -> its spelling, for every known key and every section above one. */
const KNOWN: ReadonlyMap<string, string> = new Map(
  ALL_KEYS.flatMap((k) => {
    const parts = k.split(".");
    return parts.map((_, i) => {
      const p = parts.slice(0, i + 1).join(".");
      return [p.toLowerCase(), p] as const;
    });
  }),
);

/** Lowercased parent ("" for the top) -> the names of its known children. */
const CHILDREN: ReadonlyMap<string, readonly string[]> = (() => {
  const m = new Map<string, Set<string>>();
  for (const spelt of KNOWN.values()) {
    const at = spelt.lastIndexOf(".");
    const parent = at < 0 ? "" : spelt.slice(0, at).toLowerCase();
    const set = m.get(parent) ?? new Set<string>();
    set.add(spelt.slice(at + 1));
    m.set(parent, set);
  }
  return new Map([...m].map(([k, v]) => [k, [...v]]));
})();

/** viper's variable name -> key, for every known key (leaves only: a variable sets a value). */
const ENV_KEYS: ReadonlyMap<string, string> = new Map(ALL_KEYS.map((k) => [envNameOf(k), k]));
const ENV_NAMES: readonly string[] = [...ENV_KEYS.keys()];

/** The guarded section `key` lies in (or is), if any. */
function guardedSectionOf(key: string): string | undefined {
  const lower = key.toLowerCase();
  return GUARDED_SECTIONS.find((s) => lower === s.toLowerCase() || lower.startsWith(`${s.toLowerCase()}.`));
}

function isGuarded(key: string): boolean {
  const lower = key.toLowerCase();
  return guardedSectionOf(key) !== undefined || GUARDED_KEYS.some((g) => g.toLowerCase() === lower);
}

/** Sections looked into by the yaml check: the two top-level ones, and the guarded sections but peer.gossip. */
function descends(key: string): boolean {
  const lower = key.toLowerCase();
  if (lower === "peer" || lower === "operations") return true;
  const s = guardedSectionOf(key);
  return s !== undefined && s !== "peer.gossip";
}

/** The end of every message: what is wrong with an ignored security key, and what to do. */
function because(text: string, what: "key" | "variable"): string {
  return `${text}${text.endsWith("?") ? "" : "."} A misspelt security setting is not ignored: fix or remove the ${what}`;
}

/** "; did you mean K?" for a key inside a guarded section, else the keys the section has. */
function sectionHint(key: string, section: string): string {
  const prefix = `${section.toLowerCase()}.`;
  const inside = ALL_KEYS.filter((k) => k.toLowerCase().startsWith(prefix));
  const near = closestOf(key, inside, 8);
  return near !== undefined ? `; did you mean ${near}?` : ` (${section} has ${inside.map((k) => k.slice(prefix.length)).join(", ")})`;
}

/**
 * The problems of misspelt security keys in a parsed core.yaml document (the whole document): each
 * names the key as written and the key it probably meant.
 */
export function guardedYamlProblems(doc: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!isPlainObject(doc)) return problems;
  const source = { kind: "yaml" } as const;
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [name, raw] of Object.entries(obj)) {
      const key = prefix === "" ? name : `${prefix}.${name}`;
      const known = KNOWN.get(key.toLowerCase());
      if (known !== undefined) {
        if (isPlainObject(raw) && descends(known)) walk(raw, key);
        continue;
      }
      const section = guardedSectionOf(key);
      if (section !== undefined) {
        problems.push({ key, source, message: because(`is not a key Fabric knows${sectionHint(key, section)}`, "key") });
        continue;
      }
      const near = typoOf(name, CHILDREN.get(prefix.toLowerCase()) ?? []);
      const meant = near === undefined ? undefined : prefix === "" ? near : `${KNOWN.get(prefix.toLowerCase()) ?? prefix}.${near}`;
      if (meant !== undefined && isGuarded(meant)) {
        problems.push({ key, source, message: because(`is not a key Fabric knows; did you mean ${meant}?`, "key") });
      }
    }
  };
  walk(doc, "");
  return problems;
}

/**
 * The problems of misspelt security variables (`CORE_PEER_TLS_ENABELD`): variables of the guarded
 * sections that name no key, and near misses of a guarded key's variable. CORE_PEER_GOSSIP_* is
 * gossip-config.ts's.
 */
export function guardedEnvProblems(env: Readonly<Record<string, string | undefined>> | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (env === undefined) return problems;
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === "") continue; // viper ignores empty variables
    if (!(name.startsWith("CORE_PEER_") || name.startsWith("CORE_OPERATIONS_")) || name.startsWith("CORE_PEER_GOSSIP_")) continue;
    if (ENV_KEYS.has(name)) continue;
    const section = GUARDED_SECTIONS.find((s) => name.startsWith(`${envNameOf(s)}_`));
    let meant: string | undefined;
    if (section !== undefined) {
      const prefix = `${envNameOf(section)}_`;
      meant = closestOf(name, ENV_NAMES.filter((n) => n.startsWith(prefix)), 8);
    } else {
      meant = typoOf(name, ENV_NAMES);
      if (meant !== undefined && !isGuarded(ENV_KEYS.get(meant)!)) continue;
    }
    if (section === undefined && meant === undefined) continue;
    const hint = meant === undefined ? "" : `; did you mean ${meant} (${ENV_KEYS.get(meant)})?`;
    problems.push({ key: name, message: because(`is not the variable of any key Fabric knows${hint}`, "variable") });
  }
  return problems;
}
