import type { MessageCryptoService, PeerIdentityInfo, RemotePeer } from "../api/index.js";
import type { IdentityDeserializer, SignedData } from "../channelconfig/index.js";
import type { NetworkMember } from "../discovery/index.js";
import type { SubChannelSelectionCriteria } from "../gossip/channel/index.js";
import type { RoutingFilter } from "../gossip/filter/index.js";
import type { SendCriteria } from "../gossip/node/index.js";
import type { Logger } from "../logging/index.js";
import type { ReceivedMessage } from "../protoext/index.js";
import { type GossipMessage, PvtDataDigest } from "../protos/gen/gossip/message.pb.js";
import type { StaticCollectionConfig } from "../protos/gen/peer/collection.pb.js";
import { type Clock, errorMessage, type Random, toHex } from "../util/index.js";
import { type CollectionDefinition, collectionDefinitionOf, memberOrgsPolicyBytes } from "./collections.js";
import { type CollectionAccess, createCollectionAccess } from "./eligibility.js";
import { sha256 } from "./hashes.js";
import type { PrivdataMetrics } from "./metrics.js";
import { PvtTransferError } from "./transfer-errors.js";

/**
 * What the distributor, push receiver, puller and responder need from the gossip node (Fabric's privdata
 * `gossipAdapter` and `gossip` interfaces). A `GossipNode` satisfies it as it is.
 */
export interface PvtDataGossip {
  /** Subscribes to raw received messages (private data kinds 23-25 reach only pass-through subscribers). */
  acceptPassThrough(acceptor: (msg: ReceivedMessage) => boolean, handler: (msg: ReceivedMessage) => void): () => void;
  /** Sends a message (NoopSigned) point to point. */
  send(msg: GossipMessage, ...peers: RemotePeer[]): void;
  /** Sends with acknowledgements to peers chosen by `criteria`; rejects when fewer than minAck acknowledge. */
  sendByCriteria(msg: GossipMessage, criteria: SendCriteria): Promise<void>;
  /** The channel's members with their StateInfo properties (ledger height). */
  peersOfChannel(channel: string): NetworkMember[];
  /** The channel's members whose signed StateInfo satisfies `criteria`. */
  peerFilter(channel: string, criteria: SubChannelSelectionCriteria): RoutingFilter<NetworkMember>;
  /** The identities known, with their organizations (MSP IDs as bytes). */
  identityInfo(): PeerIdentityInfo[];
}

/** The parts every private data transfer component of one channel is built from. */
export interface PvtTransferComponents {
  channelId: string;
  gossip: PvtDataGossip;
  /**
   * The channel's MSPs in the configuration in force (read at each use: config updates replace them);
   * undefined while there are none (then no peer is eligible for anything).
   */
  deserializer: () => IdentityDeserializer | undefined;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: PrivdataMetrics;
}

/** The handshake's signed data of a connection, as a collection's access filter reads it; undefined without a handshake. */
export function requesterSignedData(msg: ReceivedMessage): SignedData | undefined {
  const auth = msg.connectionInfo.auth;
  if (auth === undefined) return undefined;
  return { data: auth.signedData, signature: auth.signature, identity: msg.connectionInfo.identity };
}

/**
 * Fabric's pull topic of a digest: hex SHA-256 of the marshaled `PvtDataDigest` (`pull.go hashDigest`). Two
 * digests with the same fields have the same key.
 */
export function pvtDataDigestKey(digest: PvtDataDigest): string {
  return toHex(sha256(PvtDataDigest.encode(digest).finish()));
}

/** A digest for logs: `ns/coll@block:seq tx`. */
export function describeDigest(d: PvtDataDigest): string {
  return `${d.namespace}/${d.collection}@${d.blockSeq}:${d.seqInBlock}${d.txId === "" ? "" : ` ${d.txId.slice(0, 8)}`}`;
}

/** Compiled policies kept at most; past it the cache starts again (configs from messages are not trusted to be few). */
const MAX_CACHED_POLICIES = 1_000;

/**
 * Compiled collection access policies, by collection name and member orgs policy (implicit collections are
 * generated afresh by every store lookup), rebuilt when the channel's MSPs change (a new deserializer).
 */
export class CollectionAccessCache {
  readonly #deserializer: () => IdentityDeserializer | undefined;
  #msps: IdentityDeserializer | undefined;
  #cache = new Map<string, CollectionAccess>();

  constructor(deserializer: () => IdentityDeserializer | undefined) {
    this.#deserializer = deserializer;
  }

  /** The access policy of `collection`. Throws PvtTransferError BAD_COLLECTION_CONFIG when it does not compile or the channel has no MSPs. */
  of(collection: CollectionDefinition): CollectionAccess {
    const msps = this.#deserializer();
    if (msps === undefined) throw new PvtTransferError("BAD_COLLECTION_CONFIG", `collection ${collection.name}: the channel has no MSPs to evaluate its policy with`);
    if (msps !== this.#msps || this.#cache.size >= MAX_CACHED_POLICIES) {
      this.#msps = msps;
      this.#cache = new Map();
    }
    const key = `${collection.name}\u0000${toHex(memberOrgsPolicyBytes(collection))}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    let access: CollectionAccess;
    try {
      access = createCollectionAccess(collection, msps);
    } catch (err) {
      throw new PvtTransferError("BAD_COLLECTION_CONFIG", `collection ${collection.name}: ${errorMessage(err)}`, { cause: err });
    }
    this.#cache.set(key, access);
    return access;
  }

  /** The access policy of a config a message carried. Throws PvtTransferError BAD_COLLECTION_CONFIG. */
  ofConfig(config: StaticCollectionConfig): CollectionAccess {
    let def: CollectionDefinition;
    try {
      def = collectionDefinitionOf(config);
    } catch (err) {
      throw new PvtTransferError("BAD_COLLECTION_CONFIG", errorMessage(err), { cause: err });
    }
    return this.of(def);
  }
}

/** A routing filter of the channel's peers whose signed StateInfo satisfies the collection's access filter. */
export function collectionPeerFilter(gossip: PvtDataGossip, channelId: string, access: CollectionAccess): RoutingFilter<NetworkMember> {
  return gossip.peerFilter(channelId, (sig) => access.accessFilter({ data: sig.message, signature: sig.signature, identity: sig.peerIdentity }));
}

/** What the MCS offers to check a sender's handshake against the channel's Readers policy. */
export type VerifyByChannel = Pick<MessageCryptoService, "verifyByChannel">;
