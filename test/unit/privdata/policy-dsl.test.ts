import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describePrincipal } from "../../../src/channelconfig/index.js";
import { encodeSignaturePolicy, PrivdataError, parseSignaturePolicy, signedByMspMember } from "../../../src/privdata/index.js";
import type { SignaturePolicy, SignaturePolicyEnvelope } from "../../../src/protos/gen/common/policies.pb.js";
import { toHex } from "../../../src/util/index.js";

/** The rule in a compact form: "1of(#0,#1)", "2of(1of(#0),#2)". */
function show(rule: SignaturePolicy | undefined): string {
  const t = rule?.Type;
  if (t === undefined) return "?";
  if (t.$case === "signedBy") return `#${t.value}`;
  return `${t.value.n}of(${t.value.rules.map(show).join(",")})`;
}
const principals = (env: SignaturePolicyEnvelope): string[] => env.identities.map(describePrincipal);

describe("Fabric's policy DSL", () => {
  it("builds OR over member principals as Fabric's policydsl.FromString", () => {
    const env = parseSignaturePolicy("OR('Org1MSP.member','Org2MSP.member')");
    assert.equal(env.version, 0);
    assert.equal(show(env.rule), "1of(#0,#1)");
    assert.deepEqual(principals(env), ["Org1MSP.member", "Org2MSP.member"]);
    // The bytes of collBoth's member orgs policy in the block 3 package (collection-config-package.json).
    assert.equal(
      toHex(encodeSignaturePolicy(env)),
      toHex(Buffer.from("EgwSCggBEgIIABICCAEaCxIJCgdPcmcxTVNQGgsSCQoHT3JnMk1TUA==", "base64")),
    );
  });

  it("AND needs all, OutOf its number; every role; case variants; whitespace", () => {
    const and = parseSignaturePolicy(" and ( 'A.admin' , \"B.peer\" ) ");
    assert.equal(show(and.rule), "2of(#0,#1)");
    assert.deepEqual(principals(and), ["A.admin", "B.peer"]);
    const outOf = parseSignaturePolicy("OUTOF(2, 'A.client', 'B.orderer', 'C.member')");
    assert.equal(show(outOf.rule), "2of(#0,#1,#2)");
    assert.deepEqual(principals(outOf), ["A.client", "B.orderer", "C.member"]);
    assert.equal(show(parseSignaturePolicy("Or('org-1.example.com.member')").rule), "1of(#0)");
    assert.deepEqual(principals(parseSignaturePolicy("Or('org-1.example.com.member')")), ["org-1.example.com.member"]);
  });

  it("numbers nested gates' principals before the gate's own, and repeats a principal per occurrence", () => {
    const env = parseSignaturePolicy("OR('A.member', AND('B.member', 'C.member'), 'A.member')");
    // Fabric evaluates the nested AND first (B=#0, C=#1), then the OR's own principals (A=#2, A=#3).
    assert.equal(show(env.rule), "1of(#2,2of(#0,#1),#3)");
    assert.deepEqual(principals(env), ["B.member", "C.member", "A.member", "A.member"]);
  });

  it("equals signedByMspMember for one member", () => {
    assert.deepEqual(encodeSignaturePolicy(parseSignaturePolicy("OR('Org1MSP.member')")), encodeSignaturePolicy(signedByMspMember("Org1MSP")));
  });

  it("accepts OutOf t up to n + 1 as Fabric does, and no more", () => {
    assert.equal(show(parseSignaturePolicy("OutOf(3, 'A.member', 'B.member')").rule), "3of(#0,#1)");
    assert.throws(() => parseSignaturePolicy("OutOf(4, 'A.member', 'B.member')"), /t-out-of-n/);
  });

  for (const [text, why] of [
    ["", /unexpected end/],
    ["'A.member'", /must be an AND, OR or OutOf/],
    ["OR(A.member)", /unrecognized token/],
    ["OR('A.boss')", /not a principal/],
    ["OR('A.member'", /missing '\)'/],
    ["OR('A.member') x", /unexpected/],
    ["NOT('A.member')", /unrecognized token 'NOT'/],
    ["OR()", /at least one/],
    ["OutOf('x', 'A.member')", /first argument must be a number/],
    ["OutOf(1)", /needs a number and at least one/],
    ["OR('A.member', 2)", /a number/],
    ["OR('A.member)", /unterminated string/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} with POLICY_SYNTAX`, () => {
      assert.throws(
        () => parseSignaturePolicy(text),
        (err: unknown) => err instanceof PrivdataError && err.code === "POLICY_SYNTAX" && why.test(err.message),
      );
    });
  }
});
