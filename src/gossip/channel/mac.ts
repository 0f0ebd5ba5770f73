import { createHash } from "node:crypto";
import type { PKIidType } from "../../api/index.js";
import { utf8 } from "../../util/index.js";

/**
 * Fabric's `channel.GenerateMAC`: SHA-256(pkiId || channelId). There is no key: it proves that the
 * sender of a StateInfo or StateInfoPullRequest knows the channel name without revealing it.
 */
export function generateMAC(pkiId: PKIidType, channelId: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(pkiId).update(utf8(channelId)).digest());
}
