import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { planPeerStart } from "../../../src/cli/commands/peer.js";
import { createCa } from "../../../src/crypto/index.js";
import { silentLogger } from "../../../src/logging/index.js";

// Flags win over CORE_PEER_* which wins over core.yaml, for peer.tls as for every other key.
test("CORE_PEER_TLS_ENABLED=true with --tls-cert/--tls-key/--tls-ca: the flags win and their material is used", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-cli-tls-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const own = await createCa({ commonName: "tlsca.org1.example.com", organization: "org1.example.com" });
  const other = await createCa({ commonName: "tlsca.org2.example.com", organization: "org2.example.com" });
  const cert = join(dir, "server.crt");
  const key = join(dir, "server.key");
  const ca1 = join(dir, "ca1.crt");
  const ca2 = join(dir, "ca2.crt");
  await writeFile(cert, own.certPem);
  await writeFile(key, own.keyPem);
  await writeFile(ca1, own.certPem);
  await writeFile(ca2, other.certPem);
  const flags = { listen: "127.0.0.1:7051", insecureDevCrypto: true, tlsCert: cert, tlsKey: key, tlsCa: [ca1, ca2] };

  // Enabled by the environment alone, with no TLS file in the environment or a file.
  const plan = await planPeerStart(flags, { CORE_PEER_TLS_ENABLED: "true" }, silentLogger);
  assert.equal(plan.peer.tls.enabled, true);
  assert.equal(plan.peer.tls.certFile, cert);
  assert.equal(plan.peer.tls.keyFile, key);
  assert.equal(plan.peer.tls.rootCertFile, ca1);
  const tls = plan.options.tls;
  assert.ok(tls !== undefined && tls !== false, "the flags' TLS material is what the peer is built with");
  assert.equal(tls.cert.toString(), own.certPem);
  assert.equal(tls.key.toString(), own.keyPem);
  assert.equal(tls.rootCAs?.toString(), `${own.certPem}\n${other.certPem}\n`);

  // The environment's own TLS files, even absent ones, lose to the flags.
  const missing = join(dir, "missing.pem");
  const env = {
    CORE_PEER_TLS_ENABLED: "true",
    CORE_PEER_TLS_CERT_FILE: missing,
    CORE_PEER_TLS_KEY_FILE: missing,
    CORE_PEER_TLS_ROOTCERT_FILE: missing,
    CORE_PEER_TLS_CLIENTCERT_FILE: missing,
    CORE_PEER_TLS_CLIENTKEY_FILE: missing,
  };
  const plan2 = await planPeerStart(flags, env, silentLogger);
  assert.deepEqual(
    [plan2.peer.tls.certFile, plan2.peer.tls.keyFile, plan2.peer.tls.rootCertFile, plan2.peer.tls.clientCertFile, plan2.peer.tls.clientKeyFile],
    [cert, key, ca1, cert, key],
  );
  const tls2 = plan2.options.tls;
  assert.ok(tls2 !== undefined && tls2 !== false);
  assert.equal(tls2.cert.toString(), own.certPem);
});
