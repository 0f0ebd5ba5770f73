import { SignaturePolicyEnvelope } from "../protos/gen/common/policies.pb.js";
import { SerializedIdentity } from "../protos/gen/msp/identities.pb.js";
import { MSPPrincipal_Classification, MSPRole, OrganizationUnit } from "../protos/gen/msp/msp_principal.pb.js";
import { CollectionConfigPackage, type StaticCollectionConfig } from "../protos/gen/peer/collection.pb.js";
import type { ApplicationPolicy } from "../protos/gen/peer/policy.pb.js";
import { errorMessage } from "../util/index.js";
import { PrivdataError } from "./errors.js";
import { parseSignaturePolicy, signedByMspMember } from "./policy-dsl.js";

/** Fabric's prefix of an org's implicit collection (`core/chaincode/implicitcollection`). */
export const IMPLICIT_COLLECTION_PREFIX = "_implicit_org_";

/** The namespace of the new chaincode lifecycle; it is always defined and has only implicit collections. */
export const LIFECYCLE_NAMESPACE = "_lifecycle";

/**
 * `peer.gossip.pvtData.implicitCollectionDisseminationPolicy`: how the peer's own org's implicit collection
 * is disseminated. Fabric's defaults: requiredPeerCount 0, maxPeerCount 1.
 */
export interface ImplicitCollectionDisseminationPolicy {
  requiredPeerCount: number;
  maxPeerCount: number;
}

export const DEFAULT_IMPLICIT_COLLECTION_DISSEMINATION: ImplicitCollectionDisseminationPolicy = Object.freeze({
  requiredPeerCount: 0,
  maxPeerCount: 1,
});

/**
 * One collection, typed: a `protos.StaticCollectionConfig` (Fabric's `privdata.SimpleCollection` before its
 * policy is compiled). `config` is the proto itself, for re-encoding (a PrivateDataMessage carries it).
 */
export interface CollectionDefinition {
  readonly name: string;
  /** The member orgs policy: who may hold the collection's data. */
  readonly memberOrgsPolicy: SignaturePolicyEnvelope;
  /** The MSP IDs the member orgs policy names (Fabric's `MemberOrgs`), sorted. */
  readonly memberOrgs: readonly string[];
  readonly requiredPeerCount: number;
  readonly maximumPeerCount: number;
  /** Blocks the data stays after the block that wrote it; 0: forever. */
  readonly blockToLive: bigint;
  readonly memberOnlyRead: boolean;
  readonly memberOnlyWrite: boolean;
  /** The collection-level endorsement policy, when the definition has one. */
  readonly endorsementPolicy: ApplicationPolicy | undefined;
  /** An `_implicit_org_<MSPID>` collection, generated rather than defined. */
  readonly implicit: boolean;
  readonly config: StaticCollectionConfig;
}

/** `_implicit_org_<mspId>`. */
export function implicitCollectionName(mspId: string): string {
  return `${IMPLICIT_COLLECTION_PREFIX}${mspId}`;
}

/** The MSP ID an implicit collection's name names, or undefined for any other name. */
export function implicitCollectionMspId(name: string): string | undefined {
  return name.startsWith(IMPLICIT_COLLECTION_PREFIX) && name.length > IMPLICIT_COLLECTION_PREFIX.length
    ? name.slice(IMPLICIT_COLLECTION_PREFIX.length)
    : undefined;
}

/**
 * The MSP IDs of a signature policy's principals (Fabric's `getMemberOrgs`): ROLE and ORGANIZATION_UNIT
 * principals name theirs; an IDENTITY principal's is its SerializedIdentity's MSP ID (Fabric deserializes it
 * with the channel's MSPs, so it drops one of an MSP the channel lacks; such an org can hold nothing anyway).
 * Undecodable principals are skipped, as in Fabric.
 */
export function memberOrgsOf(envelope: SignaturePolicyEnvelope): string[] {
  const orgs = new Set<string>();
  for (const p of envelope.identities) {
    try {
      switch (p.principalClassification) {
        case MSPPrincipal_Classification.ROLE:
          orgs.add(MSPRole.decode(p.principal).mspIdentifier);
          break;
        case MSPPrincipal_Classification.ORGANIZATION_UNIT:
          orgs.add(OrganizationUnit.decode(p.principal).mspIdentifier);
          break;
        case MSPPrincipal_Classification.IDENTITY:
          orgs.add(SerializedIdentity.decode(p.principal).mspid);
          break;
      }
    } catch {
      // Fabric ignores a principal that does not unmarshal.
    }
  }
  orgs.delete("");
  return [...orgs].sort();
}

