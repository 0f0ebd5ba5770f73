import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { checkHostPort } from "../config/index.js";
import type { MspOrgMaterial } from "../crypto/index.js";
import type { AnchorPeer, JoinChannelMessage } from "../gossip/channel/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { errorMessage, fromUtf8, GossipError, utf8 } from "../util/index.js";

/** Why a channel definition was refused. */
export type ChannelDefinitionErrorCode = "INVALID_CHANNEL_DEFINITION" | "CHANNEL_DEFINITION_READ";

/** A channel definition that could not be read or that is not valid; the message names the field. */
export class ChannelDefinitionError extends GossipError {
  declare readonly code: ChannelDefinitionErrorCode;

  constructor(code: ChannelDefinitionErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A member org of a channel: its MSP ID, its MSP (a folder, or the material a config block carries) and its anchor peers. */
export interface ChannelOrgDefinition {
  mspId: string;
  /** The org's MSP folder (cacerts/ and friends); absolute once loaded from a file. "" when `msp` is given. */
  mspDir: string;
  /** The org's MSP as the channel's config block defines it; read instead of `mspDir` when present. */
  msp?: MspOrgMaterial;
  /** Anchor peers, "host:port". */
  anchorPeers: string[];
}

/** The ordering service of a channel. */
export interface ChannelOrdererDefinition {
  mspId: string;
  mspDir: string;
  msp?: MspOrgMaterial;
  /** Further orderer orgs, with their MSPs (a channel config may name several; their signatures count too). */
  otherOrgs?: { mspId: string; msp: MspOrgMaterial }[];
  /** Orderer endpoints, "host:port"; at least one. */
  endpoints: string[];
}

/**
 * What the gossip service needs to know of a channel: the member orgs (with their MSPs and anchor
 * peers), the orderer orgs and endpoints. A peer with an MSP identity gets it only from the channel's
 * configuration (`channelDefinitionOf`); the simulator and the development crypto build it in memory.
 * The YAML form (`loadChannelDefinition`) is only an input to `fabric-gossip channel genesis`.
 */
export interface ChannelDefinition {
  name: string;
  orgs: ChannelOrgDefinition[];
  orderer: ChannelOrdererDefinition;
}

/** Fabric's channel name rule (configtx `ValidateChannelID`): lower case, digits, '.', '-'; starts with a letter; < 250 chars. */
const CHANNEL_NAME = /^[a-z][a-z0-9.-]*$/;
const MAX_CHANNEL_NAME_LENGTH = 249;

function invalid(field: string, what: string): ChannelDefinitionError {
  return new ChannelDefinitionError("INVALID_CHANNEL_DEFINITION", `channel definition: ${field} ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function str(v: unknown, field: string): string {
  if (typeof v !== "string" || v.trim() === "") throw invalid(field, `must be a non-empty string, got ${show(v)}`);
  return v;
}

function endpoints(v: unknown, field: string, required: boolean): string[] {
  if (v === undefined || v === null) {
    if (required) throw invalid(field, "must list at least one \"host:port\" endpoint, got nothing");
    return [];
  }
  if (!Array.isArray(v)) throw invalid(field, `must be a list of "host:port" strings, got ${show(v)}`);
  if (required && v.length === 0) throw invalid(field, "must list at least one \"host:port\" endpoint, got an empty list");
  return v.map((e, i) => {
    const s = str(e, `${field}[${i}]`);
    const problem = checkHostPort(s);
    if (problem !== undefined) throw invalid(`${field}[${i}]`, `${JSON.stringify(s)} is not a valid "host:port": it ${problem}`);
    return s;
  });
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw invalid(`${field === "" ? "" : `${field}.`}${k}`, `is not a known field (expected one of ${allowed.join(", ")})`);
  }
}

/**
 * Validates a parsed channel definition. Relative `mspDir`s are resolved against `baseDir` when given.
 * @throws ChannelDefinitionError INVALID_CHANNEL_DEFINITION naming the offending field.
 */
export function validateChannelDefinition(raw: unknown, baseDir?: string): ChannelDefinition {
  if (!isRecord(raw)) throw invalid("(document)", `must be a map with name, orgs and orderer, got ${show(raw)}`);
  checkKeys(raw, ["name", "orgs", "orderer"], "");
  const name = str(raw["name"], "name");
  if (!CHANNEL_NAME.test(name) || name.length > MAX_CHANNEL_NAME_LENGTH) {
    throw invalid("name", `${JSON.stringify(name)} is not a valid channel name (lower-case letters, digits, '.' and '-', starting with a letter, at most ${MAX_CHANNEL_NAME_LENGTH} characters)`);
  }
  const dir = (d: string): string => (baseDir !== undefined && !isAbsolute(d) ? resolve(baseDir, d) : d);
  const rawOrgs = raw["orgs"];
  if (!Array.isArray(rawOrgs) || rawOrgs.length === 0) throw invalid("orgs", `must be a non-empty list of member orgs, got ${show(rawOrgs)}`);
  const seen = new Set<string>();
  const orgs = rawOrgs.map((o, i): ChannelOrgDefinition => {
    const f = `orgs[${i}]`;
    if (!isRecord(o)) throw invalid(f, `must be a map with mspId, mspDir and anchorPeers, got ${show(o)}`);
    checkKeys(o, ["mspId", "mspDir", "anchorPeers"], f);
    const mspId = str(o["mspId"], `${f}.mspId`);
    if (seen.has(mspId)) throw invalid(`${f}.mspId`, `${JSON.stringify(mspId)} is listed twice`);
    seen.add(mspId);
    return { mspId, mspDir: dir(str(o["mspDir"], `${f}.mspDir`)), anchorPeers: endpoints(o["anchorPeers"], `${f}.anchorPeers`, false) };
  });
  const o = raw["orderer"];
  if (!isRecord(o)) throw invalid("orderer", `must be a map with mspId, mspDir and endpoints, got ${show(o)}`);
  checkKeys(o, ["mspId", "mspDir", "endpoints"], "orderer");
  const orderer: ChannelOrdererDefinition = {
    mspId: str(o["mspId"], "orderer.mspId"),
    mspDir: dir(str(o["mspDir"], "orderer.mspDir")),
    endpoints: endpoints(o["endpoints"], "orderer.endpoints", true),
  };
  return { name, orgs, orderer };
}

/**
 * Parses a channel definition from YAML text.
 * @param source shown in errors (e.g. the file name).
 * @throws ChannelDefinitionError INVALID_CHANNEL_DEFINITION for bad YAML or a bad field.
 */
export function parseChannelDefinition(text: string, baseDir?: string, source = "channel definition"): ChannelDefinition {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ChannelDefinitionError("INVALID_CHANNEL_DEFINITION", `${source}: not valid YAML: ${errorMessage(err)}`, { cause: err });
  }
  return validateChannelDefinition(raw, baseDir);
}

/**
 * Reads a channel definition YAML file; relative MSP folders are taken from the file's folder.
 * @throws ChannelDefinitionError CHANNEL_DEFINITION_READ or INVALID_CHANNEL_DEFINITION.
 */
export async function loadChannelDefinition(path: string): Promise<ChannelDefinition> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ChannelDefinitionError("CHANNEL_DEFINITION_READ", `cannot read the channel definition ${path}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    return parseChannelDefinition(text, dirname(resolve(path)), path);
  } catch (err) {
    if (err instanceof ChannelDefinitionError) {
      throw new ChannelDefinitionError(err.code, err.message.startsWith(path) ? err.message : `${path}: ${err.message}`, { cause: err.cause });
    }
    throw err;
  }
}

function anchorPeerOf(endpoint: string): AnchorPeer {
  const colon = endpoint.lastIndexOf(":");
  let host = endpoint.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port: Number(endpoint.slice(colon + 1)) };
}

/** The join message of a channel definition (Fabric's `joinChannelMessage`): its member orgs and their anchor peers. */
export function joinMessageOf(def: ChannelDefinition, sequenceNumber = 1): JoinChannelMessage {
  const anchors = new Map(def.orgs.map((o) => [o.mspId, o.anchorPeers.map(anchorPeerOf)]));
  return {
    sequenceNumber,
    members: () => def.orgs.map((o) => utf8(o.mspId)),
    anchorPeersOf: (org) => [...(anchors.get(fromUtf8(org)) ?? [])],
  };
}

/** The MSPs a definition carries itself (one made from a channel configuration carries every org's). */
export function mspMaterialsOf(def: ChannelDefinition): MspOrgMaterial[] {
  const out: MspOrgMaterial[] = [];
  for (const o of [...def.orgs, def.orderer, ...(def.orderer.otherOrgs ?? [])]) if (o.msp !== undefined) out.push(o.msp);
  return out;
}

/** Throws unless the identity is valid in the channel, its signature over the message verifies, and it satisfies the channel's Readers policy. */
export type ChannelReadersCheck = (identity: Uint8Array, signature: Uint8Array, message: Uint8Array) => void;

/**
 * The channels a peer knows, as the MSP MessageCryptoService asks about them: pass `channelOrgs`,
 * `ordererOrgs` and `blockValidation` as its resolvers, and check `readers` before `channelOrgs` in
 * verifyByChannel. For a channel that follows its configuration, `blockValidation` and `readers` are
 * its BlockValidation and Readers policies in force; `channelOrgs` and `ordererOrgs` stand in for them
 * otherwise (a block 0 without a configuration: the simulator's). The gossip service registers each
 * channel it initializes.
 */
export class ChannelRegistry {
  readonly #defs = new Map<string, ChannelDefinition>();
  readonly #blockValidation = new Map<string, (block: Block) => void>();
  readonly #readers = new Map<string, ChannelReadersCheck>();

