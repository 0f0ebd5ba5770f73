import { createHash } from "node:crypto";
import type { CollectionPvtReadWriteSet } from "../protos/gen/ledger/rwset/rwset.pb.js";
import { bytesEqual } from "../util/index.js";

/** SHA-256 of the bytes (of the parts one after the other, as Fabric hashes a proposal's parts). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * The private write set matches the block: SHA-256 of the collection's `KVRWSet` bytes, exactly as they were
 * disseminated (never re-encoded), equals the block's `pvt_rwset_hash`. An empty expected hash matches
 * nothing.
 */
export function pvtRwsetHashMatches(kvRwSetBytes: Uint8Array, expectedHash: Uint8Array): boolean {
  return expectedHash.length === 32 && bytesEqual(sha256(kvRwSetBytes), expectedHash);
}

/** The same for a `CollectionPvtReadWriteSet` (its `rwset` bytes are the KVRWSet). */
export function collectionPvtRwsetMatches(collection: CollectionPvtReadWriteSet, expectedHash: Uint8Array): boolean {
  return pvtRwsetHashMatches(collection.rwset, expectedHash);
}
