import assert from "node:assert/strict";
import { mkdtemp, open, readdir, readFile, rm, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { decodeCheckpoint, parseSegmentName, segmentName } from "../../../src/ledger/format.js";
import { blockHeaderHash } from "../../../src/crypto/index.js";
import { LedgerError, openBlockStore } from "../../../src/ledger/index.js";
import type { Block } from "../../../src/protos/gen/common/common.pb.js";
import { encodeBlock, makeChain, snapshotDir } from "./blocks.js";

/**
 * Crash-consistency properties. A "crash" is a copy of the store's directory taken while it is open
 * (no close, no final checkpoint), then cut the way a crash can cut it: the byte stream of the segments
 * is truncated at a random point at or after the last checkpoint's position (later segments vanish),
 * random garbage may follow, and the index keeps a random prefix of the entries for complete records.
 */

const root = await mkdtemp(join(tmpdir(), "ledger-prop-"));
after(() => rm(root, { recursive: true, force: true }));
let runs = 0;

interface Layout {
  /** Size of each segment file, in order. */
  sizes: number[];
  /** Global end position (record end) of each block. */
  ends: number[];
  /** Global position the checkpoint vouches for, and its height. */
  cpPos: number;
  cpHeight: number;
}

async function layoutOf(dir: string, count: number): Promise<Layout> {
  const segs = (await readdir(dir))
    .map(parseSegmentName)
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
  const sizes: number[] = [];
  for (const f of segs) sizes.push((await stat(join(dir, segmentName(f)))).size);
  const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const idx = await readFile(join(dir, "index"));
  const ends: number[] = [];
  for (let n = 0; n < count; n++) {
    const file = idx.readUInt32LE(n * 20);
    ends.push(starts[file]! + Number(idx.readBigUInt64LE(n * 20 + 4)) + 20 + idx.readUInt32LE(n * 20 + 12));
  }
  const cpBytes = await readFile(join(dir, "checkpoint")).catch(() => undefined);
  const cp = cpBytes ? decodeCheckpoint(cpBytes) : undefined;
  return {
    sizes,
    ends,
    cpPos: cp ? starts[cp.file]! + cp.offset : 0,
    cpHeight: cp ? Number(cp.height) : 0,
  };
}

/** Cuts the segments' byte stream at global position `cut`: the file holding it is truncated, later ones removed. */
async function cutAt(dir: string, layout: Layout, cut: number): Promise<number> {
  let start = 0;
  let last = 0;
  for (let f = 0; f < layout.sizes.length; f++) {
    const size = layout.sizes[f]!;
    if (start > cut) {
      await unlink(join(dir, segmentName(f)));
    } else {
      if (start + size > cut) await truncate(join(dir, segmentName(f)), cut - start);
      last = f;
    }
    start += size;
  }
  return last;
}

/** The byte at global position `pos` of the segments' byte stream. */
async function byteAt(dir: string, layout: Layout, pos: number): Promise<number> {
  let start = 0;
  let f = 0;
  while (start + layout.sizes[f]! <= pos) start += layout.sizes[f++]!;
  const bytes = await readFile(join(dir, segmentName(f)));
  return bytes[pos - start]!;
}

async function appendInChunks(dir: string, blocks: Block[], chunks: number[], opts: { maxFileBytes: number; checkpointIntervalBlocks: number }) {
  const s = await openBlockStore(dir, opts);
  let i = 0;
  for (const c of chunks) {
    await Promise.all(blocks.slice(i, i + c).map((b) => s.append(b)));
    i += c;
    if (i >= blocks.length) break;
  }
  for (; i < blocks.length; i++) await s.append(blocks[i]!);
  return s;
}

const scenario = fc.record({
  sizes: fc.array(fc.integer({ min: 0, max: 2500 }), { minLength: 1, maxLength: 25 }),
  chunks: fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 10 }),
  maxFileBytes: fc.constantFrom(1024, 4096, 1 << 20),
  checkpointIntervalBlocks: fc.integer({ min: 1, max: 12 }),
  cutFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  indexFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  partialIndexBytes: fc.integer({ min: 0, max: 19 }),
  garbage: fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { nil: undefined }),
});

