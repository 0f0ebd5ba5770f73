import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, randomBytes, webcrypto } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { type Clock, SystemClock } from "../util/index.js";
import { P256 } from "./ecdsa.js";
import { CryptoError } from "./errors.js";
import { loadMspFolder, loadOrgMspFolder, type MspOrgMaterial, type SigningIdentity } from "./msp.js";
import { decodePem, encodePem } from "./pem.js";
import { sanitizeEcdsaSignedCert } from "./x509-util.js";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// @peculiar/x509 needs a WebCrypto provider; node's is the one.
const wc = webcrypto;
x509.cryptoProvider.set(wc);

const EC_KEY: webcrypto.EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING_ALG: webcrypto.EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
/** cryptogen's certificates are valid from 5 minutes ago... */
const NOT_BEFORE_SKEW_MS = 5 * 60 * 1000;
/** ...for 10 years. */
const VALIDITY_MS = 10 * 365 * 24 * 60 * 60 * 1000;
const SUBJECT_BASE = "C=US, ST=California, L=San Francisco";

/** A CA: its certificate and private key as PEM (PKCS#8 "PRIVATE KEY", as cryptogen writes `priv_sk`). */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

/** An issued certificate and its key, as PEM. */
export interface IssuedMaterial {
  certPem: string;
  keyPem: string;
}

/** Options of `generateCryptoMaterial`. */
export interface GenerateCryptoOptions {
  /** Number of peer organizations: org1.example.com (Org1MSP), org2.example.com (Org2MSP), ... */
  orgs: number;
  /** Peers per organization: peer0.orgN.example.com, peer1... */
  peersPerOrg: number;
  /** Output folder; `peerOrganizations/` and `ordererOrganizations/` are created in it. */
  out: string;
  /** Also create ordererOrganizations/example.com with orderer.example.com (OrdererMSP). Default false. */
  orderer?: boolean;
  /** "Now" for validity periods. Default: the system clock. */
  clock?: Clock;
  /** Parent domain. Default "example.com". */
  domain?: string;
  /** Client users per peer org, User1@<org> ... (cryptogen's `Users: Count`). Default 1; Admin@<org> is always written. */
  users?: number;
}

/** One node (peer or orderer) in the generated layout. */
export interface NodeSummary {
  /** Host name, e.g. peer0.org1.example.com. */
  name: string;
  dir: string;
  mspDir: string;
  tlsDir: string;
}

/** One organization in the generated layout. */
export interface OrgSummary {
  kind: "peer" | "orderer";
  /** Domain, e.g. org1.example.com. */
  name: string;
  mspId: string;
  dir: string;
  mspDir: string;
  caDir: string;
  tlsCaDir: string;
  nodes: NodeSummary[];
  /**
   * Its users under `users/` (cryptogen's layout): Admin@<org> (NodeOU admin) first, then User1@<org>, ...
   * (NodeOU client; peer orgs only). Absent in summaries made elsewhere than by generateCryptoMaterial.
   */
  users?: NodeSummary[];
}

/** JSON-able result of `generateCryptoMaterial`. */
export interface CryptoMaterialSummary {
  root: string;
  orgs: OrgSummary[];
}

/**
 * The MSP ID of an org in the generated (and fabric-samples test-network) convention: OrdererMSP for
 * the orderer org, otherwise the first label capitalised plus "MSP" (org1.example.com -> Org1MSP).
 */
export function mspIdForOrg(domain: string, kind: "peer" | "orderer"): string {
  if (kind === "orderer") return "OrdererMSP";
  const label = domain.split(".")[0] ?? domain;
  return `${label.charAt(0).toUpperCase()}${label.slice(1)}MSP`;
}

// ---------------------------------------------------------------------------------------------
// Certificates

interface KeyPair {
  keys: CryptoKeyPair;
  keyPem: string;
  /** cryptogen's SKI: SHA-256 of the uncompressed public point. */
  ski: string;
}

async function newKeyPair(): Promise<KeyPair> {
  const keys = (await wc.subtle.generateKey(EC_KEY, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await wc.subtle.exportKey("pkcs8", keys.privateKey));
  const raw = new Uint8Array(await wc.subtle.exportKey("raw", keys.publicKey));
  return { keys, keyPem: encodePem("PRIVATE KEY", pkcs8), ski: createHash("sha256").update(raw).digest("hex") };
}

/** A positive 128-bit serial with a minimal DER encoding (first byte 0x01..0x7f). */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString("hex");
}