/**
 * The typed view of one StaticCollectionConfig. Throws PrivdataError BAD_COLLECTION_CONFIG when it has no
 * name or no member orgs signature policy (Fabric's `SimpleCollection.Setup` refuses these).
 */
export function collectionDefinitionOf(config: StaticCollectionConfig, implicit = false): CollectionDefinition {
  if (config.name === "") throw new PrivdataError("BAD_COLLECTION_CONFIG", "a collection config has no name");
  const policy = config.memberOrgsPolicy?.payload;
  if (policy?.$case !== "signaturePolicy") {
    throw new PrivdataError("BAD_COLLECTION_CONFIG", `collection ${config.name} has no member orgs signature policy`);
  }
  return Object.freeze({
    name: config.name,
    memberOrgsPolicy: policy.value,
    memberOrgs: Object.freeze(memberOrgsOf(policy.value)),
    requiredPeerCount: config.requiredPeerCount,
    maximumPeerCount: config.maximumPeerCount,
    blockToLive: config.blockToLive,
    memberOnlyRead: config.memberOnlyRead,
    memberOnlyWrite: config.memberOnlyWrite,
    endorsementPolicy: config.endorsementPolicy,
    implicit,
    config,
  });
}

/**
 * The collections of a CollectionConfigPackage, in order. Throws PrivdataError BAD_COLLECTION_CONFIG when a
 * config is not a static collection, is incomplete, or repeats a name (Fabric's lifecycle refuses such a
 * definition, so a committed one never has them).
 */
export function collectionsOfPackage(pkg: CollectionConfigPackage): CollectionDefinition[] {
  const seen = new Set<string>();
  return pkg.config.map((c, i) => {
    if (c.payload?.$case !== "staticCollectionConfig") {
      throw new PrivdataError("BAD_COLLECTION_CONFIG", `collection config ${i} of the package is not a static collection config`);
    }
    const def = collectionDefinitionOf(c.payload.value);
    if (seen.has(def.name)) throw new PrivdataError("BAD_COLLECTION_CONFIG", `collection ${def.name} is defined twice in the package`);
    seen.add(def.name);
    return def;
  });
}

