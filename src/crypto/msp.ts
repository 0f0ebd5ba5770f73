import "reflect-metadata";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { X509Crl } from "@peculiar/x509";
import { createHash, createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../logging/index.js";
import { SerializedIdentity } from "../protos/gen/msp/identities.pb.js";
import { type Clock, latin1 } from "../util/index.js";
import { DerError, splitSignedDer } from "./der.js";
import { curveOfKey, type EcCurve, ecdsaSign, ecdsaVerify, marshalEcdsaSignature, P256, unmarshalEcdsaSignature } from "./ecdsa.js";
import { CryptoError } from "./errors.js";
import { LruCache } from "./lru.js";
import { decodeAllPem, decodePem, encodePem } from "./pem.js";
import { certValidity, isEcdsaSignatureAlgorithm, normaliseSerial, sanitizeEcdsaSignedCert, verifySignedDer } from "./x509-util.js";

/**
 * The public material of one organization's MSP, as plain JSON-able data (PEM strings): what a peer
 * needs to validate that org's identities. Fabric's `msp.FabricMSPConfig`, reduced to what gossip uses.
 */
export interface MspOrgMaterial {
  mspId: string;
  /** Root CA certificates (`cacerts/`). At least one. */
  rootCerts: string[];
  /** Intermediate CA certificates (`intermediatecerts/`). */
  intermediateCerts: string[];
  /** Certificate revocation lists, PEM "X509 CRL" (`crls/`). */
  crls: string[];
  /** TLS root CAs (`tlscacerts/`): not used to validate identities; for comm. */
  tlsRootCerts: string[];
  /** TLS intermediate CAs (`tlsintermediatecerts/`). */
  tlsIntermediateCerts: string[];
}

/** Default bound on the identity cache: distinct identities remembered (parsed key and verdict). */
export const IDENTITY_CACHE_SIZE = 10_000;
/**
 * Identities refused (malformed, unknown MSP, not chaining to a CA, revoked) cached apart, and few: anyone can
 * send junk identities, each different, and each entry holds its bytes and parse (~3 KB), so they must not push
 * out the valid ones (which only a CA can mint) nor fill 10,000 entries. Repeats of one bad identity still hit.
 */
export const REFUSED_IDENTITY_CACHE_SIZE = 256;

/** Fabric's MSP folder layout (`msp/configbuilder.go`). */
export const MSP_FOLDERS = {
  cacerts: "cacerts",
  intermediatecerts: "intermediatecerts",
  signcerts: "signcerts",
  keystore: "keystore",
  crls: "crls",
  tlscacerts: "tlscacerts",
  tlsintermediatecerts: "tlsintermediatecerts",
} as const;

// ---------------------------------------------------------------------------------------------
// Serialized identities and PKI-IDs

/** A decoded `msp.SerializedIdentity`. */
export interface DecodedIdentity {
  mspId: string;
  idBytes: Uint8Array;
}

/** `msp.SerializedIdentity{mspid, id_bytes}` encoded with the generated codec. */
export function serializeIdentity(mspId: string, idBytes: Uint8Array): Uint8Array {
  return SerializedIdentity.encode({ mspid: mspId, idBytes }).finish();
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes `msp.SerializedIdentity` as Go's proto.Unmarshal does, including its refusal of a string
 * field that is not valid UTF-8 (the MSP ID bytes feed the PKI-ID, so they must not be "repaired").
 * Throws CryptoError MALFORMED_IDENTITY.
 */
export function deserializeIdentity(bytes: Uint8Array): DecodedIdentity {
  if (bytes.byteLength === 0) throw new CryptoError("MALFORMED_IDENTITY", "empty identity: expected a serialized msp.SerializedIdentity");
  let mspRaw: Uint8Array = new Uint8Array(0);
  let idBytes: Uint8Array = new Uint8Array(0);
  try {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [fieldNo, wireType] = reader.tag();
      if (fieldNo === 1 && wireType === WireType.LengthDelimited) mspRaw = reader.bytes();
      else if (fieldNo === 2 && wireType === WireType.LengthDelimited) idBytes = reader.bytes();
      else reader.skip(wireType, fieldNo);
    }
    if (reader.pos !== reader.len) throw new Error("truncated message");
  } catch (err) {
    throw new CryptoError("MALFORMED_IDENTITY", "identity bytes are not a msp.SerializedIdentity protobuf", { cause: err });
  }
  let mspId: string;
  try {
    mspId = strictUtf8.decode(mspRaw);
  } catch (err) {
    throw new CryptoError("MALFORMED_IDENTITY", "identity's mspid is not valid UTF-8", { cause: err });
  }
  return { mspId, idBytes: new Uint8Array(idBytes) };
}

/**
 * A PKI-ID as Fabric's `MSPMessageCryptoService.GetPKIidOfCert` computes it (internal/peer/gossip/mcs.go):
 * SHA-256(mspid || id_bytes).
 */
export function pkiIdOf(mspId: string, idBytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(mspId, "utf8").update(idBytes).digest());
}

