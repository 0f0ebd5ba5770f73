/**
 * Block store append throughput (fsync per group commit) and read-back speed, 10 KiB blocks, with 1
 * and 64 appends in flight. The store lives under the OS temp dir (set TMPDIR to measure another disk).
 *
 * Run: node --import tsx bench/ledger.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blockHeaderHash } from "../src/crypto/index.js";
import { openBlockStore } from "../src/ledger/index.js";
import type { Block } from "../src/protos/gen/common/common.pb.js";
import { makeBlock } from "../test/unit/ledger/blocks.js";
import { isMain, printFigures } from "./stats.js";

export async function benchLedger(options: { blocks?: number; blockBytes?: number; inflight?: number[] } = {}): Promise<Record<string, number>> {
  const count = options.blocks ?? 2000;
  const blockBytes = options.blockBytes ?? 10 * 1024;
  const blocks: Block[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < count; i++) {
    const b = makeBlock(BigInt(i), prev, blockBytes);
    blocks.push(b);
    prev = blockHeaderHash(b.header!);
  }
  const out: Record<string, number> = {};
  for (const inflight of options.inflight ?? [1, 64]) {
    const dir = await mkdtemp(join(tmpdir(), "ledger-bench-"));
    const store = await openBlockStore(dir);
    try {
      const t0 = process.hrtime.bigint();
      const pending = new Set<Promise<void>>();
      for (const b of blocks) {
        const p: Promise<void> = store.append(b).then(() => {
          pending.delete(p);
        });
        pending.add(p);
        if (pending.size >= inflight) await Promise.race(pending);
      }
      await Promise.all(pending);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const r0 = process.hrtime.bigint();
      let n = 0;
      for await (const _ of store.iterate(0n)) n++;
      const readSecs = Number(process.hrtime.bigint() - r0) / 1e9;
      out[`ledger_append_10k_blocks_per_s_inflight_${inflight}`] = Math.round(count / secs);
      out[`ledger_iterate_10k_blocks_per_s_after_inflight_${inflight}`] = Math.round(n / readSecs);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  return out;
}

if (isMain(import.meta.url)) printFigures(await benchLedger());
