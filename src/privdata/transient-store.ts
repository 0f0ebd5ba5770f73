import { type Logger, silentLogger } from "../logging/index.js";
import type { CollectionConfigPackage } from "../protos/gen/peer/collection.pb.js";
import { TxPvtReadWriteSetWithConfigInfo } from "../protos/gen/transientstore/transientstore.pb.js";
import type { TxPvtReadWriteSet } from "../protos/gen/ledger/rwset/rwset.pb.js";
import { errorMessage } from "../util/index.js";
import { PrivdataStoreError } from "./pvt-store-errors.js";
import type { PvtNsCollFilter } from "./pvt-store-interface.js";
import { createMemoryKv, type KvEngine, type KvOp, type KvRecoveryReport, openLogKv } from "./pvt-store-kv.js";
import type { EndorserPvtSimulationResults, TransientStore, TransientStoreComponents, TransientStoreOptions } from "./transient-store-interface.js";

/**
 * Keys: JSON `["t", txId, id, height]` (id: a counter unique among live entries, so that several endorsements
 * of one transaction coexist, as Fabric's uuid does; height as a decimal string). Value: the serialized
 * TxPvtReadWriteSetWithConfigInfo exactly as received.
 */
interface Entry {
  key: string;
  id: number;
  height: bigint;
}

/** The transient store in memory (the simulator, tests): same semantics, nothing persists. */
export function createMemoryTransientStore(): TransientStore {
  return new KvTransientStore(createMemoryKv("in-memory transient store"), silentLogger);
}

/**
 * Opens (creating if needed) the transient store of one channel in `dir`, recovering from a crash (a torn
 * last write is cut off). One process at a time (`LOCKED`).
 */
export async function openTransientStore(dir: string, options: TransientStoreOptions = {}, components: TransientStoreComponents = {}): Promise<TransientStore> {
  const logger = (components.logger ?? silentLogger).child("transientstore");
  const kv = await openLogKv(dir, { name: `transient store ${dir}`, ...(options.compactMinBytes !== undefined ? { compactMinBytes: options.compactMinBytes } : {}) }, logger);
  return new KvTransientStore(kv, logger);
}

function parseKey(key: string): { txId: string; id: number; height: bigint } | undefined {
  try {
    const k: unknown = JSON.parse(key);
    if (!Array.isArray(k) || k.length !== 4 || k[0] !== "t") return undefined;
    const [, txId, id, height] = k as unknown[];
    if (typeof txId !== "string" || typeof id !== "number" || !Number.isSafeInteger(id) || typeof height !== "string" || !/^\d+$/.test(height)) return undefined;
    return { txId, id, height: BigInt(height) };
  } catch {
    return undefined;
  }
}

/** Fabric's trimPvtWSet: only the filter's collections; undefined if none remains. */
function trimWriteSet(ws: TxPvtReadWriteSet | undefined, filter: PvtNsCollFilter): TxPvtReadWriteSet | undefined {
  if (ws === undefined) return undefined;
  const nsPvtRwset = ws.nsPvtRwset
    .map((ns) => ({ namespace: ns.namespace, collectionPvtRwset: ns.collectionPvtRwset.filter((c) => filter.has(ns.namespace, c.collectionName)) }))
    .filter((ns) => ns.collectionPvtRwset.length > 0);
  return nsPvtRwset.length > 0 ? { dataModel: ws.dataModel, nsPvtRwset } : undefined;
}

/** Fabric's trimPvtCollectionConfigs: every namespace stays, with only the filter's collections. */
function trimConfigs(configs: { [ns: string]: CollectionConfigPackage }, filter: PvtNsCollFilter): { [ns: string]: CollectionConfigPackage } {
  const out: { [ns: string]: CollectionConfigPackage } = {};
  for (const [ns, pkg] of Object.entries(configs)) {
    out[ns] = { config: pkg.config.filter((c) => c.payload?.$case === "staticCollectionConfig" && filter.has(ns, c.payload.value.name)) };
  }
  return out;
}

