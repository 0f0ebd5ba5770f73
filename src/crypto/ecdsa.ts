import { type KeyObject, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import {
  bigintToBytes,
  bytesToBigint,
  DER_TAG,
  DerError,
  derSequence,
  derUnsignedInteger,
  expectDerItem,
  positiveIntegerBytes,
} from "./der.js";
import { CryptoError } from "./errors.js";

/** An elliptic curve this folder knows the group order of. */
export interface EcCurve {
  /** The WebCrypto / Go name. */
  readonly name: "P-256" | "P-384";
  /** OpenSSL's name, as node reports it in `asymmetricKeyDetails.namedCurve`. */
  readonly opensslName: "prime256v1" | "secp384r1";
  /** The order n of the base point. */
  readonly n: bigint;
  /** n >> 1: the largest s Fabric accepts (`IsLowS` is s <= n/2). */
  readonly halfN: bigint;
  /** Bytes of a coordinate and of r and s in IEEE P1363 form. */
  readonly size: number;
}

const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P384_N =
  0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;

/** NIST P-256 (secp256r1, prime256v1): the curve of every Fabric identity this project accepts. */
export const P256: EcCurve = { name: "P-256", opensslName: "prime256v1", n: P256_N, halfN: P256_N >> 1n, size: 32 };

/** NIST P-384: only so that certificates signed by a P-384 CA can be put in low-S form. */
export const P384: EcCurve = { name: "P-384", opensslName: "secp384r1", n: P384_N, halfN: P384_N >> 1n, size: 48 };

/** The curve of an EC key, or undefined for other keys and curves. */
export function curveOfKey(key: KeyObject): EcCurve | undefined {
  if (key.asymmetricKeyType !== "ec") return undefined;
  const name = key.asymmetricKeyDetails?.namedCurve;
  if (name === P256.opensslName) return P256;
  if (name === P384.opensslName) return P384;
  return undefined;
}

/** An ECDSA signature as two integers. */
export interface EcdsaSignature {
  r: bigint;
  s: bigint;
}

/** Fabric's `IsLowS`: s <= n/2. */
export function isLowS(s: bigint, curve: EcCurve = P256): boolean {
  return s <= curve.halfN;
}

/** Fabric's `ToLowS`: s when it is low, n - s otherwise. Both (r, s) and (r, n - s) verify. */
export function toLowS(s: bigint, curve: EcCurve = P256): bigint {
  return s > curve.halfN ? curve.n - s : s;
}

/**
 * Fabric's `MarshalECDSASignature`: DER `SEQUENCE { INTEGER r, INTEGER s }` as Go's asn1 writes it.
 */
export function marshalEcdsaSignature(r: bigint, s: bigint): Uint8Array {
  return derSequence(derUnsignedInteger(bigintToBytes(r)), derUnsignedInteger(bigintToBytes(s)));
}

/**
 * Parses a DER ECDSA signature strictly: one SEQUENCE of exactly two minimally encoded, strictly
 * positive INTEGERs and nothing after it. (Fabric's `UnmarshalECDSASignature` goes through Go's asn1,
 * which is as strict about integer and length encodings but tolerates trailing bytes; a Fabric peer
 * never produces those, so rejecting them loses no interoperability.) Throws CryptoError
 * BAD_SIGNATURE.
 */
export function unmarshalEcdsaSignature(der: Uint8Array): EcdsaSignature {
  const [r, s] = splitEcdsaSignature(der);
  return { r: bytesToBigint(r), s: bytesToBigint(s) };
}

function splitEcdsaSignature(der: Uint8Array): [Uint8Array, Uint8Array] {
  try {
    const seq = expectDerItem(der, 0, DER_TAG.SEQUENCE);
    if (seq.end !== der.byteLength) throw new DerError("trailing bytes after the signature");
    const rItem = expectDerItem(der, seq.contentStart, DER_TAG.INTEGER, seq.end);
    const sItem = expectDerItem(der, rItem.end, DER_TAG.INTEGER, seq.end);
    if (sItem.end !== seq.end) throw new DerError("extra items in the signature");
    return [positiveIntegerBytes(der, rItem), positiveIntegerBytes(der, sItem)];
  } catch (err) {
    if (err instanceof DerError) {
      throw new CryptoError("BAD_SIGNATURE", `malformed ECDSA signature: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Fabric's `SignatureToLowS`: the canonical DER of (r, lowS(s)). Returns the input itself when it
 * already is exactly that, so callers can tell by identity whether anything changed.
 */
export function signatureToLowS(der: Uint8Array, curve: EcCurve = P256): Uint8Array {
  const { r, s } = unmarshalEcdsaSignature(der);
  const canonical = marshalEcdsaSignature(r, toLowS(s, curve));
  return Buffer.compare(canonical, der) === 0 ? der : canonical;
}

/** DER low-S signature from an IEEE P1363 `r || s` one (what node and WebCrypto produce). */
export function p1363ToLowSDer(raw: Uint8Array, curve: EcCurve = P256): Uint8Array {
  if (raw.byteLength !== 2 * curve.size) {
    throw new CryptoError("BAD_SIGNATURE", `expected a ${2 * curve.size}-byte P1363 signature, got ${raw.byteLength}`);
  }
  const rBytes = raw.subarray(0, curve.size);
  let s = bytesToBigint(raw.subarray(curve.size));
  if (s > curve.halfN) s = curve.n - s;
  return derSequence(derUnsignedInteger(rBytes), derUnsignedInteger(bigintToBytes(s)));
}

/**
 * Signs SHA-256(msg) as Fabric's bccsp `signECDSA` does: ECDSA, then s made low, then DER. About half
 * of raw ECDSA signatures are high-S, and every Fabric peer rejects those.
 */
export function ecdsaSign(privateKey: KeyObject, msg: Uint8Array, curve: EcCurve = P256): Uint8Array {
  const raw = nodeSign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
  return p1363ToLowSDer(raw, curve);
}

/**
 * Checks a DER ECDSA signature over SHA-256(msg) as Fabric's bccsp `verifyECDSA` does: strict parse,
 * r and s in [1, n-1], s <= n/2 (else HIGH_S_SIGNATURE), then the curve check (else BAD_SIGNATURE).
 */
export function ecdsaVerify(publicKey: KeyObject, signature: Uint8Array, msg: Uint8Array, curve: EcCurve = P256): void {
  const [rBytes, sBytes] = splitEcdsaSignature(signature);
  if (rBytes.byteLength > curve.size || sBytes.byteLength > curve.size) {
    throw new CryptoError("BAD_SIGNATURE", "ECDSA signature integers are longer than the curve order");
  }
  const r = bytesToBigint(rBytes);
  const s = bytesToBigint(sBytes);
  if (r >= curve.n || s >= curve.n) {
    throw new CryptoError("BAD_SIGNATURE", "ECDSA signature integers are not below the curve order");
  }
  if (s > curve.halfN) {
    throw new CryptoError(
      "HIGH_S_SIGNATURE",
      "invalid S: it must be smaller than half the curve order (Fabric accepts only low-S signatures); the signer must normalise s to n - s",
    );
  }
  let ok: boolean;
  try {
    ok = nodeVerify("sha256", msg, { key: publicKey, dsaEncoding: "der" }, signature);
  } catch (err) {
    throw new CryptoError("BAD_SIGNATURE", "ECDSA verification failed to run", { cause: err });
  }
  if (!ok) throw new CryptoError("BAD_SIGNATURE", "ECDSA signature does not verify against the identity's public key");
}
