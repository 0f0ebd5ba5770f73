import assert from "node:assert/strict";
import { appendFile, copyFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { openBlockStore } from "../../../src/ledger/index.js";
import {
  alignPvtStoreWithBlockStore,
  type BtlPolicy,
  createMemoryPvtDataStore,
  expiringBlock,
  type MissingPvtDataInfo,
  openPvtDataStore,
  type PvtDataStore,
  type PvtDataStoreComponents,
  type PvtDataStoreOptions,
  pvtNsCollFilter,
  shouldCommitPvtData,
} from "../../../src/privdata/index.js";
import { ManualClock } from "../../../src/util/index.js";
import { makeChain } from "../ledger/blocks.js";
import { fileSize, flat, flipByte, logFile, storeCode, tempDir, txPvtData } from "./store-helpers.js";

/** cc/forever keeps its data; cc/short has blockToLive 2; other/c blockToLive 5; anything else is unknown. */
const BTL: Record<string, bigint> = { "cc/forever": 0n, "cc/short": 2n, "other/c": 5n };
const btlPolicy: BtlPolicy = { blockToLive: (ns, coll) => BTL[`${ns}/${coll}`] };

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(storeCode(err), code, `expected ${code}, got ${String(err)}`);
    return true;
  });
}

/** Missing info as `blk:tx:ns/coll` strings in the order returned. */
function missingList(m: MissingPvtDataInfo): string[] {
  return [...m].flatMap(([blk, byTx]) => [...byTx].flatMap(([tx, l]) => l.map((x) => `${blk}:${tx}:${x.namespace}/${x.collection}`)));
}

type Factory = (t: TestContext, components?: Partial<PvtDataStoreComponents>, options?: PvtDataStoreOptions) => Promise<PvtDataStore>;

const kinds: [string, Factory][] = [
  ["in memory", async (_t, c = {}, o = {}) => createMemoryPvtDataStore({ btlPolicy, ...c }, o)],
  [
    "persistent",
    async (t, c = {}, o = {}) => {
      const s = await openPvtDataStore(await tempDir(t), { btlPolicy, ...c }, o);
      t.after(() => s.close());
      return s;
    },
  ],
];

