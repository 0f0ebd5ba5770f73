import { type Logger, silentLogger } from "../logging/index.js";
import { CollectionPvtReadWriteSet, TxReadWriteSet_DataModel, type NsPvtReadWriteSet } from "../protos/gen/ledger/rwset/rwset.pb.js";
import { type Clock, errorMessage, SystemClock } from "../util/index.js";
import { PrivdataStoreError } from "./pvt-store-errors.js";
import {
  DEFAULT_DEPRIORITIZED_DATA_RECONCILER_INTERVAL_MS,
  expiringBlock,
  type MissingPvtDataInfo,
  type NsColl,
  type PvtDataStore,
  type PvtDataStoreComponents,
  type PvtBlockRecord,
  type PvtDataStoreOptions,
  type PvtNsCollFilter,
  type PurgeTally,
  type TxMissingPvtData,
  type TxPvtData,
} from "./pvt-store-interface.js";
import { createMemoryKv, type KvEngine, type KvOp, type KvRecoveryReport, openLogKv } from "./pvt-store-kv.js";

/*
 * Keys (JSON arrays, after Fabric's kv_encoding.go):
 *   ["h"]                              last committed block height (decimal string)
 *   ["d", blk, tx, ns, coll]           a serialized CollectionPvtReadWriteSet (Fabric's dataKey)
 *   ["m", group, blk, ns, coll]        JSON array of tx indexes (Fabric's missingDataKey with its bitmap);
 *                                      group "ep" eligible prioritized, "ed" eligible deprioritized, "in" ineligible
 *   ["x", expiringBlk, committingBlk]  JSON {p: [[ns, coll, [tx...]]...], m: [[ns, coll]...]}: what block
 *                                      committingBlk wrote that expires at expiringBlk (Fabric's expiryKey/ExpiryData)
 * Every change is one atomic batch of the engine, so a crash leaves either all of a commit or none of it.
 */

type MissingGroup = "ep" | "ed" | "in";
const GROUPS: readonly MissingGroup[] = ["ep", "ed", "in"];
const HEIGHT_KEY = JSON.stringify(["h"]);

const dataKey = (blk: number, tx: number, ns: string, coll: string): string => JSON.stringify(["d", blk, tx, ns, coll]);
const missingKey = (g: MissingGroup, blk: number, ns: string, coll: string): string => JSON.stringify(["m", g, blk, ns, coll]);
const expiryKey = (exp: number, blk: number): string => JSON.stringify(["x", exp, blk]);
/** Map key of a (namespace, collection) pair. */
const nc = (ns: string, coll: string): string => JSON.stringify([ns, coll]);
const unNc = (k: string): [string, string] => JSON.parse(k) as [string, string];

interface DataRef {
  tx: number;
  ns: string;
  coll: string;
  key: string;
}

interface ExpiryData {
  /** nc(ns, coll) -> tx indexes with data present. */
  present: Map<string, Set<number>>;
  /** nc(ns, coll) with missing markers. */
  missing: Set<string>;
}

function encodeExpiry(e: ExpiryData): Uint8Array {
  const p = [...e.present].map(([k, txs]) => [...unNc(k), [...txs].sort((a, b) => a - b)]);
  const m = [...e.missing].map(unNc);
  return Buffer.from(JSON.stringify({ p, m }), "utf8");
}

function decodeExpiry(b: Uint8Array): ExpiryData {
  const j = JSON.parse(Buffer.from(b).toString("utf8")) as { p: [string, string, number[]][]; m: [string, string][] };
  return { present: new Map(j.p.map(([ns, coll, txs]) => [nc(ns, coll), new Set(txs)])), missing: new Set(j.m.map(([ns, coll]) => nc(ns, coll))) };
}

const encodeTxs = (s: ReadonlySet<number>): Uint8Array => Buffer.from(JSON.stringify([...s].sort((a, b) => a - b)), "utf8");

