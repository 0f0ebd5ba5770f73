import {
  ImplicitMetaPolicy,
  ImplicitMetaPolicy_Rule,
  Policy_PolicyType,
  type SignaturePolicy,
  SignaturePolicyEnvelope,
} from "../protos/gen/common/policies.pb.js";
import {
  type MSPPrincipal,
  MSPPrincipal_Classification,
  MSPRole,
  MSPRole_MSPRoleType,
  OrganizationUnit,
} from "../protos/gen/msp/msp_principal.pb.js";
import { errorMessage, GossipError } from "../util/index.js";

/**
 * A policy could not be built or was not satisfied. Codes:
 * - NOT_SATISFIED: the signature set does not satisfy the policy (`rejected` says which signatures were not
 *   counted and why, `unsatisfied` which principals or sub-policies found no signer).
 * - NO_SUCH_POLICY: no policy at that path.
 * - MALFORMED_POLICY: the policy bytes do not decode, or a SignedBy index is out of range.
 * - UNSUPPORTED_POLICY: a policy type other than SIGNATURE and IMPLICIT_META, or an envelope version other than 0.
 */
export class PolicyError extends GossipError {
  /** Signed-data items that were not counted, by index in the signature set. */
  readonly rejected: readonly RejectedSignature[];
  /** What found no signer: principal labels (`Org1MSP.admin`) or sub-policy paths, with the reason. */
  readonly unsatisfied: readonly string[];

  constructor(
    code: string,
    message: string,
    details: { rejected?: readonly RejectedSignature[]; unsatisfied?: readonly string[]; cause?: unknown } = {},
  ) {
    super(code, message, { cause: details.cause });
    this.rejected = details.rejected ?? [];
    this.unsatisfied = details.unsatisfied ?? [];
  }
}

/** One signed item of a signature set: Fabric's `protoutil.SignedData`. */
export interface SignedData {
  data: Uint8Array;
  /** A serialized `msp.SerializedIdentity`. */
  identity: Uint8Array;
  signature: Uint8Array;
}

/** A signed item that a signature policy did not count. */
export interface RejectedSignature {
  index: number;
  /** MALFORMED_IDENTITY / UNKNOWN_MSP (cannot be deserialized), DUPLICATE_IDENTITY, BAD_SIGNATURE, ... */
  code: string;
  message: string;
}

/** An identity as policies see it: Fabric's `msp.Identity`, reduced to what cauthdsl uses. */
export interface PolicyIdentity {
  readonly mspId: string;
  /** Distinguishes identities for de-duplication (Fabric: MSP ID + the certificate's hash). */
  readonly key: string;
  /** Checks `signature` over `data` with the identity's key (no validation of the identity). Throws. */
  verify(data: Uint8Array, signature: Uint8Array): void;
  /** Throws (with a typed code) unless the identity is valid and matches the principal. */
  satisfiesPrincipal(principal: MSPPrincipal): void;
}

/** Fabric's `msp.IdentityDeserializer`: the channel's MSP manager. */
export interface IdentityDeserializer {
  /** Throws (typed) when the bytes are not an identity of a known MSP. */
  deserializeIdentity(serialized: Uint8Array): PolicyIdentity;
}

/** A compiled policy: Fabric's `policies.Policy`. */
export interface PolicyEvaluator {
  /** Where it sits ("/Channel/Application/Readers"), for messages. */
  readonly path: string;
  /** Throws PolicyError unless the signature set satisfies the policy. */
  evaluate(signedData: readonly SignedData[]): void;
  /** The same over identities already deserialized and verified. Throws PolicyError. */
  evaluateIdentities(identities: readonly PolicyIdentity[]): void;
}

/**
 * A policy as the channel config holds it (`common.Policy`): its type (a Policy_PolicyType number, or its
 * name: "SIGNATURE", "IMPLICIT_META") and its encoded value.
 */
export interface PolicyDefinition {
  type: number | string;
  value: Uint8Array;
}

/** The policies of a channel, compiled: Fabric's `policies.Manager` seen from its root. */
export interface PolicyTree {
  /** The policy at a full path, e.g. "/Channel/Orderer/BlockValidation", or undefined. */
  get(path: string): PolicyEvaluator | undefined;
  /** Evaluates the policy at `path`. Throws PolicyError (NO_SUCH_POLICY when there is none). */
  evaluate(path: string, signedData: readonly SignedData[]): void;
  /** Every policy path, sorted. */
  paths(): string[];
}

// ---------------------------------------------------------------------------------------------
// Principals

