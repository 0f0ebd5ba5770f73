import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { describePrincipal } from "../../../src/channelconfig/index.js";
import {
  type CollectionDefinition,
  type CollectionStore,
  collectionConfigPackageOf,
  createCollectionStore,
  implicitCollectionFor,
  implicitCollectionMspId,
  PrivdataError,
  parseCollectionsConfigJson,
  sha256,
} from "../../../src/privdata/index.js";
import { CollectionConfigPackage } from "../../../src/protos/gen/peer/collection.pb.js";
import { StateData } from "../../../src/protos/gen/peer/lifecycle/db.pb.js";
import { toHex, utf8 } from "../../../src/util/index.js";
import { BLOCK_COUNT, block, CHANNEL, endorserTx, SKIP_WITHOUT_VECTORS, syntheticBlock, VECTORS, vectorJson, vectorText } from "./fixtures.js";

const ORGS = ["Org1MSP", "Org2MSP"] as const;

function store(localMspId = "Org1MSP"): CollectionStore {
  return createCollectionStore({ channelId: CHANNEL, applicationMspIds: () => ORGS, localMspId });
}

/** The facts of a collection that the README's table states. */
function facts(c: CollectionDefinition | undefined) {
  assert.ok(c !== undefined);
  return {
    name: c.name,
    memberOrgs: [...c.memberOrgs],
    principals: c.memberOrgsPolicy.identities.map(describePrincipal),
    requiredPeerCount: c.requiredPeerCount,
    maximumPeerCount: c.maximumPeerCount,
    blockToLive: c.blockToLive,
    memberOnlyRead: c.memberOnlyRead,
    memberOnlyWrite: c.memberOnlyWrite,
    implicit: c.implicit,
  };
}

const COLL_ORG1 = {
  name: "collOrg1",
  memberOrgs: ["Org1MSP"],
  principals: ["Org1MSP.member"],
  requiredPeerCount: 1,
  maximumPeerCount: 2,
  blockToLive: 3n,
  memberOnlyRead: true,
  memberOnlyWrite: false,
  implicit: false,
};
const COLL_BOTH = {
  name: "collBoth",
  memberOrgs: ["Org1MSP", "Org2MSP"],
  principals: ["Org1MSP.member", "Org2MSP.member"],
  requiredPeerCount: 1,
  maximumPeerCount: 3,
  blockToLive: 0n,
  memberOnlyRead: true,
  memberOnlyWrite: false,
  implicit: false,
};

