import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { blockHeaderHash } from "../../src/crypto/index.js";
import { openBlockStore } from "../../src/ledger/index.js";
import { payloadFor } from "../unit/ledger/blocks.js";

/**
 * kill -9 during heavy commit, 20 times in a row (issue 4, RELIABILITY S2): a child process appends
 * 10 KB blocks as fast as it can (8 appends in flight, 256 KiB segments so files roll often) and prints
 * every committed number; it is killed with SIGKILL at a random moment, sometimes before it even opened
 * the store. Each reopen must find an intact chain holding at least every block reported committed.
 */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WRITER = fileURLToPath(new URL("./fixtures/ledger-writer.ts", import.meta.url));
const BLOCK_BYTES = 10240;
const ROUNDS = 20;

/** A small seeded generator (mulberry32), so a failing run can be repeated with LEDGER_CRASH_SEED. */
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

interface Round {
  committed: bigint | undefined;
  ready: boolean;
}

/** Runs the writer and kills it `delayMs` after it is ready (or after spawn when `beforeReady`). */
function runAndKill(dir: string, delayMs: number, beforeReady: boolean): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WRITER, dir, String(BLOCK_BYTES), String(256 * 1024), "8"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
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
      for (const line of out.split("\n")) {
        if (/^\d+$/.test(line)) {
          const n = BigInt(line);
          if (committed === undefined || n > committed) committed = n;
        }
      }
      resolve({ committed, ready });
    });
  });
}

/** Opens the store, checks every block (checksums, numbers, hash chain, content) and returns its height. */
async function verify(dir: string): Promise<{ height: bigint; truncated: number }> {
  const store = await openBlockStore(dir, { maxFileBytes: 256 * 1024 });
  try {
    let prev: Uint8Array = new Uint8Array(0);
    let n = 0n;
    for await (const b of store.iterate(0n)) {
      assert.equal(b.header!.number, n);
      if (n > 0n) assert.deepEqual(b.header!.previousHash, prev, `block ${n} chains to block ${n - 1n}`);
      assert.deepEqual(b.data!.data[0], payloadFor(n, BLOCK_BYTES), `block ${n} content`);
      prev = blockHeaderHash(b.header!);
      n++;
    }
    assert.equal(n, store.height());
    assert.deepEqual(store.lastBlockHash(), n > 0n ? prev : new Uint8Array(0));
    return { height: store.height(), truncated: store.recovery.truncatedBytes };
  } finally {
    await store.close();
  }
}

describe("e2e: ledger survives kill -9", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it(`${ROUNDS} SIGKILLs during heavy commit: each reopen has every reported block, intact`, { timeout: 120_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "ledger-crash-"));
    dirs.push(dir);
    const seed = Number(process.env["LEDGER_CRASH_SEED"] ?? Date.now() % 1_000_000);
    t.diagnostic(`seed ${seed} (LEDGER_CRASH_SEED to repeat)`);
    const random = rng(seed);
    let lastHeight = 0n;
    let truncations = 0;
    const started = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      const beforeReady = round % 5 === 4;
      const delay = Math.floor(random() * (beforeReady ? 600 : 400));
      const r = await runAndKill(dir, delay, beforeReady);
      const v = await verify(dir);
      if (v.truncated > 0) truncations++;
      if (r.committed !== undefined) {
        assert.ok(v.height > r.committed, `round ${round}: block ${r.committed} was reported committed, the ledger has height ${v.height}`);
      }
      assert.ok(v.height >= lastHeight, `round ${round}: height went back from ${lastHeight} to ${v.height}`);
      lastHeight = v.height;
      const when = beforeReady ? `${delay} ms after spawn (${r.ready ? "after" : "before"} the store opened)` : `${delay} ms after ready`;
      t.diagnostic(`round ${round}: killed ${when}, last reported ${r.committed ?? "none"}, height ${v.height}`);
    }
    t.diagnostic(`${lastHeight} blocks in ${((Date.now() - started) / 1000).toFixed(1)} s, torn tails truncated in ${truncations} of ${ROUNDS} reopens`);
    assert.ok(lastHeight > 0n, "the writer committed something");
  });
});
