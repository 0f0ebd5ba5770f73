import type { SignedData } from "../../../src/channelconfig/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import {
  type CollectionAccess,
  type CollectionDefinition,
  type CollectionStore,
  type CoordinatorOptions,
  createCollectionStore,
  createMemoryPvtDataStore,
  createMemoryTransientStore,
  createPrivdataMetrics,
  createPvtDataCoordinator,
  type FetchedPvtData,
  type PvtDataCoordinator,
  type PvtDataFetcher,
  type PvtDataStore,
  type PvtDataWanted,
  sha256,
  type TransientStore,
} from "../../../src/privdata/index.js";
import type { Block } from "../../../src/protos/gen/common/common.pb.js";
import { KVRWSet } from "../../../src/protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import { TxReadWriteSet_DataModel } from "../../../src/protos/gen/ledger/rwset/rwset.pb.js";
import { SerializedIdentity } from "../../../src/protos/gen/msp/identities.pb.js";
import type { TxPvtReadWriteSetWithConfigInfo } from "../../../src/protos/gen/transientstore/transientstore.pb.js";
import { ManualClock } from "../../../src/util/index.js";
import { endorserTx, syntheticBlock } from "./fixtures.js";

/** Fakes of the coordinator and reconciler tests: a chaincode `cc` with collections by org, blocks whose hashes match made-up write sets. */

export const CC = "cc";
/** collOrg1: Org1 only, forever. collBoth: both orgs, blockToLive 3. collOrg2: Org2 only. */
export const COLLECTIONS_JSON = JSON.stringify([
  { name: "collOrg1", policy: "OR('Org1MSP.member')", requiredPeerCount: 0, maxPeerCount: 1, blockToLive: 0, memberOnlyRead: true },
  { name: "collBoth", policy: "OR('Org1MSP.member','Org2MSP.member')", requiredPeerCount: 0, maxPeerCount: 2, blockToLive: 3, memberOnlyRead: true },
  { name: "collOrg2", policy: "OR('Org2MSP.member')", requiredPeerCount: 0, maxPeerCount: 1, blockToLive: 0, memberOnlyRead: true },
]);

/** A collection's private KVRWSet bytes, one write named after `tag`. */
export function kvBytes(tag: string): Uint8Array {
  return KVRWSet.encode({ reads: [], rangeQueriesInfo: [], writes: [{ key: `k-${tag}`, isDelete: false, value: Buffer.from(`v-${tag}`) }], metadataWrites: [] }).finish();
}

export const identity = (mspid: string): Uint8Array => SerializedIdentity.encode({ mspid, idBytes: Buffer.from(`cert of ${mspid}`) }).finish();

/** A transaction writing to the collections `colls` of `cc`, whose hashes are of `kvBytes(`${txId}/${coll}`)`. */
export function pvtTx(txId: string, colls: readonly string[]): Uint8Array {
  return endorserTx(txId, [{ namespace: CC, collections: colls.map((name) => ({ name, hashedWrites: 1, pvtRwsetHash: sha256(kvBytes(`${txId}/${name}`)) })) }]);
}

export function blockOf(number: bigint, envelopes: Uint8Array[], flags?: number[]): Block {
  return syntheticBlock(number, envelopes, flags);
}

/** An endorsement's private data as the transient store keeps it: `{coll: tag}` in `cc`. */
export function transientData(colls: Record<string, string>): TxPvtReadWriteSetWithConfigInfo {
  return {
    endorsedAt: 1n,
    pvtRwset: {
      dataModel: TxReadWriteSet_DataModel.KV,
      nsPvtRwset: [{ namespace: CC, collectionPvtRwset: Object.entries(colls).map(([collectionName, tag]) => ({ collectionName, rwset: kvBytes(tag) })) }],
    },
    collectionConfigs: {},
  };
}

/** A fetcher that records what it is asked and answers from `answer` (default: nothing). */
export class FakeFetcher implements PvtDataFetcher {
  readonly calls: { wanted: PvtDataWanted[]; mode: "commit" | "reconcile" }[] = [];
  answer: (wanted: readonly PvtDataWanted[], mode: "commit" | "reconcile") => FetchedPvtData | Promise<FetchedPvtData> = () => ({ available: [], purged: [] });

  fetch(wanted: readonly PvtDataWanted[], mode: "commit" | "reconcile"): Promise<FetchedPvtData> {
    this.calls.push({ wanted: [...wanted], mode });
    return Promise.resolve(this.answer(wanted, mode));
  }
}