/** Decodes a CollectionConfigPackage. Throws PrivdataError BAD_COLLECTION_CONFIG. */
export function decodeCollectionConfigPackage(bytes: Uint8Array): CollectionConfigPackage {
  try {
    return CollectionConfigPackage.decode(bytes);
  } catch (err) {
    throw new PrivdataError("BAD_COLLECTION_CONFIG", `the bytes (${bytes.length}) are not a CollectionConfigPackage: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** A package of the given collections, in order (what a PrivateDataMessage or a lifecycle commit carries). */
export function collectionConfigPackageOf(collections: readonly CollectionDefinition[]): CollectionConfigPackage {
  return { config: collections.map((c) => ({ payload: { $case: "staticCollectionConfig", value: c.config } })) };
}

/**
 * An org's implicit collection as Fabric's `GenerateImplicitCollectionForOrg` makes it: named
 * `_implicit_org_<mspId>`, member orgs policy "a member of mspId", blockToLive 0, memberOnlyRead and
 * memberOnlyWrite false (Fabric sets neither, so a non-member's read is refused for lack of data, not of
 * permission), no endorsement policy. The required and maximum peer counts are `dissemination`'s for the
 * peer's own org (`localMspId`) and 0 for every other org's.
 */
export function implicitCollectionFor(
  mspId: string,
  localMspId: string | undefined,
  dissemination: ImplicitCollectionDisseminationPolicy = DEFAULT_IMPLICIT_COLLECTION_DISSEMINATION,
): CollectionDefinition {
  const own = mspId === localMspId;
  return collectionDefinitionOf(
    {
      name: implicitCollectionName(mspId),
      memberOrgsPolicy: { payload: { $case: "signaturePolicy", value: signedByMspMember(mspId) } },
      requiredPeerCount: own ? dissemination.requiredPeerCount : 0,
      maximumPeerCount: own ? dissemination.maxPeerCount : 0,
      blockToLive: 0n,
      memberOnlyRead: false,
      memberOnlyWrite: false,
      endorsementPolicy: undefined,
    },
    true,
  );
}

// ---------------------------------------------------------------------------------------------
// collections_config.json (the peer CLI's `--collections-config`)

/** Reads an optional field of a JSON object, checking its type. */
function field<T>(obj: Record<string, unknown>, key: string, where: string, check: (v: unknown) => v is T, type: string): T | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw new PrivdataError("BAD_COLLECTIONS_FILE", `${where}: "${key}" must be ${type}, not ${JSON.stringify(v)}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isBool = (v: unknown): v is boolean => typeof v === "boolean";
const isInt32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
const isUint64 = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function endorsementPolicyOf(obj: Record<string, unknown>, where: string): ApplicationPolicy | undefined {
  const ep = field(obj, "endorsementPolicy", where, isObject, "an object");
  if (ep === undefined) return undefined;
  const signature = field(ep, "signaturePolicy", `${where} endorsementPolicy`, isString, "a string") ?? "";
  const reference = field(ep, "channelConfigPolicy", `${where} endorsementPolicy`, isString, "a string") ?? "";
  if (signature === "" && reference === "") return undefined;
  if (signature !== "" && reference !== "") {
    throw new PrivdataError("BAD_COLLECTIONS_FILE", `${where}: endorsementPolicy names both a signaturePolicy and a channelConfigPolicy`);
  }
  if (reference !== "") return { Type: { $case: "channelConfigPolicyReference", value: reference } };
  try {
    return { Type: { $case: "signaturePolicy", value: parseSignaturePolicy(signature) } };
  } catch (err) {
    throw new PrivdataError("BAD_COLLECTIONS_FILE", `${where}: invalid endorsement signature policy: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Parses a collections_config.json as Fabric's peer CLI does (`getCollectionConfigFromBytes`): an array of
 * `{name, policy, requiredPeerCount?, maxPeerCount?, blockToLive?, memberOnlyRead?, memberOnlyWrite?,
 * endorsementPolicy?: {signaturePolicy | channelConfigPolicy}}`, requiredPeerCount defaulting to 0 and
 * maxPeerCount to 1. The package it returns encodes to the bytes the CLI would commit. Throws PrivdataError
 * BAD_COLLECTIONS_FILE naming the entry and the field.
 */
export function parseCollectionsConfigJson(text: string): CollectionConfigPackage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PrivdataError("BAD_COLLECTIONS_FILE", `the collections configuration is not JSON: ${errorMessage(err)}`, { cause: err });
  }
  if (!Array.isArray(parsed)) throw new PrivdataError("BAD_COLLECTIONS_FILE", "the collections configuration must be a JSON array of collections");
  const pkg: CollectionConfigPackage = { config: [] };
  parsed.forEach((item: unknown, i) => {
    const where = `collection ${i}`;
    if (!isObject(item)) throw new PrivdataError("BAD_COLLECTIONS_FILE", `${where} is not an object`);
    const name = field(item, "name", where, isString, "a string") ?? "";
    const named = name === "" ? where : `${where} (${name})`;
    const policyText = field(item, "policy", named, isString, "a string") ?? "";
    let policy: SignaturePolicyEnvelope;
    try {
      policy = parseSignaturePolicy(policyText);
    } catch (err) {
      throw new PrivdataError("BAD_COLLECTIONS_FILE", `${named}: invalid policy ${JSON.stringify(policyText)}: ${errorMessage(err)}`, { cause: err });
    }
    pkg.config.push({
      payload: {
        $case: "staticCollectionConfig",
        value: {
          name,
          memberOrgsPolicy: { payload: { $case: "signaturePolicy", value: policy } },
          requiredPeerCount: field(item, "requiredPeerCount", named, isInt32, "a 32-bit integer") ?? 0,
          maximumPeerCount: field(item, "maxPeerCount", named, isInt32, "a 32-bit integer") ?? 1,
          blockToLive: BigInt(field(item, "blockToLive", named, isUint64, "a non-negative integer") ?? 0),
          memberOnlyRead: field(item, "memberOnlyRead", named, isBool, "a boolean") ?? false,
          memberOnlyWrite: field(item, "memberOnlyWrite", named, isBool, "a boolean") ?? false,
          endorsementPolicy: endorsementPolicyOf(item, named),
        },
      },
    });
  });
  // The same checks as a package from the chain: a name, a policy, no duplicates.
  try {
    collectionsOfPackage(pkg);
  } catch (err) {
    throw new PrivdataError("BAD_COLLECTIONS_FILE", `the collections configuration: ${errorMessage(err)}`, { cause: err });
  }
  return pkg;
}

/** Re-exported for callers that compile the policy: the envelope's bytes. */
export function memberOrgsPolicyBytes(collection: CollectionDefinition): Uint8Array {
  return SignaturePolicyEnvelope.encode(collection.memberOrgsPolicy).finish();
}