for (const [kind, make] of kinds) {
  describe(`private data store (${kind})`, () => {
    it("commits blocks in order and reads them back by transaction, namespace and collection, filtered", async (t) => {
      const s = await make(t);
      assert.equal(s.lastCommittedBlockHeight(), 0n);
      await rejectsWith(s.getPvtDataByBlockNum(0n), "BLOCK_NOT_COMMITTED");
      await s.commit(0n, []);
      await s.commit(1n, [txPvtData(3, { other: { c: "t3" } }), txPvtData(1, { other: { c: "t1" }, cc: { short: "t1s", forever: "t1f" } })]);
      assert.equal(s.lastCommittedBlockHeight(), 2n);
      assert.deepEqual(flat(await s.getPvtDataByBlockNum(0n)), []);
      assert.deepEqual(flat(await s.getPvtDataByBlockNum(1n)), ["1:cc/forever=forever:t1f", "1:cc/short=short:t1s", "1:other/c=c:t1", "3:other/c=c:t3"]);
      const filtered = await s.getPvtDataByBlockNum(1n, pvtNsCollFilter({ other: ["c"], cc: ["short"] }));
      assert.deepEqual(flat(filtered), ["1:cc/short=short:t1s", "1:other/c=c:t1", "3:other/c=c:t3"]);
      assert.deepEqual(
        filtered.map((d) => d.writeSet.nsPvtRwset.map((n) => n.namespace)),
        [["cc", "other"], ["other"]],
      );
      await rejectsWith(s.getPvtDataByBlockNum(2n), "BLOCK_NOT_COMMITTED");
    });

    it("refuses a block out of order, an unknown collection and bad indexes, and stays at its height", async (t) => {
      const s = await make(t);
      await rejectsWith(s.commit(1n, []), "UNEXPECTED_BLOCK_NUMBER");
      await rejectsWith(s.commit(0n, [txPvtData(0, { cc: { unknown: "x" } })]), "INVALID_ARGUMENT");
      await rejectsWith(s.commit(0n, [txPvtData(-1, { cc: { forever: "x" } })]), "INVALID_ARGUMENT");
      await rejectsWith(s.commit(0n, [], new Map([[0, [{ namespace: "zz", collection: "zz", isEligible: true }]]])), "INVALID_ARGUMENT");
      assert.equal(s.lastCommittedBlockHeight(), 0n);
      await s.commit(0n, [txPvtData(0, { cc: { forever: "ok" } })]);
      assert.deepEqual(flat(await s.getPvtDataByBlockNum(0n)), ["0:cc/forever=forever:ok"]);
    });

    it("purges data and missing markers of a collection with blockToLive b exactly when block N+b+1 commits", async (t) => {
      const purges: { blockNum: bigint; dataEntries: number; missingEntries: number }[] = [];
      const s = await make(t, { onPurge: (e) => purges.push(e) });
      assert.equal(expiringBlock(1n, 2n), 4n);
      await s.commit(0n, []);
      await s.commit(1n, [txPvtData(0, { cc: { short: "s", forever: "f" } })], new Map([[1, [{ namespace: "cc", collection: "short", isEligible: true }]]]));
      for (const n of [2n, 3n]) {
        await s.commit(n, []);
        assert.deepEqual(flat(await s.getPvtDataByBlockNum(1n)), ["0:cc/forever=forever:f", "0:cc/short=short:s"], `still there after block ${n}`);
        assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(10)), ["1:1:cc/short"]);
      }
      assert.deepEqual(purges, []);
      await s.commit(4n, []);
      assert.deepEqual(flat(await s.getPvtDataByBlockNum(1n)), ["0:cc/forever=forever:f"]);
      assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(10)), []);
      assert.deepEqual(purges, [{ blockNum: 4n, dataEntries: 1, missingEntries: 1 }]);
    });

    it("keeps eligible and ineligible missing markers apart and serves the most recent blocks first", async (t) => {
      const s = await make(t);
      await s.commit(0n, []);
      for (const n of [1n, 2n, 3n]) {
        await s.commit(
          n,
          [],
          new Map([
            [0, [{ namespace: "cc", collection: "forever", isEligible: true }, { namespace: "other", collection: "c", isEligible: false }]],
            [2, [{ namespace: "cc", collection: "forever", isEligible: true }]],
          ]),
        );
      }
      assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(2)), ["3:0:cc/forever", "3:2:cc/forever", "2:0:cc/forever", "2:2:cc/forever"]);
      assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(0)), []);
      assert.deepEqual(missingList(s.getIneligibleMissingPvtDataInfo()).sort(), ["1:0:other/c", "2:0:other/c", "3:0:other/c"]);
      // The peer becomes eligible for other/c at block 2: ineligible markers up to block 2 become eligible.
      await s.processCollsEligibilityEnabled(2n, { other: ["c"] });
      assert.deepEqual(missingList(s.getIneligibleMissingPvtDataInfo()), ["3:0:other/c"]);
      assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(10)), [
        "3:0:cc/forever",
        "3:2:cc/forever",
        "2:0:cc/forever",
        "2:0:other/c",
        "2:2:cc/forever",
        "1:0:cc/forever",
        "1:0:other/c",
        "1:2:cc/forever",
      ]);
    });

    it("commits reconciled data of old blocks, clears its markers and deprioritizes what stayed missing", async (t) => {
      const clock = new ManualClock();
      const s = await make(t, { clock }, { deprioritizedDataReconcilerIntervalMs: 60_000 });
      await s.commit(0n, []);
      await s.commit(1n, [txPvtData(0, { cc: { forever: "present" } })], new Map([[1, [{ namespace: "cc", collection: "forever", isEligible: true }, { namespace: "other", collection: "c", isEligible: true }]], [2, [{ namespace: "cc", collection: "forever", isEligible: true }]]]));
      await s.commitPvtDataOfOldBlocks(
        new Map([[1n, [txPvtData(1, { cc: { forever: "reconciled" } })]]]),
        new Map([[1n, new Map([[2, [{ namespace: "cc", collection: "forever" }]]])]]),
      );
      assert.deepEqual(flat(await s.getPvtDataByBlockNum(1n)), ["0:cc/forever=forever:present", "1:cc/forever=forever:reconciled"]);
      // Prioritized: only other/c of tx 1 is left; tx 2 went to the deprioritized list.
      assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(10)), ["1:1:other/c"]);
      await clock.advance(60_001);
      assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(10)), ["1:2:cc/forever"]);
      // Once served, the deprioritized list waits another interval.
      assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(10)), ["1:1:other/c"]);
      // Reconciling the deprioritized one clears it too.
      await s.commitPvtDataOfOldBlocks(new Map([[1n, [txPvtData(2, { cc: { forever: "late" } })]]]));
      await clock.advance(60_001);
      assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(10)), []);
      await rejectsWith(s.commitPvtDataOfOldBlocks(new Map([[5n, [txPvtData(0, { cc: { forever: "x" } })]]])), "BLOCK_NOT_COMMITTED");
    });

    it("the deprioritized list comes up every interval of elapsed time, whatever the wall clock does", async (t) => {
      /** A wall clock stepped back an hour (an NTP correction) while monotonic time runs on. */
      class SteppedClock extends ManualClock {
        stepMs = 0;
        override now(): number {
          return super.now() + this.stepMs;
        }
      }
      const clock = new SteppedClock();
      const s = await make(t, { clock }, { deprioritizedDataReconcilerIntervalMs: 60_000 });
      await s.commit(0n, []);
      await s.commit(1n, [], new Map([[1, [{ namespace: "cc", collection: "forever", isEligible: true }]], [2, [{ namespace: "cc", collection: "forever", isEligible: true }]]]));
      await s.commitPvtDataOfOldBlocks(new Map(), new Map([[1n, new Map([[2, [{ namespace: "cc", collection: "forever" }]]])]]));
      clock.stepMs = -3_600_000;
      await clock.advance(60_001);
      assert.deepEqual(missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(10)), ["1:2:cc/forever"], "served after one interval, not one interval and an hour");
    });

    it("drops reconciled data that expired meanwhile", async (t) => {
      const s = await make(t);
      await s.commit(0n, [], new Map([[0, [{ namespace: "cc", collection: "short", isEligible: true }]]]));
      for (const n of [1n, 2n]) await s.commit(n, []);
      // Block 0's cc/short (BTL 2) expires when block 3 commits: still accepted at height 3.
      await s.commitPvtDataOfOldBlocks(new Map([[0n, [txPvtData(0, { cc: { short: "in time" } })]]]));
      assert.deepEqual(flat(await s.getPvtDataByBlockNum(0n)), ["0:cc/short=short:in time"]);
      await s.commit(3n, []);
      assert.deepEqual(flat(await s.getPvtDataByBlockNum(0n)), []);
      await s.commitPvtDataOfOldBlocks(new Map([[0n, [txPvtData(0, { cc: { short: "too late" } })]]]));
      assert.deepEqual(flat(await s.getPvtDataByBlockNum(0n)), []);
    });
  });
}

