import type { PvtDataDigest } from "../protos/gen/gossip/message.pb.js";

/**
 * The private data a peer wants of one collection of one transaction: Fabric's `privdatacommon.DigKey` (as
 * the wire's PvtDataDigest) plus what the puller needs to choose whom to ask.
 */
export interface PvtDataWanted {
  digest: PvtDataDigest;
  /**
   * Serialized identities of the transaction's endorsers: asked first at commit time (Fabric's
   * preferred peers). Empty for reconciliation, where peers eligible under the collection config in
   * force at the data's block are preferred instead.
   */
  endorsers: readonly Uint8Array[];
}

/** One collection's private write set as a peer sent it (RemotePvtDataResponse element payloads). */
export interface FetchedElement {
  digest: PvtDataDigest;
  /** The collection's private write set bytes as Fabric sends them: the serialized `kvrwset.KVRWSet` (one per element in practice), whose SHA-256 is the block's `pvt_rwset_hash`. */
  payload: readonly Uint8Array[];
}

/** What a fetch found: Fabric's `privdatacommon.FetchedPvtDataContainer`. */
export interface FetchedPvtData {
  /** Elements returned by peers. Not yet checked against the block's hashes: the caller does that. */
  available: FetchedElement[];
  /** Digests every candidate peer has presumably purged (blockToLive passed); not to be asked again. */
  purged: PvtDataDigest[];
}

/**
 * Fetches private data from other peers of the channel (Fabric's `privdata.puller`): at commit time
 * (`"commit"`, endorsers preferred) and for reconciliation (`"reconcile"`). Resolves with what was found
 * once nothing is missing, no candidate is left, or the wait per round ran out; never rejects for a
 * peer's misbehaviour (that is logged and counted).
 */
export interface PvtDataFetcher {
  fetch(wanted: readonly PvtDataWanted[], mode: "commit" | "reconcile"): Promise<FetchedPvtData>;
}