class KvTransientStore implements TransientStore {
  private readonly byTx = new Map<string, Entry[]>();
  private nextId = 0;
  /** Mutations run one at a time: each computes its batch from the state the previous one left. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly kv: KvEngine,
    logger: Logger,
  ) {
    let ignored = 0;
    for (const key of kv.keys()) {
      const k = parseKey(key);
      if (k === undefined) {
        ignored++;
        continue;
      }
      this.add(k.txId, { key, id: k.id, height: k.height });
      this.nextId = Math.max(this.nextId, k.id + 1);
    }
    if (ignored > 0) logger.warn("transient store holds keys it does not know; ignored", { count: ignored });
    for (const list of this.byTx.values()) list.sort((a, b) => a.id - b.id);
  }

  get recovery(): KvRecoveryReport {
    return this.kv.recovery;
  }

  private add(txId: string, e: Entry): void {
    let list = this.byTx.get(txId);
    if (list === undefined) {
      list = [];
      this.byTx.set(txId, list);
    }
    list.push(e);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  persist(txId: string, blockHeight: bigint, data: TxPvtReadWriteSetWithConfigInfo | Uint8Array): Promise<void> {
    let bytes: Uint8Array;
    try {
      if (typeof txId !== "string" || txId === "") throw new PrivdataStoreError("INVALID_ARGUMENT", "transient store persist: the transaction ID is empty");
      if (typeof blockHeight !== "bigint" || blockHeight < 0n) throw new PrivdataStoreError("INVALID_ARGUMENT", `transient store persist of ${txId}: block height ${String(blockHeight)} is not a non-negative bigint`);
      if (data instanceof Uint8Array) {
        try {
          TxPvtReadWriteSetWithConfigInfo.decode(data);
        } catch (err) {
          throw new PrivdataStoreError("INVALID_ARGUMENT", `transient store persist of ${txId}: the bytes are not a TxPvtReadWriteSetWithConfigInfo (${errorMessage(err)})`, { cause: err });
        }
        bytes = data.slice();
      } else {
        bytes = TxPvtReadWriteSetWithConfigInfo.encode(data).finish();
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serial(async () => {
      const id = this.nextId++;
      const key = JSON.stringify(["t", txId, id, blockHeight.toString()]);
      await this.kv.write([{ key, value: bytes }]);
      this.add(txId, { key, id, height: blockHeight });
    });
  }

  async getTxPvtRWSetByTxid(txId: string, filter?: PvtNsCollFilter): Promise<EndorserPvtSimulationResults[]> {
    const list = [...(this.byTx.get(txId) ?? [])];
    const out: EndorserPvtSimulationResults[] = [];
    for (const e of list) {
      const bytes = await this.kv.get(e.key);
      if (bytes === undefined) continue; // purged meanwhile
      let msg: TxPvtReadWriteSetWithConfigInfo;
      try {
        msg = TxPvtReadWriteSetWithConfigInfo.decode(bytes);
      } catch (err) {
        throw new PrivdataStoreError("CORRUPT_RECORD", `transient store: the entry ${e.id} of ${txId} no longer decodes (${errorMessage(err)})`, { cause: err });
      }
      if (filter !== undefined) msg = { ...msg, pvtRwset: trimWriteSet(msg.pvtRwset, filter), collectionConfigs: trimConfigs(msg.collectionConfigs, filter) };
      out.push({ receivedAtBlockHeight: e.height, pvtSimulationResultsWithConfig: msg });
    }
    return out;
  }

  purgeByTxids(txIds: readonly string[]): Promise<void> {
    return this.serial(async () => {
      const ops: KvOp[] = [];
      for (const txId of new Set(txIds)) for (const e of this.byTx.get(txId) ?? []) ops.push({ key: e.key, value: undefined });
      if (ops.length === 0) return;
      await this.kv.write(ops);
      for (const txId of txIds) this.byTx.delete(txId);
    });
  }

  purgeBelowHeight(maxBlockNumToRetain: bigint): Promise<void> {
    return this.serial(async () => {
      const ops: KvOp[] = [];
      for (const list of this.byTx.values()) for (const e of list) if (e.height < maxBlockNumToRetain) ops.push({ key: e.key, value: undefined });
      if (ops.length === 0) return;
      await this.kv.write(ops);
      for (const [txId, list] of this.byTx) {
        const kept = list.filter((e) => e.height >= maxBlockNumToRetain);
        if (kept.length === 0) this.byTx.delete(txId);
        else this.byTx.set(txId, kept);
      }
    });
  }

  getMinTransientBlkHt(): bigint | undefined {
    let min: bigint | undefined;
    for (const list of this.byTx.values()) for (const e of list) if (min === undefined || e.height < min) min = e.height;
    return min;
  }

  txIds(): string[] {
    return [...this.byTx.keys()];
  }

  compact(): Promise<void> {
    return this.serial(() => this.kv.compact());
  }

  async close(): Promise<void> {
    await this.chain;
    await this.kv.close();
  }
}