/** Commits blocks 0..4 with data, markers and an expiry, the fixture of the on-disk tests. */
async function fill(s: PvtDataStore): Promise<void> {
  await s.commit(0n, []);
  await s.commit(1n, [txPvtData(0, { cc: { forever: "f1", short: "s1" } })], new Map([[1, [{ namespace: "other", collection: "c", isEligible: true }]]]));
  await s.commit(2n, [txPvtData(1, { other: { c: "c2" } })], new Map([[0, [{ namespace: "cc", collection: "forever", isEligible: false }]]]));
  await s.commit(3n, []);
}

async function snapshot(s: PvtDataStore): Promise<string[]> {
  const out = [`height ${s.lastCommittedBlockHeight()}`];
  for (let n = 0n; n < s.lastCommittedBlockHeight(); n++) out.push(`${n}: ${flat(await s.getPvtDataByBlockNum(n)).join(" ")}`);
  out.push(`missing ${missingList(await s.getMissingPvtDataInfoForMostRecentBlocks(100)).join(" ")}`);
  out.push(`ineligible ${missingList(s.getIneligibleMissingPvtDataInfo()).join(" ")}`);
  return out;
}

describe("private data store on disk", () => {
  it("blocks without private data cost no write of their own; their height is written at close or with the next write", async (t) => {
    const dir = await tempDir(t);
    const s = await openPvtDataStore(dir, { btlPolicy });
    const path = await logFile(dir);
    const empty = await fileSize(path);
    for (let n = 0n; n < 50n; n++) await s.commit(n, []);
    assert.equal(s.lastCommittedBlockHeight(), 50n);
    assert.equal(await fileSize(path), empty, "50 empty blocks, no write");
    await s.commit(50n, [txPvtData(0, { cc: { forever: "x" } })]);
    assert.ok((await fileSize(path)) > empty, "a block with data writes, with the height");
    await s.commit(51n, []);
    await s.close();
    const r = await openPvtDataStore(dir, { btlPolicy });
    t.after(() => r.close());
    assert.equal(r.lastCommittedBlockHeight(), 52n, "the height of the trailing empty block was written at close");
    assert.deepEqual(flat(await r.getPvtDataByBlockNum(50n)), ["0:cc/forever=forever:x"]);
  });

  it("keeps everything across close and reopen, including expiry entries that purge later", async (t) => {
    const dir = await tempDir(t);
    const s = await openPvtDataStore(dir, { btlPolicy });
    await fill(s);
    const before = await snapshot(s);
    await s.close();
    const r = await openPvtDataStore(dir, { btlPolicy });
    t.after(() => r.close());
    assert.deepEqual(await snapshot(r), before);
    await r.commit(4n, []); // block 1's cc/short (BTL 2) expires at block 4, recorded before the reopen
    assert.deepEqual(flat(await r.getPvtDataByBlockNum(1n)), ["0:cc/forever=forever:f1"]);
    await rejectsWith(openPvtDataStore(dir, { btlPolicy }), "LOCKED");
  });

  it("after a torn last commit, reopens at the previous block with everything before it intact", async (t) => {
    const dir = await tempDir(t);
    const s = await openPvtDataStore(dir, { btlPolicy });
    await fill(s);
    const atThree = await snapshot(s);
    const path = await logFile(dir);
    const size3 = await fileSize(path);
    await s.commit(4n, [txPvtData(0, { other: { c: "c4" } })]);
    await s.close();
    const size4 = await fileSize(path);
    for (const cut of [size3 + 1, size3 + 19, size3 + 21, size4 - 1]) {
      const copy = await tempDir(t);
      await copyFile(path, join(copy, "kvlog_000000"));
      await truncate(join(copy, "kvlog_000000"), cut);
      const r = await openPvtDataStore(copy, { btlPolicy });
      // Block 3 had nothing to store: its height was never written on its own, so the crash took it too
      // (the host recommits it from its block store, as it would any block the store lacks).
      assert.equal(r.lastCommittedBlockHeight(), 3n, `cut at ${cut}`);
      await r.commit(3n, []);
      assert.deepEqual(await snapshot(r), atThree, `cut at ${cut}`);
      assert.equal(r.recovery.truncatedBytes, cut - size3);
      await r.commit(4n, [txPvtData(0, { other: { c: "again" } })]);
      assert.deepEqual(flat(await r.getPvtDataByBlockNum(4n)), ["0:other/c=c:again"]);
      await r.close();
    }
    // Damage in an earlier record with valid records after it is not a crash: refused.
    const damaged = await tempDir(t);
    await copyFile(path, join(damaged, "kvlog_000000"));
    await flipByte(join(damaged, "kvlog_000000"), 40);
    await rejectsWith(openPvtDataStore(damaged, { btlPolicy }), "CORRUPT_STORE");
    // Garbage after the last record (a torn append of zeros) is cut.
    const garbage = await tempDir(t);
    await copyFile(path, join(garbage, "kvlog_000000"));
    await appendFile(join(garbage, "kvlog_000000"), Buffer.alloc(64));
    const g = await openPvtDataStore(garbage, { btlPolicy });
    assert.equal(g.lastCommittedBlockHeight(), 5n, "the height written at close survives the garbage cut");
    assert.equal(g.recovery.truncatedBytes, 64);
    await g.close();
  });

  it("compaction leaves only live entries and reads the same", async (t) => {
    const dir = await tempDir(t);
    const s = await openPvtDataStore(dir, { btlPolicy }, { compactMinBytes: 1024 });
    const big = "x".repeat(2000);
    await s.commit(0n, []);
    for (let n = 1n; n <= 12n; n++) await s.commit(n, [txPvtData(0, { cc: { short: `${big}${n}` }, other: { c: `c${n}` } })]);
    const before = await snapshot(s);
    await s.compact();
    const size = await fileSize(await logFile(dir));
    // Blocks 10-12 keep cc/short (BTL 2), 12 entries of other/c (BTL 5): at most 3 big values left.
    assert.ok(size < 4 * 2100 + 2048, `log is ${size} bytes`);
    assert.deepEqual(await snapshot(s), before);
    await s.close();
    const r = await openPvtDataStore(dir, { btlPolicy });
    assert.deepEqual(await snapshot(r), before);
    await r.close();
  });
});

