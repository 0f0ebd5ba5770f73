import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { defaultPeerConfig, type PeerTlsConfig } from "../../../src/config/index.js";
import { createCa } from "../../../src/crypto/index.js";
import { configuredTls, PeerSetupError } from "../../../src/service/index.js";

async function tlsFiles(dir: string): Promise<{ cert: string; key: string; ca: string; otherCa: string; caPem: string; otherCaPem: string }> {
  const own = await createCa({ commonName: "tlsca.org1.example.com", organization: "org1.example.com" });
  const other = await createCa({ commonName: "tlsca.org2.example.com", organization: "org2.example.com" });
  const files = { cert: join(dir, "server.crt"), key: join(dir, "server.key"), ca: join(dir, "ca.crt"), otherCa: join(dir, "org2-ca.crt") };
  await writeFile(files.cert, own.certPem);
  await writeFile(files.key, own.keyPem);
  await writeFile(files.ca, own.certPem);
  await writeFile(files.otherCa, other.certPem);
  return { ...files, caPem: own.certPem, otherCaPem: other.certPem };
}

function tlsConf(over: Partial<PeerTlsConfig>): PeerTlsConfig {
  return { ...defaultPeerConfig().tls, enabled: true, ...over };
}

// Fabric's GetServerConfig reads peer.tls.clientRootCAs.files only when peer.tls.clientAuthRequired is
// true; its sampleconfig core.yaml names tls/ca.crt there with clientAuthRequired false.
test("peer.tls.clientRootCAs.files is neither read nor required while clientAuthRequired is false", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-tls-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const f = await tlsFiles(dir);
  const missing = join(dir, "no-such-ca.crt");

  const tls = await configuredTls(tlsConf({ certFile: f.cert, keyFile: f.key, rootCertFile: f.ca, clientRootCAFiles: [missing, f.otherCa] }));
  assert.ok(tls !== undefined);
  assert.equal(tls.rootCAs?.toString(), `${f.caPem}\n`, "only peer.tls.rootcert.file: the client root CAs were not read");

  await assert.rejects(
    configuredTls(tlsConf({ clientAuthRequired: true, certFile: f.cert, keyFile: f.key, rootCertFile: f.ca, clientRootCAFiles: [missing] })),
    (err: unknown) => err instanceof PeerSetupError && err.code === "PEER_TLS" && err.message.includes("peer.tls.clientRootCAs.files") && err.message.includes(missing),
    "with clientAuthRequired true a missing client root CA file is an error naming the key and the file",
  );
  const required = await configuredTls(tlsConf({ clientAuthRequired: true, certFile: f.cert, keyFile: f.key, rootCertFile: f.ca, clientRootCAFiles: [f.otherCa] }));
  assert.equal(required?.rootCAs?.toString(), `${f.caPem}\n${f.otherCaPem}\n`, "with clientAuthRequired true the client root CAs are trusted too");
});
