import assert from "node:assert/strict";
import { test } from "node:test";
import { privateDataOutcome } from "../../../../src/cli/network/pvt-outcome.js";
import type { PvtCollectionSummary, PvtDataSummary } from "../../../../src/service/index.js";

function coll(collection: string, counts: Partial<Omit<PvtCollectionSummary, "namespace" | "collection">>): PvtCollectionSummary {
  return {
    namespace: "pvtcc",
    collection,
    memberOrgs: null,
    blockToLive: null,
    eligible: null,
    committed: 0,
    missingEligible: 0,
    missingIneligible: 0,
    purged: 0,
    absent: 0,
    transient: 0,
    purgedSinceOpen: { held: 0, missingEligible: 0, missingIneligible: 0 },
    ...counts,
  };
}

const summary = (collections: PvtCollectionSummary[]): PvtDataSummary => ({ channel: "c", mspId: null, height: "9", pvtHeight: "9", collections });

test("the outcome counts, per eligible peer, held plus purged-after-held as committed; anything of an org the collection does not admit as leaked; purged as the fewest on any peer", () => {
  const layout = { mspIds: ["Org1MSP", "Org2MSP", "Org3MSP"], peersPerOrg: 1 };
  const out = privateDataOutcome(layout, { collOrg1: 4, collBoth: 4 }, [
    {
      peer: { name: "p1", org: "Org1MSP", admin: "a" },
      summary: summary([coll("collOrg1", { committed: 4 }), coll("collBoth", { committed: 1, purged: 3, purgedSinceOpen: { held: 3, missingEligible: 0, missingIneligible: 0 } })]),
    },
    {
      peer: { name: "p2", org: "Org2MSP", admin: "b" },
      // A leak: Org2 holds a collOrg1 write set in its store and another in its transient store.
      summary: summary([
        coll("collOrg1", { committed: 1, transient: 1, missingIneligible: 2 }),
        coll("collBoth", { committed: 1, missingEligible: 1, purged: 2, purgedSinceOpen: { held: 1, missingEligible: 1, missingIneligible: 0 } }),
      ]),
    },
    { peer: { name: "p3", org: "Org3MSP", admin: "c" }, summary: summary([coll("collOrg1", { missingIneligible: 4 }), coll("collBoth", { missingIneligible: 1, purged: 3 })]) },
    { peer: { name: "p4", org: "Org1MSP", admin: undefined }, summary: undefined, error: "peer is stopped" },
  ]);
  assert.deepEqual(out, {
    collections: ["collOrg1", "collBoth"],
    written: { collOrg1: 4, collBoth: 4 },
    committed: { p1: { collOrg1: 4, collBoth: 4 }, p2: { collBoth: 2 } },
    missing: { p1: { collOrg1: 0, collBoth: 0 }, p2: { collBoth: 2 } },
    leaked: 2,
    purged: { collOrg1: 0, collBoth: 2 },
    errors: ["p4: peer is stopped"],
  });
});