/** PEM of a certificate made low-S, as cryptogen's signer makes it (Fabric sanitizes anyway). */
function lowSPem(cert: x509.X509Certificate): string {
  return encodePem("CERTIFICATE", sanitizeEcdsaSignedCert(new Uint8Array(cert.rawData), P256));
}

async function importCaKey(ca: CaMaterial): Promise<CryptoKey> {
  const block = decodePem(ca.keyPem)?.block;
  if (block === undefined || block.type !== "PRIVATE KEY") {
    throw new CryptoError("MSP_FOLDER", "CA key must be a PKCS#8 PEM (\"PRIVATE KEY\") ECDSA P-256 key");
  }
  return wc.subtle.importKey("pkcs8", block.der, EC_KEY, false, ["sign"]);
}

/**
 * A self-signed ECDSA P-256 CA as cryptogen makes one: subject C=US, ST=California, L=San Francisco,
 * O=<org>, CN=<commonName>; CA:TRUE; key usage digitalSignature, keyEncipherment, keyCertSign,
 * cRLSign; extended key usage clientAuth, serverAuth; SKI = SHA-256 of the public point.
 */
export async function createCa(opts: {
  commonName: string;
  organization: string;
  clock?: Clock;
  notBefore?: Date;
  notAfter?: Date;
}): Promise<CaMaterial> {
  const now = (opts.clock ?? new SystemClock()).now();
  const kp = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: newSerial(),
      name: `${SUBJECT_BASE}, O=${opts.organization}, CN=${opts.commonName}`,
      notBefore: opts.notBefore ?? new Date(now - NOT_BEFORE_SKEW_MS),
      notAfter: opts.notAfter ?? new Date(now + VALIDITY_MS),
      keys: kp.keys,
      signingAlgorithm: SIGNING_ALG,
      extensions: [
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.SubjectKeyIdentifierExtension(kp.ski),
      ],
    },
    wc,
  );
  return { certPem: lowSPem(cert), keyPem: kp.keyPem };
}

/** What `issueCertificate` makes. */
export interface IssueOptions {
  ca: CaMaterial;
  commonName: string;
  /** Organizational units (cryptogen with NodeOUs: "peer", "orderer", "client", "admin"). */
  organizationalUnits?: string[];
  /**
   * "enrollment": key usage digitalSignature, no EKU (a signcert). "tls": digitalSignature and
   * keyEncipherment, EKU serverAuth and clientAuth, so one certificate serves both ends of mutual TLS.
   * "ca": an intermediate CA. Default "enrollment".
   */
  kind?: "enrollment" | "tls" | "ca";
  /** DNS names for the SAN; IP addresses are given in `ipAddresses`. */
  dnsNames?: string[];
  ipAddresses?: string[];
  clock?: Clock;
  /** A chosen validity window (e.g. to make an expired identity). Defaults as cryptogen. */
  notBefore?: Date;
  notAfter?: Date;
}

/** A certificate signed by `ca` with a fresh ECDSA P-256 key; low-S signature. */
export async function issueCertificate(opts: IssueOptions): Promise<IssuedMaterial> {
  const now = (opts.clock ?? new SystemClock()).now();
  const caCert = new x509.X509Certificate(opts.ca.certPem);
  const caKey = await importCaKey(opts.ca);
  const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const kp = await newKeyPair();
  const kind = opts.kind ?? "enrollment";
  const ous = (opts.organizationalUnits ?? []).map((ou) => `, OU=${ou}`).join("");
  const extensions: x509.Extension[] = [];
  if (kind === "ca") {
    extensions.push(
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      new x509.BasicConstraintsExtension(true, undefined, true),
    );
  } else if (kind === "tls") {
    extensions.push(
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.BasicConstraintsExtension(false, undefined, true),
    );
  } else {
    extensions.push(
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.BasicConstraintsExtension(false, undefined, true),
    );
  }
  extensions.push(new x509.SubjectKeyIdentifierExtension(kp.ski));
  if (caSki !== undefined) extensions.push(new x509.AuthorityKeyIdentifierExtension(caSki));
  const sans = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: newSerial(),
      subject: `${SUBJECT_BASE}${ous}, CN=${opts.commonName}`,
      issuer: caCert.subjectName,
      notBefore: opts.notBefore ?? new Date(now - NOT_BEFORE_SKEW_MS),
      notAfter: opts.notAfter ?? new Date(now + VALIDITY_MS),
      publicKey: kp.keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGNING_ALG,
      extensions,
    },
    wc,
  );
  return { certPem: lowSPem(cert), keyPem: kp.keyPem };
}