describe("collections learned from the Fabric v2.5.6 channel", { skip: SKIP_WITHOUT_VECTORS }, () => {
  it("block 3's _lifecycle commit defines pvtcc's collOrg1 and collBoth (sequence 1); no other block defines anything", () => {
    const s = store();
    const learned: { block: number; chaincode: string }[] = [];
    for (let n = 0; n < BLOCK_COUNT; n++) {
      const r = s.learnFromBlock(block(n));
      assert.deepEqual(r.problems, [], `block ${n}`);
      for (const u of r.updated) learned.push({ block: n, chaincode: u.chaincode });
    }
    assert.deepEqual(learned, [{ block: 3, chaincode: "pvtcc" }]);
    const def = s.definition("pvtcc");
    assert.ok(def !== undefined);
    const commit = vectorJson<{ tx_id: string; collection_config_package_sha256: string; collection_config_package_len: number }>("lifecycle-commit.json");
    assert.equal(def.sequence, 1n);
    assert.equal(def.blockNumber, 3n);
    assert.equal(def.txId, commit.tx_id);
    assert.equal(def.source, "lifecycle");
    assert.equal(def.collectionConfigPackage.length, commit.collection_config_package_len);
    assert.equal(toHex(sha256(def.collectionConfigPackage)), commit.collection_config_package_sha256);
    assert.deepEqual(def.collectionConfigPackage, new Uint8Array(readFileSync(join(VECTORS, "collection-config-package.pb"))));
    assert.deepEqual(def.collections.map(facts), [COLL_ORG1, COLL_BOTH]);
    // The chaincode's endorsement policy travels in ValidationInfo (vscc, OR('Org1MSP.peer','Org2MSP.peer')).
    assert.equal(def.validationInfo?.validationPlugin, "vscc");
    assert.equal(def.endorsementInfo?.version, "1.0");
    assert.deepEqual(s.chaincodes(), ["pvtcc"]);
  });

  it("adds the implicit collections of both orgs, with the dissemination policy for the peer's own org only", () => {
    const s = store("Org1MSP");
    s.learnFromBlock(block(3));
    const all = s.collections("pvtcc");
    assert.deepEqual(
      all.map((c) => c.name),
      ["collOrg1", "collBoth", "_implicit_org_Org1MSP", "_implicit_org_Org2MSP"],
    );
    const implicitFacts = (mspId: string, required: number, max: number) => ({
      name: `_implicit_org_${mspId}`,
      memberOrgs: [mspId],
      principals: [`${mspId}.member`],
      requiredPeerCount: required,
      maximumPeerCount: max,
      blockToLive: 0n,
      memberOnlyRead: false,
      memberOnlyWrite: false,
      implicit: true,
    });
    assert.deepEqual(facts(s.collection("pvtcc", "_implicit_org_Org1MSP")), implicitFacts("Org1MSP", 0, 1));
    assert.deepEqual(facts(s.collection("pvtcc", "_implicit_org_Org2MSP")), implicitFacts("Org2MSP", 0, 0));
    // On an Org2 peer with a dissemination policy of its own.
    const s2 = createCollectionStore({
      channelId: CHANNEL,
      applicationMspIds: () => ORGS,
      localMspId: "Org2MSP",
      implicitCollectionDissemination: { requiredPeerCount: 1, maxPeerCount: 2 },
    });
    s2.learnFromBlock(block(3));
    assert.deepEqual(facts(s2.collection("pvtcc", "_implicit_org_Org2MSP")), implicitFacts("Org2MSP", 1, 2));
    assert.deepEqual(facts(s2.collection("pvtcc", "_implicit_org_Org1MSP")), implicitFacts("Org1MSP", 0, 0));
    // _lifecycle is always defined and has only the implicit collections (blocks 1 and 2 write to them).
    assert.deepEqual(
      s.collections("_lifecycle").map((c) => c.name),
      ["_implicit_org_Org1MSP", "_implicit_org_Org2MSP"],
    );
    assert.equal(implicitCollectionMspId("_implicit_org_Org2MSP"), "Org2MSP");
    assert.equal(implicitCollectionMspId("collBoth"), undefined);
  });

  it("knows nothing of a chaincode before its definition is committed", () => {
    const s = store();
    for (let n = 0; n < 3; n++) s.learnFromBlock(block(n));
    assert.equal(s.definition("pvtcc"), undefined);
    assert.deepEqual(s.collections("pvtcc"), []);
    assert.equal(s.collection("pvtcc", "collOrg1"), undefined);
    assert.equal(s.collection("pvtcc", "_implicit_org_Org1MSP"), undefined);
  });

  it("learning a block twice, or out of order, changes nothing; an invalid commit defines nothing", () => {
    const s = store();
    assert.equal(s.learnFromBlock(block(3)).updated.length, 1);
    assert.equal(s.learnFromBlock(block(3)).updated.length, 0);
    assert.equal(s.learnFromBlock(block(2)).updated.length, 0);
    const invalid = store();
    // ENDORSEMENT_POLICY_FAILURE (10) for the commit transaction.
    assert.deepEqual(invalid.learnFromBlock(block(3), Uint8Array.of(10)).updated, []);
    assert.equal(invalid.definition("pvtcc"), undefined);
  });

  it("collections_config.json parses to block 3's package, byte for byte", () => {
    const pkg = parseCollectionsConfigJson(vectorText("collections_config.json"));
    assert.deepEqual(CollectionConfigPackage.encode(pkg).finish(), new Uint8Array(readFileSync(join(VECTORS, "collection-config-package.pb"))));
    const s = store();
    const rec = s.setCollectionsFile("pvtcc", vectorText("collections_config.json"));
    assert.equal(rec.source, "file");
    assert.deepEqual(s.collections("pvtcc").map(facts).slice(0, 2), [COLL_ORG1, COLL_BOTH]);
    // A file stands in until the chain has a definition, which then wins.
    assert.equal(s.definition("pvtcc")?.source, "file");
    s.learnFromBlock(block(3));
    assert.equal(s.definition("pvtcc")?.source, "lifecycle");
  });
});

