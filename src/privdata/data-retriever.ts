import type { SignedData } from "../channelconfig/index.js";
import { type Logger, RateLimitedLog } from "../logging/index.js";
import type { ReceivedMessage } from "../protoext/index.js";
import { GossipMessage_Tag, type PvtDataDigest, type PvtDataElement } from "../protos/gen/gossip/message.pb.js";
import type { TxPvtReadWriteSet } from "../protos/gen/ledger/rwset/rwset.pb.js";
import type { StaticCollectionConfig } from "../protos/gen/peer/collection.pb.js";
import { bytesEqual, errorMessage, utf8 } from "../util/index.js";
import type { CollectionStore } from "./collection-store.js";
import type { CollectionAccess } from "./eligibility.js";
import { type PvtDataStore, pvtNsCollFilter } from "./pvt-store-interface.js";
import { CollectionAccessCache, describeDigest, type PvtTransferComponents, requesterSignedData } from "./transfer-common.js";
import type { TransientStore } from "./transient-store-interface.js";

/** Requests waiting to be answered; more are dropped, as Fabric's state provider drops beyond channelSize. */
export const MAX_QUEUED_PVT_REQUESTS = 100;

export interface PvtDataResponderComponents extends Pick<PvtTransferComponents, "channelId" | "gossip" | "deserializer" | "clock" | "logger" | "metrics"> {
  /** The latest collection configs and their history (the config in force at a block). */
  collections: Pick<CollectionStore, "collection" | "collectionBelow">;
  transientStore: Pick<TransientStore, "getTxPvtRWSetByTxid">;
  pvtStore: Pick<PvtDataStore, "getPvtDataByBlockNum">;
  /** Our ledger height (blocks committed). */
  ledgerHeight: () => bigint;
}

/** One digest's write sets as read from a store, before the requester's eligibility is checked. */
interface Retrieved {
  digest: PvtDataDigest;
  /** The KVRWSet bytes of every copy found. */
  rwsets: Uint8Array[];
  /** The access policy of the config the data was written under: its latest endorsement's, or the one in force at its block. */
  access: (() => CollectionAccess) | undefined;
  /** Read from the private data store: the requester may also pass under the latest config. */
  fromLedger: boolean;
}

/** Fabric's `dataRetriever` and `puller.handleRequest`: answers other peers' RemotePvtDataRequests. */
export interface PvtDataResponder {
  /** Subscribes to RemotePvtDataRequests of the channel. */
  start(): void;
  /** Unsubscribes, drops queued requests and waits for the one being answered. */
  stop(): Promise<void>;
  /**
   * The response elements for `digests` that `requester` (a handshake's signed data) may read: Fabric's
   * `createResponse`. Nothing without signed data. Never rejects (store failures leave the digests out).
   */
  respondTo(digests: readonly PvtDataDigest[], requester: SignedData | undefined): Promise<PvtDataElement[]>;
  /** Requests dropped because too many were queued. */
  droppedRequests(): number;
}

/** The KVRWSet bytes of one collection in a transaction's private write set (Fabric's `extractPvtRWsets`). */
function extract(ws: TxPvtReadWriteSet, namespace: string, collection: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const ns of ws.nsPvtRwset) {
    if (ns.namespace !== namespace) continue;
    for (const c of ns.collectionPvtRwset) if (c.collectionName === collection) out.push(c.rwset);
  }
  return out;
}

function staticConfigNamed(configs: readonly { payload?: { $case: string; value: StaticCollectionConfig } | undefined }[], name: string): StaticCollectionConfig | undefined {
  for (const c of configs) if (c.payload?.$case === "staticCollectionConfig" && c.payload.value.name === name) return c.payload.value;
  return undefined;
}

/**
 * Creates the responder of one channel. For each requested digest (grouped by block): when our ledger height
 * is at most the digest's block, the data comes from the transient store by tx ID (not for a digest without
 * one: a reconciliation request), every endorsement's copy, with the config of the latest endorsement;
 * otherwise from the private data store with the config in force at that block. Only collections the
 * requester may read are returned (Fabric's `filterNotEligible`): data from the ledger if the requester's
 * handshake signed data passes the collection's latest access filter, any data if it passes the config the
 * data carries. The answer goes back with the request's nonce, tag CHAN_ONLY.
 */