/** A principal in the form Fabric's policy DSL prints it: `'Org1MSP.admin'`, `Org1MSP.OU(peer)`. */
export function describePrincipal(principal: MSPPrincipal): string {
  try {
    switch (principal.principalClassification) {
      case MSPPrincipal_Classification.ROLE: {
        const role = MSPRole.decode(principal.principal);
        const name = MSPRole_MSPRoleType[role.role] ?? `role ${role.role}`;
        return `${role.mspIdentifier}.${name.toLowerCase()}`;
      }
      case MSPPrincipal_Classification.ORGANIZATION_UNIT: {
        const ou = OrganizationUnit.decode(principal.principal);
        return `${ou.mspIdentifier}.OU(${ou.organizationalUnitIdentifier})`;
      }
      case MSPPrincipal_Classification.IDENTITY:
        return "an identity principal";
      default:
        return `a principal of classification ${principal.principalClassification}`;
    }
  } catch {
    return "an undecodable principal";
  }
}

// ---------------------------------------------------------------------------------------------
// Signature policies (Fabric's common/cauthdsl)

/** What a failed evaluation gathers, for the error. */
interface Trace {
  unsatisfied: string[];
}

/** A compiled SignaturePolicy node: marks the identities it consumes in `used`, as cauthdsl does. */
type Gate = (ids: readonly PolicyIdentity[], used: boolean[], trace: Trace) => boolean;

