/**
 * The little DER (ASN.1 Distinguished Encoding Rules) this folder needs: strict reading of
 * tag-length-value items, and writing of INTEGER, OCTET STRING, BIT STRING and SEQUENCE the way Go's
 * `encoding/asn1.Marshal` writes them. Internal to src/crypto.
 */

/** Universal tags used here. */
export const DER_TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
} as const;

/** One tag-length-value item inside a buffer. */
export interface DerItem {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

/** Thrown by the reader on anything that is not strict DER; callers map it to their own error. */
export class DerError extends Error {}

/**
 * Reads the item at `offset`, refusing what DER forbids: multi-byte tags, indefinite lengths,
 * non-minimal length encodings, and items running past `limit`.
 */
export function readDerItem(buf: Uint8Array, offset: number, limit = buf.byteLength): DerItem {
  if (offset + 2 > limit) throw new DerError("truncated item");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  const first = buf[offset + 1]!;
  let pos = offset + 2;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError("indefinite length is not DER");
    if (n > 4) throw new DerError("length too large");
    if (pos + n > limit) throw new DerError("truncated length");
    if (buf[pos] === 0) throw new DerError("non-minimal length encoding");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos + i]!;
    if (length < 0x80) throw new DerError("non-minimal length encoding");
    pos += n;
  }
  if (pos + length > limit) throw new DerError("content runs past the end");
  return { tag, start: offset, contentStart: pos, end: pos + length };
}

/** Reads an item and checks its tag. */
export function expectDerItem(buf: Uint8Array, offset: number, tag: number, limit = buf.byteLength): DerItem {
  const item = readDerItem(buf, offset, limit);
  if (item.tag !== tag) {
    throw new DerError(`expected tag 0x${tag.toString(16)}, found 0x${item.tag.toString(16)}`);
  }
  return item;
}

/**
 * The magnitude bytes of a strictly encoded, strictly positive INTEGER item (no leading sign byte).
 * Rejects empty, non-minimal, negative and zero values.
 */
export function positiveIntegerBytes(buf: Uint8Array, item: DerItem): Uint8Array {
  const len = item.end - item.contentStart;
  if (len === 0) throw new DerError("empty INTEGER");
  const b0 = buf[item.contentStart]!;
  if (b0 & 0x80) throw new DerError("negative INTEGER");
  if (len > 1 && b0 === 0 && (buf[item.contentStart + 1]! & 0x80) === 0) {
    throw new DerError("INTEGER not minimally encoded");
  }
  const mag = b0 === 0 ? buf.subarray(item.contentStart + 1, item.end) : buf.subarray(item.contentStart, item.end);
  if (mag.byteLength === 0) throw new DerError("INTEGER is zero");
  return mag;
}

/** The DER header (tag and length) for content of `length` bytes. */
export function derHeader(tag: number, length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(tag, length);
  const bytes: number[] = [];
  for (let l = length; l > 0; l = Math.floor(l / 256)) bytes.unshift(l & 0xff);
  return Uint8Array.of(tag, 0x80 | bytes.length, ...bytes);
}

/** A complete TLV item from a tag and its content parts. */
export function derEncode(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const header = derHeader(tag, length);
  const out = new Uint8Array(header.byteLength + length);
  out.set(header, 0);
  let pos = header.byteLength;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}

/** A SEQUENCE of already encoded items. */
export function derSequence(...items: Uint8Array[]): Uint8Array {
  return derEncode(DER_TAG.SEQUENCE, ...items);
}

/** An OCTET STRING. */
export function derOctetString(content: Uint8Array): Uint8Array {
  return derEncode(DER_TAG.OCTET_STRING, content);
}

/** A BIT STRING with no unused bits. */
export function derBitString(content: Uint8Array): Uint8Array {
  return derEncode(DER_TAG.BIT_STRING, Uint8Array.of(0), content);
}

/**
 * An INTEGER from unsigned big-endian magnitude bytes, minimally encoded as Go's asn1 does for a
 * non-negative big.Int: leading zero bytes dropped, one 0x00 added when the top bit is set, zero is
 * `02 01 00`.
 */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.byteLength - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  if (m.byteLength === 0) return Uint8Array.of(DER_TAG.INTEGER, 1, 0);
  return (m[0]! & 0x80) !== 0 ? derEncode(DER_TAG.INTEGER, Uint8Array.of(0), m) : derEncode(DER_TAG.INTEGER, m);
}

/** Big-endian magnitude bytes of a non-negative bigint (zero gives one zero byte). */
export function bigintToBytes(v: bigint, width = 0): Uint8Array {
  if (v < 0n) throw new RangeError("negative value");
  let hex = v.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (width * 2 > hex.length) hex = hex.padStart(width * 2, "0");
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** The non-negative bigint of big-endian magnitude bytes. */
export function bytesToBigint(b: Uint8Array): bigint {
  if (b.byteLength === 0) return 0n;
  return BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")}`);
}

/** The parts of a signed X.509 structure (Certificate or CertificateList). */
export interface SignedDerParts {
  /** The whole to-be-signed item (tag and length included), as it was encoded. */
  tbs: Uint8Array;
  /** The whole signatureAlgorithm AlgorithmIdentifier item. */
  algorithm: Uint8Array;
  /** The content bytes of the algorithm OID. */
  algorithmOid: Uint8Array;
  /** The signature bytes (BIT STRING content without the unused-bits byte). */
  signature: Uint8Array;
}

/** Splits `SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING }`, rejecting trailing bytes. */
export function splitSignedDer(der: Uint8Array): SignedDerParts {
  const outer = expectDerItem(der, 0, DER_TAG.SEQUENCE);
  if (outer.end !== der.byteLength) throw new DerError("trailing bytes after the structure");
  const tbs = expectDerItem(der, outer.contentStart, DER_TAG.SEQUENCE, outer.end);
  const alg = expectDerItem(der, tbs.end, DER_TAG.SEQUENCE, outer.end);
  const oid = expectDerItem(der, alg.contentStart, DER_TAG.OID, alg.end);
  const sig = expectDerItem(der, alg.end, DER_TAG.BIT_STRING, outer.end);
  if (sig.end !== outer.end) throw new DerError("unexpected items after the signature");
  if (sig.end - sig.contentStart < 1 || der[sig.contentStart] !== 0) {
    throw new DerError("signature BIT STRING has unused bits");
  }
  return {
    tbs: der.subarray(tbs.start, tbs.end),
    algorithm: der.subarray(alg.start, alg.end),
    algorithmOid: der.subarray(oid.contentStart, oid.end),
    signature: der.subarray(sig.contentStart + 1, sig.end),
  };
}