describe("collection store: later definitions and history", { skip: SKIP_WITHOUT_VECTORS }, () => {
  const stateData = (Type: StateData["Type"]): Uint8Array => StateData.encode({ Type }).finish();

  it("a later commit that does not rewrite Collections keeps them; one that does replaces them; history answers by block", () => {
    const s = store();
    s.learnFromBlock(block(3));
    // Sequence 2 at block 60: only Sequence changes (Fabric writes only changed fields).
    const seq2 = endorserTx("seq2", [{ namespace: "_lifecycle", writes: [{ key: "namespaces/fields/pvtcc/Sequence", value: stateData({ $case: "Int64", value: 2n }) }] }]);
    const r2 = s.learnFromBlock(syntheticBlock(60n, [seq2], [0]));
    assert.deepEqual(r2.problems, []);
    assert.equal(r2.updated[0]?.sequence, 2n);
    assert.deepEqual(s.definition("pvtcc")?.collections.map((c) => c.name), ["collOrg1", "collBoth"]);
    // Sequence 3 at block 70: collOrg1 gets a longer blockToLive and Org2 joins it.
    const changed = parseCollectionsConfigJson(
      JSON.stringify([{ name: "collOrg1", policy: "OR('Org1MSP.member','Org2MSP.member')", requiredPeerCount: 0, maxPeerCount: 3, blockToLive: 10 }]),
    );
    const seq3 = endorserTx("seq3", [
      {
        namespace: "_lifecycle",
        writes: [
          { key: "namespaces/fields/pvtcc/Sequence", value: stateData({ $case: "Int64", value: 3n }) },
          { key: "namespaces/fields/pvtcc/Collections", value: stateData({ $case: "Bytes", value: CollectionConfigPackage.encode(changed).finish() }) },
        ],
      },
    ]);
    s.learnFromBlock(syntheticBlock(70n, [seq3], [0]));
    assert.equal(s.collection("pvtcc", "collOrg1")?.blockToLive, 10n);
    assert.equal(s.collection("pvtcc", "collBoth"), undefined);
    // MostRecentCollectionConfigBelow: data of block 17 was written under sequence 1.
    assert.equal(s.collectionBelow("pvtcc", "collOrg1", 17n)?.blockToLive, 3n);
    assert.equal(s.collectionBelow("pvtcc", "collOrg1", 70n)?.blockToLive, 3n);
    assert.equal(s.collectionBelow("pvtcc", "collOrg1", 71n)?.blockToLive, 10n);
    assert.equal(s.collectionBelow("pvtcc", "collOrg1", 3n), undefined);
    assert.equal(s.collectionBelow("pvtcc", "_implicit_org_Org1MSP", 4n)?.maximumPeerCount, 1);
  });

  it("reports a malformed definition write as a problem naming the transaction, and keeps the last good definition", () => {
    const s = store();
    s.learnFromBlock(block(3));
    const bad = endorserTx("bad", [
      {
        namespace: "_lifecycle",
        writes: [
          { key: "namespaces/fields/pvtcc/Sequence", value: stateData({ $case: "Int64", value: 2n }) },
          { key: "namespaces/fields/pvtcc/Collections", value: stateData({ $case: "Bytes", value: Uint8Array.of(0x0a, 0x05, 0x01) }) },
        ],
      },
    ]);
    const notStateData = endorserTx("worse", [{ namespace: "_lifecycle", writes: [{ key: "namespaces/fields/other/Sequence", value: Uint8Array.of(0xff, 0xff) }] }]);
    const r = s.learnFromBlock(syntheticBlock(80n, [bad, notStateData, utf8("garbage")], [0, 0, 0]));
    assert.deepEqual(r.updated, []);
    assert.equal(r.problems.length, 2);
    assert.ok(r.problems.every((p) => p instanceof PrivdataError && p.code === "BAD_LIFECYCLE_WRITE"));
    assert.match(r.problems[0]?.message ?? "", /block \[80\] transaction 0 \(bad\).*Collections/);
    assert.match(r.problems[1]?.message ?? "", /transaction 1 \(worse\)/);
    assert.equal(s.definition("pvtcc")?.sequence, 1n);
  });

  it("a block without header or data is a problem, not a throw", () => {
    const r = store().learnFromBlock({ header: undefined, data: undefined, metadata: undefined });
    assert.equal(r.problems[0]?.code, "BAD_BLOCK");
  });
});