function compileGate(rule: SignaturePolicy | undefined, principals: readonly MSPPrincipal[], path: string): Gate {
  const t = rule?.Type;
  if (t === undefined) throw new PolicyError("MALFORMED_POLICY", `signature policy ${path} has an empty rule`);
  if (t.$case === "nOutOf") {
    const n = t.value.n;
    const gates = t.value.rules.map((r) => compileGate(r, principals, path));
    return (ids, used, trace) => {
      // Every sub-rule is tried (no early exit); a satisfied one keeps the identities it used.
      let verified = 0;
      for (const gate of gates) {
        const scratch = used.slice();
        if (gate(ids, scratch, trace)) {
          verified++;
          for (let i = 0; i < used.length; i++) used[i] = scratch[i] ?? false;
        }
      }
      return verified >= n;
    };
  }
  const index = t.value;
  const principal = principals[index];
  if (principal === undefined || index < 0) {
    throw new PolicyError(
      "MALFORMED_POLICY",
      `signature policy ${path}: SignedBy index ${index} is out of range (the envelope has ${principals.length} principals)`,
    );
  }
  const label = describePrincipal(principal);
  return (ids, used, trace) => {
    const reasons: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (used[i]) continue;
      const id = ids[i];
      if (id === undefined) continue;
      try {
        id.satisfiesPrincipal(principal);
      } catch (err) {
        reasons.push(`signer ${i} (${id.mspId}): ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      used[i] = true;
      return true;
    }
    const why = reasons.length > 0 ? reasons.join("; ") : ids.length === 0 ? "no valid signer" : "every signer already counted";
    trace.unsatisfied.push(`${label}: ${why}`);
    return false;
  };
}

/**
 * Deserializes and verifies a signature set as Fabric's `policies.SignatureSetToValidIdentities` does: items
 * whose identity cannot be deserialized, repeat an identity already seen, or whose signature does not
 * verify are left out (and reported in `rejected`). Identities are not validated here: that is the
 * principals' job (a revoked identity verifies, then satisfies no principal).
 */
export function signatureSetToValidIdentities(
  signedData: readonly SignedData[],
  deserializer: IdentityDeserializer,
): { identities: PolicyIdentity[]; rejected: RejectedSignature[] } {
  const seen = new Set<string>();
  const identities: PolicyIdentity[] = [];
  const rejected: RejectedSignature[] = [];
  signedData.forEach((sd, index) => {
    let id: PolicyIdentity;
    try {
      id = deserializer.deserializeIdentity(sd.identity);
    } catch (err) {
      rejected.push({ index, code: codeOf(err, "MALFORMED_IDENTITY"), message: errorMessage(err) });
      return;
    }
    // Checked before the signature so that repeating one identity cannot cost many verifications.
    if (seen.has(id.key)) {
      rejected.push({ index, code: "DUPLICATE_IDENTITY", message: `identity of ${id.mspId} already appears earlier in the signature set` });
      return;
    }
    try {
      id.verify(sd.data, sd.signature);
    } catch (err) {
      rejected.push({ index, code: codeOf(err, "BAD_SIGNATURE"), message: `signature of ${id.mspId} does not verify: ${errorMessage(err)}` });
      return;
    }
    seen.add(id.key);
    identities.push(id);
  });
  return { identities, rejected };
}

class SignaturePolicyEvaluator implements PolicyEvaluator {
  readonly path: string;
  readonly #gate: Gate;
  readonly #deserializer: IdentityDeserializer;

  constructor(path: string, envelope: SignaturePolicyEnvelope, deserializer: IdentityDeserializer) {
    if (envelope.version !== 0) {
      throw new PolicyError("UNSUPPORTED_POLICY", `signature policy ${path} has envelope version ${envelope.version}; only version 0 is understood`);
    }
    this.path = path;
    this.#gate = compileGate(envelope.rule, envelope.identities, path);
    this.#deserializer = deserializer;
  }

  evaluate(signedData: readonly SignedData[]): void {
    const { identities, rejected } = signatureSetToValidIdentities(signedData, this.#deserializer);
    this.#run(identities, rejected, signedData.length);
  }

  evaluateIdentities(identities: readonly PolicyIdentity[]): void {
    this.#run(identities, [], identities.length);
  }

  #run(identities: readonly PolicyIdentity[], rejected: RejectedSignature[], offered: number): void {
    const trace: Trace = { unsatisfied: [] };
    if (this.#gate(identities, new Array<boolean>(identities.length).fill(false), trace)) return;
    const parts = [`signature policy ${this.path} is not satisfied by ${offered} signature(s), ${identities.length} of them valid`];
    if (trace.unsatisfied.length > 0) parts.push(`unsatisfied: ${trace.unsatisfied.join(" | ")}`);
    if (rejected.length > 0) parts.push(`not counted: ${rejected.map((r) => `#${r.index} ${r.code} (${r.message})`).join("; ")}`);
    throw new PolicyError("NOT_SATISFIED", parts.join("; "), { rejected, unsatisfied: trace.unsatisfied });
  }
}

/**
 * Compiles a `common.SignaturePolicyEnvelope` (Fabric's cauthdsl): NOutOf gates over SignedBy principals,
 * each signer counted at most once, greedily in signature-set order. Throws PolicyError MALFORMED_POLICY /
 * UNSUPPORTED_POLICY.
 */
export function createSignaturePolicy(path: string, value: Uint8Array, deserializer: IdentityDeserializer): PolicyEvaluator {
  let envelope: SignaturePolicyEnvelope;
  try {
    envelope = SignaturePolicyEnvelope.decode(value);
  } catch (err) {
    throw new PolicyError("MALFORMED_POLICY", `policy ${path} is not a SignaturePolicyEnvelope`, { cause: err });
  }
  return new SignaturePolicyEvaluator(path, envelope, deserializer);
}

// ---------------------------------------------------------------------------------------------
// Implicit meta policies (Fabric's common/policies/implicitmeta.go)

class ImplicitMetaPolicyEvaluator implements PolicyEvaluator {
  readonly path: string;
  readonly #rule: ImplicitMetaPolicy_Rule;
  readonly #subPolicy: string;
  /** Each child group's path and its sub-policy (undefined: the child has none, which never satisfies). */
  readonly #children: ReadonlyArray<{ group: string; resolve: () => PolicyEvaluator | undefined }>;

  constructor(path: string, def: ImplicitMetaPolicy, children: ReadonlyArray<{ group: string; resolve: () => PolicyEvaluator | undefined }>) {
    this.path = path;
    this.#rule = def.rule;
    this.#subPolicy = def.subPolicy;
    this.#children = children;
  }

  /** How many children must be satisfied: ANY 1, ALL every one, MAJORITY more than half; 0 without children. */
  get threshold(): number {
    const n = this.#children.length;
    if (n === 0) return 0;
    if (this.#rule === ImplicitMetaPolicy_Rule.ALL) return n;
    if (this.#rule === ImplicitMetaPolicy_Rule.MAJORITY) return Math.floor(n / 2) + 1;
    return 1;
  }

  evaluate(signedData: readonly SignedData[]): void {
    this.#run((p) => p.evaluate(signedData));
  }

  evaluateIdentities(identities: readonly PolicyIdentity[]): void {
    this.#run((p) => p.evaluateIdentities(identities));
  }

  #run(evaluateChild: (p: PolicyEvaluator) => void): void {
    const threshold = this.threshold;
    let satisfied = 0;
    if (satisfied >= threshold) return;
    const unsatisfied: string[] = [];
    const rejected: RejectedSignature[] = [];
    for (const child of this.#children) {
      const policy = child.resolve();
      if (policy === undefined) {
        unsatisfied.push(`${child.group}/${this.#subPolicy}: no such policy`);
        continue;
      }
      try {
        evaluateChild(policy);
      } catch (err) {
        unsatisfied.push(`${policy.path}: ${errorMessage(err)}`);
        if (err instanceof PolicyError) for (const r of err.rejected) if (!rejected.some((x) => x.index === r.index)) rejected.push(r);
        continue;
      }
      satisfied++;
      if (satisfied >= threshold) return;
    }
    const rule = ImplicitMetaPolicy_Rule[this.#rule] ?? String(this.#rule);
    throw new PolicyError(
      "NOT_SATISFIED",
      `implicit meta policy ${this.path} (${rule} ${this.#subPolicy}): ${satisfied} of ${this.#children.length} sub-policies satisfied, ${threshold} needed`,
      { rejected, unsatisfied },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The tree

/** "/Channel/Application/Org1MSP/Admins" -> ["/Channel/Application/Org1MSP", "Admins"]. */
function splitPath(path: string): [group: string, name: string] {
  const i = path.lastIndexOf("/");
  return [path.slice(0, i), path.slice(i + 1)];
}

function normalisePath(path: string): string {
  if (!path.startsWith("/") || path.endsWith("/") || path.includes("//")) {
    throw new PolicyError("MALFORMED_POLICY", `policy path ${JSON.stringify(path)} must be absolute, like /Channel/Application/Readers`);
  }
  return path;
}

/**
 * Builds the policy tree of a channel from its policies by full path ("/Channel/Application/Org1MSP/Admins"
 * -> {type, value}), as Fabric's policy manager does from the config groups. An IMPLICIT_META policy of
 * group G applies its rule over G's immediate child groups, each contributing its policy named `sub_policy`
 * (a child without it counts, and is never satisfied, as in Fabric). Child groups are the groups the
 * paths reveal, plus `groups` (full group paths) for groups that hold no policy. Throws PolicyError
 * MALFORMED_POLICY / UNSUPPORTED_POLICY naming the path.
 */
export function createPolicyTree(opts: {
  policies: ReadonlyMap<string, PolicyDefinition> | Readonly<Record<string, PolicyDefinition>>;
  deserializer: IdentityDeserializer;
  groups?: readonly string[];
}): PolicyTree {
  const entries = opts.policies instanceof Map ? [...opts.policies.entries()] : Object.entries(opts.policies);
  const groups = new Set<string>();
  const addGroup = (g: string): void => {
    // Every ancestor of a group is a group too (the root "/Channel" included).
    for (let cur = g; cur !== ""; cur = splitPath(cur)[0]) groups.add(cur);
  };
  for (const g of opts.groups ?? []) addGroup(normalisePath(g));
  for (const [p] of entries) addGroup(splitPath(normalisePath(p))[0]);

  const compiled = new Map<string, PolicyEvaluator>();
  const get = (path: string): PolicyEvaluator | undefined => compiled.get(path);
  for (const [path, def] of entries) {
    const type = typeof def.type === "number" ? def.type : (Policy_PolicyType as Record<string, number | string>)[def.type];
    switch (type) {
      case Policy_PolicyType.SIGNATURE:
        compiled.set(path, createSignaturePolicy(path, def.value, opts.deserializer));
        break;
      case Policy_PolicyType.IMPLICIT_META: {
        let meta: ImplicitMetaPolicy;
        try {
          meta = ImplicitMetaPolicy.decode(def.value);
        } catch (err) {
          throw new PolicyError("MALFORMED_POLICY", `policy ${path} is not an ImplicitMetaPolicy`, { cause: err });
        }
        const [group] = splitPath(path);
        const children = [...groups]
          .filter((g) => splitPath(g)[0] === group)
          .sort()
          .map((g) => ({ group: g, resolve: () => get(`${g}/${meta.subPolicy}`) }));
        compiled.set(path, new ImplicitMetaPolicyEvaluator(path, meta, children));
        break;
      }
      default:
        throw new PolicyError(
          "UNSUPPORTED_POLICY",
          `policy ${path} has type ${typeof def.type === "number" ? (Policy_PolicyType[def.type] ?? def.type) : def.type}; only SIGNATURE and IMPLICIT_META are supported`,
        );
    }
  }
  return {
    get,
    evaluate(path: string, signedData: readonly SignedData[]): void {
      const p = get(path);
      if (p === undefined) throw new PolicyError("NO_SUCH_POLICY", `no policy at ${path} in the channel configuration`);
      p.evaluate(signedData);
    },
    paths: () => [...compiled.keys()].sort(),
  };
}

function codeOf(err: unknown, fallback: string): string {
  return err instanceof GossipError ? err.code : fallback;
}
