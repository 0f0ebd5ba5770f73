import { createHash } from "node:crypto";
import { type PKIidType, type PkiHex, pkiKey } from "../../api/index.js";
import { utf8 } from "../../util/index.js";

/** MACs remembered per channel before the memo starts over (members of a channel, with room to spare). */
export const MAC_MEMO_LIMIT = 16_384;

/**
 * Channels remembered at most; past it the channel memoised first is dropped. The memo lives as long as
 * the process: a peer (or the simulator) that joins and leaves channel after channel must not keep them all.
 */
export const MAC_MEMO_CHANNELS = 256;

const memo = new Map<string, Map<PkiHex, Uint8Array>>();

/** Channels in the memo (for tests). */
export function macMemoChannels(): number {
  return memo.size;
}

/**
 * Fabric's `channel.GenerateMAC`: SHA-256(pkiId || channelId). There is no key: it proves that the
 * sender of a StateInfo or StateInfoPullRequest knows the channel name without revealing it.
 * A pure function of its inputs, so it is memoised: every StateInfo received is checked against it,
 * 100 entries per snapshot, and the same members' MACs come back over and over. The returned array
 * is shared: callers only read it.
 */
export function generateMAC(pkiId: PKIidType, channelId: string): Uint8Array {
  let byPeer = memo.get(channelId);
  if (byPeer === undefined) {
    if (memo.size >= MAC_MEMO_CHANNELS) memo.delete(memo.keys().next().value as string);
    byPeer = new Map();
    memo.set(channelId, byPeer);
  }
  const key = pkiKey(pkiId);
  let mac = byPeer.get(key);
  if (mac === undefined) {
    // Bounded: unknown PKI-IDs (forged StateInfo) must not grow it without limit.
    if (byPeer.size >= MAC_MEMO_LIMIT) byPeer.clear();
    mac = new Uint8Array(createHash("sha256").update(pkiId).update(utf8(channelId)).digest());
    byPeer.set(key, mac);
  }
  return mac;
}
