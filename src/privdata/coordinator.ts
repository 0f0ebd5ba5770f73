import type { SignedData } from "../channelconfig/index.js";
import type { Logger } from "../logging/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import type { PvtDataDigest, PvtDataPayload } from "../protos/gen/gossip/message.pb.js";
import { type NsPvtReadWriteSet, TxPvtReadWriteSet, TxReadWriteSet_DataModel } from "../protos/gen/ledger/rwset/rwset.pb.js";
import { SerializedIdentity } from "../protos/gen/msp/identities.pb.js";
import { type Clock, errorMessage } from "../util/index.js";
import type { CollectionStore } from "./collection-store.js";
import type { CollectionDefinition } from "./collections.js";
import { PvtDataCommitError } from "./coordinator-errors.js";
import type { CollectionAccess } from "./eligibility.js";
import type { FetchedPvtData, PvtDataFetcher, PvtDataWanted } from "./fetcher.js";
import { pvtRwsetHashMatches } from "./hashes.js";
import type { PrivdataMetrics } from "./metrics.js";
import type { MissingNsColl, PvtDataStore, TxPvtData } from "./pvt-store-interface.js";
import { privateDataNeeds } from "./transactions.js";
import { DEFAULT_TRANSIENTSTORE_MAX_BLOCK_RETENTION, type TransientStore, transientPurgeHeight } from "./transient-store-interface.js";

/** Fabric's `pullRetrySleepInterval` (coordinator.go): the pause between two remote fetches of one block's data. */
export const PULL_RETRY_SLEEP_MS = 1_000;
/** `peer.gossip.pvtData.pullRetryThreshold` in Fabric's sample core.yaml: 60 s. */
export const DEFAULT_PULL_RETRY_THRESHOLD_MS = 60_000;

/** Plain-data options of a coordinator (Fabric's `CoordinatorConfig`). */
export interface CoordinatorOptions {
  /** How long a block waits for private data from other peers before it commits without it. Default 60 s; 0: no remote pull. */
  pullRetryThresholdMs?: number;
  /** `transientstoreMaxBlockRetention`: the transient store is purged below `blockNum - this` at multiples of it. Default 1000. */
  transientBlockRetention?: bigint;
  /** `skipPullingInvalidTransactionsDuringCommit`: data of invalid transactions is not pulled at commit. Default false. */
  skipPullingInvalidTransactionsDuringCommit?: boolean;
}

/** What the coordinator of one channel is built from. */
export interface CoordinatorComponents {
  channel: string;
  collections: CollectionStore;
  /**
   * The collection's access policy compiled with the channel's MSPs in force, or undefined when it cannot be
   * (the channel has no MSPs, or the policy does not compile). Without one, a peer counts as eligible when its
   * MSP ID is a member org, and a requester never is.
   */
  accessOf(collection: CollectionDefinition): CollectionAccess | undefined;
  /** The peer's MSP ID (Fabric's `mspID` of the coordinator). */
  localMspId: string | undefined;
  /** The peer's signature over 32 zero bytes (Fabric's `selfSignedData`), for collections whose filter is not by org. */
  selfSignedData: SignedData | undefined;
  transientStore: TransientStore;
  pvtStore: PvtDataStore;
  /** Asks other peers for private data (the puller). */
  fetcher: PvtDataFetcher;
  /** Appends the block to the channel's block store (after its private data is in the private data store). */
  appendBlock(block: Block): Promise<void>;
  /** The channel's application capability `StorePvtDataOfInvalidTx` (V1_4_2, V2_0, V2_5). */
  storePvtDataOfInvalidTx(): boolean;
  clock: Clock;
  logger: Logger;
  metrics: PrivdataMetrics;
}

/** Where one block's private data came from and what it lacks (Fabric's `fetchStats` and missing lists). */
export interface StoreBlockResult {
  readonly blockNumber: bigint;
  readonly fromCache: number;
  readonly fromTransientStore: number;
  readonly fromPeers: number;
  /** Eligible write sets committed as missing (prioritized for reconciliation), hash mismatches included. */
  readonly missingEligible: number;
  /** Write sets of collections the peer is not eligible for, recorded as ineligible missing. */
  readonly missingIneligible: number;
  /** Write sets every candidate peer had already purged: committed without them and without a marker. */
  readonly purged: number;
  /** The private data store had the block's data already (a restart after a crash between the two writes). */
  readonly pvtDataAlreadyStored: boolean;
}

