import { join } from "node:path";
import type { IdentityDeserializer, SignedData } from "../channelconfig/index.js";
import type { Logger } from "../logging/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import type { PvtDataPayload } from "../protos/gen/gossip/message.pb.js";
import type { TxPvtReadWriteSetWithConfigInfo } from "../protos/gen/transientstore/transientstore.pb.js";
import { type Clock, errorMessage, type Random } from "../util/index.js";
import { type CollectionStore, createCollectionStore } from "./collection-store.js";
import { type CollectionDefinition, type ImplicitCollectionDisseminationPolicy, memberOrgsPolicyBytes } from "./collections.js";
import { type CoordinatorOptions, createPvtDataCoordinator, type PvtDataCoordinator, type StoreBlockResult } from "./coordinator.js";
import { createPvtDataResponder, type PvtDataResponder } from "./data-retriever.js";
import { createPvtDataDistributor, type PvtDataDistributor } from "./distributor.js";
import { type CollectionAccess, createCollectionAccess } from "./eligibility.js";
import type { PvtDataFetcher } from "./fetcher.js";
import type { PrivdataMetrics } from "./metrics.js";
import { createPvtDataPuller, type PvtDataPuller } from "./puller.js";
import { createPvtDataPushReceiver, type PvtDataPushReceiver } from "./push-receiver.js";
import { createMemoryPvtDataStore, openPvtDataStore } from "./pvt-store.js";
import { alignPvtStoreWithBlockStore, type StoreAlignment } from "./pvt-store-align.js";
import type { PvtDataStore } from "./pvt-store-interface.js";
import { createPvtDataReconciler, type PvtDataReconciler, type ReconcilerOptions } from "./reconciler.js";
import { transactionsFilter } from "./transactions.js";
import type { PvtDataGossip, PvtTransferComponents, VerifyByChannel } from "./transfer-common.js";
import { createMemoryTransientStore, openTransientStore } from "./transient-store.js";
import type { TransientStore } from "./transient-store-interface.js";

/** Application capabilities under which private data of invalid transactions is stored (Fabric's `StorePvtDataOfInvalidTx`). */
const STORE_INVALID_TX_CAPABILITIES = new Set(["V1_4_2", "V2_0", "V2_5"]);

/** The channel's block store as the handler uses it. */
export interface PvtDataHandlerLedger {
  height(): bigint;
  getBlock(n: bigint): Promise<Block>;
  /** Blocks `from` up to (not including) `to`, in order. */
  iterate(from: bigint, to?: bigint): AsyncIterable<Block>;
  append(block: Block): Promise<void>;
}

/** A chaincode's collections from a collections_config.json text (used while no definition is on the chain). */
export interface CollectionsFile {
  chaincode: string;
  /** The file's text. */
  json: string;
}

export interface PvtDataHandlerComponents {
  channel: string;
  ledger: PvtDataHandlerLedger;
  /** The channel's MSPs in the configuration in force (read at each use), or undefined when the channel has none. */
  msps(): IdentityDeserializer | undefined;
  /** The MSP IDs of the channel's application orgs in force (implicit collections). */
  applicationMspIds(): readonly string[];
  /** The channel's application capabilities in force (`V2_5`, ...). */
  applicationCapabilities(): readonly string[];
  localMspId: string | undefined;
  /** Our signature over 32 zero bytes (Fabric's `createSelfSignedData`). */
  selfSignedData: SignedData | undefined;
  /**
   * How private data moves between peers: with it (and the channel's MSPs), the handler runs Fabric's
   * distributor, push receiver, puller and pull responder over the gossip node. Absent: private data stays on
   * this peer (nothing is pushed, pulled or served; no reconciliation).
   */
  transfer?: PvtTransferWiring;
  /** A fetcher to use instead of the puller (tests). */
  fetcher?: PvtDataFetcher;
  /**
   * Fabric's `Validator.Validate` before the commit: returns the block with its TRANSACTIONS_FILTER written
   * (e.g. `withTransactionsFilter(block, validateBlockTransactions(block, ctx).flags)`). Absent: the block's own
   * flags are used, or all transactions count as valid.
   */
  validate?: (block: Block) => Block;
  /** Called with every committed block as the handler reads the chain at open (so a caller needs no pass of its own). */
  onOpenBlock?: (block: Block) => void;
  clock: Clock;
  logger: Logger;
  metrics: PrivdataMetrics;
}

