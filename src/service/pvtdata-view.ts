import {
  type CollectionDefinition,
  expiringBlock,
  IMPLICIT_COLLECTION_PREFIX,
  privateDataNeeds,
  type PvtBlockRecord,
  type PvtDataHandler,
  pvtNsCollFilter,
  sha256,
} from "../privdata/index.js";
import { KVRWSet } from "../protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import type { TxPvtReadWriteSet } from "../protos/gen/ledger/rwset/rwset.pb.js";
import { bytesEqual, errorMessage, GossipError, toHex } from "../util/index.js";
import type { ChannelLedger } from "./ledger.js";

/**
 * Where a private write set a transaction needs stands on this peer:
 * - `held`: committed in the private data store, its SHA-256 equal to the block's `pvt_rwset_hash`;
 * - `mismatch`: committed, but its hash differs from the block's (never expected: the coordinator checks it);
 * - `transient`: only in the transient store (the transaction is not in a block yet, or its block committed
 *   without it and it arrived later);
 * - `missing`: the block committed with a missing marker (`eligible` says whether it will be reconciled);
 * - `purged`: past the collection's blockToLive (removed, whether it was held or missing);
 * - `absent`: nothing recorded (a transaction flagged invalid whose data is not kept, a collection the peer did
 *   not know at commit, or a block the private data store has not committed).
 */
export type PvtEntryStatus = "held" | "mismatch" | "transient" | "missing" | "purged" | "absent";

/** One key written, with `values=true`: the value in base64. */
export interface PvtWriteView {
  key: string;
  isDelete: boolean;
  value: string;
}

/** One (namespace, collection) a transaction needs, as this peer holds it. */
export interface PvtCollectionView {
  namespace: string;
  collection: string;
  status: PvtEntryStatus;
  /** This peer's org is a member of the collection; null when the peer does not know the collection. */
  eligible: boolean | null;
  /** The collection's blockToLive (decimal; "0" keeps forever), or null when unknown. */
  blockToLive: string | null;
  /** The block whose commit purges it (decimal), or null when it never expires or the block is unknown. */
  expiresAtBlock: string | null;
  /** The block's `pvt_rwset_hash` (hex), or null for a transaction in no block yet. */
  expectedHash: string | null;
  /** SHA-256 of the data this peer holds (store or transient store), hex; absent when it holds none. */
  hash?: string;
  /** For `missing` eligible data: the reconciler asked and failed (Fabric's deprioritized list). */
  deprioritized?: boolean;
  /** The KV writes, only when asked for (`values=true`) and held. */
  writes?: PvtWriteView[];
}

/** One transaction's private data on this peer. */
export interface PvtTxView {
  txId: string;
  /** The block holding the transaction (decimal), or null when it is in the transient store only. */
  block: string | null;
  txIndex: number | null;
  /** The block's validation flag says VALID (null when unknown: not in a block, or the block carries no flags). */
  valid: boolean | null;
  collections: PvtCollectionView[];
}

/** `GET /v1/channels/{channel}/private-data?tx=ID` or `?block=N`. */
export interface PvtDataView {
  channel: string;
  /** The block store's height. */
  height: string;
  /** The private data store's height (blocks whose private data it committed). */
  pvtHeight: string;
  txs: PvtTxView[];
}

/** One collection of `GET /v1/channels/{channel}/private-data/summary`. */
export interface PvtCollectionSummary {
  namespace: string;
  collection: string;
  /** The member orgs (MSP IDs), or null for a collection the peer does not know (it appears in blocks only). */
  memberOrgs: string[] | null;
  blockToLive: string | null;
  eligible: boolean | null;
  /** Write sets of committed blocks the private data store holds now (hash-checked when committed). */
  committed: number;
  missingEligible: number;
  missingIneligible: number;
  /** Write sets of committed blocks past blockToLive. */
  purged: number;
  /** Write sets of committed blocks with nothing recorded (see `absent`; data in the transient store only counts here). */
  absent: number;
  /** Transactions with data for the collection in the transient store. */
  transient: number;
  /** What blockToLive removed since the store opened: the `purged` that were held, or missing. */
  purgedSinceOpen: { held: number; missingEligible: number; missingIneligible: number };
}

/** `GET /v1/channels/{channel}/private-data/summary`. */
export interface PvtDataSummary {
  channel: string;
  /** This peer's MSP ID (what eligibility is judged by), or null. */
  mspId: string | null;
  height: string;
  pvtHeight: string;
  collections: PvtCollectionSummary[];
}

/** Why a private-data view was refused. */
export type PvtViewErrorCode = "UNKNOWN_CHANNEL" | "NOT_FOUND" | "BAD_REQUEST";

export class PvtViewError extends GossipError {
  declare readonly code: PvtViewErrorCode;