export function createPvtDataResponder(components: PvtDataResponderComponents): PvtDataResponder {
  const { channelId, gossip, collections, metrics } = components;
  const log: Logger = components.logger.child("privdata.responder", { channel: channelId });
  const rl = new RateLimitedLog(log, components.clock);
  const accessCache = new CollectionAccessCache(components.deserializer);
  const channelBytes = utf8(channelId);
  const queue: ReceivedMessage[] = [];
  let worker: Promise<void> | undefined;
  let unsubscribe: (() => void) | undefined;
  let stopped = false;
  let dropped = 0;

  const fromTransientStore = async (digest: PvtDataDigest): Promise<Retrieved | undefined> => {
    if (digest.txId === "") return undefined; // a reconciliation request: the transient store is keyed by tx ID
    const entries = await components.transientStore.getTxPvtRWSetByTxid(digest.txId, pvtNsCollFilter({ [digest.namespace]: [digest.collection] }));
    const out: Retrieved = { digest, rwsets: [], access: undefined, fromLedger: false };
    let maxEndorsedAt = 0n;
    for (const e of entries) {
      const rws = e.pvtSimulationResultsWithConfig;
      if (rws.pvtRwset === undefined) continue;
      const pkg = rws.collectionConfigs[digest.namespace];
      const config = pkg === undefined ? undefined : staticConfigNamed(pkg.config, digest.collection);
      if (config === undefined) continue;
      if (rws.endorsedAt >= maxEndorsedAt) {
        maxEndorsedAt = rws.endorsedAt;
        out.access = () => accessCache.ofConfig(config);
      }
      out.rwsets.push(...extract(rws.pvtRwset, digest.namespace, digest.collection));
    }
    return out;
  };

  const fromLedger = async (digests: readonly PvtDataDigest[], blockNum: bigint): Promise<Retrieved[]> => {
    const wanted: Record<string, string[]> = {};
    for (const d of digests) wanted[d.namespace] = [...(wanted[d.namespace] ?? []), d.collection];
    const data = await components.pvtStore.getPvtDataByBlockNum(blockNum, pvtNsCollFilter(wanted));
    const out: Retrieved[] = [];
    for (const d of digests) {
      const config = collections.collectionBelow(d.namespace, d.collection, d.blockSeq);
      if (config === undefined) {
        rl.warn(`no-config:${d.namespace}/${d.collection}`, "no collection config in force at the requested block", { digest: describeDigest(d) });
        continue;
      }
      const rwsets = data.filter((tx) => BigInt(tx.seqInBlock) === d.seqInBlock).flatMap((tx) => extract(tx.writeSet, d.namespace, d.collection));
      out.push({ digest: d, rwsets, access: () => accessCache.of(config), fromLedger: true });
    }
    return out;
  };

  /** Fabric's `filterNotEligible` for one digest. */
  const mayRead = (r: Retrieved, requester: SignedData): boolean => {
    const passes = (access: () => CollectionAccess): boolean => {
      try {
        return access().accessFilter(requester);
      } catch {
        return false;
      }
    };
    if (r.fromLedger) {
      const latest = collections.collection(r.digest.namespace, r.digest.collection);
      if (latest !== undefined && passes(() => accessCache.of(latest))) return true;
    }
    return r.access !== undefined && passes(r.access);
  };

  const respondTo = async (digests: readonly PvtDataDigest[], requester: SignedData | undefined): Promise<PvtDataElement[]> => {
    if (requester === undefined) return [];
    const byBlock = new Map<bigint, PvtDataDigest[]>();
    for (const d of digests) byBlock.set(d.blockSeq, [...(byBlock.get(d.blockSeq) ?? []), d]);
    const elements: PvtDataElement[] = [];
    for (const [blockNum, group] of byBlock) {
      const start = components.clock.monotonic();
      let retrieved: Retrieved[];
      try {
        if (components.ledgerHeight() <= blockNum) {
          retrieved = [];
          for (const d of group) {
            const r = await fromTransientStore(d);
            if (r !== undefined) retrieved.push(r);
          }
        } else {
          retrieved = await fromLedger(group, blockNum);
        }
      } catch (err) {
        rl.warn(`retrieve:${blockNum}`, "could not read the private data of a requested block", { block: blockNum.toString(), error: errorMessage(err) });
        continue;
      } finally {
        metrics.retrieveDuration.observe({ channel: channelId }, (components.clock.monotonic() - start) / 1000);
      }
      for (const r of retrieved) {
        if (r.rwsets.length === 0) continue;
        if (!mayRead(r, requester)) {
          log.debug("the requester is not eligible for the private data", { digest: describeDigest(r.digest) });
          continue;
        }
        elements.push({ digest: { ...r.digest }, payload: r.rwsets });
      }
    }
    return elements;
  };

  const answer = async (msg: ReceivedMessage): Promise<void> => {
    const gm = msg.message.message;
    if (gm.content?.$case !== "privateReq") return;
    const elements = await respondTo(gm.content.value.digests, requesterSignedData(msg));
    log.debug("answering a private data request", { endpoint: msg.connectionInfo.endpoint, asked: gm.content.value.digests.length, returned: elements.length });
    try {
      msg.respond({ channel: channelBytes, nonce: gm.nonce, tag: GossipMessage_Tag.CHAN_ONLY, content: { $case: "privateRes", value: { elements } } });
    } catch (err) {
      rl.warn(`respond:${msg.connectionInfo.endpoint}`, "could not send a private data response", { endpoint: msg.connectionInfo.endpoint, error: errorMessage(err) });
    }
  };

  const drain = async (): Promise<void> => {
    for (let msg = queue.shift(); msg !== undefined && !stopped; msg = queue.shift()) {
      try {
        await answer(msg);
      } catch (err) {
        log.error("unexpected failure answering a private data request", { error: errorMessage(err) });
      }
    }
    worker = undefined;
  };

  return {
    respondTo,
    start() {
      if (unsubscribe !== undefined || stopped) return;
      unsubscribe = gossip.acceptPassThrough(
        (msg) => msg.message.message.content?.$case === "privateReq" && bytesEqual(msg.message.message.channel, channelBytes),
        (msg) => {
          if (stopped) return;
          if (queue.length >= MAX_QUEUED_PVT_REQUESTS) {
            dropped++;
            rl.warn("request-backlog", "dropping a private data request: too many queued", { queued: queue.length });
            return;
          }
          queue.push(msg);
          worker ??= drain();
        },
      );
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      unsubscribe = undefined;
      queue.length = 0;
      await worker;
    },
    droppedRequests: () => dropped,
  };
}
