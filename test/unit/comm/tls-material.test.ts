import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadTlsMaterial, TlsMaterialError } from "../../../src/comm/grpc/index.js";
import { createCa } from "../../../src/crypto/index.js";

test("loadTlsMaterial: a matching pair loads with the CAs concatenated; a key of another certificate names both flags", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tls-material-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = await createCa({ commonName: "a", organization: "A" });
  const b = await createCa({ commonName: "b", organization: "B" });
  const file = async (name: string, text: string): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };
  const certA = await file("a.crt", a.certPem);
  const keyA = await file("a.key", a.keyPem);
  const keyB = await file("b.key", b.keyPem);
  const caB = await file("b.crt", b.certPem);

  const ok = await loadTlsMaterial({ cert: { what: "--tls-cert", file: certA }, key: { what: "--tls-key", file: keyA }, cas: [{ what: "--tls-ca", file: caB }] });
  assert.equal(ok.cert.toString(), a.certPem);
  assert.ok(ok.rootCAs?.toString().includes(b.certPem.trim()));
  const noCas = await loadTlsMaterial({ cert: { what: "--tls-cert", file: certA }, key: { what: "--tls-key", file: keyA }, cas: [] });
  assert.equal(noCas.rootCAs, undefined);

  await assert.rejects(
    loadTlsMaterial({ cert: { what: "--tls-cert", file: certA }, key: { what: "--tls-key", file: keyB }, cas: [] }),
    (err: unknown) => err instanceof TlsMaterialError && err.code === "TLS_KEY_MISMATCH" && /^--tls-key does not match --tls-cert/.test(err.message),
  );
  await assert.rejects(
    loadTlsMaterial({ cert: { what: "peer.tls.cert.file", file: certA }, key: { what: "peer.tls.key.file", file: keyB }, cas: [] }),
    (err: unknown) => err instanceof TlsMaterialError && err.message.startsWith("peer.tls.key.file does not match peer.tls.cert.file"),
  );
  await assert.rejects(
    loadTlsMaterial({ cert: { what: "--tls-cert", file: keyA }, key: { what: "--tls-key", file: keyA }, cas: [] }),
    (err: unknown) => err instanceof TlsMaterialError && err.code === "TLS_CERT" && err.message.startsWith(`--tls-cert ${keyA}: not a PEM certificate`),
  );
  await assert.rejects(
    loadTlsMaterial({ cert: { what: "--tls-cert", file: certA }, key: { what: "--tls-key", file: join(dir, "missing.key") }, cas: [] }),
    (err: unknown) => err instanceof TlsMaterialError && err.code === "TLS_FILE" && err.message.includes("cannot read the file"),
  );
});
