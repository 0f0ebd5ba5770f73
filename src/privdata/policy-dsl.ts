import { type SignaturePolicy, SignaturePolicyEnvelope } from "../protos/gen/common/policies.pb.js";
import { type MSPPrincipal, MSPPrincipal_Classification, MSPRole, MSPRole_MSPRoleType } from "../protos/gen/msp/msp_principal.pb.js";
import { PrivdataError } from "./errors.js";

/**
 * Fabric's signature policy language (`common/policydsl` FromString), as collections_config.json and the
 * peer CLI's `--signature-policy` write it: gates `AND(...)`, `OR(...)`, `OutOf(n, ...)` (each also all lower
 * or all upper case) over principals `'MSPID.role'` with role member, admin, client, peer or orderer.
 *
 * The envelope is the one Fabric builds, byte for byte: version 0, one ROLE principal per principal
 * occurrence (no de-duplication), numbered in the order Fabric's evaluator meets them, which is every nested
 * gate first (left to right, recursively), then the gate's own principals left to right. `OutOf(t, ...)` over
 * n arguments accepts 0 <= t <= n + 1, as Fabric does. Throws PrivdataError POLICY_SYNTAX naming the fault.
 */
export function parseSignaturePolicy(text: string): SignaturePolicyEnvelope {
  const parser = new Parser(text);
  const root = parser.parseTop();
  const principals: MSPPrincipal[] = [];
  const rule = compile(root, principals, text);
  return { version: 0, rule, identities: principals };
}

/** The DSL's principal form: Fabric's `^([[:alnum:].-]+)([.])(admin|member|client|peer|orderer)$`. */
const PRINCIPAL = /^([A-Za-z0-9.-]+)\.(admin|member|client|peer|orderer)$/;

const ROLES: Record<string, MSPRole_MSPRoleType> = {
  member: MSPRole_MSPRoleType.MEMBER,
  admin: MSPRole_MSPRoleType.ADMIN,
  client: MSPRole_MSPRoleType.CLIENT,
  peer: MSPRole_MSPRoleType.PEER,
  orderer: MSPRole_MSPRoleType.ORDERER,
};

const GATES: Record<string, "and" | "or" | "outof"> = {
  And: "and",
  and: "and",
  AND: "and",
  Or: "or",
  or: "or",
  OR: "or",
  OutOf: "outof",
  outof: "outof",
  OUTOF: "outof",
};

type Node =
  | { kind: "gate"; gate: "and" | "or" | "outof"; args: Node[]; at: number }
  | { kind: "string"; value: string; at: number }
  | { kind: "number"; value: number; at: number };

function syntax(text: string, at: number, what: string): PrivdataError {
  return new PrivdataError("POLICY_SYNTAX", `policy ${JSON.stringify(text)}: ${what} at offset ${at}`);
}

