import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { CryptoError } from "../../../src/crypto/errors.js";
import {
  createCa,
  createCrl,
  issueCertificate,
  loadCa,
  loadPeerMaterial,
  loadVerifierOrgs,
  mspIdForOrg,
  writeCrl,
} from "../../../src/crypto/generate.js";
import {
  certIdBytes,
  createSigningIdentity,
  deserializeIdentity,
  loadMspFolder,
  loadOrgMspFolder,
  MspVerifier,
  type MspOrgMaterial,
  pkiIdOf,
  REFUSED_IDENTITY_CACHE_SIZE,
  SigningIdentity,
  serializeIdentity,
} from "../../../src/crypto/msp.js";
import { decodePem, encodePem } from "../../../src/crypto/pem.js";
import { marshalEcdsaSignature, P256, unmarshalEcdsaSignature } from "../../../src/crypto/ecdsa.js";
import { bigintToBytes, DER_TAG, derBitString, derEncode, derSequence, derUnsignedInteger, splitSignedDer } from "../../../src/crypto/der.js";
import { ManualClock } from "../../../src/util/manual-clock.js";
import { generatedMaterial, nodeDir, orgOf } from "./fixture.js";
import { codeOf, codeOfAsync } from "../../utils/error-code.js";

const cryptoCode = (fn: () => unknown): string | undefined => codeOf(fn, CryptoError);
const cryptoCodeAsync = (fn: () => Promise<unknown>): Promise<string | undefined> => codeOfAsync(fn, CryptoError);

const MINUTE = 60 * 1000;
const enc = new TextEncoder();

test("PKI-ID known answer: SHA-256(mspid || id_bytes) of the SerializedIdentity", () => {
  const serialized = serializeIdentity("Org1MSP", enc.encode("hello"));
  assert.equal(Buffer.from(serialized).toString("hex"), "0a074f7267314d5350120568656c6c6f");
  const d = deserializeIdentity(serialized);
  assert.equal(d.mspId, "Org1MSP");
  assert.equal(
    Buffer.from(pkiIdOf(d.mspId, d.idBytes)).toString("hex"),
    "139ab09d70ee76513658e7f07c635c154350bf8081321c0f7d34a2b0dd01446a",
  );
  const v = new MspVerifier([], { clock: new ManualClock() });
  assert.equal(Buffer.from(v.pkiIdOf(serialized)).toString("hex"), "139ab09d70ee76513658e7f07c635c154350bf8081321c0f7d34a2b0dd01446a");
});

test("SerializedIdentity decoding is Go-strict and never crashes", () => {
  assert.equal(cryptoCode(() => deserializeIdentity(new Uint8Array(0))), "MALFORMED_IDENTITY");
  assert.equal(cryptoCode(() => deserializeIdentity(Uint8Array.of(0x0a, 0x05, 0x41))), "MALFORMED_IDENTITY", "truncated");
  assert.equal(cryptoCode(() => deserializeIdentity(Uint8Array.of(0x0a, 0x01, 0xff))), "MALFORMED_IDENTITY", "mspid not UTF-8");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const code = cryptoCode(() => deserializeIdentity(bytes));
      assert.ok(code === undefined || code === "MALFORMED_IDENTITY");
    }),
  );
});

test("id_bytes are the certificate PEM exactly as Go's pem.EncodeToMemory writes it", () => {
  const der = new Uint8Array(100).map((_, i) => i);
  const pem = encodePem("CERTIFICATE", der);
  const b64 = Buffer.from(der).toString("base64");
  assert.equal(b64.length, 136);
  assert.equal(
    pem,
    `-----BEGIN CERTIFICATE-----\n${b64.slice(0, 64)}\n${b64.slice(64, 128)}\n${b64.slice(128)}\n-----END CERTIFICATE-----\n`,
  );
  assert.equal(Buffer.from(certIdBytes(der)).toString("latin1"), pem);
  const d = decodePem(`junk\n${pem}`);
  assert.deepEqual(d?.block.der, der);
  assert.equal(d?.rest, "");
});

