import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IdentityDeserializer, PolicyIdentity } from "../../../src/channelconfig/index.js";
import { createCa, issueCertificate } from "../../../src/crypto/index.js";
import { type CollectionStore, createCollectionAccess, createCollectionStore, implicitCollectionFor, PrivdataError } from "../../../src/privdata/index.js";
import { MSPRole } from "../../../src/protos/gen/msp/msp_principal.pb.js";
import { utf8 } from "../../../src/util/index.js";
import { block, CHANNEL, fixtureClock, genesisBundle, identityOf, peers, SKIP_WITHOUT_VECTORS } from "./fixtures.js";

/** The README's "What a correct private-data implementation must conclude": eligible peers per collection. */
const ELIGIBLE: Record<string, string[]> = {
  collOrg1: ["peer0.org1", "peer1.org1", "peer2.org1"],
  collBoth: ["peer0.org1", "peer1.org1", "peer2.org1", "peer0.org2", "peer1.org2"],
  _implicit_org_Org1MSP: ["peer0.org1", "peer1.org1", "peer2.org1"],
  _implicit_org_Org2MSP: ["peer0.org2", "peer1.org2"],
};

function learnedStore(): CollectionStore {
  const bundle = genesisBundle();
  const s = createCollectionStore({ channelId: CHANNEL, applicationMspIds: () => bundle.config.applicationOrgs.map((o) => o.mspId), localMspId: "Org1MSP" });
  s.learnFromBlock(block(3));
  return s;
}

describe("eligibility of the Fabric v2.5.6 channel's peers", { skip: SKIP_WITHOUT_VECTORS }, () => {
  it("agrees with the README for every collection and every peer of peers.json", () => {
    const bundle = genesisBundle();
    const s = learnedStore();
    const collections = s.collections("pvtcc");
    assert.deepEqual(collections.map((c) => c.name).sort(), Object.keys(ELIGIBLE).sort());
    for (const c of collections) {
      const access = createCollectionAccess(c, bundle.msps);
      const eligible = peers()
        .filter((p) => access.isEligible(identityOf(p)))
        .map((p) => p.name);
      assert.deepEqual(eligible, ELIGIBLE[c.name], c.name);
      assert.deepEqual([...access.memberOrgs].sort(), c.name === "collBoth" ? ["Org1MSP", "Org2MSP"] : c.name.includes("Org2") ? ["Org2MSP"] : ["Org1MSP"]);
      for (const p of peers()) assert.equal(access.isMemberOrg(p.mspid), ELIGIBLE[c.name]?.includes(p.name), `${c.name} ${p.name}`);
    }
  });

  it("says why an identity is not eligible", () => {
    const bundle = genesisBundle();
    const collOrg1 = learnedStore().collection("pvtcc", "collOrg1");
    assert.ok(collOrg1 !== undefined);
    const access = createCollectionAccess(collOrg1, bundle.msps);
    const org2 = peers().find((p) => p.name === "peer0.org2");
    assert.ok(org2 !== undefined);
    assert.throws(
      () => access.checkEligible(identityOf(org2)),
      (err: unknown) => err instanceof PrivdataError && err.code === "NOT_ELIGIBLE" && /Org2MSP is not eligible for collection collOrg1/.test(err.message),
    );
    assert.throws(
      () => access.checkEligible(identityOf({ mspid: "Org9MSP", signcert_pem: org2.signcert_pem })),
      (err: unknown) => err instanceof PrivdataError && err.code === "NOT_ELIGIBLE" && /not one of the channel's/.test(err.message),
    );
    assert.equal(access.isEligible(utf8("not an identity")), false);
  });

  it("an Org1MSP certificate from another CA is not eligible", async () => {
    const bundle = genesisBundle();
    const collOrg1 = learnedStore().collection("pvtcc", "collOrg1");
    assert.ok(collOrg1 !== undefined);
    const clock = fixtureClock();
    const ca = await createCa({ commonName: "ca.org1.example.com", organization: "org1.example.com", clock });
    const impostor = await issueCertificate({ ca, commonName: "peer9.org1.example.com", organizationalUnits: ["peer"], clock });
    const access = createCollectionAccess(collOrg1, bundle.msps);
    assert.equal(access.isEligible(identityOf({ mspid: "Org1MSP", signcert_pem: impostor.certPem })), false);
  });

  it("the access filter checks the signature: a real peer identity with a forged signature is refused", () => {
    const bundle = genesisBundle();
    const collBoth = learnedStore().collection("pvtcc", "collBoth");
    assert.ok(collBoth !== undefined);
    const access = createCollectionAccess(collBoth, bundle.msps);
    const p = peers()[0];
    assert.ok(p !== undefined);
    assert.equal(access.accessFilter({ data: utf8("hello"), identity: identityOf(p), signature: new Uint8Array(72) }), false);
  });
});

describe("collection access over any deserializer", () => {
  /** Identities "Org1MSP:good" whose signature verifies only when it is "ok". */
  const stub: IdentityDeserializer = {
    deserializeIdentity(serialized: Uint8Array): PolicyIdentity {
      const [mspId = "", kind = ""] = new TextDecoder().decode(serialized).split(":");
      return {
        mspId,
        key: `${mspId}:${kind}`,
        verify(_data, signature) {
          if (new TextDecoder().decode(signature) !== "ok") throw new Error("bad signature");
        },
        satisfiesPrincipal(principal) {
          if (MSPRole.decode(principal.principal).mspIdentifier !== mspId) throw new Error("other MSP");
        },
      };
    },
  };

  it("accessFilter accepts a member's valid signature and refuses others", () => {
    const access = createCollectionAccess(implicitCollectionFor("Org1MSP", "Org1MSP"), stub);
    assert.equal(access.accessFilter({ data: utf8("d"), identity: utf8("Org1MSP:peer"), signature: utf8("ok") }), true);
    assert.equal(access.accessFilter({ data: utf8("d"), identity: utf8("Org1MSP:peer"), signature: utf8("no") }), false);
    assert.equal(access.accessFilter({ data: utf8("d"), identity: utf8("Org2MSP:peer"), signature: utf8("ok") }), false);
    assert.equal(access.isEligible(utf8("Org1MSP:peer")), true);
  });

  it("a member orgs policy that cannot be compiled is BAD_COLLECTION_POLICY", () => {
    const c = implicitCollectionFor("Org1MSP", undefined);
    const broken = { ...c, memberOrgsPolicy: { ...c.memberOrgsPolicy, rule: { Type: { $case: "signedBy" as const, value: 5 } } } };
    assert.throws(
      () => createCollectionAccess(broken, stub),
      (err: unknown) => err instanceof PrivdataError && err.code === "BAD_COLLECTION_POLICY",
    );
  });
});