/**
 * A CRL signed by `ca` revoking the given certificates (PEM) or serial numbers (hex), for an MSP's
 * `crls/` folder. Returns PEM ("X509 CRL").
 */
export async function createCrl(opts: {
  ca: CaMaterial;
  revoke: Array<{ certPem: string } | { serialNumber: string }>;
  clock?: Clock;
  thisUpdate?: Date;
  nextUpdate?: Date;
}): Promise<string> {
  const now = (opts.clock ?? new SystemClock()).now();
  const caCert = new x509.X509Certificate(opts.ca.certPem);
  const caKey = await importCaKey(opts.ca);
  const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const thisUpdate = opts.thisUpdate ?? new Date(now - NOT_BEFORE_SKEW_MS);
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: caCert.subjectName,
      thisUpdate,
      nextUpdate: opts.nextUpdate ?? new Date(now + 24 * 60 * 60 * 1000),
      signingAlgorithm: SIGNING_ALG,
      signingKey: caKey,
      extensions: caSki === undefined ? [] : [new x509.AuthorityKeyIdentifierExtension(caSki)],
      entries: opts.revoke.map((r) => ({
        serialNumber: "certPem" in r ? new x509.X509Certificate(r.certPem).serialNumber : r.serialNumber,
        revocationDate: thisUpdate,
      })),
    },
    wc,
  );
  return encodePem("X509 CRL", new Uint8Array(crl.rawData));
}

/** Writes a CRL into an MSP folder's `crls/`. */
export async function writeCrl(mspDir: string, crlPem: string, fileName = "crl.pem"): Promise<string> {
  const path = join(mspDir, "crls", fileName);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, crlPem);
  return path;
}

/** Reads a CA folder as cryptogen writes it (`<name>-cert.pem` and `priv_sk`). */
export async function loadCa(caDir: string): Promise<CaMaterial> {
  const names = await readdir(caDir).catch(() => {
    throw new CryptoError("MSP_FOLDER", `CA folder ${caDir} does not exist`);
  });
  const certName = names.find((n) => n.endsWith("-cert.pem"));
  const keyName = names.find((n) => n.endsWith("_sk"));
  if (certName === undefined || keyName === undefined) {
    throw new CryptoError("MSP_FOLDER", `${caDir}: expected a *-cert.pem certificate and a *_sk private key`);
  }
  return { certPem: await readFile(join(caDir, certName), "utf8"), keyPem: await readFile(join(caDir, keyName), "utf8") };
}

// ---------------------------------------------------------------------------------------------
// The cryptogen layout

async function put(path: string, content: string, secret = false): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content, secret ? { mode: 0o600 } : undefined);
}

function nodeOusConfig(caCertFile: string): string {
  const ou = (name: string): string => `  ${name}:\n    Certificate: cacerts/${caCertFile}\n    OrganizationalUnitIdentifier: `;
  return (
    "NodeOUs:\n  Enable: true\n" +
    `${ou("ClientOUIdentifier")}client\n${ou("PeerOUIdentifier")}peer\n${ou("AdminOUIdentifier")}admin\n${ou("OrdererOUIdentifier")}orderer\n`
  );
}

async function writeMspDir(mspDir: string, org: string, ca: CaMaterial, tlsCa: CaMaterial): Promise<void> {
  const caFile = `ca.${org}-cert.pem`;
  await put(join(mspDir, "cacerts", caFile), ca.certPem);
  await put(join(mspDir, "tlscacerts", `tlsca.${org}-cert.pem`), tlsCa.certPem);
  await put(join(mspDir, "config.yaml"), nodeOusConfig(caFile));
}

/** The NodeOU role of a user: an org admin, or a client (what configtxgen's default Writers admit besides admins). */
export type UserRole = "admin" | "client";

