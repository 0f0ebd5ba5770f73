import { digestKey } from "../../protoext/index.js";
import { PullMsgType } from "../../protos/gen/gossip/message.pb.js";
import { fromHex, utf8 } from "../../util/index.js";

/**
 * The item ID of a digest on the wire. Fabric uses `string(digestBytes)`; here identity digests
 * (raw PKI-IDs) become lower-case hex and other digests their UTF-8 text (a block's decimal
 * sequence number), as `protoext.digestKey` does.
 */
export function itemIdOfDigest(msgType: PullMsgType, digest: Uint8Array): string {
  return digestKey(digest, msgType !== PullMsgType.IDENTITY_MSG);
}

/** The digest bytes of an item ID: the inverse of `itemIdOfDigest`. */
export function digestOfItemId(msgType: PullMsgType, itemId: string): Uint8Array {
  return msgType === PullMsgType.IDENTITY_MSG ? fromHex(itemId) : utf8(itemId);
}
