// channel-config.ts loads @peculiar/x509, which needs the Reflect metadata API first.
import "reflect-metadata";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { channelConfigFromBlock } from "../../../src/channelconfig/channel-config.js";
import { decodeBlock } from "../../../src/channelconfig/configtx.js";
import {
  type ChannelMspConfig,
  ChannelMspError,
  ChannelMspManager,
  channelMspConfigOf,
} from "../../../src/channelconfig/msp-config.js";
import { createPolicyTree, type PolicyDefinition, PolicyError, type SignedData } from "../../../src/channelconfig/policies.js";
import { createSigningIdentity, type SigningIdentity } from "../../../src/crypto/index.js";
import {
  ImplicitMetaPolicy,
  ImplicitMetaPolicy_Rule,
  Policy_PolicyType,
  type SignaturePolicy,
  SignaturePolicyEnvelope,
} from "../../../src/protos/gen/common/policies.pb.js";
import {
  type MSPPrincipal,
  MSPPrincipal_Classification,
  MSPRole,
  MSPRole_MSPRoleType,
  OrganizationUnit,
} from "../../../src/protos/gen/msp/msp_principal.pb.js";
import { fixtureClock, fixtureSigner, onlyFile, orgDir, VECTORS } from "./vectors.js";
import { codeOf } from "../../utils/error-code.js";

const clock = fixtureClock();

/** An org MSP as configtxgen puts it in the channel config: cacerts, tlscacerts and cryptogen's NodeOUs. */
function mspConfig(org: string, mspId: string, crls: string[] = []): ChannelMspConfig {
  const root = onlyFile(join(orgDir(org), "msp/cacerts"));
  const ou = (name: string) => ({ organizationalUnitIdentifier: name, certificate: root });
  return {
    mspId,
    rootCerts: [root],
    intermediateCerts: [],
    admins: [],
    crls,
    organizationalUnitIdentifiers: [],
    nodeOus: { enable: true, clientOuIdentifier: ou("client"), peerOuIdentifier: ou("peer"), adminOuIdentifier: ou("admin"), ordererOuIdentifier: ou("orderer") },
    tlsRootCerts: [onlyFile(join(orgDir(org), "msp/tlscacerts"))],
    tlsIntermediateCerts: [],
  };
}

const peer0Org1 = fixtureSigner("org1", "Org1MSP", "peer0.org1.example.com");
const peer1Org1 = fixtureSigner("org1", "Org1MSP", "peer1.org1.example.com");
const peer2Org1 = fixtureSigner("org1", "Org1MSP", "peer2.org1.example.com");
const adminOrg1 = fixtureSigner("org1", "Org1MSP", "Admin@org1.example.com");
const user1Org1 = fixtureSigner("org1", "Org1MSP", "User1@org1.example.com");
const peer0Org2 = fixtureSigner("org2", "Org2MSP", "peer0.org2.example.com");
const adminOrg2 = fixtureSigner("org2", "Org2MSP", "Admin@org2.example.com");
const orderer = fixtureSigner("orderer", "OrdererMSP", "orderer.example.com");
const crl = readFileSync(join(VECTORS, "crl/org1-crl.pem"), "latin1");

function manager(withCrl = false): ChannelMspManager {
  return new ChannelMspManager(
    [mspConfig("org1", "Org1MSP", withCrl ? [crl] : []), mspConfig("org2", "Org2MSP"), mspConfig("orderer", "OrdererMSP")],
    { clock },
  );
}

function role(mspId: string, r: MSPRole_MSPRoleType): MSPPrincipal {
  return { principalClassification: MSPPrincipal_Classification.ROLE, principal: MSPRole.encode({ mspIdentifier: mspId, role: r }).finish() };
}

function satisfies(m: ChannelMspManager, id: SigningIdentity, p: MSPPrincipal): string | undefined {
  return codeOf(() => m.deserializeIdentity(id.serialized).satisfiesPrincipal(p));
}

const { ADMIN, MEMBER, PEER, CLIENT, ORDERER } = MSPRole_MSPRoleType;