  set(def: ChannelDefinition): void {
    this.#defs.set(def.name, def);
  }

  delete(channel: string): void {
    this.#defs.delete(channel);
    this.#blockValidation.delete(channel);
    this.#readers.delete(channel);
  }

  /** Sets (or, undefined, removes) the /Channel/Application/Readers check in force of a channel that follows its configuration. */
  setReaders(channel: string, check: ChannelReadersCheck | undefined): void {
    if (check === undefined) this.#readers.delete(channel);
    else this.#readers.set(channel, check);
  }

  /** The Readers check in force of a channel that follows its configuration (Fabric's `VerifyByChannel`), undefined otherwise. */
  readonly readers = (channel: string): ChannelReadersCheck | undefined => this.#readers.get(channel);

  /** Sets (or, undefined, removes) the BlockValidation policy in force of a channel that follows its configuration. */
  setBlockValidation(channel: string, policy: ((block: Block) => void) | undefined): void {
    if (policy === undefined) this.#blockValidation.delete(channel);
    else this.#blockValidation.set(channel, policy);
  }

  /** The BlockValidation policy in force of a channel, for the MSP MCS's `blockValidation` resolver. */
  readonly blockValidation = (channel: string): ((block: Block) => void) | undefined => this.#blockValidation.get(channel);

  get(channel: string): ChannelDefinition | undefined {
    return this.#defs.get(channel);
  }

  /** The member MSP IDs of a channel, undefined when unknown. */
  readonly channelOrgs = (channel: string): ReadonlySet<string> | undefined => {
    const def = this.#defs.get(channel);
    return def === undefined ? undefined : new Set(def.orgs.map((o) => o.mspId));
  };

  /** The orderer MSP IDs of a channel, undefined when unknown. */
  readonly ordererOrgs = (channel: string): ReadonlySet<string> | undefined => {
    const def = this.#defs.get(channel);
    return def === undefined ? undefined : new Set([def.orderer.mspId, ...(def.orderer.otherOrgs ?? []).map((o) => o.mspId)]);
  };
}