/** What the peer-to-peer parts of private data need besides the handler's components. */
export interface PvtTransferWiring {
  gossip: PvtDataGossip;
  random: Random;
  /** Our serialized identity: the push receiver stores only data of collections it is eligible for. */
  selfIdentity: Uint8Array;
  /** Checks a sender's handshake against the channel's Readers policy; absent: membership in the channel is enough. */
  mcs?: VerifyByChannel;
}

export interface PvtDataHandlerOptions extends CoordinatorOptions, ReconcilerOptions {
  /** `pushAckTimeout` of the distributor. Default 3 s. */
  pushAckTimeoutMs?: number;
  /** `btlPullMargin` of the puller. Default 10. */
  btlPullMargin?: bigint;
  /** Where the stores live: `<storeDir>/pvtdata` and `<storeDir>/transient`. Absent: in memory. */
  storeDir?: string;
  implicitCollectionDissemination?: ImplicitCollectionDisseminationPolicy;
  /** Collections of chaincodes given by file (a definition committed on the chain wins). */
  collectionsFiles?: readonly CollectionsFile[];
}

/**
 * The private data side of one channel (Fabric's `privateHandler` of `InitializeChannel`): the collection
 * store, the transient and private data stores, the coordinator that commits blocks with their private data,
 * and the reconciler. The distributor, push receiver and pull responder are built beside it from the same
 * collection store and transient store.
 */