/**
 * Writes user `<name>@<org>` in cryptogen's layout, `<orgDir>/users/<name>@<org>/{msp,tls}`: the org MSP's public
 * part (cacerts, tlscacerts, config.yaml with NodeOUs), an enrollment certificate from the org's CA with OU=`role`
 * (so NodeOUs make it an admin or a client), and a TLS client pair (ca.crt, client.crt, client.key) from its TLS CA.
 */
async function writeUser(orgDir: string, org: string, name: string, role: UserRole, ca: CaMaterial, tlsCa: CaMaterial, clock: Clock): Promise<NodeSummary> {
  const userName = `${name}@${org}`;
  const dir = join(orgDir, "users", userName);
  const mspDir = join(dir, "msp");
  const tlsDir = join(dir, "tls");
  const enrollment = await issueCertificate({ ca, commonName: userName, organizationalUnits: [role], clock });
  const tls = await issueCertificate({ ca: tlsCa, commonName: userName, kind: "tls", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], clock });
  await writeMspDir(mspDir, org, ca, tlsCa);
  await put(join(mspDir, "signcerts", `${userName}-cert.pem`), enrollment.certPem);
  await put(join(mspDir, "keystore", "priv_sk"), enrollment.keyPem, true);
  await put(join(tlsDir, "ca.crt"), tlsCa.certPem);
  await put(join(tlsDir, "client.crt"), tls.certPem);
  await put(join(tlsDir, "client.key"), tls.keyPem, true);
  return { name: userName, dir, mspDir, tlsDir };
}

/**
 * User `<name>@<org>` of a generated org (default User1, a client), from its summary.
 * @throws CryptoError MSP_FOLDER when the org has no such user (generated with `users: 0`, or not generated here).
 */
export function orgUser(org: OrgSummary, name = "User1"): NodeSummary {
  const userName = `${name}@${org.name}`;
  const user = org.users?.find((u) => u.name === userName);
  if (user === undefined) throw new CryptoError("MSP_FOLDER", `${org.mspId} has no user ${userName} under ${join(org.dir, "users")}`);
  return user;
}

async function generateOrg(
  root: string,
  kind: "peer" | "orderer",
  org: string,
  nodeNames: string[],
  clock: Clock,
  clientUsers: number,
): Promise<OrgSummary> {
  const orgDir = join(root, kind === "peer" ? "peerOrganizations" : "ordererOrganizations", org);
  const ca = await createCa({ commonName: `ca.${org}`, organization: org, clock });
  const tlsCa = await createCa({ commonName: `tlsca.${org}`, organization: org, clock });
  const caDir = join(orgDir, "ca");
  const tlsCaDir = join(orgDir, "tlsca");
  await put(join(caDir, `ca.${org}-cert.pem`), ca.certPem);
  await put(join(caDir, "priv_sk"), ca.keyPem, true);
  await put(join(tlsCaDir, `tlsca.${org}-cert.pem`), tlsCa.certPem);
  await put(join(tlsCaDir, "priv_sk"), tlsCa.keyPem, true);
  const mspDir = join(orgDir, "msp");
  await writeMspDir(mspDir, org, ca, tlsCa);

  const nodes: NodeSummary[] = [];
  const nodesDir = join(orgDir, kind === "peer" ? "peers" : "orderers");
  for (const name of nodeNames) {
    const dir = join(nodesDir, name);
    const nodeMsp = join(dir, "msp");
    const tlsDir = join(dir, "tls");
    const enrollment = await issueCertificate({ ca, commonName: name, organizationalUnits: [kind], clock });
    const shortName = name.split(".")[0] ?? name;
    const tls = await issueCertificate({
      ca: tlsCa,
      commonName: name,
      kind: "tls",
      dnsNames: [name, shortName, "localhost"],
      ipAddresses: ["127.0.0.1"],
      clock,
    });
    await writeMspDir(nodeMsp, org, ca, tlsCa);
    await put(join(nodeMsp, "signcerts", `${name}-cert.pem`), enrollment.certPem);
    await put(join(nodeMsp, "keystore", "priv_sk"), enrollment.keyPem, true);
    await put(join(tlsDir, "ca.crt"), tlsCa.certPem);
    await put(join(tlsDir, "server.crt"), tls.certPem);
    await put(join(tlsDir, "server.key"), tls.keyPem, true);
    nodes.push({ name, dir, mspDir: nodeMsp, tlsDir });
  }
  // As cryptogen: an admin for every org, client users for peer orgs.
  const users = [await writeUser(orgDir, org, "Admin", "admin", ca, tlsCa, clock)];
  for (let u = 1; u <= (kind === "peer" ? clientUsers : 0); u++) users.push(await writeUser(orgDir, org, `User${u}`, "client", ca, tlsCa, clock));
  return { kind, name: org, mspId: mspIdForOrg(org, kind), dir: orgDir, mspDir, caDir, tlsCaDir, nodes, users };
}

