import type { Logger } from "../logging/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { TxReadWriteSet_DataModel } from "../protos/gen/ledger/rwset/rwset.pb.js";
import { type Clock, errorMessage, type TimerHandle } from "../util/index.js";
import type { CollectionStore } from "./collection-store.js";
import { PvtDataCommitError } from "./coordinator-errors.js";
import type { FetchedPvtData, PvtDataFetcher, PvtDataWanted } from "./fetcher.js";
import { pvtRwsetHashMatches } from "./hashes.js";
import type { PrivdataMetrics } from "./metrics.js";
import type { MissingPvtDataInfo, PvtDataStore, TxPvtData } from "./pvt-store-interface.js";
import { privateDataNeeds } from "./transactions.js";

/** `peer.gossip.pvtData.reconcileSleepInterval` default: 1 minute. */
export const DEFAULT_RECONCILE_SLEEP_INTERVAL_MS = 60_000;
/** `peer.gossip.pvtData.reconcileBatchSize` default: 10 blocks per batch. */
export const DEFAULT_RECONCILE_BATCH_SIZE = 10;

/** Plain-data options of a reconciler (Fabric's `PrivdataConfig`, the reconciliation part). */
export interface ReconcilerOptions {
  /** Pause between two reconciliation cycles. Default 1 min. */
  reconcileSleepIntervalMs?: number;
  /** Blocks with missing data asked of the private data store per batch. Default 10. */
  reconcileBatchSize?: number;
  /** `reconciliationEnabled`: false makes start() do nothing (Fabric's NoOpReconciler). Default true. */
  reconciliationEnabled?: boolean;
}

export interface ReconcilerComponents {
  channel: string;
  pvtStore: PvtDataStore;
  collections: CollectionStore;
  fetcher: PvtDataFetcher;
  /** A committed block of the channel, whose `pvt_rwset_hash`es the fetched data must match. */
  getBlock(blockNumber: bigint): Promise<Block>;
  clock: Clock;
  logger: Logger;
  metrics: PrivdataMetrics;
}

/** What one reconciliation cycle did. */
export interface ReconcileResult {
  /** Collection write sets committed to the private data store. */
  readonly reconciled: number;
  /** Asked for and not obtained (or not matching the block's hash): moved to the deprioritized list. */
  readonly unreconciled: number;
  /** Lowest and highest block with reconciled data, when any. */
  readonly minBlock: bigint | undefined;
  readonly maxBlock: bigint | undefined;
}

/**
 * Fabric's `privdata.Reconciler` for one channel: every `reconcileSleepIntervalMs`, asks the private data
 * store for the missing data of its most recent blocks (`reconcileBatchSize` blocks per batch), fetches it
 * from other peers, keeps what matches the blocks' hashes and commits it (`commitPvtDataOfOldBlocks`),
 * batch after batch until nothing is left. Any error ends the cycle.
 */
export interface PvtDataReconciler {
  /** Schedules the cycles (nothing when reconciliation is disabled). Idempotent. */
  start(): void;
  /** Cancels the timer and abandons a cycle in flight; resolves once nothing runs. Idempotent. */
  stop(): Promise<void>;
  /**
   * One cycle now (what the timer runs). Rejects with the error that ended it (PvtDataCommitError
   * COMMIT_FAILED for a refused commit, STOPPED when stopped meanwhile, or the store's error).
   */
  reconcile(): Promise<ReconcileResult>;
}

const digestKey = (block: bigint, seq: bigint | number, ns: string, coll: string): string => `${block}\u0000${seq}\u0000${ns}\u0000${coll}`;

/**
 * Cycles in a row a missing item is asked for in vain before it goes to the deprioritized list. Ours: Fabric
 * deprioritizes after one, so data no eligible peer held yet at that moment (the others were reconciling it too)
 * waited the deprioritized interval (60 min) though holders came up a cycle later.
 */
const FAILED_CYCLES_BEFORE_DEPRIORITIZING = 3;
/** Items whose failures are remembered at most (the rest start counting again). */
const MAX_TRACKED_FAILURES = 100_000;