test("peer0.org1 is a PEER and MEMBER of Org1MSP, not ADMIN nor CLIENT", () => {
  const m = manager();
  assert.equal(satisfies(m, peer0Org1, role("Org1MSP", PEER)), undefined);
  assert.equal(satisfies(m, peer0Org1, role("Org1MSP", MEMBER)), undefined);
  assert.equal(satisfies(m, peer0Org1, role("Org1MSP", ADMIN)), "PRINCIPAL_NOT_SATISFIED");
  assert.equal(satisfies(m, peer0Org1, role("Org1MSP", CLIENT)), "PRINCIPAL_NOT_SATISFIED");
  assert.equal(satisfies(m, peer0Org1, role("Org1MSP", ORDERER)), "PRINCIPAL_NOT_SATISFIED");
  const id = m.deserializeIdentity(peer0Org1.serialized);
  assert.equal(m.msp("Org1MSP")?.nodeRole(id), "peer");
});

test("Admin@org1 is ADMIN (by NodeOU), User1 is CLIENT, the orderer is ORDERER of OrdererMSP", () => {
  const m = manager();
  assert.equal(satisfies(m, adminOrg1, role("Org1MSP", ADMIN)), undefined);
  assert.equal(satisfies(m, adminOrg1, role("Org1MSP", MEMBER)), undefined);
  assert.equal(satisfies(m, adminOrg1, role("Org1MSP", PEER)), "PRINCIPAL_NOT_SATISFIED");
  assert.equal(satisfies(m, user1Org1, role("Org1MSP", CLIENT)), undefined);
  assert.equal(satisfies(m, user1Org1, role("Org1MSP", ADMIN)), "PRINCIPAL_NOT_SATISFIED");
  assert.equal(satisfies(m, orderer, role("OrdererMSP", ORDERER)), undefined);
});

test("an admin listed by certificate is ADMIN without the admin OU", () => {
  const cfg = { ...mspConfig("org1", "Org1MSP"), admins: [onlyFile(join(orgDir("org1"), "users/User1@org1.example.com/msp/signcerts"))] };
  const m = new ChannelMspManager([cfg], { clock });
  assert.equal(satisfies(m, user1Org1, role("Org1MSP", ADMIN)), undefined);
  assert.equal(satisfies(m, peer0Org1, role("Org1MSP", ADMIN)), "PRINCIPAL_NOT_SATISFIED");
});

test("an Org2 identity satisfies no Org1 principal; an unknown MSP is refused at deserialization", () => {
  const m = manager();
  assert.equal(satisfies(m, peer0Org2, role("Org1MSP", MEMBER)), "WRONG_MSP");
  assert.equal(satisfies(m, adminOrg2, role("Org1MSP", ADMIN)), "WRONG_MSP");
  assert.equal(satisfies(m, peer0Org2, role("Org2MSP", PEER)), undefined);
  const only1 = new ChannelMspManager([mspConfig("org1", "Org1MSP")], { clock });
  assert.equal(codeOf(() => only1.deserializeIdentity(peer0Org2.serialized)), "UNKNOWN_MSP");
});

test("an identity of one org claiming another org's MSP ID does not chain", () => {
  const m = manager();
  const forged = createSigningIdentity({
    mspId: "Org1MSP",
    certPem: onlyFile(join(orgDir("org2"), "peers/peer0.org2.example.com/msp/signcerts")),
    keyPem: readFileSync(join(orgDir("org2"), "peers/peer0.org2.example.com/msp/keystore/priv_sk"), "latin1"),
  });
  assert.equal(satisfies(m, forged, role("Org1MSP", MEMBER)), "UNKNOWN_CA");
});

test("peer2.org1 is refused once Org1MSP holds the CRL; peer1.org1 is not", () => {
  assert.equal(satisfies(manager(false), peer2Org1, role("Org1MSP", MEMBER)), undefined);
  const m = manager(true);
  assert.equal(satisfies(m, peer2Org1, role("Org1MSP", MEMBER)), "REVOKED_IDENTITY");
  assert.equal(satisfies(m, peer2Org1, role("Org1MSP", PEER)), "REVOKED_IDENTITY");
  assert.equal(satisfies(m, peer1Org1, role("Org1MSP", PEER)), undefined);
});