/**
 * Writes crypto material in the layout Fabric's cryptogen produces (v2, NodeOUs enabled):
 * `out/peerOrganizations/orgM.example.com/{ca,tlsca,msp/{cacerts,tlscacerts,config.yaml},
 * peers/peerN.orgM.example.com/{msp/{signcerts,keystore,cacerts,tlscacerts,config.yaml},
 * tls/{ca.crt,server.crt,server.key}}}` and, with `orderer`, the same under
 * `out/ordererOrganizations/example.com/` for orderer.example.com. Every org has its own ECDSA P-256
 * CA and TLS CA; TLS certificates carry DNS SANs for the host, its short name and localhost plus IP
 * 127.0.0.1, and both serverAuth and clientAuth. Users as cryptogen writes them: `users/Admin@<org>` (NodeOU admin)
 * in every org and `users/User1@<org>` ... (NodeOU client, `users` of them) in peer orgs, each with an MSP folder
 * and a TLS client pair: a client may sign transactions (configtxgen's Writers admit clients and admins, not peers).
 */
export async function generateCryptoMaterial(opts: GenerateCryptoOptions): Promise<CryptoMaterialSummary> {
  if (!Number.isInteger(opts.orgs) || opts.orgs < 1) throw new RangeError(`orgs must be a positive integer, got ${opts.orgs}`);
  if (!Number.isInteger(opts.peersPerOrg) || opts.peersPerOrg < 1) {
    throw new RangeError(`peersPerOrg must be a positive integer, got ${opts.peersPerOrg}`);
  }
  const clientUsers = opts.users ?? 1;
  if (!Number.isInteger(clientUsers) || clientUsers < 0) throw new RangeError(`users must be an integer >= 0, got ${opts.users}`);
  const clock = opts.clock ?? new SystemClock();
  const domain = opts.domain ?? "example.com";
  const root = resolve(opts.out);
  const orgs: OrgSummary[] = [];
  for (let o = 1; o <= opts.orgs; o++) {
    const org = `org${o}.${domain}`;
    const peers = Array.from({ length: opts.peersPerOrg }, (_, p) => `peer${p}.${org}`);
    orgs.push(await generateOrg(root, "peer", org, peers, clock, clientUsers));
  }
  if (opts.orderer) orgs.push(await generateOrg(root, "orderer", domain, [`orderer.${domain}`], clock, 0));
  return { root, orgs };
}

/** The folders of a cryptogen layout that `generateCryptoMaterial` writes under its output folder. */
const LAYOUT_GROUPS = ["peerOrganizations", "ordererOrganizations"] as const;

/**
 * The org folders of a cryptogen layout already under `out` ("peerOrganizations/org1.example.com",
 * ...), sorted; [] when there is none or `out` does not exist. Generating into such a folder again
 * would make new CAs, and every certificate issued from the old ones would stop verifying.
 */
export async function existingCryptoMaterial(out: string): Promise<string[]> {
  const found: string[] = [];
  for (const group of LAYOUT_GROUPS) {
    let entries: string[];
    try {
      entries = await readdir(join(out, group));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      // A file where the folder should be is material of some kind too: name it rather than guess.
      if ((err as NodeJS.ErrnoException).code === "ENOTDIR") {
        found.push(group);
        continue;
      }
      throw err;
    }
    found.push(...entries.sort().map((e) => `${group}/${e}`));
  }
  return found;
}