/** Creates the reconciler of one channel. */
export function createPvtDataReconciler(c: ReconcilerComponents, options: ReconcilerOptions = {}): PvtDataReconciler {
  const label = { channel: c.channel };
  const log = c.logger.child("gossip.privdata", { channel: c.channel });
  const interval = options.reconcileSleepIntervalMs ?? DEFAULT_RECONCILE_SLEEP_INTERVAL_MS;
  const batchSize = options.reconcileBatchSize ?? DEFAULT_RECONCILE_BATCH_SIZE;
  const enabled = options.reconciliationEnabled ?? true;
  const abort = new AbortController();
  let timer: TimerHandle | undefined;
  let running: Promise<unknown> | undefined;
  let started = false;
  /** Failed cycles in a row per missing item not yet deprioritized. */
  const failures = new Map<string, number>();

  const stopped = (): PvtDataCommitError => new PvtDataCommitError("STOPPED", `channel ${c.channel}: the reconciler stopped`);

  const fetchOrStop = (wanted: PvtDataWanted[]): Promise<FetchedPvtData> =>
    new Promise<FetchedPvtData>((resolve, reject) => {
      const onAbort = (): void => reject(stopped());
      if (abort.signal.aborted) {
        onAbort();
        return;
      }
      abort.signal.addEventListener("abort", onAbort, { once: true });
      c.fetcher.fetch(wanted, "reconcile").then(
        (r) => {
          abort.signal.removeEventListener("abort", onAbort);
          resolve(r);
        },
        (err: unknown) => {
          abort.signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      );
    });

  /** Expected hashes of a block's private write sets, by block/tx/namespace/collection. */
  const expectedHashes = async (blockNumber: bigint, into: Map<string, Uint8Array>): Promise<void> => {
    const needs = privateDataNeeds(await c.getBlock(blockNumber));
    for (const tx of needs.txs) for (const n of tx.collections) into.set(digestKey(blockNumber, tx.txIndex, n.namespace, n.collection), n.expectedHash);
  };

  /** One batch; false when the store had nothing left. */
  const batch = async (totals: { reconciled: number; unreconciled: number; min?: bigint; max?: bigint }, previous: { sig: string }): Promise<boolean> => {
    const info = await c.pvtStore.getMissingPvtDataInfoForMostRecentBlocks(batchSize);
    if (info.size === 0) return false;
    const sig = JSON.stringify([...info].map(([b, txs]) => [b.toString(), [...txs].map(([t, l]) => [t, l.map((x) => `${x.namespace}/${x.collection}`)])]));
    if (sig === previous.sig) {
      // The store returned the same keys after they were committed or deprioritized: never loop on them.
      log.warn("the private data store returned the same missing data twice; ending the reconciliation cycle");
      return false;
    }
    previous.sig = sig;
    const wanted: PvtDataWanted[] = [];
    const unreconciled: MissingPvtDataInfo = new Map();
    const markUnreconciled = (block: bigint, tx: number, namespace: string, collection: string): void => {
      const byTx = unreconciled.get(block) ?? new Map<number, { namespace: string; collection: string }[]>();
      unreconciled.set(block, byTx);
      const l = byTx.get(tx) ?? [];
      l.push({ namespace, collection });
      byTx.set(tx, l);
    };
    const asked = new Map<string, { block: bigint; tx: number; namespace: string; collection: string }>();
    for (const [block, byTx] of info) {
      for (const [tx, colls] of byTx) {
        for (const { namespace, collection } of colls) {
          if (c.collections.collectionBelow(namespace, collection, block) === undefined) {
            // Fabric skips a key without a config and would ask for it again at once; it is deprioritized here.
            log.debug("no collection config below the block for missing data; deprioritizing it", { block: block.toString(), namespace, collection });
            markUnreconciled(block, tx, namespace, collection);
            continue;
          }
          asked.set(digestKey(block, tx, namespace, collection), { block, tx, namespace, collection });
          wanted.push({ digest: { txId: "", namespace, collection, blockSeq: block, seqInBlock: BigInt(tx) }, endorsers: [] });
        }
      }
    }
    const fetched = wanted.length === 0 ? { available: [], purged: [] } : await fetchOrStop(wanted);
    const hashes = new Map<string, Uint8Array>();
    for (const block of new Set(fetched.available.map((e) => e.digest.blockSeq))) {
      if (!info.has(block)) continue;
      await expectedHashes(block, hashes);
    }
    const byBlock = new Map<bigint, Map<number, TxPvtData>>();
    const got = new Set<string>();
    for (const el of fetched.available) {
      const d = el.digest;
      const k = digestKey(d.blockSeq, d.seqInBlock, d.namespace, d.collection);
      if (!asked.has(k) || got.has(k)) continue;
      const expected = hashes.get(k);
      const rws = el.payload.find((p) => expected !== undefined && pvtRwsetHashMatches(p, expected));
      if (rws === undefined) {
        log.warn("reconciled private data does not match the block's hash", { block: d.blockSeq.toString(), seqInBlock: d.seqInBlock.toString(), namespace: d.namespace, collection: d.collection });
        continue;
      }
      got.add(k);
      const txs = byBlock.get(d.blockSeq) ?? new Map<number, TxPvtData>();
      byBlock.set(d.blockSeq, txs);
      const seq = Number(d.seqInBlock);
      const tx = txs.get(seq) ?? { seqInBlock: seq, writeSet: { dataModel: TxReadWriteSet_DataModel.KV, nsPvtRwset: [] } };
      txs.set(seq, tx);
      let ns = tx.writeSet.nsPvtRwset.find((n) => n.namespace === d.namespace);
      if (ns === undefined) {
        ns = { namespace: d.namespace, collectionPvtRwset: [] };
        tx.writeSet.nsPvtRwset.push(ns);
      }
      ns.collectionPvtRwset.push({ collectionName: d.collection, rwset: rws });
    }
    let retained = 0;
    for (const [k, a] of asked) {
      if (got.has(k)) {
        failures.delete(k);
        continue;
      }
      const n = (failures.get(k) ?? 0) + 1;
      if (n >= FAILED_CYCLES_BEFORE_DEPRIORITIZING) {
        failures.delete(k);
        markUnreconciled(a.block, a.tx, a.namespace, a.collection);
      } else {
        if (failures.size >= MAX_TRACKED_FAILURES) failures.clear();
        failures.set(k, n);
        retained++;
      }
    }
    const toCommit = new Map<bigint, TxPvtData[]>([...byBlock].map(([b, txs]) => [b, [...txs.values()]]));
    try {
      await c.pvtStore.commitPvtDataOfOldBlocks(toCommit, unreconciled);
    } catch (err) {
      throw new PvtDataCommitError("COMMIT_FAILED", `channel ${c.channel}: failed to commit reconciled private data: ${errorMessage(err)}`, { cause: err });
    }
    totals.reconciled += got.size;
    totals.unreconciled += [...unreconciled.values()].reduce((n, byTx) => n + [...byTx.values()].reduce((m, l) => m + l.length, 0), 0);
    for (const b of byBlock.keys()) {
      if (totals.min === undefined || b < totals.min) totals.min = b;
      if (totals.max === undefined || b > totals.max) totals.max = b;
    }
    // Items kept for another try come back from the store at once: the next cycle asks again.
    return retained === 0;
  };

  const cycle = async (): Promise<ReconcileResult> => {
    const t0 = c.clock.monotonic();
    const totals: { reconciled: number; unreconciled: number; min?: bigint; max?: bigint } = { reconciled: 0, unreconciled: 0 };
    try {
      const previous = { sig: "" };
      while (await batch(totals, previous)) {
        if (abort.signal.aborted) throw stopped();
      }
    } finally {
      c.metrics.reconciliationDuration.observe(label, (c.clock.monotonic() - t0) / 1000);
    }
    if (totals.reconciled > 0) {
      log.info("reconciliation cycle finished", { reconciled: totals.reconciled, from: totals.min?.toString(), to: totals.max?.toString(), unreconciled: totals.unreconciled });
    } else log.debug("reconciliation cycle finished: nothing reconciled", { unreconciled: totals.unreconciled });
    return { reconciled: totals.reconciled, unreconciled: totals.unreconciled, minBlock: totals.min, maxBlock: totals.max };
  };

  const schedule = (): void => {
    if (abort.signal.aborted) return;
    timer = c.clock.setTimeout(() => {
      timer = undefined;
      const run = cycle()
        .catch((err: unknown) => {
          if (!abort.signal.aborted) log.error("failed to reconcile missing private data", { err: errorMessage(err) });
        })
        .finally(() => {
          running = undefined;
          schedule();
        });
      running = run;
    }, interval);
  };

  return {
    start() {
      if (started || !enabled || abort.signal.aborted) return;
      started = true;
      schedule();
    },
    async stop() {
      abort.abort();
      timer?.cancel();
      timer = undefined;
      while (running !== undefined) await running;
    },
    reconcile() {
      if (abort.signal.aborted) return Promise.reject(stopped());
      return cycle();
    },
  };
}