/**
 * Fabric's `privdata.coordinator` with its `PvtdataProvider` for one channel: commits a verified block with
 * the private data it needs, taken from the data that came with the block (state transfer), the transient
 * store (data pushed at endorsement) or other peers, each checked against the block's `pvt_rwset_hash`.
 */
export interface PvtDataCoordinator {
  /**
   * Fabric's `StoreBlock`: computes what the block's transactions need (valid ones only unless the channel
   * stores private data of invalid transactions; only collections this peer is eligible for), fills it from
   * `cache`, the transient store, then other peers every second until `pullRetryThresholdMs` has passed, then
   * commits the data and missing markers to the private data store and the block to the block store. A hash
   * mismatch in the cache or from a peer is "missing, reconcile later" (v2.5). Afterwards the transient
   * store is purged in the background. `flags` are the transactions' validation codes (default: the block's
   * TRANSACTIONS_FILTER; absent: all valid).
   * @throws PvtDataCommitError STOPPED (stopped while waiting), BAD_BLOCK, COMMIT_FAILED.
   */
  storeBlock(block: Block, cache?: readonly PvtDataPayload[], flags?: Uint8Array): Promise<StoreBlockResult>;
  /**
   * Commits a block's private data alone, from the transient store and as missing markers, for a block the
   * block store already holds (the private data store is behind after it was lost or restored). No remote
   * pull: the reconciler fetches what is missing.
   */
  commitPvtDataOnly(block: Block, flags?: Uint8Array): Promise<StoreBlockResult>;
  /**
   * Fabric's `GetPvtDataAndBlockByNum` filtering: block `seqNum`'s private write sets whose collection's access
   * filter (the config in force) accepts `requester` (its handshake signed data). Nothing without signed data.
   */
  pvtDataFor(seqNum: bigint, requester: SignedData | undefined): Promise<PvtDataPayload[]>;
  /** Resolves when the background purges started so far have finished. */
  idle(): Promise<void>;
  /** Aborts a block waiting for remote data (its storeBlock rejects with STOPPED) and waits for purges. */
  stop(): Promise<void>;
}

/** One (transaction, namespace, collection) of the block: Fabric's `rwSetKey`. */
interface WantedKey {
  readonly txId: string;
  readonly seqInBlock: number;
  readonly namespace: string;
  readonly collection: string;
  readonly expectedHash: Uint8Array;
  readonly invalid: boolean;
  /** Serialized identities of the endorsers of the collection's member orgs (Fabric's `endorsersFromEligibleOrgs`). */
  readonly endorsers: readonly Uint8Array[];
}

const keyOf = (seqInBlock: number, namespace: string, collection: string): string => `${seqInBlock}\u0000${namespace}\u0000${collection}`;

function mspIdOf(identity: Uint8Array): string | undefined {
  try {
    return SerializedIdentity.decode(identity).mspid;
  } catch {
    return undefined;
  }
}

/** What `retrieve` found for one block. */
interface Retrieved {
  data: Map<string, { key: WantedKey; rwset: Uint8Array }>;
  missingEligible: Map<string, WantedKey>;
  ineligible: Map<string, { seqInBlock: number; namespace: string; collection: string }>;
  txIds: string[];
  fromCache: number;
  fromTransientStore: number;
  fromPeers: number;
  purged: number;
}