/** The PEM of a certificate as a Fabric identity carries it (`pem.EncodeToMemory`), as bytes. */
export function certIdBytes(certDer: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.from(encodePem("CERTIFICATE", certDer), "latin1"));
}

// ---------------------------------------------------------------------------------------------
// Signing identity

/** Fabric's `msp.SigningIdentity` for an X.509 ECDSA P-256 identity. */
export class SigningIdentity {
  readonly mspId: string;
  /** id_bytes: the PEM of the (low-S sanitized) certificate, exactly as Fabric serializes it. */
  readonly idBytes: Uint8Array;
  /** The serialized identity (`msp.SerializedIdentity` bytes): gossip's PeerIdentityType. */
  readonly serialized: Uint8Array;
  /** SHA-256(mspid || id_bytes). */
  readonly pkiId: Uint8Array;
  readonly certificate: X509Certificate;
  readonly publicKey: KeyObject;
  readonly notAfter: Date;
  readonly #privateKey: KeyObject;

  /**
   * @param certDer the certificate; high-S signatures are sanitized with `issuerCurve` as Fabric does.
   * @param privateKey the matching ECDSA P-256 private key.
   */
  constructor(mspId: string, certDer: Uint8Array, privateKey: KeyObject, issuerCurve: EcCurve = P256) {
    let sanitized: Uint8Array;
    let cert: X509Certificate;
    try {
      sanitized = sanitizeEcdsaSignedCert(certDer, issuerCurve);
      cert = new X509Certificate(sanitized);
    } catch (err) {
      throw new CryptoError("MALFORMED_IDENTITY", `signing certificate of ${mspId} cannot be parsed`, { cause: err });
    }
    if (curveOfKey(cert.publicKey) !== P256) {
      throw new CryptoError("MALFORMED_IDENTITY", `signing certificate of ${mspId} does not hold an ECDSA P-256 key`);
    }
    if (!sameKey(createPublicKey(privateKey), cert.publicKey)) {
      throw new CryptoError("MALFORMED_IDENTITY", `private key does not match the signing certificate of ${mspId}`);
    }
    this.mspId = mspId;
    this.certificate = cert;
    this.idBytes = certIdBytes(sanitized);
    this.serialized = serializeIdentity(mspId, this.idBytes);
    this.pkiId = pkiIdOf(mspId, this.idBytes);
    this.publicKey = cert.publicKey;
    this.notAfter = certValidity(cert).notAfter;
    this.#privateKey = privateKey;
  }

  /** ECDSA over SHA-256(msg), low-S, DER: Fabric's `SigningIdentity.Sign`. */
  sign(msg: Uint8Array): Uint8Array {
    return ecdsaSign(this.#privateKey, msg);
  }

  /** Checks a signature made by this identity. Throws CryptoError. */
  verify(signature: Uint8Array, msg: Uint8Array): void {
    ecdsaVerify(this.publicKey, signature, msg);
  }
}

/** A signing identity from PEM strings (certificate and PKCS#8 or SEC1 private key). */
export function createSigningIdentity(opts: {
  mspId: string;
  certPem: string;
  keyPem: string;
  issuerCurve?: EcCurve;
}): SigningIdentity {
  const block = decodePem(opts.certPem)?.block;
  if (block === undefined) throw new CryptoError("MALFORMED_IDENTITY", "signing certificate holds no PEM block");
  let key: KeyObject;
  try {
    key = createPrivateKey(opts.keyPem);
  } catch (err) {
    throw new CryptoError("MALFORMED_IDENTITY", "private key cannot be parsed", { cause: err });
  }
  return new SigningIdentity(opts.mspId, block.der, key, opts.issuerCurve);
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ format: "der", type: "spki" }).equals(b.export({ format: "der", type: "spki" }));
}

