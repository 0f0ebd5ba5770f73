import type { PKIidType } from "../api/index.js";
import type { SendCriteria } from "../gossip/node/index.js";
import type { Logger } from "../logging/index.js";
import { type GossipMessage, GossipMessage_Tag } from "../protos/gen/gossip/message.pb.js";
import type { CollectionPvtReadWriteSet } from "../protos/gen/ledger/rwset/rwset.pb.js";
import type { CollectionConfigPackage, StaticCollectionConfig } from "../protos/gen/peer/collection.pb.js";
import type { TxPvtReadWriteSetWithConfigInfo } from "../protos/gen/transientstore/transientstore.pb.js";
import { bytesEqual, errorMessage, fromUtf8, toHex, utf8 } from "../util/index.js";
import {
  type CollectionDefinition,
  collectionDefinitionOf,
  DEFAULT_IMPLICIT_COLLECTION_DISSEMINATION,
  type ImplicitCollectionDisseminationPolicy,
  implicitCollectionFor,
  implicitCollectionMspId,
} from "./collections.js";
import { CollectionAccessCache, collectionPeerFilter, type PvtTransferComponents } from "./transfer-common.js";
import { PvtTransferError } from "./transfer-errors.js";

/** Fabric's `peer.gossip.pvtData.pushAckTimeout` default: 3 s. */
export const DEFAULT_PUSH_ACK_TIMEOUT_MS = 3_000;

export interface PvtDataDistributorOptions {
  /** How long each acknowledged send waits for its ack. Default DEFAULT_PUSH_ACK_TIMEOUT_MS. */
  pushAckTimeoutMs?: number;
  /**
   * `peer.gossip.pvtData.implicitCollectionDisseminationPolicy`: the counts of our own org's implicit
   * collection (another org's gets 0 and 0). Default requiredPeerCount 0, maxPeerCount 1.
   */
  implicitCollectionDissemination?: ImplicitCollectionDisseminationPolicy;
  /** Our MSP ID: whose implicit collection gets `implicitCollectionDissemination`'s counts. */
  localMspId?: string;
}

/** One send of a dissemination plan: to one peer, acknowledged or not. */
export interface DisseminationStep {
  namespace: string;
  collection: string;
  peer: PKIidType;
  endpoint: string;
  /** 1 for the first requiredPeerCount peers of the collection, else 0. */
  minAck: number;
}

/**
 * Fabric's `PvtDataDistributor`: pushes a transaction's private write sets, at endorsement time, to peers of
 * the orgs each collection admits.
 */
export interface PvtDataDistributor {
  /**
   * Fabric's `Distribute(txID, privData, blkHt)`: for each collection of the write set one
   * PrivateDataMessage, sent to `requiredPeerCount` eligible peers with acknowledgement and to more without,
   * up to `maximumPeerCount`, one org after another. Resolves when every send succeeded; rejects with
   * PvtTransferError (NO_COLLECTION_CONFIG, BAD_COLLECTION_CONFIG, NOT_ENOUGH_PEERS before anything is sent;
   * DISSEMINATION_FAILED naming how many sends of the plan failed).
   */
  distribute(txId: string, data: TxPvtReadWriteSetWithConfigInfo, blockHeight: bigint): Promise<void>;
  /** The plan `distribute` would send (for tests and the admin view); throws as `distribute` does before sending. */
  plan(txId: string, data: TxPvtReadWriteSetWithConfigInfo, blockHeight: bigint): DisseminationStep[];
}

interface PlannedSend {
  step: DisseminationStep;
  msg: GossipMessage;
  criteria: SendCriteria;
}

/** The StaticCollectionConfig named `name` in a package, or undefined (Fabric's `getCollectionConfig`). */
function staticConfigNamed(pkg: CollectionConfigPackage, name: string): StaticCollectionConfig | undefined {
  for (const c of pkg.config) if (c.payload?.$case === "staticCollectionConfig" && c.payload.value.name === name) return c.payload.value;
  return undefined;
}