  constructor(code: PvtViewErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** What the views read of a channel. */
export interface PvtViewChannel {
  ledger: Pick<ChannelLedger, "height" | "getBlock">;
  pvt: PvtDataHandler;
}

export interface PvtDataViewsComponents {
  /** The channel's ledger and private data handler; throws (any error) for a channel the peer has not joined. */
  channel(name: string): PvtViewChannel;
  /** This peer's MSP ID: eligibility is membership of the collection's member orgs, as Fabric's coordinator judges it. */
  localMspId: string | undefined;
}

/** The admin endpoint's private-data views over every channel. */
export interface PvtDataViews {
  /** One transaction (found among committed blocks, newest first, then in the transient store). */
  tx(channel: string, txId: string, values: boolean): Promise<PvtDataView>;
  /** Every transaction of block `n` that wrote private data. */
  block(channel: string, n: bigint, values: boolean): Promise<PvtDataView>;
  summary(channel: string): Promise<PvtDataSummary>;
}

/** A transaction's need of one collection, as the index keeps it. */
interface NeedRow {
  txIndex: number;
  txId: string;
  invalid: boolean;
  flagsKnown: boolean;
  namespace: string;
  collection: string;
  expectedHash: Uint8Array;
}

/**
 * Per channel: the private data needs of every committed block, read once (blocks never change) and kept for
 * the blocks with any, and the block of each transaction with private data. Memory grows with the number of
 * private write sets in the chain (about 150 bytes each).
 */
class NeedsIndex {
  indexed = 0n;
  readonly byBlock = new Map<bigint, NeedRow[]>();
  readonly blockOfTx = new Map<string, bigint>();
  #catchingUp: Promise<void> = Promise.resolve();

  constructor(readonly ledger: PvtViewChannel["ledger"]) {}

  /** Reads the blocks committed since the last call (one reader at a time). */
  catchUp(): Promise<void> {
    const run = this.#catchingUp.then(async () => {
      const height = this.ledger.height();
      for (let n = this.indexed; n < height; n++) {
        const block = await this.ledger.getBlock(n);
        const needs = privateDataNeeds(block);
        const rows: NeedRow[] = [];
        for (const tx of needs.txs) {
          for (const c of tx.collections) {
            rows.push({ txIndex: tx.txIndex, txId: tx.txId, invalid: tx.invalid, flagsKnown: needs.flagsKnown, namespace: c.namespace, collection: c.collection, expectedHash: c.expectedHash });
          }
          // A transaction ID seen twice (a duplicate, flagged invalid) keeps its first block.
          if (tx.collections.length > 0 && !this.blockOfTx.has(tx.txId)) this.blockOfTx.set(tx.txId, n);
        }
        if (rows.length > 0) this.byBlock.set(n, rows);
        this.indexed = n + 1n;
      }
    });
    this.#catchingUp = run.catch(() => undefined);
    return run;
  }
}

const ncKey = (tx: number, ns: string, coll: string): string => `${tx}\u0000${ns}\u0000${coll}`;