export interface PvtDataHandler {
  readonly channel: string;
  readonly collections: CollectionStore;
  readonly transientStore: TransientStore;
  readonly pvtStore: PvtDataStore;
  readonly coordinator: PvtDataCoordinator;
  readonly reconciler: PvtDataReconciler;
  /** The distributor, when private data moves between peers (`transfer` and the channel's MSPs were given). */
  readonly distributor: PvtDataDistributor | undefined;
  /**
   * Fabric's `DistributePrivateData`: pushes an endorsement's private write sets to eligible peers (when the
   * handler has a distributor), then keeps them in the transient store. Rejects with the distributor's
   * PvtTransferError (nothing stored then) or the store's error.
   */
  distribute(txId: string, data: TxPvtReadWriteSetWithConfigInfo, blockHeight: bigint): Promise<void>;
  /** How the private data store stood against the block store at open (after any repair). */
  readonly alignment: StoreAlignment;
  /** The collection's access policy compiled with the channel's MSPs in force; undefined without MSPs or when it does not compile. */
  accessOf(collection: CollectionDefinition): CollectionAccess | undefined;
  /**
   * Commits the next block through the coordinator with the private data that came with it, then learns the
   * chaincode definitions it commits. Rejects as `PvtDataCoordinator.storeBlock`.
   */
  commitBlock(block: Block, pvtData?: readonly PvtDataPayload[]): Promise<StoreBlockResult>;
  /** The private data of block `seqNum` that the requester (its handshake signed data) may read. */
  pvtDataFor(seqNum: bigint, requester: SignedData | undefined): Promise<PvtDataPayload[]>;
  /** Starts the reconciler and the peer-to-peer parts (push receiver, puller, responder). */
  start(): void;
  /**
   * Abandons a block waiting for private data from peers (its commit rejects with STOPPED), so the state
   * provider's commit loop can stop; call before stopping state. Idempotent.
   */
  interrupt(): Promise<void>;
  /** Stops everything, then closes the stores. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Opens the private data handler of a channel whose ledger is open: the stores (created if needed), the
 * collections learned again from every committed block (and the files), and the private data store brought
 * level with the block store (`alignPvtStoreWithBlockStore`: blocks it lacks are committed to it from the
 * transient store and as missing markers, for the reconciler).
 */
export async function openPvtDataHandler(c: PvtDataHandlerComponents, options: PvtDataHandlerOptions = {}): Promise<PvtDataHandler> {
  const log = c.logger.child("gossip.privdata", { channel: c.channel });
  const collections = createCollectionStore({
    channelId: c.channel,
    applicationMspIds: c.applicationMspIds,
    ...(c.localMspId !== undefined ? { localMspId: c.localMspId } : {}),
    ...(options.implicitCollectionDissemination !== undefined ? { implicitCollectionDissemination: options.implicitCollectionDissemination } : {}),
  });
  for (const f of options.collectionsFiles ?? []) collections.setCollectionsFile(f.chaincode, f.json);

  const btlPolicy = { blockToLive: (ns: string, coll: string) => collections.collection(ns, coll)?.blockToLive };
  const pvtStore =
    options.storeDir === undefined
      ? await createMemoryPvtDataStore({ btlPolicy, clock: c.clock, logger: log })
      : await openPvtDataStore(join(options.storeDir, "pvtdata"), { btlPolicy, clock: c.clock, logger: log });
  let transientStore: TransientStore;
  try {
    transientStore = options.storeDir === undefined ? createMemoryTransientStore() : await openTransientStore(join(options.storeDir, "transient"), {}, { logger: log });
  } catch (err) {
    await pvtStore.close();
    throw err;
  }

  // Compiled access policies per MSP set, by collection name and member orgs policy (implicit collections are regenerated per call).
  let accessMsps: IdentityDeserializer | undefined;
  let accessCache = new Map<string, CollectionAccess | null>();
  const accessOf = (def: CollectionDefinition): CollectionAccess | undefined => {
    const msps = c.msps();
    if (msps === undefined) return undefined;
    if (msps !== accessMsps) {
      accessMsps = msps;
      accessCache = new Map();
    }
    const key = `${def.name}\u0000${Buffer.from(memberOrgsPolicyBytes(def)).toString("base64")}`;
    const hit = accessCache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    let access: CollectionAccess | null = null;
    try {
      access = createCollectionAccess(def, msps);
    } catch (err) {
      log.error("a collection's member orgs policy does not compile with the channel's MSPs", { collection: def.name, err: errorMessage(err) });
    }
    accessCache.set(key, access);
    return access ?? undefined;
  };

  // The peer-to-peer parts need the channel's MSPs (eligibility of peers and requesters).
  const initialMsps = c.msps();
  let transfer: { puller: PvtDataPuller; pushReceiver: PvtDataPushReceiver; responder: PvtDataResponder; distributor: PvtDataDistributor } | undefined;
  if (c.transfer !== undefined && initialMsps !== undefined) {
    let lastMsps = initialMsps;
    const deserializer = (): IdentityDeserializer => {
      lastMsps = c.msps() ?? lastMsps;
      return lastMsps;
    };
    const common: PvtTransferComponents = {
      channelId: c.channel,
      gossip: c.transfer.gossip,
      deserializer,
      clock: c.clock,
      random: c.transfer.random,
      logger: c.logger,
      metrics: c.metrics,
    };
    transfer = {
      puller: createPvtDataPuller({ ...common, collections }, options.btlPullMargin !== undefined ? { btlPullMargin: options.btlPullMargin } : {}),
      pushReceiver: createPvtDataPushReceiver({
        ...common,
        transientStore,
        ledgerHeight: () => c.ledger.height(),
        selfIdentity: c.transfer.selfIdentity,
        ...(c.transfer.mcs !== undefined ? { mcs: c.transfer.mcs } : {}),
      }),
      responder: createPvtDataResponder({ ...common, collections, transientStore, pvtStore, ledgerHeight: () => c.ledger.height() }),
      distributor: createPvtDataDistributor(common, {
        ...(options.pushAckTimeoutMs !== undefined ? { pushAckTimeoutMs: options.pushAckTimeoutMs } : {}),
        ...(options.implicitCollectionDissemination !== undefined ? { implicitCollectionDissemination: options.implicitCollectionDissemination } : {}),
        ...(c.localMspId !== undefined ? { localMspId: c.localMspId } : {}),
      }),
    };
  } else if (c.transfer !== undefined) {
    log.info("the channel has no MSPs: private data is neither pushed, pulled nor served");
  }
  const remote: PvtDataFetcher | undefined = c.fetcher ?? transfer?.puller;
  const fetcher: PvtDataFetcher = remote ?? { fetch: async () => ({ available: [], purged: [] }) };
  const coordinator = createPvtDataCoordinator(
    {
      channel: c.channel,
      collections,
      accessOf,
      localMspId: c.localMspId,
      selfSignedData: c.selfSignedData,
      transientStore,
      pvtStore,
      fetcher,
      appendBlock: (block) => c.ledger.append(block),
      storePvtDataOfInvalidTx: () => c.applicationCapabilities().some((cap) => STORE_INVALID_TX_CAPABILITIES.has(cap)),
      clock: c.clock,
      logger: c.logger,
      metrics: c.metrics,
    },
    // Without a puller nobody can answer: waiting pullRetryThreshold per block would only slow commits down.
    remote === undefined ? { ...options, pullRetryThresholdMs: 0 } : options,
  );
  const reconciler = createPvtDataReconciler(
    { channel: c.channel, pvtStore, collections, fetcher, getBlock: (n) => c.ledger.getBlock(n), clock: c.clock, logger: c.logger, metrics: c.metrics },
    remote === undefined ? { ...options, reconciliationEnabled: false } : options,
  );

  const learn = (block: Block): void => {
    // The block's own flags, or all valid without them (nothing validates transactions before this peer commits).
    const { problems } = collections.learnFromBlock(block, transactionsFilter(block));
    for (const p of problems) log.warn("a chaincode definition of the block cannot be used", { err: p.message });
  };

  let alignment: StoreAlignment;
  try {
    const height = c.ledger.height();
    alignment = alignPvtStoreWithBlockStore(pvtStore.lastCommittedBlockHeight(), height);
    if (alignment.state === "pvt-ahead") {
      log.warn("the private data store is ahead of the block store; its data is kept and not committed again", { pvtHeight: alignment.pvtHeight.toString(), blockHeight: height.toString() });
    } else if (alignment.state === "pvt-behind" && (alignment.pvtHeight > 0n || height > 1n)) {
      // Expected after a crash (the store writes the heights of blocks without private data lazily) and in memory
      // (the simulator's ledgers outlive their peers); blocks with private data needs are recommitted as missing.
      (options.storeDir === undefined ? log.debug : log.info).call(log, "the private data store is behind the block store; committing the blocks it lacks (their private data as missing)", {
        pvtHeight: alignment.pvtHeight.toString(),
        blockHeight: height.toString(),
      });
    }
    const pvtHeight = pvtStore.lastCommittedBlockHeight();
    // One pass over the chain, read in order (not block by block): what this handler learns, and the caller's.
    for await (const block of c.ledger.iterate(0n, height)) {
      const n = block.header?.number ?? 0n;
      if (n >= pvtHeight) await coordinator.commitPvtDataOnly(block, transactionsFilter(block));
      learn(block);
      c.onOpenBlock?.(block);
    }
  } catch (err) {
    await coordinator.stop();
    await pvtStore.close();
    await transientStore.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    channel: c.channel,
    collections,
    transientStore,
    pvtStore,
    coordinator,
    reconciler,
    alignment,
    accessOf,
    distributor: transfer?.distributor,
    async distribute(txId, data, blockHeight) {
      // Fabric's order: distribute first; the data is kept locally only when that succeeded.
      await transfer?.distributor.distribute(txId, data, blockHeight);
      await transientStore.persist(txId, blockHeight, data);
    },
    async commitBlock(received, pvtData) {
      const block = c.validate?.(received) ?? received;
      const result = await coordinator.storeBlock(block, pvtData ?? [], transactionsFilter(block));
      learn(block);
      return result;
    },
    pvtDataFor: (seqNum, requester) => coordinator.pvtDataFor(seqNum, requester),
    start() {
      transfer?.puller.start();
      transfer?.pushReceiver.start();
      transfer?.responder.start();
      reconciler.start();
    },
    interrupt: () => coordinator.stop(),
    stop() {
      stopping ??= (async () => {
        await reconciler.stop();
        await transfer?.pushReceiver.stop();
        await transfer?.responder.stop();
        await coordinator.stop();
        await transfer?.puller.stop();
        await pvtStore.close();
        await transientStore.close();
      })();
      return stopping;
    },
  };
}
