import "reflect-metadata";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createSecureContext } from "node:tls";
import { test } from "node:test";
import { type ChannelTlsCas, TlsTrustStore } from "../../../src/comm/grpc/index.js";
import { type CaMaterial, createCa, decodeAllPem } from "../../../src/crypto/index.js";

/** The SHA-256 fingerprints of the certificates in a PEM bundle, in order. */
function fingerprints(pem: Buffer): string[] {
  return decodeAllPem(pem.toString("latin1")).map((b) => new X509Certificate(b.der).fingerprint256);
}

const fp = (ca: CaMaterial): string => new X509Certificate(ca.certPem).fingerprint256;

const cas = async (): Promise<Record<"own" | "org2" | "org3" | "ord" | "ord2" | "inter", CaMaterial>> => ({
  own: await createCa({ commonName: "tlsca.org1", organization: "Org1" }),
  org2: await createCa({ commonName: "tlsca.org2", organization: "Org2" }),
  org3: await createCa({ commonName: "tlsca.org3", organization: "Org3" }),
  ord: await createCa({ commonName: "tlsca.orderer", organization: "Orderer" }),
  ord2: await createCa({ commonName: "tlsca.orderer2", organization: "Orderer2" }),
  inter: await createCa({ commonName: "tlsica.org2", organization: "Org2" }),
});

test("trust store: the gossip CAs are the configured ones plus every channel's application orgs' TLS roots and intermediates, once each", async () => {
  const c = await cas();
  const store = new TlsTrustStore(c.own.certPem);
  assert.deepEqual(fingerprints(store.peerRoots()), [fp(c.own)]);
  const heard: string[][] = [];
  store.onPeerRootsChange((roots) => heard.push(fingerprints(roots)));

  const ch1: ChannelTlsCas = {
    // Org1's CA also comes from the channel (and with CRLF line ends): it is trusted once.
    peerOrgs: [
      { mspId: "Org1MSP", certs: [c.own.certPem.replace(/\n/g, "\r\n")] },
      { mspId: "Org2MSP", certs: [c.org2.certPem, c.inter.certPem] },
    ],
    ordererOrgs: [{ mspId: "OrdererMSP", certs: [c.ord.certPem], endpoints: ["orderer:7050"] }],
  };
  assert.deepEqual(store.setChannel("ch1", ch1), []);
  assert.deepEqual(fingerprints(store.peerRoots()), [fp(c.own), fp(c.org2), fp(c.inter)], "orderer orgs' CAs are not gossip CAs");
  assert.deepEqual(heard, [[fp(c.own), fp(c.org2), fp(c.inter)]]);

  // The same configuration again (a config update that changed something else): no change to hear of.
  store.setChannel("ch1", ch1);
  assert.equal(heard.length, 1);

  // A second channel adds Org3; Org2's CA is held by both channels.
  store.setChannel("ch2", { peerOrgs: [{ mspId: "Org2MSP", certs: [c.org2.certPem] }, { mspId: "Org3MSP", certs: [c.org3.certPem] }], ordererOrgs: [] });
  assert.deepEqual(fingerprints(store.peerRoots()), [fp(c.own), fp(c.org2), fp(c.inter), fp(c.org3)]);
  assert.deepEqual(store.channels(), ["ch1", "ch2"]);

  // A config update of ch1 without Org2: Org2 stays trusted through ch2, its intermediate goes.
  store.setChannel("ch1", { ...ch1, peerOrgs: [{ mspId: "Org1MSP", certs: [c.own.certPem] }] });
  assert.deepEqual(fingerprints(store.peerRoots()), [fp(c.own), fp(c.org2), fp(c.org3)]);
  // Leaving ch2: only the configured CA remains.
  store.removeChannel("ch2");
  store.removeChannel("ch2");
  assert.deepEqual(fingerprints(store.peerRoots()), [fp(c.own)]);
  assert.equal(heard.length, 4, "each change heard once, a no-op removal not at all");
  // What the server hands to TLS builds a context.
  createSecureContext({ ca: store.peerRoots() });
});

test("trust store: orderer CAs per endpoint as Fabric's connection source gives them", async () => {
  const c = await cas();
  const store = new TlsTrustStore(c.own.certPem);
  store.setChannel("ch1", {
    peerOrgs: [],
    ordererOrgs: [
      { mspId: "OrdererMSP", certs: [c.ord.certPem], endpoints: ["o1:7050", "shared:7050"] },
      { mspId: "Orderer2MSP", certs: [c.ord2.certPem], endpoints: ["o2:7050", "shared:7050"] },
    ],
  });
  assert.deepEqual(fingerprints(store.ordererRoots("ch1", "o1:7050")), [fp(c.ord)], "an org's own endpoint: that org's CAs only");
  assert.deepEqual(fingerprints(store.ordererRoots("ch1", "o2:7050")), [fp(c.ord2)]);
  assert.deepEqual(fingerprints(store.ordererRoots("ch1", "shared:7050")), [fp(c.ord), fp(c.ord2)]);
  assert.deepEqual(fingerprints(store.ordererRoots("ch1", "elsewhere:7050")), [fp(c.ord), fp(c.ord2)], "an endpoint no org lists: every orderer org");
  assert.equal(store.ordererRoots("nope", "o1:7050").length, 0, "an unknown channel: nothing");
  assert.deepEqual(fingerprints(store.peerRoots()), [fp(c.own)]);

  // Global OrdererAddresses only (no org endpoints): every orderer org's CAs for every address.
  store.setChannel("ch2", { peerOrgs: [], ordererOrgs: [{ mspId: "OrdererMSP", certs: [c.ord.certPem], endpoints: [] }] });
  assert.deepEqual(fingerprints(store.ordererRoots("ch2", "o1:7050")), [fp(c.ord)]);
});

test("trust store: certificates that do not parse are left out and reported, the rest is trusted", async () => {
  const c = await cas();
  const garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  const store = new TlsTrustStore(`${c.own.certPem}${garbage}${c.own.keyPem}`);
  assert.deepEqual(
    store.rejected.map((r) => [r.source, r.reason.replace(/:.*/, "")]),
    [
      ["configured", "not an X.509 certificate"],
      ["configured", "a PEM block of type PRIVATE KEY, not CERTIFICATE"],
    ],
  );
  assert.deepEqual(fingerprints(store.peerRoots()), [fp(c.own)]);
  const rejected = store.setChannel("ch1", { peerOrgs: [{ mspId: "Org2MSP", certs: ["not pem at all", c.org2.certPem] }], ordererOrgs: [] });
  assert.deepEqual(rejected, [{ source: "ch1/Org2MSP", reason: "no PEM block" }]);
  assert.deepEqual(fingerprints(store.peerRoots()), [fp(c.own), fp(c.org2)]);
  // No CA at all still makes a TLS context (one that trusts nobody).
  const empty = new TlsTrustStore();
  assert.equal(empty.peerRoots().length, 0);
  createSecureContext({ ca: empty.peerRoots() });
});