/** Builds the private-data views of the admin endpoint (`GET /v1/channels/{channel}/private-data...`). */
export function createPvtDataViews(c: PvtDataViewsComponents): PvtDataViews {
  const indexes = new Map<string, NeedsIndex>();

  const open = async (channel: string): Promise<{ ch: PvtViewChannel; index: NeedsIndex }> => {
    let ch: PvtViewChannel;
    try {
      ch = c.channel(channel);
    } catch (err) {
      throw new PvtViewError("UNKNOWN_CHANNEL", `channel ${channel}: ${errorMessage(err)}`, { cause: err });
    }
    let index = indexes.get(channel);
    if (index === undefined || index.ledger !== ch.ledger) {
      index = new NeedsIndex(ch.ledger);
      indexes.set(channel, index);
    }
    await index.catchUp();
    return { ch, index };
  };

  const eligibleFor = (def: CollectionDefinition | undefined): boolean | null =>
    def === undefined ? null : c.localMspId !== undefined && def.memberOrgs.includes(c.localMspId);

  /** The status of one need from the store's record of its block (values and hashes are read by the caller). */
  const classify = (
    row: NeedRow,
    blockNum: bigint,
    record: PvtBlockRecord,
    pvtHeight: bigint,
    def: CollectionDefinition | undefined,
    inTransient: boolean,
  ): { status: Exclude<PvtEntryStatus, "mismatch">; missingEligible?: boolean; deprioritized?: boolean; expires: bigint | undefined } => {
    const expires = def === undefined ? undefined : expiringBlock(blockNum, def.blockToLive);
    const k = ncKey(row.txIndex, row.namespace, row.collection);
    if (record.held.some((h) => ncKey(h.seqInBlock, h.namespace, h.collection) === k)) return { status: "held", expires };
    const marker = record.missing.find((m) => ncKey(m.seqInBlock, m.namespace, m.collection) === k);
    if (marker !== undefined) return { status: "missing", missingEligible: marker.isEligible, deprioritized: marker.deprioritized, expires };
    if (expires !== undefined && expires < pvtHeight) return { status: "purged", expires };
    if (inTransient) return { status: "transient", expires };
    return { status: "absent", expires };
  };

  const writesOf = (kvRwSet: Uint8Array): PvtWriteView[] => {
    try {
      return KVRWSet.decode(kvRwSet).writes.map((w) => ({ key: w.key, isDelete: w.isDelete, value: Buffer.from(w.value).toString("base64") }));
    } catch {
      // Bytes that were hash-checked but do not decode: shown without writes rather than failing the view.
      return [];
    }
  };

  /** The (namespace, collection) -> KVRWSet bytes of a write set. */
  const collectionsOf = (ws: TxPvtReadWriteSet | undefined): Map<string, Uint8Array> => {
    const out = new Map<string, Uint8Array>();
    for (const ns of ws?.nsPvtRwset ?? []) for (const col of ns.collectionPvtRwset) out.set(`${ns.namespace}\u0000${col.collectionName}`, col.rwset);
    return out;
  };

  /** The transient store's data of a transaction: (namespace, collection) -> KVRWSet bytes (first endorsement's). */
  const transientOf = async (pvt: PvtDataHandler, txId: string): Promise<Map<string, Uint8Array>> => {
    const out = new Map<string, Uint8Array>();
    for (const e of await pvt.transientStore.getTxPvtRWSetByTxid(txId)) {
      for (const [k, v] of collectionsOf(e.pvtSimulationResultsWithConfig.pvtRwset)) if (!out.has(k)) out.set(k, v);
    }
    return out;
  };

  const viewOfBlock = async (ch: PvtViewChannel, index: NeedsIndex, blockNum: bigint, onlyTx: string | undefined, values: boolean): Promise<PvtTxView[]> => {
    const rows = (index.byBlock.get(blockNum) ?? []).filter((r) => onlyTx === undefined || r.txId === onlyTx);
    const pvtHeight = ch.pvt.pvtStore.lastCommittedBlockHeight();
    const record = ch.pvt.pvtStore.blockRecord(blockNum);
    const stored = new Map<string, Uint8Array>();
    if (blockNum < pvtHeight && record.held.length > 0) {
      const wanted: Record<string, string[]> = {};
      for (const r of rows) wanted[r.namespace] = [...(wanted[r.namespace] ?? []), r.collection];
      for (const tx of await ch.pvt.pvtStore.getPvtDataByBlockNum(blockNum, pvtNsCollFilter(wanted))) {
        for (const [k, v] of collectionsOf(tx.writeSet)) stored.set(`${tx.seqInBlock}\u0000${k}`, v);
      }
    }
    const txs = new Map<number, PvtTxView>();
    const transient = new Map<string, Map<string, Uint8Array>>();
    for (const r of rows) {
      let tv = txs.get(r.txIndex);
      if (tv === undefined) {
        tv = { txId: r.txId, block: blockNum.toString(), txIndex: r.txIndex, valid: r.flagsKnown ? !r.invalid : null, collections: [] };
        txs.set(r.txIndex, tv);
      }
      let tdata = transient.get(r.txId);
      if (tdata === undefined) {
        tdata = await transientOf(ch.pvt, r.txId);
        transient.set(r.txId, tdata);
      }
      const def = ch.pvt.collections.collection(r.namespace, r.collection);
      const nc = `${r.namespace}\u0000${r.collection}`;
      const cl = classify(r, blockNum, record, pvtHeight, def, tdata.has(nc));
      const data = cl.status === "held" ? stored.get(`${r.txIndex}\u0000${nc}`) : cl.status === "transient" ? tdata.get(nc) : undefined;
      const hash = data === undefined ? undefined : sha256(data);
      const status: PvtEntryStatus = cl.status === "held" && hash !== undefined && !bytesEqual(hash, r.expectedHash) ? "mismatch" : cl.status;
      tv.collections.push({
        namespace: r.namespace,
        collection: r.collection,
        status,
        eligible: cl.missingEligible ?? eligibleFor(def),
        blockToLive: def === undefined ? null : def.blockToLive.toString(),
        expiresAtBlock: cl.expires === undefined ? null : cl.expires.toString(),
        expectedHash: toHex(r.expectedHash),
        ...(hash !== undefined ? { hash: toHex(hash) } : {}),
        ...(cl.status === "missing" && cl.missingEligible === true ? { deprioritized: cl.deprioritized === true } : {}),
        ...(values && data !== undefined ? { writes: writesOf(data) } : {}),
      });
    }
    return [...txs.values()];
  };

  const heights = (ch: PvtViewChannel): { height: string; pvtHeight: string } => ({
    height: ch.ledger.height().toString(),
    pvtHeight: ch.pvt.pvtStore.lastCommittedBlockHeight().toString(),
  });

  return {
    async tx(channel, txId, values) {
      if (txId === "") throw new PvtViewError("BAD_REQUEST", "the transaction ID is empty");
      const { ch, index } = await open(channel);
      const blockNum = index.blockOfTx.get(txId);
      if (blockNum !== undefined) return { channel, ...heights(ch), txs: await viewOfBlock(ch, index, blockNum, txId, values) };
      // Not in a block (yet): what the transient store holds of it.
      const tdata = await transientOf(ch.pvt, txId);
      if (tdata.size === 0) throw new PvtViewError("NOT_FOUND", `channel ${channel}: no committed transaction ${txId} wrote private data, and the transient store holds none of it`);
      const collections: PvtCollectionView[] = [...tdata].map(([k, data]) => {
        const [namespace = "", collection = ""] = k.split("\u0000");
        const def = ch.pvt.collections.collection(namespace, collection);
        return {
          namespace,
          collection,
          status: "transient",
          eligible: eligibleFor(def),
          blockToLive: def === undefined ? null : def.blockToLive.toString(),
          expiresAtBlock: null,
          expectedHash: null,
          hash: toHex(sha256(data)),
          ...(values ? { writes: writesOf(data) } : {}),
        };
      });
      return { channel, ...heights(ch), txs: [{ txId, block: null, txIndex: null, valid: null, collections }] };
    },

    async block(channel, n, values) {
      const { ch, index } = await open(channel);
      if (n < 0n || n >= ch.ledger.height()) throw new PvtViewError("NOT_FOUND", `channel ${channel}: block ${n} is not committed (height ${ch.ledger.height()})`);
      return { channel, ...heights(ch), txs: await viewOfBlock(ch, index, n, undefined, values) };
    },

    async summary(channel) {
      const { ch, index } = await open(channel);
      const pvtHeight = ch.pvt.pvtStore.lastCommittedBlockHeight();
      const sums = new Map<string, PvtCollectionSummary>();
      const sumOf = (namespace: string, collection: string): PvtCollectionSummary => {
        const k = `${namespace}\u0000${collection}`;
        let s = sums.get(k);
        if (s === undefined) {
          const def = ch.pvt.collections.collection(namespace, collection);
          s = {
            namespace,
            collection,
            memberOrgs: def === undefined ? null : [...def.memberOrgs],
            blockToLive: def === undefined ? null : def.blockToLive.toString(),
            eligible: eligibleFor(def),
            committed: 0,
            missingEligible: 0,
            missingIneligible: 0,
            purged: 0,
            absent: 0,
            transient: 0,
            purgedSinceOpen: { held: 0, missingEligible: 0, missingIneligible: 0 },
          };
          sums.set(k, s);
        }
        return s;
      };
      // Every explicit collection of every chaincode the peer knows, even before any write (implicit ones once used).
      for (const cc of ch.pvt.collections.chaincodes()) {
        for (const def of ch.pvt.collections.collections(cc)) if (!def.name.startsWith(IMPLICIT_COLLECTION_PREFIX)) sumOf(cc, def.name);
      }
      for (const txId of ch.pvt.transientStore.txIds()) {
        for (const k of (await transientOf(ch.pvt, txId)).keys()) {
          const [ns = "", coll = ""] = k.split("\u0000");
          sumOf(ns, coll).transient++;
        }
      }
      for (const [blockNum, rows] of index.byBlock) {
        const record = ch.pvt.pvtStore.blockRecord(blockNum);
        for (const r of rows) {
          const s = sumOf(r.namespace, r.collection);
          const def = ch.pvt.collections.collection(r.namespace, r.collection);
          const cl = blockNum < pvtHeight ? classify(r, blockNum, record, pvtHeight, def, false) : { status: "absent" as const };
          if (cl.status === "held") s.committed++;
          else if (cl.status === "missing") {
            if (cl.missingEligible === true) s.missingEligible++;
            else s.missingIneligible++;
          } else if (cl.status === "purged") s.purged++;
          else s.absent++;
        }
      }
      for (const t of ch.pvt.pvtStore.purgedSinceOpen()) {
        sumOf(t.namespace, t.collection).purgedSinceOpen = { held: t.held, missingEligible: t.missingEligible, missingIneligible: t.missingIneligible };
      }
      const collections = [...sums.values()].sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : 0));
      return { channel, mspId: c.localMspId ?? null, ...heights(ch), collections };
    },
  };
}
