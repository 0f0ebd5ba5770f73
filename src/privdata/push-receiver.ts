import { type Logger, RateLimitedLog } from "../logging/index.js";
import type { ReceivedMessage } from "../protoext/index.js";
import type { PrivatePayload } from "../protos/gen/gossip/message.pb.js";
import { TxReadWriteSet_DataModel } from "../protos/gen/ledger/rwset/rwset.pb.js";
import type { StaticCollectionConfig } from "../protos/gen/peer/collection.pb.js";
import type { TxPvtReadWriteSetWithConfigInfo } from "../protos/gen/transientstore/transientstore.pb.js";
import { bytesEqual, errorMessage, utf8 } from "../util/index.js";
import { CollectionAccessCache, type PvtTransferComponents, type VerifyByChannel } from "./transfer-common.js";
import { PvtTransferError, type PvtTransferErrorCode } from "./transfer-errors.js";
import type { TransientStore } from "./transient-store-interface.js";

/** Pushed messages being stored at once; more are refused (NACK BUSY) rather than queued without bound. */
export const MAX_PUSHES_IN_FLIGHT = 256;

export interface PvtDataPushReceiverComponents extends Pick<PvtTransferComponents, "channelId" | "gossip" | "deserializer" | "clock" | "logger"> {
  transientStore: Pick<TransientStore, "persist">;
  /** Our ledger height: the data is stored as received at it. */
  ledgerHeight: () => bigint;
  /** Our peer's serialized identity: it must be eligible for the collection. */
  selfIdentity: Uint8Array;
  /**
   * Checks the sender's handshake against the channel's Readers policy (Fabric's state provider does). Absent
   * (development crypto, tests): the sender must instead be a member of the channel in our view.
   */
  mcs?: VerifyByChannel;
}

/** Why a pushed message was not stored. */
export type PushRejectionCode = Extract<
  PvtTransferErrorCode,
  "MALFORMED" | "UNAUTHORIZED" | "NO_COLLECTION_CONFIG" | "BAD_COLLECTION_CONFIG" | "NOT_ELIGIBLE" | "STORE_FAILED" | "BUSY"
>;

/** Fabric's state provider's `privateDataMessage`: endorsement-time pushes into the transient store. */
export interface PvtDataPushReceiver {
  /** Subscribes to PrivateDataMessages of the channel. */
  start(): void;
  /** Unsubscribes and waits for the stores in flight. */
  stop(): Promise<void>;
  /** Messages stored and acknowledged. */
  stored(): number;
  /** Messages refused, by code (each also counted once however often its log line is held back). */
  rejections(): Readonly<Record<PushRejectionCode, number>>;
}

/**
 * Creates the push receiver of one channel. A PrivateDataMessage from a sender that passes the channel's
 * Readers policy (or, without an MCS, is a channel member) is checked — payload, write set and the
 * collection's config present, our peer eligible under that config — stored in the transient store at our
 * ledger height, then acknowledged. A failed check or store is a NACK naming the cause (Fabric acks nothing
 * for a malformed message, so its sender waits out pushAckTimeout; v2.5's store failure sends a NACK and then
 * an ack). An unauthorized sender gets no answer at all. Never throws for the input.
 */
