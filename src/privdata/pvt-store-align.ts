/**
 * Agreement between a channel's block store and its private data store after a restart.
 *
 * The commit order is Fabric's (kvledger `commitToPvtAndBlockStore`): block N's private data is committed to
 * the private data store first, then block N is appended to the block store. Each store is crash-safe on its
 * own (a torn last write is cut off at open), so after a crash:
 * - `in-sync`: both hold blocks [0, h).
 * - `pvt-ahead` by 1: the crash came between the two writes. The block store misses block h-1, which the peer
 *   fetches again; when it arrives its private data is NOT committed again (`shouldCommitPvtData` is false) —
 *   the store already has it, as Fabric's `isPvtstoreAheadOfBlkstore` skips it. More than one block ahead
 *   only happens when the block store was reset or restored from an older copy; the same rule applies to
 *   every block below the private data store's height.
 * - `pvt-behind` by k: cannot result from a crash under this order (a block is appended only after its
 *   private data commit resolved); it means the private data store was lost or restored from an older copy.
 *   The host must commit blocks [pvtHeight, blockHeight) to it again before any new block: their data from
 *   the transient store if still there, everything else as eligible or ineligible missing markers, so the
 *   reconciler fetches what the peer may hold.
 */
export type StoreAlignment =
  | { readonly state: "in-sync"; readonly height: bigint }
  | { readonly state: "pvt-ahead"; readonly blocks: bigint; readonly pvtHeight: bigint; readonly blockHeight: bigint }
  | { readonly state: "pvt-behind"; readonly blocks: bigint; readonly pvtHeight: bigint; readonly blockHeight: bigint };

export function alignPvtStoreWithBlockStore(pvtHeight: bigint, blockHeight: bigint): StoreAlignment {
  if (pvtHeight === blockHeight) return { state: "in-sync", height: blockHeight };
  if (pvtHeight > blockHeight) return { state: "pvt-ahead", blocks: pvtHeight - blockHeight, pvtHeight, blockHeight };
  return { state: "pvt-behind", blocks: blockHeight - pvtHeight, pvtHeight, blockHeight };
}

/** Whether block `blockNum`'s private data is to be committed (false: the private data store already has it). */
export function shouldCommitPvtData(pvtHeight: bigint, blockNum: bigint): boolean {
  return blockNum >= pvtHeight;
}