describe("collections_config.json", () => {
  it("applies Fabric's defaults (requiredPeerCount 0, maxPeerCount 1) and reads endorsement policies", () => {
    const pkg = parseCollectionsConfigJson(
      JSON.stringify([
        { name: "a", policy: "OR('Org1MSP.member')" },
        { name: "b", policy: "OR('Org1MSP.member')", endorsementPolicy: { signaturePolicy: "AND('Org1MSP.peer','Org2MSP.peer')" } },
        { name: "c", policy: "OR('Org1MSP.member')", endorsementPolicy: { channelConfigPolicy: "/Channel/Application/Endorsement" } },
      ]),
    );
    const [a, b, c] = pkg.config.map((x) => (x.payload?.$case === "staticCollectionConfig" ? x.payload.value : undefined));
    assert.equal(a?.requiredPeerCount, 0);
    assert.equal(a?.maximumPeerCount, 1);
    assert.equal(a?.blockToLive, 0n);
    assert.equal(a?.endorsementPolicy, undefined);
    assert.equal(b?.endorsementPolicy?.Type?.$case, "signaturePolicy");
    assert.deepEqual(c?.endorsementPolicy?.Type, { $case: "channelConfigPolicyReference", value: "/Channel/Application/Endorsement" });
  });

  for (const [what, text, why] of [
    ["not JSON", "{", /not JSON/],
    ["not an array", "{}", /JSON array/],
    ["an entry that is not an object", "[1]", /collection 0 is not an object/],
    ["a bad policy", `[{"name":"x","policy":"OR(Org1MSP.member)"}]`, /collection 0 \(x\): invalid policy/],
    ["no policy", `[{"name":"x"}]`, /invalid policy/],
    ["no name", `[{"policy":"OR('A.member')"}]`, /no name/],
    ["a duplicate name", `[{"name":"x","policy":"OR('A.member')"},{"name":"x","policy":"OR('A.member')"}]`, /defined twice/],
    ["a string count", `[{"name":"x","policy":"OR('A.member')","maxPeerCount":"2"}]`, /"maxPeerCount" must be a 32-bit integer/],
    ["a negative blockToLive", `[{"name":"x","policy":"OR('A.member')","blockToLive":-1}]`, /"blockToLive" must be a non-negative integer/],
    ["both endorsement policies", `[{"name":"x","policy":"OR('A.member')","endorsementPolicy":{"signaturePolicy":"OR('A.peer')","channelConfigPolicy":"/x"}}]`, /both/],
  ] as const) {
    it(`refuses ${what} with BAD_COLLECTIONS_FILE`, () => {
      assert.throws(
        () => parseCollectionsConfigJson(text),
        (err: unknown) => err instanceof PrivdataError && err.code === "BAD_COLLECTIONS_FILE" && why.test(err.message),
      );
    });
  }

  it("a package of definitions round-trips", () => {
    const defs = [implicitCollectionFor("Org1MSP", "Org1MSP")];
    const pkg = collectionConfigPackageOf(defs);
    assert.equal(pkg.config.length, 1);
    assert.equal(pkg.config[0]?.payload?.value.name, "_implicit_org_Org1MSP");
  });
});