// ---------------------------------------------------------------------------------------------
// MSP folders

/** A local MSP: the peer's signing identity and its own org's public material. */
export interface LocalMsp {
  mspId: string;
  dir: string;
  signingIdentity: SigningIdentity;
  org: MspOrgMaterial;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The PEM files of a folder (sorted by name; sub-folders and files without PEM are skipped). */
async function readPemFiles(dir: string): Promise<Array<{ path: string; text: string }>> {
  if (!(await isDir(dir))) return [];
  const out: Array<{ path: string; text: string }> = [];
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(path);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    const text = await readFile(path, "latin1");
    if (decodePem(text) !== undefined) out.push({ path, text });
  }
  return out;
}

/** Every PEM block of `type` in the folder's files, each re-encoded on its own. */
async function readPemBlocks(dir: string, type: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of await readPemFiles(dir)) {
    for (const b of decodeAllPem(f.text)) if (b.type === type) out.push(encodePem(type, b.der));
  }
  return out;
}

/**
 * Reads the public part of an MSP folder (an org's `msp/`, or a node's): cacerts (required),
 * intermediatecerts, crls, tlscacerts, tlsintermediatecerts. config.yaml (NodeOUs) is ignored.
 * Throws CryptoError MSP_FOLDER naming the path and what is missing.
 */
export async function loadOrgMspFolder(dir: string, mspId: string): Promise<MspOrgMaterial> {
  if (!(await isDir(dir))) throw new CryptoError("MSP_FOLDER", `MSP folder ${dir} does not exist or is not a directory`);
  const rootCerts = await readPemBlocks(join(dir, MSP_FOLDERS.cacerts), "CERTIFICATE");
  if (rootCerts.length === 0) {
    throw new CryptoError("MSP_FOLDER", `${join(dir, MSP_FOLDERS.cacerts)}: missing, or holds no PEM certificate; an MSP needs at least one root CA`);
  }
  return {
    mspId,
    rootCerts,
    intermediateCerts: await readPemBlocks(join(dir, MSP_FOLDERS.intermediatecerts), "CERTIFICATE"),
    crls: await readPemBlocks(join(dir, MSP_FOLDERS.crls), "X509 CRL"),
    tlsRootCerts: await readPemBlocks(join(dir, MSP_FOLDERS.tlscacerts), "CERTIFICATE"),
    tlsIntermediateCerts: await readPemBlocks(join(dir, MSP_FOLDERS.tlsintermediatecerts), "CERTIFICATE"),
  };
}

/**
 * Loads a local MSP folder as Fabric's cryptogen lays it out: the public part (see
 * `loadOrgMspFolder`), plus signcerts/ (the first certificate) and keystore/ (the private key whose
 * public key matches it, whatever its file name: `priv_sk` or `<ski>_sk`). The signing certificate
 * must be issued by a CA of the folder. Throws CryptoError MSP_FOLDER.
 */