export function createPvtDataPushReceiver(components: PvtDataPushReceiverComponents): PvtDataPushReceiver {
  const { channelId, gossip } = components;
  const log: Logger = components.logger.child("privdata.push", { channel: channelId });
  const rl = new RateLimitedLog(log, components.clock);
  const channelBytes = utf8(channelId);
  const accessCache = new CollectionAccessCache(components.deserializer);
  const counts: Record<PushRejectionCode, number> = {
    MALFORMED: 0,
    UNAUTHORIZED: 0,
    NO_COLLECTION_CONFIG: 0,
    BAD_COLLECTION_CONFIG: 0,
    NOT_ELIGIBLE: 0,
    STORE_FAILED: 0,
    BUSY: 0,
  };
  let stored = 0;
  let unsubscribe: (() => void) | undefined;
  let stopped = false;
  const tasks = new Set<Promise<void>>();

  const reject = (msg: ReceivedMessage, code: PushRejectionCode, why: string, ack: boolean): void => {
    counts[code]++;
    const endpoint = msg.connectionInfo.endpoint;
    rl.warn(`${code}:${endpoint}`, "refused a pushed private data message", { code, endpoint, reason: why });
    if (!ack) return;
    try {
      msg.ack(new PvtTransferError(code, why));
    } catch (err) {
      log.debug("could not send a NACK", { endpoint, error: errorMessage(err) });
    }
  };

  const authorize = (msg: ReceivedMessage): string | undefined => {
    const sender = msg.connectionInfo;
    const verifyByChannel = components.mcs?.verifyByChannel;
    if (verifyByChannel !== undefined) {
      try {
        if (sender.auth === undefined) return "the connection carries no handshake signature";
        verifyByChannel.call(components.mcs, channelId, sender.identity, sender.auth.signature, sender.auth.signedData);
        return undefined;
      } catch (err) {
        return `the sender does not satisfy the channel's Readers policy: ${errorMessage(err)}`;
      }
    }
    return gossip.peersOfChannel(channelId).some((m) => bytesEqual(m.pkiId, sender.id)) ? undefined : "the sender is not a member of the channel";
  };

  /** The payload's problem, or undefined when it can be stored. */
  const malformed = (p: PrivatePayload | undefined): string | undefined => {
    if (p === undefined) return "no payload provided";
    if (p.txId === "") return "no tx ID provided";
    if (p.namespace === "") return "no namespace provided";
    if (p.collectionName === "") return "no collection name provided";
    if (p.privateRwset.byteLength === 0) return `no rwset provided, collection name = ${p.collectionName}`;
    return undefined;
  };

  const configOf = (p: PrivatePayload): StaticCollectionConfig | undefined => {
    for (const c of p.collectionConfigs?.config ?? []) {
      if (c.payload?.$case === "staticCollectionConfig" && c.payload.value.name === p.collectionName) return c.payload.value;
    }
    return undefined;
  };

  const handle = async (msg: ReceivedMessage): Promise<void> => {
    const denied = authorize(msg);
    if (denied !== undefined) {
      reject(msg, "UNAUTHORIZED", denied, false);
      return;
    }
    const content = msg.message.message.content;
    const p = content?.$case === "privateData" ? content.value.payload : undefined;
    const bad = malformed(p);
    if (p === undefined || bad !== undefined) {
      reject(msg, "MALFORMED", `malformed private data message: ${bad ?? "no payload provided"}`, true);
      return;
    }
    const config = configOf(p);
    if (config === undefined) {
      reject(msg, "NO_COLLECTION_CONFIG", `no configuration for collection ${p.collectionName} of ${p.namespace} in the message`, true);
      return;
    }
    try {
      const access = accessCache.ofConfig(config);
      if (!access.isEligible(components.selfIdentity)) {
        reject(msg, "NOT_ELIGIBLE", `this peer is not eligible for collection ${p.collectionName} of ${p.namespace}`, true);
        return;
      }
    } catch (err) {
      reject(msg, "BAD_COLLECTION_CONFIG", `collection ${p.collectionName} of ${p.namespace}: ${errorMessage(err)}`, true);
      return;
    }
    const data: TxPvtReadWriteSetWithConfigInfo = {
      endorsedAt: 0n,
      pvtRwset: {
        dataModel: TxReadWriteSet_DataModel.KV,
        nsPvtRwset: [{ namespace: p.namespace, collectionPvtRwset: [{ collectionName: p.collectionName, rwset: p.privateRwset }] }],
      },
      collectionConfigs: { [p.namespace]: p.collectionConfigs ?? { config: [] } },
    };
    try {
      await components.transientStore.persist(p.txId, components.ledgerHeight(), data);
    } catch (err) {
      log.error("could not persist pushed private data", { txId: p.txId, collection: p.collectionName, error: errorMessage(err) });
      reject(msg, "STORE_FAILED", `wasn't able to persist private data for collection ${p.collectionName}: ${errorMessage(err)}`, true);
      return;
    }
    stored++;
    msg.ack();
    log.debug("stored pushed private data", { txId: p.txId, namespace: p.namespace, collection: p.collectionName });
  };

  return {
    start() {
      if (unsubscribe !== undefined || stopped) return;
      unsubscribe = gossip.acceptPassThrough(
        (msg) => msg.message.message.content?.$case === "privateData" && bytesEqual(msg.message.message.channel, channelBytes),
        (msg) => {
          if (stopped) return;
          if (tasks.size >= MAX_PUSHES_IN_FLIGHT) {
            reject(msg, "BUSY", `too many private data messages are being stored (${tasks.size})`, true);
            return;
          }
          const task = handle(msg).catch((err: unknown) => {
            // handle() catches what it expects; anything else is a bug, but not a crash.
            log.error("unexpected failure handling a pushed private data message", { error: errorMessage(err) });
          });
          tasks.add(task);
          void task.finally(() => tasks.delete(task));
        },
      );
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      unsubscribe = undefined;
      while (tasks.size > 0) await Promise.all([...tasks]);
    },
    stored: () => stored,
    rejections: () => ({ ...counts }),
  };
}
