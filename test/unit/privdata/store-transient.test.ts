import assert from "node:assert/strict";
import { appendFile, copyFile, readdir, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import {
  createMemoryTransientStore,
  type EndorserPvtSimulationResults,
  openTransientStore,
  pvtNsCollFilter,
  type TransientStore,
  transientPurgeHeight,
} from "../../../src/privdata/index.js";
import { TxPvtReadWriteSetWithConfigInfo } from "../../../src/protos/gen/transientstore/transientstore.pb.js";
import { fileSize, flipByte, logFile, storeCode, tempDir, withConfig } from "./store-helpers.js";

/** Summary of a read: `height:ns/coll=rwset|configs` per entry. */
function summary(rs: readonly EndorserPvtSimulationResults[]): string[] {
  return rs.map((r) => {
    const m = r.pvtSimulationResultsWithConfig;
    const sets = (m.pvtRwset?.nsPvtRwset ?? []).flatMap((ns) => ns.collectionPvtRwset.map((c) => `${ns.namespace}/${c.collectionName}=${Buffer.from(c.rwset).toString()}`));
    const cfg = Object.entries(m.collectionConfigs).flatMap(([ns, p]) => p.config.map((c) => `${ns}/${c.payload?.value.name}`));
    return `${r.receivedAtBlockHeight}:${sets.join(",")}|${cfg.join(",")}`;
  });
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(storeCode(err), code, `expected ${code}, got ${String(err)}`);
    return true;
  });
}

type Factory = (t: TestContext) => Promise<TransientStore>;

const kinds: [string, Factory][] = [
  ["in memory", async () => createMemoryTransientStore()],
  [
    "persistent",
    async (t) => {
      const s = await openTransientStore(await tempDir(t));
      t.after(() => s.close());
      return s;
    },
  ],
];

for (const [kind, make] of kinds) {
  describe(`transient store (${kind})`, () => {
    it("keeps every endorsement of a transaction with the height it was received at, in order", async (t) => {
      const s = await make(t);
      await s.persist("tx1", 10n, withConfig(1n, { cc: ["a", "b"] }, "e1"));
      await s.persist("tx2", 11n, withConfig(2n, { cc: ["a"] }, "x"));
      await s.persist("tx1", 12n, TxPvtReadWriteSetWithConfigInfo.encode(withConfig(3n, { cc: ["a"], other: ["c"] }, "e2")).finish());
      assert.deepEqual(summary(await s.getTxPvtRWSetByTxid("tx1")), ["10:cc/a=a:e1,cc/b=b:e1|cc/a,cc/b", "12:cc/a=a:e2,other/c=c:e2|cc/a,other/c"]);
      assert.deepEqual(summary(await s.getTxPvtRWSetByTxid("tx2")), ["11:cc/a=a:x|cc/a"]);
      assert.deepEqual(await s.getTxPvtRWSetByTxid("nope"), []);
      assert.equal((await s.getTxPvtRWSetByTxid("tx1"))[1]!.pvtSimulationResultsWithConfig.endorsedAt, 3n);
      assert.deepEqual(s.txIds().sort(), ["tx1", "tx2"]);
    });

    it("trims write sets and collection configs to the filter, as Fabric's trimPvtWSet and trimPvtCollectionConfigs", async (t) => {
      const s = await make(t);
      await s.persist("tx1", 5n, withConfig(1n, { cc: ["a", "b"], other: ["c"] }, "e"));
      const only = await s.getTxPvtRWSetByTxid("tx1", pvtNsCollFilter({ cc: ["b"] }));
      // Every namespace's config package stays (emptied), as Fabric's trim keeps the map keys.
      assert.deepEqual(summary(only), ["5:cc/b=b:e|cc/b"]);
      assert.deepEqual(Object.keys(only[0]!.pvtSimulationResultsWithConfig.collectionConfigs).sort(), ["cc", "other"]);
      const none = await s.getTxPvtRWSetByTxid("tx1", pvtNsCollFilter({ zz: ["a"] }));
      assert.equal(none.length, 1);
      assert.equal(none[0]!.pvtSimulationResultsWithConfig.pvtRwset, undefined);
    });

    it("purges by transaction ID and by height; the minimum height follows", async (t) => {
      const s = await make(t);
      assert.equal(s.getMinTransientBlkHt(), undefined);
      await s.persist("tx1", 3n, withConfig(1n, { cc: ["a"] }, "1"));
      await s.persist("tx1", 7n, withConfig(1n, { cc: ["a"] }, "2"));
      await s.persist("tx2", 5n, withConfig(1n, { cc: ["a"] }, "3"));
      await s.persist("tx3", 9n, withConfig(1n, { cc: ["a"] }, "4"));
      assert.equal(s.getMinTransientBlkHt(), 3n);
      await s.purgeByTxids(["tx1", "unknown"]);
      assert.deepEqual(await s.getTxPvtRWSetByTxid("tx1"), []);
      assert.equal(s.getMinTransientBlkHt(), 5n);
      await s.purgeBelowHeight(9n);
      assert.deepEqual(s.txIds(), ["tx3"]);
      assert.equal(s.getMinTransientBlkHt(), 9n);
      await s.purgeBelowHeight(9n); // nothing below 9 left
      assert.deepEqual(s.txIds(), ["tx3"]);
      await s.purgeBelowHeight(10n);
      assert.equal(s.getMinTransientBlkHt(), undefined);
    });

    it("refuses bad input and stays usable", async (t) => {
      const s = await make(t);
      await rejectsWith(s.persist("", 1n, withConfig(1n, { cc: ["a"] }, "e")), "INVALID_ARGUMENT");
      await rejectsWith(s.persist("tx", -1n, withConfig(1n, { cc: ["a"] }, "e")), "INVALID_ARGUMENT");
      await rejectsWith(s.persist("tx", 1n, Uint8Array.of(0xff, 0xff, 0xff)), "INVALID_ARGUMENT");
      await s.persist("tx", 1n, withConfig(1n, { cc: ["a"] }, "e"));
      assert.equal((await s.getTxPvtRWSetByTxid("tx")).length, 1);
    });

    it("refuses operations after close", async (t) => {
      const s = await make(t);
      await s.close();
      await rejectsWith(s.persist("tx", 1n, withConfig(1n, { cc: ["a"] }, "e")), "STORE_CLOSED");
    });
  });
}