export async function loadMspFolder(dir: string, mspId: string): Promise<LocalMsp> {
  const org = await loadOrgMspFolder(dir, mspId);
  const signDir = join(dir, MSP_FOLDERS.signcerts);
  const signFiles = await readPemFiles(signDir);
  const certBlock = signFiles.flatMap((f) => decodeAllPem(f.text)).find((b) => b.type === "CERTIFICATE");
  if (certBlock === undefined) throw new CryptoError("MSP_FOLDER", `${signDir}: missing, or holds no PEM certificate (the signing certificate)`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certBlock.der);
  } catch (err) {
    throw new CryptoError("MSP_FOLDER", `${signDir}: the signing certificate cannot be parsed`, { cause: err });
  }
  const keyDir = join(dir, MSP_FOLDERS.keystore);
  const keyFiles = await readPemFiles(keyDir);
  if (keyFiles.length === 0) throw new CryptoError("MSP_FOLDER", `${keyDir}: missing, or holds no PEM private key`);
  let key: KeyObject | undefined;
  for (const f of keyFiles) {
    try {
      const k = createPrivateKey(f.text);
      if (sameKey(createPublicKey(k), cert.publicKey)) {
        key = k;
        break;
      }
    } catch {
      // not a private key: keep looking
    }
  }
  if (key === undefined) throw new CryptoError("MSP_FOLDER", `${keyDir}: no private key matches the certificate in ${signDir}`);
  const cas = [...org.intermediateCerts, ...org.rootCerts].map((p) => new X509Certificate(p));
  const issuer = cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (issuer === undefined) {
    throw new CryptoError("MSP_FOLDER", `${signDir}: the signing certificate is not issued by any CA in cacerts or intermediatecerts of ${dir}`);
  }
  const issuerCurve = curveOfKey(issuer.publicKey) ?? P256;
  const signingIdentity = new SigningIdentity(mspId, certBlock.der, key, issuerCurve);
  return { mspId, dir, signingIdentity, org };
}

// ---------------------------------------------------------------------------------------------
// Verifier MSP set

/** Options of `MspVerifier`. */
export interface MspVerifierOptions {
  /** "Now", for expiry. */
  clock: Clock;
  /** Distinct identities cached. Default IDENTITY_CACHE_SIZE (10 000). */
  cacheSize?: number;
  logger?: Logger;
}

/** An identity that passed validation. */
export interface ValidIdentity {
  mspId: string;
  pkiId: Uint8Array;
  publicKey: KeyObject;
  notAfter: Date;
  /** The identity's certificate. */
  certificate: X509Certificate;
  /** Its certification chain without itself: the issuing CA first, a root of the MSP last. */
  chain: readonly X509Certificate[];
}

/** Counters that show whether the cache works. */
export interface VerifierStats {
  /** X.509 certificate parses of identities (cache misses that got that far). */
  certParses: number;
  cacheHits: number;
  cacheMisses: number;
  cacheSize: number;
  /** Refused identities cached (at most REFUSED_IDENTITY_CACHE_SIZE). */
  refusedCacheSize: number;
}

interface CompiledOrg {
  mspId: string;
  roots: X509Certificate[];
  intermediates: X509Certificate[];
  /** Fingerprint of the CA that signed a CRL -> revoked serials (normalised hex). */
  revokedByCa: Map<string, Set<string>>;
}

interface ErrorRecord {
  code: string;
  message: string;
  /** Fabric could still deserialize it (so its org can be told): revoked identities. */
  deserializable: boolean;
}

interface CacheEntry {
  /** The serialized identity as a latin1 string (the caches' key). */
  key: string;
  decoded: (DecodedIdentity & { pkiId: Uint8Array }) | ErrorRecord;
  /** Filled on the first validation; cleared with the cache when the orgs change. */
  checked?: ValidIdentity | ErrorRecord;
}

const MAX_CHAIN_DEPTH = 8;

function isErrorRecord(x: object): x is ErrorRecord {
  return "code" in x;
}

function toError(rec: ErrorRecord): CryptoError {
  return new CryptoError(rec.code, rec.message);
}

/**
 * The MSPs a peer knows (its own and its channels' orgs): validates serialized identities and checks
 * their signatures. Each distinct identity is parsed once; its public key and verdict are cached
 * (bounded LRU) so that verifying a message from a known identity costs one ECDSA verify.
 *
 * Validation follows Fabric's MSP (`msp/mspimpl.go`, `mspimplvalidate.go`): known MSP ID; the PEM is
 * well-formed (one CERTIFICATE block, no trailing bytes, canonical DER signature); not a CA; chains
 * to a root CA of that org through its intermediates (CA validity judged at the leaf's NotBefore+1s,
 * as Fabric does); not on a CRL signed by the issuing CA. In addition to Fabric: the key must be
 * ECDSA P-256, and a certificate past its NotAfter is EXPIRED_IDENTITY (Fabric leaves expiry to the
 * gossip identity mapper, which rejects expired identities anyway).
 */