/** Answers every wanted digest with `kvBytes(`${txId}/${coll}`)` (the right data) unless `override` says otherwise. */
export function honestAnswer(txIdOf: (seq: bigint, block: bigint) => string, override?: (w: PvtDataWanted) => Uint8Array | undefined) {
  return (wanted: readonly PvtDataWanted[]): FetchedPvtData => ({
    available: wanted.map((w) => ({
      digest: w.digest,
      payload: [override?.(w) ?? kvBytes(`${w.digest.txId === "" ? txIdOf(w.digest.seqInBlock, w.digest.blockSeq) : w.digest.txId}/${w.digest.collection}`)],
    })),
    purged: [],
  });
}

/** Access by MSP ID of the signed data's identity (no signature involved): enough for filtering tests. */
export function fakeAccess(def: CollectionDefinition): CollectionAccess {
  const members = new Set(def.memberOrgs);
  const mspOf = (id: Uint8Array): string => {
    try {
      return SerializedIdentity.decode(id).mspid;
    } catch {
      return "";
    }
  };
  return {
    collection: def,
    memberOrgs: members,
    accessFilter: (sd: SignedData) => members.has(mspOf(sd.identity)),
    isEligible: (id) => members.has(mspOf(id)),
    checkEligible: () => undefined,
    isMemberOrg: (m) => members.has(m),
  };
}

export interface Rig {
  clock: ManualClock;
  collections: CollectionStore;
  transient: TransientStore;
  pvt: PvtDataStore;
  fetcher: FakeFetcher;
  blocks: Block[];
  coordinator: PvtDataCoordinator;
  metrics: ReturnType<typeof memoryMetricsProvider>;
}

/** A coordinator of channel `ch` for an Org1 peer, with the genesis block committed. */
export async function rig(options: CoordinatorOptions = {}, more: { storeInvalid?: boolean; localMspId?: string } = {}): Promise<Rig> {
  const clock = new ManualClock(0);
  const collections = createCollectionStore({ channelId: "ch", applicationMspIds: () => ["Org1MSP", "Org2MSP"], localMspId: more.localMspId ?? "Org1MSP" });
  collections.setCollectionsFile(CC, COLLECTIONS_JSON);
  const transient = createMemoryTransientStore();
  const pvt = await createMemoryPvtDataStore({ btlPolicy: { blockToLive: (ns, coll) => collections.collection(ns, coll)?.blockToLive }, clock });
  const fetcher = new FakeFetcher();
  const blocks: Block[] = [];
  const metrics = memoryMetricsProvider();
  const coordinator = createPvtDataCoordinator(
    {
      channel: "ch",
      collections,
      accessOf: fakeAccess,
      localMspId: more.localMspId ?? "Org1MSP",
      selfSignedData: undefined,
      transientStore: transient,
      pvtStore: pvt,
      fetcher,
      appendBlock: async (b) => {
        if (b.header?.number !== BigInt(blocks.length)) throw new Error(`block ${b.header?.number} is not the next (${blocks.length})`);
        blocks.push(b);
      },
      storePvtDataOfInvalidTx: () => more.storeInvalid ?? false,
      clock,
      logger: silentLogger,
      metrics: createPrivdataMetrics(metrics),
    },
    options,
  );
  await coordinator.storeBlock(blockOf(0n, []));
  return { clock, collections, transient, pvt, fetcher, blocks, coordinator, metrics };
}

/** `blk tx ns/coll=tag` strings of what the private data store holds for a block. */
export async function stored(pvt: PvtDataStore, blockNum: bigint): Promise<string[]> {
  const data = await pvt.getPvtDataByBlockNum(blockNum);
  return data.flatMap((d) =>
    d.writeSet.nsPvtRwset.flatMap((ns) =>
      ns.collectionPvtRwset.map((c) => {
        const kv = KVRWSet.decode(c.rwset);
        return `${d.seqInBlock} ${ns.namespace}/${c.collectionName}=${kv.writes[0]?.key.slice(2) ?? "?"}`;
      }),
    ),
  );
}

/** The eligible missing markers as `blk:tx ns/coll` strings, newest block first. */
export async function missingEligible(pvt: PvtDataStore): Promise<string[]> {
  const info = await pvt.getMissingPvtDataInfoForMostRecentBlocks(1000);
  return [...info].flatMap(([b, txs]) => [...txs].flatMap(([tx, l]) => l.map((m) => `${b}:${tx} ${m.namespace}/${m.collection}`)));
}

export function missingIneligible(pvt: PvtDataStore): string[] {
  return [...pvt.getIneligibleMissingPvtDataInfo()].flatMap(([b, txs]) => [...txs].flatMap(([tx, l]) => l.map((m) => `${b}:${tx} ${m.namespace}/${m.collection}`)));
}