test("ORGANIZATION_UNIT matches the OU under the chain's certifiers identifier; IDENTITY matches the certificate", () => {
  const m = manager();
  const msp = m.msp("Org1MSP");
  assert.ok(msp !== undefined);
  const id = m.deserializeIdentity(peer0Org1.serialized);
  const [ou] = msp.organizationalUnits(id);
  assert.equal(ou?.organizationalUnitIdentifier, "peer");
  const ouPrincipal = (certifiers: Uint8Array): MSPPrincipal => ({
    principalClassification: MSPPrincipal_Classification.ORGANIZATION_UNIT,
    principal: OrganizationUnit.encode({ mspIdentifier: "Org1MSP", organizationalUnitIdentifier: "peer", certifiersIdentifier: certifiers }).finish(),
  });
  assert.equal(satisfies(m, peer0Org1, ouPrincipal(ou?.certifiersIdentifier ?? new Uint8Array())), undefined);
  assert.equal(satisfies(m, peer0Org1, ouPrincipal(new Uint8Array(32))), "PRINCIPAL_NOT_SATISFIED");
  assert.equal(satisfies(m, user1Org1, ouPrincipal(ou?.certifiersIdentifier ?? new Uint8Array())), "PRINCIPAL_NOT_SATISFIED");
  const identityPrincipal: MSPPrincipal = { principalClassification: MSPPrincipal_Classification.IDENTITY, principal: peer0Org1.serialized };
  assert.equal(satisfies(m, peer0Org1, identityPrincipal), undefined);
  assert.equal(satisfies(m, peer1Org1, identityPrincipal), "PRINCIPAL_NOT_SATISFIED");
});

test("NodeOUs: an identity must carry exactly one node OU; the MSP needs admins or an admin OU", () => {
  // With only the client OU defined, a peer carries no node OU at all.
  const cfg: ChannelMspConfig = { ...mspConfig("org1", "Org1MSP"), nodeOus: { enable: true, clientOuIdentifier: { organizationalUnitIdentifier: "client" }, adminOuIdentifier: { organizationalUnitIdentifier: "admin" } } };
  const m = new ChannelMspManager([cfg], { clock });
  assert.equal(satisfies(m, peer0Org1, role("Org1MSP", MEMBER)), "NODE_OU_CLASSIFICATION");
  assert.equal(satisfies(m, user1Org1, role("Org1MSP", MEMBER)), undefined);
  const none: ChannelMspConfig = { ...mspConfig("org1", "Org1MSP"), nodeOus: undefined };
  assert.throws(() => new ChannelMspManager([none], { clock }), (e: unknown) => e instanceof ChannelMspError && e.code === "MSP_CONFIG");
  // An OU certificate that is not a CA of the MSP is refused.
  const foreign: ChannelMspConfig = { ...mspConfig("org1", "Org1MSP"), organizationalUnitIdentifiers: [{ organizationalUnitIdentifier: "peer", certificate: onlyFile(join(orgDir("org2"), "msp/cacerts")) }] };
  assert.throws(() => new ChannelMspManager([foreign], { clock }), (e: unknown) => e instanceof ChannelMspError && e.code === "MSP_CONFIG");
});

// ---------------------------------------------------------------------------------------------
// Policies

function signatureEnvelope(rule: SignaturePolicy, principals: MSPPrincipal[]): Uint8Array {
  return SignaturePolicyEnvelope.encode({ version: 0, rule, identities: principals }).finish();
}
const signedBy = (i: number): SignaturePolicy => ({ Type: { $case: "signedBy", value: i } });
const nOutOf = (n: number, rules: SignaturePolicy[]): SignaturePolicy => ({ Type: { $case: "nOutOf", value: { n, rules } } });
const sig = (value: Uint8Array): PolicyDefinition => ({ type: Policy_PolicyType.SIGNATURE, value });
const meta = (rule: ImplicitMetaPolicy_Rule, subPolicy: string): PolicyDefinition => ({
  type: Policy_PolicyType.IMPLICIT_META,
  value: ImplicitMetaPolicy.encode({ rule, subPolicy }).finish(),
});

const DATA = new TextEncoder().encode("a config update");
function signed(...ids: SigningIdentity[]): SignedData[] {
  return ids.map((id) => ({ data: DATA, identity: id.serialized, signature: id.sign(DATA) }));
}

function policyError(fn: () => void): PolicyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  assert.fail("expected a PolicyError");
}

