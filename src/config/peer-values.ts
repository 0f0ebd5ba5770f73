/**
 * Parsing of one raw `peer.*` value by its key's kind (peer-keys.ts), in the same spirit as the
 * gossip keys: YAML values are typed, environment values and string overrides are text.
 */
import { parse as parseYaml } from "yaml";
import { checkHostPort } from "./endpoint.js";
import type { PeerKeyKind } from "./peer-keys.js";
import { type ValueResult, isPlainObject, parseBoolValue, parseDurationValue, parseEndpointValue, show } from "./values.js";

/** One `peer.deliveryclient.addressOverrides` entry (Fabric's `deliverservice.AddressOverride`). */
export interface AddressOverride {
  /** The orderer endpoint as the channel configuration lists it. */
  from: string;
  /** The endpoint to dial instead. */
  to: string;
  /** PEM file of the TLS CA certificates to trust for `to`; "" keeps the channel's. */
  caCertsFile: string;
}

/** A parsed value: `empty` for "", a blank string or an empty list. */
export type PeerValue =
  | { empty: true }
  | { empty: false; value: string | boolean | number | string[] | AddressOverride[]; notes?: PeerValueNote[] };

/** Something about a value worth telling that is not an error (unknown fields of an override entry). */
export interface PeerValueNote {
  /** Suffix to the key, e.g. "[0].caCertFile". */
  at: string;
  message: string;
}

/** One thing wrong with a value; `at` is a suffix to the key for a part of it, e.g. "[1].to". */
export interface PeerValueError {
  at: string;
  message: string;
}

/** What each kind expects, for messages. */
export const PEER_EXPECT: Record<PeerKeyKind, string> = {
  text: "text",
  endpoint: 'host:port, e.g. "peer0.org1.example.com:7051"',
  listenEndpoint: 'host:port to listen on, e.g. "0.0.0.0:7051" (port 0 picks a free port)',
  path: "a file or folder path",
  pathList: 'paths as a YAML list, or one string separated by spaces or commas, e.g. "tls/ca.crt tls/org2-ca.crt" or "[a.crt, b.crt]"',
  bool: "true or false",
  duration: 'a Go duration such as "3s", "1500ms" or "1h"',
  addressOverrides:
    'a list of mappings with from, to and optionally caCertsFile (in the environment: the list as YAML, e.g. "[{from: orderer:7050, to: localhost:7050}]")',
};

type Result = PeerValue | { errors: PeerValueError[] };

function fail(message: string, at = ""): Result {
  return { errors: [{ at, message }] };
}

/** A shared parser's result, its one error as the whole value's. */
function whole(r: ValueResult<string | boolean | number>): Result {
  return "error" in r ? fail(r.error) : r;
}

/** `checkHostPort`, but port 0 is fine (listen on any free port). */
function checkListen(endpoint: string): string | undefined {
  const colon = endpoint.lastIndexOf(":");
  if (colon >= 0 && /^0+$/.test(endpoint.slice(colon + 1))) return checkHostPort(`${endpoint.slice(0, colon)}:1`);
  return checkHostPort(endpoint);
}

/**
 * Splits a list given as one string, in any of the forms Fabric's configs use: separated by
 * whitespace (viper's GetStringSlice), by commas, or as "[a, b]" (the orderer's viperutil form).
 */
export function splitListText(text: string): string[] {
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  return t.split(/[\s,]+/).filter((s) => s !== "");
}

