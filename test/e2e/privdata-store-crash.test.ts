import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { openBlockStore } from "../../src/ledger/index.js";
import { alignPvtStoreWithBlockStore, openPvtDataStore, openTransientStore } from "../../src/privdata/index.js";
import { PRIVDATA_CRASH_BTL, privdataCrashValue } from "./fixtures/privdata-crash-data.js";

/**
 * kill -9 while committing private data: a child process commits blocks with private data in Fabric's order
 * (private data store, then block store, with the transient store before and after) and prints each block
 * number both stores hold; it is SIGKILLed at a random moment, sometimes before it opened the stores. Small
 * compaction thresholds make the kill land in compactions too. Each reopen must find: both stores open, in
 * sync or the private data store exactly one block ahead, every reported block there, each block's private
 * data intact (or purged exactly when its blockToLive says), its missing marker kept.
 */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WRITER = fileURLToPath(new URL("./fixtures/privdata-writer.ts", import.meta.url));
const VALUE_BYTES = 4096;
const COMPACT_MIN_BYTES = 32 * 1024;
const ROUNDS = 12;

/** mulberry32, so a failing run can be repeated with PRIVDATA_CRASH_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function runAndKill(dir: string, delayMs: number, beforeReady: boolean): Promise<{ committed: bigint | undefined; ready: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WRITER, dir, String(VALUE_BYTES), String(COMPACT_MIN_BYTES)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let ready = false;
    let timer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      child.kill("SIGKILL");
    };
    const guard = setTimeout(kill, 20_000);
    if (beforeReady) timer = setTimeout(kill, delayMs);
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
      if (!ready && out.includes("ready ")) {
        ready = true;
        if (!beforeReady) timer = setTimeout(kill, delayMs);
      }
    });
    child.stderr.on("data", (chunk: string) => {
      err += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      clearTimeout(timer);
      if (signal !== "SIGKILL") {
        reject(new Error(`writer exited with code ${code} signal ${signal} before the kill: ${err}`));
        return;
      }
      let committed: bigint | undefined;
      for (const line of out.split("\n")) if (/^\d+$/.test(line)) committed = BigInt(line);
      resolve({ committed, ready });
    });
  });
}

async function verify(dir: string): Promise<{ blockHeight: bigint; pvtHeight: bigint; truncated: number }> {
  const btlPolicy = { blockToLive: (ns: string, coll: string) => PRIVDATA_CRASH_BTL[`${ns}/${coll}`] };
  const blocks = await openBlockStore(join(dir, "blocks"), { maxFileBytes: 256 * 1024 });
  const pvt = await openPvtDataStore(join(dir, "pvt"), { btlPolicy });
  const transient = await openTransientStore(join(dir, "transient"));
  try {
    const a = alignPvtStoreWithBlockStore(pvt.lastCommittedBlockHeight(), blocks.height());
    assert.ok(a.state === "in-sync" || (a.state === "pvt-ahead" && a.blocks === 1n), `stores after the crash: ${a.state}`);
    const height = pvt.lastCommittedBlockHeight();
    const last = height - 1n;
    for (let n = 0n; n < height; n++) {
      const got = (await pvt.getPvtDataByBlockNum(n)).flatMap((d) => d.writeSet.nsPvtRwset.flatMap((ns) => ns.collectionPvtRwset.map((c) => [c.collectionName, Buffer.from(c.rwset)] as const)));
      // cc/short of block n expires when block n+3+1 commits.
      const expected = n + 4n <= last ? ["forever"] : ["forever", "short"];
      assert.deepEqual(
        got.map(([c]) => c),
        expected,
        `block ${n} of ${height}`,
      );
      for (const [c, v] of got) assert.ok(v.equals(privdataCrashValue(n, c, VALUE_BYTES)), `block ${n} ${c} content`);
    }
    const missing = await pvt.getMissingPvtDataInfoForMostRecentBlocks(Number(height) + 1);
    assert.equal(missing.size, Number(height), "one missing marker per block");
    // The transient store keeps whole entries: the block in flight's, and orphans of kills between a commit and
    // its purge, which purgeBelowHeight removes later (the writer purges with a retention of 50 blocks).
    for (const tx of transient.txIds()) {
      for (const r of await transient.getTxPvtRWSetByTxid(tx)) {
        assert.equal(tx, `tx-${r.receivedAtBlockHeight}`);
        assert.ok(r.receivedAtBlockHeight <= blocks.height() && r.receivedAtBlockHeight + 100n >= blocks.height(), `${tx} at height ${blocks.height()}`);
      }
    }
    return { blockHeight: blocks.height(), pvtHeight: height, truncated: pvt.recovery.truncatedBytes + transient.recovery.truncatedBytes };
  } finally {
    await transient.close();
    await pvt.close();
    await blocks.close();
  }
}

describe("e2e: private data stores survive kill -9", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it(`${ROUNDS} SIGKILLs while committing: every reported block with its private data, stores in agreement`, { timeout: 180_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "privdata-crash-"));
    dirs.push(dir);
    const seed = Number(process.env["PRIVDATA_CRASH_SEED"] ?? Date.now() % 1_000_000);
    t.diagnostic(`seed ${seed} (PRIVDATA_CRASH_SEED to repeat)`);
    const random = rng(seed);
    let lastHeight = 0n;
    let ahead = 0;
    let truncations = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const beforeReady = round % 4 === 3;
      const delay = Math.floor(random() * (beforeReady ? 800 : 500));
      const r = await runAndKill(dir, delay, beforeReady);
      const v = await verify(dir);
      if (v.pvtHeight > v.blockHeight) ahead++;
      if (v.truncated > 0) truncations++;
      if (r.committed !== undefined) assert.ok(v.blockHeight > r.committed, `round ${round}: block ${r.committed} was reported, the block store has ${v.blockHeight}`);
      assert.ok(v.blockHeight >= lastHeight, `round ${round}: height went back from ${lastHeight} to ${v.blockHeight}`);
      lastHeight = v.blockHeight;
      t.diagnostic(`round ${round}: killed ${delay} ms after ${beforeReady ? "spawn" : "ready"}, last reported ${r.committed ?? "none"}, blocks ${v.blockHeight}, pvt ${v.pvtHeight}`);
    }
    t.diagnostic(`${lastHeight} blocks; pvt store one block ahead after ${ahead} of ${ROUNDS} kills; torn tails cut in ${truncations}`);
    assert.ok(lastHeight > 0n, "the writer committed something");
  });
});