/** Creates the distributor of one channel (Fabric's `NewDistributor`). Stateless: no start or stop. */
export function createPvtDataDistributor(components: PvtTransferComponents, options: PvtDataDistributorOptions = {}): PvtDataDistributor {
  const { channelId, gossip, random, clock, metrics } = components;
  const log: Logger = components.logger.child("privdata.distributor", { channel: channelId });
  const timeoutMs = options.pushAckTimeoutMs ?? DEFAULT_PUSH_ACK_TIMEOUT_MS;
  const dissemination = options.implicitCollectionDissemination ?? DEFAULT_IMPLICIT_COLLECTION_DISSEMINATION;
  const accessCache = new CollectionAccessCache(components.deserializer);
  const channelBytes = utf8(channelId);

  /**
   * The collection's definition from the message's package, where it must be (as in Fabric). An implicit
   * collection's is generated as our lifecycle would, so that its counts follow our dissemination policy as a
   * Fabric endorser's do (when our MSP ID is known).
   */
  const definitionOf = (namespace: string, coll: CollectionPvtReadWriteSet, pkg: CollectionConfigPackage): CollectionDefinition => {
    const config = staticConfigNamed(pkg, coll.collectionName);
    if (config === undefined) {
      throw new PvtTransferError("NO_COLLECTION_CONFIG", `could not find collection access policy for ${namespace} and collection ${coll.collectionName}: no configuration for collection ${coll.collectionName} found`);
    }
    const implicitMsp = implicitCollectionMspId(coll.collectionName);
    if (implicitMsp !== undefined && options.localMspId !== undefined) return implicitCollectionFor(implicitMsp, options.localMspId, dissemination);
    try {
      return collectionDefinitionOf(config);
    } catch (err) {
      throw new PvtTransferError("BAD_COLLECTION_CONFIG", `could not obtain collection access policy, collection name ${coll.collectionName}: ${errorMessage(err)}`, { cause: err });
    }
  };

  const messageOf = (txId: string, namespace: string, coll: CollectionPvtReadWriteSet, def: CollectionDefinition, blockHeight: bigint): GossipMessage => ({
    channel: channelBytes,
    nonce: random.uint64(),
    tag: GossipMessage_Tag.CHAN_ONLY,
    content: {
      $case: "privateData",
      value: {
        payload: {
          namespace,
          collectionName: coll.collectionName,
          txId,
          privateRwset: coll.rwset,
          privateSimHeight: blockHeight,
          collectionConfigs: { config: [{ payload: { $case: "staticCollectionConfig", value: def.config } }] },
        },
      },
    },
  });

  /** Fabric's `disseminationPlanForMsg`: phase 1 one peer per eligible org, phase 2 the rest at random. */
  const planForCollection = (namespace: string, def: CollectionDefinition, msg: GossipMessage): PlannedSend[] => {
    const access = accessCache.of(def);
    const routing = collectionPeerFilter(gossip, channelId, access);
    const eligible = gossip.peersOfChannel(channelId).filter((m) => routing(m));
    if (eligible.length < def.requiredPeerCount) {
      throw new PvtTransferError(
        "NOT_ENOUGH_PEERS",
        `could not build private data dissemination plan for chaincode ${namespace} and collection ${def.name}: required to disseminate to at least ${def.requiredPeerCount} peers, but know of only ${eligible.length} eligible peers`,
      );
    }
    const endpointOf = new Map(eligible.map((m) => [toHex(m.pkiId), m.endpoint !== "" ? m.endpoint : m.internalEndpoint]));
    // Group the eligible peers by org, member orgs only (Fabric's identitiesOfEligiblePeersByOrg over IdentityInfo).
    const byOrg = new Map<string, PKIidType[]>();
    for (const info of gossip.identityInfo()) {
      const org = fromUtf8(info.organization);
      if (!access.isMemberOrg(org)) continue;
      if (!eligible.some((m) => bytesEqual(m.pkiId, info.pkiId))) continue;
      const list = byOrg.get(org) ?? [];
      if (!list.some((p) => bytesEqual(p, info.pkiId))) list.push(info.pkiId);
      byOrg.set(org, list);
    }
    let maxLeft = def.maximumPeerCount;
    let requiredLeft = def.requiredPeerCount;
    const plan: PlannedSend[] = [];
    const add = (peer: PKIidType): void => {
      const minAck = requiredLeft > 0 ? 1 : 0;
      plan.push({
        step: { namespace, collection: def.name, peer, endpoint: endpointOf.get(toHex(peer)) ?? "", minAck },
        msg,
        criteria: { timeoutMs, channel: channelId, maxPeers: 1, minAck, isEligible: (m) => bytesEqual(m.pkiId, peer) },
      });
      if (requiredLeft > 0) requiredLeft--;
      maxLeft--;
    };
    const rest: PKIidType[] = [];
    if (maxLeft > 0) {
      // Orgs in a random order (Fabric ranges over a Go map).
      for (const [, orgPeers] of random.shuffle([...byOrg.entries()])) {
        const chosen = random.int(orgPeers.length);
        add(orgPeers[chosen]!);
        orgPeers.forEach((p, i) => {
          if (i !== chosen) rest.push(p);
        });
        if (maxLeft === 0) return plan;
      }
    }
    while (maxLeft > 0 && rest.length > 0) {
      const [peer] = rest.splice(random.int(rest.length), 1);
      add(peer!);
    }
    return plan;
  };

  /** Fabric's `computeDisseminationPlan`. */
  const computePlan = (txId: string, data: TxPvtReadWriteSetWithConfigInfo, blockHeight: bigint): PlannedSend[] => {
    const plan: PlannedSend[] = [];
    for (const ns of data.pvtRwset?.nsPvtRwset ?? []) {
      const pkg = data.collectionConfigs[ns.namespace];
      if (pkg === undefined) {
        throw new PvtTransferError("NO_COLLECTION_CONFIG", `collection config package for ${ns.namespace} chaincode is not provided`);
      }
      for (const coll of ns.collectionPvtRwset) {
        const def = definitionOf(ns.namespace, coll, pkg);
        plan.push(...planForCollection(ns.namespace, def, messageOf(txId, ns.namespace, coll, def, blockHeight)));
      }
    }
    return plan;
  };

  return {
    plan: (txId, data, blockHeight) => computePlan(txId, data, blockHeight).map((p) => p.step),

    async distribute(txId, data, blockHeight) {
      const plan = computePlan(txId, data, blockHeight);
      const start = clock.monotonic();
      const outcomes = await Promise.all(
        plan.map(async (p) => {
          try {
            await gossip.sendByCriteria(p.msg, p.criteria);
            return true;
          } catch (err) {
            log.error("failed disseminating a private write set", {
              txId,
              namespace: p.step.namespace,
              collection: p.step.collection,
              peer: p.step.endpoint,
              error: errorMessage(err),
            });
            return false;
          } finally {
            metrics.sendDuration.observe({ channel: channelId }, (clock.monotonic() - start) / 1000);
          }
        }),
      );
      const failures = outcomes.filter((ok) => !ok).length;
      if (failures > 0) {
        throw new PvtTransferError("DISSEMINATION_FAILED", `Failed disseminating ${failures} out of ${plan.length} private dissemination plans`);
      }
    },
  };
}