function channelTree(m: ChannelMspManager) {
  const orgAdmins = (mspId: string) => sig(signatureEnvelope(nOutOf(1, [signedBy(0)]), [role(mspId, ADMIN)]));
  const orgMembers = (mspId: string) => sig(signatureEnvelope(nOutOf(1, [signedBy(0)]), [role(mspId, MEMBER)]));
  return createPolicyTree({
    deserializer: m,
    policies: {
      "/Channel/Application/Admins": meta(ImplicitMetaPolicy_Rule.MAJORITY, "Admins"),
      "/Channel/Application/Readers": meta(ImplicitMetaPolicy_Rule.ANY, "Readers"),
      "/Channel/Application/Org1MSP/Admins": orgAdmins("Org1MSP"),
      "/Channel/Application/Org1MSP/Readers": orgMembers("Org1MSP"),
      "/Channel/Application/Org2MSP/Admins": orgAdmins("Org2MSP"),
      "/Channel/Application/Org2MSP/Readers": orgMembers("Org2MSP"),
      "/Channel/Orderer/BlockValidation": meta(ImplicitMetaPolicy_Rule.ANY, "Writers"),
      "/Channel/Orderer/OrdererOrg/Writers": orgMembers("OrdererMSP"),
    },
  });
}

test("MAJORITY of 2 orgs needs both orgs' admins", () => {
  const tree = channelTree(manager());
  const e = policyError(() => tree.evaluate("/Channel/Application/Admins", signed(adminOrg1)));
  assert.equal(e.code, "NOT_SATISFIED");
  assert.match(e.message, /1 of 2 sub-policies satisfied, 2 needed/);
  assert.ok(e.unsatisfied.some((u) => u.startsWith("/Channel/Application/Org2MSP/Admins")));
  tree.evaluate("/Channel/Application/Admins", signed(adminOrg1, adminOrg2));
  // A peer is a member, not an admin.
  assert.equal(policyError(() => tree.evaluate("/Channel/Application/Admins", signed(peer0Org1, adminOrg2))).code, "NOT_SATISFIED");
  tree.evaluate("/Channel/Application/Readers", signed(peer0Org2));
  tree.evaluate("/Channel/Orderer/BlockValidation", signed(orderer));
  assert.equal(policyError(() => tree.evaluate("/Channel/Orderer/BlockValidation", signed(peer0Org1))).code, "NOT_SATISFIED");
  assert.equal(policyError(() => tree.evaluate("/Channel/Nope", signed(orderer))).code, "NO_SUCH_POLICY");
});

test("a child group without the sub-policy counts and is never satisfied", () => {
  const m = manager();
  const tree = createPolicyTree({
    deserializer: m,
    groups: ["/Channel/Application/Org3MSP"],
    policies: {
      "/Channel/Application/Admins": meta(ImplicitMetaPolicy_Rule.MAJORITY, "Admins"),
      "/Channel/Application/Org1MSP/Admins": sig(signatureEnvelope(signedBy(0), [role("Org1MSP", ADMIN)])),
      "/Channel/Application/Org2MSP/Admins": sig(signatureEnvelope(signedBy(0), [role("Org2MSP", ADMIN)])),
    },
  });
  tree.evaluate("/Channel/Application/Admins", signed(adminOrg1, adminOrg2));
  const e = policyError(() => tree.evaluate("/Channel/Application/Admins", signed(adminOrg1)));
  assert.match(e.message, /1 of 3 sub-policies satisfied, 2 needed/);
  assert.ok(e.unsatisfied.includes("/Channel/Application/Org3MSP/Admins: no such policy"));
});

test("a signer counts once: one peer cannot satisfy 2-of the same principal, two peers can", () => {
  const m = manager();
  const tree = createPolicyTree({
    deserializer: m,
    policies: { "/Channel/Application/Endorsement": sig(signatureEnvelope(nOutOf(2, [signedBy(0), signedBy(0)]), [role("Org1MSP", PEER)])) },
  });
  const e = policyError(() => tree.evaluate("/Channel/Application/Endorsement", signed(peer0Org1)));
  assert.equal(e.code, "NOT_SATISFIED");
  assert.ok(e.unsatisfied.some((u) => u.includes("Org1MSP.peer") && u.includes("every signer already counted")));
  // The same identity twice is de-duplicated before its signature is checked.
  const twice = policyError(() => tree.evaluate("/Channel/Application/Endorsement", signed(peer0Org1, peer0Org1)));
  assert.deepEqual(twice.rejected.map((r) => [r.index, r.code]), [[1, "DUPLICATE_IDENTITY"]]);
  tree.evaluate("/Channel/Application/Endorsement", signed(peer0Org1, peer1Org1));
});

