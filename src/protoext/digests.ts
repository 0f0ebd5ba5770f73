import { fromUtf8, toHex, utf8 } from "../util/index.js";

const UINT64_MAX = (1n << 64n) - 1n;
const DECIMAL = /^[0-9]+$/;

/**
 * The pull digest of a block: its sequence number as decimal ASCII (Fabric's `pull` block IDs are
 * `strconv.FormatUint(seq, 10)`; v1.2 sent them as proto strings, wire-identical to these bytes).
 */
export function blockDigest(seqNum: bigint): Uint8Array {
  return utf8(seqNum.toString(10));
}

/**
 * The sequence number in a block digest, or undefined when it is not a decimal uint64
 * (Fabric's `strconv.ParseUint(string(digest), 10, 64)`, which also accepts leading zeros).
 */
export function parseBlockDigest(digest: Uint8Array): bigint | undefined {
  const s = fromUtf8(digest);
  if (!DECIMAL.test(s)) return undefined;
  // Leading zeros are legal; more than 20 significant digits cannot fit (and keeps BigInt parsing cheap).
  const significant = s.replace(/^0+(?=.)/, "");
  if (significant.length > 20) return undefined;
  const seq = BigInt(significant);
  return seq <= UINT64_MAX ? seq : undefined;
}

/** A pull item's ID as a map key: the block digest string as is; identity digests (raw PKI-IDs) in hex. */
export function digestKey(digest: Uint8Array, isBlock: boolean): string {
  return isBlock ? fromUtf8(digest) : toHex(digest);
}