class Parser {
  #pos = 0;
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  parseTop(): Node & { kind: "gate" } {
    const node = this.#parseNode();
    this.#skipSpace();
    if (this.#pos < this.#text.length) throw syntax(this.#text, this.#pos, `unexpected ${JSON.stringify(this.#text[this.#pos])}`);
    // Fabric: a policy must evaluate to a gate; a lone principal or number is "invalid policy string".
    if (node.kind !== "gate") throw syntax(this.#text, node.at, "a policy must be an AND, OR or OutOf gate");
    return node;
  }

  #skipSpace(): void {
    while (this.#pos < this.#text.length && /\s/.test(this.#text[this.#pos] ?? "")) this.#pos++;
  }

  #parseNode(): Node {
    this.#skipSpace();
    const at = this.#pos;
    const c = this.#text[this.#pos];
    if (c === undefined) throw syntax(this.#text, at, "unexpected end");
    if (c === "'" || c === '"') {
      const end = this.#text.indexOf(c, at + 1);
      if (end < 0) throw syntax(this.#text, at, "unterminated string");
      this.#pos = end + 1;
      return { kind: "string", value: this.#text.slice(at + 1, end), at };
    }
    const num = /^[0-9]+(\.[0-9]+)?/.exec(this.#text.slice(at));
    if (num !== null) {
      this.#pos += num[0].length;
      return { kind: "number", value: Number(num[0]), at };
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(this.#text.slice(at));
    if (ident === null) throw syntax(this.#text, at, `unexpected ${JSON.stringify(c)}`);
    const gate = GATES[ident[0]];
    this.#pos += ident[0].length;
    this.#skipSpace();
    if (gate === undefined || this.#text[this.#pos] !== "(") {
      // Fabric reports an unquoted principal or an unknown name as an unrecognized token.
      throw syntax(this.#text, at, `unrecognized token '${ident[0]}' (principals are quoted: 'Org1MSP.member')`);
    }
    this.#pos++;
    const args: Node[] = [];
    this.#skipSpace();
    if (this.#text[this.#pos] === ")") {
      this.#pos++;
    } else {
      for (;;) {
        args.push(this.#parseNode());
        this.#skipSpace();
        const sep = this.#text[this.#pos];
        if (sep === ",") {
          this.#pos++;
          continue;
        }
        if (sep === ")") {
          this.#pos++;
          break;
        }
        throw syntax(this.#text, this.#pos, sep === undefined ? "missing ')'" : `expected ',' or ')' but found ${JSON.stringify(sep)}`);
      }
    }
    return { kind: "gate", gate, args, at };
  }
}

/** Compiles a gate: nested gates first (their principals get the lower indices), then its own principals. */
function compile(node: Node & { kind: "gate" }, principals: MSPPrincipal[], text: string): SignaturePolicy {
  let threshold: number;
  let items: Node[];
  if (node.gate === "outof") {
    const [first, ...rest] = node.args;
    if (first === undefined || rest.length === 0) {
      throw syntax(text, node.at, `OutOf needs a number and at least one principal or gate, given ${node.args.length} argument(s)`);
    }
    if (first.kind === "number") threshold = Math.trunc(first.value);
    else if (first.kind === "string" && /^[0-9]+$/.test(first.value)) threshold = Number(first.value);
    else throw syntax(text, first.at, "OutOf's first argument must be a number");
    items = rest;
  } else {
    items = node.args;
    if (items.length === 0) throw syntax(text, node.at, `${node.gate.toUpperCase()} needs at least one principal or gate`);
    threshold = node.gate === "and" ? items.length : 1;
  }
  if (threshold < 0 || threshold > items.length + 1) {
    throw syntax(text, node.at, `invalid t-out-of-n predicate, t ${threshold}, n ${items.length}`);
  }
  const rules: (SignaturePolicy | undefined)[] = items.map((item) => (item.kind === "gate" ? compile(item, principals, text) : undefined));
  items.forEach((item, i) => {
    if (item.kind === "gate") return;
    if (item.kind === "number") throw syntax(text, item.at, `a number (${item.value}) where a principal or gate is expected`);
    const m = PRINCIPAL.exec(item.value);
    const mspId = m?.[1];
    const role = m?.[2] === undefined ? undefined : ROLES[m[2]];
    if (mspId === undefined || role === undefined) {
      throw syntax(text, item.at, `'${item.value}' is not a principal of the form 'MSPID.member|admin|client|peer|orderer'`);
    }
    rules[i] = { Type: { $case: "signedBy", value: principals.length } };
    principals.push({
      principalClassification: MSPPrincipal_Classification.ROLE,
      principal: MSPRole.encode({ mspIdentifier: mspId, role }).finish(),
    });
  });
  return { Type: { $case: "nOutOf", value: { n: threshold, rules: rules as SignaturePolicy[] } } };
}

/** A one-principal `OR('<mspId>.member')` envelope: Fabric's `policydsl.SignedByMspMember`. */
export function signedByMspMember(mspId: string): SignaturePolicyEnvelope {
  return {
    version: 0,
    rule: { Type: { $case: "nOutOf", value: { n: 1, rules: [{ Type: { $case: "signedBy", value: 0 } }] } } },
    identities: [
      {
        principalClassification: MSPPrincipal_Classification.ROLE,
        principal: MSPRole.encode({ mspIdentifier: mspId, role: MSPRole_MSPRoleType.MEMBER }).finish(),
      },
    ],
  };
}

/** The encoded envelope (for comparisons and for compiling with channelconfig's createSignaturePolicy). */
export function encodeSignaturePolicy(envelope: SignaturePolicyEnvelope): Uint8Array {
  return SignaturePolicyEnvelope.encode(envelope).finish();
}