export class MspVerifier {
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #cache: LruCache<string, CacheEntry>;
  readonly #refused = new LruCache<string, CacheEntry>(REFUSED_IDENTITY_CACHE_SIZE);
  #orgs = new Map<string, CompiledOrg>();
  #certParses = 0;
  #hits = 0;
  #misses = 0;

  constructor(orgs: readonly MspOrgMaterial[], options: MspVerifierOptions) {
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#cache = new LruCache(options.cacheSize ?? IDENTITY_CACHE_SIZE);
    this.setOrgs(orgs);
  }

  /** Replaces the known orgs (e.g. after a channel config update) and forgets every cached verdict. */
  setOrgs(orgs: readonly MspOrgMaterial[]): void {
    const compiled = new Map<string, CompiledOrg>();
    for (const o of orgs) compiled.set(o.mspId, this.#compileOrg(o));
    this.#orgs = compiled;
    this.#cache.clear();
    this.#refused.clear();
  }

  /** The MSP IDs known. */
  mspIds(): string[] {
    return [...this.#orgs.keys()];
  }

  /** Whether an MSP ID is known. */
  knows(mspId: string): boolean {
    return this.#orgs.has(mspId);
  }

  /** Decodes a serialized identity (cached). Throws MALFORMED_IDENTITY. */
  decode(identity: Uint8Array): DecodedIdentity & { pkiId: Uint8Array } {
    const d = this.#entry(identity).decoded;
    if (isErrorRecord(d)) throw toError(d);
    return d;
  }

  /** SHA-256(mspid || id_bytes) of a serialized identity (cached). Throws MALFORMED_IDENTITY. */
  pkiIdOf(identity: Uint8Array): Uint8Array {
    return this.decode(identity).pkiId;
  }

  /** Validates an identity, expiry included. Throws CryptoError with the reason's code. */
  validate(identity: Uint8Array): ValidIdentity {
    const v = this.#checked(identity);
    if (v.notAfter.getTime() < this.#clock.now()) {
      throw new CryptoError("EXPIRED_IDENTITY", `identity of ${v.mspId} expired at ${v.notAfter.toISOString()}`);
    }
    return v;
  }

  /** Validates `identity` and checks its ECDSA signature over `msg`. Throws CryptoError. */
  verify(identity: Uint8Array, signature: Uint8Array, msg: Uint8Array): ValidIdentity {
    const v = this.validate(identity);
    ecdsaVerify(v.publicKey, signature, msg);
    return v;
  }

  /** The NotAfter of a structurally valid identity, even if it is already past. Throws otherwise. */
  expiration(identity: Uint8Array): Date {
    return this.#checked(identity).notAfter;
  }

  /**
   * The MSP ID when a known MSP can deserialize the identity (valid, expired or revoked), else
   * undefined: Fabric's `mspSecurityAdvisor.OrgByPeerIdentity`.
   */
  orgOf(identity: Uint8Array): string | undefined {
    const entry = this.#entry(identity);
    if (isErrorRecord(entry.decoded)) return undefined;
    const c = this.#check(entry);
    return !isErrorRecord(c) || c.deserializable ? entry.decoded.mspId : undefined;
  }

  stats(): VerifierStats {
    return {
      certParses: this.#certParses,
      cacheHits: this.#hits,
      cacheMisses: this.#misses,
      cacheSize: this.#cache.size,
      refusedCacheSize: this.#refused.size,
    };
  }

  #entry(identity: Uint8Array): CacheEntry {
    const key = latin1(identity);
    const hit = this.#cache.get(key) ?? this.#refused.get(key);
    if (hit !== undefined) {
      this.#hits++;
      return hit;
    }
    this.#misses++;
    let decoded: CacheEntry["decoded"];
    try {
      const d = deserializeIdentity(identity);
      decoded = { ...d, pkiId: pkiIdOf(d.mspId, d.idBytes) };
    } catch (err) {
      decoded = { code: "MALFORMED_IDENTITY", message: err instanceof Error ? err.message : String(err), deserializable: false };
    }
    const entry: CacheEntry = { key, decoded };
    (isErrorRecord(decoded) ? this.#refused : this.#cache).set(key, entry);
    return entry;
  }

  #checked(identity: Uint8Array): ValidIdentity {
    const entry = this.#entry(identity);
    const c = this.#check(entry);
    if (isErrorRecord(c)) throw toError(c);
    return c;
  }

  #check(entry: CacheEntry): ValidIdentity | ErrorRecord {
    if (entry.checked !== undefined) return entry.checked;
    const d = entry.decoded;
    entry.checked = isErrorRecord(d) ? d : this.#validateUncached(d);
    if (isErrorRecord(entry.checked) && !isErrorRecord(d)) {
      this.#cache.delete(entry.key);
      this.#refused.set(entry.key, entry);
    }
    return entry.checked;
  }