/** Removes the cryptogen layout (peerOrganizations/, ordererOrganizations/) under `out`, and nothing else there. */
export async function removeCryptoMaterial(out: string): Promise<void> {
  for (const group of LAYOUT_GROUPS) await rm(join(out, group), { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Loading the layout back

/** A node's material from the cryptogen layout. */
export interface PeerMaterial {
  mspId: string;
  dir: string;
  signingIdentity: SigningIdentity;
  /** The node's own org public material (from its msp folder). */
  org: MspOrgMaterial;
  /** PEM strings: the TLS certificate (server.crt, or client.crt for users), its key, the TLS CA. */
  tls: { cert: string; key: string; ca: string };
}

/** peerOrganizations/<org>/peers/<node> or ordererOrganizations/<org>/orderers/<node> -> org and kind. */
function orgOfNodeDir(dir: string): { org: string; kind: "peer" | "orderer" } | undefined {
  const parts = resolve(dir).split(sep);
  const n = parts.length;
  const group = parts[n - 4];
  const org = parts[n - 3];
  if (org === undefined) return undefined;
  if (group === "peerOrganizations" && parts[n - 2] === "peers") return { org, kind: "peer" };
  if (group === "ordererOrganizations" && parts[n - 2] === "orderers") return { org, kind: "orderer" };
  return undefined;
}

async function readFirst(dir: string, names: string[]): Promise<string> {
  for (const name of names) {
    try {
      return await readFile(join(dir, name), "utf8");
    } catch {
      // try the next name
    }
  }
  throw new CryptoError("MSP_FOLDER", `${dir}: missing ${names.join(" or ")}`);
}

/**
 * Loads one node's material from the cryptogen layout: its local MSP (`msp/`) and TLS files
 * (`tls/`). The MSP ID is derived from the path (see `mspIdForOrg`) unless given.
 */
export async function loadPeerMaterial(dir: string, opts: { mspId?: string } = {}): Promise<PeerMaterial> {
  const where = orgOfNodeDir(dir);
  const mspId = opts.mspId ?? (where === undefined ? undefined : mspIdForOrg(where.org, where.kind));
  if (mspId === undefined) {
    throw new CryptoError(
      "MSP_FOLDER",
      `${dir}: cannot tell the MSP ID from the path (expected .../peerOrganizations/<org>/peers/<node>); pass mspId`,
    );
  }
  const local = await loadMspFolder(join(dir, "msp"), mspId);
  const tlsDir = join(dir, "tls");
  return {
    mspId,
    dir,
    signingIdentity: local.signingIdentity,
    org: local.org,
    tls: {
      cert: await readFirst(tlsDir, ["server.crt", "client.crt"]),
      key: await readFirst(tlsDir, ["server.key", "client.key"]),
      ca: await readFirst(tlsDir, ["ca.crt"]),
    },
  };
}

/**
 * The public material of every org under a cryptogen root (`peerOrganizations/*` and
 * `ordererOrganizations/*`, each from its `msp/`), sorted by MSP ID: the verifier set for tests and
 * local networks. `mspIds` maps an org domain to its MSP ID where the convention does not hold.
 */
export async function loadVerifierOrgs(rootDir: string, opts: { mspIds?: Record<string, string> } = {}): Promise<MspOrgMaterial[]> {
  const out: MspOrgMaterial[] = [];
  for (const [group, kind] of [
    ["peerOrganizations", "peer"],
    ["ordererOrganizations", "orderer"],
  ] as const) {
    const groupDir = join(rootDir, group);
    let names: string[];
    try {
      names = (await readdir(groupDir)).sort();
    } catch {
      continue;
    }
    for (const org of names) {
      const orgDir = join(groupDir, org);
      if (!(await stat(orgDir)).isDirectory()) continue;
      out.push(await loadOrgMspFolder(join(orgDir, "msp"), opts.mspIds?.[org] ?? mspIdForOrg(org, kind)));
    }
  }
  if (out.length === 0) {
    throw new CryptoError("MSP_FOLDER", `${rootDir}: no peerOrganizations/* or ordererOrganizations/* org folders found`);
  }
  return out.sort((a, b) => (a.mspId < b.mspId ? -1 : a.mspId > b.mspId ? 1 : 0));
}

/** The node folders (peers and orderers) in a summary, by host name. */
export function nodeDirs(summary: CryptoMaterialSummary): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of summary.orgs) for (const n of o.nodes) out[basename(n.dir)] = n.dir;
  return out;
}