test("greedy in order, as cauthdsl: the first signer that fits a principal is used", () => {
  const m = manager();
  // AND(member, admin): the admin is also a member; with [admin, peer] the admin is taken by MEMBER first and
  // the peer cannot be ADMIN, so Fabric refuses this set; [peer, admin] passes.
  const tree = createPolicyTree({
    deserializer: m,
    policies: { "/Channel/P": sig(signatureEnvelope(nOutOf(2, [signedBy(0), signedBy(1)]), [role("Org1MSP", MEMBER), role("Org1MSP", ADMIN)])) },
  });
  assert.equal(policyError(() => tree.evaluate("/Channel/P", signed(adminOrg1, peer0Org1))).code, "NOT_SATISFIED");
  tree.evaluate("/Channel/P", signed(peer0Org1, adminOrg1));
});

test("a bad signature is not counted and is reported with its reason", () => {
  const tree = channelTree(manager());
  const [item] = signed(adminOrg1);
  assert.ok(item !== undefined);
  const bad: SignedData = { ...item, signature: adminOrg1.sign(new TextEncoder().encode("something else")) };
  const e = policyError(() => tree.evaluate("/Channel/Application/Org1MSP/Admins", [bad]));
  assert.equal(e.code, "NOT_SATISFIED");
  assert.deepEqual(e.rejected.map((r) => [r.index, r.code]), [[0, "BAD_SIGNATURE"]]);
  const garbage = policyError(() => tree.evaluate("/Channel/Application/Org1MSP/Admins", [{ ...item, identity: new Uint8Array([1, 2, 3]) }]));
  assert.deepEqual(garbage.rejected.map((r) => r.code), ["MALFORMED_IDENTITY"]);
});

test("a revoked signer's valid signature satisfies no principal", () => {
  const tree = channelTree(manager(true));
  const e = policyError(() => tree.evaluate("/Channel/Application/Org1MSP/Readers", signed(peer2Org1)));
  assert.ok(e.unsatisfied.some((u) => u.includes("revoked")));
  tree.evaluate("/Channel/Application/Org1MSP/Readers", signed(peer1Org1));
});

test("malformed and unsupported policies are refused when the tree is built", () => {
  const m = manager();
  const build = (def: PolicyDefinition) => () => createPolicyTree({ deserializer: m, policies: { "/Channel/X": def } });
  assert.throws(build(sig(signatureEnvelope(signedBy(3), [role("Org1MSP", MEMBER)]))), (e: unknown) => e instanceof PolicyError && e.code === "MALFORMED_POLICY");
  assert.throws(build({ type: Policy_PolicyType.MSP, value: new Uint8Array() }), (e: unknown) => e instanceof PolicyError && e.code === "UNSUPPORTED_POLICY");
  assert.throws(
    build(sig(SignaturePolicyEnvelope.encode({ version: 1, rule: signedBy(0), identities: [role("Org1MSP", MEMBER)] }).finish())),
    (e: unknown) => e instanceof PolicyError && e.code === "UNSUPPORTED_POLICY",
  );
});

test("the genesis block's own MSPs and policies: BlockValidation needs the orderer, Application Admins both orgs", () => {
  const config = channelConfigFromBlock(decodeBlock(new Uint8Array(readFileSync(join(VECTORS, "genesis.block")))));
  const orgs = [...config.applicationOrgs, ...config.ordererOrgs];
  const m = new ChannelMspManager(orgs.map((o) => channelMspConfigOf(o.msp)), { clock });
  const tree = createPolicyTree({
    deserializer: m,
    policies: new Map([...config.policies].map(([path, p]) => [path, { type: p.type, value: p.value }])),
    groups: [...config.applicationOrgs.map((o) => `/Channel/Application/${o.name}`), ...config.ordererOrgs.map((o) => `/Channel/Orderer/${o.name}`)],
  });
  tree.evaluate("/Channel/Orderer/BlockValidation", signed(orderer));
  assert.equal(policyError(() => tree.evaluate("/Channel/Orderer/BlockValidation", signed(peer0Org1))).code, "NOT_SATISFIED");
  tree.evaluate("/Channel/Application/Readers", signed(peer0Org2));
  tree.evaluate("/Channel/Application/Admins", signed(adminOrg1, adminOrg2));
  assert.equal(policyError(() => tree.evaluate("/Channel/Application/Admins", signed(adminOrg2))).code, "NOT_SATISFIED");
});