describe("private data store and block store after a crash between their writes", () => {
  it("pvt store one block ahead: the re-fetched block is appended without committing its private data again", async (t) => {
    const blockDir = await tempDir(t);
    const pvtDir = await tempDir(t);
    const chain = makeChain(4);
    let blocks = await openBlockStore(blockDir);
    let pvt = await openPvtDataStore(pvtDir, { btlPolicy });
    for (const [i, b] of chain.slice(0, 3).entries()) {
      await pvt.commit(BigInt(i), [txPvtData(0, { cc: { forever: `b${i}` } })]);
      await blocks.append(b);
    }
    // Block 3: its private data commits, then the process dies before the block append.
    await pvt.commit(3n, [txPvtData(0, { cc: { forever: "b3" } })]);
    await blocks.close();
    await pvt.close();

    blocks = await openBlockStore(blockDir);
    pvt = await openPvtDataStore(pvtDir, { btlPolicy });
    t.after(async () => {
      await blocks.close();
      await pvt.close();
    });
    assert.deepEqual(alignPvtStoreWithBlockStore(pvt.lastCommittedBlockHeight(), blocks.height()), { state: "pvt-ahead", blocks: 1n, pvtHeight: 4n, blockHeight: 3n });
    assert.equal(shouldCommitPvtData(pvt.lastCommittedBlockHeight(), 3n), false);
    await blocks.append(chain[3]!);
    assert.deepEqual(alignPvtStoreWithBlockStore(pvt.lastCommittedBlockHeight(), blocks.height()), { state: "in-sync", height: 4n });
    assert.deepEqual(flat(await pvt.getPvtDataByBlockNum(3n)), ["0:cc/forever=forever:b3"]);
    assert.equal(shouldCommitPvtData(pvt.lastCommittedBlockHeight(), 4n), true);
  });

  it("pvt store one block behind (its last commit lost): the block's private data is committed again, as missing markers", async (t) => {
    const blockDir = await tempDir(t);
    const pvtDir = await tempDir(t);
    const chain = makeChain(3);
    const blocks = await openBlockStore(blockDir);
    const pvt = await openPvtDataStore(pvtDir, { btlPolicy });
    for (const [i, b] of chain.entries()) {
      if (i === 2) {
        // Simulate the loss: the log is cut back to before block 2's record.
        await pvt.close();
      } else {
        await pvt.commit(BigInt(i), [txPvtData(0, { cc: { forever: `b${i}` } })]);
      }
      await blocks.append(b);
    }
    t.after(() => blocks.close());
    const p = await openPvtDataStore(pvtDir, { btlPolicy });
    t.after(() => p.close());
    const a = alignPvtStoreWithBlockStore(p.lastCommittedBlockHeight(), blocks.height());
    assert.deepEqual(a, { state: "pvt-behind", blocks: 1n, pvtHeight: 2n, blockHeight: 3n });
    // The host commits the lacking block again with what it cannot find marked missing.
    await p.commit(2n, [], new Map([[0, [{ namespace: "cc", collection: "forever", isEligible: true }]]]));
    assert.deepEqual(alignPvtStoreWithBlockStore(p.lastCommittedBlockHeight(), blocks.height()), { state: "in-sync", height: 3n });
    assert.deepEqual(missingList(await p.getMissingPvtDataInfoForMostRecentBlocks(5)), ["2:0:cc/forever"]);
  });
});
