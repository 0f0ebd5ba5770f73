import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { blockDataHash, blockHeaderHash } from "../../../src/crypto/index.js";
import { Block } from "../../../src/protos/gen/common/common.pb.js";

/** Deterministic payload bytes for block `number` (so a reader can check content without a copy). */
export function payloadFor(number: bigint, size: number): Uint8Array {
  const out = Buffer.alloc(size);
  const seed = Number(number % 251n);
  for (let i = 0; i < size; i += 8) out.writeUInt8((seed + i / 8) & 0xff, i);
  if (size >= 8) out.writeBigUInt64BE(number, 0);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** A Fabric-shaped block: data_hash over its data, previous_hash as given, two metadata slots. */
export function makeBlock(number: bigint, previousHash: Uint8Array, payloadBytes = 64): Block {
  const data = [payloadFor(number, payloadBytes)];
  return {
    header: { number, previousHash, dataHash: blockDataHash({ data }) },
    data: { data },
    metadata: { metadata: [new Uint8Array(0), new Uint8Array([1, 2, 3])] },
  };
}

/** `count` chained blocks starting at `from` after a block whose header hash is `prevHash`. */
export function makeChain(count: number, sizes: number | readonly number[] = 64, from = 0n, prevHash: Uint8Array = new Uint8Array(0)): Block[] {
  const out: Block[] = [];
  let prev = prevHash;
  for (let i = 0; i < count; i++) {
    const b = makeBlock(from + BigInt(i), prev, typeof sizes === "number" ? sizes : (sizes[i] ?? 64));
    out.push(b);
    prev = blockHeaderHash(b.header!);
  }
  return out;
}

export function encodeBlock(b: Block): Uint8Array {
  return Block.encode(b).finish();
}

/**
 * Copies a store's directory as a crash would leave it, while the store is open: files that vanish
 * meanwhile (a checkpoint.tmp being renamed) are skipped.
 */
export async function snapshotDir(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) {
    try {
      await writeFile(join(to, name), await readFile(join(from, name)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}