  #validateUncached(d: DecodedIdentity & { pkiId: Uint8Array }): ValidIdentity | ErrorRecord {
    const fail = (code: string, message: string, deserializable = false): ErrorRecord => ({ code, message, deserializable });
    const org = this.#orgs.get(d.mspId);
    if (org === undefined) {
      return fail("UNKNOWN_MSP", `MSP ID ${JSON.stringify(d.mspId)} is not one of the known MSPs [${this.mspIds().join(", ")}]`);
    }
    // IsWellFormed: exactly one PEM block, of type CERTIFICATE or none, nothing after it.
    const pem = decodePem(latin1(d.idBytes));
    if (pem === undefined) return fail("MALFORMED_IDENTITY", `identity of ${d.mspId}: id_bytes hold no PEM block`);
    if (pem.rest.length > 0) return fail("MALFORMED_IDENTITY", `identity of ${d.mspId} has trailing bytes after its PEM block`);
    if (pem.block.type !== "CERTIFICATE" && pem.block.type !== "") {
      return fail("MALFORMED_IDENTITY", `identity of ${d.mspId}: PEM type is ${pem.block.type}, expected CERTIFICATE`);
    }
    let cert: X509Certificate;
    this.#certParses++;
    try {
      const parts = splitSignedDer(pem.block.der);
      if (isEcdsaSignatureAlgorithm(parts.algorithmOid)) {
        const { r, s } = unmarshalEcdsaSignature(parts.signature);
        if (Buffer.compare(marshalEcdsaSignature(r, s), parts.signature) !== 0) {
          return fail("MALFORMED_IDENTITY", `identity of ${d.mspId} has a non canonical signature`);
        }
      }
      cert = new X509Certificate(pem.block.der);
    } catch (err) {
      const why = err instanceof DerError || err instanceof CryptoError || err instanceof Error ? err.message : String(err);
      return fail("MALFORMED_IDENTITY", `identity of ${d.mspId}: certificate cannot be parsed: ${why}`);
    }
    if (cert.ca) {
      return fail("MALFORMED_IDENTITY", `identity of ${d.mspId} is a CA certificate (Basic Constraints CA:TRUE), which cannot be an identity`);
    }
    if (curveOfKey(cert.publicKey) !== P256) {
      return fail("MALFORMED_IDENTITY", `identity of ${d.mspId} does not hold an ECDSA P-256 public key`);
    }
    const { notBefore, notAfter } = certValidity(cert);
    if (Number.isNaN(notAfter.getTime()) || Number.isNaN(notBefore.getTime())) {
      return fail("MALFORMED_IDENTITY", `identity of ${d.mspId} has an unreadable validity period`);
    }
    const chain = certificationChain(cert, org.roots, org.intermediates, notBefore.getTime() + 1000);
    const issuer = chain?.[0];
    if (chain === undefined || issuer === undefined) {
      return fail("UNKNOWN_CA", `identity of ${d.mspId} (subject ${cert.subject.replace(/\n/g, ", ")}) does not chain to a root CA of ${d.mspId} (no CA of that MSP issued it, or the issuing CA was not valid at the certificate's NotBefore)`);
    }
    const revoked = org.revokedByCa.get(issuer.fingerprint256);
    if (revoked?.has(normaliseSerial(cert.serialNumber))) {
      return fail("REVOKED_IDENTITY", `identity of ${d.mspId} with serial ${cert.serialNumber} has been revoked by its CA`, true);
    }
    return { mspId: d.mspId, pkiId: d.pkiId, publicKey: cert.publicKey, notAfter, certificate: cert, chain };
  }

  #compileOrg(o: MspOrgMaterial): CompiledOrg {
    const parseAll = (pems: readonly string[], what: string): X509Certificate[] =>
      pems.flatMap((p) => decodeAllPem(p).filter((b) => b.type === "CERTIFICATE")).map((b) => {
        try {
          return new X509Certificate(b.der);
        } catch (err) {
          throw new CryptoError("MSP_CONFIG", `${o.mspId}: a ${what} certificate cannot be parsed`, { cause: err });
        }
      });
    const roots = parseAll(o.rootCerts, "root CA");
    if (roots.length === 0) throw new CryptoError("MSP_CONFIG", `${o.mspId}: no root CA certificate`);
    for (const r of roots) {
      if (!r.ca) throw new CryptoError("MSP_CONFIG", `${o.mspId}: root certificate ${r.subject.replace(/\n/g, ", ")} is not a CA`);
    }
    const intermediates = parseAll(o.intermediateCerts, "intermediate CA");
    const revokedByCa = new Map<string, Set<string>>();
    for (const pem of o.crls) {
      for (const block of decodeAllPem(pem).filter((b) => b.type === "X509 CRL")) {
        let crl: X509Crl;
        try {
          crl = new X509Crl(block.der);
        } catch (err) {
          throw new CryptoError("MSP_CONFIG", `${o.mspId}: a CRL cannot be parsed`, { cause: err });
        }
        const signer = [...roots, ...intermediates].find((ca) => verifySignedDer(block.der, ca.publicKey));
        if (signer === undefined) {
          this.#logger?.warn("ignoring a CRL not signed by any CA of its MSP", { mspId: o.mspId, issuer: crl.issuer });
          continue;
        }
        let set = revokedByCa.get(signer.fingerprint256);
        if (set === undefined) {
          set = new Set();
          revokedByCa.set(signer.fingerprint256, set);
        }
        for (const e of crl.entries) set.add(normaliseSerial(e.serialNumber));
      }
    }
    return { mspId: o.mspId, roots, intermediates, revokedByCa };
  }
}

