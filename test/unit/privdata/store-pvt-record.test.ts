import assert from "node:assert/strict";
import { test } from "node:test";
import { createMemoryPvtDataStore, openPvtDataStore } from "../../../src/privdata/index.js";
import { ManualClock } from "../../../src/util/index.js";
import { tempDir, txPvtData } from "./store-helpers.js";

const btlPolicy = { blockToLive: (_ns: string, coll: string) => (coll === "short" ? 1n : coll === "long" ? 0n : undefined) };

test("blockRecord: a block's held keys and missing markers (eligible, deprioritized, ineligible) without values or moving the schedule; purgedSinceOpen tallies what blockToLive removed, per collection", async () => {
  const clock = new ManualClock(0);
  const store = await createMemoryPvtDataStore({ btlPolicy, clock });
  await store.commit(0n, []);
  await store.commit(
    1n,
    [txPvtData(0, { cc: { short: "a", long: "b" } })],
    new Map([
      [1, [{ namespace: "cc", collection: "short", isEligible: true }]],
      [2, [{ namespace: "cc", collection: "long", isEligible: true }, { namespace: "cc", collection: "short", isEligible: false }]],
    ]),
  );
  // The reconciler asked for block 1's tx 2 and did not get it: deprioritized.
  await store.commitPvtDataOfOldBlocks(new Map(), new Map([[1n, new Map([[2, [{ namespace: "cc", collection: "long" }]]])]]));
  assert.deepEqual(store.blockRecord(1n), {
    held: [
      { seqInBlock: 0, namespace: "cc", collection: "long" },
      { seqInBlock: 0, namespace: "cc", collection: "short" },
    ],
    missing: [
      { seqInBlock: 1, namespace: "cc", collection: "short", isEligible: true, deprioritized: false },
      { seqInBlock: 2, namespace: "cc", collection: "long", isEligible: true, deprioritized: true },
      { seqInBlock: 2, namespace: "cc", collection: "short", isEligible: false, deprioritized: false },
    ],
  });
  assert.deepEqual(store.blockRecord(7n), { held: [], missing: [] }, "a block never committed");
  assert.deepEqual(store.blockRecord(-1n), { held: [], missing: [] }, "a bad number reads as nothing, never throws");
  const before = await store.getMissingPvtDataInfoForMostRecentBlocks(10);
  for (let i = 0; i < 3; i++) store.blockRecord(1n);
  assert.deepEqual(await store.getMissingPvtDataInfoForMostRecentBlocks(10), before, "reading records moves nothing");
  assert.deepEqual(store.purgedSinceOpen(), []);

  await store.commit(2n, []);
  assert.deepEqual(store.purgedSinceOpen(), [], "block 1's short data lives through block 2");
  await store.commit(3n, []);
  assert.deepEqual(store.purgedSinceOpen(), [{ namespace: "cc", collection: "short", held: 1, missingEligible: 1, missingIneligible: 1 }]);
  assert.deepEqual(store.blockRecord(1n), {
    held: [{ seqInBlock: 0, namespace: "cc", collection: "long" }],
    missing: [{ seqInBlock: 2, namespace: "cc", collection: "long", isEligible: true, deprioritized: true }],
  });
  await store.close();
});

test("on disk, blockRecord reads the same after a reopen; the purge tally starts at 0 with the process", async (t) => {
  const dir = await tempDir(t);
  let store = await openPvtDataStore(dir, { btlPolicy });
  await store.commit(0n, [txPvtData(0, { cc: { short: "a" } })], new Map([[1, [{ namespace: "cc", collection: "long", isEligible: false }]]]));
  await store.commit(1n, []);
  await store.commit(2n, []);
  assert.deepEqual(store.purgedSinceOpen(), [{ namespace: "cc", collection: "short", held: 1, missingEligible: 0, missingIneligible: 0 }]);
  await store.close();
  store = await openPvtDataStore(dir, { btlPolicy });
  assert.deepEqual(store.blockRecord(0n), { held: [], missing: [{ seqInBlock: 1, namespace: "cc", collection: "long", isEligible: false, deprioritized: false }] });
  assert.deepEqual(store.purgedSinceOpen(), []);
  await store.close();
});
