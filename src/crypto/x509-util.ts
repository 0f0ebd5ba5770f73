import { type KeyObject, verify as nodeVerify, type X509Certificate } from "node:crypto";
import { derBitString, derSequence, splitSignedDer } from "./der.js";
import { type EcCurve, signatureToLowS } from "./ecdsa.js";

/** OID content bytes of 1.2.840.10045.4 (ecdsa-with-*), the prefix of every ECDSA signature algorithm. */
const ECDSA_WITH_PREFIX = Buffer.from("2a8648ce3d04", "hex");

/** Signature algorithm OIDs (content bytes, hex) to the hash they use. */
const SIGNATURE_HASHES: Record<string, string> = {
  "2a8648ce3d040301": "sha224",
  "2a8648ce3d040302": "sha256",
  "2a8648ce3d040303": "sha384",
  "2a8648ce3d040304": "sha512",
  "2a864886f70d01010b": "sha256",
  "2a864886f70d01010c": "sha384",
  "2a864886f70d01010d": "sha512",
};

/** Fabric's `isECDSASignedCert`: the signature algorithm is one of ecdsa-with-SHA*. */
export function isEcdsaSignatureAlgorithm(oid: Uint8Array): boolean {
  return oid.byteLength > ECDSA_WITH_PREFIX.byteLength && ECDSA_WITH_PREFIX.equals(oid.subarray(0, ECDSA_WITH_PREFIX.byteLength));
}

/**
 * Fabric's `sanitizeECDSASignedCert`: when an ECDSA-signed certificate carries a high-S or
 * non-canonical signature, re-encode it with the canonical low-S signature (which verifies just the
 * same). Fabric serializes identities from the sanitized certificate, so a peer's id_bytes - and so
 * its PKI-ID - depend on this. Returns the input itself when nothing changes.
 * @param issuerCurve the curve of the issuing CA's key (the certificate's own for a root).
 */
export function sanitizeEcdsaSignedCert(der: Uint8Array, issuerCurve: EcCurve): Uint8Array {
  const parts = splitSignedDer(der);
  if (!isEcdsaSignatureAlgorithm(parts.algorithmOid)) return der;
  const lowS = signatureToLowS(parts.signature, issuerCurve);
  if (lowS === parts.signature) return der;
  return derSequence(parts.tbs, parts.algorithm, derBitString(lowS));
}

/**
 * Checks the signature of a signed X.509 structure (a certificate or a CRL) against `issuerKey`.
 * Returns false on any mismatch or unknown algorithm; never throws.
 */
export function verifySignedDer(der: Uint8Array, issuerKey: KeyObject): boolean {
  try {
    const parts = splitSignedDer(der);
    const hash = SIGNATURE_HASHES[Buffer.from(parts.algorithmOid).toString("hex")];
    if (hash === undefined) return false;
    return nodeVerify(hash, parts.tbs, issuerKey, parts.signature);
  } catch {
    return false;
  }
}

/** A certificate's validity window as Dates. */
export function certValidity(cert: X509Certificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

/** A serial number as lower-case hex without leading zeros, for comparing CRL entries to certificates. */
export function normaliseSerial(hex: string): string {
  const s = hex.toLowerCase().replace(/[^0-9a-f]/g, "").replace(/^0+/, "");
  return s === "" ? "0" : s;
}
