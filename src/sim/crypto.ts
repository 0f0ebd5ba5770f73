import "reflect-metadata";
import * as nodeCrypto from "node:crypto";
import { createECDH, createHash, createHmac, createPrivateKey, type JsonWebKey, type KeyObject, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { MessageCryptoService, OrgIdentityType, PeerIdentityType, SecurityAdvisor } from "../api/index.js";
import {
  type BlockSigner,
  CryptoError,
  createMspMessageCryptoService,
  DevMessageCryptoService,
  type MspOrgMaterial,
  MspVerifier,
  type MspVerifierOptions,
  marshalEcdsaSignature,
  P256,
  SigningIdentity,
  type ValidIdentity,
} from "../crypto/index.js";
import { type Clock, fromUtf8, utf8 } from "../util/index.js";
import type { RandomTree } from "./rng.js";

/** The crypto a simulated peer runs with. */
export interface SimPeerCrypto {
  mcs: MessageCryptoService;
  securityAdvisor: SecurityAdvisor;
  identity: PeerIdentityType;
}

/** Who may read each channel, for VerifyByChannel (the channel's Readers policy, by org). */
export type ChannelOrgs = (channel: string) => ReadonlySet<string> | undefined;

/** The crypto of a whole run: one per peer, plus the orderer's block signer. */
export interface SimCryptoSuite {
  readonly kind: "real" | "fast";
  /** The crypto of peer `name` (`mspId` its org) at `endpoint`. */
  peer(name: string, mspId: string, endpoint: string): SimPeerCrypto;
  /** Signs blocks and the envelopes in them (the ordering service). */
  readonly ordererSigner: BlockSigner;
  /** The MSP ID of the ordering service's org. */
  readonly ordererMspId: string;
  /** Real suite only: the orgs' MSP material and signing identities, for channel genesis blocks and transactions. */
  readonly msp?: SimMspMaterial;
}

/**
 * What a channel genesis block and endorser transactions need of the real suite: every org's CA
 * certificate (the application orgs' and the orderer's), each peer's signing identity (an endorser
 * signs with it) and one client identity per org (OU client, `User1@orgN`), issued on first use.
 */
export interface SimMspMaterial {
  /** CA certificate (PEM) of each org by MSP ID, the orderer org's included. */
  readonly caPems: ReadonlyMap<string, string>;
  /** Peer `name`'s signing identity. */
  peerSigner(name: string): DeterministicSigningIdentity;
  /** The client identities, one per application org by MSP ID (issued on the first call, from the seed). */
  clients(): Promise<ReadonlyMap<string, DeterministicSigningIdentity>>;
}

/** MSP ID of org `o` (1-based), as `crypto generate` names them. */
export function simMspId(o: number): string {
  return `Org${o}MSP`;
}

export const SIM_ORDERER_MSP = "OrdererMSP";

// ---------------------------------------------------------------------------------------------
// Fast: the development MCS, with orgs

/**
 * The development MCS (signature = the signed bytes, no block verification) extended with orgs: an
 * identity is "<mspId>|<endpoint>" and is its own PKI-ID; identities of unknown orgs are invalid,
 * and VerifyByChannel checks the org against the channel's readers.
 */
export class SimDevCrypto extends DevMessageCryptoService {
  readonly #orgs: ReadonlySet<string>;
  readonly #channelOrgs: ChannelOrgs;
  /** One array per org: every peer's identity mapper keeps the org of every member. */
  readonly #orgBytes = new Map<string, OrgIdentityType>();

  constructor(orgs: ReadonlySet<string>, channelOrgs: ChannelOrgs) {
    super();
    this.#orgs = orgs;
    this.#channelOrgs = channelOrgs;
    for (const org of orgs) this.#orgBytes.set(org, utf8(org));
  }

  override validateIdentity(peerIdentity: PeerIdentityType): void {
    super.validateIdentity(peerIdentity);
    const org = orgOfDevIdentity(peerIdentity);
    if (org === undefined || !this.#orgs.has(org)) throw new CryptoError("UNKNOWN_MSP", `identity ${fromUtf8(peerIdentity)} is of no known org`);
  }

  override verify(peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    this.validateIdentity(peerIdentity);
    super.verify(peerIdentity, signature, message);
  }

  override verifyByChannel(channelId: string, peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    this.verify(peerIdentity, signature, message);
    const org = orgOfDevIdentity(peerIdentity);
    if (org === undefined || this.#channelOrgs(channelId)?.has(org) !== true) {
      throw new CryptoError("CHANNEL_ACCESS_DENIED", `identity ${fromUtf8(peerIdentity)} may not read channel ${channelId}`);
    }
  }

  override orgByPeerIdentity(peerIdentity: PeerIdentityType): OrgIdentityType {
    const org = orgOfDevIdentity(peerIdentity);
    if (org === undefined) return new Uint8Array(0);
    return this.#orgBytes.get(org) ?? utf8(org);
  }
}

function orgOfDevIdentity(identity: Uint8Array): string | undefined {
  const s = fromUtf8(identity);
  const i = s.indexOf("|");
  return i <= 0 ? undefined : s.slice(0, i);
}

/** The fast suite: development crypto for every peer; the orderer "signs" with a SHA-256. */
export function fastCryptoSuite(orgCount: number, channelOrgs: ChannelOrgs): SimCryptoSuite {
  const orgs = new Set(Array.from({ length: orgCount }, (_, i) => simMspId(i + 1)));
  const mcs = new SimDevCrypto(orgs, channelOrgs);
  return {
    kind: "fast",
    peer: (_name, mspId, endpoint) => ({ mcs, securityAdvisor: mcs, identity: utf8(`${mspId}|${endpoint}`) }),
    ordererSigner: {
      serialized: utf8(`${SIM_ORDERER_MSP}|orderer`),
      sign: (msg) => new Uint8Array(createHash("sha256").update(msg).digest()),
    },
    ordererMspId: SIM_ORDERER_MSP,
  };
}

// ---------------------------------------------------------------------------------------------
// Real: ECDSA P-256 MSP identities from the seed, with deterministic signatures

const P256_N = P256.n;

function bigintOf(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

function bytes32(v: bigint): Buffer {
  return Buffer.from(v.toString(16).padStart(64, "0"), "hex");
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return ((oldS % m) + m) % m;
}

/**
 * A P-256 key whose signatures are deterministic: the nonce k is derived with HMAC-SHA256 from the
 * private key and the message hash (in the spirit of RFC 6979), and k*G is computed by node's ECDH.
 * The signature is ordinary ECDSA over SHA-256, low-S, DER: any verifier accepts it. Deterministic
 * signatures keep every frame of a simulation byte-identical across runs of the same seed.
 */
export class DeterministicP256Key {
  readonly d: bigint;
  /** Uncompressed public point 04 || x || y. */
  readonly publicPoint: Buffer;
  readonly privateKey: KeyObject;
  readonly #ecdh = createECDH("prime256v1");

  /** @param seedBytes at least 32 bytes; the private scalar is taken from them mod (n - 1), plus 1. */
  constructor(seedBytes: Uint8Array) {
    this.d = (bigintOf(seedBytes.subarray(0, 32)) % (P256_N - 1n)) + 1n;
    this.#ecdh.setPrivateKey(bytes32(this.d));
    this.publicPoint = this.#ecdh.getPublicKey();
    this.privateKey = createPrivateKey({ key: this.jwk() as JsonWebKey, format: "jwk" });
  }

  /** The key as a JWK (private). */
  jwk(): webcrypto.JsonWebKey {
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
    return {
      kty: "EC",
      crv: "P-256",
      d: b64(bytes32(this.d)),
      x: b64(this.publicPoint.subarray(1, 33)),
      y: b64(this.publicPoint.subarray(33, 65)),
    };
  }

  /** (r, s) with s low, over SHA-256(msg). */
  signRaw(msg: Uint8Array): { r: bigint; s: bigint } {
    const h = createHash("sha256").update(msg).digest();
    const z = bigintOf(h);
    const dBytes = bytes32(this.d);
    for (let counter = 0; ; counter++) {
      const kBytes = createHmac("sha256", dBytes).update(h).update(Uint8Array.of(counter)).digest();
      const k = (bigintOf(kBytes) % (P256_N - 1n)) + 1n;
      this.#ecdh.setPrivateKey(bytes32(k));
      const point = this.#ecdh.getPublicKey();
      const r = bigintOf(point.subarray(1, 33)) % P256_N;
      if (r === 0n) continue;
      let s = (modInverse(k, P256_N) * ((z + r * this.d) % P256_N)) % P256_N;
      if (s === 0n) continue;
      if (s > P256.halfN) s = P256_N - s;
      return { r, s };
    }
  }

  /** DER low-S signature over SHA-256(msg). */
  sign(msg: Uint8Array): Uint8Array {
    const { r, s } = this.signRaw(msg);
    return marshalEcdsaSignature(r, s);
  }

  /** IEEE P1363 r || s (what WebCrypto returns). */
  signP1363(msg: Uint8Array): Uint8Array {
    const { r, s } = this.signRaw(msg);
    return Buffer.concat([bytes32(r), bytes32(s)]);
  }
}

/** A signing identity that signs with a {@link DeterministicP256Key}. */
export class DeterministicSigningIdentity extends SigningIdentity {
  readonly #key: DeterministicP256Key;

  constructor(mspId: string, certDer: Uint8Array, key: DeterministicP256Key) {
    super(mspId, certDer, key.privateKey);
    this.#key = key;
  }

  override sign(msg: Uint8Array): Uint8Array {
    return this.#key.sign(msg);
  }
}

/**
 * `crypto.hash`, the one-shot digest, where this Node has it (20.12 and later; engines allow any 20): read from
 * the namespace, since importing the name would fail to link on an older Node.
 */
const oneShotHash = typeof nodeCrypto.hash === "function" ? nodeCrypto.hash : undefined;

/** Successful verifications the shared memo remembers, at most (about 100 bytes each). */
export const VERIFY_MEMO_SIZE = 200_000;

/**
 * A bounded memo with two generations: hits in the old one move to the young one, and when the young
 * one is full it becomes the old one (the old one is dropped). Recently used entries survive, as in
 * an LRU, at one Map lookup per hit instead of a delete and a set.
 */
class TwoGenerationMemo<V> {
  readonly #half: number;
  #young = new Map<string, V>();
  #old = new Map<string, V>();

  constructor(maxEntries: number) {
    this.#half = Math.max(1, Math.floor(maxEntries / 2));
  }

  get(key: string): V | undefined {
    const v = this.#young.get(key);
    if (v !== undefined) return v;
    const old = this.#old.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: string, value: V): void {
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }
}

/**
 * The MspVerifier every simulated peer shares, with a memo of successful signature checks. In one
 * process, each signed message (an alive message, a StateInfo) is verified by every peer that
 * receives it: N peers, N ECDSA verifications of the same (identity, signature, message). Whether a
 * signature verifies is a pure function of the three, so the memo (keyed on a SHA-256 of them,
 * bounded LRU) answers all but the first. Each peer still calls verify on its own path, the
 * identity's expiry is still checked against the clock on every call, and failures are never
 * remembered (each is recomputed and thrown afresh). A simulator optimisation only: a real peer
 * verifies alone.
 */
export class MemoizingMspVerifier extends MspVerifier {
  readonly #memo: TwoGenerationMemo<ValidIdentity>;
  readonly #clock: Clock;
  /** The bytes of the last key hashed (grown as needed): one one-shot hash instead of a Hash object per check. */
  #scratch = new Uint8Array(4096);
  #scratchView = new DataView(this.#scratch.buffer);
  #hits = 0;

  constructor(orgs: readonly MspOrgMaterial[], options: MspVerifierOptions & { memoSize?: number }) {
    super(orgs, options);
    this.#clock = options.clock;
    this.#memo = new TwoGenerationMemo(options.memoSize ?? VERIFY_MEMO_SIZE);
  }

  /** Verifications answered from the memo. */
  get memoHits(): number {
    return this.#hits;
  }

  override verify(identity: Uint8Array, signature: Uint8Array, msg: Uint8Array): ValidIdentity {
    const key = this.#key(identity, signature, msg);
    const hit = this.#memo.get(key);
    if (hit === undefined) {
      const v = super.verify(identity, signature, msg);
      this.#memo.set(key, v);
      return v;
    }
    // What MspVerifier.validate checks on every call besides its cached verdict: expiry.
    if (hit.notAfter.getTime() < this.#clock.now()) {
      throw new CryptoError("EXPIRED_IDENTITY", `identity of ${hit.mspId} expired at ${hit.notAfter.toISOString()}`);
    }
    this.#hits++;
    return hit;
  }

  override setOrgs(orgs: readonly MspOrgMaterial[]): void {
    super.setOrgs(orgs);
    // The base constructor calls this before the memo exists.
    if (#memo in this) this.#memo.clear();
  }

  /**
   * SHA-256 of both lengths, the identity, the signature and the message: no two triples share one. Hashed in
   * one call over a copy (about 1.0 us against 1.6 us through createHash and four updates, per check; on a Node
   * without crypto.hash, one update of the copy).
   */
  #key(identity: Uint8Array, signature: Uint8Array, msg: Uint8Array): string {
    const n = 8 + identity.byteLength + signature.byteLength + msg.byteLength;
    if (this.#scratch.byteLength < n) {
      this.#scratch = new Uint8Array(Math.max(n, 2 * this.#scratch.byteLength));
      this.#scratchView = new DataView(this.#scratch.buffer);
    }
    const b = this.#scratch;
    this.#scratchView.setUint32(0, identity.byteLength, true);
    this.#scratchView.setUint32(4, signature.byteLength, true);
    b.set(identity, 8);
    b.set(signature, 8 + identity.byteLength);
    b.set(msg, 8 + identity.byteLength + signature.byteLength);
    const bytes = b.subarray(0, n);
    return oneShotHash !== undefined ? oneShotHash("sha256", bytes, "base64") : createHash("sha256").update(bytes).digest("base64");
  }
}

const SUBJECT_BASE = "C=US, ST=California, L=San Francisco";
const SIGNING_ALG = { name: "ECDSA", hash: "SHA-256" };
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

/** WebCrypto whose ECDSA signing is deterministic for the keys registered, so certificates are reproducible. */
class DeterministicWebCrypto {
  readonly #keys = new Map<webcrypto.CryptoKey, DeterministicP256Key>();
  readonly crypto: webcrypto.Crypto;

  constructor() {
    const keys = this.#keys;
    const subtle = new Proxy(webcrypto.subtle, {
      get(target, prop) {
        if (prop === "sign") {
          return async (_alg: unknown, key: webcrypto.CryptoKey, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> => {
            const det = keys.get(key);
            if (det === undefined) throw new CryptoError("MSP_CONFIG", "simulator CA: signing with an unregistered key");
            const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
            const sig = det.signP1363(bytes);
            return sig.buffer.slice(sig.byteOffset, sig.byteOffset + sig.byteLength) as ArrayBuffer;
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    this.crypto = { subtle, getRandomValues: webcrypto.getRandomValues.bind(webcrypto) } as unknown as webcrypto.Crypto;
  }

  /** Imports `key` as a WebCrypto key pair and registers it for deterministic signing. */
  async keyPair(key: DeterministicP256Key): Promise<{ privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey }> {
    const jwk = key.jwk();
    const privateKey = await webcrypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
    const { d: _d, ...pub } = jwk;
    const publicKey = await webcrypto.subtle.importKey("jwk", pub, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    this.#keys.set(privateKey, key);
    return { privateKey, publicKey };
  }
}

function skiOf(key: DeterministicP256Key): string {
  return createHash("sha256").update(key.publicPoint).digest("hex");
}

interface SimCa {
  cert: x509.X509Certificate;
  certPem: string;
  key: DeterministicP256Key;
  keys: { privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey };
}

async function makeCa(wc: DeterministicWebCrypto, tree: RandomTree, org: string, now: number): Promise<SimCa> {
  const key = new DeterministicP256Key(tree.bytes(`crypto/ca/${org}`, 32));
  const keys = await wc.keyPair(key);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(tree.bytes(`crypto/ca-serial/${org}`, 16)).toString("hex").replace(/^./, "1"),
      name: `${SUBJECT_BASE}, O=${org}, CN=ca.${org}`,
      notBefore: new Date(now - 300_000),
      notAfter: new Date(now + TEN_YEARS_MS),
      keys,
      signingAlgorithm: SIGNING_ALG,
      extensions: [
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.SubjectKeyIdentifierExtension(skiOf(key)),
      ],
    },
    wc.crypto,
  );
  return { cert, certPem: cert.toString("pem"), key, keys };
}

async function issue(wc: DeterministicWebCrypto, tree: RandomTree, ca: SimCa, mspId: string, cn: string, ou: string, now: number): Promise<DeterministicSigningIdentity> {
  const key = new DeterministicP256Key(tree.bytes(`crypto/key/${cn}`, 32));
  const keys = await wc.keyPair(key);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: Buffer.from(tree.bytes(`crypto/serial/${cn}`, 16)).toString("hex").replace(/^./, "1"),
      subject: `${SUBJECT_BASE}, OU=${ou}, CN=${cn}`,
      issuer: ca.cert.subjectName,
      notBefore: new Date(now - 300_000),
      notAfter: new Date(now + TEN_YEARS_MS),
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: SIGNING_ALG,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.SubjectKeyIdentifierExtension(skiOf(key)),
        new x509.AuthorityKeyIdentifierExtension(skiOf(ca.key)),
      ],
    },
    wc.crypto,
  );
  return new DeterministicSigningIdentity(mspId, new Uint8Array(cert.rawData), key);
}

function orgMaterial(mspId: string, ca: SimCa): MspOrgMaterial {
  return { mspId, rootCerts: [ca.certPem], intermediateCerts: [], crls: [], tlsRootCerts: [], tlsIntermediateCerts: [] };
}

/**
 * The real suite: an ECDSA P-256 CA per org (and one for the orderer), a certificate per peer, all
 * derived from the seed (keys, serial numbers, validity from the virtual clock, deterministic
 * signatures), and an MSP MCS per peer (Fabric's MSPMessageCryptoService: every message signed and
 * verified with ECDSA, blocks verified against the orderer org). Peers share one
 * {@link MemoizingMspVerifier}: its cache of parsed identities, and its memo of signatures already
 * verified (each peer still calls verify on every signature; an ECDSA check runs once per triple).
 */
export async function realCryptoSuite(
  tree: RandomTree,
  orgCount: number,
  peers: ReadonlyArray<{ name: string; mspId: string }>,
  channelOrgs: ChannelOrgs,
  clock: Clock,
): Promise<SimCryptoSuite> {
  const wc = new DeterministicWebCrypto();
  const now = clock.now();
  const cas = new Map<string, SimCa>();
  const orgs: MspOrgMaterial[] = [];
  for (let o = 1; o <= orgCount; o++) {
    const mspId = simMspId(o);
    const ca = await makeCa(wc, tree, `org${o}.example.com`, now);
    cas.set(mspId, ca);
    orgs.push(orgMaterial(mspId, ca));
  }
  const ordererCa = await makeCa(wc, tree, "example.com", now);
  orgs.push(orgMaterial(SIM_ORDERER_MSP, ordererCa));
  const ordererSigner = await issue(wc, tree, ordererCa, SIM_ORDERER_MSP, "orderer.example.com", "orderer", now);
  const identities = new Map<string, DeterministicSigningIdentity>();
  for (const p of peers) {
    const ca = cas.get(p.mspId);
    if (ca === undefined) throw new CryptoError("MSP_CONFIG", `peer ${p.name}: no CA for ${p.mspId}`);
    const o = p.mspId.replace(/^Org(\d+)MSP$/, "org$1");
    identities.set(p.name, await issue(wc, tree, ca, p.mspId, `${p.name}.${o}.example.com`, "peer", now));
  }
  const verifier = new MemoizingMspVerifier(orgs, { clock, cacheSize: Math.max(10_000, 2 * peers.length + 16) });
  const ordererOrgs = new Set([SIM_ORDERER_MSP]);
  const caPems = new Map<string, string>([...cas].map(([mspId, ca]) => [mspId, ca.certPem]));
  caPems.set(SIM_ORDERER_MSP, ordererCa.certPem);
  let clients: Promise<Map<string, DeterministicSigningIdentity>> | undefined;
  // Keys and serials are drawn by label, so issuing clients (only private-data runs do) shifts nothing else.
  const issueClients = async (): Promise<Map<string, DeterministicSigningIdentity>> => {
    const out = new Map<string, DeterministicSigningIdentity>();
    for (const [mspId, ca] of cas) {
      const o = mspId.replace(/^Org(\d+)MSP$/, "org$1");
      out.set(mspId, await issue(wc, tree, ca, mspId, `User1@${o}.example.com`, "client", now));
    }
    return out;
  };
  const msp: SimMspMaterial = {
    caPems,
    peerSigner: (name) => {
      const signer = identities.get(name);
      if (signer === undefined) throw new CryptoError("MSP_CONFIG", `no identity was made for peer ${name}`);
      return signer;
    },
    clients: () => {
      clients ??= issueClients();
      return clients;
    },
  };
  return {
    kind: "real",
    peer: (name) => {
      const signer = identities.get(name);
      if (signer === undefined) throw new CryptoError("MSP_CONFIG", `no identity was made for peer ${name}`);
      const mcs = createMspMessageCryptoService({ signer, verifier }, { channelOrgs, ordererOrgs: () => ordererOrgs });
      return { mcs, securityAdvisor: mcs, identity: signer.serialized };
    },
    ordererSigner,
    ordererMspId: SIM_ORDERER_MSP,
    msp,
  };
}
