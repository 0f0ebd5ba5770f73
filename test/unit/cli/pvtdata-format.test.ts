import assert from "node:assert/strict";
import { test } from "node:test";
import { formatPvtDataSummary, formatPvtDataView } from "../../../src/cli/commands/pvtdata.js";

const H = "ab".repeat(32);
const OTHER = "cd".repeat(32);

test("pvtdata get prints one line per collection: status, eligibility, lifetime, hash (a mismatch named), writes only when given", () => {
  const text = formatPvtDataView({
    channel: "mychannel",
    height: "9",
    pvtHeight: "9",
    txs: [
      {
        txId: "t1",
        block: "4",
        txIndex: 2,
        valid: true,
        collections: [
          { namespace: "pvtcc", collection: "collOrg1", status: "held", eligible: true, blockToLive: "0", expiresAtBlock: null, expectedHash: H, hash: H, writes: [{ key: "k", isDelete: false, value: "dg==" }] },
          { namespace: "pvtcc", collection: "collBoth", status: "purged", eligible: true, blockToLive: "3", expiresAtBlock: "8", expectedHash: H },
          { namespace: "pvtcc", collection: "collX", status: "mismatch", eligible: false, blockToLive: "0", expiresAtBlock: null, expectedHash: H, hash: OTHER },
        ],
      },
      { txId: "t2", block: null, txIndex: null, valid: null, collections: [{ namespace: "pvtcc", collection: "c", status: "missing", eligible: null, blockToLive: null, expiresAtBlock: null, expectedHash: null, deprioritized: true }] },
    ],
  });
  assert.equal(
    text,
    [
      "channel mychannel: height 9, private data store at 9",
      `t1  block 4 tx 2  pvtcc/collOrg1  held, eligible, kept forever, hash ${H.slice(0, 16)}…`,
      "    k = dg==",
      "t1  block 4 tx 2  pvtcc/collBoth  purged, eligible, blockToLive 3, purged at block 8",
      `t1  block 4 tx 2  pvtcc/collX  mismatch, not eligible, kept forever, hash ${OTHER.slice(0, 16)}… (the block wants ${H.slice(0, 16)}…)`,
      "t2  not in a block  pvtcc/c  missing, collection unknown, reconciliation deprioritized",
      "",
    ].join("\n"),
  );
});

test("pvtdata summary prints a row per collection", () => {
  const text = formatPvtDataSummary({
    channel: "c",
    mspId: "Org2MSP",
    height: "5",
    pvtHeight: "5",
    collections: [
      {
        namespace: "pvtcc",
        collection: "collOrg1",
        memberOrgs: ["Org1MSP"],
        blockToLive: "0",
        eligible: false,
        committed: 0,
        missingEligible: 0,
        missingIneligible: 7,
        purged: 0,
        absent: 0,
        transient: 0,
        purgedSinceOpen: { held: 0, missingEligible: 0, missingIneligible: 0 },
      },
    ],
  });
  assert.deepEqual(text.split("\n"), [
    "channel c on a peer of Org2MSP: height 5, private data store at 5",
    "COLLECTION      ELIGIBLE  COMMITTED  MISSING  INELIGIBLE  PURGED  TRANSIENT  BTL",
    "pvtcc/collOrg1  no        0          0        7           0       0          0",
    "",
  ]);
});
