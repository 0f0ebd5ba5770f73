import { mkdtemp, open, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { PrivdataStoreError, type TxPvtData } from "../../../src/privdata/index.js";
import { type CollectionPvtReadWriteSet, TxReadWriteSet_DataModel } from "../../../src/protos/gen/ledger/rwset/rwset.pb.js";
import type { TxPvtReadWriteSetWithConfigInfo } from "../../../src/protos/gen/transientstore/transientstore.pb.js";

/** Test fixtures of the private-data store tests: write sets, temporary folders, log files. */

export async function tempDir(t: TestContext, prefix = "privdata-store-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A collection write set whose rwset bytes name it, so a test sees which one came back. */
export function collRwset(coll: string, tag: string): CollectionPvtReadWriteSet {
  return { collectionName: coll, rwset: Buffer.from(`${coll}:${tag}`, "utf8") };
}

/** A transaction's private data: `{ ns: { coll: tag } }`. */
export function txPvtData(seqInBlock: number, sets: Record<string, Record<string, string>>): TxPvtData {
  return {
    seqInBlock,
    writeSet: {
      dataModel: TxReadWriteSet_DataModel.KV,
      nsPvtRwset: Object.entries(sets).map(([namespace, colls]) => ({
        namespace,
        collectionPvtRwset: Object.entries(colls).map(([coll, tag]) => collRwset(coll, tag)),
      })),
    },
  };
}

/** What a read returned, as `tx:ns/coll=rwset` strings (easy to compare). */
export function flat(data: readonly TxPvtData[]): string[] {
  return data.flatMap((d) => d.writeSet.nsPvtRwset.flatMap((ns) => ns.collectionPvtRwset.map((c) => `${d.seqInBlock}:${ns.namespace}/${c.collectionName}=${Buffer.from(c.rwset).toString("utf8")}`)));
}

/** An endorsement's private data with a collection config per collection: `{ ns: [coll...] }`. */
export function withConfig(endorsedAt: bigint, sets: Record<string, string[]>, tag: string): TxPvtReadWriteSetWithConfigInfo {
  const collectionConfigs: TxPvtReadWriteSetWithConfigInfo["collectionConfigs"] = {};
  for (const [ns, colls] of Object.entries(sets)) {
    collectionConfigs[ns] = {
      config: colls.map((name) => ({
        payload: {
          $case: "staticCollectionConfig" as const,
          value: { name, memberOrgsPolicy: undefined, requiredPeerCount: 0, maximumPeerCount: 1, blockToLive: 0n, memberOnlyRead: true, memberOnlyWrite: true, endorsementPolicy: undefined },
        },
      })),
    };
  }
  return {
    endorsedAt,
    pvtRwset: { dataModel: TxReadWriteSet_DataModel.KV, nsPvtRwset: Object.entries(sets).map(([namespace, colls]) => ({ namespace, collectionPvtRwset: colls.map((c) => collRwset(c, tag)) })) },
    collectionConfigs,
  };
}

export function storeCode(err: unknown): string | undefined {
  return err instanceof PrivdataStoreError ? err.code : undefined;
}

/** The one live log file of a store folder. */
export async function logFile(dir: string): Promise<string> {
  const logs = (await readdir(dir)).filter((n) => /^kvlog_\d+$/.test(n));
  if (logs.length !== 1) throw new Error(`expected one log in ${dir}, found ${logs.join(", ")}`);
  return join(dir, logs[0]!);
}

export async function fileSize(path: string): Promise<number> {
  const h = await open(path, "r");
  try {
    return (await h.stat()).size;
  } finally {
    await h.close();
  }
}

export async function flipByte(path: string, position: number): Promise<void> {
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