function toBlockNumber(n: bigint, what: string): number {
  if (typeof n !== "bigint" || n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw new PrivdataStoreError("INVALID_ARGUMENT", `${what}: block number ${String(n)} is not a non-negative bigint below 2^53`);
  return Number(n);
}

function checkTxNum(tx: number, what: string): void {
  if (!Number.isSafeInteger(tx) || tx < 0) throw new PrivdataStoreError("INVALID_ARGUMENT", `${what}: transaction index ${String(tx)} is not a non-negative integer`);
}

/** The private data store in memory (the simulator, tests): same semantics, nothing persists. */
export async function createMemoryPvtDataStore(components: PvtDataStoreComponents, options: PvtDataStoreOptions = {}): Promise<PvtDataStore> {
  return KvPvtDataStore.create(createMemoryKv("in-memory private data store"), options, components, silentLogger);
}

/**
 * Opens (creating if needed) the private data store of one channel in `dir`, recovering from a crash (a torn
 * last write is cut off; damage elsewhere is `CORRUPT_STORE`). One process at a time (`LOCKED`).
 */
export async function openPvtDataStore(dir: string, components: PvtDataStoreComponents, options: PvtDataStoreOptions = {}): Promise<PvtDataStore> {
  const logger = (components.logger ?? silentLogger).child("pvtdatastorage");
  const kv = await openLogKv(dir, { name: `private data store ${dir}`, ...(options.compactMinBytes !== undefined ? { compactMinBytes: options.compactMinBytes } : {}) }, logger);
  try {
    return await KvPvtDataStore.create(kv, options, components, logger);
  } catch (err) {
    await kv.close();
    throw err;
  }
}

/** Mutable state derived from the engine's keys; changed only after the engine made a batch durable. */
interface State {
  height: number;
  /** blk -> data entries of the block. */
  data: Map<number, Map<string, DataRef>>;
  /** group -> blk -> nc -> tx indexes. */
  missing: Record<MissingGroup, Map<number, Map<string, Set<number>>>>;
  /** expiringBlk -> committingBlk -> what expires. */
  expiry: Map<number, Map<number, ExpiryData>>;
}

/**
 * A batch being prepared: the key/value operations and the same change to apply to the state afterwards.
 * Reads during preparation see the changes made so far (`missingOf`, `expiryOf`).
 */
class Txn {
  readonly ops = new Map<string, Uint8Array | undefined>();
  private readonly missingCopies = new Map<string, Set<number>>();
  private readonly expiryCopies = new Map<string, ExpiryData>();
  readonly dataPuts: DataRef[] = [];
  readonly dataDeletes: { blk: number; key: string }[] = [];
  height: number | undefined;

  constructor(private readonly s: State) {}

  putData(blk: number, tx: number, ns: string, coll: string, value: Uint8Array): void {
    const key = dataKey(blk, tx, ns, coll);
    this.ops.set(key, value);
    this.dataPuts.push({ tx, ns, coll, key });
    this.dataBlk.set(key, blk);
  }

  readonly dataBlk = new Map<string, number>();

  deleteData(blk: number, key: string): void {
    this.ops.set(key, undefined);
    this.dataDeletes.push({ blk, key });
  }

  /** A copy of the tx set of (group, blk, ns, coll), created empty if absent, to modify. */
  missingOf(g: MissingGroup, blk: number, ncKey: string): Set<number> {
    const [ns, coll] = unNc(ncKey);
    const key = missingKey(g, blk, ns, coll);
    let set = this.missingCopies.get(key);
    if (set === undefined) {
      set = new Set(this.s.missing[g].get(blk)?.get(ncKey) ?? []);
      this.missingCopies.set(key, set);
    }
    return set;
  }

  hasMissing(g: MissingGroup, blk: number, ncKey: string, tx: number): boolean {
    const [ns, coll] = unNc(ncKey);
    const copy = this.missingCopies.get(missingKey(g, blk, ns, coll));
    return copy !== undefined ? copy.has(tx) : (this.s.missing[g].get(blk)?.get(ncKey)?.has(tx) ?? false);
  }

  /** The expiry entry (exp, blk), a modifiable copy; created empty if `create`. */
  expiryOf(exp: number, blk: number, create: boolean): ExpiryData | undefined {
    const key = expiryKey(exp, blk);
    let e = this.expiryCopies.get(key);
    if (e === undefined) {
      const cur = this.s.expiry.get(exp)?.get(blk);
      if (cur === undefined && !create) return undefined;
      e = { present: new Map([...(cur?.present ?? [])].map(([k, v]) => [k, new Set(v)])), missing: new Set(cur?.missing ?? []) };
      this.expiryCopies.set(key, e);
    }
    return e;
  }

  deleteExpiry(exp: number, blk: number): void {
    this.expiryCopies.set(expiryKey(exp, blk), { present: new Map(), missing: new Set() });
  }

  /** The engine operations: data, then every touched missing set and expiry entry (empty ones deleted). */
  toOps(): KvOp[] {
    for (const [key, set] of this.missingCopies) this.ops.set(key, set.size > 0 ? encodeTxs(set) : undefined);
    for (const [key, e] of this.expiryCopies) this.ops.set(key, e.present.size > 0 || e.missing.size > 0 ? encodeExpiry(e) : undefined);
    if (this.height !== undefined) this.ops.set(HEIGHT_KEY, Buffer.from(String(this.height), "utf8"));
    return [...this.ops].map(([key, value]) => ({ key, value }));
  }

  /** Applies the prepared change to the state (after the engine made it durable). */
  apply(): void {
    const s = this.s;
    for (const { blk, key } of this.dataDeletes) {
      const m = s.data.get(blk);
      m?.delete(key);
      if (m?.size === 0) s.data.delete(blk);
    }
    for (const d of this.dataPuts) {
      const blk = this.dataBlk.get(d.key)!;
      let m = s.data.get(blk);
      if (m === undefined) {
        m = new Map();
        s.data.set(blk, m);
      }
      m.set(d.key, d);
    }
    for (const [key, set] of this.missingCopies) {
      const [, g, blk, ns, coll] = JSON.parse(key) as [string, MissingGroup, number, string, string];
      setMissing(s, g, blk, nc(ns, coll), set);
    }
    for (const [key, e] of this.expiryCopies) {
      const [, exp, blk] = JSON.parse(key) as [string, number, number];
      setExpiry(s, exp, blk, e);
    }
    if (this.height !== undefined) s.height = this.height;
  }
}

function setMissing(s: State, g: MissingGroup, blk: number, ncKey: string, set: Set<number>): void {
  let byBlk = s.missing[g].get(blk);
  if (set.size === 0) {
    byBlk?.delete(ncKey);
    if (byBlk?.size === 0) s.missing[g].delete(blk);
    return;
  }
  if (byBlk === undefined) {
    byBlk = new Map();
    s.missing[g].set(blk, byBlk);
  }
  byBlk.set(ncKey, set);
}

function setExpiry(s: State, exp: number, blk: number, e: ExpiryData): void {
  let byBlk = s.expiry.get(exp);
  if (e.present.size === 0 && e.missing.size === 0) {
    byBlk?.delete(blk);
    if (byBlk?.size === 0) s.expiry.delete(exp);
    return;
  }
  if (byBlk === undefined) {
    byBlk = new Map();
    s.expiry.set(exp, byBlk);
  }
  byBlk.set(blk, e);
}

/**
 * Blocks with nothing to store may be committed without a write of their own, at most this many in a row: the
 * height is written with the next write, at close, or after this many. A crash loses at most these heights, which
 * the host recommits from its block store at open (a block with nothing to store commits nothing again).
 */
const MAX_UNWRITTEN_HEIGHTS = 1000;

class KvPvtDataStore implements PvtDataStore {
  private chain: Promise<void> = Promise.resolve();
  /** Heights committed since the height was last written (blocks without private data or markers). */
  private unwrittenHeights = 0;
  private accessDeprioAfter: number;
  private readonly clock: Clock;
  private readonly deprioIntervalMs: number;
  /** nc(ns, coll) -> what blockToLive removed since open (read by the admin view). */
  private readonly purgeTally = new Map<string, PurgeTally>();

  private constructor(
    private readonly kv: KvEngine,
    private readonly s: State,
    private readonly components: PvtDataStoreComponents,
    options: PvtDataStoreOptions,
  ) {
    this.clock = components.clock ?? new SystemClock();
    this.deprioIntervalMs = options.deprioritizedDataReconcilerIntervalMs ?? DEFAULT_DEPRIORITIZED_DATA_RECONCILER_INTERVAL_MS;
    // Monotonic (Fabric: wall time): a wall clock stepped back an hour would hold the deprioritized list back an hour.
    this.accessDeprioAfter = this.clock.monotonic() + this.deprioIntervalMs;
  }

  static async create(kv: KvEngine, options: PvtDataStoreOptions, components: PvtDataStoreComponents, logger: Logger): Promise<KvPvtDataStore> {
    const s: State = { height: 0, data: new Map(), missing: { ep: new Map(), ed: new Map(), in: new Map() }, expiry: new Map() };
    let ignored = 0;
    for (const key of [...kv.keys()]) {
      try {
        const k = JSON.parse(key) as unknown[];
        if (k[0] === "h") {
          s.height = Number(Buffer.from((await kv.get(key))!).toString("utf8"));
          if (!Number.isSafeInteger(s.height) || s.height < 0) throw new Error("bad height");
        } else if (k[0] === "d" && k.length === 5) {
          const [, blk, tx, ns, coll] = k as [string, number, number, string, string];
          let m = s.data.get(blk);
          if (m === undefined) {
            m = new Map();
            s.data.set(blk, m);
          }
          m.set(key, { tx, ns, coll, key });
        } else if (k[0] === "m" && k.length === 5 && GROUPS.includes(k[1] as MissingGroup)) {
          const [, g, blk, ns, coll] = k as [string, MissingGroup, number, string, string];
          const txs = JSON.parse(Buffer.from((await kv.get(key))!).toString("utf8")) as number[];
          setMissing(s, g, blk, nc(ns, coll), new Set(txs));
        } else if (k[0] === "x" && k.length === 3) {
          const [, exp, blk] = k as [string, number, number];
          setExpiry(s, exp, blk, decodeExpiry((await kv.get(key))!));
        } else {
          ignored++;
        }
      } catch (err) {
        if (err instanceof PrivdataStoreError) throw err;
        throw new PrivdataStoreError("CORRUPT_STORE", `private data store: the entry ${key} does not decode (${errorMessage(err)}); restore the store from a backup`, { cause: err });
      }
    }
    if (ignored > 0) logger.warn("private data store holds keys it does not know; ignored", { count: ignored });
    return new KvPvtDataStore(kv, s, components, options);
  }

  get recovery(): KvRecoveryReport {
    return this.kv.recovery;
  }

  lastCommittedBlockHeight(): bigint {
    return BigInt(this.s.height);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private btl(ns: string, coll: string, what: string): bigint {
    const btl = this.components.btlPolicy.blockToLive(ns, coll);
    if (btl === undefined) throw new PrivdataStoreError("INVALID_ARGUMENT", `${what}: no collection config for ${ns}/${coll}, so its blockToLive is unknown`);
    return btl;
  }

  commit(blockNum: bigint, pvtData: readonly TxPvtData[], missing: TxMissingPvtData = new Map()): Promise<void> {
    return this.serial(async () => {
      const what = `commit of block ${blockNum}`;
      const blk = toBlockNumber(blockNum, what);
      if (blk !== this.s.height) throw new PrivdataStoreError("UNEXPECTED_BLOCK_NUMBER", `${what}: expected block ${this.s.height} (the private data store's height)`);
      const t = new Txn(this.s);
      const addExpiry = (ns: string, coll: string, tx: number | undefined): void => {
        const exp = expiringBlock(blockNum, this.btl(ns, coll, what));
        if (exp === undefined) return;
        const e = t.expiryOf(Number(exp), blk, true)!;
        const k = nc(ns, coll);
        if (tx === undefined) e.missing.add(k);
        else {
          let set = e.present.get(k);
          if (set === undefined) {
            set = new Set();
            e.present.set(k, set);
          }
          set.add(tx);
        }
      };
      for (const txd of pvtData) {
        checkTxNum(txd.seqInBlock, what);
        for (const ns of txd.writeSet.nsPvtRwset) {
          for (const c of ns.collectionPvtRwset) {
            addExpiry(ns.namespace, c.collectionName, txd.seqInBlock);
            t.putData(blk, txd.seqInBlock, ns.namespace, c.collectionName, CollectionPvtReadWriteSet.encode(c).finish());
          }
        }
      }
      for (const [tx, colls] of missing) {
        checkTxNum(tx, what);
        for (const m of colls) {
          addExpiry(m.namespace, m.collection, undefined);
          t.missingOf(m.isEligible ? "ep" : "in", blk, nc(m.namespace, m.collection)).add(tx);
        }
      }
      const purged = this.preparePurge(t, blk);
      const tally = purged.byCollection;
      t.height = blk + 1;
      const ops = t.toOps();
      // Most blocks carry no private data: their commit is only the height, and an fsync per block for it would
      // double the commit cost of every block (the block store syncs too). It is written later; see above.
      if (ops.length === 1 && this.unwrittenHeights < MAX_UNWRITTEN_HEIGHTS) {
        t.apply();
        this.unwrittenHeights++;
        return;
      }
      await this.kv.write(ops);
      this.unwrittenHeights = 0;
      t.apply();
      for (const [k, add] of tally) {
        const cur = this.purgeTally.get(k);
        if (cur === undefined) this.purgeTally.set(k, add);
        else {
          cur.held += add.held;
          cur.missingEligible += add.missingEligible;
          cur.missingIneligible += add.missingIneligible;
        }
      }
      if (purged.dataEntries + purged.missingEntries > 0) this.components.onPurge?.({ blockNum, dataEntries: purged.dataEntries, missingEntries: purged.missingEntries });
    });
  }

  /** Adds to `t` the removal of everything expiring at or before block `blk` (Fabric's purgeExpiredData). */
  private preparePurge(t: Txn, blk: number): { dataEntries: number; missingEntries: number; byCollection: Map<string, PurgeTally> } {
    let dataEntries = 0;
    let missingEntries = 0;
    const byCollection = new Map<string, PurgeTally>();
    const tallyOf = (k: string): PurgeTally => {
      let e = byCollection.get(k);
      if (e === undefined) {
        const [namespace, collection] = unNc(k);
        e = { namespace, collection, held: 0, missingEligible: 0, missingIneligible: 0 };
        byCollection.set(k, e);
      }
      return e;
    };
    for (const [exp, byBlk] of this.s.expiry) {
      if (exp > blk) continue;
      for (const [cblk, e] of byBlk) {
        for (const [k, txs] of e.present) {
          const [ns, coll] = unNc(k);
          for (const tx of txs) {
            const key = dataKey(cblk, tx, ns, coll);
            if (this.s.data.get(cblk)?.has(key)) {
              t.deleteData(cblk, key);
              dataEntries++;
              tallyOf(k).held++;
            }
          }
        }
        for (const k of e.missing) {
          for (const g of GROUPS) {
            const set = t.missingOf(g, cblk, k);
            missingEntries += set.size;
            if (set.size > 0) {
              if (g === "in") tallyOf(k).missingIneligible += set.size;
              else tallyOf(k).missingEligible += set.size;
            }
            set.clear();
          }
        }
        t.deleteExpiry(exp, cblk);
      }
    }
    return { dataEntries, missingEntries, byCollection };
  }

  async getPvtDataByBlockNum(blockNum: bigint, filter?: PvtNsCollFilter): Promise<TxPvtData[]> {
    const blk = toBlockNumber(blockNum, "getPvtDataByBlockNum");
    if (blk >= this.s.height) throw new PrivdataStoreError("BLOCK_NOT_COMMITTED", `private data of block ${blockNum} asked for, but the store's last committed block is ${this.s.height - 1}`);
    const refs = [...(this.s.data.get(blk)?.values() ?? [])]
      .filter((d) => filter === undefined || filter.has(d.ns, d.coll))
      .sort((a, b) => a.tx - b.tx || cmp(a.ns, b.ns) || cmp(a.coll, b.coll));
    const out: TxPvtData[] = [];
    let cur: TxPvtData | undefined;
    let curNs: NsPvtReadWriteSet | undefined;
    for (const d of refs) {
      const bytes = await this.kv.get(d.key);
      if (bytes === undefined) continue; // purged meanwhile
      let c: CollectionPvtReadWriteSet;
      try {
        c = CollectionPvtReadWriteSet.decode(bytes);
      } catch (err) {
        throw new PrivdataStoreError("CORRUPT_RECORD", `private data store: block ${blk} tx ${d.tx} ${d.ns}/${d.coll} no longer decodes (${errorMessage(err)})`, { cause: err });
      }
      if (cur === undefined || cur.seqInBlock !== d.tx) {
        cur = { seqInBlock: d.tx, writeSet: { dataModel: TxReadWriteSet_DataModel.KV, nsPvtRwset: [] } };
        out.push(cur);
        curNs = undefined;
      }
      if (curNs === undefined || curNs.namespace !== d.ns) {
        curNs = { namespace: d.ns, collectionPvtRwset: [] };
        cur.writeSet.nsPvtRwset.push(curNs);
      }
      curNs.collectionPvtRwset.push(c);
    }
    return out;
  }

  async getMissingPvtDataInfoForMostRecentBlocks(maxBlocks: number): Promise<MissingPvtDataInfo> {
    const out: MissingPvtDataInfo = new Map();
    if (!(maxBlocks >= 1)) return out;
    let group: MissingGroup = "ep";
    if (this.clock.monotonic() > this.accessDeprioAfter) {
      this.accessDeprioAfter = this.clock.monotonic() + this.deprioIntervalMs;
      group = "ed";
    }
    const blocks = [...this.s.missing[group].keys()].sort((a, b) => b - a).slice(0, maxBlocks);
    for (const blk of blocks) {
      const byTx = new Map<number, NsColl[]>();
      const byNc = [...this.s.missing[group].get(blk)!].sort(([a], [b]) => cmp(a, b));
      for (const [k, txs] of byNc) {
        const [namespace, collection] = unNc(k);
        for (const tx of txs) {
          let l = byTx.get(tx);
          if (l === undefined) {
            l = [];
            byTx.set(tx, l);
          }
          l.push({ namespace, collection });
        }
      }
      out.set(BigInt(blk), new Map([...byTx].sort(([a], [b]) => a - b)));
    }
    return out;
  }

  getIneligibleMissingPvtDataInfo(): MissingPvtDataInfo {
    const out: MissingPvtDataInfo = new Map();
    for (const [blk, byNc] of this.s.missing.in) {
      const byTx = new Map<number, NsColl[]>();
      for (const [k, txs] of byNc) {
        const [namespace, collection] = unNc(k);
        for (const tx of txs) byTx.set(tx, [...(byTx.get(tx) ?? []), { namespace, collection }]);
      }
      out.set(BigInt(blk), byTx);
    }
    return out;
  }

  blockRecord(blockNum: bigint): PvtBlockRecord {
    const out: PvtBlockRecord = { held: [], missing: [] };
    if (typeof blockNum !== "bigint" || blockNum < 0n || blockNum > BigInt(Number.MAX_SAFE_INTEGER)) return out;
    const blk = Number(blockNum);
    for (const d of this.s.data.get(blk)?.values() ?? []) out.held.push({ seqInBlock: d.tx, namespace: d.ns, collection: d.coll });
    for (const g of GROUPS) {
      for (const [k, txs] of this.s.missing[g].get(blk) ?? []) {
        const [namespace, collection] = unNc(k);
        for (const tx of txs) out.missing.push({ seqInBlock: tx, namespace, collection, isEligible: g !== "in", deprioritized: g === "ed" });
      }
    }
    out.held.sort((a, b) => a.seqInBlock - b.seqInBlock || cmp(a.namespace, b.namespace) || cmp(a.collection, b.collection));
    out.missing.sort((a, b) => a.seqInBlock - b.seqInBlock || cmp(a.namespace, b.namespace) || cmp(a.collection, b.collection));
    return out;
  }

  purgedSinceOpen(): PurgeTally[] {
    return [...this.purgeTally.values()].map((e) => ({ ...e })).sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.collection, b.collection));
  }

  commitPvtDataOfOldBlocks(blocksPvtData: ReadonlyMap<bigint, readonly TxPvtData[]>, unreconciled: MissingPvtDataInfo = new Map()): Promise<void> {
    return this.serial(async () => {
      const what = "commit of reconciled private data";
      const t = new Txn(this.s);
      const last = this.s.height - 1;
      for (const [blockNum, txs] of blocksPvtData) {
        const blk = toBlockNumber(blockNum, what);
        if (blk > last) throw new PrivdataStoreError("BLOCK_NOT_COMMITTED", `${what}: block ${blk} is past the last committed block ${last}`);
        for (const txd of txs) {
          checkTxNum(txd.seqInBlock, what);
          const tx = txd.seqInBlock;
          for (const ns of txd.writeSet.nsPvtRwset) {
            for (const c of ns.collectionPvtRwset) {
              const k = nc(ns.namespace, c.collectionName);
              const exp = expiringBlock(blockNum, this.btl(ns.namespace, c.collectionName, what));
              if (exp !== undefined) {
                // Expired meanwhile (Fabric finds no expiry entry any more): dropped, never stored.
                if (Number(exp) <= last) continue;
                const e = t.expiryOf(Number(exp), blk, true)!;
                let set = e.present.get(k);
                if (set === undefined) {
                  set = new Set();
                  e.present.set(k, set);
                }
                set.add(tx);
              }
              t.putData(blk, tx, ns.namespace, c.collectionName, CollectionPvtReadWriteSet.encode(c).finish());
              if (t.hasMissing("ep", blk, k, tx)) t.missingOf("ep", blk, k).delete(tx);
              else if (t.hasMissing("ed", blk, k, tx)) t.missingOf("ed", blk, k).delete(tx);
            }
          }
        }
      }
      for (const [blockNum, byTx] of unreconciled) {
        const blk = toBlockNumber(blockNum, what);
        for (const [tx, colls] of byTx) {
          for (const { namespace, collection } of colls) {
            const k = nc(namespace, collection);
            if (!t.hasMissing("ep", blk, k, tx)) continue;
            t.missingOf("ep", blk, k).delete(tx);
            t.missingOf("ed", blk, k).add(tx);
          }
        }
      }
      const ops = t.toOps();
      if (ops.length === 0) return;
      await this.kv.write(ops);
      t.apply();
    });
  }

  processCollsEligibilityEnabled(committingBlock: bigint, nsColls: Readonly<Record<string, readonly string[]>>): Promise<void> {
    return this.serial(async () => {
      const upTo = toBlockNumber(committingBlock, "processCollsEligibilityEnabled");
      const t = new Txn(this.s);
      const wanted = new Set(Object.entries(nsColls).flatMap(([ns, colls]) => colls.map((c) => nc(ns, c))));
      for (const [blk, byNc] of this.s.missing.in) {
        if (blk > upTo) continue;
        for (const [k, txs] of byNc) {
          if (!wanted.has(k)) continue;
          const target = t.missingOf("ep", blk, k);
          for (const tx of txs) target.add(tx);
          t.missingOf("in", blk, k).clear();
        }
      }
      const ops = t.toOps();
      if (ops.length === 0) return;
      await this.kv.write(ops);
      t.apply();
    });
  }

  compact(): Promise<void> {
    return this.serial(() => this.kv.compact());
  }

  async close(): Promise<void> {
    await this.chain;
    if (this.unwrittenHeights > 0) {
      await this.kv.write([{ key: HEIGHT_KEY, value: Buffer.from(String(this.s.height), "utf8") }]);
      this.unwrittenHeights = 0;
    }
    await this.kv.close();
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
