import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFile, cp, mkdtemp, open, readdir, readFile, rm, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { encodeRecordHeader, segmentName } from "../../../src/ledger/format.js";
import { blockHeaderHash } from "../../../src/crypto/index.js";
import { type BlockStore, LedgerError, openBlockStore } from "../../../src/ledger/index.js";
import type { Block } from "../../../src/protos/gen/common/common.pb.js";
import { encodeBlock, makeBlock, makeChain, snapshotDir } from "./blocks.js";

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ledger-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function open_(t: TestContext, dir: string, opts: Parameters<typeof openBlockStore>[1] = {}): Promise<BlockStore> {
  const s = await openBlockStore(dir, opts);
  t.after(() => s.close());
  return s;
}

async function appendAll(s: BlockStore, blocks: readonly Block[]): Promise<void> {
  for (const b of blocks) await s.append(b);
}

async function collect(it: AsyncIterable<Block>): Promise<bigint[]> {
  const out: bigint[] = [];
  for await (const b of it) out.push(b.header!.number);
  return out;
}

function code(err: unknown): string | undefined {
  return err instanceof LedgerError ? err.code : undefined;
}

async function rejectsWith(p: Promise<unknown>, expected: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(code(err), expected, `expected LedgerError ${expected}, got ${String(err)}`);
    return true;
  });
}

/** Byte position of block n's record: reads the index file (file u32, offset u64). */
async function recordPos(dir: string, n: number): Promise<{ file: number; offset: number }> {
  const idx = await readFile(join(dir, "index"));
  return { file: idx.readUInt32LE(n * 20), offset: Number(idx.readBigUInt64LE(n * 20 + 4)) };
}

async function flipByte(path: string, position: number): Promise<void> {
  const h = await open(path, "r+");
  try {
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, position);
    b[0] = b[0]! ^ 0x5a;
    await h.write(b, 0, 1, position);
  } finally {
    await h.close();
  }
}