describe("transientPurgeHeight (Fabric's coordinator rule)", () => {
  it("purges below blockNum - retention at multiples of the retention past the first", () => {
    assert.equal(transientPurgeHeight(1000n), undefined);
    assert.equal(transientPurgeHeight(1500n), undefined);
    assert.equal(transientPurgeHeight(2000n), 1000n);
    assert.equal(transientPurgeHeight(10n, 5n), 5n);
    assert.equal(transientPurgeHeight(10n, 0n), undefined);
  });
});

describe("transient store on disk", () => {
  it("keeps entries and purges across close and reopen", async (t) => {
    const dir = await tempDir(t);
    const s = await openTransientStore(dir);
    await s.persist("tx1", 1n, withConfig(1n, { cc: ["a"] }, "1"));
    await s.persist("tx1", 2n, withConfig(1n, { cc: ["b"] }, "2"));
    await s.persist("tx2", 3n, withConfig(1n, { cc: ["a"] }, "3"));
    await s.purgeByTxids(["tx2"]);
    await s.close();
    const r = await openTransientStore(dir);
    t.after(() => r.close());
    assert.deepEqual(summary(await r.getTxPvtRWSetByTxid("tx1")), ["1:cc/a=a:1|cc/a", "2:cc/b=b:2|cc/b"]);
    assert.deepEqual(r.txIds(), ["tx1"]);
    // New entries after reopen do not collide with the old ones.
    await r.persist("tx1", 4n, withConfig(1n, { cc: ["c"] }, "4"));
    assert.equal((await r.getTxPvtRWSetByTxid("tx1")).length, 3);
  });

  it("is locked against a second opener until closed", async (t) => {
    const dir = await tempDir(t);
    const s = await openTransientStore(dir);
    await assert.rejects(openTransientStore(dir), (err: unknown) => storeCode(err) === "LOCKED");
    await s.close();
    const r = await openTransientStore(dir);
    await r.close();
  });

  it("cuts a torn last write (partial record, garbage) and keeps everything before it", async (t) => {
    const dir = await tempDir(t);
    const s = await openTransientStore(dir);
    await s.persist("tx1", 1n, withConfig(1n, { cc: ["a"] }, "1"));
    await s.persist("tx2", 2n, withConfig(1n, { cc: ["a"] }, "2"));
    const path = await logFile(dir);
    const afterTwo = await fileSize(path);
    await s.persist("tx3", 3n, withConfig(1n, { cc: ["a"] }, "3"));
    await s.close();
    const full = await fileSize(path);

    for (const cut of [afterTwo + 5, afterTwo + 20, afterTwo + 30, full - 1]) {
      const copy = await tempDir(t);
      await copyFile(path, join(copy, "kvlog_000000"));
      await truncate(join(copy, "kvlog_000000"), cut);
      const r = await openTransientStore(copy);
      assert.deepEqual(r.txIds().sort(), ["tx1", "tx2"], `cut at ${cut}`);
      assert.equal(r.recovery.truncatedBytes, cut - afterTwo);
      assert.equal(await fileSize(join(copy, "kvlog_000000")), afterTwo);
      // Writes continue cleanly after the cut.
      await r.persist("tx4", 4n, withConfig(1n, { cc: ["a"] }, "4"));
      await r.close();
      const again = await openTransientStore(copy);
      assert.deepEqual(again.txIds().sort(), ["tx1", "tx2", "tx4"]);
      assert.equal(again.recovery.truncatedBytes, 0);
      await again.close();
    }

    const garbage = await tempDir(t);
    await copyFile(path, join(garbage, "kvlog_000000"));
    await appendFile(join(garbage, "kvlog_000000"), Buffer.alloc(100, 0));
    const g = await openTransientStore(garbage);
    assert.deepEqual(g.txIds().sort(), ["tx1", "tx2", "tx3"]);
    assert.equal(g.recovery.truncatedBytes, 100);
    await g.close();
  });

  it("refuses to open when a record in the middle is damaged (not a crash tail)", async (t) => {
    const dir = await tempDir(t);
    const s = await openTransientStore(dir);
    await s.persist("tx1", 1n, withConfig(1n, { cc: ["a"] }, "1"));
    await s.persist("tx2", 2n, withConfig(1n, { cc: ["a"] }, "2"));
    await s.close();
    await flipByte(await logFile(dir), 30); // inside the first record's payload
    await assert.rejects(openTransientStore(dir), (err: unknown) => storeCode(err) === "CORRUPT_STORE");
    // The damaged last record alone is a torn tail: cut.
    const dir2 = await tempDir(t);
    const s2 = await openTransientStore(dir2);
    await s2.persist("tx1", 1n, withConfig(1n, { cc: ["a"] }, "1"));
    const one = await fileSize(await logFile(dir2));
    await s2.persist("tx2", 2n, withConfig(1n, { cc: ["a"] }, "2"));
    await s2.close();
    await flipByte(await logFile(dir2), one + 30);
    const r2 = await openTransientStore(dir2);
    assert.deepEqual(r2.txIds(), ["tx1"]);
    await r2.close();
  });

  it("compacts purged entries away and survives a crash in the middle of a compaction", async (t) => {
    const dir = await tempDir(t);
    const s = await openTransientStore(dir, { compactMinBytes: 2048 });
    const big = "v".repeat(1500);
    for (let i = 0; i < 20; i++) {
      await s.persist(`tx${i}`, BigInt(i), withConfig(1n, { cc: ["a"] }, big));
      if (i % 2 === 0) await s.purgeByTxids([`tx${i}`]);
    }
    const kept = s.txIds().sort();
    assert.equal(kept.length, 10);
    const auto = (await readdir(dir)).filter((n) => n.startsWith("kvlog_"));
    assert.equal(auto.length, 1);
    assert.notEqual(auto[0], "kvlog_000000", "compaction ran on its own");
    // Automatic compaction keeps the dead bytes below the live ones (plus the minimum).
    const live = 10 * 1600;
    assert.ok((await fileSize(join(dir, auto[0]!))) < 2 * live + 2048 + 4096);
    await s.compact();
    await s.close();
    const logs = (await readdir(dir)).filter((n) => n.startsWith("kvlog_"));
    assert.equal(logs.length, 1);
    // After an explicit compaction only the live entries remain (10 of ~1.6 KB).
    const size = await fileSize(join(dir, logs[0]!));
    assert.ok(size < live + 1024, `log is ${size} bytes`);

    // A crash mid-compaction leaves a .tmp (ignored) or, after the rename, an older log too (dropped).
    await writeFile(join(dir, "kvlog_000099.tmp"), "partial");
    await copyFile(join(dir, logs[0]!), join(dir, "kvlog_000000"));
    await appendFile(join(dir, "kvlog_000000"), Buffer.alloc(10, 1));
    const r = await openTransientStore(dir);
    assert.deepEqual(r.txIds().sort(), kept);
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith("kvlog_")), [logs[0]]);
    assert.equal(summary(await r.getTxPvtRWSetByTxid("tx19"))[0], `19:cc/a=a:${big}|cc/a`);
    await r.close();
  });
});