function addressOverrides(raw: unknown): Result {
  let list = raw;
  if (typeof raw === "string") {
    if (raw.trim() === "") return { empty: true };
    // Fabric's viperutil.YamlStringToStructHook: a string is the list written as YAML.
    try {
      list = parseYaml(raw);
    } catch (err) {
      return fail(`got ${show(raw)}, which is not valid YAML (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); expected ${PEER_EXPECT.addressOverrides}`);
    }
  }
  if (list === null || list === undefined) return { empty: true };
  if (!Array.isArray(list)) return fail(`got ${show(list)}; expected ${PEER_EXPECT.addressOverrides}`);
  const out: AddressOverride[] = [];
  const errors: PeerValueError[] = [];
  const notes: PeerValueNote[] = [];
  const seen = new Map<string, number>();
  list.forEach((entry: unknown, i) => {
    const at = `[${i}]`;
    if (!isPlainObject(entry)) {
      errors.push({ at, message: `is ${show(entry)}; expected a mapping with from, to and optionally caCertsFile` });
      return;
    }
    const fields: Record<"from" | "to" | "cacertsfile", unknown> = { from: undefined, to: undefined, cacertsfile: undefined };
    for (const [name, v] of Object.entries(entry)) {
      const lower = name.toLowerCase();
      if (lower === "from" || lower === "to" || lower === "cacertsfile") fields[lower] = v;
      else notes.push({ at: `${at}.${name}`, message: "is not a field of an address override (from, to, caCertsFile); ignored" });
    }
    const endpoint = (field: "from" | "to"): string | undefined => {
      const v = fields[field];
      if (v === undefined || v === null || (typeof v === "string" && v.trim() === "")) {
        errors.push({ at: `${at}.${field}`, message: `is missing; expected ${PEER_EXPECT.endpoint}` });
        return undefined;
      }
      if (typeof v !== "string") {
        errors.push({ at: `${at}.${field}`, message: `is ${show(v)}; expected ${PEER_EXPECT.endpoint}` });
        return undefined;
      }
      const why = checkHostPort(v.trim());
      if (why !== undefined) {
        errors.push({ at: `${at}.${field}`, message: `is ${show(v)}, which ${why}; expected ${PEER_EXPECT.endpoint}` });
        return undefined;
      }
      return v.trim();
    };
    const from = endpoint("from");
    const to = endpoint("to");
    const ca = fields.cacertsfile;
    let caCertsFile = "";
    if (typeof ca === "string") caCertsFile = ca.trim();
    else if (ca !== undefined && ca !== null) errors.push({ at: `${at}.caCertsFile`, message: `is ${show(ca)}; expected ${PEER_EXPECT.path}` });
    if (from === undefined || to === undefined) return;
    const prior = seen.get(from);
    if (prior !== undefined) {
      errors.push({ at: `${at}.from`, message: `is ${show(from)}, already overridden by entry [${prior}]; expected each orderer endpoint once` });
      return;
    }
    seen.set(from, i);
    out.push({ from, to, caCertsFile });
  });
  if (errors.length > 0) return { errors };
  if (out.length === 0) return { empty: true };
  return { empty: false, value: out, ...(notes.length > 0 ? { notes } : {}) };
}

/**
 * Parses one raw value. `textual`: the value is text that may spell a boolean (environment,
 * string overrides); YAML values must have the right type.
 */
export function parsePeerValue(kind: PeerKeyKind, raw: unknown, textual: boolean): Result {
  const expected = PEER_EXPECT[kind];
  const bad = (what: string): Result => fail(`${what}; expected ${expected}`);
  switch (kind) {
    case "text":
    case "path": {
      if (typeof raw !== "string") {
        return bad(typeof raw === "number" || typeof raw === "boolean" ? `got ${show(raw)}, not text (put it in quotes)` : `got ${show(raw)}`);
      }
      const t = raw.trim();
      return t === "" ? { empty: true } : { empty: false, value: t };
    }
    case "endpoint":
      return whole(parseEndpointValue(raw, expected, checkHostPort));
    case "listenEndpoint":
      return whole(parseEndpointValue(raw, expected, checkListen));
    case "pathList": {
      let items: unknown[];
      if (typeof raw === "string") items = splitListText(raw);
      else if (Array.isArray(raw)) items = raw;
      else return bad(`got ${show(raw)}`);
      const out: string[] = [];
      const errors: PeerValueError[] = [];
      items.forEach((item, i) => {
        if (typeof item !== "string") errors.push({ at: `[${i}]`, message: `is ${show(item)}; expected a path` });
        else if (item.trim() !== "") out.push(item.trim());
      });
      if (errors.length > 0) return { errors };
      return out.length === 0 ? { empty: true } : { empty: false, value: out };
    }
    case "bool":
      return whole(parseBoolValue(raw, textual, expected));
    case "duration":
      return whole(parseDurationValue(raw, expected));
    case "addressOverrides":
      return addressOverrides(raw);
  }
}