describe("ledger: block store", () => {
  it("appends, reads, iterates and keeps the hash chain", async (t) => {
    const dir = await tempDir(t);
    const s = await open_(t, dir);
    assert.equal(s.height(), 0n);
    assert.deepEqual(s.lastBlockHash(), new Uint8Array(0));
    const blocks = makeChain(10, 300);
    await appendAll(s, blocks);
    assert.equal(s.height(), 10n);
    assert.deepEqual(s.lastBlockHash(), blockHeaderHash(blocks[9]!.header!));
    for (const b of blocks) {
      assert.deepEqual(await s.getBlockBytes(b.header!.number), encodeBlock(b));
      assert.deepEqual(await s.getBlock(b.header!.number), b);
    }
    assert.deepEqual(await collect(s.iterate(0n)), [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    assert.deepEqual(await collect(s.iterate(3n, 7n)), [3n, 4n, 5n, 6n]);
    assert.deepEqual(await collect(s.iterate(8n, 100n)), [8n, 9n]);
    assert.deepEqual(await collect(s.iterate(10n)), []);
    await rejectsWith(s.getBlock(10n), "BLOCK_NOT_FOUND");
    await rejectsWith(s.getBlock(-1n), "BLOCK_NOT_FOUND");
  });

  it("stores the exact bytes given, including fields it does not know", async (t) => {
    const dir = await tempDir(t);
    const s = await open_(t, dir);
    const b = makeBlock(0n, new Uint8Array(0));
    // Append an unknown field 15 (varint 7) after the encoded block: a re-encode would drop it.
    const bytes = new Uint8Array([...encodeBlock(b), 15 << 3, 7]);
    await s.append(bytes);
    assert.deepEqual(await s.getBlockBytes(0n), bytes);
  });

  it("rejects a wrong number, a broken hash chain, a wrong data hash and malformed bytes, and stays usable", async (t) => {
    const dir = await tempDir(t);
    const s = await open_(t, dir);
    const blocks = makeChain(3);
    await rejectsWith(s.append(blocks[1]!), "UNEXPECTED_BLOCK_NUMBER");
    await s.append(blocks[0]!);
    await rejectsWith(s.append(blocks[0]!), "UNEXPECTED_BLOCK_NUMBER");
    await rejectsWith(s.append(blocks[2]!), "UNEXPECTED_BLOCK_NUMBER");
    await rejectsWith(s.append(makeBlock(1n, new Uint8Array(32))), "PREVIOUS_HASH_MISMATCH");
    const badData = makeBlock(1n, blockHeaderHash(blocks[0]!.header!));
    badData.header!.dataHash = new Uint8Array(32);
    await rejectsWith(s.append(badData), "DATA_HASH_MISMATCH");
    await rejectsWith(s.append(new Uint8Array([0xff, 0xff, 0xff])), "MALFORMED_BLOCK");
    await rejectsWith(s.append({ header: undefined, data: { data: [] }, metadata: undefined }), "MALFORMED_BLOCK");
    await s.append(blocks[1]!);
    await s.append(blocks[2]!);
    assert.equal(s.height(), 3n);
  });

  it("commits pipelined appends in order with group commit", async (t) => {
    const dir = await tempDir(t);
    const s = await open_(t, dir, { maxFileBytes: 8 * 1024 });
    const blocks = makeChain(200, 500);
    const done: number[] = [];
    await Promise.all(blocks.map((b, i) => s.append(b).then(() => done.push(i))));
    assert.deepEqual(
      done,
      blocks.map((_, i) => i),
    );
    assert.equal(s.height(), 200n);
    assert.ok((await readdir(dir)).includes(segmentName(10)), "segments rolled at 8 KiB");
    for (let n = 0; n < 200; n += 37) assert.deepEqual(await s.getBlockBytes(BigInt(n)), encodeBlock(blocks[n]!));
  });

  it("reopens with everything, across rolled segments, and continues the chain", async (t) => {
    const dir = await tempDir(t);
    const blocks = makeChain(60, 1000);
    const s1 = await openBlockStore(dir, { maxFileBytes: 4096 });
    await appendAll(s1, blocks.slice(0, 40));
    await s1.close();
    await s1.close(); // idempotent
    const s2 = await open_(t, dir, { maxFileBytes: 4096 });
    assert.equal(s2.height(), 40n);
    assert.equal(s2.recovery.scannedBlocks, 0);
    assert.equal(s2.recovery.truncatedBytes, 0);
    assert.deepEqual(s2.lastBlockHash(), blockHeaderHash(blocks[39]!.header!));
    await appendAll(s2, blocks.slice(40));
    assert.deepEqual(await collect(s2.iterate(0n)), blocks.map((b) => b.header!.number));
    for (const b of blocks) assert.deepEqual(await s2.getBlockBytes(b.header!.number), encodeBlock(b));
  });

  it("recovers blocks written after the last checkpoint (a crash without close)", async (t) => {
    const dir = await tempDir(t);
    const crashed = await tempDir(t);
    const blocks = makeChain(25, 700);
    const s = await open_(t, dir, { maxFileBytes: 5000, checkpointIntervalBlocks: 10 });
    await appendAll(s, blocks);
    await snapshotDir(dir, crashed); // the disk as a kill -9 leaves it: no close, LOCK left behind
    const r = await open_(t, crashed, { maxFileBytes: 5000, checkpointIntervalBlocks: 10 });
    assert.equal(r.height(), 25n);
    assert.equal(r.recovery.checkpointHeight, 20n);
    assert.equal(r.recovery.scannedBlocks, 5);
    assert.deepEqual(r.lastBlockHash(), blockHeaderHash(blocks[24]!.header!));
  });

  it("truncates a torn tail: garbage, or a partial record", async (t) => {
    const dir = await tempDir(t);
    const blocks = makeChain(8, 400);
    const s1 = await openBlockStore(dir);
    await appendAll(s1, blocks.slice(0, 5));
    await s1.close();
    const seg = join(dir, segmentName(0));
    const size = (await stat(seg)).size;

    await appendFile(seg, Buffer.from("this is not a record, just garbage at the end"));
    const s2 = await openBlockStore(dir);
    assert.equal(s2.height(), 5n);
    assert.ok(s2.recovery.truncatedBytes > 0);
    assert.match(s2.recovery.truncatedReason ?? "", /magic/);
    assert.equal((await stat(seg)).size, size);
    await s2.close();

    // Half of block 5's record, as a crash in the middle of its write leaves it.
    const bytes = encodeBlock(blocks[5]!);
    const record = Buffer.concat([encodeRecordHeader(5n, bytes), bytes]);
    await appendFile(seg, record.subarray(0, Math.floor(record.length / 2)));
    const s3 = await openBlockStore(dir);
    assert.equal(s3.height(), 5n);
    assert.match(s3.recovery.truncatedReason ?? "", /partial record/);
    await appendAll(s3, blocks.slice(5));
    await s3.close();

    const s4 = await open_(t, dir);
    assert.equal(s4.height(), 8n);
    assert.equal(s4.recovery.truncatedBytes, 0);
    for (const b of blocks) assert.deepEqual(await s4.getBlockBytes(b.header!.number), encodeBlock(b));
  });

  it("truncates a tail record whose checksum fails when no index entry vouches for it", async (t) => {
    const dir = await tempDir(t);
    const s1 = await openBlockStore(dir);
    const blocks = makeChain(4, 400);
    await appendAll(s1, blocks.slice(0, 3));
    await s1.close();
    const bytes = encodeBlock(blocks[3]!);
    const record = Buffer.concat([encodeRecordHeader(3n, bytes), bytes]);
    record[record.length - 1] = record[record.length - 1]! ^ 1;
    await appendFile(join(dir, segmentName(0)), record);
    const s2 = await open_(t, dir);
    assert.equal(s2.height(), 3n);
    assert.match(s2.recovery.truncatedReason ?? "", /checksum/);
  });

  it("a damaged block inside the checkpoint opens but reads fail with CORRUPT_BLOCK", async (t) => {
    const dir = await tempDir(t);
    const s1 = await openBlockStore(dir);
    await appendAll(s1, makeChain(5, 400));
    await s1.close();
    const p = await recordPos(dir, 2);
    await flipByte(join(dir, segmentName(p.file)), p.offset + 100);
    const s2 = await open_(t, dir);
    assert.equal(s2.height(), 5n);
    await rejectsWith(s2.getBlock(2n), "CORRUPT_BLOCK");
    assert.equal((await s2.getBlock(3n)).header!.number, 3n);
  });

  it("refuses to open when a committed block after the checkpoint is damaged (the index vouches for it)", async (t) => {
    const dir = await tempDir(t);
    const crashed = await tempDir(t);
    const s = await open_(t, dir, { checkpointIntervalBlocks: 1000 });
    await appendAll(s, makeChain(6, 400));
    await snapshotDir(dir, crashed);
    const p = await recordPos(crashed, 3);
    await flipByte(join(crashed, segmentName(p.file)), p.offset + 50);
    await rejectsWith(openBlockStore(crashed), "CORRUPT_LEDGER");
  });

  it("refuses to open when a non-last segment is damaged, a segment is missing, or checkpointed data is gone", async (t) => {
    const base = await tempDir(t);
    const s = await openBlockStore(base, { maxFileBytes: 2000 });
    await appendAll(s, makeChain(12, 600));
    await s.close();
    assert.ok((await readdir(base)).includes(segmentName(3)));

    const a = await tempDir(t);
    await cp(base, a, { recursive: true });
    await unlink(join(a, "checkpoint")); // force a scan of everything
    await unlink(join(a, "index"));
    await flipByte(join(a, segmentName(1)), 30);
    await rejectsWith(openBlockStore(a), "CORRUPT_LEDGER");

    const b = await tempDir(t);
    await cp(base, b, { recursive: true });
    await unlink(join(b, segmentName(1)));
    await rejectsWith(openBlockStore(b), "CORRUPT_LEDGER");

    const c = await tempDir(t);
    await cp(base, c, { recursive: true });
    const files = (await readdir(c)).filter((f) => f.startsWith("blockfile_")).sort();
    await truncate(join(c, files[files.length - 1]!), 10);
    await rejectsWith(openBlockStore(c), "CORRUPT_LEDGER");
  });

  it("rebuilds a missing or damaged index and checkpoint from the segments", async (t) => {
    const dir = await tempDir(t);
    const blocks = makeChain(30, 500);
    const s1 = await openBlockStore(dir, { maxFileBytes: 3000 });
    await appendAll(s1, blocks);
    await s1.close();

    await unlink(join(dir, "index"));
    const s2 = await openBlockStore(dir, { maxFileBytes: 3000 });
    assert.equal(s2.height(), 30n);
    assert.equal(s2.recovery.rebuiltIndex, true);
    assert.equal(s2.recovery.scannedBlocks, 30);
    await s2.close();

    await writeFile(join(dir, "checkpoint"), Buffer.from("not a checkpoint"));
    const s3 = await openBlockStore(dir, { maxFileBytes: 3000 });
    assert.equal(s3.height(), 30n);
    assert.equal(s3.recovery.rebuiltIndex, true);
    await s3.close();

    const idx = join(dir, "index");
    await flipByte(idx, 20 * 7 + 3);
    const s4 = await open_(t, dir, { maxFileBytes: 3000 });
    assert.equal(s4.height(), 30n);
    assert.equal(s4.recovery.rebuiltIndex, true);
    for (const b of blocks) assert.deepEqual(await s4.getBlockBytes(b.header!.number), encodeBlock(b));
  });

  it("a failed write rejects the appends in flight with STORE_FAILED, refuses more, and a reopen keeps what was committed", async (t) => {
    const dir = await tempDir(t);
    const s = await openBlockStore(dir, { maxFileBytes: 2048 });
    const blocks = makeChain(6, 900);
    await appendAll(s, blocks.slice(0, 2));
    // The next roll must create blockfile_000001 exclusively; an existing file makes it fail.
    await writeFile(join(dir, segmentName(1)), new Uint8Array(0));
    const results = await Promise.allSettled(blocks.slice(2, 5).map((b) => s.append(b)));
    assert.ok(results.every((r) => r.status === "rejected" && code(r.reason) === "STORE_FAILED"));
    assert.equal(s.height(), 2n);
    await rejectsWith(s.append(blocks[5]!), "STORE_FAILED");
    await s.close();
    const r = await open_(t, dir, { maxFileBytes: 2048 });
    assert.equal(r.height(), 2n);
    await appendAll(r, blocks.slice(2));
    assert.equal(r.height(), 6n);
  });

  it("locks the directory: a second open fails while the first is open; a LOCK file left by a dead owner is ignored", async (t) => {
    const dir = await tempDir(t);
    const s1 = await openBlockStore(dir);
    await rejectsWith(openBlockStore(dir), "LOCKED");
    await s1.close();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    await writeFile(join(dir, "LOCK"), dead);
    const s2 = await open_(t, dir);
    assert.equal(s2.height(), 0n);
  });

  it("waitForHeight resolves on commit and rejects on close; operations after close fail with STORE_CLOSED", async (t) => {
    const dir = await tempDir(t);
    const s = await openBlockStore(dir);
    const blocks = makeChain(3);
    const w2 = s.waitForHeight(2n);
    const w9 = s.waitForHeight(9n);
    const ac = new AbortController();
    const aborted = s.waitForHeight(9n, ac.signal);
    ac.abort(new Error("gave up"));
    await assert.rejects(aborted, /gave up/);
    await appendAll(s, blocks.slice(0, 2));
    await w2;
    await s.waitForHeight(1n);
    const w9rejected = rejectsWith(w9, "STORE_CLOSED");
    await s.close();
    await w9rejected;
    await rejectsWith(s.append(blocks[2]!), "STORE_CLOSED");
    await rejectsWith(s.getBlock(0n), "STORE_CLOSED");
    t.diagnostic("closed cleanly");
  });
});