/** Creates the coordinator of one channel. */
export function createPvtDataCoordinator(c: CoordinatorComponents, options: CoordinatorOptions = {}): PvtDataCoordinator {
  const channel = c.channel;
  const label = { channel };
  const log = c.logger.child("gossip.privdata", { channel });
  const pullRetryThresholdMs = options.pullRetryThresholdMs ?? DEFAULT_PULL_RETRY_THRESHOLD_MS;
  const retention = options.transientBlockRetention ?? DEFAULT_TRANSIENTSTORE_MAX_BLOCK_RETENTION;
  const skipInvalid = options.skipPullingInvalidTransactionsDuringCommit ?? false;
  const abort = new AbortController();
  const purges = new Set<Promise<void>>();
  const seconds = (since: number): number => (c.clock.monotonic() - since) / 1000;

  /** Fabric's eligibility: our MSP is a member org, or the collection's access filter accepts our self-signed data. */
  const eligible = (def: CollectionDefinition): boolean => {
    const access = c.accessOf(def);
    const mspId = c.localMspId;
    if (access === undefined) return mspId !== undefined && def.memberOrgs.includes(mspId);
    if (mspId !== undefined && access.isMemberOrg(mspId)) return true;
    return c.selfSignedData !== undefined && access.accessFilter(c.selfSignedData);
  };

  const stopped = (): PvtDataCommitError => new PvtDataCommitError("STOPPED", `channel ${channel}: the private data coordinator stopped while a block waited for its private data`);

  /** The fetch, abandoned (STOPPED) when the coordinator stops: the fetcher itself cannot be cancelled. */
  const fetchOrStop = (wanted: PvtDataWanted[]): Promise<FetchedPvtData> =>
    new Promise<FetchedPvtData>((resolve, reject) => {
      const onAbort = (): void => reject(stopped());
      if (abort.signal.aborted) {
        onAbort();
        return;
      }
      abort.signal.addEventListener("abort", onAbort, { once: true });
      c.fetcher.fetch(wanted, "commit").then(
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

  /** Fabric's `computeEligibility` over `privateDataNeeds`: eligible keys to retrieve and ineligible ones to record. */
  const listMissing = (block: Block, flags: Uint8Array | undefined, r: Retrieved): Map<string, WantedKey> => {
    const started = c.clock.monotonic();
    const needs = privateDataNeeds(block, flags);
    c.metrics.validationDuration.observe(label, seconds(started));
    const listStarted = c.clock.monotonic();
    // Debug only: a block of transactions that are not endorser transactions (test and simulator payloads) has many.
    for (const bad of needs.unreadable) log.debug("a transaction of the block cannot be read; it needs no private data", { block: needs.blockNumber.toString(), err: bad.message });
    const storeInvalid = c.storePvtDataOfInvalidTx();
    const wanted = new Map<string, WantedKey>();
    for (const tx of needs.txs) {
      r.txIds.push(tx.txId);
      if (tx.invalid && !storeInvalid) continue;
      for (const need of tx.collections) {
        const def = c.collections.collection(need.namespace, need.collection);
        if (def === undefined) {
          // Fabric fails the block here (its validator already refused such a transaction); we never halt the chain.
          log.warn("no collection config for a private write set of the block; it is neither fetched nor recorded as missing", {
            block: needs.blockNumber.toString(),
            txId: tx.txId,
            namespace: need.namespace,
            collection: need.collection,
          });
          continue;
        }
        const k = keyOf(tx.txIndex, need.namespace, need.collection);
        if (!eligible(def)) {
          r.ineligible.set(k, { seqInBlock: tx.txIndex, namespace: need.namespace, collection: need.collection });
          continue;
        }
        const endorsers = need.endorsers.map((e) => e.endorser).filter((id) => def.memberOrgs.includes(mspIdOf(id) ?? ""));
        wanted.set(k, { txId: tx.txId, seqInBlock: tx.txIndex, namespace: need.namespace, collection: need.collection, expectedHash: need.expectedHash, invalid: tx.invalid, endorsers });
      }
    }
    c.metrics.listMissingDuration.observe(label, seconds(listStarted));
    return wanted;
  };

  /** Fabric's `populateFromCache`: data that came with the block; a hash mismatch is "reconcile later". */
  const fromCache = (cache: readonly PvtDataPayload[], remaining: Map<string, WantedKey>, r: Retrieved): void => {
    for (const p of cache) {
      let ws: TxPvtReadWriteSet;
      try {
        ws = TxPvtReadWriteSet.decode(p.payload);
      } catch (err) {
        log.warn("private data that came with the block does not decode; ignoring it", { seqInBlock: p.txSeqInBlock.toString(), err: errorMessage(err) });
        continue;
      }
      const seq = Number(p.txSeqInBlock);
      for (const ns of ws.nsPvtRwset) {
        for (const col of ns.collectionPvtRwset) {
          const k = keyOf(seq, ns.namespace, col.collectionName);
          const key = remaining.get(k);
          if (key === undefined) {
            log.debug("extra private data came with the block; skipping it", { seqInBlock: seq, namespace: ns.namespace, collection: col.collectionName });
            continue;
          }
          remaining.delete(k);
          if (pvtRwsetHashMatches(col.rwset, key.expectedHash)) {
            r.data.set(k, { key, rwset: col.rwset });
            r.fromCache++;
          } else {
            // v2.5: the sender may have purged part of it or started from a snapshot; reconciled later.
            r.missingEligible.set(k, key);
          }
        }
      }
    }
  };

  /** Fabric's `populateFromTransientStore`: only data whose hash matches is taken. */
  const fromTransientStore = async (remaining: Map<string, WantedKey>, r: Retrieved): Promise<void> => {
    const byTx = new Map<string, Record<string, string[]>>();
    for (const key of remaining.values()) {
      const filter = byTx.get(key.txId) ?? {};
      const colls = filter[key.namespace] ?? [];
      colls.push(key.collection);
      filter[key.namespace] = colls;
      byTx.set(key.txId, filter);
    }
    for (const [txId, colls] of byTx) {
      let entries: Awaited<ReturnType<TransientStore["getTxPvtRWSetByTxid"]>>;
      try {
        const wantedColls = new Map(Object.entries(colls).map(([ns, cs]) => [ns, new Set(cs)]));
        entries = await c.transientStore.getTxPvtRWSetByTxid(txId, { has: (ns, coll) => wantedColls.get(ns)?.has(coll) ?? false });
      } catch (err) {
        log.warn("cannot read the transient store", { txId, err: errorMessage(err) });
        return;
      }
      for (const e of entries) {
        for (const ns of e.pvtSimulationResultsWithConfig.pvtRwset?.nsPvtRwset ?? []) {
          for (const col of ns.collectionPvtRwset) {
            for (const [k, key] of remaining) {
              if (key.txId !== txId || key.namespace !== ns.namespace || key.collection !== col.collectionName) continue;
              if (!pvtRwsetHashMatches(col.rwset, key.expectedHash)) continue;
              remaining.delete(k);
              r.data.set(k, { key, rwset: col.rwset });
              r.fromTransientStore++;
            }
          }
        }
      }
    }
  };

  /** Fabric's `populateFromRemotePeers`; true when another round may help. */
  const fromPeers = async (blockNumber: bigint, remaining: Map<string, WantedKey>, r: Retrieved): Promise<boolean> => {
    const wanted: PvtDataWanted[] = [];
    let skipped = 0;
    for (const key of remaining.values()) {
      if (key.invalid && skipInvalid) {
        skipped++;
        continue;
      }
      const digest: PvtDataDigest = { txId: key.txId, namespace: key.namespace, collection: key.collection, blockSeq: blockNumber, seqInBlock: BigInt(key.seqInBlock) };
      wanted.push({ digest, endorsers: key.endorsers });
    }
    if (wanted.length === 0) return false;
    let fetched: FetchedPvtData;
    try {
      fetched = await fetchOrStop(wanted);
    } catch (err) {
      if (abort.signal.aborted) throw stopped();
      log.warn("fetching private data from other peers failed", { block: blockNumber.toString(), err: errorMessage(err) });
      return true;
    }
    for (const el of fetched.available) {
      const k = keyOf(Number(el.digest.seqInBlock), el.digest.namespace, el.digest.collection);
      const key = remaining.get(k);
      if (key === undefined || key.txId !== el.digest.txId || el.digest.blockSeq !== blockNumber) continue;
      // Each payload item is a collection's KVRWSet bytes, as disseminated: its hash is the block's.
      for (const rws of el.payload) {
        if (!remaining.has(k)) break;
        remaining.delete(k);
        if (pvtRwsetHashMatches(rws, key.expectedHash)) {
          r.data.set(k, { key, rwset: rws });
          r.fromPeers++;
        } else {
          log.warn("private data from a peer does not match the block's hash; it is reconciled later", { block: blockNumber.toString(), txId: key.txId, collection: key.collection });
          r.missingEligible.set(k, key);
        }
      }
    }
    for (const d of fetched.purged) {
      const k = keyOf(Number(d.seqInBlock), d.namespace, d.collection);
      const key = remaining.get(k);
      if (key === undefined || key.txId !== d.txId) continue;
      remaining.delete(k);
      r.purged++;
      log.warn("private data was purged (or soon will be) by every peer that could serve it; the block commits without it", {
        block: blockNumber.toString(),
        txId: d.txId,
        namespace: d.namespace,
        collection: d.collection,
      });
    }
    return remaining.size > skipped;
  };

  const retrieve = async (block: Block, cache: readonly PvtDataPayload[], flags: Uint8Array | undefined, pull: boolean): Promise<Retrieved> => {
    const r: Retrieved = { data: new Map(), missingEligible: new Map(), ineligible: new Map(), txIds: [], fromCache: 0, fromTransientStore: 0, fromPeers: 0, purged: 0 };
    const blockNumber = block.header!.number;
    const remaining = listMissing(block, flags, r);
    const total = remaining.size;
    if (total === 0) return r;
    fromCache(cache, remaining, r);
    if (remaining.size > 0) await fromTransientStore(remaining, r);
    if (remaining.size > 0 && pull) {
      const started = c.clock.monotonic();
      log.debug("fetching private data from other peers", { block: blockNumber.toString(), missing: remaining.size, thresholdMs: pullRetryThresholdMs });
      while (remaining.size > 0 && c.clock.monotonic() - started < pullRetryThresholdMs) {
        if (!(await fromPeers(blockNumber, remaining, r))) break;
        try {
          await c.clock.sleep(PULL_RETRY_SLEEP_MS, abort.signal);
        } catch {
          throw stopped();
        }
      }
      c.metrics.fetchDuration.observe(label, seconds(started));
    }
    for (const [k, key] of remaining) r.missingEligible.set(k, key);
    const fields = {
      block: blockNumber.toString(),
      fromCache: r.fromCache,
      fromTransientStore: r.fromTransientStore,
      fromPeers: r.fromPeers,
      total,
    };
    if (remaining.size === 0) log.info("fetched (or marked to reconcile later) every eligible private write set of the block", fields);
    else log.warn("could not fetch every eligible private write set of the block; it commits with them missing", { ...fields, missing: remaining.size });
    return r;
  };

  /** Fabric's `prepareBlockPvtdata`: the data by transaction (namespaces and collections sorted) and the missing markers. */
  const prepare = (r: Retrieved): { data: TxPvtData[]; missing: Map<number, MissingNsColl[]> } => {
    const byTx = new Map<number, Map<string, NsPvtReadWriteSet>>();
    const items = [...r.data.values()].sort(
      (a, b) => a.key.seqInBlock - b.key.seqInBlock || cmp(a.key.namespace, b.key.namespace) || cmp(a.key.collection, b.key.collection),
    );
    for (const { key, rwset } of items) {
      const nss = byTx.get(key.seqInBlock) ?? new Map<string, NsPvtReadWriteSet>();
      byTx.set(key.seqInBlock, nss);
      const ns = nss.get(key.namespace) ?? { namespace: key.namespace, collectionPvtRwset: [] };
      nss.set(key.namespace, ns);
      ns.collectionPvtRwset.push({ collectionName: key.collection, rwset });
    }
    const data: TxPvtData[] = [...byTx].map(([seqInBlock, nss]) => ({ seqInBlock, writeSet: { dataModel: TxReadWriteSet_DataModel.KV, nsPvtRwset: [...nss.values()] } }));
    const missing = new Map<number, MissingNsColl[]>();
    const add = (seq: number, namespace: string, collection: string, isEligible: boolean): void => {
      const l = missing.get(seq) ?? [];
      l.push({ namespace, collection, isEligible });
      missing.set(seq, l);
    };
    for (const k of r.missingEligible.values()) add(k.seqInBlock, k.namespace, k.collection, true);
    for (const k of r.ineligible.values()) add(k.seqInBlock, k.namespace, k.collection, false);
    return { data, missing };
  };

  /** Fabric's `RetrievedPvtdata.Purge`, in the background: by the block's tx IDs when it had data, and below height at multiples of the retention. */
  const purgeLater = (blockNumber: bigint, txIds: string[], hadData: boolean): void => {
    const task = (async () => {
      const started = c.clock.monotonic();
      try {
        if (hadData && txIds.length > 0) await c.transientStore.purgeByTxids(txIds);
        const below = transientPurgeHeight(blockNumber, retention);
        if (below !== undefined) await c.transientStore.purgeBelowHeight(below);
      } catch (err) {
        log.error("purging the transient store failed", { block: blockNumber.toString(), err: errorMessage(err) });
      }
      c.metrics.purgeDuration.observe(label, seconds(started));
    })();
    purges.add(task);
    void task.then(() => purges.delete(task));
  };

  const checkBlock = (block: Block): bigint => {
    if (block.header === undefined) throw new PvtDataCommitError("BAD_BLOCK", `channel ${channel}: the block has no header`);
    if (block.data === undefined) throw new PvtDataCommitError("BAD_BLOCK", `channel ${channel}: block [${block.header.number}] has no data`);
    return block.header.number;
  };

  const resultOf = (blockNumber: bigint, r: Retrieved, already: boolean): StoreBlockResult => ({
    blockNumber,
    fromCache: r.fromCache,
    fromTransientStore: r.fromTransientStore,
    fromPeers: r.fromPeers,
    missingEligible: r.missingEligible.size,
    missingIneligible: r.ineligible.size,
    purged: r.purged,
    pvtDataAlreadyStored: already,
  });

  const commitPvt = async (blockNumber: bigint, data: TxPvtData[], missing: Map<number, MissingNsColl[]>): Promise<void> => {
    try {
      await c.pvtStore.commit(blockNumber, data, missing);
    } catch (err) {
      throw new PvtDataCommitError("COMMIT_FAILED", `channel ${channel}: the private data store refused block [${blockNumber}]: ${errorMessage(err)}`, { cause: err });
    }
  };

  return {
    async storeBlock(block, cache = [], flags) {
      const blockNumber = checkBlock(block);
      if (abort.signal.aborted) throw stopped();
      const pvtHeight = c.pvtStore.lastCommittedBlockHeight();
      if (pvtHeight > blockNumber) {
        // Fabric's DoesPvtDataInfoExistInLedger: the crash came between the two writes; only the block is appended.
        const started = c.clock.monotonic();
        await appendOrFail(block, blockNumber);
        c.metrics.commitBlockDuration.observe(label, seconds(started));
        return resultOf(blockNumber, emptyRetrieved(), true);
      }
      if (pvtHeight < blockNumber) {
        throw new PvtDataCommitError("COMMIT_FAILED", `channel ${channel}: the private data store is at height ${pvtHeight}, behind block [${blockNumber}]; it must be filled first`);
      }
      const r = await retrieve(block, cache, flags, true);
      const { data, missing } = prepare(r);
      const started = c.clock.monotonic();
      await commitPvt(blockNumber, data, missing);
      await appendOrFail(block, blockNumber);
      c.metrics.commitBlockDuration.observe(label, seconds(started));
      purgeLater(blockNumber, r.txIds, data.length > 0);
      return resultOf(blockNumber, r, false);
    },

    async commitPvtDataOnly(block, flags) {
      const blockNumber = checkBlock(block);
      const r = await retrieve(block, [], flags, false);
      const { data, missing } = prepare(r);
      await commitPvt(blockNumber, data, missing);
      return resultOf(blockNumber, r, false);
    },

    async pvtDataFor(seqNum, requester) {
      if (requester === undefined || seqNum >= c.pvtStore.lastCommittedBlockHeight()) return [];
      const stored = await c.pvtStore.getPvtDataByBlockNum(seqNum);
      const out: PvtDataPayload[] = [];
      for (const tx of stored) {
        const nsPvtRwset: NsPvtReadWriteSet[] = [];
        for (const ns of tx.writeSet.nsPvtRwset) {
          const collectionPvtRwset = ns.collectionPvtRwset.filter((col) => {
            const def = c.collections.collection(ns.namespace, col.collectionName);
            const access = def === undefined ? undefined : c.accessOf(def);
            return access?.accessFilter(requester) === true;
          });
          if (collectionPvtRwset.length > 0) nsPvtRwset.push({ namespace: ns.namespace, collectionPvtRwset });
        }
        if (nsPvtRwset.length === 0) continue;
        out.push({ txSeqInBlock: BigInt(tx.seqInBlock), payload: TxPvtReadWriteSet.encode({ dataModel: tx.writeSet.dataModel, nsPvtRwset }).finish() });
      }
      return out;
    },

    async idle() {
      while (purges.size > 0) await Promise.all([...purges]);
    },

    async stop() {
      abort.abort();
      while (purges.size > 0) await Promise.all([...purges]);
    },
  };

  async function appendOrFail(block: Block, blockNumber: bigint): Promise<void> {
    try {
      await c.appendBlock(block);
    } catch (err) {
      throw new PvtDataCommitError("COMMIT_FAILED", `channel ${channel}: the block store refused block [${blockNumber}]: ${errorMessage(err)}`, { cause: err });
    }
  }
}

function emptyRetrieved(): Retrieved {
  return { data: new Map(), missingEligible: new Map(), ineligible: new Map(), txIds: [], fromCache: 0, fromTransientStore: 0, fromPeers: 0, purged: 0 };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