test("MSP folders, identity validation, revocation, expiry and caching", async (t) => {
  const m = await generatedMaterial(t);
  const clock = new ManualClock(Date.now());
  const orgs = await loadVerifierOrgs(m.root);
  const org1 = orgOf(m, "Org1MSP");
  const peer1 = await loadPeerMaterial(nodeDir(m, "peer0.org1.example.com"));
  const peer2 = await loadPeerMaterial(nodeDir(m, "peer0.org2.example.com"));
  const newVerifier = (o: readonly MspOrgMaterial[] = orgs): MspVerifier => new MspVerifier(o, { clock });

  await t.test("generated folders load back", async () => {
    assert.deepEqual(
      m.orgs.map((o) => [o.kind, o.name, o.mspId, o.nodes.map((n) => n.name)]),
      [
        ["peer", "org1.example.com", "Org1MSP", ["peer0.org1.example.com"]],
        ["peer", "org2.example.com", "Org2MSP", ["peer0.org2.example.com"]],
        ["orderer", "example.com", "OrdererMSP", ["orderer.example.com"]],
      ],
    );
    assert.deepEqual(JSON.parse(JSON.stringify(m)), m, "summary is JSON-able");
    assert.deepEqual(
      orgs.map((o) => o.mspId),
      ["OrdererMSP", "Org1MSP", "Org2MSP"],
    );
    for (const o of orgs) {
      assert.equal(o.rootCerts.length, 1);
      assert.equal(o.tlsRootCerts.length, 1);
    }
    assert.equal(peer1.mspId, "Org1MSP");
    assert.equal(peer1.signingIdentity.mspId, "Org1MSP");
    const orderer = await loadPeerMaterial(nodeDir(m, "orderer.example.com"));
    assert.equal(orderer.mspId, "OrdererMSP");

    // identity: SerializedIdentity{mspid, PEM of the signcert}, PKI-ID = SHA-256(mspid || PEM)
    const signcert = await readFile(join(nodeDir(m, "peer0.org1.example.com"), "msp", "signcerts", "peer0.org1.example.com-cert.pem"), "utf8");
    assert.equal(Buffer.from(peer1.signingIdentity.idBytes).toString("latin1"), signcert);
    const d = deserializeIdentity(peer1.signingIdentity.serialized);
    assert.equal(d.mspId, "Org1MSP");
    assert.equal(
      Buffer.from(peer1.signingIdentity.pkiId).toString("hex"),
      createHash("sha256").update("Org1MSP").update(signcert).digest("hex"),
    );

    // TLS: one cert for both ends, SANs as asked, chains to the org's TLS CA
    const tls = new X509Certificate(peer1.tls.cert);
    assert.equal(tls.subjectAltName, "DNS:peer0.org1.example.com, DNS:peer0, DNS:localhost, IP Address:127.0.0.1");
    assert.deepEqual(tls.keyUsage, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert.ok(tls.verify(new X509Certificate(peer1.tls.ca).publicKey));
    assert.equal(peer1.tls.ca, orgs.find((o) => o.mspId === "Org1MSP")?.tlsRootCerts[0]);
    assert.match(peer1.tls.key, /BEGIN PRIVATE KEY/);
  });

  await t.test("sign and verify round trip through the verifier set", () => {
    const v = newVerifier();
    const msg = enc.encode("gossip");
    const sig = peer1.signingIdentity.sign(msg);
    const ok = v.verify(peer1.signingIdentity.serialized, sig, msg);
    assert.equal(ok.mspId, "Org1MSP");
    assert.deepEqual(ok.pkiId, peer1.signingIdentity.pkiId);
    assert.equal(cryptoCode(() => v.verify(peer2.signingIdentity.serialized, sig, msg)), "BAD_SIGNATURE");
    assert.equal(cryptoCode(() => v.verify(peer1.signingIdentity.serialized, sig, enc.encode("gossip!"))), "BAD_SIGNATURE");
    assert.equal(v.orgOf(peer2.signingIdentity.serialized), "Org2MSP");
  });

  await t.test("unknown MSP is rejected", () => {
    const v = newVerifier(orgs.filter((o) => o.mspId !== "Org2MSP"));
    assert.equal(cryptoCode(() => v.validate(peer2.signingIdentity.serialized)), "UNKNOWN_MSP");
    assert.equal(v.orgOf(peer2.signingIdentity.serialized), undefined);
    const renamed = serializeIdentity("Org9MSP", peer1.signingIdentity.idBytes);
    assert.equal(cryptoCode(() => newVerifier().validate(renamed)), "UNKNOWN_MSP");
  });

  await t.test("an identity of another org's CA under this MSP ID is UNKNOWN_CA", async () => {
    const claimed = serializeIdentity("Org1MSP", peer2.signingIdentity.idBytes);
    assert.equal(cryptoCode(() => newVerifier().validate(claimed)), "UNKNOWN_CA");
    const foreign = await createCa({ commonName: "ca.org1.example.com", organization: "org1.example.com", clock });
    const cert = await issueCertificate({ ca: foreign, commonName: "peer9.org1.example.com", organizationalUnits: ["peer"], clock });
    const id = createSigningIdentity({ mspId: "Org1MSP", certPem: cert.certPem, keyPem: cert.keyPem });
    const v = newVerifier();
    assert.equal(cryptoCode(() => v.validate(id.serialized)), "UNKNOWN_CA");
    assert.equal(v.orgOf(id.serialized), undefined);
    const msg = enc.encode("x");
    assert.equal(cryptoCode(() => v.verify(id.serialized, id.sign(msg), msg)), "UNKNOWN_CA");
  });

  await t.test("intermediate CAs are followed", async () => {
    const root = await createCa({ commonName: "root.orgi.example.com", organization: "orgi.example.com", clock });
    const inter = await issueCertificate({ ca: root, commonName: "ica.orgi.example.com", kind: "ca", clock });
    const leaf = await issueCertificate({ ca: inter, commonName: "peer0.orgi.example.com", clock });
    const id = createSigningIdentity({ mspId: "OrgIMSP", certPem: leaf.certPem, keyPem: leaf.keyPem });
    const material: MspOrgMaterial = {
      mspId: "OrgIMSP",
      rootCerts: [root.certPem],
      intermediateCerts: [inter.certPem],
      crls: [],
      tlsRootCerts: [],
      tlsIntermediateCerts: [],
    };
    const msg = enc.encode("via intermediate");
    newVerifier([material]).verify(id.serialized, id.sign(msg), msg);
    assert.equal(cryptoCode(() => newVerifier([{ ...material, intermediateCerts: [] }]).validate(id.serialized)), "UNKNOWN_CA");
    // a CA certificate is not an identity
    const caId = serializeIdentity("OrgIMSP", enc.encode(inter.certPem));
    assert.equal(cryptoCode(() => newVerifier([material]).validate(caId)), "MALFORMED_IDENTITY");
  });

  await t.test("expired identities are rejected by the injected clock; expiration() still answers", async () => {
    const ca = await loadCa(org1.caDir);
    const now = clock.now();
    const old = await issueCertificate({
      ca,
      commonName: "old.org1.example.com",
      // inside the CA's own validity (from 5 minutes ago): Fabric judges the CA at the leaf's NotBefore
      notBefore: new Date(now - 4 * MINUTE),
      notAfter: new Date(now - MINUTE),
    });
    const oldId = createSigningIdentity({ mspId: "Org1MSP", certPem: old.certPem, keyPem: old.keyPem });
    const v = newVerifier();
    assert.equal(cryptoCode(() => v.validate(oldId.serialized)), "EXPIRED_IDENTITY");
    assert.equal(v.expiration(oldId.serialized).getTime(), Math.floor((now - MINUTE) / 1000) * 1000);
    assert.equal(v.orgOf(oldId.serialized), "Org1MSP");

    const soon = await issueCertificate({ ca, commonName: "soon.org1.example.com", notAfter: new Date(now + 60_000) });
    const soonId = createSigningIdentity({ mspId: "Org1MSP", certPem: soon.certPem, keyPem: soon.keyPem });
    const c2 = new ManualClock(now);
    const v2 = new MspVerifier(orgs, { clock: c2 });
    const msg = enc.encode("tick");
    const sig = soonId.sign(msg);
    v2.verify(soonId.serialized, sig, msg);
    await c2.advance(120_000);
    assert.equal(cryptoCode(() => v2.verify(soonId.serialized, sig, msg)), "EXPIRED_IDENTITY", "the cached verdict does not hide expiry");
  });

  await t.test("revocation by CRL", async () => {
    const ca = await loadCa(org1.caDir);
    const victim = await issueCertificate({ ca, commonName: "victim.org1.example.com", clock });
    const victimId = createSigningIdentity({ mspId: "Org1MSP", certPem: victim.certPem, keyPem: victim.keyPem });
    const crl = await createCrl({ ca, revoke: [{ certPem: victim.certPem }], clock });
    assert.match(crl, /^-----BEGIN X509 CRL-----\n/);
    const base = orgs.find((o) => o.mspId === "Org1MSP")!;
    const withCrl = orgs.map((o) => (o.mspId === "Org1MSP" ? { ...o, crls: [crl] } : o));
    const v = newVerifier(withCrl);
    assert.equal(cryptoCode(() => v.validate(victimId.serialized)), "REVOKED_IDENTITY");
    assert.equal(v.orgOf(victimId.serialized), "Org1MSP", "a revoked identity still has an org, as in Fabric");
    v.validate(peer1.signingIdentity.serialized);
    assert.equal(newVerifier().validate(victimId.serialized).mspId, "Org1MSP", "valid without the CRL");

    // a CRL signed by someone else revokes nothing
    const foreign = await createCa({ commonName: "ca.org1.example.com", organization: "org1.example.com", clock });
    const forged = await createCrl({ ca: foreign, revoke: [{ certPem: victim.certPem }], clock });
    newVerifier(orgs.map((o) => (o.mspId === "Org1MSP" ? { ...o, crls: [forged] } : o))).validate(victimId.serialized);

    // crls/ in an MSP folder is read
    await writeCrl(org1.mspDir, crl);
    t.after(() => rm(join(org1.mspDir, "crls"), { recursive: true, force: true }));
    const fromFolder = await loadOrgMspFolder(org1.mspDir, "Org1MSP");
    assert.equal(fromFolder.crls.length, 1);
    assert.equal(base.crls.length, 0);
    assert.equal(cryptoCode(() => newVerifier([fromFolder]).validate(victimId.serialized)), "REVOKED_IDENTITY");
  });

  await t.test("malformed identities give MALFORMED_IDENTITY, not a crash", () => {
    const v = newVerifier();
    const pem = Buffer.from(peer1.signingIdentity.idBytes).toString("latin1");
    const der = decodePem(pem)!.block.der;
    const cases: Record<string, Uint8Array> = {
      "not a protobuf": Uint8Array.of(0xff, 0xff, 0xff),
      "garbage id_bytes": serializeIdentity("Org1MSP", enc.encode("not a certificate")),
      "empty id_bytes": serializeIdentity("Org1MSP", new Uint8Array(0)),
      "PEM with garbage DER": serializeIdentity("Org1MSP", enc.encode(encodePem("CERTIFICATE", enc.encode("garbage")))),
      "trailing bytes after the PEM": serializeIdentity("Org1MSP", enc.encode(`${pem}\n`)),
      "two PEM blocks": serializeIdentity("Org1MSP", enc.encode(pem + pem)),
      "wrong PEM type": serializeIdentity("Org1MSP", enc.encode(encodePem("PUBLIC KEY", der))),
      "truncated certificate": serializeIdentity("Org1MSP", enc.encode(encodePem("CERTIFICATE", der.subarray(0, der.byteLength - 10)))),
    };
    for (const [name, identity] of Object.entries(cases)) {
      assert.equal(cryptoCode(() => v.validate(identity)), "MALFORMED_IDENTITY", name);
      assert.equal(v.orgOf(identity), undefined, name);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, wrap) => {
        const identity = wrap ? serializeIdentity("Org1MSP", bytes) : bytes;
        const code = cryptoCode(() => v.validate(identity));
        assert.ok(code === "MALFORMED_IDENTITY" || code === "UNKNOWN_MSP", String(code));
        const vcode = cryptoCode(() => v.verify(identity, bytes, bytes));
        assert.ok(vcode === "MALFORMED_IDENTITY" || vcode === "UNKNOWN_MSP", String(vcode));
      }),
    );
  });

  await t.test("a non-canonical certificate signature is MALFORMED, a high-S one is sanitized like Fabric", async () => {
    const ca = await loadCa(org1.caDir);
    const issued = await issueCertificate({ ca, commonName: "highs.org1.example.com", clock });
    const der = decodePem(issued.certPem)!.block.der;
    const parts = splitSignedDer(der);
    const { r, s } = unmarshalEcdsaSignature(parts.signature);
    const highDer = derSequence(parts.tbs, parts.algorithm, derBitString(marshalEcdsaSignature(r, P256.n - s)));
    const highPem = encodePem("CERTIFICATE", highDer);
    const v = newVerifier();
    // Fabric's IsWellFormed accepts a canonical high-S certificate signature (Go's x509 does not care)
    v.validate(serializeIdentity("Org1MSP", enc.encode(highPem)));
    // ...and a local signing identity built from it serializes the low-S (sanitized) certificate
    const id = createSigningIdentity({ mspId: "Org1MSP", certPem: highPem, keyPem: issued.keyPem });
    assert.equal(Buffer.from(id.idBytes).toString("latin1"), issued.certPem);
    // a non-minimal DER integer in the signature is not canonical
    const rMinimal = derUnsignedInteger(bigintToBytes(r));
    const rNonMinimal = derEncode(DER_TAG.INTEGER, Uint8Array.of(0), rMinimal.subarray(2));
    const sigNonCanonical = derSequence(rNonMinimal, derUnsignedInteger(bigintToBytes(s)));
    const bad = derSequence(parts.tbs, parts.algorithm, derBitString(sigNonCanonical));
    assert.equal(cryptoCode(() => v.validate(serializeIdentity("Org1MSP", enc.encode(encodePem("CERTIFICATE", bad))))), "MALFORMED_IDENTITY");
  });

  await t.test("the key cache: one certificate parse per identity, bounded size", () => {
    const v = newVerifier();
    const msg = enc.encode("cached");
    const sig = peer1.signingIdentity.sign(msg);
    for (let i = 0; i < 100; i++) v.verify(peer1.signingIdentity.serialized, sig, msg);
    v.pkiIdOf(peer1.signingIdentity.serialized);
    v.orgOf(peer1.signingIdentity.serialized);
    v.expiration(peer1.signingIdentity.serialized);
    let s = v.stats();
    assert.equal(s.certParses, 1);
    assert.equal(s.cacheMisses, 1);
    assert.equal(s.cacheHits, 102);
    // a copy of the bytes hits the same entry
    v.verify(new Uint8Array(peer1.signingIdentity.serialized), sig, msg);
    assert.equal(v.stats().certParses, 1);

    const small = new MspVerifier(orgs, { clock, cacheSize: 1 });
    small.validate(peer1.signingIdentity.serialized);
    small.validate(peer2.signingIdentity.serialized);
    small.validate(peer1.signingIdentity.serialized);
    s = small.stats();
    assert.equal(s.cacheSize, 1);
    assert.equal(s.certParses, 3);

    // junk identities (anyone can send them, each different) are cached apart and few: they do not push the
    // valid one out, and their entries stay bounded
    const before = v.stats();
    for (let i = 0; i < 1_000; i++) {
      const junk = i % 2 === 0 ? serializeIdentity("Org1MSP", enc.encode(`not a certificate ${i}`)) : serializeIdentity(`NoSuchMSP${i}`, enc.encode("x"));
      assert.throws(() => v.validate(junk), CryptoError);
    }
    assert.equal(cryptoCode(() => v.validate(Uint8Array.of(0x0a, 0x05, 0x41))), "MALFORMED_IDENTITY");
    s = v.stats();
    assert.equal(s.refusedCacheSize, REFUSED_IDENTITY_CACHE_SIZE);
    assert.equal(s.cacheSize, before.cacheSize, "refused identities do not enter the main cache");
    v.validate(peer1.signingIdentity.serialized);
    assert.equal(v.stats().certParses, before.certParses, "the valid identity is still cached");

    // replacing the orgs forgets verdicts
    v.setOrgs(orgs.filter((o) => o.mspId !== "Org1MSP"));
    assert.equal(cryptoCode(() => v.validate(peer1.signingIdentity.serialized)), "UNKNOWN_MSP");
  });

  await t.test("MSP folder errors name the path and what is missing", async () => {
    const dir = join(m.root, "broken-msp");
    await mkdir(join(dir, "cacerts"), { recursive: true });
    t.after(() => rm(dir, { recursive: true, force: true }));
    let err = await cryptoCodeAsync(() => loadMspFolder(join(m.root, "nowhere"), "X"));
    assert.equal(err, "MSP_FOLDER");
    await assert.rejects(loadOrgMspFolder(dir, "X"), (e: unknown) => e instanceof CryptoError && e.code === "MSP_FOLDER" && e.message.includes(join(dir, "cacerts")));
    await writeFile(join(dir, "cacerts", "ca.pem"), orgs[1]!.rootCerts[0]!);
    await assert.rejects(loadMspFolder(dir, "X"), (e: unknown) => e instanceof CryptoError && e.message.includes(join(dir, "signcerts")));
    const peerMsp = join(nodeDir(m, "peer0.org1.example.com"), "msp");
    await mkdir(join(dir, "signcerts"));
    await writeFile(join(dir, "signcerts", "cert.pem"), await readFile(join(peerMsp, "signcerts", "peer0.org1.example.com-cert.pem")));
    await assert.rejects(loadMspFolder(dir, "X"), (e: unknown) => e instanceof CryptoError && e.message.includes(join(dir, "keystore")));
    await mkdir(join(dir, "keystore"));
    await writeFile(join(dir, "keystore", "other_sk"), peer2.tls.key);
    await assert.rejects(loadMspFolder(dir, "X"), (e: unknown) => e instanceof CryptoError && e.message.includes("no private key matches"));
    await writeFile(join(dir, "keystore", "priv_sk"), await readFile(join(peerMsp, "keystore", "priv_sk")));
    const local = await loadMspFolder(dir, "Org1MSP");
    assert.deepEqual(local.signingIdentity.serialized, peer1.signingIdentity.serialized);
    err = await cryptoCodeAsync(() => loadPeerMaterial(dir));
    assert.equal(err, "MSP_FOLDER", "no MSP ID from a non-cryptogen path");
  });

  await t.test("signing identity guards", async () => {
    assert.throws(
      () => createSigningIdentity({ mspId: "Org1MSP", certPem: peer1.tls.cert, keyPem: peer2.tls.key }),
      (e: unknown) => e instanceof CryptoError && e.code === "MALFORMED_IDENTITY",
    );
    assert.ok(peer1.signingIdentity instanceof SigningIdentity);
    assert.equal(mspIdForOrg("org12.example.com", "peer"), "Org12MSP");
    assert.equal(mspIdForOrg("example.com", "orderer"), "OrdererMSP");
  });
});