/**
 * The certification chain of `cert` among an MSP's CAs, as Fabric's `getCertificationChain` finds it
 * without `cert` itself: the issuing CA first, a root last. Each CA must be a CA, valid at `atMs` (Fabric
 * judges at the leaf's NotBefore+1s) and have signed the certificate below it. Undefined when no chain
 * reaches a root (within MAX_CHAIN_DEPTH).
 */
export function certificationChain(
  cert: X509Certificate,
  roots: readonly X509Certificate[],
  intermediates: readonly X509Certificate[],
  atMs: number,
): X509Certificate[] | undefined {
  const rootFingerprints = new Set(roots.map((r) => r.fingerprint256));
  const walk = (c: X509Certificate, depth: number): X509Certificate[] | undefined => {
    for (const ca of [...intermediates, ...roots]) {
      if (!ca.ca || !validAt(ca, atMs) || !c.checkIssued(ca) || !c.verify(ca.publicKey)) continue;
      if (rootFingerprints.has(ca.fingerprint256)) return [ca];
      if (depth < MAX_CHAIN_DEPTH && ca.fingerprint256 !== c.fingerprint256) {
        const rest = walk(ca, depth + 1);
        if (rest !== undefined) return [ca, ...rest];
      }
    }
    return undefined;
  };
  return walk(cert, 0);
}

function validAt(cert: X509Certificate, atMs: number): boolean {
  const { notBefore, notAfter } = certValidity(cert);
  return notBefore.getTime() <= atMs && atMs <= notAfter.getTime();
}