describe("ledger: crash recovery properties", () => {
  it("a crash-cut store reopens to exactly the blocks whose records were complete, and keeps working", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const dir = join(root, `run-${runs++}`);
        const crashed = `${dir}-crashed`;
        const opts = { maxFileBytes: sc.maxFileBytes, checkpointIntervalBlocks: sc.checkpointIntervalBlocks };
        const blocks = makeChain(sc.sizes.length, sc.sizes);
        const s = await appendInChunks(dir, blocks, sc.chunks, opts);
        try {
          await snapshotDir(dir, crashed);
        } finally {
          await s.close();
        }
        await rm(dir, { recursive: true });

        const layout = await layoutOf(crashed, blocks.length);
        const total = layout.sizes.reduce((a, b) => a + b, 0);
        const cut = layout.cpPos + Math.floor(sc.cutFraction * (total - layout.cpPos));
        let garbage = sc.garbage;
        if (garbage !== undefined && cut < total) {
          // Garbage must not happen to recreate the byte it replaces (then the record would be intact).
          const original = await byteAt(crashed, layout, cut);
          if (garbage[0] === original) garbage = Uint8Array.from([original ^ 0xff, ...garbage.subarray(1)]);
        }
        const lastFile = await cutAt(crashed, layout, cut);
        const complete = layout.ends.filter((e) => e <= cut).length;
        // The index can only hold entries for blocks whose data was durable: a prefix no shorter than the checkpoint's.
        const keep = layout.cpHeight + Math.floor(sc.indexFraction * (complete - layout.cpHeight));
        await truncate(join(crashed, "index"), Math.min(keep * 20 + sc.partialIndexBytes, complete * 20));
        if (garbage !== undefined) {
          const h = await open(join(crashed, segmentName(lastFile)), "a");
          await h.write(garbage);
          await h.close();
        }

        const r = await openBlockStore(crashed, opts);
        try {
          assert.equal(r.height(), BigInt(complete), `cut at ${cut} of ${total}: ${complete} complete records`);
          for (let n = 0; n < complete; n++) assert.deepEqual(await r.getBlockBytes(BigInt(n)), encodeBlock(blocks[n]!));
          assert.deepEqual(r.lastBlockHash(), complete > 0 ? blockHeaderHash(blocks[complete - 1]!.header!) : new Uint8Array(0));
          const next = makeChain(2, 300, BigInt(complete), r.lastBlockHash());
          await r.append(next[0]!);
          await r.append(next[1]!);
        } finally {
          await r.close();
        }
        const again = await openBlockStore(crashed, opts);
        try {
          assert.equal(again.height(), BigInt(complete + 2));
          assert.equal(again.recovery.truncatedBytes, 0);
        } finally {
          await again.close();
          await rm(crashed, { recursive: true });
        }
      }),
      { numRuns: 100 },
    );
  });

  it("damage to checkpointed or index-vouched data is a clear error, never a crash or a silent loss", async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        async (sc, where, flip) => {
          const dir = join(root, `run-${runs++}`);
          const crashed = `${dir}-crashed`;
          const opts = { maxFileBytes: sc.maxFileBytes, checkpointIntervalBlocks: sc.checkpointIntervalBlocks };
          const blocks = makeChain(sc.sizes.length, sc.sizes);
          const s = await appendInChunks(dir, blocks, sc.chunks, opts);
          try {
            await snapshotDir(dir, crashed);
          } finally {
            await s.close();
          }
          await rm(dir, { recursive: true });
          const layout = await layoutOf(crashed, blocks.length);
          const total = layout.ends[layout.ends.length - 1]!;
          const pos = Math.min(total - 1, Math.floor(where * total));
          const victim = layout.ends.findIndex((e) => e > pos);
          if (flip) {
            // Flip one byte of a committed block (its index entry is intact).
            let start = 0;
            let f = 0;
            while (start + layout.sizes[f]! <= pos) start += layout.sizes[f++]!;
            const h = await open(join(crashed, segmentName(f)), "r+");
            const b = Buffer.alloc(1);
            await h.read(b, 0, 1, pos - start);
            b[0] = b[0]! ^ 0xff;
            await h.write(b, 0, 1, pos - start);
            await h.close();
          } else {
            // Lose bytes the checkpoint vouched for.
            if (layout.cpPos === 0) {
              await rm(crashed, { recursive: true });
              return;
            }
            await cutAt(crashed, layout, Math.min(pos, layout.cpPos - 1));
          }
          let opened: Awaited<ReturnType<typeof openBlockStore>> | undefined;
          try {
            opened = await openBlockStore(crashed, opts);
          } catch (err) {
            assert.ok(err instanceof LedgerError, `expected a LedgerError, got ${String(err)}`);
            assert.equal(err.code, "CORRUPT_LEDGER");
          }
          if (opened !== undefined) {
            // Only a flip inside the checkpointed region can open (those blocks are not rescanned):
            // the height is intact and reading the damaged block fails loudly.
            try {
              assert.ok(flip, "lost checkpointed bytes must not open");
              assert.equal(opened.height(), BigInt(blocks.length));
              await assert.rejects(opened.getBlock(BigInt(victim)), (err: unknown) => err instanceof LedgerError && err.code === "CORRUPT_BLOCK");
            } finally {
              await opened.close();
            }
          }
          await rm(crashed, { recursive: true });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a checkpoint file that is not one is ignored and the index rebuilt", async () => {
    const dir = join(root, "bad-checkpoint");
    const s = await openBlockStore(dir);
    for (const b of makeChain(5)) await s.append(b);
    await s.close();
    await writeFile(join(dir, "checkpoint"), new Uint8Array(32));
    const r = await openBlockStore(dir);
    assert.equal(r.height(), 5n);
    assert.equal(r.recovery.rebuiltIndex, true);
    await r.close();
  });
});
